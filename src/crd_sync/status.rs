//! Telling Kubernetes users what happened to their objects:
//! `status.observedGeneration` on every object whose endpoints were all
//! written, and, for every rejected endpoint and every property gslb does
//! not honour ([`super::unsupported`]), a warning log line and a `Warning`
//! Event (events.k8s.io/v1) on the object: reason [`EVENT_REASON`] or
//! [`UNSUPPORTED_REASON`].
//!
//! This runs as its own task, fed the latest [`StatusWork`] through a
//! `watch` channel, so a slow or unreachable API server never delays a file
//! write. It retries failed calls with backoff (RBAC errors included: a
//! missing permission is logged, counted and retried, never fatal), and
//! remembers what it already did, so an unchanged object is patched once
//! and a rejection or an unsupported property is logged and published once
//! per object generation.
//!
//! Events go through kube-runtime's [`Recorder`], one per distinct
//! problem (object, field, what is wrong): its first publication
//! creates an Event; the same rejection in a later generation of the object
//! is counted in that Event's `series` (a merge patch) rather than creating
//! another. The Recorder tells Events apart by their object reference and
//! reason, not by their note, so a different problem with the same
//! endpoint gets its own Recorder and its own Event, never a stale note.
//! When the Event a repeat would be counted in is gone (404 on the patch:
//! deleted, or lost with the API server's storage), the Recorder is
//! replaced and a new Event created; a 404 on a create means the namespace
//! is gone, and there is nothing left to tell.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
    runtime::events::{Event, EventType, Recorder, Reporter},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::convert::Rejection;
use super::endpoint::ObjectKey;
use super::metrics::SyncMetrics;
use super::unsupported::Unsupported;

/// Event `reason` of a rejected endpoint.
pub const EVENT_REASON: &str = "EndpointRejected";
/// Event `reason` of a property gslb does not honour.
pub const UNSUPPORTED_REASON: &str = "UnsupportedProperty";
/// Event `action`: what the sidecar was doing.
const EVENT_ACTION: &str = "Sync";
/// `reportingController` of Events.
const CONTROLLER: &str = "gslb-crd-sync";
/// Longest Event note the API server accepts.
pub(super) const MAX_NOTE: usize = 1024;
/// First and longest wait before retrying failed calls.
const RETRY: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(300));

/// A reporter that brings the API server in line with the latest work in
/// passes (status patches and Events, override Events).
pub(super) trait Pass {
    /// What one pass applies.
    type Work: Send + Sync;
    /// One pass over `work`; true when nothing failed.
    fn pass(&mut self, work: &Self::Work) -> impl Future<Output = bool> + Send;
}

/// Runs `reporter` over the latest work whenever it changes, retrying a
/// failed pass with backoff (`RETRY`), until `cancel`.
pub(super) async fn run_passes<P: Pass>(
    mut reporter: P,
    mut work: watch::Receiver<Arc<P::Work>>,
    cancel: CancellationToken,
) {
    let mut delay = RETRY.0;
    loop {
        let current = work.borrow_and_update().clone();
        // An unreachable API server may hold a call for its connect
        // timeout: never let that delay a shutdown.
        let all_done = tokio::select! {
            done = reporter.pass(&current) => done,
            () = cancel.cancelled() => return,
        };
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

/// What the objects' status should say after a conversion.
#[derive(Debug, Clone, Default)]
pub struct StatusWork {
    /// Objects whose endpoints were all written.
    pub accepted: Vec<ObjectState>,
    /// Rejected endpoints with the state of their object.
    pub rejections: Vec<(ObjectState, Rejection)>,
    /// Properties gslb does not honour, with the state of their object.
    pub unsupported: Vec<(ObjectState, Unsupported)>,
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

/// One problem, whatever the generation: object incarnation, field and
/// Event note (which says what is wrong).
type ProblemId = (String, String, String);

/// One thing to tell about an object: a rejected endpoint or a property
/// gslb does not honour.
enum Problem<'a> {
    Rejected(&'a Rejection),
    Unsupported(&'a Unsupported),
}

impl Problem<'_> {
    fn reason(&self) -> &'static str {
        match self {
            Self::Rejected(_) => EVENT_REASON,
            Self::Unsupported(_) => UNSUPPORTED_REASON,
        }
    }

    /// The field the Event points at.
    fn field_path(&self) -> String {
        match self {
            Self::Rejected(r) => format!("spec.endpoints[{}]", r.endpoint),
            Self::Unsupported(u) => u.field_path(),
        }
    }

    fn note(&self) -> String {
        let note = match self {
            Self::Rejected(r) => format!(
                "spec.endpoints[{}] ({}) rejected: {}",
                r.endpoint, r.dns_name, r.detail
            ),
            Self::Unsupported(u) => u.to_string(),
        };
        truncate(&note, MAX_NOTE)
    }

    fn id(&self, object: &ObjectState) -> ProblemId {
        (object.uid.clone(), self.field_path(), self.note())
    }

    /// The warning, once per object generation.
    fn log(&self) {
        match self {
            Self::Rejected(rejection) => warn!(
                object = %rejection.object,
                endpoint = rejection.endpoint,
                dns_name = %rejection.dns_name,
                reason = rejection.reason.as_str(),
                detail = %rejection.detail,
                "DNSEndpoint endpoint rejected"
            ),
            Self::Unsupported(u) => warn!(
                object = %u.object,
                field = %u.field_path(),
                property = %u.property,
                instead = %u.instead,
                "DNSEndpoint property not supported by gslb; the endpoint is served without it"
            ),
        }
    }
}

/// What was done about one problem.
struct Reported {
    /// Publishes this problem's Events: creates one, then counts repeats
    /// in its `series`.
    recorder: Recorder,
    /// Generation last logged.
    logged: Option<Option<i64>>,
    /// Generation last published.
    published: Option<Option<i64>>,
}

/// Owns the API calls about status and Events.
pub struct StatusReporter {
    client: Client,
    resource: ApiResource,
    /// `reportingController` / `reportingInstance` of Events.
    reporter: Reporter,
    metrics: SyncMetrics,
    /// Generation patched per object incarnation, so a patch is not sent
    /// again before the watch shows it.
    patched: HashMap<(ObjectKey, String), i64>,
    /// The problems of the last work, with what was logged and published.
    problems: HashMap<ProblemId, Reported>,
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
            reporter: Reporter {
                controller: CONTROLLER.into(),
                instance: Some(instance),
            },
            metrics,
            patched: HashMap::new(),
            problems: HashMap::new(),
        }
    }

    /// Applies the latest work whenever it changes, retrying failures with
    /// backoff, until `cancel`.
    pub async fn run(self, work: watch::Receiver<Arc<StatusWork>>, cancel: CancellationToken) {
        run_passes(self, work, cancel).await;
    }

    /// One pass: log new rejections and unsupported properties, publish
    /// their Events, send missing patches. True when nothing failed.
    pub async fn apply(&mut self, work: &StatusWork) -> bool {
        let mut ok = true;
        let problems: Vec<(&ObjectState, Problem<'_>)> = work
            .rejections
            .iter()
            .map(|(o, r)| (o, Problem::Rejected(r)))
            .chain(
                work.unsupported
                    .iter()
                    .map(|(o, u)| (o, Problem::Unsupported(u))),
            )
            .collect();
        let live: HashSet<ProblemId> = problems.iter().map(|(o, p)| p.id(o)).collect();
        self.problems.retain(|id, _| live.contains(id));
        for (object, problem) in &problems {
            let reported = self
                .problems
                .entry(problem.id(object))
                .or_insert_with(|| Reported {
                    recorder: Recorder::new(self.client.clone(), self.reporter.clone()),
                    logged: None,
                    published: None,
                });
            if reported.logged != Some(object.generation) {
                reported.logged = Some(object.generation);
                problem.log();
            }
            if reported.published != Some(object.generation) {
                let mut sent = publish(&reported.recorder, &self.resource, object, problem).await;
                if sent == Sent::NotFound && reported.published.is_some() {
                    // The Recorder counts a repeat by patching the Event it
                    // created; that Event is gone (deleted, or lost with
                    // the API server's storage). A fresh Recorder creates
                    // a new one instead of counting into nothing.
                    debug!(object = %object.key, field = %problem.field_path(), "the Event to count into is gone; creating a new one");
                    reported.recorder = Recorder::new(self.client.clone(), self.reporter.clone());
                    sent = publish(&reported.recorder, &self.resource, object, problem).await;
                }
                let sent = sent != Sent::Failed;
                SyncMetrics::count(&self.metrics.events, sent);
                if sent {
                    reported.published = Some(object.generation);
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
}

/// What came of publishing one Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Created, or counted in the series of the Event created before.
    Published,
    /// 404: the namespace is gone, or the Event a repeat was to be
    /// counted in.
    NotFound,
    /// Anything else; retried later.
    Failed,
}

/// Publishes a Warning Event about `problem` on its object (the field path
/// names the endpoint, or the annotations).
async fn publish(
    recorder: &Recorder,
    resource: &ApiResource,
    object: &ObjectState,
    problem: &Problem<'_>,
) -> Sent {
    let event = Event {
        type_: EventType::Warning,
        reason: problem.reason().into(),
        note: Some(problem.note()),
        action: EVENT_ACTION.into(),
        secondary: None,
    };
    let regarding = ObjectReference {
        api_version: Some(resource.api_version.clone()),
        kind: Some(resource.kind.clone()),
        name: Some(object.key.name.clone()),
        namespace: Some(object.key.namespace.clone()),
        uid: Some(object.uid.clone()),
        field_path: Some(problem.field_path()),
        ..ObjectReference::default()
    };
    match recorder.publish(&event, &regarding).await {
        Ok(()) => {
            info!(object = %object.key, field = %problem.field_path(), reason = problem.reason(), "Event published");
            Sent::Published
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Sent::NotFound,
        Err(error) => {
            warn!(object = %object.key, %error, "cannot publish an Event; will retry");
            Sent::Failed
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

impl Pass for StatusReporter {
    type Work = StatusWork;

    async fn pass(&mut self, work: &StatusWork) -> bool {
        self.apply(work).await
    }
}

#[cfg(test)]
mod tests;
