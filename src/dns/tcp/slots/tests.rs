use super::*;
use std::time::Duration;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn slots(max_total: usize, max_per_prefix: usize) -> (Slots, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let slots = Slots::new(
        max_total,
        max_per_prefix,
        PrefixLengths::new(24, 56),
        metrics.clone(),
    );
    (slots, metrics)
}

#[test]
fn a_full_global_cap_of_busy_connections_rejects_every_prefix() {
    let (slots, metrics) = slots(2, 5);
    let _a = slots.acquire(ip("192.0.2.1")).unwrap();
    let b = slots.acquire(ip("198.51.100.1")).unwrap();
    assert_eq!(
        slots.acquire(ip("203.0.113.1")).unwrap_err(),
        Rejection::MaxConnections
    );
    drop(b);
    assert!(slots.acquire(ip("203.0.113.1")).is_ok());
    assert_eq!(metrics.tcp.rejections(Rejection::MaxConnections), 1);
}

#[test]
fn one_prefix_cannot_take_more_than_its_share() {
    let (slots, metrics) = slots(100, 2);
    let held: Vec<_> = ["192.0.2.1", "192.0.2.200"]
        .map(|a| slots.acquire(ip(a)).unwrap())
        .into();
    // Another address of the same /24 is the same client...
    assert_eq!(
        slots.acquire(ip("192.0.2.77")).unwrap_err(),
        Rejection::MaxConnectionsPerIp
    );
    // ...and so is one of them over a dual-stack socket.
    assert_eq!(
        slots.acquire(ip("::ffff:192.0.2.1")).unwrap_err(),
        Rejection::MaxConnectionsPerIp
    );
    let other = slots.acquire(ip("192.0.3.1")).unwrap();
    assert_eq!(metrics.tcp.open.load(Ordering::Relaxed), 3);
    drop(held);
    drop(other);
    assert_eq!(metrics.tcp.open.load(Ordering::Relaxed), 0);
    assert!(
        slots.inner.open.lock().by_prefix.is_empty(),
        "prefixes with no connection leave the map"
    );
    assert_eq!(metrics.tcp.rejections(Rejection::MaxConnectionsPerIp), 2);
}

#[test]
fn ipv6_addresses_of_one_slash_56_share_the_per_client_cap() {
    let (slots, _) = slots(100, 2);
    let _held = [
        slots.acquire(ip("2001:db8:0:1::1")).unwrap(),
        slots.acquire(ip("2001:db8:0:2::99")).unwrap(),
    ];
    assert_eq!(
        slots.acquire(ip("2001:db8:0:ff::7")).unwrap_err(),
        Rejection::MaxConnectionsPerIp
    );
    assert!(slots.acquire(ip("2001:db8:0:100::1")).is_ok(), "next /56");
}

#[tokio::test(start_paused = true)]
async fn at_the_global_cap_the_oldest_idle_connection_of_the_heaviest_prefix_is_shed() {
    let (slots, metrics) = slots(5, 5);
    let light = slots.acquire(ip("192.0.2.1")).unwrap();
    light.idle();
    tokio::time::advance(Duration::from_secs(1)).await;
    let heavy: Vec<_> = (1..=4)
        .map(|i| slots.acquire(ip(&format!("198.51.100.{i}"))).unwrap())
        .collect();
    heavy[2].idle();
    tokio::time::advance(Duration::from_secs(1)).await;
    heavy[1].idle();
    // heavy[0] and heavy[3] have a message under way.

    let first = slots.acquire(ip("203.0.113.1")).unwrap();
    assert!(
        heavy[2].shed_signal().is_cancelled(),
        "the heaviest prefix's longest-idle connection goes first"
    );
    assert!(
        !light.shed_signal().is_cancelled(),
        "though it idled longer"
    );
    assert_eq!(metrics.tcp.open.load(Ordering::Relaxed), 5);

    let _second = slots.acquire(ip("203.0.113.2")).unwrap();
    assert!(heavy[1].shed_signal().is_cancelled());
    // Now 198.51.100/24 has 2 (busy), 203.0.113/24 has 2 (busy), 192.0.2/24 one idle.
    first.busy();
    let _third = slots.acquire(ip("203.0.113.3")).unwrap();
    assert!(light.shed_signal().is_cancelled(), "the only idle one left");
    assert_eq!(
        slots.acquire(ip("203.0.113.4")).unwrap_err(),
        Rejection::MaxConnections,
        "no idle connection is left to shed"
    );
    assert_eq!(metrics.tcp.shed.load(Ordering::Relaxed), 3);

    // Shed slots were given back at once; their guards' drops change nothing.
    drop(heavy);
    drop(light);
    assert_eq!(metrics.tcp.open.load(Ordering::Relaxed), 3);
    assert_eq!(slots.inner.open.lock().total, 3);
}

#[tokio::test(start_paused = true)]
async fn a_connection_busy_again_is_not_shed() {
    let (slots, _) = slots(1, 1);
    let only = slots.acquire(ip("192.0.2.1")).unwrap();
    only.idle();
    only.busy();
    assert_eq!(
        slots.acquire(ip("198.51.100.1")).unwrap_err(),
        Rejection::MaxConnections
    );
    assert!(!only.shed_signal().is_cancelled());
}
