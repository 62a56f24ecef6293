//! RFC 2136 updates against the real `gslb serve` process, the way an
//! attacker and a crash meet them: acknowledged changes survive SIGKILL,
//! captured signed updates cannot be replayed, floods of unauthenticated
//! updates neither fill the log nor starve signed ones, existence
//! prerequisites with empty RDATA are answered, and one name cannot grow
//! past what a TCP answer holds. The messages are built and signed by
//! [`crate::support::update_client`], so a test can capture, replay and forge them.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use hickory_proto::rr::{RData, RecordType};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use crate::support::harness::{query, tcp, udp};
use crate::support::process::Process;
use crate::support::update_client::{
    self, Key, Reply, Rr, Signed, TXT, exchange, labels, sign, sign_at, txt, update, wire,
};

/// The zone that takes updates, beside the process harness's own.
const ZONE: &str = "dyn.example.test.";
/// The key that may write there.
const KEY: &str = "key.dyn.example.test.";

/// `gslb serve` with a state file and `ZONE`: a static CNAME at `alias`,
/// a static TXT at `txt` and an MX at `mx`; the key may write TXT at
/// `_acme-challenge.*` and at `txt`.
struct Gslb {
    process: Process,
    key: Key,
    /// Holds the secret and the state file; outlives restarts.
    dir: tempfile::TempDir,
}

impl Gslb {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts gslb after `prepare` has had the directory of its state file.
    fn start_with(prepare: impl FnOnce(&std::path::Path)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        prepare(dir.path());
        let key = Key::generate(KEY);
        let secret = dir.path().join("key.secret");
        std::fs::write(&secret, format!("{}\n", key.base64())).expect("secret file");
        let state = dir.path().join("state.json");
        let server = format!("  state_file: \"{}\"\n", state.display());
        let zone = format!(
            "  - origin: {ZONE}\n\
             \x20   soa: {{ mname: ns1.{ZONE}, rname: hostmaster.example.test. }}\n\
             \x20   nameservers: {{ ns1.{ZONE}: [192.0.2.53] }}\n\
             \x20   static:\n\
             \x20     - {{ name: alias, type: CNAME, data: target.example.net. }}\n\
             \x20     - {{ name: txt, type: TXT, data: '\"config\"' }}\n\
             \x20     - {{ name: mx, type: MX, data: 10 mail.example.net. }}\n\
             \x20   updates:\n\
             \x20     keys: [{{ name: {KEY}, secret_file: \"{}\" }}]\n\
             \x20     allow: [{{ key: {KEY}, names: [\"_acme-challenge.*\", txt], types: [TXT] }}]\n",
            secret.display()
        );
        let process = Process::spawn(&server, &zone, &[], None);
        Self { process, key, dir }
    }

    fn addr(&self) -> SocketAddr {
        self.process.dns
    }

    /// Sends a signed update and reads the reply; panics with the log when
    /// none comes.
    async fn send(&self, signed: &Signed, over_tcp: bool) -> Reply {
        exchange(self.addr(), signed, &self.key, over_tcp)
            .await
            .unwrap_or_else(|| panic!("no reply to an update; log:\n{}", self.process.log()))
    }

    /// The TXT strings at `name` (each record's strings joined), over UDP.
    async fn txt(&self, name: &str) -> Vec<String> {
        let response = udp(self.addr(), &query(name, RecordType::TXT)).await;
        txt_records(&response.answers)
    }
}

/// Each TXT record's strings, joined.
fn txt_records(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// An add of one TXT record `value` at `name`, signed now.
fn add(key: &Key, name: &str, value: &str) -> Signed {
    sign(
        update(
            ZONE,
            &[],
            &[Rr::add(wire(name), TXT, txt(&[value.as_bytes()]))],
        ),
        key,
    )
}

/// A delete of that record, signed now.
fn delete(key: &Key, name: &str, value: &str) -> Signed {
    sign(
        update(
            ZONE,
            &[],
            &[Rr::delete(wire(name), TXT, txt(&[value.as_bytes()]))],
        ),
        key,
    )
}

/// Every update answered NOERROR is on disk before the answer: 30 adds
/// (25 of them at once) and 5 deletes, then SIGKILL right after the last
/// answer; after the restart each acknowledged add is there and each
/// acknowledged delete stays done. A temporary file of a crashed write is
/// gone once the server runs.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_updates_survive_sigkill() {
    let stale_name = ".state.json.tmp-4194300";
    let gslb = Gslb::start_with(|dir| {
        std::fs::write(dir.join(stale_name), "{\"version\": 1, \"overrides\": [")
            .expect("stale temporary");
    });
    let stale = gslb.dir.path().join(stale_name);
    gslb.process.wait_ready().await;
    let stale_removed = !stale.exists();
    let name = |i: usize| format!("_acme-challenge.r{i}.{ZONE}");

    let gslb_ref = Arc::new(gslb);
    let mut adds = JoinSet::new();
    for i in 0..25 {
        let g = gslb_ref.clone();
        adds.spawn(async move {
            let signed = add(&g.key, &name(i), &format!("v{i}"));
            (i, g.send(&signed, i % 2 == 1).await)
        });
    }
    while let Some(done) = adds.join_next().await {
        let (i, reply) = done.expect("add task");
        assert!(reply.is_signed_noerror(), "add {i}: {reply:?}");
    }
    for i in 0..5 {
        let reply = gslb_ref
            .send(&delete(&gslb_ref.key, &name(i), &format!("v{i}")), false)
            .await;
        assert!(reply.is_signed_noerror(), "delete {i}: {reply:?}");
    }
    for i in 25..30 {
        let reply = gslb_ref
            .send(&add(&gslb_ref.key, &name(i), &format!("v{i}")), i % 2 == 1)
            .await;
        assert!(reply.is_signed_noerror(), "add {i}: {reply:?}");
    }
    let Ok(mut gslb) = Arc::try_unwrap(gslb_ref) else {
        panic!("the add tasks are done");
    };
    gslb.process.relaunch();
    gslb.process.wait_ready().await;

    let mut lost = Vec::new();
    for i in 0..30 {
        let found = gslb.txt(&name(i)).await;
        let want: Vec<String> = if i < 5 {
            Vec::new()
        } else {
            vec![format!("v{i}")]
        };
        if found != want {
            lost.push(format!("{}: {found:?}, acknowledged {want:?}", name(i)));
        }
    }
    assert!(
        lost.is_empty() && stale_removed,
        "{} of 30 acknowledged changes lost by SIGKILL (the crashed write's temporary file \
         removed at start: {stale_removed}):\n{}",
        lost.len(),
        lost.join("\n"),
    );
}

/// A captured signed update sent again, under a new message id, over UDP
/// or TCP, is refused (NOTAUTH/BADTIME, signed) and changes nothing: the
/// add of a deleted record does not bring it back, an old delete does not
/// remove a fresh record, and a restart does not reopen the window. A
/// request signed 18 hours ago with fudge 65535 is refused. Ten different
/// updates signed in the same second are all applied. The same message
/// sent again under its own id (a UDP retransmission) gets its first
/// answer again and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn replayed_signed_updates_are_refused() {
    let mut gslb = Gslb::start();
    gslb.process.wait_ready().await;
    let name = format!("_acme-challenge.replay.{ZONE}");
    let refused_replay =
        |reply: &Reply| reply.rcode == 9 && reply.tsig_error == Some(18) && reply.signed;

    let first_add = add(&gslb.key, &name, "token");
    assert!(gslb.send(&first_add, false).await.is_signed_noerror());
    let first_delete = delete(&gslb.key, &name, "token");
    assert!(gslb.send(&first_delete, false).await.is_signed_noerror());
    // The same bytes again, as a UDP client resends them when an answer is
    // lost: the first answer again, nothing applied twice.
    let again = gslb.send(&first_add, false).await;
    assert!(again.is_signed_noerror(), "a retransmission: {again:?}");
    assert_eq!(
        gslb.txt(&name).await,
        Vec::<String>::new(),
        "a retransmission changes nothing"
    );
    for over_tcp in [false, true] {
        let reply = gslb.send(&first_add.with_new_id(), over_tcp).await;
        assert!(
            refused_replay(&reply),
            "a replayed add (tcp: {over_tcp}) is refused: {reply:?}"
        );
        assert_eq!(
            gslb.txt(&name).await,
            Vec::<String>::new(),
            "the deleted record stays deleted (tcp: {over_tcp})"
        );
    }

    let fresh = add(&gslb.key, &name, "token");
    assert!(gslb.send(&fresh, true).await.is_signed_noerror());
    let reply = gslb.send(&first_delete.with_new_id(), false).await;
    assert!(refused_replay(&reply), "a replayed delete: {reply:?}");
    assert_eq!(gslb.txt(&name).await, ["token"], "the fresh record stays");

    let old = sign_at(
        update(ZONE, &[], &[Rr::add(wire(&name), TXT, txt(&[b"old"]))]),
        &gslb.key,
        update_client::now() - 18 * 3600,
        u16::MAX,
    );
    let reply = gslb.send(&old, false).await;
    assert!(
        reply.rcode == 9 && reply.tsig_error == Some(18),
        "signed 18 h ago with fudge 65535: {reply:?}"
    );

    let second = update_client::now();
    for i in 0..10usize {
        let same_second = sign_at(
            update(
                ZONE,
                &[],
                &[Rr::add(
                    wire(&format!("_acme-challenge.s{i}.{ZONE}")),
                    TXT,
                    txt(&[b"x"]),
                )],
            ),
            &gslb.key,
            second,
            300,
        );
        let reply = gslb.send(&same_second, i.is_multiple_of(2)).await;
        assert!(
            reply.is_signed_noerror(),
            "update {i} of one second: {reply:?}"
        );
    }

    gslb.process.relaunch();
    gslb.process.wait_ready().await;
    let reply = gslb.send(&fresh.with_new_id(), false).await;
    assert!(
        refused_replay(&reply),
        "a replay after a restart: {reply:?}; log:\n{}",
        gslb.process.log()
    );
}

/// The log lines of `process` so far.
fn log_lines(process: &Process) -> usize {
    process.log().lines().count()
}

/// A bounded flood: unsigned and bad-signature updates over UDP from four
/// sockets and unsigned ones pipelined on four TCP connections, for
/// `duration` and at most `max_udp` datagrams per socket.
async fn flood(server: SocketAddr, key: &Key, duration: Duration, max_udp: usize) -> usize {
    let deadline = tokio::time::Instant::now() + duration;
    let wrong = key.with_other_secret();
    let unsigned = update(
        ZONE,
        &[],
        &[Rr::add(
            wire(&format!("_acme-challenge.f.{ZONE}")),
            TXT,
            txt(&[b"f"]),
        )],
    );
    let bad = sign(unsigned.clone(), &wrong).bytes;
    let mut tasks = JoinSet::new();
    for i in 0..4usize {
        let packet = if i.is_multiple_of(2) {
            unsigned.clone()
        } else {
            bad.clone()
        };
        tasks.spawn(async move {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("flood socket");
            let mut sent = 0;
            while sent < max_udp && tokio::time::Instant::now() < deadline {
                if socket.send_to(&packet, server).await.is_ok() {
                    sent += 1;
                }
                if sent.is_multiple_of(64) {
                    tokio::task::yield_now().await;
                }
            }
            sent
        });
    }
    for _ in 0..4 {
        let packet = unsigned.clone();
        tasks.spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::connect(server).await else {
                return 0;
            };
            let (mut read, mut write) = stream.into_split();
            // Drain the answers so the server never waits on this client.
            let drain = tokio::spawn(async move {
                let mut sink = vec![0; 65536];
                while let Ok(Ok(n)) = tokio::time::timeout_at(
                    deadline + Duration::from_secs(1),
                    tokio::io::AsyncReadExt::read(&mut read, &mut sink),
                )
                .await
                {
                    if n == 0 {
                        break;
                    }
                }
            });
            let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&packet);
            let batch = framed.repeat(32);
            let mut sent = 0;
            while sent < max_udp {
                match tokio::time::timeout_at(deadline, write.write_all(&batch)).await {
                    Ok(Ok(())) => sent += 32,
                    _ => break,
                }
            }
            drain.abort();
            sent
        });
    }
    let mut total = 0;
    while let Some(sent) = tasks.join_next().await {
        total += sent.unwrap_or(0);
    }
    total
}

/// Signed updates sent one after another over UDP (`tcp` false) or TCP,
/// `count` of them `gap` apart; what went wrong with each that failed.
async fn signed_updates(gslb: Arc<Gslb>, tcp: bool, count: usize, gap: Duration) -> Vec<String> {
    let mut failed = Vec::new();
    for i in 0..count {
        let name = format!("_acme-challenge.l{i}-{tcp}.{ZONE}");
        let signed = add(&gslb.key, &name, "ok");
        match exchange(gslb.addr(), &signed, &gslb.key, tcp).await {
            Some(reply) if reply.is_signed_noerror() => {}
            other => failed.push(format!("update {i} (tcp: {tcp}): {other:?}")),
        }
        tokio::time::sleep(gap).await;
    }
    failed
}

/// Unsigned and bad-signature updates for 3 s over UDP and TCP: the log
/// grows by a few summary lines, not a line per request, and every signed
/// update sent meanwhile (7 over UDP, 15 over TCP) is applied. The flood
/// overruns the kernel's receive buffer, which drops datagrams before
/// gslb sees them, so a UDP client retries as nsupdate does (the same
/// bytes, three tries a second apart).
#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_update_floods_neither_fill_the_log_nor_starve_signed_updates() {
    let gslb = Arc::new(Gslb::start());
    gslb.process.wait_ready().await;
    let before = log_lines(&gslb.process);
    let duration = Duration::from_secs(3);
    let started = Instant::now();
    let flooding = tokio::spawn({
        let (addr, key) = (gslb.addr(), gslb.key.clone());
        async move { flood(addr, &key, duration, 60_000).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (udp_failed, tcp_failed) = tokio::join!(
        signed_updates(gslb.clone(), false, 7, Duration::from_millis(300)),
        signed_updates(gslb.clone(), true, 15, Duration::from_millis(150)),
    );
    let sent = flooding.await.expect("flood task");
    let elapsed = started.elapsed().as_secs_f64();
    // Let the interval's summary line come out.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = gslb.process.log();
    let flood_lines: Vec<&str> = log
        .lines()
        .skip(before)
        .filter(|l| !l.contains("update applied"))
        .collect();
    let failed: Vec<String> = udp_failed.into_iter().chain(tcp_failed).collect();
    println!(
        "flood: {sent} messages in {elapsed:.1} s; {} log lines not about signed updates \
         ({:.1}/s); {} of 22 signed updates failed",
        flood_lines.len(),
        flood_lines.len() as f64 / elapsed,
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "signed updates during the flood:\n{}\nlog:\n{}",
        failed.join("\n"),
        log.lines().skip(before).collect::<Vec<_>>().join("\n")
    );
    assert!(
        flood_lines.len() <= 12,
        "{} log lines in {elapsed:.1} s of flood ({sent} messages); the first:\n{}",
        flood_lines.len(),
        flood_lines[..5.min(flood_lines.len())].join("\n")
    );
}

/// Prerequisites "RRset exists" and "RRset does not exist" and RRset
/// deletes carry no RDATA (RFC 2136 §2.4.1, §2.4.3, §2.5.2), also for
/// the types whose RDATA holds names: each is answered as the zone's
/// state says, and signed.
#[tokio::test(flavor = "multi_thread")]
async fn empty_rdata_prerequisites_and_rrset_deletes_are_answered_and_signed() {
    const NS: u16 = 2;
    const CNAME: u16 = 5;
    const SOA: u16 = 6;
    const PTR: u16 = 12;
    const MX: u16 = 15;
    const SRV: u16 = 33;
    let gslb = Gslb::start();
    gslb.process.wait_ready().await;
    let owner = wire(&format!("_acme-challenge.p.{ZONE}"));
    let alias = wire(&format!("alias.{ZONE}"));
    let mx = wire(&format!("mx.{ZONE}"));
    let apex = wire(ZONE);
    let change = Rr::add(owner.clone(), TXT, txt(&[b"p"]));
    let cases: Vec<(&str, Vec<Rr>, Vec<Rr>, u8)> = vec![
        (
            "CNAME exists",
            vec![Rr::exists(alias.clone(), CNAME)],
            vec![change.clone()],
            0,
        ),
        (
            "no CNAME",
            vec![Rr::absent(alias.clone(), CNAME)],
            vec![change.clone()],
            7,
        ),
        (
            "NS exists",
            vec![Rr::exists(apex.clone(), NS)],
            vec![change.clone()],
            0,
        ),
        (
            "SOA exists",
            vec![Rr::exists(apex.clone(), SOA)],
            vec![change.clone()],
            0,
        ),
        (
            "MX exists",
            vec![Rr::exists(mx.clone(), MX)],
            vec![change.clone()],
            0,
        ),
        (
            "no MX",
            vec![Rr::absent(mx.clone(), MX)],
            vec![change.clone()],
            7,
        ),
        (
            "PTR exists",
            vec![Rr::exists(owner.clone(), PTR)],
            vec![change.clone()],
            8,
        ),
        (
            "no SRV",
            vec![Rr::absent(owner.clone(), SRV)],
            vec![change.clone()],
            0,
        ),
        (
            "delete CNAME",
            vec![],
            vec![Rr::delete_rrset(alias.clone(), CNAME)],
            5,
        ),
        (
            "delete MX",
            vec![],
            vec![Rr::delete_rrset(mx.clone(), MX)],
            5,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, prerequisites, changes, want) in cases {
        for over_tcp in [false, true] {
            let signed = sign(update(ZONE, &prerequisites, &changes), &gslb.key);
            let reply = gslb.send(&signed, over_tcp).await;
            if reply.rcode != want || reply.tsig_error != Some(0) || !reply.signed {
                wrong.push(format!(
                    "{what} (tcp: {over_tcp}): rcode {}, tsig error {:?}, signed {}; want rcode {want}, signed",
                    reply.rcode, reply.tsig_error, reply.signed
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// nsupdate's `prereq yxrrset NAME CNAME` and `prereq nxrrset NAME CNAME`
/// get the answer the zone's state gives, in a response nsupdate
/// verifies.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(has_nsupdate),
    ignore = "needs nsupdate (apt-get install bind9-dnsutils)"
)]
async fn nsupdate_cname_existence_prerequisites_are_answered() {
    use crate::support::acme::{TsigAlgorithm, TsigKey};
    use crate::support::dns_update::{Update, nsupdate};
    let gslb = Gslb::start();
    gslb.process.wait_ready().await;
    let key = TsigKey {
        name: KEY.to_owned(),
        algorithm: TsigAlgorithm::HmacSha256,
        secret: gslb.key.base64(),
    };
    let owner = format!("_acme-challenge.ns.{ZONE}");
    let alias = format!("alias.{ZONE}");
    let add = Update::add(ZONE, Some(&key), &owner, "TXT", "\"n\"");
    let exists = add.clone().requiring(&format!("yxrrset {alias} CNAME"));
    assert_eq!(nsupdate(gslb.addr(), &exists).await.to_string(), "NOERROR");
    let absent = add.requiring(&format!("nxrrset {alias} CNAME"));
    assert_eq!(nsupdate(gslb.addr(), &absent).await.to_string(), "YXRRSET");
}

/// 18 TXT records of about 4 KB at one name: the adds are refused
/// (REFUSED, signed) once the name would hold more than a TCP answer can
/// carry, and what was accepted is answered whole over TCP.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_cannot_grow_past_what_a_tcp_answer_holds() {
    let gslb = Gslb::start();
    gslb.process.wait_ready().await;
    let name = format!("_acme-challenge.big.{ZONE}");
    let mut rcodes = Vec::new();
    for i in 0..18u8 {
        let strings: Vec<Vec<u8>> = (0..16u8)
            .map(|s| {
                let mut text = vec![b'a' + (i % 26); 250];
                text[0] = b'a' + s;
                text
            })
            .collect();
        let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
        let signed = sign(
            update(ZONE, &[], &[Rr::add(wire(&name), TXT, txt(&refs))]),
            &gslb.key,
        );
        let reply = gslb.send(&signed, true).await;
        assert!(reply.signed, "add {i}: {reply:?}");
        rcodes.push(reply.rcode);
    }
    let accepted = rcodes.iter().take_while(|&&r| r == 0).count();
    let response = tcp(gslb.addr(), &query(&name, RecordType::TXT)).await;
    let answered = txt_records(&response.answers).len();
    assert!(
        !response.metadata.truncation && answered == accepted,
        "over TCP: truncated {}, {answered} records of the {accepted} accepted (rcodes {rcodes:?})",
        response.metadata.truncation
    );
    assert!(
        (1..18).contains(&accepted) && rcodes[accepted..].iter().all(|&r| r == 5),
        "the adds past the cap are REFUSED: rcodes {rcodes:?}"
    );
}

/// Names with a label holding a dot are refused, signed: the text form
/// gslb serves and saves would read them as other names.
#[tokio::test(flavor = "multi_thread")]
async fn a_label_with_a_dot_is_refused() {
    let gslb = Gslb::start();
    gslb.process.wait_ready().await;
    let dotted = labels(&["_acme-challenge", "a.b", "dyn", "example", "test"]);
    let signed = sign(
        update(ZONE, &[], &[Rr::add(dotted, TXT, txt(&[b"d"]))]),
        &gslb.key,
    );
    let reply = gslb.send(&signed, false).await;
    assert!(
        reply.rcode == 5 && reply.signed,
        "a dotted label: {reply:?}"
    );
    assert_eq!(
        gslb.txt(&format!("_acme-challenge.a.b.{ZONE}")).await,
        Vec::<String>::new()
    );
}

/// Update throughput with a state file, one client after another and 16
/// at once; prints updates per second. Not a pass/fail check: run with
/// `--ignored --nocapture` to measure.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn update_throughput() {
    let gslb = Arc::new(Gslb::start());
    gslb.process.wait_ready().await;
    let sequential = 200usize;
    let started = Instant::now();
    // Adds and deletes by turns, so the key stays under its record cap.
    let change = |key: &Key, name: &str, i: usize| {
        if i.is_multiple_of(2) {
            add(key, name, "t")
        } else {
            delete(key, name, "t")
        }
    };
    for i in 0..sequential {
        let signed = change(&gslb.key, &format!("_acme-challenge.q.{ZONE}"), i);
        assert!(gslb.send(&signed, true).await.is_signed_noerror());
    }
    let seq_rate = sequential as f64 / started.elapsed().as_secs_f64();
    let (clients, each) = (16usize, 25);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for c in 0..clients {
        let g = gslb.clone();
        tasks.spawn(async move {
            for i in 0..each {
                let signed = change(&g.key, &format!("_acme-challenge.c{c}.{ZONE}"), i);
                let reply = g.send(&signed, c.is_multiple_of(2)).await;
                assert!(reply.is_signed_noerror(), "{reply:?}");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client");
    }
    let par_rate = (clients * each) as f64 / started.elapsed().as_secs_f64();
    println!(
        "update throughput with a state file: sequential {seq_rate:.0}/s, {clients} clients at once {par_rate:.0}/s"
    );
}
