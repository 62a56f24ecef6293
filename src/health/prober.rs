//! The prober: one task per probe (distinct check and address), started and
//! stopped as reloads change the table, reporting only state flips to the
//! table writer.
//!
//! Start times are spread over the first interval and every interval is
//! jittered by ±10%, so thousands of targets do not probe in lockstep.
//! [`ProbeSlots`] bound how many probes hold a socket at once, in a way that
//! targets already down (and hanging until their timeout) cannot hold the
//! slots that serving targets need: a serving target's failover takes its
//! own interval × fall + timeout, whatever the others do. A probe that
//! survives a reload keeps its task and its rise/fall counts, so its state
//! does not fall back to "unknown".

use parking_lot::Mutex;
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use rand::RngExt;
use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::hysteresis::Hysteresis;
use super::probe::{self, Clients, Finding};
use super::slots::{ProbeSlots, SlotClass};
use crate::metrics::Metrics;
use crate::model::HealthCheck;
use crate::table::{Probe, writer::WriterHandle};

/// Probes in flight at once, across all targets: the file descriptors
/// probing may hold (each probe one socket), which the process keeps in
/// reserve for it. At most half go to targets already down
/// ([`ProbeSlots`]), so serving targets always have 1,024 slots: each
/// probe holds one for its own latency, so that covers, e.g., 1,024
/// targets turning hung at once, or 100,000 answering in 50 ms every 5 s.
pub const MAX_CONCURRENT_PROBES: usize = 2048;

/// How the prober runs one probe: over the network ([`Clients`]), or a
/// stand-in in tests of the scheduling.
pub trait Dial: Send + Sync + 'static {
    /// Probes `addr` with `check`, bounded by the check's timeout.
    fn probe(&self, check: &HealthCheck, addr: IpAddr) -> impl Future<Output = Finding> + Send;
}

impl Dial for Clients {
    fn probe(&self, check: &HealthCheck, addr: IpAddr) -> impl Future<Output = Finding> + Send {
        probe::probe(self, check, addr)
    }
}

/// What is known about one probe, for `/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeStatus {
    /// Current state; `None` before the first result.
    pub up: Option<bool>,
    /// When the last probe finished.
    pub last_probe: Option<SystemTime>,
    /// How long the last probe took.
    pub latency: Option<Duration>,
    /// Why the last failing probe failed; cleared by a pass.
    pub last_error: Option<String>,
}

/// The prober's public record: per-probe status and readiness. Writes are
/// the prober's own; everyone else reads.
#[derive(Debug, Default)]
pub struct StatusBoard {
    probes: Mutex<HashMap<Probe, Arc<Mutex<ProbeStatus>>>>,
    /// Probes that have not reported their first result yet.
    unprobed: AtomicUsize,
    /// Latched once the first round over all targets is done.
    ready: AtomicBool,
}

impl StatusBoard {
    /// The status of `probe`, if it is being probed.
    pub fn get(&self, probe: &Probe) -> Option<ProbeStatus> {
        let entry = self.probes.lock().get(probe).cloned()?;
        let status = entry.lock().clone();
        Some(status)
    }

    /// Whether the first round of probes has finished.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn first_result(&self) {
        if self.unprobed.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ready.store(true, Ordering::Release);
            info!("first round of health checks done");
        }
    }
}

/// A running probe task.
struct Running {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// What every probe task shares.
struct Shared<D> {
    dial: Arc<D>,
    writer: WriterHandle,
    metrics: Arc<Metrics>,
    board: Arc<StatusBoard>,
    slots: Arc<ProbeSlots>,
}

impl<D> Clone for Shared<D> {
    fn clone(&self) -> Self {
        Self {
            dial: self.dial.clone(),
            writer: self.writer.clone(),
            metrics: self.metrics.clone(),
            board: self.board.clone(),
            slots: self.slots.clone(),
        }
    }
}

/// Owns the probe tasks.
pub struct Prober<D = Clients> {
    shared: Shared<D>,
    running: HashMap<Probe, Running>,
}

impl<D> std::fmt::Debug for Prober<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("running", &self.running.len())
            .finish()
    }
}

impl Prober {
    /// A prober reporting flips to `writer`; its HTTP probes name the
    /// instance `peering` names.
    pub fn new(
        writer: WriterHandle,
        metrics: Arc<Metrics>,
        peering: watch::Receiver<Arc<crate::model::Peering>>,
    ) -> Result<Self, probe::ClientError> {
        Ok(Self::with_dial(
            writer,
            metrics,
            Clients::new(peering)?,
            MAX_CONCURRENT_PROBES,
        ))
    }
}

impl<D: Dial> Prober<D> {
    /// A prober that probes through `dial`, with `slots` probes in flight
    /// at most.
    pub fn with_dial(writer: WriterHandle, metrics: Arc<Metrics>, dial: D, slots: usize) -> Self {
        Self {
            shared: Shared {
                dial: Arc::new(dial),
                writer,
                metrics,
                board: Arc::new(StatusBoard::default()),
                slots: Arc::new(ProbeSlots::new(slots)),
            },
            running: HashMap::new(),
        }
    }

    /// The status board, for the admin API.
    pub fn board(&self) -> Arc<StatusBoard> {
        self.shared.board.clone()
    }

    /// Follows the probe list (the table's probes and those of resolved
    /// hostname targets) until `cancel` fires.
    pub async fn run(
        mut self,
        mut probes: watch::Receiver<Arc<[Probe]>>,
        cancel: CancellationToken,
    ) {
        let list = probes.borrow_and_update().clone();
        self.sync(&list);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = probes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let list = probes.borrow_and_update().clone();
                    self.sync(&list);
                }
            }
        }
        for (_, running) in self.running.drain() {
            running.cancel.cancel();
            let _ = running.task.await;
        }
        debug!("prober stopped");
    }

    /// Starts tasks for new probes and stops those of removed ones.
    fn sync(&mut self, probes: &[Probe]) {
        let board = &self.shared.board;
        let wanted: std::collections::HashSet<&Probe> = probes.iter().collect();
        let gone: Vec<Probe> = self
            .running
            .keys()
            .filter(|p| !wanted.contains(p))
            .cloned()
            .collect();
        let mut statuses = board.probes.lock();
        for probe in gone {
            if let Some(running) = self.running.remove(&probe) {
                running.cancel.cancel();
                running.task.abort();
            }
            self.shared
                .metrics
                .forget_probe(&probe.check.name, probe.addr);
            if let Some(status) = statuses.remove(&probe)
                && status.lock().last_probe.is_none()
            {
                board.first_result(); // never will: stop waiting for it
            }
        }
        let mut started = 0;
        for probe in probes {
            if self.running.contains_key(probe) {
                continue;
            }
            let status = Arc::new(Mutex::new(ProbeStatus::default()));
            statuses.insert(probe.clone(), status.clone());
            board.unprobed.fetch_add(1, Ordering::AcqRel);
            let cancel = CancellationToken::new();
            let task = tokio::spawn(run_probe(
                probe.clone(),
                status,
                self.shared.clone(),
                cancel.clone(),
            ));
            self.running.insert(probe.clone(), Running { cancel, task });
            started += 1;
        }
        drop(statuses);
        if self.running.is_empty() && !board.ready() {
            board.ready.store(true, Ordering::Release);
        }
        info!(
            probes = self.running.len(),
            started, "health checks synced with the table"
        );
    }
}

/// A duration within ±10% of `interval`.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.9..1.1))
}

async fn run_probe<D: Dial>(
    probe: Probe,
    status: Arc<Mutex<ProbeStatus>>,
    shared: Shared<D>,
    cancel: CancellationToken,
) {
    let check = probe.check.clone();
    let mut hysteresis = Hysteresis::new(check.rise, check.fall);
    let metrics = shared.metrics.probe_handles(&check.name, probe.addr);
    // Spread first probes over one interval.
    let first = check.interval.mul_f64(rand::rng().random_range(0.0..1.0));
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = tokio::time::sleep(first) => {}
    }
    loop {
        let started = Instant::now();
        let class = SlotClass::of(hysteresis.state());
        let finding = {
            let acquired = tokio::select! {
                _ = cancel.cancelled() => return,
                acquired = shared.slots.acquire(class) => acquired,
            };
            let Some(acquired) = acquired else {
                return; // the slots are never closed
            };
            if acquired.waited {
                shared.metrics.probe_slot_waited(match class {
                    SlotClass::Serving => "serving",
                    SlotClass::Down => "down",
                });
            }
            let _slot = acquired.slot;
            tokio::select! {
                _ = cancel.cancelled() => return,
                finding = shared.dial.probe(&check, probe.addr) => finding,
            }
        };
        let flip = hysteresis.record(finding.passed);
        let first_result = record(&status, &finding, hysteresis.state());
        metrics.observe(finding.passed, finding.latency, hysteresis.state());
        if let Some(up) = flip {
            report_flip(&probe, up, first_result, &finding);
            shared.writer.health(probe.clone(), up).await;
        }
        if first_result {
            shared.board.first_result();
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(started + jittered(check.interval)) => {}
        }
    }
}

/// Stores a finding and the state after it; returns whether it was the
/// probe's first.
fn record(status: &Mutex<ProbeStatus>, finding: &Finding, up: Option<bool>) -> bool {
    let mut status = status.lock();
    let first = status.last_probe.is_none();
    status.last_probe = Some(SystemTime::now());
    status.latency = Some(finding.latency);
    status.up = up;
    if finding.passed {
        status.last_error = None;
    } else {
        status.last_error.clone_from(&finding.error);
    }
    first
}

fn report_flip(probe: &Probe, up: bool, first: bool, finding: &Finding) {
    let check = probe.check.name.as_str();
    let target = probe.addr;
    let error = finding.error.as_deref().unwrap_or("");
    match (up, first) {
        (true, true) => debug!(check, %target, "target up"),
        (true, false) => info!(check, %target, "target up"),
        (false, _) => warn!(check, %target, error, "target down"),
    }
}

#[cfg(test)]
mod tests;
