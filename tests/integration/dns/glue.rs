//! Apex NS answers over real sockets: every name server's glue, all of it
//! over TCP and large EDNS buffers, TC=1 when it does not fit (glue used
//! to stop after the 16th name server).

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::{RData, RecordType};

use crate::support::harness::*;

const NAME_SERVERS: usize = 20;

/// A zone with 20 in-zone name servers, ns1..ns20, each with an IPv4
/// address and the even ones an IPv6 address too.
fn config() -> String {
    let mut yaml = String::from(
        r#"
server:
  dns_listen: ["127.0.0.1:0"]
  udp_workers: 1
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers:
"#,
    );
    for i in 1..=NAME_SERVERS {
        let v6 = if i % 2 == 0 {
            format!(", \"2001:db8::{i:x}\"")
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "      ns{i}.global.example.test.: [192.0.2.{i}{v6}]\n"
        ));
    }
    yaml.push_str("records: []\n");
    yaml
}

/// (name server name, address) of every glue record, sorted.
fn glue(m: &Message) -> Vec<(String, IpAddr)> {
    let mut glue: Vec<(String, IpAddr)> = m
        .additionals
        .iter()
        .filter_map(|rr| match &rr.data {
            RData::A(a) => Some((rr.name.to_ascii().to_lowercase(), IpAddr::V4(a.0))),
            RData::AAAA(a) => Some((rr.name.to_ascii().to_lowercase(), IpAddr::V6(a.0))),
            _ => None,
        })
        .collect();
    glue.sort();
    glue
}

fn expected_glue() -> Vec<(String, IpAddr)> {
    let mut glue = Vec::new();
    for i in 1..=NAME_SERVERS {
        let name = format!("ns{i}.global.example.test.");
        glue.push((name.clone(), format!("192.0.2.{i}").parse().unwrap()));
        if i % 2 == 0 {
            glue.push((name, format!("2001:db8::{i:x}").parse().unwrap()));
        }
    }
    glue.sort();
    glue
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_6_twenty_name_servers_all_get_glue_or_tc() {
    let gslb = Gslb::start(&config()).await;
    let ns = query("Global.Example.Test.", RecordType::NS);
    let mut large = ns.clone();
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    large.set_edns(edns);
    for (what, response) in [
        ("TCP", gslb.tcp(&ns).await),
        ("UDP, EDNS 1232", gslb.udp(&large).await),
    ] {
        assert!(!response.metadata.truncation, "{what}");
        assert_eq!(response.answers.len(), NAME_SERVERS, "{what}");
        assert_eq!(
            glue(&response),
            expected_glue(),
            "{what}: all 30 glue records"
        );
    }
    let plain = gslb.udp(&ns).await;
    assert!(
        plain.metadata.truncation,
        "512 bytes cannot hold 20 NS and their glue: TC=1 sends the resolver to TCP"
    );
    assert!(plain.answers.is_empty() && plain.additionals.is_empty());
    gslb.server.shutdown(WAIT).await;
}
