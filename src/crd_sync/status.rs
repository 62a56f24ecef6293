//! Telling Kubernetes users what happened to their objects:
//! `status.observedGeneration` on every object whose endpoints were all
//! written, and, for every rejected endpoint, a warning log line and a
//! `Warning` Event (events.k8s.io/v1) on the object.
//!
//! This runs as its own task, fed the latest [`StatusWork`] through a
//! `watch` channel, so a slow or unreachable API server never delays a file
//! write. It retries failed calls with backoff (RBAC errors included: a
//! missing permission is logged, counted and retried, never fatal), and
//! remembers what it already did, so an unchanged object is patched once
//! and a rejection is logged and announced once per object generation.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use k8s_openapi::api::{core::v1::ObjectReference, events::v1::Event};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::convert::Rejection;
use super::endpoint::ObjectKey;
use super::metrics::SyncMetrics;

/// Event `reason` of a rejected endpoint.
const EVENT_REASON: &str = "EndpointRejected";
/// Longest Event note the API server accepts.
const MAX_NOTE: usize = 1024;
/// First and longest wait before retrying failed calls.
const RETRY: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(300));

/// What the objects' status should say after a conversion.
#[derive(Debug, Clone, Default)]
pub struct StatusWork {
    /// Objects whose endpoints were all written.
    pub accepted: Vec<ObjectState>,
    /// Rejected endpoints with the state of their object.
    pub rejections: Vec<(ObjectState, Rejection)>,
}

/// The identity and generations of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `status.observedGeneration` as seen in the watch.
    pub observed_generation: Option<i64>,
}

/// A rejection as reported once: object incarnation, generation and what.
type ReportKey = (String, Option<i64>, usize, String);

/// Owns the API calls about status and Events.
pub struct StatusReporter {
    client: Client,
    resource: ApiResource,
    /// `reportingController` / `reportingInstance` of Events.
    controller: String,
    instance: String,
    metrics: SyncMetrics,
    /// Generation patched per object incarnation, so a patch is not sent
    /// again before the watch shows it.
    patched: HashMap<(ObjectKey, String), i64>,
    /// Rejections already logged.
    logged: HashSet<ReportKey>,
    /// Rejections already announced with an Event.
    announced: HashSet<ReportKey>,
}

impl StatusReporter {
    /// A reporter; `instance` names this replica in Events (the pod name).
    pub fn new(
        client: Client,
        resource: ApiResource,
        instance: String,
        metrics: SyncMetrics,
    ) -> Self {
        Self {
            client,
            resource,
            controller: "gslb-crd-sync".into(),
            instance,
            metrics,
            patched: HashMap::new(),
            logged: HashSet::new(),
            announced: HashSet::new(),
        }
    }

    /// Applies the latest work whenever it changes, retrying failures with
    /// backoff, until `cancel`.
    pub async fn run(
        mut self,
        mut work: watch::Receiver<Arc<StatusWork>>,
        cancel: CancellationToken,
    ) {
        let mut delay = RETRY.0;
        loop {
            let current = work.borrow_and_update().clone();
            let all_done = self.apply(&current).await;
            let retry = if all_done {
                delay = RETRY.0;
                None
            } else {
                let wait = delay;
                delay = (delay * 2).min(RETRY.1);
                Some(wait)
            };
            tokio::select! {
                changed = work.changed() => if changed.is_err() { return },
                () = sleep_or_forever(retry) => {}
                () = cancel.cancelled() => return,
            }
        }
    }

    /// One pass: log new rejections, send missing Events and patches.
    /// True when nothing failed.
    pub async fn apply(&mut self, work: &StatusWork) -> bool {
        let mut ok = true;
        let live: HashSet<ReportKey> = work
            .rejections
            .iter()
            .map(|(o, r)| report_key(o, r))
            .collect();
        self.logged.retain(|k| live.contains(k));
        self.announced.retain(|k| live.contains(k));
        for (object, rejection) in &work.rejections {
            let key = report_key(object, rejection);
            if self.logged.insert(key.clone()) {
                warn!(
                    object = %rejection.object,
                    endpoint = rejection.endpoint,
                    dns_name = %rejection.dns_name,
                    reason = rejection.reason.as_str(),
                    detail = %rejection.detail,
                    "DNSEndpoint endpoint rejected"
                );
            }
            if !self.announced.contains(&key) {
                let sent = self.announce(object, rejection).await;
                SyncMetrics::count(&self.metrics.events, sent);
                if sent {
                    self.announced.insert(key);
                }
                ok &= sent;
            }
        }
        let accepted: HashSet<(ObjectKey, String)> = work
            .accepted
            .iter()
            .map(|o| (o.key.clone(), o.uid.clone()))
            .collect();
        self.patched.retain(|k, _| accepted.contains(k));
        for object in &work.accepted {
            let Some(generation) = object.generation else {
                continue;
            };
            let id = (object.key.clone(), object.uid.clone());
            if object.observed_generation == Some(generation)
                || self.patched.get(&id) == Some(&generation)
            {
                continue;
            }
            let patched = self.patch_observed(&object.key, generation).await;
            SyncMetrics::count(&self.metrics.status_updates, patched);
            if patched {
                self.patched.insert(id, generation);
            }
            ok &= patched;
        }
        ok
    }

    /// Sets `status.observedGeneration`; true on success or when the
    /// object is gone (nothing left to do).
    async fn patch_observed(&self, key: &ObjectKey, generation: i64) -> bool {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &key.namespace, &self.resource);
        let patch = serde_json::json!({ "status": { "observedGeneration": generation } });
        match api
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                debug!(object = %key, generation, "status.observedGeneration set");
                true
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                debug!(object = %key, "object gone before its status was set");
                true
            }
            Err(error) => {
                warn!(object = %key, generation, %error, "cannot set status.observedGeneration; will retry");
                false
            }
        }
    }

    /// Creates a Warning Event on the object; true on success or when the
    /// namespace is gone.
    async fn announce(&self, object: &ObjectState, rejection: &Rejection) -> bool {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &object.key.namespace);
        let event = self.event(object, rejection);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                info!(object = %object.key, endpoint = rejection.endpoint, "Event created for rejected endpoint");
                true
            }
            Err(kube::Error::Api(status)) if status.code == 404 => true,
            Err(error) => {
                warn!(object = %object.key, %error, "cannot create an Event; will retry");
                false
            }
        }
    }

    fn event(&self, object: &ObjectState, rejection: &Rejection) -> Event {
        let now = k8s_openapi::jiff::Timestamp::now();
        let note = truncate(
            &format!(
                "spec.endpoints[{}] ({}) rejected: {}",
                rejection.endpoint, rejection.dns_name, rejection.detail
            ),
            MAX_NOTE,
        );
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", object.key.name, now.as_nanosecond())),
                namespace: Some(object.key.namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some("Warning".into()),
            reason: Some(EVENT_REASON.into()),
            action: Some("Sync".into()),
            note: Some(note),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            regarding: Some(ObjectReference {
                api_version: Some(self.resource.api_version.clone()),
                kind: Some(self.resource.kind.clone()),
                name: Some(object.key.name.clone()),
                namespace: Some(object.key.namespace.clone()),
                uid: Some(object.uid.clone()),
                ..ObjectReference::default()
            }),
            ..Event::default()
        }
    }
}

fn report_key(object: &ObjectState, rejection: &Rejection) -> ReportKey {
    (
        object.uid.clone(),
        object.generation,
        rejection.endpoint,
        rejection.detail.clone(),
    )
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncates_on_a_character_boundary() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
