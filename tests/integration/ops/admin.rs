//! The admin API's access rules and limits, override
//! bodies, and overrides that mean what they say.

use std::{path::Path, process::Command, time::Duration};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::harness::*;

pub(crate) const TOKEN: &str = "s3cret-admin-token-0123456789";

/// The test zone with extra `server:` keys.
pub(crate) fn zone_with(server: &str) -> String {
    ZONE.replace("  udp_workers: 2\n", &format!("  udp_workers: 2\n{server}"))
}

/// Two unchecked sets and a failover pair whose checks always fail (nothing
/// listens on port 9 of 127.0.29.x), so it fails open.
pub(crate) const RECORDS: &str = r#"health_checks:
  dead: { kind: tcp, port: 9, interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }
records:
  - name: api.global.example.test.
    sets:
      - { id: us-east, targets: [192.0.2.1] }
      - { id: eu-west, targets: [192.0.2.2], priority: 1 }
  - name: down.global.example.test.
    sets:
      - { id: us-east, targets: [127.0.29.1], health_check: dead }
      - { id: eu-west, targets: [127.0.29.2], health_check: dead }
"#;

/// A token file in a fresh directory, and the server config line for it.
pub(crate) fn token_file(dir: &Path) -> String {
    let path = dir.join("admin-token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    format!("  admin_token_file: \"{}\"\n", path.display())
}

/// One request with optional headers: (status, headers, body).
pub(crate) async fn request(
    gslb: &Gslb,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", gslb.admin()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await.expect("admin API answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_writes_and_status_need_the_token_and_probes_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let gslb = Gslb::start(&format!("{}{RECORDS}", zone_with(&token_file(dir.path())))).await;
    let put = reqwest::Method::PUT;
    let path = "/overrides/api.global.example.test/us-east";
    let body = Some(r#"{"state":"down"}"#);

    let (code, headers, text) = request(&gslb, put.clone(), path, &[], body).await;
    assert_eq!(code, 401, "{text}");
    assert_eq!(
        headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
        Some("Bearer realm=\"gslb admin\"")
    );
    let wrong = bearer("not-the-token-0123456789");
    let (code, _, text) =
        request(&gslb, put.clone(), path, &[("authorization", &wrong)], body).await;
    assert_eq!(code, 403, "{text}");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.1"]),
        "nothing changed"
    );
    for path in ["/status", "/overrides"] {
        let (code, _, _) = request(&gslb, reqwest::Method::GET, path, &[], None).await;
        assert_eq!(code, 401, "{path}");
    }
    for path in ["/healthz", "/metrics"] {
        let (code, _, _) = request(&gslb, reqwest::Method::GET, path, &[], None).await;
        assert_eq!(code, 200, "{path} stays open");
    }
    // A token is enough, whatever the Host.
    let right = bearer(TOKEN);
    let headers = [
        ("authorization", right.as_str()),
        ("host", "gslb.gslb.svc:9153"),
    ];
    let (code, _, text) = request(&gslb, put, path, &headers, body).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.2"]),
        "drained"
    );
    let (code, _, text) = request(&gslb, reqwest::Method::GET, "/status", &headers, None).await;
    assert_eq!(code, 200, "{text}");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_without_a_token_a_non_loopback_admin_api_refuses_writes_and_status() {
    // Bound on every address, reached here through 127.0.0.1: what any pod
    // of the cluster could do with the old deploy/configmap.yaml.
    let yaml = ZONE.replace(
        "admin_listen: \"127.0.0.1:0\"",
        "admin_listen: \"0.0.0.0:0\"",
    );
    let gslb = Gslb::start(&format!("{yaml}{RECORDS}")).await;
    let port = gslb.server.admin_addr.unwrap().port();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let client = reqwest::Client::new();
    let response = client
        .put(url("/overrides/api.global.example.test/us-east"))
        .header("content-type", "application/json")
        .body(r#"{"state":"down"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let text = response.text().await.unwrap();
    assert!(text.contains("admin_token_file"), "says what to do: {text}");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.1"])
    );
    let status = client.get(url("/status")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 403, "/status is refused too");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let status = client.get(url(path)).send().await.unwrap().status();
        assert_ne!(status.as_u16(), 403, "{path} stays open");
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_dns_rebinding_host_is_refused_on_loopback_without_a_token() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    let put = reqwest::Method::PUT;
    let path = "/overrides/api.global.example.test/us-east";
    let body = Some(r#"{"state":"down"}"#);
    let json = ("content-type", "application/json");
    for host in ["attacker.example:9153", "127.0.0.1.attacker.example"] {
        let (code, _, text) =
            request(&gslb, put.clone(), path, &[("host", host), json], body).await;
        assert_eq!(code, 403, "{host}: {text}");
        let (code, _, _) = request(
            &gslb,
            reqwest::Method::GET,
            "/status",
            &[("host", host)],
            None,
        )
        .await;
        assert_eq!(code, 403, "{host}: /status");
    }
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.1"])
    );
    for host in ["localhost:9153", "127.0.0.1", "[::1]:9153"] {
        let (code, _, text) =
            request(&gslb, put.clone(), path, &[("host", host), json], body).await;
        assert_eq!(code, 200, "{host}: {text}");
    }
    gslb.server.shutdown(WAIT).await;
}

/// Whether the server closes `stream` within `limit` (EOF or reset).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a response; keep waiting for the close
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_slowloris_and_idle_connections_are_closed() {
    // The default admin_timeout (10 s): the old server kept these open 40 s
    // and more.
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    let addr = gslb.server.admin_addr.unwrap();
    // Headers that never end.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n")
        .await
        .unwrap();
    // A finished request on a keep-alive connection, then silence.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    // A connection that sends nothing at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let limit = Duration::from_secs(25);
    assert!(closed_within(&mut slow, limit).await, "slow headers closed");
    assert!(
        closed_within(&mut idle, limit).await,
        "idle keep-alive closed"
    );
    assert!(
        closed_within(&mut silent, limit).await,
        "silent connection closed"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_connections_beyond_the_cap_are_closed_at_once() {
    // The default 64 connections, held idle well within the 3 s head
    // deadline, all from one address (the per-client cap lifted).
    let gslb = Gslb::start(&format!(
        "{}{RECORDS}",
        zone_with("  admin_max_connections_per_client: 100\n")
    ))
    .await;
    let addr = gslb.server.admin_addr.unwrap();
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // A completed request proves the server took the connection.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "connection 65 is closed without an answer: {read:?}"
    );
    drop(held);
    // Slots free up when connections close.
    let series =
        "gslb_admin_connections_refused_total{listener=\"admin\",reason=\"max_connections\"}";
    let counted = eventually(Duration::from_secs(5), async || {
        gslb.metric(series).await >= Some(1.0)
    })
    .await;
    assert!(counted.is_some(), "counted in {series}");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_concurrent_status_readers_share_one_render() {
    let gslb = Gslb::start(&format!(
        "{ZONE}{}",
        RECORDS.replace("health_check: dead", "weight: 1")
    ))
    .await;
    let generation = gslb.server.cell.load().generation;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let url = format!("{}/status", gslb.admin());
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (barrier, url) = (barrier.clone(), url.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                reqwest::get(url).await.unwrap().text().await.unwrap()
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for reader in readers {
        bodies.push(reader.await.unwrap());
    }
    assert!(
        bodies
            .iter()
            .all(|b| b == &bodies[0] && b.contains("eu-west"))
    );
    assert_eq!(
        gslb.server.cell.load().generation,
        generation,
        "no new snapshot meanwhile"
    );
    assert_eq!(
        gslb.metric("gslb_admin_renders_total{document=\"status\"}")
            .await,
        Some(1.0),
        "eight readers of one generation, one render"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_2_form_encoded_put_works_and_an_oversized_body_is_413() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    let path = "/overrides/api.global.example.test/us-east";
    // What `curl -X PUT -d '{"state":"down"}'` sends.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let (code, _, text) = request(
        &gslb,
        reqwest::Method::PUT,
        path,
        &form,
        Some(r#"{"state":"down"}"#),
    )
    .await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.2"])
    );
    let (code, _, text) = request(
        &gslb,
        reqwest::Method::PUT,
        path,
        &[],
        Some(r#"{"state":"auto"}"#),
    )
    .await;
    assert_eq!(code, 200, "no Content-Type at all: {text}");
    let huge = format!(r#"{{"state":"down","reason":"{}"}}"#, "x".repeat(64 * 1024));
    let (code, _, text) = request(&gslb, reqwest::Method::PUT, path, &form, Some(&huge)).await;
    assert_eq!(code, 413, "{text}");
    let (code, _, text) = request(
        &gslb,
        reqwest::Method::PUT,
        path,
        &[],
        Some(r#"{"stat":"down"}"#),
    )
    .await;
    assert_eq!(code, 400, "a misspelt field is an error: {text}");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_3_a_drained_set_never_answers_and_all_drained_is_nodata() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    gslb.wait_ready().await;
    let name = "down.global.example.test.";
    // Both probes fail: the record fails open over both sets.
    let both = eventually(Duration::from_secs(5), async || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..40 {
            seen.extend(gslb.a(name).await);
        }
        seen.len() == 2
    })
    .await;
    assert!(both.is_some(), "failing open over both sets");
    let (code, body) = gslb
        .put(
            "/overrides/down.global.example.test/us-east",
            r#"{"state":"down"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    for _ in 0..40 {
        assert_eq!(
            gslb.a(name).await,
            ips(&["127.0.29.2"]),
            "never the drained set"
        );
    }
    let (code, body) = gslb
        .put(
            "/overrides/down.global.example.test/eu-west",
            r#"{"state":"down"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let response = gslb.udp(&query(name, RecordType::A)).await;
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty(), "NODATA: {response:?}");
    assert!(
        matches!(
            response.authorities.first().map(|r| &r.data),
            Some(RData::SOA(_))
        ),
        "with the SOA: {response:?}"
    );
    assert_eq!(
        gslb.metric("gslb_drained_nodata_answers_total{zone=\"global.example.test.\"}")
            .await,
        Some(1.0)
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_3_overrides_are_listed_with_who_and_why_and_deleted() {
    let gslb = Gslb::start(&format!("{ZONE}{RECORDS}")).await;
    let (code, _, text) = request(
        &gslb,
        reqwest::Method::PUT,
        "/overrides/api.global.example.test/us-east",
        &[("x-gslb-reason", "kernel upgrade")],
        Some(r#"{"state":"down"}"#),
    )
    .await;
    assert_eq!(code, 200, "{text}");
    let (code, text) = gslb
        .put(
            "/overrides/down.global.example.test/eu-west",
            r#"{"state":"up","reason":"probe is wrong"}"#,
        )
        .await;
    assert_eq!(code, 200, "{text}");
    let (code, body) = gslb.get("/overrides").await;
    assert_eq!(code, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let list = list["overrides"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    assert_eq!(
        (
            list[0]["record"].as_str(),
            list[0]["set"].as_str(),
            list[0]["state"].as_str()
        ),
        (
            Some("api.global.example.test."),
            Some("us-east"),
            Some("down")
        )
    );
    assert_eq!(list[0]["reason"], "kernel upgrade");
    assert_eq!(list[1]["reason"], "probe is wrong");
    assert!(
        list[0]["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{body}"
    );
    assert!(
        humantime::parse_rfc3339(list[0]["at"].as_str().unwrap()).is_ok(),
        "{body}"
    );

    let delete = |path: &'static str| request(&gslb, reqwest::Method::DELETE, path, &[], None);
    let (code, _, text) = delete("/overrides/api.global.example.test/us-east").await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.1"]),
        "cleared"
    );
    let (code, _, _) = delete("/overrides/api.global.example.test/us-east").await;
    assert_eq!(code, 404, "nothing left to clear");
    let (_, body) = gslb.get("/overrides").await;
    assert!(!body.contains("us-east"), "{body}");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_3_overrides_of_removed_records_are_dropped_and_do_not_return() {
    let yaml = format!("{ZONE}{RECORDS}");
    let gslb = Gslb::start(&yaml).await;
    let (code, body) = gslb
        .put(
            "/overrides/api.global.example.test/us-east",
            r#"{"state":"down"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let without_api = yaml.replace(
        "  - name: api.global.example.test.\n    sets:\n      - { id: us-east, targets: [192.0.2.1] }\n      - { id: eu-west, targets: [192.0.2.2], priority: 1 }\n",
        "",
    );
    assert_ne!(without_api, yaml);
    gslb.write_config(&without_api);
    gslb.server.reloader.reload();
    let gone = eventually(Duration::from_secs(5), async || {
        gslb.udp(&query("api.global.example.test.", RecordType::A))
            .await
            .metadata
            .response_code
            == ResponseCode::NXDomain
    })
    .await;
    assert!(gone.is_some(), "the record is gone");
    gslb.write_config(&yaml);
    gslb.server.reloader.reload();
    let back = eventually(Duration::from_secs(5), async || {
        !gslb.a("api.global.example.test.").await.is_empty()
    })
    .await;
    assert!(back.is_some(), "the name returns");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.1"]),
        "without its old drain"
    );
    let (_, body) = gslb.get("/overrides").await;
    assert_eq!(
        body, r#"{"overrides":[]}"#,
        "the override went with its record"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_3_overrides_survive_a_restart_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let yaml = format!(
        "{}{RECORDS}",
        zone_with(&format!("  state_file: \"{}\"\n", state.display()))
    );
    let gslb = Gslb::start(&yaml).await;
    let (code, body) = gslb
        .put(
            "/overrides/api.global.example.test/us-east",
            r#"{"state":"down","reason":"maintenance"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    gslb.server.shutdown(WAIT).await;
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["overrides"][0]["reason"], "maintenance");

    let gslb = Gslb::start(&yaml).await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.2"]),
        "still drained after the restart"
    );
    let (_, body) = gslb.get("/overrides").await;
    assert!(body.contains("maintenance"), "{body}");
    gslb.server.shutdown(WAIT).await;

    // A corrupt file is set aside; the server starts without overrides.
    std::fs::write(&state, "{\"version\": 1, \"overrides\": [").unwrap();
    let gslb = Gslb::start(&yaml).await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.1"])
    );
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.bad-")
        });
    assert!(aside, "the corrupt file is kept for the operator");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue9_1_cli_status_and_override_send_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let gslb = Gslb::start(&format!("{}{RECORDS}", zone_with(&token_file(dir.path())))).await;
    let admin = gslb.admin();
    let token = dir.path().join("admin-token");
    let gslb_cmd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gslb"))
            .args(args)
            .env("GSLB_ADMIN", &admin)
            .env_remove("GSLB_ADMIN_TOKEN")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = [
        "override",
        "api.global.example.test",
        "us-east",
        "down",
        "--reason",
        "cli test",
    ];
    let (code, _, stderr) = tokio::task::block_in_place(|| gslb_cmd(&args));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("401") && stderr.contains("--token-file"),
        "{stderr}"
    );
    let token = token.to_str().unwrap();
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| gslb_cmd(&[&args[..], &["--token-file", token]].concat()));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("api.global.example.test. us-east: down"),
        "{stdout}"
    );
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.2"])
    );
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| gslb_cmd(&["status", "--token-file", token]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("us-east") && stdout.contains("down"),
        "{stdout}"
    );
    gslb.server.shutdown(WAIT).await;
}

#[test]
fn issue9_1_an_unreadable_token_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gslb.yaml");
    let missing = dir.path().join("missing-token");
    let yaml = zone_with(&format!("  admin_token_file: \"{}\"\n", missing.display()));
    std::fs::write(&config, render(&format!("{yaml}{RECORDS}"), dir.path())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("server.admin_token_file: cannot read"),
        "{stderr}"
    );
}
