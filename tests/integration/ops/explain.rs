//! `/explain` and `gslb explain` against a real running gslb with
//! real HTTP backends: traces agree with the answers DNS gives the same
//! client (by ECS) in the same test, samples match the probabilities, a
//! what-if moves a Frankfurt client while DNS answers stay as they are, and
//! the endpoint wants the admin token.

use std::{collections::BTreeSet, net::IpAddr, process::Command, time::Duration};

use serde_json::Value;

use crate::support::backend::{Backend, free_port};
use crate::support::harness::*;

const TOKEN: &str = "explain-admin-token-0123456789";
const NAME: &str = "webapp.global.example.test.";

/// Frankfurt (DE-HE), Ashburn (US-VA), Mumbai (IN-MH) and Paris (FR) in
/// the test GeoIP database.
const FRANKFURT: &str = "198.51.100.70";
const ASHBURN: &str = "198.51.100.10";
const MUMBAI: &str = "198.51.100.130";
const PARIS: &str = "203.0.113.10";

fn config(port: u16, token_file: &std::path::Path) -> String {
    let zone = ZONE.replace(
        "  udp_workers: 2\n",
        &format!(
            "  udp_workers: 2\n  admin_token_file: \"{}\"\n",
            token_file.display()
        ),
    );
    format!(
        r#"{zone}health_checks:
  web: {{ kind: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }}
records:
  - name: {NAME}
    ttl: 25
    answers: 1
    sets:
      - {{ id: eu-west, targets: [127.0.41.1], geo: {{ countries: [DE] }}, location: {{ lat: 50.1, lon: 8.7 }}, health_check: web }}
      - {{ id: eu-north, targets: [127.0.41.2, 127.0.41.3], geo: {{ continents: [EU] }}, location: {{ lat: 59.3, lon: 18.1 }}, health_check: web }}
      - {{ id: us-east, targets: [127.0.41.4], geo: {{ continents: [NA] }}, location: {{ lat: 39.0, lon: -77.5 }}, health_check: web }}
      - {{ id: ap-south, targets: [127.0.41.5], location: {{ lat: 19.1, lon: 72.9 }}, health_check: web }}
  - name: split.global.example.test.
    sets:
      - {{ id: big, targets: [192.0.2.1], weight: 3 }}
      - {{ id: small, targets: [192.0.2.2], weight: 1 }}
"#
    )
}

/// A running gslb with five healthy backends, ready.
async fn start() -> (Gslb, Vec<Backend>, tempfile::TempDir) {
    let port = free_port("127.0.41.1").await;
    let mut backends = Vec::new();
    for i in 1..=5 {
        backends.push(Backend::http(&format!("127.0.41.{i}"), port).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let gslb = Gslb::start(&config(port, &token)).await;
    gslb.wait_ready().await;
    (gslb, backends, dir)
}

/// `GET /explain?query` with (or without) the token: (status, JSON body).
async fn explain(gslb: &Gslb, query: &str, token: bool) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("{}/explain?{query}", gslb.admin()));
    if token {
        request = request.bearer_auth(TOKEN);
    }
    let response = request.send().await.expect("admin API answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The addresses a trace may answer (candidates and targets with p > 0).
fn may_answer(trace: &Value) -> BTreeSet<IpAddr> {
    trace["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["probability"].as_f64().unwrap() > 0.0)
        .flat_map(|c| c["targets"].as_array().unwrap().clone())
        .filter(|t| t["probability"].as_f64().unwrap() > 0.0)
        .map(|t| t["address"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn candidate_sets(trace: &Value) -> Vec<String> {
    trace["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["set"].as_str().unwrap().to_owned())
        .collect()
}

/// What DNS answers `client`/32 by ECS over `n` queries, and the scopes.
async fn dns_answers(
    gslb: &Gslb,
    client: &str,
    n: usize,
) -> (BTreeSet<IpAddr>, BTreeSet<Option<u8>>) {
    let mut seen = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for _ in 0..n {
        let (addrs, scope) = gslb.a_with_ecs(NAME, client, 32).await;
        seen.extend(addrs);
        scopes.insert(scope);
    }
    (seen, scopes)
}

/// Whether the trace for `client` and DNS agree: every address DNS gives
/// is one the trace allows, every one the trace allows is seen (each has
/// p ≥ 0.5 here, so 30 queries miss one with p < 1e-9), and the ECS scope
/// is the trace's.
async fn agree(gslb: &Gslb, client: &str) -> Result<(), String> {
    let (code, trace) = explain(
        gslb,
        &format!("name={NAME}&type=A&client={client}/32"),
        true,
    )
    .await;
    if code != 200 {
        return Err(format!("{code}: {trace}"));
    }
    let (seen, scopes) = dns_answers(gslb, client, 30).await;
    let allowed = may_answer(&trace);
    let scope = trace["located"]["ecs_scope"].as_u64().map(|s| s as u8);
    if seen != allowed || scopes != BTreeSet::from([scope]) {
        return Err(format!(
            "{client}: DNS {seen:?} scopes {scopes:?}, trace {allowed:?} scope {scope:?}: {trace:#}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn issue11_traces_agree_with_dns_for_the_same_client() {
    let (gslb, mut backends, _dir) = start().await;
    for client in [FRANKFURT, ASHBURN, MUMBAI, PARIS] {
        agree(&gslb, client).await.unwrap();
    }
    let (_, trace) = explain(&gslb, &format!("name={NAME}&client={FRANKFURT}/32"), true).await;
    assert_eq!(candidate_sets(&trace), ["eu-west"]);
    assert_eq!(trace["located"]["network"], "198.51.100.64/26");
    assert_eq!(trace["located"]["subdivision"], "DE-HE");
    assert_eq!(trace["ttl"], 25);
    assert_eq!(trace["failed_open"], false);
    // Paris matches only eu-north's continent: two targets, one answer
    // each time, each half of the time.
    let (_, trace) = explain(&gslb, &format!("name={NAME}&client={PARIS}/32"), true).await;
    assert_eq!(candidate_sets(&trace), ["eu-north"]);
    let shares: Vec<f64> = trace["candidates"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["probability"].as_f64().unwrap())
        .collect();
    assert_eq!(shares, [0.5, 0.5]);

    // eu-west's backend stops: the trace shows its probe down and sends
    // Frankfurt to eu-north, as DNS does.
    backends[0].stop();
    let moved = eventually(Duration::from_secs(10), async || {
        let (_, trace) = explain(&gslb, &format!("name={NAME}&client={FRANKFURT}/32"), true).await;
        trace["sets"][0]["targets"][0]["probe"] == "down"
    })
    .await;
    assert!(moved.is_some(), "the probe of eu-west turns down");
    let (_, trace) = explain(&gslb, &format!("name={NAME}&client={FRANKFURT}/32"), true).await;
    assert_eq!(candidate_sets(&trace), ["eu-north"], "{trace:#}");
    agree(&gslb, FRANKFURT).await.unwrap();

    // Every backend down: the trace fails open, and so does DNS.
    for b in &mut backends {
        b.stop();
    }
    let open = eventually(Duration::from_secs(10), async || {
        let (_, trace) = explain(&gslb, &format!("name={NAME}&client={ASHBURN}/32"), true).await;
        trace["failed_open"] == true
    })
    .await;
    assert!(open.is_some(), "the trace fails open");
    agree(&gslb, ASHBURN).await.unwrap();
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue11_what_if_drain_moves_frankfurt_but_dns_answers_stay() {
    let (gslb, _backends, _dir) = start().await;
    let generation = gslb.server.cell.load().generation;
    let query = format!("name={NAME}&client={FRANKFURT}/32&assume=eu-west:down");
    let (code, trace) = explain(&gslb, &query, true).await;
    assert_eq!(code, 200, "{trace}");
    assert_eq!(candidate_sets(&trace), ["eu-north"], "{trace:#}");
    assert_eq!(trace["assumed"][0]["sets"][0], format!("{NAME}/eu-west"));
    assert_eq!(trace["sets"][0]["drained"], true);
    let drain = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rule"] == "drain")
        .unwrap();
    assert!(
        !drain["sets"]
            .as_array()
            .unwrap()
            .contains(&Value::from("eu-west"))
    );

    // Nothing was published: DNS, /status and the generation are as before.
    let (seen, _) = dns_answers(&gslb, FRANKFURT, 20).await;
    assert_eq!(seen, BTreeSet::from(["127.0.41.1".parse().unwrap()]));
    assert_eq!(gslb.server.cell.load().generation, generation);
    let (_, trace) = explain(&gslb, &format!("name={NAME}&client={FRANKFURT}/32"), true).await;
    assert_eq!(candidate_sets(&trace), ["eu-west"]);
    assert_eq!(trace["sets"][0]["override"], "auto");

    // A target assumed down fails its probes: the set is down, not drained.
    let query = format!("name={NAME}&client={FRANKFURT}/32&assume=127.0.41.1:down");
    let (_, trace) = explain(&gslb, &query, true).await;
    assert_eq!(candidate_sets(&trace), ["eu-north"]);
    assert_eq!(trace["sets"][0]["drained"], false);
    assert_eq!(trace["sets"][0]["targets"][0]["probe"], "down");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue11_samples_match_the_probabilities() {
    let (gslb, _backends, _dir) = start().await;
    let (code, trace) = explain(&gslb, "name=split.global.example.test&samples=20000", true).await;
    assert_eq!(code, 200, "{trace}");
    assert_eq!(trace["samples"]["count"], 20000);
    let probability = |set: &str| {
        trace["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["set"] == set)
            .and_then(|c| c["probability"].as_f64())
            .unwrap()
    };
    let share = |set: &str| {
        trace["samples"]["sets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["set"] == set)
            .and_then(|s| s["share"].as_f64())
            .unwrap()
    };
    assert_eq!((probability("big"), probability("small")), (0.75, 0.25));
    for set in ["big", "small"] {
        assert!(
            (share(set) - probability(set)).abs() < 0.03,
            "{set}: {trace:#}"
        );
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue11_explain_wants_the_token_and_says_what_is_wrong() {
    let (gslb, _backends, _dir) = start().await;
    let (code, body) = explain(&gslb, &format!("name={NAME}"), false).await;
    assert_eq!(code, 401, "{body}");
    for (query, code, needle) in [
        ("name=nope.global.example.test", 404, "NXDOMAIN"),
        ("name=www.example.org", 404, "REFUSED"),
        ("type=A", 400, "name is required"),
        ("name=webapp.global.example.test&type=MX", 400, "A or AAAA"),
        (
            "name=webapp.global.example.test&client=1.2.3",
            400,
            "not an IP address",
        ),
        (
            "name=webapp.global.example.test&client=192.0.2.1/40",
            400,
            "prefix",
        ),
        (
            "name=webapp.global.example.test&assume=mars:down",
            400,
            "no record has a set",
        ),
        (
            "name=webapp.global.example.test&samples=100001",
            400,
            "samples",
        ),
        (
            "name=webapp.global.example.test&colour=red",
            400,
            "unknown parameter",
        ),
    ] {
        let (status, body) = explain(&gslb, query, true).await;
        assert_eq!(status, code, "{query}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {message}");
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue11_gslb_explain_prints_the_trace() {
    let (gslb, _backends, dir) = start().await;
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gslb"))
            .arg("explain")
            .args(args)
            .args(["--admin", &gslb.admin(), "--token-file"])
            .arg(dir.path().join("token"))
            .env_remove("GSLB_ADMIN_TOKEN")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let client = format!("{FRANKFURT}/32");
    let (ok, text, err) = run(&[
        NAME,
        "--client",
        &client,
        "--assume",
        "eu-west:down",
        "--samples",
        "200",
    ]);
    assert!(ok, "{text}{err}");
    assert!(!text.contains('\x1b'), "plain when not a terminal: {text}");
    for needle in [
        &format!("{NAME} A for 198.51.100.70/32 (generation "),
        "assumed   eu-west:down → webapp.global.example.test./eu-west",
        "client    by ECS 198.51.100.70 in 198.51.100.64/26: DE-HE, DE, EU (50.11, 8.68); ECS scope /26",
        "geo       → eu-north  (best geo match: continent EU)",
        "answer    eu-north 100.0%: 127.0.41.2 50.0%, 127.0.41.3 50.0%",
        "ttl 25s, 1 address, fails open: no",
        "samples   200 selections: eu-north 100.0%",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let (ok, json, err) = run(&[NAME, "--client", &client, "--json"]);
    assert!(ok, "{err}");
    let trace: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(candidate_sets(&trace), ["eu-west"]);
    let (ok, _, err) = run(&["nope.global.example.test", "--client", &client]);
    assert!(!ok);
    assert!(err.contains("404") && err.contains("NXDOMAIN"), "{err}");
    gslb.server.shutdown(WAIT).await;
}
