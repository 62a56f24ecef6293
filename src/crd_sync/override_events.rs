//! Telling Kubernetes users about GslbOverride objects that are not in
//! force: a warning log line and a `Warning` Event (events.k8s.io/v1) on
//! each, in the object's own cluster. Reasons: [`CONFLICT_REASON`] (a
//! newer object for the same set disagrees; the note names it) and
//! [`REJECTED_REASON`] (the server would not accept the spec).
//!
//! Like the DNSEndpoint status task, this runs as its own task per
//! cluster, fed the latest [`OverrideWork`] through a `watch` channel, so
//! an unreachable API server never delays a file write. Failed calls are
//! retried with backoff; each problem (object incarnation, what is wrong)
//! is logged and published once, and again only when it goes away and
//! comes back.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Client,
    api::ApiResource,
    runtime::events::{Event, EventType, Recorder, Reporter},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::endpoint::ObjectKey;
use super::gslb_override::{CONFLICT_REASON, Conflict, OverrideRejection, REJECTED_REASON};
use super::metrics::SyncMetrics;
use super::status::{MAX_NOTE, Pass, run_passes, truncate};

/// `reportingController` of Events.
const CONTROLLER: &str = "gslb-crd-sync";
/// Event `action`.
const ACTION: &str = "Merge";

/// The objects of one cluster that are not in force, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverrideWork {
    /// Out of force because a newer object disagrees.
    pub conflicts: Vec<Conflict>,
    /// Out because their spec is wrong.
    pub rejections: Vec<OverrideRejection>,
}

/// One problem to tell: the object, its uid, the reason and the note.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Notice {
    object: ObjectKey,
    uid: String,
    reason: &'static str,
    note: String,
}

impl OverrideWork {
    fn notices(&self) -> Vec<Notice> {
        let conflicts = self.conflicts.iter().map(|c| Notice {
            object: c.object.clone(),
            uid: c.uid.clone(),
            reason: CONFLICT_REASON,
            note: c.note(),
        });
        let rejections = self.rejections.iter().map(|r| Notice {
            object: r.object.clone(),
            uid: r.uid.clone(),
            reason: REJECTED_REASON,
            note: r.note(),
        });
        conflicts.chain(rejections).collect()
    }
}

/// Publishes the Events of one cluster.
pub struct OverrideEvents {
    client: Client,
    resource: ApiResource,
    reporter: Reporter,
    metrics: SyncMetrics,
    /// Every notice of the last work: logged; published when its
    /// Recorder is in `published`.
    logged: HashSet<Notice>,
    /// The Recorder of each notice published (it tells Events apart by
    /// object and reason, so each notice gets its own).
    published: HashMap<Notice, Recorder>,
}

impl OverrideEvents {
    /// A publisher; `instance` names this replica in Events (the pod name).
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
            logged: HashSet::new(),
            published: HashMap::new(),
        }
    }

    /// Applies the latest work whenever it changes, retrying failures with
    /// backoff, until `cancel`.
    pub async fn run(self, work: watch::Receiver<Arc<OverrideWork>>, cancel: CancellationToken) {
        run_passes(self, work, cancel).await;
    }

    /// One pass: log new notices and publish their Events. True when
    /// nothing failed.
    pub async fn apply(&mut self, work: &OverrideWork) -> bool {
        let notices = work.notices();
        let live: HashSet<&Notice> = notices.iter().collect();
        self.logged.retain(|n| live.contains(n));
        self.published.retain(|n, _| live.contains(n));
        let mut ok = true;
        for notice in notices {
            if self.logged.insert(notice.clone()) {
                warn!(
                    object = %notice.object,
                    reason = notice.reason,
                    note = %notice.note,
                    "GslbOverride not in force"
                );
            }
            if self.published.contains_key(&notice) {
                continue;
            }
            let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
            let sent = self.publish(&recorder, &notice).await;
            SyncMetrics::count(&self.metrics.events, sent);
            if sent {
                self.published.insert(notice, recorder);
            }
            ok &= sent;
        }
        ok
    }

    /// Publishes one Warning Event; true on success or when the namespace
    /// is gone.
    async fn publish(&self, recorder: &Recorder, notice: &Notice) -> bool {
        let event = Event {
            type_: EventType::Warning,
            reason: notice.reason.into(),
            note: Some(truncate(&notice.note, MAX_NOTE)),
            action: ACTION.into(),
            secondary: None,
        };
        let regarding = ObjectReference {
            api_version: Some(self.resource.api_version.clone()),
            kind: Some(self.resource.kind.clone()),
            name: Some(notice.object.name.clone()),
            namespace: Some(notice.object.namespace.clone()),
            uid: Some(notice.uid.clone()),
            ..ObjectReference::default()
        };
        match recorder.publish(&event, &regarding).await {
            Ok(()) => {
                info!(object = %notice.object, reason = notice.reason, "Event published for a GslbOverride not in force");
                true
            }
            Err(kube::Error::Api(status)) if status.code == 404 => true,
            Err(error) => {
                warn!(object = %notice.object, %error, "cannot publish an Event; will retry");
                false
            }
        }
    }
}

impl Pass for OverrideEvents {
    type Work = OverrideWork;

    async fn pass(&mut self, work: &OverrideWork) -> bool {
        self.apply(work).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kube::client::Body;
    use serde_json::Value;

    use super::*;
    use crate::crd_sync::gslb_override::gslb_override_resource;

    /// A client that records the body of every request and answers it
    /// back (201), as kube-apiserver answers an Event create.
    fn recording(calls: Arc<Mutex<Vec<(String, Value)>>>) -> Client {
        let service = tower::service_fn(move |request: http::Request<Body>| {
            let calls = calls.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                calls
                    .lock()
                    .expect("calls")
                    .push((parts.uri.path().to_owned(), body.clone()));
                let response = http::Response::builder()
                    .status(201)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
                    .expect("response");
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        Client::new(service, "gslb")
    }

    fn conflict() -> Conflict {
        Conflict {
            object: ObjectKey::in_cluster("us", "gslb", "drain"),
            uid: "uid-drain".into(),
            state: "down".into(),
            record: "webapp.global.example.test.".into(),
            set: "us-east".into(),
            winner: ObjectKey::in_cluster("eu", "gslb", "force"),
            winner_state: "up".into(),
        }
    }

    #[tokio::test]
    async fn a_conflict_is_one_warning_event_on_the_older_object_naming_the_winner() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut events = OverrideEvents::new(
            recording(calls.clone()),
            gslb_override_resource(),
            "gslb-0".into(),
            SyncMetrics::default(),
        );
        let work = OverrideWork {
            conflicts: vec![conflict()],
            rejections: Vec::new(),
        };
        assert!(events.apply(&work).await);
        assert!(events.apply(&work).await);
        let sent = std::mem::take(&mut *calls.lock().expect("calls"));
        assert_eq!(sent.len(), 1, "published once: {sent:#?}");
        let (path, event) = &sent[0];
        assert_eq!(path, "/apis/events.k8s.io/v1/namespaces/gslb/events");
        assert_eq!(event["reason"], CONFLICT_REASON);
        assert_eq!(event["type"], "Warning");
        assert_eq!(event["regarding"]["kind"], "GslbOverride");
        assert_eq!(event["regarding"]["name"], "drain");
        assert_eq!(event["regarding"]["uid"], "uid-drain");
        assert_eq!(
            event["note"],
            "not in force: eu/gslb/force (newer) sets webapp.global.example.test. set us-east up, this object says down; delete one of them"
        );
        // Resolved, then back: told again.
        assert!(events.apply(&OverrideWork::default()).await);
        assert!(events.apply(&work).await);
        assert_eq!(calls.lock().expect("calls").len(), 1);
    }
}
