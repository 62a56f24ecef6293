//! Listening on IPv4 and IPv6 at once, as deploy/configmap.yaml does with
//! `["0.0.0.0:5353", "[::]:5353"]`: gslb's `[::]` sockets are IPv6-only,
//! so both entries bind one port side by side and each family is answered;
//! `[::]` alone does not take IPv4, which is why the manifest lists both.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::harness::*;

fn config(listen: &str) -> String {
    format!(
        r#"
server:
  dns_listen: {listen}
  udp_workers: 1
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
records:
  - name: webapp.global.example.test.
    sets: [{{ id: one, targets: [192.0.2.10] }}]
"#
    )
}

/// A port free for UDP and TCP on every IPv4 and IPv6 address (bounded
/// retries: another process may take one between the checks).
fn free_port() -> u16 {
    for _ in 0..20 {
        let Ok(port) = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
        else {
            continue;
        };
        // One at a time: std's `[::]` sockets are dual-stack and would
        // collide with the IPv4 ones.
        let tcp4 = std::net::TcpListener::bind(("0.0.0.0", port)).is_ok();
        let tcp6 = std::net::TcpListener::bind(("::", port)).is_ok();
        let udp4 = std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok();
        let udp6 = std::net::UdpSocket::bind(("::", port)).is_ok();
        if tcp4 && tcp6 && udp4 && udp6 {
            return port;
        }
    }
    panic!("no free port for UDP and TCP in 20 tries");
}

async fn answers_from(from: &str, to: SocketAddr) {
    let from: IpAddr = from.parse().expect("ip");
    let response = udp_from(
        from,
        to,
        &query("webapp.global.example.test.", RecordType::A),
    )
    .await;
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addrs(&response), ips(&["192.0.2.10"]), "UDP to {to}");
    let response = tcp(to, &query("webapp.global.example.test.", RecordType::A)).await;
    assert_eq!(addrs(&response), ips(&["192.0.2.10"]), "TCP to {to}");
}

#[tokio::test]
async fn ipv4_and_ipv6_wildcards_share_a_port_and_answer_both_families() {
    let port = free_port();
    let gslb = Gslb::start(&config(&format!(r#"["0.0.0.0:{port}", "[::]:{port}"]"#))).await;
    assert_eq!(
        gslb.server.dns_addrs.len(),
        2,
        "{:?}",
        gslb.server.dns_addrs
    );
    answers_from("127.0.0.1", SocketAddr::from(([127, 0, 0, 1], port))).await;
    answers_from("::1", SocketAddr::new("::1".parse().expect("ip"), port)).await;
    gslb.server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn ipv6_wildcard_alone_does_not_take_ipv4() {
    let port = free_port();
    let gslb = Gslb::start(&config(&format!(r#"["[::]:{port}"]"#))).await;
    answers_from("::1", SocketAddr::new("::1".parse().expect("ip"), port)).await;
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "[::] is IPv6-only: IPv4 needs 0.0.0.0 listed as well"
    );
    gslb.server.shutdown(Duration::from_secs(2)).await;
}
