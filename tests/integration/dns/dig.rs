//! `dig` against the example config (the README's own lines run in
//! `integration::docs::readme`).

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
