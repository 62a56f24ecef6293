//! The prober's scheduling, on a paused clock, with a stand-in for the
//! network: exact and repeatable, however busy the machine is.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize},
};

use tokio::sync::mpsc;

use super::*;
use crate::model::ProbeKind;
use crate::table::writer::Command;

/// Every target but `healthy` hangs until the check's timeout; `healthy`
/// answers at once, and refuses at once after `stopped`.
#[derive(Debug, Default)]
struct Network {
    healthy: Option<IpAddr>,
    stopped: AtomicBool,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    hung_probes: AtomicU64,
}

impl Dial for Arc<Network> {
    fn probe(&self, check: &HealthCheck, addr: IpAddr) -> impl Future<Output = Finding> + Send {
        let timeout = check.timeout;
        async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            let finding = if Some(addr) == self.healthy {
                let passed = !self.stopped.load(Ordering::SeqCst);
                Finding {
                    passed,
                    latency: Duration::ZERO,
                    error: (!passed).then(|| "connect: Connection refused".to_owned()),
                }
            } else {
                self.hung_probes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(timeout).await;
                Finding {
                    passed: false,
                    latency: timeout,
                    error: Some("timed out".to_owned()),
                }
            };
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            finding
        }
    }
}

fn check() -> Arc<HealthCheck> {
    Arc::new(HealthCheck {
        name: "ingress".to_owned(),
        kind: ProbeKind::Tcp,
        port: 80,
        path: "/".to_owned(),
        host: None,
        expect_status: vec![(200, 399)],
        body_contains: None,
        insecure_skip_verify: false,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        rise: 2,
        fall: 2,
    })
}

/// Plays the writer: acknowledges every flip, and passes on those of
/// `watched` with the (paused) time they arrived.
fn builder_for(watched: IpAddr) -> (WriterHandle, mpsc::UnboundedReceiver<(bool, Instant)>) {
    let (handle, mut commands) = WriterHandle::channel(64);
    let (flips_tx, flips) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(command) = commands.recv().await {
            if let Command::Health { probe, up, done } = command {
                if probe.addr == watched {
                    let _ = flips_tx.send((up, Instant::now()));
                }
                let _ = done.send(());
            }
        }
    });
    (handle, flips)
}

/// 2,000 targets that hang until their timeout need
/// eight times the 256 slots given here. With one first-come pool every
/// probe queued behind them (hung targets × timeout / slots, about 8 s a
/// round), so a healthy target that stopped was noticed after about 11 s;
/// its failover must take its own interval × fall + timeout.
#[tokio::test(start_paused = true)]
async fn hung_targets_do_not_delay_another_targets_failover() {
    const HUNG: u32 = 2_000;
    const SLOTS: usize = 256;
    let check = check();
    let healthy = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let network = Arc::new(Network {
        healthy: Some(healthy),
        ..Network::default()
    });
    let (writer, mut flips) = builder_for(healthy);
    let metrics = Arc::new(Metrics::default());
    let mut prober = Prober::with_dial(writer, metrics.clone(), network.clone(), SLOTS);
    let probes: Vec<Probe> = (0..HUNG)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
        .chain([healthy])
        .map(|addr| Probe {
            check: check.clone(),
            addr,
        })
        .collect();
    prober.sync(&probes);

    let (up, _) = flips.recv().await.expect("first result");
    assert!(up, "the healthy target starts up");
    // Long enough for a first-come queue to build up behind the hung ones.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(flips.try_recv().is_err(), "it stayed up meanwhile");

    let stopped_at = Instant::now();
    network.stopped.store(true, Ordering::SeqCst);
    let (up, at) = tokio::time::timeout(Duration::from_secs(300), flips.recv())
        .await
        .expect("the stop is noticed")
        .expect("the prober runs");
    assert!(!up);
    let detection = at - stopped_at;
    // Interval × fall + timeout, and the ±10% jitter of the intervals.
    let bound = check.interval.mul_f64(1.1) * check.fall + check.timeout;
    assert!(
        detection <= bound,
        "the stop took {detection:?} to notice, more than {bound:?}"
    );

    let most = network.most_in_flight.load(Ordering::SeqCst);
    assert!(
        most <= SLOTS,
        "{most} probes in flight, over the {SLOTS} slots"
    );
    let hung = network.hung_probes.load(Ordering::SeqCst);
    assert!(
        hung >= 2 * u64::from(HUNG),
        "the hung targets kept being probed, within their half: {hung} probes"
    );
    let text = crate::admin::prometheus::render(&metrics, Arc::new(empty_snapshot()), true);
    let waits = text
        .lines()
        .find_map(|line| line.strip_prefix("gslb_probe_slot_waits_total{class=\"down\"} "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(waits.is_some_and(|n| n > 0), "waits are counted:\n{text}");
}

/// A snapshot to render metrics with.
fn empty_snapshot() -> crate::table::Snapshot {
    crate::table::Snapshot {
        generation: 1,
        table: crate::table::compile::table_from_yaml(
            "server: { dns_listen: [\"127.0.0.1:0\"] }\nzones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n",
        ),
        counters: Default::default(),
        health: Default::default(),
        geo: None,
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Default::default(),
    }
}

fn probe_of(check: &Arc<HealthCheck>, addr: IpAddr) -> Probe {
    Probe {
        check: check.clone(),
        addr,
    }
}

/// A check, a healthy target, a hung one, and the network they are on.
fn one_healthy_one_hung() -> (Arc<HealthCheck>, IpAddr, IpAddr, Arc<Network>) {
    let healthy = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let network = Arc::new(Network {
        healthy: Some(healthy),
        ..Network::default()
    });
    (
        check(),
        healthy,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        network,
    )
}

/// The board shows each probe's last result, and readiness waits for the
/// first result of every probe, the slow ones included.
#[tokio::test(start_paused = true)]
async fn the_board_shows_results_and_ready_waits_for_every_first_result() {
    let (check, healthy, hung, network) = one_healthy_one_hung();
    let (writer, _flips) = builder_for(healthy);
    let mut prober = Prober::with_dial(writer, Arc::new(Metrics::default()), network, 16);
    let board = prober.board();
    prober.sync(&[probe_of(&check, healthy), probe_of(&check, hung)]);
    assert!(!board.ready(), "nothing probed yet");
    let fresh = board.get(&probe_of(&check, hung)).expect("listed at once");
    assert_eq!((fresh.up, fresh.last_probe), (None, None));

    // First probes are spread over one interval; the hung one then takes
    // its timeout.
    tokio::time::sleep(check.interval + check.timeout + Duration::from_millis(10)).await;
    assert!(board.ready(), "every probe has a first result");
    let good = board.get(&probe_of(&check, healthy)).expect("listed");
    assert!(good.last_probe.is_some() && good.last_error.is_none());
    let bad = board.get(&probe_of(&check, hung)).expect("listed");
    assert_eq!(bad.last_error.as_deref(), Some("timed out"));
    assert_eq!(bad.latency, Some(check.timeout));
}

/// A probe a reload removed is stopped, leaves the board, and is not
/// waited for by readiness.
#[tokio::test(start_paused = true)]
async fn a_removed_probe_stops_and_leaves_the_board() {
    let (check, healthy, hung, network) = one_healthy_one_hung();
    let (writer, _flips) = builder_for(healthy);
    let metrics = Arc::new(Metrics::default());
    let mut prober = Prober::with_dial(writer, metrics, network.clone(), 16);
    let board = prober.board();
    prober.sync(&[probe_of(&check, healthy), probe_of(&check, hung)]);
    // Removed before its first result: readiness must not wait for it.
    prober.sync(&[probe_of(&check, healthy)]);
    assert!(board.get(&probe_of(&check, hung)).is_none());
    tokio::time::sleep(check.interval * 5).await;
    assert!(board.ready(), "the remaining probe's result is enough");
    assert_eq!(
        network.hung_probes.load(Ordering::SeqCst),
        0,
        "the removed probe never ran"
    );
}
