//! Response rate limiting over real UDP and TCP on loopback: floods from
//! one /24 (client sockets bound to 127.0.0.1) against a client of another
//! /24 (127.0.1.1). Every flood is a bounded number of queries.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

use crate::support::harness::*;

/// How long a flood's receivers wait after the last response.
const QUIET: Duration = Duration::from_millis(700);

/// The test zone with `rate_limit` (a YAML flow map, or empty for none)
/// and `records` names `r0`..: each a record of its own.
fn config(rate_limit: &str, records: usize) -> String {
    let server = if rate_limit.is_empty() {
        String::new()
    } else {
        format!("  rate_limit: {rate_limit}\n")
    };
    let zone = ZONE.replacen(
        "  udp_workers: 2\n",
        &format!("  udp_workers: 2\n{server}"),
        1,
    );
    let mut yaml = format!(
        "{zone}records:\n  - name: webapp.global.example.test.\n    sets: [{{ id: one, targets: [192.0.2.10, 192.0.2.11] }}]\n"
    );
    for i in 0..records {
        yaml.push_str(&format!(
            "  - name: r{i}.global.example.test.\n    sets: [{{ id: one, targets: [192.0.2.{}] }}]\n",
            i + 20
        ));
    }
    yaml
}

/// What a client got back from a flood.
#[derive(Debug, Default)]
struct Received {
    /// Complete answers (TC=0, records in the answer section).
    full: usize,
    /// Empty truncated answers (TC=1, question only): slips.
    truncated: usize,
    /// How long sending took, first query to last.
    sending: Duration,
}

/// Sends `count` queries (ids 0..count) from `sockets` sockets bound to
/// `from`, round robin and as fast as they go, and sorts every response
/// received until none came for [`QUIET`].
async fn flood(
    from: IpAddr,
    sockets: usize,
    to: SocketAddr,
    query: &Message,
    count: usize,
) -> Received {
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..sockets {
        let socket = Arc::new(UdpSocket::bind((from, 0)).await.expect("bind client"));
        senders.push(socket.clone());
        let expected = query.queries.clone();
        receivers.push(tokio::spawn(async move {
            let mut got = Received::default();
            let mut buf = vec![0u8; 4096];
            // Bounded: at most `count` responses, then the quiet timeout.
            for _ in 0..=count {
                let Ok(Ok(n)) = tokio::time::timeout(QUIET, socket.recv(&mut buf)).await else {
                    break;
                };
                let m = Message::from_vec(&buf[..n]).expect("response parses");
                assert_eq!(m.queries, expected, "question echoed");
                match (m.metadata.truncation, m.answers.is_empty()) {
                    (false, false) => got.full += 1,
                    (true, true) => got.truncated += 1,
                    _ => panic!("neither an answer nor a slip: {m:?}"),
                }
            }
            got
        }));
    }
    let started = std::time::Instant::now();
    let mut query = query.clone();
    for i in 0..count {
        query.metadata.id = i as u16;
        let bytes = query.to_vec().expect("encode");
        senders[i % sockets]
            .send_to(&bytes, to)
            .await
            .expect("send");
    }
    let sending = started.elapsed();
    let mut total = Received {
        sending,
        ..Received::default()
    };
    for receiver in receivers {
        let got = receiver.await.expect("receiver");
        total.full += got.full;
        total.truncated += got.truncated;
    }
    total
}

fn localhost() -> IpAddr {
    "127.0.0.1".parse().expect("ip")
}

fn other_prefix() -> IpAddr {
    "127.0.1.1".parse().expect("ip")
}

async fn counter(gslb: &Gslb, series: &str) -> f64 {
    gslb.metric(series).await.unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_one_prefix_is_limited_with_slips_and_other_prefixes_are_not() {
    let gslb = Gslb::start(&config(
        "{ responses_per_second: 10, slip: 2, window: 60s }",
        0,
    ))
    .await;
    let webapp = query("webapp.global.example.test.", RecordType::A);
    let sent = 400;
    let got = flood(localhost(), 4, gslb.addr, &webapp, sent).await;

    // The rate is answered in full in each second the flood touched; after
    // that the stream is deep in debt (window 60 s) and gets nothing more.
    let seconds = got.sending.as_secs() as usize + 1;
    assert!(
        got.full >= 10 && got.full <= 10 * (seconds + 1),
        "{got:?}: 10 full answers per second"
    );
    // slip 2: every other limited response comes back truncated.
    let limited = sent - got.full;
    assert!(
        got.truncated.abs_diff(limited / 2) <= 2,
        "{got:?}: half of the {limited} limited responses slip"
    );

    // The server counted what the client saw.
    let slipped = counter(&gslb, "gslb_rrl_slipped_total{kind=\"answer\"}").await;
    let dropped = counter(&gslb, "gslb_rrl_dropped_total{kind=\"answer\"}").await;
    assert_eq!(slipped as usize, got.truncated);
    assert_eq!((slipped + dropped) as usize, limited);
    assert_eq!(counter(&gslb, "gslb_rrl_untracked_total").await, 0.0);
    assert!(counter(&gslb, "gslb_rrl_table_streams").await >= 1.0);
    assert_eq!(
        counter(&gslb, "gslb_rrl_table_capacity").await,
        262_144.0,
        "the default table"
    );

    // Another /24 is answered in full, even right after the flood.
    let other = flood(other_prefix(), 1, gslb.addr, &webapp, 8).await;
    assert_eq!((other.full, other.truncated), (8, 0), "{other:?}");
    // A neighbour in the flooding /24 shares its limit.
    let neighbour: IpAddr = "127.0.0.2".parse().expect("ip");
    let next = flood(neighbour, 1, gslb.addr, &webapp, 4).await;
    assert_eq!(next.full, 0, "{next:?}");
    // TCP is never limited: a real resolver behind the flooded address
    // retries there after a slip.
    for _ in 0..5 {
        let response = gslb.tcp(&webapp).await;
        assert!(!response.metadata.truncation);
        assert_eq!(addrs(&response).len(), 2);
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_counted_apart_and_nxdomain_per_zone() {
    let gslb = Gslb::start(&config(
        "{ responses_per_second: 5, slip: 1, window: 60s }",
        12,
    ))
    .await;
    // A resolver asking for many names, each within the rate, is answered
    // in full although its total (48 in well under a second) is not.
    for i in 0..12 {
        let name = format!("r{i}.global.example.test.");
        let got = flood(localhost(), 1, gslb.addr, &query(&name, RecordType::A), 4).await;
        assert_eq!((got.full, got.truncated), (4, 0), "{name}: {got:?}");
    }
    // Random names in the zone are one NXDOMAIN stream: limited as a whole.
    let mut nxdomain = Received::default();
    for i in 0..30 {
        let name = format!("nope{i}.global.example.test.");
        let response = udp(gslb.addr, &query(&name, RecordType::A)).await;
        if response.metadata.truncation {
            nxdomain.truncated += 1;
        } else {
            assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
            nxdomain.full += 1;
        }
    }
    assert!(nxdomain.full <= 10, "{nxdomain:?}");
    assert!(nxdomain.truncated >= 20, "slip 1: every limited one slips");
    // Apex NS with glue, the largest answer, is limited as its own kind.
    let ns = flood(
        localhost(),
        2,
        gslb.addr,
        &query("global.example.test.", RecordType::NS),
        40,
    )
    .await;
    assert!(ns.full <= 10 && ns.truncated >= 30, "{ns:?}");
    assert!(counter(&gslb, "gslb_rrl_slipped_total{kind=\"nxdomain\"}").await >= 20.0);
    assert!(counter(&gslb, "gslb_rrl_slipped_total{kind=\"ns\"}").await >= 30.0);
    assert_eq!(
        counter(&gslb, "gslb_rrl_slipped_total{kind=\"answer\"}").await,
        0.0
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_follows_reloads_and_keeps_its_state_across_unrelated_ones() {
    let gslb = Gslb::start(&config("", 0)).await;
    let webapp = query("webapp.global.example.test.", RecordType::A);
    let got = flood(localhost(), 2, gslb.addr, &webapp, 60).await;
    assert_eq!(got.full, 60, "off when absent: {got:?}");
    assert_eq!(counter(&gslb, "gslb_rrl_table_capacity").await, 0.0);

    gslb.write_config(&config(
        "{ responses_per_second: 5, slip: 1, window: 60s, table_size: 4096 }",
        0,
    ));
    let on = eventually(Duration::from_secs(10), async || {
        counter(&gslb, "gslb_rrl_table_capacity").await == 4096.0
    })
    .await;
    assert!(on.is_some(), "the reload turned rate limiting on");
    let got = flood(localhost(), 2, gslb.addr, &webapp, 60).await;
    assert!(got.full <= 15 && got.truncated >= 45, "limited: {got:?}");

    // A reload that leaves rate_limit alone keeps the debt.
    gslb.write_config(
        &config(
            "{ responses_per_second: 5, slip: 1, window: 60s, table_size: 4096 }",
            1,
        )
        .replace("192.0.2.20", "192.0.2.21"),
    );
    let reloaded = eventually(Duration::from_secs(10), async || {
        udp(gslb.addr, &query("r0.global.example.test.", RecordType::A))
            .await
            .answers
            .len()
            == 1
    })
    .await;
    assert!(reloaded.is_some(), "the record was added");
    let got = flood(localhost(), 1, gslb.addr, &webapp, 5).await;
    assert_eq!(got.full, 0, "still limited after the reload: {got:?}");

    // Removing it turns limiting off.
    gslb.write_config(&config("", 1));
    let off = eventually(Duration::from_secs(10), async || {
        counter(&gslb, "gslb_rrl_table_capacity").await == 0.0
    })
    .await;
    assert!(off.is_some(), "the reload turned rate limiting off");
    let got = flood(localhost(), 2, gslb.addr, &webapp, 60).await;
    assert_eq!(got.full, 60, "{got:?}");
    gslb.server.shutdown(WAIT).await;
}
