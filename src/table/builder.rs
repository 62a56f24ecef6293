//! The table builder: the one task that writes snapshots.
//!
//! It owns the loaded config, the compiled table, the latest probe result of
//! every (check, address) and the operator overrides. Everything else sends
//! it [`builder::Command`]s; readers only ever `load()` the [`SnapshotCell`]. A
//! reload recompiles the table; a probe flip or an override reuses it and
//! rebuilds only the health part.

use std::{collections::HashMap, path::PathBuf, sync::Arc, sync::atomic::Ordering, time::Duration};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{Probe, Snapshot, SnapshotCell, Table, compile};
use crate::config::{self, Loaded, watch::FileWatch};
use crate::dns::name::Name;
use crate::dns::rrl::RateLimiter;
use crate::health::{Health, Override, ProbeBits};
use crate::metrics::{Metrics, TableCounters};
use crate::model::RateLimit;

/// How long file events settle before a reload, so a burst of writes
/// (temp file, write, rename) makes one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Requests to the builder.
#[derive(Debug)]
pub enum Command {
    /// Reload config and record files now (SIGHUP, admin).
    Reload,
    /// A probe's state flipped.
    Health {
        /// Which (check, address).
        probe: Probe,
        /// New state.
        up: bool,
        /// Told once a snapshot with the new state is published.
        done: oneshot::Sender<()>,
    },
    /// Set or clear an operator override.
    Override {
        /// Record name.
        record: Name,
        /// Set id.
        set: String,
        /// New state; `Auto` clears.
        state: Override,
        /// Where the result goes.
        reply: oneshot::Sender<Result<u64, OverrideError>>,
    },
}

/// Why an override was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// No such record.
    #[error("no record named {0}")]
    NoRecord(String),
    /// No such set in the record.
    #[error("record {record} has no set {set:?}")]
    NoSet {
        /// Record name.
        record: String,
        /// Set id asked for.
        set: String,
    },
    /// The builder has stopped.
    #[error("the server is shutting down")]
    Stopped,
}

/// A cheap, cloneable way to send the builder commands.
#[derive(Debug, Clone)]
pub struct BuilderHandle {
    tx: mpsc::Sender<Command>,
}

impl BuilderHandle {
    /// Asks for a reload.
    pub async fn reload(&self) {
        let _ = self.tx.send(Command::Reload).await;
    }

    /// Reports a probe flip and waits until DNS answers reflect it, so
    /// readiness never runs ahead of the served snapshot.
    pub async fn health(&self, probe: Probe, up: bool) {
        let (done, published) = oneshot::channel();
        if self
            .tx
            .send(Command::Health { probe, up, done })
            .await
            .is_ok()
        {
            let _ = published.await;
        }
    }

    /// Sets an override and waits until a snapshot with it is published;
    /// returns that snapshot's generation.
    pub async fn set_override(
        &self,
        record: Name,
        set: String,
        state: Override,
    ) -> Result<u64, OverrideError> {
        let (reply, rx) = oneshot::channel();
        let command = Command::Override {
            record,
            set,
            state,
            reply,
        };
        self.tx
            .send(command)
            .await
            .map_err(|_| OverrideError::Stopped)?;
        rx.await.map_err(|_| OverrideError::Stopped)?
    }
}

/// The builder task's state.
pub struct Builder {
    /// The config file, re-read on every reload.
    path: PathBuf,
    /// Where snapshots are published.
    cell: SnapshotCell,
    metrics: Arc<Metrics>,
    loaded: Loaded,
    table: Arc<Table>,
    counters: Arc<TableCounters>,
    /// `table.probes` position of each probe, to apply flips.
    probe_index: HashMap<Probe, usize>,
    /// Latest known state per probe; absent means not probed yet (up).
    probe_up: HashMap<Probe, bool>,
    /// The response rate limiter every snapshot carries; replaced only when
    /// `server.rate_limit` changes, so its state outlives other reloads.
    rate_limiter: Option<Arc<RateLimiter>>,
    /// Operator overrides by (record, set id); kept across reloads.
    overrides: HashMap<(Name, String), Override>,
    health: Health,
    generation: u64,
    rx: mpsc::Receiver<Command>,
    /// Tells the prober which probes exist after every reload.
    table_tx: watch::Sender<Arc<Table>>,
    /// Content fingerprint of the files of the last reload attempt.
    fingerprint: u64,
    /// Watches the config and record files; made before `run` so no edit
    /// after start-up can slip past.
    file_watch: FileWatch,
    pings: mpsc::Receiver<()>,
    ping_tx: mpsc::Sender<()>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("path", &self.path)
            .field("generation", &self.generation)
            .finish()
    }
}

impl Builder {
    /// Compiles `loaded` and publishes the first snapshot.
    pub fn new(
        path: PathBuf,
        loaded: Loaded,
        metrics: Arc<Metrics>,
    ) -> (Self, BuilderHandle, SnapshotCell) {
        let table = Arc::new(compile(&loaded.config));
        let counters = Arc::new(metrics.counters_for(&table));
        let (tx, rx) = mpsc::channel(1024);
        let (table_tx, _) = watch::channel(table.clone());
        let health = Health {
            probes: ProbeBits::all_up(table.probes.len()),
            overrides: Arc::from(Vec::new()),
        };
        let rate_limiter = loaded.config.server.rate_limit.map(|limit| {
            info!(rate_limit = ?limit, "response rate limiting on");
            Arc::new(RateLimiter::new(&limit))
        });
        let snapshot = Snapshot {
            generation: 1,
            table: table.clone(),
            counters: counters.clone(),
            health: health.clone(),
            geo: loaded.geo.clone(),
            max_udp_payload: loaded.config.server.max_udp_payload,
            rate_limiter: rate_limiter.clone(),
        };
        let cell: SnapshotCell = Arc::new(ArcSwap::from_pointee(snapshot));
        metrics.generation.store(1, Ordering::Relaxed);
        metrics.reloads.fetch_add(1, Ordering::Relaxed);
        let (ping_tx, pings) = mpsc::channel(1);
        let files = watched_files(&path, &loaded);
        let file_watch = FileWatch::new(&files, ping_tx.clone());
        // Taken after the watch starts: a change in between shows up as a
        // fingerprint mismatch on the first ping or at `run`.
        let fingerprint = config::watch::fingerprint(&files);
        let builder = Self {
            path,
            cell: cell.clone(),
            metrics,
            probe_index: probe_index(&table),
            loaded: without_records(loaded),
            table,
            counters,
            probe_up: HashMap::new(),
            rate_limiter,
            overrides: HashMap::new(),
            health,
            generation: 1,
            rx,
            table_tx,
            fingerprint,
            file_watch,
            pings,
            ping_tx,
        };
        (builder, BuilderHandle { tx }, cell)
    }

    /// A receiver that sees every newly compiled table (the prober's input).
    pub fn subscribe_tables(&self) -> watch::Receiver<Arc<Table>> {
        self.table_tx.subscribe()
    }

    /// Runs until `cancel` fires, also reloading on file changes.
    pub async fn run(mut self, cancel: CancellationToken) {
        // Files edited between the initial load and the watch starting.
        self.reload_if_changed().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(()) = self.pings.recv() => {
                    tokio::time::sleep(DEBOUNCE).await;
                    while self.pings.try_recv().is_ok() {}
                    self.reload_if_changed().await;
                }
                command = self.rx.recv() => match command {
                    None => break,
                    Some(Command::Reload) => self.reload("signal").await,
                    Some(Command::Health { probe, up, done }) => {
                        self.flip(probe, up);
                        let _ = done.send(());
                    }
                    Some(Command::Override { record, set, state, reply }) => {
                        let _ = reply.send(self.set_override(record, set, state));
                    }
                },
            }
            let files = watched_files(&self.path, &self.loaded);
            if !self.file_watch.covers(&files) {
                self.file_watch = FileWatch::new(&files, self.ping_tx.clone());
            }
        }
        debug!("table builder stopped");
    }

    async fn reload_if_changed(&mut self) {
        let files = watched_files(&self.path, &self.loaded);
        if config::watch::fingerprint(&files) != self.fingerprint {
            self.reload("file change").await;
        }
    }

    async fn reload(&mut self, trigger: &'static str) {
        let path = self.path.clone();
        let started = tokio::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let loaded = config::load(&path)?;
            let table = compile(&loaded.config);
            Ok::<_, config::ConfigErrors>((loaded, table))
        })
        .await;
        let (loaded, table) = match result {
            Ok(Ok(done)) => done,
            Ok(Err(errors)) => {
                for e in &errors.0 {
                    error!(file = %e.file, field = %e.path, error = %e.message, "config rejected");
                }
                warn!(
                    trigger,
                    errors = errors.0.len(),
                    generation = self.generation,
                    "reload failed; still serving the previous config"
                );
                return self.reload_failed();
            }
            Err(join_error) => {
                error!(error = %join_error, "reload task failed; still serving the previous config");
                return self.reload_failed();
            }
        };
        for warning in &loaded.warnings {
            warn!(%warning, "config");
        }
        warn_on_restart_only_changes(&self.loaded.config.server, &loaded.config.server);
        self.update_rate_limiter(loaded.config.server.rate_limit);
        self.fingerprint = config::watch::fingerprint(&watched_files(&self.path, &loaded));
        let table = Arc::new(table);
        self.counters = Arc::new(self.metrics.counters_for(&table));
        self.probe_index = probe_index(&table);
        self.probe_up
            .retain(|probe, _| self.probe_index.contains_key(probe));
        self.table = table;
        self.loaded = without_records(loaded);
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        self.health = Health {
            probes: ProbeBits::from_fn(self.table.probes.len(), |i| {
                self.probe_up
                    .get(&self.table.probes[i])
                    .copied()
                    .unwrap_or(true)
            }),
            overrides: self.override_array(),
        };
        self.publish();
        let _ = self.table_tx.send(self.table.clone());
        info!(
            trigger,
            generation = self.generation,
            zones = self.table.zones.len(),
            records = self.table.records.len(),
            probes = self.table.probes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "config reloaded"
        );
    }

    /// Counts a rejected reload and remembers the contents it tried, so a
    /// broken file is not retried until it changes again (or SIGHUP asks).
    fn reload_failed(&mut self) {
        self.fingerprint = config::watch::fingerprint(&watched_files(&self.path, &self.loaded));
        self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies a probe result: publishes a snapshot only when the state flips.
    pub fn flip(&mut self, probe: Probe, up: bool) {
        let Some(&index) = self.probe_index.get(&probe) else {
            return; // a result for a probe removed by a reload
        };
        self.probe_up.insert(probe, up);
        if self.health.probes.is_up(index) == up {
            return;
        }
        self.health.probes = self.health.probes.with(index, up);
        self.publish();
    }

    fn set_override(
        &mut self,
        record: Name,
        set: String,
        state: Override,
    ) -> Result<u64, OverrideError> {
        let Some(compiled) = self.table.record(&record) else {
            return Err(OverrideError::NoRecord(record.to_string()));
        };
        if !compiled.sets.iter().any(|s| *s.id == *set) {
            return Err(OverrideError::NoSet {
                record: record.to_string(),
                set,
            });
        }
        info!(record = %record, set = %set, state = ?state, "override");
        match state {
            Override::Auto => self.overrides.remove(&(record, set)),
            _ => self.overrides.insert((record, set), state),
        };
        self.health.overrides = self.override_array();
        self.publish();
        Ok(self.generation)
    }

    /// Overrides by set index for the current table.
    fn override_array(&self) -> Arc<[Override]> {
        if self.overrides.is_empty() {
            return Arc::from(Vec::new());
        }
        self.table
            .sets()
            .map(|(r, s)| {
                self.overrides
                    .get(&(r.name.clone(), s.id.to_string()))
                    .copied()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Publishes the current table and health as a new snapshot.
    fn publish(&mut self) {
        self.generation += 1;
        self.cell.store(Arc::new(Snapshot {
            generation: self.generation,
            table: self.table.clone(),
            counters: self.counters.clone(),
            health: self.health.clone(),
            geo: self.loaded.geo.clone(),
            max_udp_payload: self.loaded.config.server.max_udp_payload,
            rate_limiter: self.rate_limiter.clone(),
        }));
        self.metrics
            .generation
            .store(self.generation, Ordering::Relaxed);
        debug!(generation = self.generation, "snapshot published");
    }

    /// Builds a new rate limiter when `server.rate_limit` changed (its
    /// streams start afresh); keeps the running one otherwise.
    fn update_rate_limiter(&mut self, limit: Option<RateLimit>) {
        if self.rate_limiter.as_ref().map(|l| *l.config()) == limit {
            return;
        }
        info!(rate_limit = ?limit, "response rate limiting changed; its table starts empty");
        self.rate_limiter = limit.map(|limit| Arc::new(RateLimiter::new(&limit)));
    }

    /// The current operator overrides, for status output.
    pub fn overrides(&self) -> &HashMap<(Name, String), Override> {
        &self.overrides
    }
}

fn probe_index(table: &Table) -> HashMap<Probe, usize> {
    table
        .probes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i))
        .collect()
}

/// The loaded config minus its records: once compiled into the table they
/// are not needed again, and at 100,000 records they are a third of the
/// server's memory.
fn without_records(loaded: Loaded) -> Loaded {
    let config = crate::model::Config {
        records: Vec::new(),
        ..(*loaded.config).clone()
    };
    Loaded {
        config: Arc::new(config),
        ..loaded
    }
}

/// The config file and its record files.
fn watched_files(path: &std::path::Path, loaded: &Loaded) -> Vec<PathBuf> {
    std::iter::once(path.to_path_buf())
        .chain(loaded.config.server.record_files.iter().cloned())
        .collect()
}

fn warn_on_restart_only_changes(old: &crate::model::Server, new: &crate::model::Server) {
    if old.dns_listen != new.dns_listen
        || old.admin_listen != new.admin_listen
        || old.udp_workers != new.udp_workers
    {
        warn!(
            "server.dns_listen, server.admin_listen and server.udp_workers changes take effect after a restart"
        );
    }
}
