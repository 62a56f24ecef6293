//! The status page (`GET /` on the admin listener): served self-contained,
//! and driven in headless Chromium against a running gslb with real HTTP
//! backends (clusters on the map with their state, a backend stopped, the
//! details card, a screenshot in `target/test-artifacts/`), and against a
//! stand-in admin API for the token prompt and the explain box.

use std::{collections::BTreeMap, time::Duration};

use axum::{
    Json, Router,
    extract::Query,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use crate::support::backend::{Backend, free_port};
use crate::support::browser::Browser;
use crate::support::harness::*;

/// Four clusters on the map in three states, one failing open, and one
/// cluster without a location; us-east and eu-west serve two records (api's
/// eu-west has no location of its own: it is the same cluster).
fn config(port: u16) -> String {
    let us = "location: { lat: 39.0, lon: -77.5 }";
    let eu = "location: { lat: 53.3, lon: -6.3 }";
    format!(
        r#"{ZONE}health_checks:
  fast: {{ kind: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }}
records:
  - name: webapp.global.example.test.
    sets:
      - {{ id: us-east, targets: [127.0.61.1], {us}, health_check: fast }}
      - {{ id: eu-west, targets: [127.0.61.2], {eu}, health_check: fast }}
      - {{ id: ap-south, targets: [127.0.61.3], location: {{ lat: 19.1, lon: 72.9 }}, health_check: fast }}
  - name: api.global.example.test.
    sets:
      - {{ id: us-east, targets: [127.0.61.1], {us}, health_check: fast }}
      - {{ id: eu-west, targets: [127.0.61.2], priority: 1, health_check: fast }}
  - name: legacy.global.example.test.
    sets:
      - {{ id: sa-east, targets: [127.0.61.4], location: {{ lat: -23.5, lon: -46.6 }}, health_check: fast }}
  - name: edge.global.example.test.
    sets:
      - {{ id: edge-pop, targets: [127.0.61.6] }}
"#
    )
}

/// `{cluster: state}` of the elements matching `selector`.
const STATES_JS: &str = "JSON.stringify(Object.fromEntries([...document.querySelectorAll(SEL)]\
     .map(n => [n.dataset.cluster || n.dataset.set + ' ' + n.dataset.target, n.dataset.state])))";

async fn states(browser: &mut Browser, selector: &str) -> BTreeMap<String, String> {
    let js = STATES_JS.replace("SEL", &format!("{selector:?}"));
    let text = browser.eval(&js).await;
    serde_json::from_str(text.as_str().unwrap_or("{}")).expect("states are JSON")
}

/// Waits (bounded) until the elements matching `selector` show `want`.
async fn wait_states(
    browser: &mut Browser,
    selector: &str,
    want: &[(&str, &str)],
    limit: Duration,
) {
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let started = tokio::time::Instant::now();
    loop {
        let seen = states(browser, selector).await;
        if seen == want {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{selector} after {limit:?}: {seen:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The centre of the element matching `selector`, in page pixels.
async fn centre(browser: &mut Browser, selector: &str) -> (f64, f64) {
    let js = format!(
        "(() => {{ const r = document.querySelector({selector:?}).getBoundingClientRect(); \
         return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
    );
    let point = browser.eval(&js).await;
    (point[0].as_f64().expect("x"), point[1].as_f64().expect("y"))
}

/// A real mouse event at the centre of `selector`.
async fn mouse(browser: &mut Browser, selector: &str, kinds: &[&str]) {
    let (x, y) = centre(browser, selector).await;
    for kind in kinds {
        browser
            .call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
    }
}

async fn card_text(browser: &mut Browser) -> String {
    let js =
        "document.getElementById('card').hidden ? '' : document.getElementById('card').innerText";
    browser
        .eval(js)
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs chromium (apt-get install chromium)"
)]
async fn status_page_shows_clusters_and_turns_a_stopped_one_down() {
    let mut browser = Browser::launch("status_page").await;
    let port = free_port("127.0.61.1").await;
    let _us = Backend::http("127.0.61.1", port).await;
    let mut eu = Backend::http("127.0.61.2", port).await;
    let _ap = Backend::http("127.0.61.3", port).await;
    // Nothing listens on 127.0.61.4: legacy's only set goes down, the
    // record fails open.
    let gslb = Gslb::start(&config(port)).await;
    gslb.wait_ready().await;
    let (code, _) = gslb
        .put(
            "/overrides/webapp.global.example.test./ap-south",
            r#"{"state": "down"}"#,
        )
        .await;
    assert_eq!(code, 200, "drain ap-south");

    browser.open(&format!("{}/", gslb.admin()), 1280, 900).await;
    let limit = Duration::from_secs(15);
    wait_states(
        &mut browser,
        "#markers .cluster",
        &[
            ("us-east", "up"),
            ("eu-west", "up"),
            ("ap-south", "drained"),
            ("sa-east", "failing-open"),
        ],
        limit,
    )
    .await;
    wait_states(
        &mut browser,
        "#unlocated .cluster",
        &[("edge-pop", "up")],
        limit,
    )
    .await;

    // Placed by location: west to east, and São Paulo south of Ashburn.
    let us = centre(&mut browser, "#markers [data-cluster='us-east']").await;
    let eu_at = centre(&mut browser, "#markers [data-cluster='eu-west']").await;
    let ap = centre(&mut browser, "#markers [data-cluster='ap-south']").await;
    let sa = centre(&mut browser, "#markers [data-cluster='sa-east']").await;
    assert!(us.0 < eu_at.0 && eu_at.0 < ap.0, "{us:?} {eu_at:?} {ap:?}");
    assert!(sa.1 > us.1 && eu_at.1 < us.1, "{sa:?} {us:?} {eu_at:?}");

    // The table: one row per target, each with its set's state.
    wait_states(
        &mut browser,
        "#records tbody tr",
        &[
            ("us-east 127.0.61.1", "up"),
            ("eu-west 127.0.61.2", "up"),
            ("ap-south 127.0.61.3", "drained"),
            ("sa-east 127.0.61.4", "failing-open"),
            ("edge-pop 127.0.61.6", "up"),
        ],
        limit,
    )
    .await;
    let rows = browser
        .eval("document.querySelectorAll('#records tbody tr').length")
        .await;
    assert_eq!(rows, json!(7), "webapp 3, api 2, legacy 1, edge 1");

    // Hover shows the details card; it follows the pointer away.
    mouse(
        &mut browser,
        "#markers [data-cluster='us-east'] circle.mark",
        &["mouseMoved"],
    )
    .await;
    let text = card_text(&mut browser).await;
    for needle in [
        "us-east",
        "webapp.global.example.test.",
        "api.global.example.test.",
        "127.0.61.1",
        " ms",
    ] {
        assert!(text.contains(needle), "hover card has {needle:?}: {text}");
    }
    browser
        .call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": 5, "y": 5 }),
        )
        .await;
    assert_eq!(card_text(&mut browser).await, "", "card hides on mouse out");

    // A cluster's backend dies: the page turns it down in both records.
    eu.stop();
    wait_states(
        &mut browser,
        "#markers .cluster",
        &[
            ("us-east", "up"),
            ("eu-west", "down"),
            ("ap-south", "drained"),
            ("sa-east", "failing-open"),
        ],
        limit,
    )
    .await;
    let eu_rows = browser
        .eval("[...document.querySelectorAll(\"#records tbody tr[data-set='eu-west']\")].map(r => r.dataset.record + ' ' + r.dataset.state)")
        .await;
    assert_eq!(
        eu_rows,
        json!([
            "webapp.global.example.test. down",
            "api.global.example.test. down"
        ])
    );

    // A click pins the card, with the probe's error.
    mouse(
        &mut browser,
        "#markers [data-cluster='eu-west'] circle.mark",
        &["mouseMoved", "mousePressed", "mouseReleased"],
    )
    .await;
    let text = browser
        .wait_for(
            "(t => t.includes('Connection refused') && t)(document.getElementById('card').innerText)",
            limit,
        )
        .await;
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("pinned") && t.contains("api.global.example.test.")),
        "{text}"
    );
    let full = browser.screenshot("status-page-full.png", true).await;

    // Escape unpins; hovering the failing-open cluster explains it. This
    // view (every state visible) is the book's docs/src/images/status-page.png.
    browser
        .eval("document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))")
        .await;
    assert_eq!(card_text(&mut browser).await, "", "Escape closes the card");
    mouse(
        &mut browser,
        "#markers [data-cluster='sa-east'] circle.mark",
        &["mouseMoved"],
    )
    .await;
    let text = card_text(&mut browser).await;
    assert!(
        text.contains("failing open") && text.contains("legacy.global.example.test."),
        "{text}"
    );
    let shot = browser.screenshot("status-page.png", false).await;
    eprintln!("screenshots: {} {}", shot.display(), full.display());

    // Keyboard focus on a marker survives the refreshes.
    browser
        .call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": 5, "y": 5 }),
        )
        .await;
    let renders = browser.eval("Number(document.body.dataset.renders)").await;
    let renders = renders.as_u64().expect("a render count");
    browser
        .eval("document.querySelector(\"#markers [data-cluster='us-east']\").focus()")
        .await;
    browser
        .wait_for(
            &format!("Number(document.body.dataset.renders) >= {}", renders + 2),
            limit,
        )
        .await;
    let focused = browser
        .eval("document.activeElement.dataset.cluster + ' ' + document.getElementById('card').dataset.key")
        .await;
    assert_eq!(focused, json!("us-east us-east@39,-77.5"));

    // One explain through the page, against the real /explain: eu-west is
    // down and ap-south drained, so us-east is the only candidate; with
    // us-east assumed drained (in memory only) nothing is left but the
    // drained and down sets, and the answer fails open to eu-west.
    let (outcome, text) = explain_as(
        &mut browser,
        "webapp.global.example.test.",
        "198.51.100.70",
        "A",
        "",
    )
    .await;
    assert_eq!(outcome, "trace", "{text}");
    let shown = "[...document.querySelectorAll('#explain-result [data-candidate]')]\
                 .map(c => c.dataset.candidate + ' ' + c.querySelector('.bar').dataset.probability)";
    assert_eq!(browser.eval(shown).await, json!(["us-east 1"]), "{text}");
    assert!(text.contains("health → us-east"), "{text}");
    let (outcome, text) = explain_as(
        &mut browser,
        "webapp.global.example.test.",
        "198.51.100.70",
        "A",
        "us-east:down",
    )
    .await;
    assert_eq!(outcome, "trace", "{text}");
    assert_eq!(browser.eval(shown).await, json!(["eu-west 1"]), "{text}");
    assert!(
        text.contains("us-east:down") && text.contains("fails open"),
        "{text}"
    );
    assert_eq!(
        gslb.a("webapp.global.example.test.").await,
        ips(&["127.0.61.1"]),
        "the what-if published nothing"
    );

    let errors = browser.page_errors();
    assert!(errors.is_empty(), "page errors: {errors:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_page_is_served_self_contained() {
    let port = free_port("127.0.61.1").await;
    let gslb = Gslb::start(&config(port)).await;
    let response = reqwest::get(format!("{}/", gslb.admin()))
        .await
        .expect("GET /");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<path class="land""#), "the map is inline");
    // Every src/href is this server's own (or an inline data: URL), and loads.
    let links: Vec<&str> = html
        .split(['"', '\''])
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0].ends_with("src=") || w[0].ends_with("href="))
        .map(|w| w[1])
        .collect();
    assert!(links.len() >= 3, "{links:?}");
    for link in links {
        if link.starts_with("data:") {
            continue;
        }
        assert!(link.starts_with('/') && !link.starts_with("//"), "{link}");
        let (code, body) = gslb.get(link).await;
        assert_eq!(code, 200, "{link}");
        assert!(!body.is_empty(), "{link}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_set_locations() {
    let port = free_port("127.0.61.1").await;
    let gslb = Gslb::start(&config(port)).await;
    let (_, body) = gslb.get("/status").await;
    let status: Value = serde_json::from_str(&body).unwrap();
    let set = |record: &str, id: &str| {
        status["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == record)
            .and_then(|r| r["sets"].as_array().unwrap().iter().find(|s| s["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("{record} {id} in {body}"))
    };
    assert_eq!(
        set("webapp.global.example.test.", "us-east")["location"],
        json!({ "lat": 39.0, "lon": -77.5 })
    );
    assert_eq!(
        set("edge.global.example.test.", "edge-pop")["location"],
        Value::Null
    );
}

/// The token this stand-in admin API wants.
const TOKEN: &str = "s3cret";

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|v| v == format!("Bearer {TOKEN}").as_str())
}

/// A `/status` body in gslb's schema, built by hand so this stays a test
/// of the page alone.
fn fake_status() -> Value {
    let target = |address: &str, state: &str, serving: bool, error: Option<&str>| {
        json!({ "address": address, "check": "ingress", "state": state, "serving": serving,
                "last_probe": null, "latency_ms": 1.5, "last_error": error })
    };
    json!({ "generation": 7, "ready": true, "records": [
        { "name": "webapp.global.example.test.", "sets": [
            { "id": "eu-west", "priority": 0, "weight": 3, "override": "auto", "healthy": true,
              "location": { "lat": 50.1, "lon": 8.7 },
              "targets": [target("192.0.2.20", "up", true, None)] },
            { "id": "us-east", "priority": 0, "weight": 1, "override": "auto", "healthy": false,
              "location": { "lat": 39.0, "lon": -77.5 },
              "targets": [target("192.0.2.10", "down", false, Some("status 503"))] } ] } ] })
}

/// `/explain` of the stand-in: a trace for webapp that echoes the query,
/// a JSON 404 for nope, a bare 404 (no explain API) for anything else.
async fn fake_explain(
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match query.get("name").map(String::as_str) {
        Some("webapp.global.example.test.") => Json(json!({
            "name": query["name"], "type": query.get("type"), "client": query.get("client"),
            "generation": 7, "assumed": [], "fallback": "any",
            "located": { "by": "source", "address": "198.51.100.7", "network": "198.51.100.0/26",
                         "country": "US", "continent": "NA" },
            "sets": [
                { "id": "eu-west", "priority": 0, "weight": 3, "override": "auto", "healthy": true,
                  "drained": false, "geo": "none", "distance_km": 6500.0,
                  "targets": [ { "address": "192.0.2.20", "probe": "up", "serving": true } ] },
                { "id": "us-east", "priority": 0, "weight": 1, "override": "auto", "healthy": false,
                  "drained": false, "geo": "continent",
                  "targets": [ { "address": "192.0.2.10", "probe": "down", "serving": false } ] } ],
            "steps": [ { "rule": "family", "detail": "sets with targets of the queried type", "sets": ["eu-west", "us-east"] },
                       { "rule": "health", "detail": "sets with a healthy target", "sets": ["eu-west"] } ],
            "outcome": "answer", "failed_open": false, "answers": 65535,
            "candidates": [ { "set": "eu-west", "weight": 3, "probability": 0.75,
                              "targets": [ { "address": "192.0.2.20", "probability": 1.0 } ] },
                            { "set": "ap-south", "weight": 1, "probability": 0.25, "targets": [] } ],
            "ttl": 30, "extra": { "note": "a field this page does not know" } }))
        .into_response(),
        Some("nope.global.example.test.") => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no record nope.global.example.test." })),
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The page's own routes in front of a stand-in `/status` and `/explain`
/// that want a bearer token; returns its base URL.
async fn start_fake_admin() -> String {
    let app = Router::new()
        .route(
            "/status",
            get(|headers: HeaderMap| async move {
                if authorized(&headers) {
                    Json(fake_status()).into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
        .route("/explain", get(fake_explain))
        .merge(gslb::admin::page::routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Submits the explain form and waits for an outcome; returns it and the
/// result's text.
async fn explain(browser: &mut Browser, name: &str) -> (String, String) {
    explain_as(browser, name, "198.51.100.7", "AAAA", "").await
}

/// [`explain`] for `client`, `qtype` and a what-if `assume`.
async fn explain_as(
    browser: &mut Browser,
    name: &str,
    client: &str,
    qtype: &str,
    assume: &str,
) -> (String, String) {
    let js = format!(
        "(() => {{ const f = document.getElementById('explain'); f.elements.name.value = {name:?}; \
         f.elements.client.value = {client:?}; f.elements.type.value = {qtype:?}; \
         f.elements.assume.value = {assume:?}; \
         delete document.getElementById('explain-result').dataset.outcome; f.requestSubmit(); }})()"
    );
    browser.eval(&js).await;
    let outcome = browser
        .wait_for(
            "(o => o !== 'pending' && o)(document.getElementById('explain-result').dataset.outcome)",
            Duration::from_secs(10),
        )
        .await;
    let text = browser
        .eval("document.getElementById('explain-result').innerText")
        .await;
    (
        outcome.as_str().unwrap_or_default().to_owned(),
        text.as_str().unwrap_or_default().to_owned(),
    )
}

async fn use_token(browser: &mut Browser, token: &str) {
    let js = format!(
        "document.getElementById('token').value = {token:?}; \
         document.getElementById('token-form').requestSubmit()"
    );
    browser.eval(&js).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs chromium (apt-get install chromium)"
)]
async fn status_page_asks_for_a_token_and_explains() {
    let mut browser = Browser::launch("status_page_token").await;
    let base = start_fake_admin().await;
    browser.open(&format!("{base}/"), 1280, 900).await;
    let limit = Duration::from_secs(10);
    let message = "(m => !m.hidden && m.innerText)(document.getElementById('auth-message'))";

    // 401: the page asks for the token, and so does the explain box.
    let text = browser.wait_for(message, limit).await;
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("needs an admin token")),
        "{text}"
    );
    let (outcome, _) = explain(&mut browser, "webapp.global.example.test.").await;
    assert_eq!(outcome, "unauthorized");

    use_token(&mut browser, "wrong").await;
    browser
        .wait_for(
            &format!("(t => t && t.includes('refused'))({message})"),
            limit,
        )
        .await;

    // The right token: clusters appear, and the token went as a bearer.
    use_token(&mut browser, TOKEN).await;
    wait_states(
        &mut browser,
        "#markers .cluster",
        &[("eu-west", "up"), ("us-east", "down")],
        limit,
    )
    .await;
    assert_eq!(
        browser
            .eval("document.getElementById('auth-message').hidden")
            .await,
        json!(true)
    );
    let sent: Vec<Value> = browser.request_headers("/status");
    assert!(
        sent.iter()
            .any(|h| h["Authorization"] == format!("Bearer {TOKEN}")),
        "{sent:?}"
    );

    // The token lasts for the tab: a reload needs no typing.
    browser.reload().await;
    wait_states(
        &mut browser,
        "#markers .cluster",
        &[("eu-west", "up"), ("us-east", "down")],
        limit,
    )
    .await;

    // A trace is rendered readably, with the query the page sent.
    let (outcome, text) = explain(&mut browser, "webapp.global.example.test.").await;
    assert_eq!(outcome, "trace", "{text}");
    for needle in [
        "198.51.100.7",
        "AAAA",
        "198.51.100.0/26",
        "health → eu-west",
        "eu-west 75.0%",
        "ap-south 25.0%",
        "30s",
    ] {
        assert!(text.contains(needle), "trace shows {needle:?}: {text}");
    }
    assert_eq!(
        browser
            .eval("[...document.querySelectorAll('#explain-result [data-section=sets] li')].map(l => l.dataset.set + ' ' + l.dataset.state)")
            .await,
        json!(["eu-west up", "us-east down"]),
    );
    assert!(
        text.contains("a field this page does not know"),
        "fields the page does not know are still shown: {text}"
    );
    browser
        .eval("document.getElementById('explain-section').scrollIntoView()")
        .await;
    browser.screenshot("status-page-explain.png", false).await;

    let (outcome, text) = explain(&mut browser, "nope.global.example.test.").await;
    assert_eq!(outcome, "error");
    assert!(
        text.contains("no record nope.global.example.test."),
        "{text}"
    );
    let (outcome, text) = explain(&mut browser, "old.global.example.test.").await;
    assert_eq!(outcome, "missing");
    assert!(text.contains("no /explain endpoint"), "{text}");

    let errors = browser.page_errors();
    assert!(errors.is_empty(), "page errors: {errors:?}");
    browser.close().await;
}
