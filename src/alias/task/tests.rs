use std::{
    net::IpAddr,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use tokio::sync::mpsc;

use super::*;
use crate::alias::lookup::Resolvers;
use crate::alias::responder::{Entry, Responder};

fn name(text: &str) -> Name {
    Name::parse(text).expect("test name")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Answers from a table the test edits; records when each name was asked.
#[derive(Default)]
struct Script {
    answers: Mutex<HashMap<Name, Result<Answer, String>>>,
    asked: Mutex<Vec<(Name, Instant)>>,
    /// How long each resolution takes.
    delay: Duration,
    running: AtomicUsize,
    most_running: AtomicUsize,
}

impl Script {
    fn set(&self, host: &str, result: Result<Answer, String>) {
        self.answers.lock().insert(name(host), result);
    }

    fn asked(&self, host: &str) -> Vec<Instant> {
        let host = name(host);
        let asked = self.asked.lock();
        asked
            .iter()
            .filter(|(n, _)| *n == host)
            .map(|(_, at)| *at)
            .collect()
    }
}

impl Upstream for Arc<Script> {
    async fn resolve(&self, host: &Name) -> Result<Answer, String> {
        self.asked.lock().push((host.clone(), Instant::now()));
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let answers = self.answers.lock();
        answers
            .get(host)
            .cloned()
            .unwrap_or_else(|| Err("NXDOMAIN".into()))
    }
}

/// Batches the refresher reports, as the writer would receive them.
struct Recorded(mpsc::UnboundedSender<Vec<(Name, HostAddrs)>>);

impl Sink for Recorded {
    async fn resolved(&self, changes: Vec<(Name, HostAddrs)>) {
        let _ = self.0.send(changes);
    }
}

struct Running {
    script: Arc<Script>,
    reports: mpsc::UnboundedReceiver<Vec<(Name, HostAddrs)>>,
    names: watch::Sender<Arc<[Name]>>,
    board: Arc<AliasBoard>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(script: Script, policy: AliasPolicy, hosts: &[&str]) -> Self {
        let script = Arc::new(script);
        let (tx, reports) = mpsc::unbounded_channel();
        let refresher = Refresher::new(script.clone(), Recorded(tx), policy);
        let board = refresher.board();
        let (names, rx) = watch::channel(hosts.iter().map(|h| name(h)).collect::<Arc<[Name]>>());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(refresher.run(rx, cancel.clone()));
        Self {
            script,
            reports,
            names,
            board,
            cancel,
            task,
        }
    }

    /// The next report about `host`, skipping others.
    async fn next_view(&mut self, host: &str) -> HostAddrs {
        let host = name(host);
        loop {
            let batch = self.reports.recv().await.expect("the refresher runs");
            if let Some((_, view)) = batch.into_iter().find(|(n, _)| *n == host) {
                return view;
            }
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("the refresher stops cleanly");
    }
}

fn answer(addrs: &[&str], ttl: u64) -> Result<Answer, String> {
    Ok(Answer {
        addrs: addrs.iter().map(|a| ip(a)).collect(),
        ttl: secs(ttl),
    })
}

#[tokio::test(start_paused = true)]
async fn names_are_resolved_at_once_then_on_their_ttl() {
    let script = Script::default();
    script.set("lb.example.test.", answer(&["192.0.2.1"], 60));
    let t0 = Instant::now();
    let mut run = Running::start(script, AliasPolicy::default(), &["lb.example.test."]);
    let view = run.next_view("lb.example.test.").await;
    assert_eq!(&*view.addrs, &[ip("192.0.2.1")]);
    assert!(view.usable);
    assert_eq!(view.expires, Some(t0 + secs(60)));
    tokio::task::yield_now().await;
    assert!(
        run.board.ready(),
        "ready once the first attempt is published"
    );
    run.script
        .set("lb.example.test.", answer(&["192.0.2.2"], 60));
    let view = run.next_view("lb.example.test.").await;
    assert_eq!(&*view.addrs, &[ip("192.0.2.2")]);
    let asked = run.script.asked("lb.example.test.");
    assert_eq!(asked.len(), 2);
    assert_eq!(
        asked[1] - asked[0],
        secs(60),
        "refreshed when the TTL ran out"
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn refreshes_are_clamped_to_min_and_max_refresh() {
    let script = Script::default();
    script.set("short.example.test.", answer(&["192.0.2.1"], 1));
    script.set("long.example.test.", answer(&["192.0.2.2"], 86_400));
    let run = Running::start(
        script,
        AliasPolicy::default(),
        &["short.example.test.", "long.example.test."],
    );
    tokio::time::sleep(secs(601)).await;
    let gaps = |host: &str| -> Vec<Duration> {
        let asked = run.script.asked(host);
        asked.windows(2).map(|w| w[1] - w[0]).collect()
    };
    let short = gaps("short.example.test.");
    assert!(short.len() >= 100, "about every 5 s: {}", short.len());
    assert!(short.iter().all(|g| *g == secs(5)), "{short:?}");
    assert_eq!(gaps("long.example.test."), [secs(300), secs(300)]);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_name_keeps_its_addresses_until_max_stale() {
    let script = Script::default();
    script.set("lb.example.test.", answer(&["192.0.2.1"], 10));
    let policy = AliasPolicy {
        max_stale: secs(120),
        ..AliasPolicy::default()
    };
    let t0 = Instant::now();
    let mut run = Running::start(script, policy, &["lb.example.test."]);
    assert!(run.next_view("lb.example.test.").await.usable);
    run.script.set("lb.example.test.", Err("timed out".into()));
    let view = run.next_view("lb.example.test.").await;
    assert!(!view.usable, "expired");
    assert_eq!(&*view.addrs, &[ip("192.0.2.1")]);
    assert_eq!(Instant::now() - t0, secs(130), "TTL 10 s + max_stale 120 s");
    let status = run
        .board
        .status(&name("lb.example.test."))
        .expect("on the board");
    assert_eq!(status.freshness, crate::alias::Freshness::Expired);
    assert_eq!(status.last_error.as_deref(), Some("timed out"));
    assert!(
        run.script.asked("lb.example.test.").len() >= 6,
        "retried meanwhile, backing off"
    );
    run.script
        .set("lb.example.test.", answer(&["192.0.2.1"], 10));
    assert!(run.next_view("lb.example.test.").await.usable, "recovers");
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn names_follow_the_table() {
    let script = Script::default();
    script.set("a.example.test.", answer(&["192.0.2.1"], 30));
    script.set("b.example.test.", answer(&["192.0.2.2"], 30));
    let mut run = Running::start(script, AliasPolicy::default(), &["a.example.test."]);
    run.next_view("a.example.test.").await;
    run.names
        .send(Arc::from(vec![name("b.example.test.")]))
        .expect("the refresher follows");
    let view = run.next_view("b.example.test.").await;
    assert_eq!(&*view.addrs, &[ip("192.0.2.2")]);
    tokio::time::sleep(secs(120)).await;
    assert_eq!(
        run.script.asked("a.example.test.").len(),
        1,
        "a is forgotten"
    );
    assert!(run.board.status(&name("a.example.test.")).is_none());
    assert!(run.script.asked("b.example.test.").len() >= 4);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn resolutions_in_flight_are_bounded() {
    let script = Script {
        delay: secs(1),
        ..Script::default()
    };
    let hosts: Vec<String> = (0..200).map(|i| format!("lb{i}.example.test.")).collect();
    for host in &hosts {
        script.set(host, answer(&["192.0.2.1"], 600));
    }
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let run = Running::start(script, AliasPolicy::default(), &refs);
    tokio::time::sleep(secs(10)).await;
    assert_eq!(
        run.script.most_running.load(Ordering::SeqCst),
        MAX_IN_FLIGHT
    );
    assert!(
        hosts.iter().all(|h| run.script.asked(h).len() == 1),
        "all resolved once"
    );
    assert!(run.board.ready());
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_table_without_names_is_ready_at_once() {
    let run = Running::start(Script::default(), AliasPolicy::default(), &[]);
    tokio::task::yield_now().await;
    assert!(run.board.ready());
    run.stop().await;
}

#[tokio::test]
async fn changes_at_a_real_dns_server_arrive_within_the_refresh() {
    let dns = Responder::start().await;
    dns.set("lb.example.test.", Entry::Addrs(vec![ip("192.0.2.1")], 1));
    let policy = AliasPolicy {
        min_refresh: Duration::from_millis(200),
        ..AliasPolicy::default()
    };
    let (tx, mut reports) = mpsc::unbounded_channel();
    let refresher = Refresher::new(
        Resolvers::new(&[dns.addr]).expect("resolvers"),
        Recorded(tx),
        policy,
    );
    let (_names, rx) = watch::channel(Arc::from(vec![name("lb.example.test.")]));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(refresher.run(rx, cancel.clone()));
    let first = reports.recv().await.expect("first report");
    assert_eq!(&*first[0].1.addrs, &[ip("192.0.2.1")]);
    dns.set("lb.example.test.", Entry::Addrs(vec![ip("192.0.2.2")], 1));
    let changed = tokio::time::timeout(secs(10), async {
        loop {
            let batch = reports.recv().await.expect("reports");
            if batch.iter().any(|(_, v)| *v.addrs == [ip("192.0.2.2")]) {
                return;
            }
        }
    })
    .await;
    assert!(changed.is_ok(), "the new address arrived");
    dns.silence(true);
    cancel.cancel();
    task.await.expect("stops");
}

/// Collects formatted log lines, for tests that count them.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn containing(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock())
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

#[tokio::test(start_paused = true)]
async fn unusable_upstream_addresses_are_dropped_and_logged_once_per_change() {
    let lines = Lines::default();
    let writer = lines.clone();
    let _log = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    const DROPPED: &str = "no client can connect to (unspecified";
    let script = Script::default();
    let host = "lb.example.test.";
    script.set(host, answer(&["0.0.0.0", "192.0.2.1", "ff02::1"], 5));
    let mut run = Running::start(script, AliasPolicy::default(), &[host]);
    let view = run.next_view(host).await;
    assert_eq!(&*view.addrs, &[ip("192.0.2.1")]);
    tokio::time::sleep(secs(30)).await;
    assert!(run.script.asked(host).len() >= 6, "refreshed meanwhile");
    assert_eq!(lines.containing(DROPPED), 1, "once, not per refresh");

    run.script.set(host, answer(&["0.0.0.0", "192.0.2.1"], 5));
    tokio::time::sleep(secs(30)).await;
    assert_eq!(lines.containing(DROPPED), 2, "a change is logged");

    // Nothing usable left: a failure, the last usable addresses stay.
    run.script.set(host, answer(&["0.0.0.0"], 5));
    tokio::time::sleep(secs(30)).await;
    let status = run.board.status(&name(host)).expect("on the board");
    assert_eq!(
        status.last_error.as_deref(),
        Some("resolved only to addresses no client can connect to: 0.0.0.0")
    );
    assert_eq!(status.addresses.len(), 1);
    assert_eq!(status.addresses[0].0, ip("192.0.2.1"));
    assert_eq!(lines.containing(DROPPED), 2);

    run.script.set(host, answer(&["192.0.2.2"], 5));
    // Earlier reports (each answer moves the expiry) are still queued.
    while *run.next_view(host).await.addrs != [ip("192.0.2.2")] {}
    assert_eq!(
        lines.containing("no longer resolves to unusable addresses"),
        1
    );
    run.stop().await;
}
