//! What the reporter sends to the API server, seen through a fake one: a
//! kube `Client` over a service that records every request and answers
//! like kube-apiserver would (the created or patched object back).

use std::sync::{Arc, Mutex};

use kube::client::Body;
use serde_json::{Value, json};

use super::*;
use crate::crd_sync::convert::Reason;
use crate::crd_sync::metrics::ResultLabel;

/// One request the fake API server received.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    body: Value,
}

/// A fake API server: records calls; answers 500 while `failing`, and
/// 404 to patches of Events while `events_lost` (they were deleted).
#[derive(Clone, Default)]
struct FakeApi {
    calls: Arc<Mutex<Vec<Call>>>,
    failing: Arc<Mutex<bool>>,
    events_lost: Arc<Mutex<bool>>,
}

impl FakeApi {
    fn client(&self) -> Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: http::Request<Body>| {
            let api = api.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                api.calls.lock().expect("calls").push(Call {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    body: body.clone(),
                });
                let failing = *api.failing.lock().expect("failing");
                let lost = *api.events_lost.lock().expect("events_lost")
                    && parts.method == http::Method::PATCH
                    && parts.uri.path().contains("/events/");
                let (status, reply) = if lost {
                    (
                        404,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "message": "events not found", "reason": "NotFound", "code": 404}),
                    )
                } else if failing {
                    (
                        500,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "message": "etcd is down", "reason": "InternalError", "code": 500}),
                    )
                } else if parts.uri.path().ends_with("/status") {
                    (
                        200,
                        json!({"apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
                               "metadata": {"name": "web", "namespace": "production"}}),
                    )
                } else {
                    (
                        if parts.method == http::Method::POST {
                            201
                        } else {
                            200
                        },
                        body,
                    )
                };
                let response = http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&reply).unwrap_or_default()))
                    .expect("response");
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        Client::new(service, "default")
    }

    /// The calls since the last `take`.
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().expect("calls"))
    }
}

fn reporter(api: &FakeApi) -> (StatusReporter, SyncMetrics) {
    let metrics = SyncMetrics::default();
    let reporter = StatusReporter::new(
        api.client(),
        crate::crd_sync::dns_endpoint_resource(),
        "gslb-0".into(),
        metrics.clone(),
    );
    (reporter, metrics)
}

fn state(name: &str, generation: i64) -> ObjectState {
    ObjectState {
        key: ObjectKey::new("production", name),
        uid: format!("uid-{name}"),
        generation: Some(generation),
        observed_generation: None,
    }
}

fn rejection(name: &str, endpoint: usize, detail: &str) -> Rejection {
    Rejection {
        object: ObjectKey::new("production", name),
        endpoint,
        dns_name: format!("e{endpoint}.global.example.test"),
        reason: Reason::Target,
        detail: detail.into(),
    }
}

fn rejections(generation: i64, details: &[(usize, &str)]) -> StatusWork {
    StatusWork {
        accepted: Vec::new(),
        rejections: details
            .iter()
            .map(|(i, d)| (state("mixed", generation), rejection("mixed", *i, d)))
            .collect(),
        unsupported: Vec::new(),
    }
}

const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/production/events";

fn field_path(call: &Call) -> &str {
    call.body["regarding"]["fieldPath"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn each_rejected_endpoint_gets_one_warning_event() {
    let api = FakeApi::default();
    let (mut reporter, metrics) = reporter(&api);
    let work = rejections(
        1,
        &[(1, "recordType CNAME"), (2, "10.0.0.300 is not an IP")],
    );
    assert!(reporter.apply(&work).await);
    let calls = api.take();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for (call, (path, note)) in calls.iter().zip([
        (
            "spec.endpoints[1]",
            "spec.endpoints[1] (e1.global.example.test) rejected: recordType CNAME",
        ),
        (
            "spec.endpoints[2]",
            "spec.endpoints[2] (e2.global.example.test) rejected: 10.0.0.300 is not an IP",
        ),
    ]) {
        assert_eq!((call.method.as_str(), call.path.as_str()), ("POST", EVENTS));
        let e = &call.body;
        assert_eq!(field_path(call), path);
        assert_eq!(e["note"], note);
        assert_eq!(
            (&e["type"], &e["reason"], &e["action"]),
            (
                &json!("Warning"),
                &json!("EndpointRejected"),
                &json!("Sync")
            )
        );
        assert_eq!(
            (&e["reportingController"], &e["reportingInstance"]),
            (&json!("gslb-crd-sync"), &json!("gslb-0"))
        );
        assert_eq!(
            (
                &e["regarding"]["kind"],
                &e["regarding"]["name"],
                &e["regarding"]["uid"]
            ),
            (&json!("DNSEndpoint"), &json!("mixed"), &json!("uid-mixed"))
        );
        assert!(e.get("series").is_none(), "a first Event has no series");
    }
    assert_eq!(
        metrics
            .events
            .get_or_create(&ResultLabel {
                result: "ok".into()
            })
            .get(),
        2
    );

    // The same work again (a resync): nothing is sent.
    assert!(reporter.apply(&work).await);
    assert!(
        api.take().is_empty(),
        "a rejection is published once per generation"
    );
}

#[tokio::test]
async fn a_rejection_repeated_in_a_new_generation_counts_in_the_series() {
    let api = FakeApi::default();
    let (mut reporter, _) = reporter(&api);
    assert!(
        reporter
            .apply(&rejections(1, &[(1, "recordType CNAME")]))
            .await
    );
    let first = api.take().remove(0);
    let name = first.body["metadata"]["name"]
        .as_str()
        .expect("event name")
        .to_owned();

    // The object is edited (generation 2) and still has the same problem.
    assert!(
        reporter
            .apply(&rejections(2, &[(1, "recordType CNAME")]))
            .await
    );
    let calls = api.take();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].method, "PATCH");
    assert_eq!(calls[0].path, format!("{EVENTS}/{name}"));
    assert_eq!(calls[0].body["series"]["count"], 2);
    assert_eq!(calls[0].body["note"], first.body["note"]);

    assert!(
        reporter
            .apply(&rejections(3, &[(1, "recordType CNAME")]))
            .await
    );
    assert_eq!(api.take()[0].body["series"]["count"], 3);
}

#[tokio::test]
async fn a_repeat_whose_event_is_gone_creates_a_new_event() {
    let api = FakeApi::default();
    let (mut reporter, _) = reporter(&api);
    assert!(
        reporter
            .apply(&rejections(1, &[(1, "recordType CNAME")]))
            .await
    );
    api.take();
    // The Event was deleted (or lost with the API server's storage): the
    // patch that would count the repeat finds nothing.
    *api.events_lost.lock().expect("events_lost") = true;
    assert!(
        reporter
            .apply(&rejections(2, &[(1, "recordType CNAME")]))
            .await
    );
    let calls = api.take();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["PATCH", "POST"], "{calls:#?}");
    assert!(calls[1].body.get("series").is_none(), "a new Event");
    let created = calls[1].body["metadata"]["name"]
        .as_str()
        .expect("event name")
        .to_owned();
    // The next repeat counts into the new Event.
    *api.events_lost.lock().expect("events_lost") = false;
    assert!(
        reporter
            .apply(&rejections(3, &[(1, "recordType CNAME")]))
            .await
    );
    let calls = api.take();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].path, format!("{EVENTS}/{created}"));
    assert_eq!(calls[0].body["series"]["count"], 2);
}

#[tokio::test]
async fn a_different_problem_with_the_same_endpoint_is_a_new_event() {
    let api = FakeApi::default();
    let (mut reporter, _) = reporter(&api);
    assert!(
        reporter
            .apply(&rejections(1, &[(1, "recordType CNAME")]))
            .await
    );
    api.take();
    assert!(
        reporter
            .apply(&rejections(2, &[(1, "10.0.0.300 is not an IP")]))
            .await
    );
    let calls = api.take();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].method, "POST", "never a stale note in a series");
    assert!(
        calls[0].body["note"]
            .as_str()
            .is_some_and(|n| n.ends_with("10.0.0.300 is not an IP")),
        "{:?}",
        calls[0].body
    );
    // Fixed, then broken the old way again: a new Event, not a series.
    assert!(reporter.apply(&rejections(3, &[])).await);
    assert!(
        reporter
            .apply(&rejections(4, &[(1, "recordType CNAME")]))
            .await
    );
    let calls = api.take();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].method, "POST");
}

#[tokio::test]
async fn failed_calls_are_counted_and_retried() {
    let api = FakeApi::default();
    let (mut reporter, metrics) = reporter(&api);
    *api.failing.lock().expect("failing") = true;
    let work = rejections(1, &[(1, "recordType CNAME")]);
    assert!(
        !reporter.apply(&work).await,
        "a failure is reported for a retry"
    );
    assert_eq!(api.take().len(), 1);
    assert_eq!(
        metrics
            .events
            .get_or_create(&ResultLabel {
                result: "error".into()
            })
            .get(),
        1
    );
    *api.failing.lock().expect("failing") = false;
    assert!(reporter.apply(&work).await);
    let calls = api.take();
    assert_eq!((calls.len(), calls[0].method.as_str()), (1, "POST"));
}

#[tokio::test]
async fn accepted_objects_get_observed_generation_once() {
    let api = FakeApi::default();
    let (mut reporter, metrics) = reporter(&api);
    let work = StatusWork {
        accepted: vec![state("web", 3)],
        rejections: Vec::new(),
        unsupported: Vec::new(),
    };
    assert!(reporter.apply(&work).await);
    let calls = api.take();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        (
            "PATCH",
            "/apis/externaldns.k8s.io/v1alpha1/namespaces/production/dnsendpoints/web/status"
        )
    );
    assert_eq!(calls[0].body, json!({"status": {"observedGeneration": 3}}));
    assert!(reporter.apply(&work).await);
    assert!(
        api.take().is_empty(),
        "patched once until the watch shows it"
    );
    assert_eq!(
        metrics
            .status_updates
            .get_or_create(&ResultLabel {
                result: "ok".into()
            })
            .get(),
        1
    );
    // Already observed (by this or another replica): nothing to do.
    let mut seen = state("web", 4);
    seen.observed_generation = Some(4);
    let work = StatusWork {
        accepted: vec![seen],
        rejections: Vec::new(),
        unsupported: Vec::new(),
    };
    assert!(reporter.apply(&work).await);
    assert!(api.take().is_empty());
}

#[tokio::test]
async fn unsupported_properties_get_one_event_and_log_per_generation() {
    use crate::crd_sync::unsupported::Unsupported;
    let api = FakeApi::default();
    let (mut reporter, _metrics) = reporter(&api);
    let object = ObjectKey::new("production", "latency");
    let work = |generation| StatusWork {
        accepted: vec![state("latency", generation)],
        rejections: Vec::new(),
        unsupported: vec![
            (
                state("latency", generation),
                Unsupported::key(&object, 1, "aws/region"),
            ),
            (
                state("latency", generation),
                Unsupported::annotation(&object, "external-dns.alpha.kubernetes.io/aws-weight")
                    .expect("reported"),
            ),
        ],
    };
    assert!(reporter.apply(&work(1)).await);
    let calls = api.take();
    let events: Vec<&Call> = calls.iter().filter(|c| c.path == EVENTS).collect();
    assert_eq!(events.len(), 2, "{calls:#?}");
    for event in &events {
        assert_eq!(event.method, "POST");
        assert_eq!(event.body["reason"], UNSUPPORTED_REASON);
        assert_eq!(event.body["type"], "Warning");
    }
    assert_eq!(field_path(events[0]), "spec.endpoints[1].providerSpecific");
    let note = events[0].body["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("spec.endpoints[1] providerSpecific aws/region is not supported by gslb: gslb has no latency-based routing"),
        "{note}"
    );
    assert_eq!(field_path(events[1]), "metadata.annotations");
    // The object's endpoints are all served: it is observed as well.
    assert!(calls.iter().any(|c| c.path.ends_with("/latency/status")));

    // The same generation again: nothing new.
    assert!(reporter.apply(&work(1)).await);
    assert!(
        api.take().iter().all(|c| c.path != EVENTS),
        "published once per generation"
    );
    // A new generation with the same properties: counted in the Events'
    // series (patches), not new Events.
    assert!(reporter.apply(&work(2)).await);
    let repeats: Vec<Call> = api
        .take()
        .into_iter()
        .filter(|c| c.path.starts_with(EVENTS))
        .collect();
    assert_eq!(repeats.len(), 2, "{repeats:#?}");
    assert!(repeats.iter().all(|c| c.method == "PATCH"), "{repeats:#?}");
}

#[test]
fn truncates_on_a_character_boundary() {
    assert_eq!(truncate("abc", 10), "abc");
    assert_eq!(truncate("aé", 2), "a");
}
