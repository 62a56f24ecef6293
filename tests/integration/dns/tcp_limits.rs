//! DNS over TCP under pressure: connection caps per client prefix and in
//! all, idle connections shed for new ones, slow clients and a low file
//! descriptor limit.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use futures_util::FutureExt as _;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::backend::{Backend, free_port};
use crate::support::harness::*;
use crate::support::process::{Process, connect_from};

/// What a TCP client got for one query.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A response.
    Answered(Message),
    /// The server closed (or reset) the connection.
    Closed,
    /// Nothing within the wait.
    Silent,
}

/// Sends one query for `name` on `stream` and waits up to `wait`.
pub(crate) async fn ask(stream: &mut TcpStream, name: &str, wait: Duration) -> Reply {
    let bytes = query(name, RecordType::A).to_vec().expect("encode");
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend(bytes);
    let exchange = async {
        stream.write_all(&framed).await?;
        let len = stream.read_u16().await?;
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await?;
        std::io::Result::Ok(buf)
    };
    match tokio::time::timeout(wait, exchange).await {
        Ok(Ok(buf)) => Reply::Answered(Message::from_vec(&buf).expect("response decodes")),
        Ok(Err(_)) => Reply::Closed,
        Err(_) => Reply::Silent,
    }
}

/// Connects from `from` and asks once.
async fn connect_and_ask(from: IpAddr, to: SocketAddr, wait: Duration) -> Reply {
    match tokio::time::timeout(wait, connect_from(from, to)).await {
        Ok(Ok(mut stream)) => ask(&mut stream, NAME, wait).await,
        Ok(Err(_)) => Reply::Closed,
        Err(_) => Reply::Silent,
    }
}

/// The test zone with extra `server:` lines.
fn zone_with(server_extra: &str) -> String {
    ZONE.replacen(
        "  udp_workers: 2\n",
        &format!("  udp_workers: 2\n{server_extra}"),
        1,
    )
}

const NAME: &str = "webapp.global.example.test.";

fn v4(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, a, b, c))
}

/// Whether the server has closed `stream` (EOF or reset within 1 s).
async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Lets the server's connection tasks mark themselves idle or busy after
/// the client's last step.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_caps_a_connection_sheds_an_idle_one_or_is_closed_at_once() {
    let gslb = Gslb::start(&format!(
        "{}records:\n  - name: {NAME}\n    sets: [{{ id: a, targets: [192.0.2.1] }}]\n",
        zone_with(
            "  tcp_max_connections: 5\n  tcp_max_connections_per_ip: 3\n  tcp_idle_timeout: 60s\n"
        )
    ))
    .await;
    // Two addresses of one /24 are one client under the per-client cap.
    let (one, two, three) = (v4(0, 83, 1), v4(0, 83, 2), v4(0, 83, 3));
    let mut held = Vec::new();
    for from in [one, one, two] {
        let mut stream = connect_from(from, gslb.addr).await.unwrap();
        let reply = ask(&mut stream, NAME, WAIT).await;
        assert!(
            matches!(&reply, Reply::Answered(m) if addrs(m) == ips(&["192.0.2.1"])),
            "{reply:?}"
        );
        held.push(stream);
    }
    let fourth = connect_and_ask(three, gslb.addr, WAIT).await;
    assert!(
        matches!(fourth, Reply::Closed),
        "per-prefix cap: {fourth:?}"
    );
    for _ in 0..2 {
        let mut stream = connect_from(v4(0, 84, 1), gslb.addr).await.unwrap();
        assert!(matches!(
            ask(&mut stream, NAME, WAIT).await,
            Reply::Answered(_)
        ));
        held.push(stream);
    }
    assert_eq!(gslb.metric("gslb_tcp_connections").await, Some(5.0));
    settle().await;

    // Every slot is taken by an idle connection: a newcomer sheds the
    // oldest idle one of the heaviest prefix (127.0.83/24, three) and is
    // answered.
    let newcomer = connect_and_ask(v4(0, 85, 1), gslb.addr, WAIT).await;
    assert!(matches!(newcomer, Reply::Answered(_)), "{newcomer:?}");
    assert!(
        is_closed(&mut held[0]).await,
        "the oldest idle one was shed"
    );
    held.remove(0);
    assert_eq!(gslb.metric("gslb_tcp_shed_total").await, Some(1.0));

    // With a message under way on each, no connection is idle: a newcomer
    // is closed at once, never queued.
    let four = eventually(WAIT, async || {
        gslb.metric("gslb_tcp_connections").await == Some(4.0)
    })
    .await;
    assert!(four.is_some(), "the answered newcomer has closed");
    held.push(connect_from(v4(0, 85, 1), gslb.addr).await.unwrap());
    for stream in &mut held {
        stream.write_all(&[0]).await.unwrap();
    }
    settle().await;
    let refused = connect_and_ask(v4(0, 86, 1), gslb.addr, WAIT).await;
    assert!(matches!(refused, Reply::Closed), "global cap: {refused:?}");
    assert_eq!(gslb.metric("gslb_tcp_connections").await, Some(5.0));

    drop(held);
    let served = eventually(Duration::from_secs(5), async || {
        matches!(
            connect_and_ask(v4(0, 86, 1), gslb.addr, WAIT).await,
            Reply::Answered(_)
        )
    })
    .await;
    assert!(served.is_some(), "a freed slot serves a new client");
    assert_eq!(gslb.metric("gslb_tcp_max_connections").await, Some(5.0));
    assert_eq!(
        gslb.metric("gslb_tcp_rejected_total{reason=\"max_connections_per_ip\"}")
            .await,
        Some(1.0)
    );
    assert!(
        gslb.metric("gslb_tcp_rejected_total{reason=\"max_connections\"}")
            .await
            >= Some(1.0)
    );
    gslb.server.shutdown(WAIT).await;
}

/// `dig +tcp` from `from`: whether it got an answer with the address.
fn dig_tcp_from(from: IpAddr, to: SocketAddr) -> bool {
    let out = std::process::Command::new("dig")
        .args(["-b", &from.to_string(), &format!("@{}", to.ip())])
        .args(["-p", &to.port().to_string()])
        .args(["+tcp", "+time=2", "+tries=1", "+short", NAME])
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout).trim() == "192.0.2.1"
}

/// Opens the closed ones among `held` again from their addresses, as a
/// hog that reconnects would.
async fn refill(held: &mut [(IpAddr, TcpStream)], to: SocketAddr) {
    for (from, stream) in held.iter_mut() {
        let mut byte = [0u8; 1];
        let closed = matches!(stream.read(&mut byte).now_or_never(), Some(Ok(0) | Err(_)));
        if closed
            && let Ok(Ok(new)) =
                tokio::time::timeout(Duration::from_secs(1), connect_from(*from, to)).await
        {
            *stream = new;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(not(has_dig), ignore = "needs dig (apt-get install bind9-dnsutils)")]
async fn idle_connections_from_many_addresses_do_not_lock_dig_out_of_tcp() {
    // 50 addresses in 10 /24s hold 2 idle connections each: 100, the
    // global cap, with 20 per prefix (the per-client cap). Counting exact
    // addresses let them fill the cap and refuse everyone else.
    const TRIES: usize = 20;
    let gslb = Gslb::start(&format!(
        "{}records:\n  - name: {NAME}\n    sets: [{{ id: a, targets: [192.0.2.1] }}]\n",
        zone_with("  tcp_max_connections: 100\n  tcp_idle_timeout: 60s\n")
    ))
    .await;
    let mut held = Vec::new();
    for net in 1..=10 {
        for host in 1..=5 {
            for _ in 0..2 {
                let from = v4(2, net, host);
                held.push((from, connect_from(from, gslb.addr).await.unwrap()));
            }
        }
    }
    settle().await;
    assert_eq!(gslb.metric("gslb_tcp_connections").await, Some(100.0));

    let mut answered = 0;
    for i in 0..TRIES {
        let from = v4(3, 0, i as u8 + 1);
        if tokio::task::block_in_place(|| dig_tcp_from(from, gslb.addr)) {
            answered += 1;
        }
        refill(&mut held, gslb.addr).await;
        settle().await;
    }
    eprintln!("dig +tcp answered {answered} of {TRIES} during the idle hog");
    assert_eq!(answered, TRIES, "dig +tcp during the hog");
    assert_eq!(gslb.metric("gslb_tcp_connections").await, Some(100.0));
    assert!(gslb.metric("gslb_tcp_shed_total").await >= Some(TRIES as f64));
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickled_message_cannot_hold_a_connection() {
    // Idle timeout 2 s, so a message must arrive whole within 2 s of its
    // first byte; the client sends a byte every 300 ms, which resets any
    // clock that only measures silence.
    let gslb = Gslb::start(&format!(
        "{}records:\n  - name: {NAME}\n    sets: [{{ id: a, targets: [192.0.2.1] }}]\n",
        zone_with("  tcp_idle_timeout: 2s\n")
    ))
    .await;
    let mut stream = TcpStream::connect(gslb.addr).await.unwrap();
    let began = tokio::time::Instant::now();
    stream.write_all(&[0xff, 0xff]).await.unwrap();
    let mut closed_after = None;
    while began.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream.write_all(&[0]).await.is_err() {
            closed_after = Some(began.elapsed());
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
        {
            closed_after = Some(began.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the server closed the trickling connection");
    assert!(closed_after < Duration::from_secs(6), "{closed_after:?}");
    assert_eq!(
        gslb.metric("gslb_tcp_timeouts_total{kind=\"message\"}")
            .await,
        Some(1.0)
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_queries_on_one_connection_are_answered_in_order() {
    let gslb = Gslb::start(&format!(
        "{ZONE}records:\n  - name: {NAME}\n    sets: [{{ id: a, targets: [192.0.2.1] }}]\n"
    ))
    .await;
    let mut stream = TcpStream::connect(gslb.addr).await.unwrap();
    let names = [
        NAME,
        "missing.global.example.test.",
        NAME,
        "www.example.org.",
    ];
    let mut batch = Vec::new();
    let mut ids = Vec::new();
    for name in names {
        let q = query(name, RecordType::A);
        ids.push(q.metadata.id);
        let bytes = q.to_vec().unwrap();
        batch.extend((bytes.len() as u16).to_be_bytes());
        batch.extend(bytes);
    }
    stream.write_all(&batch).await.unwrap();
    for id in ids {
        let len = tokio::time::timeout(WAIT, stream.read_u16())
            .await
            .unwrap()
            .unwrap();
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(Message::from_vec(&buf).unwrap().metadata.id, id);
    }
    gslb.server.shutdown(WAIT).await;
}

/// Records for the process tests: `webapp` with a healthy set (a real HTTP
/// backend) and a dead one; while probes work, only the healthy address is
/// answered, and a failing prober would make DNS fail open to the dead one.
fn healthy_and_dead(port: u16) -> String {
    format!(
        r#"health_checks:
  fast: {{ kind: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }}
records:
  - name: {NAME}
    sets:
      - {{ id: up, targets: [127.0.80.1], health_check: fast }}
      - {{ id: dead, targets: [127.0.80.2], health_check: fast }}
"#
    )
}

/// Opens `count` connections from each of `sources`, keeping whatever the
/// server does with them.
async fn hold(
    sources: impl IntoIterator<Item = IpAddr>,
    count: usize,
    to: SocketAddr,
) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for source in sources {
        for _ in 0..count {
            if let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(2), connect_from(source, to)).await
            {
                held.push(stream);
            }
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_flood_under_a_low_fd_limit_leaves_dns_probes_and_cpu_alone() {
    let port = free_port("127.0.80.1").await;
    let _backend = Backend::http("127.0.80.1", port).await;
    // 160 connections against an open-file limit of 100; idle ones are
    // kept for a minute.
    let gslb = Process::spawn(
        "  tcp_idle_timeout: 60s\n  metrics: { per_record: true }\n",
        &healthy_and_dead(port),
        &[],
        Some(100),
    );
    gslb.wait_ready().await;
    let up = ips(&["127.0.80.1"]);
    let answered = eventually(Duration::from_secs(5), async || {
        raw_udp_from(
            v4(0, 0, 1),
            gslb.dns,
            &query(NAME, RecordType::A).to_vec().unwrap(),
            WAIT,
        )
        .await
        .is_some_and(|r| addrs(&Message::from_vec(&r).unwrap()) == up)
    })
    .await;
    assert!(
        answered.is_some(),
        "serving the healthy set; log:\n{}",
        gslb.log()
    );

    let mut held = hold([v4(0, 81, 1)], 40, gslb.dns).await;
    held.extend(hold((1..=120).map(|i| v4(1, i, 0)), 1, gslb.dns).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let cpu_before = gslb.cpu();
    let window = tokio::time::Instant::now();
    for _ in 0..30 {
        let bytes = query(NAME, RecordType::A).to_vec().unwrap();
        let reply = raw_udp_from(v4(0, 0, 1), gslb.dns, &bytes, WAIT).await;
        let reply =
            reply.unwrap_or_else(|| panic!("UDP answers during the flood; log:\n{}", gslb.log()));
        assert_eq!(
            addrs(&Message::from_vec(&reply).unwrap()),
            up,
            "the healthy backend stays up (no fail-open)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spent = gslb.cpu() - cpu_before;
    let elapsed = window.elapsed();
    eprintln!(
        "server CPU while {} connections were held: {spent:?} in {elapsed:?}",
        held.len()
    );
    assert!(
        spent < elapsed / 3,
        "server CPU {spent:?} in {elapsed:?} while connections are held"
    );

    // The prober still reaches the healthy backend: its probes did not
    // starve for descriptors.
    assert_eq!(
        gslb.metric("gslb_probe_up{check=\"fast\",target=\"127.0.80.1\"}")
            .await,
        Some(1.0),
        "the admin API answers and the healthy backend is up; log:\n{}",
        gslb.log()
    );

    // Full of idle connections: a new client sheds one and is answered,
    // and the count stays within the cap.
    let cap = gslb.metric("gslb_tcp_max_connections").await.unwrap();
    assert!(cap < 100.0, "the cap fits the fd limit: {cap}");
    assert_eq!(gslb.metric("gslb_tcp_connections").await, Some(cap));
    let newcomer = connect_and_ask(v4(0, 82, 1), gslb.dns, Duration::from_secs(3)).await;
    assert!(matches!(newcomer, Reply::Answered(_)), "{newcomer:?}");
    assert!(gslb.metric("gslb_tcp_connections").await <= Some(cap));
    assert!(gslb.metric("gslb_tcp_shed_total").await >= Some(1.0));
    assert!(
        gslb.metric("gslb_tcp_rejected_total{reason=\"max_connections_per_ip\"}")
            .await
            >= Some(20.0)
    );

    drop(held);
    let served = eventually(Duration::from_secs(5), async || {
        matches!(
            connect_and_ask(v4(0, 82, 1), gslb.dns, WAIT).await,
            Reply::Answered(_)
        )
    })
    .await;
    assert!(
        served.is_some(),
        "new TCP clients are served once the idle ones close"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_partial_frames_are_dropped_with_their_memory() {
    // Idle connections may stay a minute, but a message that has started
    // must arrive whole within 5 s: 200 clients that send half of a
    // 64 KiB message and stall lose their slots and buffers.
    let gslb = Process::spawn(
        "  tcp_idle_timeout: 60s\n",
        &format!("records:\n  - name: {NAME}\n    sets: [{{ id: a, targets: [192.0.2.1] }}]\n"),
        &[],
        None,
    );
    gslb.wait_ready().await;
    let mut held = hold((1..=200).map(|i| v4(1, i, 1)), 1, gslb.dns).await;
    assert_eq!(held.len(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = gslb.rss_kib();
    let mut partial = vec![0xff, 0xff];
    partial.extend([0u8; 32 * 1024]);
    for stream in &mut held {
        stream.write_all(&partial).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = gslb.rss_kib().saturating_sub(before);
    eprintln!("RSS grew {grown} KiB for 200 stalled frames of 32 KiB");
    // What was sent is 6.25 MiB; buffers sized to the announced length, or
    // doubled as they grow, would be 12.5 MiB.
    assert!(
        grown < 10 * 1024,
        "RSS grew {grown} KiB for 200 partial frames"
    );

    let all_closed = eventually(Duration::from_secs(8), async || {
        gslb.metric("gslb_tcp_connections").await == Some(0.0)
    })
    .await;
    assert!(
        all_closed.is_some(),
        "stalled connections are closed; log:\n{}",
        gslb.log()
    );
    for stream in &mut held {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut byte)).await;
        assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    }
    assert_eq!(
        gslb.metric("gslb_tcp_timeouts_total{kind=\"message\"}")
            .await,
        Some(200.0)
    );
}
