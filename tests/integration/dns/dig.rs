//! `dig` against the example config (the README's and the book's own
//! lines run in `integration::docs::readme`).

use std::process::Command;

use crate::support::harness::*;

/// The example's health checks dial 127.0.0.x:8080, where nothing listens
/// in tests: after the first round every target is down and gslb fails
/// open, which answers exactly as if all were healthy. Before that round
/// some targets are up and some down, so answers depend on timing.
async fn wait_ready(gslb: &Gslb) {
    let ready = eventually(std::time::Duration::from_secs(10), async || {
        gslb.server.board.ready()
    })
    .await;
    assert!(ready.is_some(), "first round of health checks done");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(not(has_dig), ignore = "needs dig (apt-get install bind9-dnsutils)")]
async fn dig_sees_authoritative_answers_over_udp_and_tcp() {
    let env = vec![
        (
            "GSLB_SERVER__DNS_LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
        (
            "GSLB_SERVER__ADMIN_LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
    ];
    let gslb = Gslb::start_file(tempfile::tempdir().unwrap(), repo("config/gslb.yaml"), env).await;
    wait_ready(&gslb).await;
    let port = gslb.addr.port().to_string();
    let dig = |extra: &[&str]| {
        let mut command = Command::new("dig");
        command
            .args(["@127.0.0.1", "-p", &port, "+time=2", "+tries=1"])
            .args(extra);
        let out = command.output().expect("dig runs");
        // Whitespace squashed: dig aligns columns with tabs and spaces.
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    for transport in ["+notcp", "+tcp"] {
        let out = dig(&[
            transport,
            "WebApp.Global.Example.Test",
            "+subnet=198.51.100.70/32",
        ]);
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(out.contains("flags: qr aa rd;"), "{out}");
        // No backend runs: every target is down and the record fails open,
        // so the answer carries the zone's degraded TTL (10 s), not 30.
        assert!(
            out.contains("WebApp.Global.Example.Test. 10 IN A 127.0.0.20"),
            "{out}"
        );
        assert!(out.contains("CLIENT-SUBNET: 198.51.100.70/32/26"), "{out}");
        let out = dig(&[transport, "nope.global.example.test"]);
        assert!(out.contains("status: NXDOMAIN"), "{out}");
        assert!(
            out.contains(
                "global.example.test. 30 IN SOA ns1.global.example.test. hostmaster.example.test."
            ),
            "{out}"
        );
        let out = dig(&[transport, "global.example.test", "NS"]);
        assert!(
            out.contains("ns1.global.example.test. 30 IN A 192.0.2.53"),
            "{out}"
        );
        let out = dig(&[transport, "example.org"]);
        assert!(out.contains("status: REFUSED"), "{out}");
    }
    gslb.server.shutdown(WAIT).await;
}

/// `gslb status` says what DNS does: with no backend running every
/// target of the example is down and its record fails open, so the DNS
/// column says "failing open" (never "drained": nothing is overridden) and
/// `dig` gets exactly those addresses.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(not(has_dig), ignore = "needs dig (apt-get install bind9-dnsutils)")]
async fn status_says_what_dig_gets_with_no_backend_running() {
    let env = vec![
        (
            "GSLB_SERVER__DNS_LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
        (
            "GSLB_SERVER__ADMIN_LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
    ];
    let gslb = Gslb::start_file(tempfile::tempdir().unwrap(), repo("config/gslb.yaml"), env).await;
    wait_ready(&gslb).await;
    let admin = gslb.admin();
    let status = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_gslb"))
            .args(["status", "--admin", &admin])
            .output()
    })
    .await
    .unwrap()
    .expect("gslb status runs");
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "{text}");
    let webapp: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("webapp.global.example.test."))
        .collect();
    assert!(!webapp.is_empty(), "{text}");
    for line in text.lines().skip(2) {
        assert!(
            line.contains(" down ") && line.contains("failing open"),
            "every target is down and its record fails open: {line}"
        );
        assert!(!line.contains("drained"), "nothing is drained: {line}");
    }
    let failing_open: Vec<&str> = webapp
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let port = gslb.addr.port().to_string();
    for client in ["198.51.100.70/32", "192.0.2.1/32", "203.0.113.9/32"] {
        let out = Command::new("dig")
            .args(["@127.0.0.1", "-p", &port, "+time=2", "+tries=1", "+short"])
            .args(["webapp.global.example.test", &format!("+subnet={client}")])
            .output()
            .expect("dig runs");
        let answers = String::from_utf8_lossy(&out.stdout).into_owned();
        let addresses: Vec<&str> = answers.split_whitespace().collect();
        assert!(
            !addresses.is_empty(),
            "{client}: an answer while failing open"
        );
        for address in addresses {
            assert!(
                failing_open.contains(&address),
                "{client}: dig got {address}, status lists {failing_open:?} as failing open"
            );
        }
    }
    gslb.server.shutdown(WAIT).await;
}
