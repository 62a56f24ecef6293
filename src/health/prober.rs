//! The prober: one task per probe (distinct check and address), started and
//! stopped as reloads change the table, reporting only state flips to the
//! table builder.
//!
//! Start times are spread over the first interval and every interval is
//! jittered by ±10%, so thousands of targets do not probe in lockstep; a
//! semaphore bounds how many probes run at once. A probe that survives a
//! reload keeps its task and its rise/fall counts, so its state does not
//! fall back to "unknown".

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use rand::RngExt;
use tokio::{
    sync::{Semaphore, watch},
    task::JoinHandle,
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::hysteresis::Hysteresis;
use super::probe::{self, Clients, Finding};
use crate::metrics::Metrics;
use crate::table::{Probe, Table, builder::BuilderHandle};

/// Probes in flight at once, across all targets.
pub const MAX_CONCURRENT_PROBES: usize = 512;

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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Status stays readable even if a probe task panicked mid-update.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StatusBoard {
    /// The status of `probe`, if it is being probed.
    pub fn get(&self, probe: &Probe) -> Option<ProbeStatus> {
        let entry = lock(&self.probes).get(probe).cloned()?;
        let status = lock(&entry).clone();
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
#[derive(Clone)]
struct Shared {
    clients: Clients,
    builder: BuilderHandle,
    metrics: Arc<Metrics>,
    board: Arc<StatusBoard>,
    permits: Arc<Semaphore>,
}

/// Owns the probe tasks.
pub struct Prober {
    shared: Shared,
    running: HashMap<Probe, Running>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("running", &self.running.len())
            .finish()
    }
}

impl Prober {
    /// A prober reporting flips to `builder`.
    pub fn new(builder: BuilderHandle, metrics: Arc<Metrics>) -> Result<Self, probe::ClientError> {
        Ok(Self {
            shared: Shared {
                clients: Clients::new()?,
                builder,
                metrics,
                board: Arc::new(StatusBoard::default()),
                permits: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
            },
            running: HashMap::new(),
        })
    }

    /// The status board, for the admin API.
    pub fn board(&self) -> Arc<StatusBoard> {
        self.shared.board.clone()
    }

    /// Follows `tables` until `cancel` fires.
    pub async fn run(mut self, mut tables: watch::Receiver<Arc<Table>>, cancel: CancellationToken) {
        let table = tables.borrow_and_update().clone();
        self.sync(&table);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = tables.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let table = tables.borrow_and_update().clone();
                    self.sync(&table);
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
    fn sync(&mut self, table: &Table) {
        let board = &self.shared.board;
        let wanted: std::collections::HashSet<&Probe> = table.probes.iter().collect();
        let gone: Vec<Probe> = self
            .running
            .keys()
            .filter(|p| !wanted.contains(p))
            .cloned()
            .collect();
        let mut statuses = lock(&board.probes);
        for probe in gone {
            if let Some(running) = self.running.remove(&probe) {
                running.cancel.cancel();
                running.task.abort();
            }
            self.shared
                .metrics
                .forget_probe(&probe.check.name, probe.addr);
            if let Some(status) = statuses.remove(&probe)
                && lock(&status).last_probe.is_none()
            {
                board.first_result(); // never will: stop waiting for it
            }
        }
        let mut started = 0;
        for probe in table.probes.iter() {
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

async fn run_probe(
    probe: Probe,
    status: Arc<Mutex<ProbeStatus>>,
    shared: Shared,
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
        let finding = {
            let Ok(_permit) = shared.permits.acquire().await else {
                return; // the semaphore is never closed
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                finding = probe::probe(&shared.clients, &check, probe.addr) => finding,
            }
        };
        let flip = hysteresis.record(finding.passed);
        let first_result = record(&status, &finding, hysteresis.state());
        metrics.observe(&finding, hysteresis.state());
        if let Some(up) = flip {
            report_flip(&probe, up, first_result, &finding);
            shared.builder.health(probe.clone(), up).await;
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
    let mut status = lock(status);
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
