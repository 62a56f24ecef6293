use super::*;
use crate::alias::responder::{Entry, Responder};

fn name(text: &str) -> Name {
    Name::parse(text).expect("test name")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

#[tokio::test]
async fn both_families_and_the_smallest_ttl_of_the_chain() {
    let dns = Responder::start().await;
    dns.set(
        "www.example.test.",
        Entry::Cname("lb.example.test.".into(), 30),
    );
    dns.set(
        "lb.example.test.",
        Entry::Addrs(
            vec![ip("192.0.2.1"), ip("2001:db8::1"), ip("192.0.2.2")],
            60,
        ),
    );
    let resolvers = Resolvers::new(&[dns.addr]).expect("resolvers");
    let mut answer = resolvers
        .resolve(&name("www.example.test."))
        .await
        .expect("an answer");
    answer.addrs.sort();
    assert_eq!(
        answer.addrs,
        [ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")]
    );
    assert_eq!(
        answer.ttl,
        Duration::from_secs(30),
        "the CNAME's TTL is smaller"
    );
}

#[tokio::test]
async fn one_family_is_enough() {
    let dns = Responder::start().await;
    dns.set("v4.example.test.", Entry::Addrs(vec![ip("192.0.2.7")], 20));
    let resolvers = Resolvers::new(&[dns.addr]).expect("resolvers");
    let answer = resolvers
        .resolve(&name("v4.example.test"))
        .await
        .expect("an answer");
    assert_eq!(answer.addrs, [ip("192.0.2.7")]);
    assert_eq!(answer.ttl, Duration::from_secs(20));
}

#[tokio::test]
async fn every_resolution_asks_the_server_so_changes_show_before_the_ttl() {
    let dns = Responder::start().await;
    dns.set(
        "lb.example.test.",
        Entry::Addrs(vec![ip("192.0.2.1")], 3600),
    );
    let resolvers = Resolvers::new(&[dns.addr]).expect("resolvers");
    let host = name("lb.example.test.");
    assert_eq!(
        resolvers.resolve(&host).await.expect("first").addrs,
        [ip("192.0.2.1")]
    );
    dns.set(
        "lb.example.test.",
        Entry::Addrs(vec![ip("192.0.2.2")], 3600),
    );
    assert_eq!(
        resolvers.resolve(&host).await.expect("second").addrs,
        [ip("192.0.2.2")],
        "not served from the resolver's cache"
    );
}

#[tokio::test]
async fn nxdomain_servfail_and_no_addresses_are_errors() {
    let dns = Responder::start().await;
    dns.set("gone.example.test.", Entry::NxDomain);
    dns.set("broken.example.test.", Entry::ServFail);
    dns.set("empty.example.test.", Entry::Addrs(Vec::new(), 60));
    let resolvers = Resolvers::new(&[dns.addr]).expect("resolvers");
    let gone = resolvers.resolve(&name("gone.example.test.")).await;
    assert_eq!(gone, Err("NXDOMAIN".to_owned()));
    let broken = resolvers
        .resolve(&name("broken.example.test."))
        .await
        .expect_err("SERVFAIL is no answer");
    assert_eq!(broken, "DNS error: error response: Server Failure");
    let empty = resolvers.resolve(&name("empty.example.test.")).await;
    assert_eq!(empty, Err("no A or AAAA records".to_owned()));
}

#[tokio::test]
async fn a_silent_server_is_an_error_within_the_limit() {
    let dns = Responder::start().await;
    dns.set("lb.example.test.", Entry::Addrs(vec![ip("192.0.2.1")], 60));
    dns.silence(true);
    let resolvers = Resolvers::new(&[dns.addr]).expect("resolvers");
    let started = std::time::Instant::now();
    let error = resolvers
        .resolve(&name("lb.example.test."))
        .await
        .expect_err("no answer");
    assert!(
        started.elapsed() <= RESOLVE_LIMIT + Duration::from_secs(5),
        "bounded"
    );
    assert!(dns.queries() > 0, "it did ask: {error}");
}

#[tokio::test]
async fn a_second_server_answers_when_the_first_is_silent() {
    let dead = Responder::start().await;
    dead.silence(true);
    let live = Responder::start().await;
    live.set("lb.example.test.", Entry::Addrs(vec![ip("192.0.2.9")], 60));
    let resolvers = Resolvers::new(&[dead.addr, live.addr]).expect("resolvers");
    assert_eq!(resolvers.servers(), [dead.addr, live.addr]);
    let answer = resolvers
        .resolve(&name("lb.example.test."))
        .await
        .expect("the live server answers");
    assert_eq!(answer.addrs, [ip("192.0.2.9")]);
}

#[test]
fn combining_the_families() {
    let v4 = Ok(Some((vec![ip("192.0.2.1")], 50)));
    let v6 = Ok(Some((vec![ip("2001:db8::1")], 40)));
    let both = combine(v4.clone(), v6).expect("answer");
    assert_eq!(both.ttl, Duration::from_secs(40));
    assert_eq!(
        combine(v4.clone(), Ok(None)).expect("answer").addrs.len(),
        1
    );
    assert_eq!(
        combine(v4, Err("timed out".into())),
        Err("AAAA: timed out".into()),
        "half an answer would drop the other family"
    );
    assert_eq!(combine(Err("x".into()), Err("x".into())), Err("x".into()));
}
