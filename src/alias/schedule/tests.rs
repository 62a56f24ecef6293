use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn answer(addrs: &[&str], ttl: u64) -> Answer {
    Answer {
        addrs: addrs.iter().map(|a| ip(a)).collect(),
        ttl: secs(ttl),
    }
}

fn policy() -> AliasPolicy {
    AliasPolicy::default()
}

#[test]
fn refresh_follows_the_ttl_within_the_bounds() {
    let p = policy();
    assert_eq!(p.refresh_after(secs(60)), secs(60));
    assert_eq!(p.refresh_after(secs(0)), secs(5), "min_refresh");
    assert_eq!(p.refresh_after(secs(1)), secs(5), "min_refresh");
    assert_eq!(p.refresh_after(secs(86_400)), secs(300), "max_refresh");
    let odd = AliasPolicy {
        min_refresh: secs(30),
        max_refresh: secs(10),
        ..p
    };
    assert_eq!(
        odd.refresh_after(secs(1)),
        secs(30),
        "max below min never panics"
    );
}

#[test]
fn retries_back_off_from_min_refresh_to_max_refresh() {
    let p = policy();
    let delays: Vec<u64> = (1..=9).map(|n| p.retry_after(n).as_secs()).collect();
    assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(p.retry_after(u32::MAX), secs(300), "no overflow");
}

#[test]
fn a_new_name_is_due_at_once_and_unresolved() {
    let now = Instant::now();
    let host = HostState::new(now);
    assert!(host.due(now));
    assert_eq!(host.freshness(now, &policy()), Freshness::Unresolved);
    assert!(!host.attempted());
}

#[test]
fn an_answer_is_fresh_for_its_ttl_and_due_again_after_it() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    let applied = host.answered(t0, answer(&["192.0.2.2", "192.0.2.1", "192.0.2.2"], 60), &p);
    let view = applied.report.expect("the first answer is reported");
    assert_eq!(
        &*view.addrs,
        &[ip("192.0.2.1"), ip("192.0.2.2")],
        "sorted, deduplicated"
    );
    assert_eq!(view.expires, Some(t0 + secs(60)));
    assert!(view.usable);
    assert_eq!(applied.added.len(), 2);
    assert_eq!(host.next_attempt(), t0 + secs(60));
    assert!(!host.due(t0 + secs(59)));
    assert!(host.due(t0 + secs(60)));
    assert_eq!(host.freshness(t0 + secs(59), &p), Freshness::Fresh);
    assert_eq!(host.freshness(t0 + secs(60), &p), Freshness::Stale);
}

#[test]
fn a_failure_keeps_the_addresses_and_backs_off() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    host.answered(t0, answer(&["192.0.2.1"], 60), &p);
    let t1 = t0 + secs(60);
    assert_eq!(
        host.failed(t1, "timed out".into(), &p),
        None,
        "nothing changed for the writer"
    );
    assert_eq!(host.next_attempt(), t1 + secs(5));
    assert_eq!(&*host.view(t1, &p).addrs, &[ip("192.0.2.1")]);
    let t2 = t1 + secs(5);
    host.failed(t2, "timed out".into(), &p);
    assert_eq!(host.next_attempt(), t2 + secs(10), "doubled");
    let status = host.status(t2, &p);
    assert_eq!(status.failures, 2);
    assert_eq!(status.last_error.as_deref(), Some("timed out"));
    assert_eq!(status.freshness, Freshness::Stale);
    let t3 = t2 + secs(10);
    host.answered(t3, answer(&["192.0.2.1"], 60), &p);
    let status = host.status(t3, &p);
    assert_eq!(
        (status.failures, status.last_error),
        (0, None),
        "an answer clears them"
    );
    assert_eq!(host.next_attempt(), t3 + secs(60), "back on the TTL");
}

#[test]
fn stale_addresses_expire_after_max_stale_and_are_reported_once() {
    let p = AliasPolicy {
        max_stale: secs(100),
        ..policy()
    };
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    host.answered(t0, answer(&["192.0.2.1"], 10), &p);
    let expiry = t0 + secs(10) + secs(100);
    // Failures keep it due every few seconds; the expiry still gets its
    // own wake-up when it comes before the next attempt.
    host.failed(t0 + secs(10), "refused".into(), &p);
    assert_eq!(host.tick(expiry - secs(1), &p), None, "still stale");
    assert_eq!(host.freshness(expiry - secs(1), &p), Freshness::Stale);
    for n in 0..6 {
        host.failed(t0 + secs(15 + 5 * n), "refused".into(), &p);
    }
    assert!(host.next_event(&p) <= host.next_attempt());
    let view = host.tick(expiry, &p).expect("expiry is reported");
    assert!(!view.usable);
    assert_eq!(
        &*view.addrs,
        &[ip("192.0.2.1")],
        "kept, for status and fail-open"
    );
    assert_eq!(host.tick(expiry + secs(1), &p), None, "once");
    assert_eq!(host.freshness(expiry, &p), Freshness::Expired);
    let back = host
        .answered(expiry + secs(5), answer(&["192.0.2.1"], 10), &p)
        .report
        .expect("recovery is reported");
    assert!(back.usable);
}

#[test]
fn the_next_event_is_the_expiry_when_it_comes_before_the_next_attempt() {
    let p = AliasPolicy {
        max_stale: secs(3),
        max_refresh: secs(300),
        ..policy()
    };
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    host.answered(t0, answer(&["192.0.2.1"], 1), &p);
    // Due again after min_refresh (5 s), but unusable after 1 + 3 s.
    assert_eq!(host.next_attempt(), t0 + secs(5));
    assert_eq!(host.next_event(&p), t0 + secs(4));
    assert!(!host.tick(t0 + secs(4), &p).expect("expired").usable);
    assert_eq!(host.next_event(&p), t0 + secs(5), "expiry already reported");
}

#[test]
fn a_changed_ttl_alone_is_reported_so_the_answer_ttl_follows_it() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    host.answered(t0, answer(&["192.0.2.1"], 60), &p);
    let again = host.answered(t0 + secs(60), answer(&["192.0.2.1"], 60), &p);
    assert_eq!(again.report.map(|v| v.expires), Some(Some(t0 + secs(120))));
    assert!(again.added.is_empty() && again.removed.is_empty());
}

#[test]
fn address_ages_survive_refreshes_and_changes_are_listed() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    host.answered(t0, answer(&["192.0.2.1", "192.0.2.2"], 30), &p);
    let t1 = t0 + secs(30);
    let applied = host.answered(t1, answer(&["192.0.2.2", "192.0.2.3"], 30), &p);
    assert_eq!(applied.added, [ip("192.0.2.3")]);
    assert_eq!(applied.removed, [ip("192.0.2.1")]);
    let status = host.status(t1 + secs(1), &p);
    assert_eq!(
        status.addresses,
        [(ip("192.0.2.2"), secs(31)), (ip("192.0.2.3"), secs(1))]
    );
    assert_eq!(status.resolved_ago, Some(secs(1)));
    assert_eq!(status.ttl_left, Some(secs(29)));
}

#[test]
fn addresses_beyond_max_addresses_are_dropped_lowest_kept() {
    let p = AliasPolicy {
        max_addresses: 2,
        ..policy()
    };
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    let applied = host.answered(
        t0,
        answer(&["192.0.2.9", "192.0.2.1", "2001:db8::1", "192.0.2.5"], 30),
        &p,
    );
    assert_eq!(applied.dropped, 2);
    assert_eq!(
        &*applied.report.expect("reported").addrs,
        &[ip("192.0.2.1"), ip("192.0.2.5")]
    );
    assert!(host.status(t0, &p).capped);
}

#[test]
fn the_first_failure_of_a_new_name_is_reported_without_addresses() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    let view = host
        .failed(t0, "NXDOMAIN".into(), &p)
        .expect("the first attempt is always reported");
    assert!(view.addrs.is_empty() && view.expires.is_none() && view.usable);
    assert!(host.attempted());
    assert_eq!(host.failed(t0 + secs(5), "NXDOMAIN".into(), &p), None);
    assert_eq!(host.freshness(t0 + secs(5), &p), Freshness::Unresolved);
}

#[test]
fn an_upstream_ttl_of_zero_is_stale_at_once_but_refreshed_after_min_refresh() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    host.answered(t0, answer(&["192.0.2.1"], 0), &p);
    assert_eq!(host.freshness(t0, &p), Freshness::Stale);
    assert_eq!(host.next_attempt(), t0 + secs(5));
    assert!(host.view(t0, &p).usable);
}

#[test]
fn time_alone_says_nothing_before_the_first_attempt() {
    let p = policy();
    let t0 = Instant::now();
    let mut host = HostState::new(t0);
    assert_eq!(host.tick(t0 + secs(3600), &p), None);
    assert!(!host.attempted());
    assert_eq!(host.expiry_event(&p), None);
}
