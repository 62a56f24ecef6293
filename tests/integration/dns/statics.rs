//! Static records (`zones[].static`) as clients see them: `dig` against
//! the server, a sub-delegation to a real Knot resolved through Unbound, a
//! CNAME out of the zone followed by Unbound, and `check-config`.

use std::process::Command;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::support::dns_tree::{Block, Tree};
use crate::support::harness::*;

const STATICS: &str = r#"
    static:
      - { name: "@", type: CAA, data: '0 issue "letsencrypt.org"' }
      - { name: "@", type: TXT, data: '"google-site-verification=abc123"' }
      - { name: "@", type: MX, data: 10 mail }
      - { name: mail, type: A, data: 192.0.2.25 }
      - { name: _imaps._tcp, type: SRV, data: 0 1 993 mail }
      - { name: www, type: CNAME, data: webapp }
      - { name: _acme-challenge.webapp, type: CNAME, data: webapp.acme.example.test. }
      - { name: sub, type: NS, data: ns.sub }
      - { name: ns.sub, type: A, data: "{child}" }
records:
  - name: webapp.global.example.test.
    ttl: 30
    sets: [{ id: one, targets: [192.0.2.10] }]
"#;

/// `dig` output with whitespace squashed (dig aligns with tabs).
fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(not(has_dig), ignore = "needs dig (apt-get install bind9-dnsutils)")]
async fn dig_sees_static_records_cname_chains_and_referrals() {
    let yaml = format!(
        r#"
server: {{ dns_listen: ["127.0.0.1:0"], admin_listen: "127.0.0.1:0" }}
zones:
  - origin: global.example.test.
    ttl: 60
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}{}"#,
        STATICS.replace("{child}", "192.0.2.66")
    );
    let gslb = Gslb::start(&yaml).await;
    let port = gslb.addr.port();
    for transport in ["+notcp", "+tcp"] {
        let out = dig(port, &[transport, "global.example.test", "CAA"]);
        assert!(out.contains("flags: qr aa rd;"), "{out}");
        assert!(
            out.contains("global.example.test. 60 IN CAA 0 issue \"letsencrypt.org\""),
            "{out}"
        );
        let out = dig(port, &[transport, "global.example.test", "TXT"]);
        assert!(
            out.contains("global.example.test. 60 IN TXT \"google-site-verification=abc123\""),
            "{out}"
        );
        let out = dig(port, &[transport, "global.example.test", "MX"]);
        assert!(
            out.contains("global.example.test. 60 IN MX 10 mail.global.example.test."),
            "{out}"
        );
        let out = dig(port, &[transport, "_imaps._tcp.global.example.test", "SRV"]);
        assert!(
            out.contains("IN SRV 0 1 993 mail.global.example.test."),
            "{out}"
        );
        let out = dig(port, &[transport, "WWW.global.example.test", "A"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(
            out.contains(
                "WWW.global.example.test. 60 IN CNAME webapp.global.example.test. webapp.global.example.test. 30 IN A 192.0.2.10"
            ),
            "{out}"
        );
        let out = dig(port, &[transport, "host.sub.global.example.test", "A"]);
        assert!(
            out.contains("flags: qr rd;"),
            "a referral is not authoritative: {out}"
        );
        assert!(
            out.contains("ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 2"),
            "{out}"
        );
        assert!(
            out.contains("sub.global.example.test. 60 IN NS ns.sub.global.example.test."),
            "{out}"
        );
        assert!(
            out.contains("ns.sub.global.example.test. 60 IN A 192.0.2.66"),
            "{out}"
        );
    }
    let txt = gslb
        .metric(
            "gslb_dns_queries_total{zone=\"global.example.test.\",qtype=\"TXT\",rcode=\"NOERROR\"}",
        )
        .await;
    assert_eq!(txt, Some(2.0), "TXT queries are counted by type");
    gslb.server.shutdown(WAIT).await;
}

/// The child zone gslb delegates, on Knot.
fn child_zone(ns_ip: &str) -> String {
    format!(
        "sub.global.example.test.      300 IN SOA ns.sub.global.example.test. hostmaster.example.test. 1 3600 600 604800 60\n\
         sub.global.example.test.      300 IN NS  ns.sub.global.example.test.\n\
         ns.sub.global.example.test.   300 IN A   {ns_ip}\n\
         host.sub.global.example.test. 300 IN A   192.0.2.77\n"
    )
}

async fn resolve(tree: &Tree, name: &str, rtype: RecordType) -> Message {
    let bytes = query(name, rtype).to_vec().expect("encode");
    let from = "127.0.0.1".parse().expect("ip");
    let response = raw_udp_from(
        from,
        tree.resolver(),
        &bytes,
        std::time::Duration::from_secs(5),
    )
    .await
    .expect("the resolver answers");
    Message::from_vec(&response).expect("decodes")
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_knotd, has_unbound, has_unbound_control, can_bind_port_53)),
    ignore = "needs knotd, unbound, unbound-control and root for port 53 (apt-get install knot unbound)"
)]
async fn a_resolver_follows_a_sub_delegation_to_knot_and_a_cname_out_of_the_zone() {
    let block = Block::reserve();
    let [ns1, ns2] = block.gslb();
    let child = block.ip(6);
    // An alias out of gslb's zones, to the parent's name server.
    let statics = STATICS.replace("{child}", &child.to_string()).replacen(
        "records:\n",
        "      - { name: away, type: CNAME, data: ns1.example.test. }\nrecords:\n",
        1,
    );
    let yaml = format!(
        r#"
server:
  dns_listen: ["{ns1}:53", "{ns2}:53"]
  admin_listen: "127.0.0.1:0"
zones:
  - origin: global.example.test.
    ttl: 30
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}
    nameservers:
{}{statics}"#,
        block.nameservers_yaml(),
    );
    let gslb = Gslb::start(&yaml).await;
    let mut tree = Tree::start(block).await;
    tree.serve_zone(
        "child",
        6,
        "sub.global.example.test.",
        &child_zone(&child.to_string()),
    )
    .await;

    // Through gslb's referral to the child's server.
    let response = resolve(&tree, "host.sub.global.example.test.", RecordType::A).await;
    assert_eq!(
        response.metadata.response_code,
        ResponseCode::NoError,
        "{response}"
    );
    assert_eq!(addrs(&response), ips(&["192.0.2.77"]), "{response}");

    // gslb answers the alias; Unbound follows it to the parent's Knot.
    let response = resolve(&tree, "away.global.example.test.", RecordType::A).await;
    assert_eq!(
        response.metadata.response_code,
        ResponseCode::NoError,
        "{response}"
    );
    let cname = response.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(target) => Some(target.0.to_ascii()),
        _ => None,
    });
    assert_eq!(cname.as_deref(), Some("ns1.example.test."), "{response}");
    assert_eq!(addrs(&response), vec![block.ip(2)], "{response}");

    // Static data through the resolver, and a CNAME in the zone to a GSLB record.
    let response = resolve(&tree, "global.example.test.", RecordType::CAA).await;
    assert_eq!(response.answers.len(), 1, "{response}");
    let response = resolve(&tree, "www.global.example.test.", RecordType::A).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.10"]), "{response}");
    gslb.server.shutdown(WAIT).await;
}

#[test]
fn check_config_reports_static_record_errors_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        r#"
server: { dns_listen: ["127.0.0.1:53"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
    static:
      - { name: "@", type: CAA, data: '0 issue "letsencrypt.org' }
      - { name: www, type: CNAME, data: webapp }
      - { name: www, type: TXT, data: x }
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let file = path.display().to_string();
    for expected in [
        format!(
            "{file}:8:33: zones[0].static[0].data: invalid CAA data \"0 issue \\\"letsencrypt.org\": has a quoted string without its closing '\"'"
        ),
        format!(
            "{file}:9:11: zones[0].static[1].name: www.global.example.test. also has a TXT record (zones[0].static[2]): a CNAME cannot share its name with other data"
        ),
        "2 errors; config rejected".to_owned(),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}
