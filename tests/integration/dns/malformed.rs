//! Malformed packets get FORMERR or silence, and the server keeps answering.

use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use rand::{Rng, RngExt, SeedableRng, rngs::SmallRng};

use crate::support::harness::*;

fn config() -> String {
    format!(
        "{ZONE}{}",
        "records:\n  - name: webapp.global.example.test.\n    sets: [{ id: a, targets: [192.0.2.1] }]\n"
    )
}

/// What the server sent back for raw bytes over UDP.
async fn reply(gslb: &Gslb, bytes: &[u8]) -> Option<Message> {
    let wait = Duration::from_millis(300);
    let raw = raw_udp_from("127.0.0.1".parse().unwrap(), gslb.addr, bytes, wait).await?;
    Some(Message::from_vec(&raw).expect("every response is a well-formed message"))
}

async fn still_answers(gslb: &Gslb) {
    let r = gslb
        .udp(&query("webapp.global.example.test.", RecordType::A))
        .await;
    assert_eq!(addrs(&r), ips(&["192.0.2.1"]));
}

fn valid() -> Vec<u8> {
    query("webapp.global.example.test.", RecordType::A)
        .to_vec()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn crafted_malformed_queries() {
    let gslb = Gslb::start(&config()).await;
    // Truncated headers: silence.
    for len in [0, 1, 5, 11] {
        assert!(
            reply(&gslb, &valid()[..len]).await.is_none(),
            "{len}-byte packet"
        );
    }
    let formerr = async |bytes: Vec<u8>, what: &str| {
        let r = reply(&gslb, &bytes)
            .await
            .unwrap_or_else(|| panic!("{what}: a reply"));
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr, "{what}");
        assert_eq!(
            r.metadata.id,
            u16::from_be_bytes([bytes[0], bytes[1]]),
            "{what}"
        );
    };
    // A question name that is a pointer to itself.
    formerr(
        vec![
            0xAB, 0xCD, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1,
        ],
        "self pointer",
    )
    .await;
    // Pointer chains in a later section that loop: skipped, not followed;
    // the counts then run past the end.
    let mut looped = valid();
    looped[7] = 2;
    let at = looped.len() as u8;
    looped.extend_from_slice(&[0xC0, at, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
    formerr(looped, "pointer loop then overrun").await;
    let mut truncated = valid();
    truncated.truncate(truncated.len() - 3);
    formerr(truncated, "truncated question").await;
    let mut two = valid();
    two[5] = 2;
    formerr(two, "qdcount 2").await;
    let mut zero = valid();
    zero[5] = 0;
    formerr(zero, "qdcount 0").await;
    let mut label = valid();
    label[12] = 0x41;
    formerr(label, "extended label type").await;
    let mut ecs = with_ecs(
        query("webapp.global.example.test.", RecordType::A),
        "198.51.100.64",
        26,
    )
    .to_vec()
    .unwrap();
    let last = ecs.len() - 1;
    ecs[last] |= 1; // an address bit past the /26 prefix
    formerr(ecs, "ECS address bits past the prefix").await;
    // A response is never answered.
    let mut response = valid();
    response[2] |= 0x80;
    assert!(reply(&gslb, &response).await.is_none());
    still_answers(&gslb).await;
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_bytes_never_break_the_server() {
    let gslb = Gslb::start(&config()).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let base = valid();
    // Bounded: 3,000 packets, pure noise and mutated queries.
    for i in 0..3_000 {
        let packet: Vec<u8> = if i % 2 == 0 {
            let len = rng.random_range(0..600);
            (0..len).map(|_| rng.random()).collect()
        } else {
            let mut p = base.clone();
            for _ in 0..rng.random_range(1..5) {
                let at = rng.random_range(0..p.len());
                p[at] = rng.random();
            }
            p.truncate(rng.random_range(0..=p.len()));
            p
        };
        socket.send_to(&packet, gslb.addr).await.unwrap();
    }
    // Every reply that came back is a response; the server still answers.
    let mut buf = vec![0u8; 65535];
    let mut replies = 0;
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await
    {
        let r = Message::from_vec(&buf[..n]).expect("replies decode");
        assert!(r.metadata.message_type == hickory_proto::op::MessageType::Response);
        replies += 1;
    }
    assert!(
        replies > 100,
        "most garbage with a header gets FORMERR, got {replies}"
    );
    still_answers(&gslb).await;
    let r = gslb
        .tcp(&query("webapp.global.example.test.", RecordType::A))
        .await;
    assert_eq!(addrs(&r), ips(&["192.0.2.1"]));
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_over_tcp_does_not_stop_tcp() {
    let gslb = Gslb::start(&config()).await;
    let mut rng = SmallRng::seed_from_u64(9);
    for _ in 0..50 {
        let len = rng.random_range(0..300);
        let garbage: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // The server answers FORMERR or closes; either way, not hang.
        let _ = tokio::time::timeout(WAIT, raw_tcp(gslb.addr, &garbage)).await;
    }
    let _ = rng.next_u32();
    let r = gslb
        .tcp(&query("webapp.global.example.test.", RecordType::A))
        .await;
    assert_eq!(addrs(&r), ips(&["192.0.2.1"]));
    gslb.server.shutdown(WAIT).await;
}
