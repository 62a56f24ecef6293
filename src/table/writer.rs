//! The table writer: the one task that writes snapshots.
//!
//! It owns the loaded config, the compiled table, the latest probe result of
//! every (check, address) and the operator overrides. Everything else sends
//! it [commands][Command], and the [reload task][reload] sends it each new
//! config; readers only ever `load()` the [`SnapshotCell`]. A new config
//! recompiles the table; a probe flip or an override reuses it and rebuilds
//! only the health part.
//!
//! [Command]: crate::table::writer::Command
//! [reload]: mod@crate::config::reload

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
    sync::atomic::Ordering,
};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::clock::CoarseClock;
use super::ddns::Update;
use super::ddns::published::Dynamic;
use super::declared::Declared;
use super::liveness::{Liveness, Override, ProbeBits, SetOverrides};
use super::overrides::{ListedOverride, OverrideBook, OverrideMeta};
use super::replay::{self, ReplayGuard};
use super::resolved::{AliasBook, HostAddrs};
use super::shared::document::{Document, HealthItem, Published, Section};
use super::shared::quorum::{self, HealthView, Verdict};
use super::shared::version::{Clock, now_ms};
use super::state_file::{self, SavedWatch, Saver};
use super::{Probe, Snapshot, SnapshotCell, Table, compile};
use crate::config::{Loaded, reload::Reloaded};
use crate::metrics::{Metrics, TableCounters};
use crate::model::{HealthQuorum, Peering, RateLimit};
use crate::name::Name;
use crate::rrl::RateLimiter;

mod ddns;

pub use ddns::UpdateError;

/// Requests to the writer.
#[derive(Debug)]
pub enum Command {
    /// A probe's state flipped.
    Health {
        /// Which (check, address).
        probe: Probe,
        /// New state.
        up: bool,
        /// Told once a snapshot with the new state is published.
        done: oneshot::Sender<()>,
    },
    /// New addresses (or staleness) of hostname targets.
    Resolved {
        /// Each changed hostname with what is now known of it.
        changes: Vec<(Name, HostAddrs)>,
        /// Told once a snapshot with the change is published.
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
        /// Who asks and why.
        meta: OverrideMeta,
        /// Where the result goes.
        reply: oneshot::Sender<Result<OverrideApplied, OverrideError>>,
    },
    /// A peer's document (or the part of it that changed).
    Peer {
        /// The peer's configured name.
        peer: String,
        /// What it sent.
        document: Box<Document>,
        /// Told once a snapshot with what changed is published.
        done: oneshot::Sender<()>,
    },
    /// A peer's view is no longer fresh: it stops counting.
    PeerLost {
        /// The peer's configured name.
        peer: String,
    },
    /// Apply an RFC 2136 update whose signature (if any) was verified.
    Update {
        /// The zone section's name, lower-cased wire form.
        zone: Box<[u8]>,
        /// The key that signed it; `None`: unsigned.
        key: Option<Name>,
        /// Prerequisites and changes.
        update: Update,
        /// What was done, and the state file version that holds it.
        reply: oneshot::Sender<UpdateOutcome>,
    },
}

/// What the writer did with an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// Whether the zone changed, or why nothing was applied.
    pub result: Result<bool, UpdateError>,
    /// The state file version that holds the zone as this update left it,
    /// and the MAC that signed it; the update is answered once that
    /// version is on disk. `None` without a state file.
    pub saved: Option<u64>,
}

/// What an override change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverrideApplied {
    /// Generation of the first snapshot that has it.
    pub generation: u64,
    /// Whether the set had an override before.
    pub existed: bool,
    /// The state file version to wait for, when there is a state file.
    pub saved: Option<u64>,
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
    /// A record file declares the set's override (a GslbOverride object,
    /// through crd-sync): only changing the object changes it.
    #[error("{record} set {set:?} is {} by {origin}; {how}", .state.effect())]
    Declared {
        /// Record name.
        record: String,
        /// Set id.
        set: String,
        /// What it forces.
        state: crate::model::OverrideState,
        /// `GslbOverride CLUSTER/NAMESPACE/NAME`, or the record file.
        origin: String,
        /// How to clear it.
        how: &'static str,
    },
    /// The writer has stopped.
    #[error("the server is shutting down")]
    Stopped,
}

/// A cheap, cloneable way to send the writer commands.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Command>,
}

impl WriterHandle {
    /// A handle whose commands arrive on the returned receiver, for tests
    /// of the writer's clients (the prober) without a writer.
    #[cfg(test)]
    pub(crate) fn channel(capacity: usize) -> (Self, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
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

    /// Reports new addresses of hostname targets and waits until DNS
    /// answers reflect them.
    pub async fn resolved(&self, changes: Vec<(Name, HostAddrs)>) {
        let (done, published) = oneshot::channel();
        if self
            .tx
            .send(Command::Resolved { changes, done })
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
        self.change_override(record, set, state, OverrideMeta::default())
            .await
            .map(|applied| applied.generation)
    }

    /// Sets or clears an override on behalf of an operator, and waits
    /// until a snapshot with it is published.
    pub async fn change_override(
        &self,
        record: Name,
        set: String,
        state: Override,
        meta: OverrideMeta,
    ) -> Result<OverrideApplied, OverrideError> {
        let (reply, rx) = oneshot::channel();
        let command = Command::Override {
            record,
            set,
            state,
            meta,
            reply,
        };
        self.tx
            .send(command)
            .await
            .map_err(|_| OverrideError::Stopped)?;
        rx.await.map_err(|_| OverrideError::Stopped)?
    }

    /// Hands over a peer's document and waits until DNS answers reflect
    /// it.
    pub async fn peer_document(&self, peer: String, document: Document) {
        let (done, published) = oneshot::channel();
        let command = Command::Peer {
            peer,
            document: Box::new(document),
            done,
        };
        if self.tx.send(command).await.is_ok() {
            let _ = published.await;
        }
    }

    /// Tells the writer that a peer's view went stale.
    pub async fn peer_lost(&self, peer: String) {
        let _ = self.tx.send(Command::PeerLost { peer }).await;
    }

    /// Hands the writer an update (its signature already verified; `key`
    /// is the key that signed it). The receiver gets the outcome once a
    /// snapshot with it is published; the writer takes the next update
    /// meanwhile, so the fsyncs of updates in flight are shared.
    pub async fn queue_update(
        &self,
        zone: Box<[u8]>,
        key: Option<Name>,
        update: Update,
    ) -> Result<oneshot::Receiver<UpdateOutcome>, UpdateError> {
        let (reply, rx) = oneshot::channel();
        let command = Command::Update {
            zone,
            key,
            update,
            reply,
        };
        self.tx
            .send(command)
            .await
            .map_err(|_| UpdateError::Stopped)?;
        Ok(rx)
    }
}

/// The writer task's state.
pub struct Writer {
    /// Where snapshots are published.
    cell: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
    loaded: Loaded,
    table: Arc<Table>,
    counters: Arc<TableCounters>,
    /// `table.probes` position of each probe, to apply flips.
    probe_index: HashMap<Probe, usize>,
    /// This instance's latest state per probe; absent means not probed
    /// yet (up until the peers or a probe say otherwise).
    probe_up: HashMap<Probe, OwnState>,
    /// The fresh health views of peers, by peer name.
    peer_views: BTreeMap<String, HealthView>,
    /// How health is decided with the peers.
    quorum: HealthQuorum,
    /// Whether peers are configured, and whether one's view was fresh at
    /// the last vote: "deciding alone" is logged when that changes.
    peering: (bool, bool),
    /// Versions of this instance's changes to shared state.
    hlc: Clock,
    /// The document peers follow, and where it is published.
    document: Published,
    document_tx: watch::Sender<Arc<Published>>,
    /// The peer group's settings (the followers' input).
    peering_tx: watch::Sender<Arc<Peering>>,
    /// The fresh peer views, for `/status`.
    views_tx: watch::Sender<Arc<BTreeMap<String, HealthView>>>,
    /// The response rate limiter every snapshot carries; replaced only when
    /// `server.rate_limit` changes, so its state outlives other reloads.
    rate_limiter: Option<Arc<RateLimiter>>,
    /// Operator overrides by (record, set id); kept across reloads while
    /// their record and set exist.
    overrides: OverrideBook,
    /// The overrides the record files declare; in force over the book's.
    declared: Declared,
    /// The override list the admin API shows.
    listed: watch::Sender<Arc<[ListedOverride]>>,
    /// Writes the state file, when there is one.
    saver: Option<Saver>,
    /// Records added by RFC 2136 updates, and the zones' serials.
    updates: ddns::DynamicState,
    /// MACs of accepted signed updates; the update path records them, the
    /// writer saves them with the records.
    replay: ReplayGuard,
    /// What queries see of them, built for `table`; shared by snapshots.
    dynamic: Arc<Dynamic>,
    health: Liveness,
    generation: u64,
    rx: mpsc::Receiver<Command>,
    /// Tells the prober which probes exist after every reload.
    table_tx: watch::Sender<Arc<Table>>,
    /// What the prober probes: the table's probes and those of resolved
    /// addresses of hostname targets.
    probes_tx: watch::Sender<Arc<[Probe]>>,
    /// Hostname targets: what is known of each, the snapshot's alias
    /// slots built from it, and their probes.
    book: AliasBook,
    /// The hostnames the table needs resolved (the refresher's input).
    hostnames_tx: watch::Sender<Arc<[Name]>>,
    /// The clock answer TTLs of hostname targets count down with.
    clock: Arc<CoarseClock>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("generation", &self.generation)
            .finish()
    }
}

impl Writer {
    /// Compiles `loaded` and publishes the first snapshot.
    pub fn new(loaded: Loaded, metrics: Arc<Metrics>) -> (Self, WriterHandle, SnapshotCell) {
        let table = Arc::new(compile(&loaded.config));
        let counters = Arc::new(table.counters(&metrics, None));
        let (tx, rx) = mpsc::channel(1024);
        let (table_tx, _) = watch::channel(table.clone());
        let clock = Arc::new(CoarseClock::new());
        let book = AliasBook::new(&table, clock.clone(), HashMap::new());
        let (hostnames_tx, _) = watch::channel(book.hostnames());
        let peering = &loaded.config.server.peering;
        let quorum = peering.health_quorum;
        let declared = Declared::new(&loaded.config.overrides);
        let health = first_liveness(&table, &book, &declared);
        let document = Published::new(&peering.instance, rand::random());
        let (document_tx, _) = watch::channel(Arc::new(document.clone()));
        let hlc = Clock::new(&peering.instance);
        let has_peers = !peering.peers.is_empty();
        let (peering_tx, _) = watch::channel(Arc::new(peering.clone()));
        let (views_tx, _) = watch::channel(Arc::default());
        let (probes_tx, _) = watch::channel(all_probes(&table, &book));
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
            dynamic: Arc::default(),
        };
        let cell = Arc::new(ArcSwap::from_pointee(snapshot));
        metrics.generation.store(1, Ordering::Relaxed);
        metrics.reloads.fetch_add(1, Ordering::Relaxed);
        applied(&metrics, &loaded);
        let mut writer = Self {
            cell: cell.clone(),
            metrics,
            probe_index: probe_index(&table),
            loaded: loaded.without_records(),
            table,
            counters,
            probe_up: HashMap::new(),
            peer_views: BTreeMap::new(),
            quorum,
            peering: (has_peers, false),
            hlc,
            document,
            document_tx,
            peering_tx,
            views_tx,
            rate_limiter,
            overrides: OverrideBook::default(),
            declared: Declared::default(),
            listed: watch::channel(Arc::from(Vec::new())).0,
            saver: None,
            updates: ddns::DynamicState::default(),
            replay: ReplayGuard::default(),
            dynamic: Arc::default(),
            health,
            generation: 1,
            rx,
            table_tx,
            probes_tx,
            book,
            hostnames_tx,
            clock,
        };
        writer.take_declared(declared, &[]);
        writer.show_overrides();
        (writer, WriterHandle { tx }, SnapshotCell(cell))
    }

    /// Restores the overrides saved in the state file at `path` and keeps
    /// saving them there. Saved overrides of records or sets the config no
    /// longer has are dropped and logged. Call before serving, so a drained
    /// set stays drained across the restart. Needs a Tokio runtime.
    pub fn restore_state(&mut self, path: PathBuf) -> SavedWatch {
        let state = state_file::load(&path);
        let rejected = self.overrides.restore(state.overrides.clone());
        for (entry, why) in &rejected {
            warn!(
                record = %entry.record,
                set = %entry.set,
                state = ?entry.state,
                reason = entry.reason.as_deref().unwrap_or(""),
                why = %why,
                "saved override dropped"
            );
        }
        for entry in self.overrides.inactive(&self.table) {
            warn!(
                record = %entry.record,
                set = %entry.set,
                state = ?entry.state,
                "saved override inactive: the config has no such set; it applies again when the set is back"
            );
        }
        let dynamic_dropped =
            self.updates
                .restore(&self.table, &self.loaded.config, &state.dynamic);
        let unreadable = self.replay.merge(&state.seen_macs, replay::unix_now());
        if unreadable > 0 {
            warn!(
                unreadable,
                "saved MACs of signed updates dropped: they cannot be read"
            );
        }
        let (saver, watch) = Saver::spawn(path, &state, self.replay.clone());
        self.saver = Some(saver);
        if dynamic_dropped {
            self.save_updates();
        }
        if !state.dynamic.is_empty() {
            self.rebuild_dynamic();
            self.publish();
        }
        if !self.overrides.is_empty() {
            self.health.overrides = self.effective_overrides();
            self.publish();
        }
        self.overrides_changed(!rejected.is_empty());
        self.updates_shown();
        watch
    }

    /// A receiver of this instance's document, for the peers (through the
    /// admin API).
    pub fn subscribe_document(&self) -> watch::Receiver<Arc<Published>> {
        self.document_tx.subscribe()
    }

    /// A receiver of the fresh peer views (peer name → view), for
    /// `/status`.
    pub fn subscribe_views(&self) -> watch::Receiver<Arc<BTreeMap<String, HealthView>>> {
        self.views_tx.subscribe()
    }

    /// A receiver of the peer group's settings, for the followers.
    pub fn subscribe_peering(&self) -> watch::Receiver<Arc<Peering>> {
        self.peering_tx.subscribe()
    }

    /// The MACs of accepted signed updates, shared with the update path
    /// (which records them) and restored from the state file.
    pub fn replay_guard(&self) -> ReplayGuard {
        self.replay.clone()
    }

    /// A receiver of the current override list, for the admin API.
    pub fn subscribe_overrides(&self) -> watch::Receiver<Arc<[ListedOverride]>> {
        self.listed.subscribe()
    }

    /// A receiver that sees every newly compiled table (the prober's input).
    pub fn subscribe_tables(&self) -> watch::Receiver<Arc<Table>> {
        self.table_tx.subscribe()
    }

    /// A receiver of the probe list: the table's probes and those of the
    /// resolved addresses of hostname targets (the prober's input).
    pub fn subscribe_probes(&self) -> watch::Receiver<Arc<[Probe]>> {
        self.probes_tx.subscribe()
    }

    /// A receiver of the hostnames the table needs resolved (the alias
    /// refresher's input).
    pub fn subscribe_hostnames(&self) -> watch::Receiver<Arc<[Name]>> {
        self.hostnames_tx.subscribe()
    }

    /// Runs until `cancel` fires, applying commands and the configs the
    /// reload task sends on `configs`.
    pub async fn run(mut self, mut configs: mpsc::Receiver<Reloaded>, cancel: CancellationToken) {
        tokio::spawn(self.clock.clone().run(cancel.clone()));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(reloaded) = configs.recv() => self.apply_config(reloaded).await,
                command = self.rx.recv() => match command {
                    None => break,
                    Some(Command::Health { probe, up, done }) => {
                        self.flip(probe, up);
                        let _ = done.send(());
                    }
                    Some(Command::Resolved { changes, done }) => {
                        self.resolved(changes);
                        let _ = done.send(());
                    }
                    Some(Command::Override { record, set, state, meta, reply }) => {
                        let _ = reply.send(self.set_override(record, set, state, meta));
                    }
                    Some(Command::Peer { peer, document, done }) => {
                        self.peer_document(peer, *document);
                        let _ = done.send(());
                    }
                    Some(Command::PeerLost { peer }) => self.peer_lost(&peer),
                    Some(Command::Update { zone, key, update, reply }) => {
                        let result = self.apply_update(&zone, key.as_ref(), &update);
                        // Saved whatever the result: the update's MAC is
                        // spent either way.
                        let saved = self.save_updates();
                        let _ = reply.send(UpdateOutcome { result, saved });
                    }
                },
            }
        }
        debug!("table writer stopped");
    }

    /// Compiles a new config on a blocking thread (a big table takes a
    /// while) and applies it.
    async fn apply_config(&mut self, reloaded: Reloaded) {
        let Reloaded { loaded, trigger } = reloaded;
        let started = tokio::time::Instant::now();
        let config = loaded.config.clone();
        match tokio::task::spawn_blocking(move || compile(&config)).await {
            Ok(table) => self.reload(loaded, table, trigger, started),
            Err(join_error) => {
                error!(error = %join_error, "compiling the config failed; still serving the previous one");
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                self.metrics.config.rejected();
            }
        }
    }

    /// Applies a new config and its compiled table: probes, overrides and
    /// dynamic records carry over where their names still exist.
    pub fn reload(
        &mut self,
        loaded: Loaded,
        table: Table,
        trigger: &'static str,
        started: tokio::time::Instant,
    ) {
        self.update_rate_limiter(loaded.config.server.rate_limit);
        let mut table = table;
        table.keep_signers(&self.table);
        let table = Arc::new(table);
        self.counters =
            Arc::new(table.counters(&self.metrics, Some((&self.table, &self.counters))));
        self.probe_index = probe_index(&table);
        let known = self.book.take_hosts();
        self.book = AliasBook::new(&table, self.clock.clone(), known);
        self.probe_up.retain(|probe, _| {
            self.probe_index.contains_key(probe) || self.book.probe_index(probe).is_some()
        });
        let retired = self
            .overrides
            .retire_removed(&self.table, &table, &mut self.hlc);
        for entry in &retired {
            warn!(
                record = %entry.record,
                set = %entry.set,
                state = ?entry.state,
                reason = entry.reason.as_deref().unwrap_or(""),
                "override cleared: the reload removed its record or set"
            );
        }
        let declared_inactive_before: Vec<FileOverrideKey> = self
            .declared
            .inactive(&self.table)
            .into_iter()
            .map(|o| (o.record.clone(), o.set.clone()))
            .collect();
        let declared = Declared::new(&loaded.config.overrides);
        self.table = table;
        self.apply_peering(&loaded.config.server.peering);
        self.loaded = loaded.without_records();
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        applied(&self.metrics, &self.loaded);
        self.take_declared(declared, &declared_inactive_before);
        let (probes, contested) = self.vote();
        self.health = Liveness {
            probes,
            contested,
            overrides: self.effective_overrides(),
            resolved: self.book.resolved(),
        };
        self.count_disagreements();
        if self
            .updates
            .retain_allowed(&self.table, &self.loaded.config)
        {
            self.save_updates();
        }
        self.rebuild_dynamic();
        self.publish();
        self.overrides_changed(!retired.is_empty());
        self.updates_shown();
        self.health_view_changed();
        let _ = self.table_tx.send(self.table.clone());
        self.probes_tx
            .send_replace(all_probes(&self.table, &self.book));
        let hostnames = self.book.hostnames();
        self.hostnames_tx.send_if_modified(|current| {
            let changed = *current != hostnames;
            if changed {
                *current = hostnames;
            }
            changed
        });
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

    /// Applies a probe result of this instance: the document changes, and
    /// a snapshot is published only when the vote's outcome changes.
    pub fn flip(&mut self, probe: Probe, up: bool) {
        let index = self.probe_index.get(&probe).copied();
        let Some(index) = index.or_else(|| self.book.probe_index(&probe)) else {
            return; // a result for a probe removed by a reload
        };
        let since_ms = now_ms();
        let verdict = self.verdict(&probe, Some(up));
        self.probe_up.insert(probe, OwnState { up, since_ms });
        self.health_view_changed();
        let health = &self.health;
        if health.probes.is_up(index) == verdict.up
            && health.contested.is_set(index) == verdict.contested
        {
            return;
        }
        let probes = health.probes.with(index, verdict.up);
        let contested = health.contested.with(index, verdict.contested);
        self.health.probes = probes;
        self.health.contested = contested;
        self.count_disagreements();
        self.publish();
    }

    fn count_disagreements(&self) {
        let count = self.health.contested.count() as u64;
        let peers = &self.metrics.peers;
        peers.disagreements.store(count, Ordering::Relaxed);
    }

    /// The vote on `probe` when this instance's own state is `own`.
    fn verdict(&self, probe: &Probe, own: Option<bool>) -> Verdict {
        let check = probe.check.name.as_str();
        let peers = self
            .peer_views
            .values()
            .map(|view| view.get(check, probe.addr).map(|(up, _)| up));
        quorum::decide(self.quorum, own, peers)
    }

    /// Every probe's vote: (up bits, contested bits).
    fn vote(&self) -> (ProbeBits, ProbeBits) {
        probe_bits(&self.table, &self.book, |probe| {
            self.verdict(probe, self.probe_up.get(probe).map(|own| own.up))
        })
    }

    /// Recounts every vote (peer views changed) and publishes when an
    /// outcome changed.
    fn revote(&mut self) {
        let (probes, contested) = self.vote();
        let fresh = !self.peer_views.is_empty();
        if self.peering.0 && fresh != self.peering.1 {
            if fresh {
                info!(
                    peers = self.peer_views.len(),
                    "peer views fresh again: health is decided with them"
                );
            } else {
                warn!("no fresh peer view: this instance decides health alone");
            }
        }
        self.peering.1 = fresh;
        self.views_tx
            .send_replace(Arc::new(self.peer_views.clone()));
        let fresh_views = self.peer_views.len() as u64;
        self.metrics
            .peers
            .views_fresh
            .store(fresh_views, Ordering::Relaxed);
        if probes != self.health.probes || contested != self.health.contested {
            self.health.probes = probes;
            self.health.contested = contested;
            self.count_disagreements();
            self.publish();
        }
    }

    /// Takes in a peer's document: its health view counts in the vote
    /// from now on, and its overrides merge into this instance's.
    fn peer_document(&mut self, peer: String, document: Document) {
        let now = now_ms();
        if let Some(health) = &document.health {
            self.peer_views
                .insert(peer.clone(), HealthView::from_items(&health.items));
        }
        self.merge_records(&peer, &document);
        if let Some(overrides) = &document.overrides {
            let merged = self.overrides.merge(&self.table, &overrides.items, now);
            for (entry, why) in &merged.refused {
                warn!(peer = %peer, record = %entry.record, set = %entry.set, why = %why, "override from a peer ignored");
            }
            for entry in &merged.taken {
                self.hlc.observe(&entry.version);
                info!(
                    peer = %peer,
                    record = %entry.record,
                    set = %entry.set,
                    state = ?entry.state,
                    instance = %entry.version.by,
                    reason = entry.reason.as_deref().unwrap_or(""),
                    "override from the peer group"
                );
            }
            if !merged.taken.is_empty() {
                self.health.overrides = self.effective_overrides();
                self.publish();
                self.overrides_changed(true);
            }
        }
        self.revote();
    }

    /// Takes in a peer's dynamic records and seen MACs.
    fn merge_records(&mut self, peer: &str, document: &Document) {
        let now = now_ms();
        if let Some(macs) = &document.seen_macs {
            // Only MACs of this instance's keys: a peer cannot fill the
            // memory of keys it does not share.
            let known: Vec<_> = macs
                .items
                .iter()
                .filter(|m| {
                    Name::parse(&m.key).is_ok_and(|k| self.table.keyring.get(k.wire()).is_some())
                })
                .cloned()
                .collect();
            self.replay.merge(&known, now / 1000);
        }
        let Some(records) = &document.dynamic else {
            return;
        };
        let merged = self
            .updates
            .merge(&self.table, &self.loaded.config, &records.items, now);
        for (item, why) in &merged.refused {
            warn!(peer, zone = %item.zone, name = %item.record.name, why = %why, "dynamic record from a peer ignored");
        }
        for item in &merged.taken {
            self.hlc.observe(&item.record.version);
            info!(
                peer,
                zone = %item.zone,
                name = %item.record.name,
                rtype = %item.record.rtype,
                present = item.record.present,
                instance = %item.record.version.by,
                "dynamic record from the peer group"
            );
        }
        if !merged.taken.is_empty() {
            self.rebuild_dynamic();
            self.publish();
            self.save_updates();
        }
        self.updates_shown();
    }

    /// Drops a peer's view from the vote.
    fn peer_lost(&mut self, peer: &str) {
        if self.peer_views.remove(peer).is_some() {
            self.revote();
        }
    }

    /// Follows `server.instance`, `server.peers` and
    /// `server.health_quorum` after a reload: views of peers no longer
    /// listed stop counting.
    fn apply_peering(&mut self, peering: &Peering) {
        self.peering_tx.send_if_modified(|current| {
            let changed = **current != *peering;
            if changed {
                *current = Arc::new(peering.clone());
            }
            changed
        });
        self.quorum = peering.health_quorum;
        self.peering.0 = !peering.peers.is_empty();
        self.peer_views
            .retain(|name, _| peering.peers.iter().any(|p| p.name == *name));
        if self.hlc.instance() != peering.instance {
            self.hlc.rename(&peering.instance);
            peering.instance.clone_into(&mut self.document.instance);
            self.publish_document();
        }
    }

    /// Rebuilds the health section of the document.
    fn health_view_changed(&mut self) {
        let mut items: Vec<HealthItem> = self
            .probe_up
            .iter()
            .map(|(probe, own)| HealthItem {
                check: probe.check.name.clone(),
                addr: probe.addr,
                up: own.up,
                since_ms: own.since_ms,
            })
            .collect();
        items.sort_by(|a, b| (&a.check, a.addr).cmp(&(&b.check, b.addr)));
        let next = self.document.version + 1;
        if Section::replace(&mut self.document.health, items, next) {
            self.document_changed();
        }
    }

    /// Rebuilds the dynamic records and seen MACs sections of the
    /// document, forgetting expired tombstones first.
    fn updates_shown(&mut self) {
        let now = now_ms();
        self.updates.expire_tombstones(now);
        let next = self.document.version + 1;
        let records = self.updates.shared();
        let macs = self.replay.save(now / 1000);
        let records_changed = Section::replace(&mut self.document.dynamic, records, next);
        let macs_changed = Section::replace(&mut self.document.seen_macs, macs, next);
        if records_changed || macs_changed {
            self.document_changed();
        }
    }

    /// A section changed: the document gets a new version.
    fn document_changed(&mut self) {
        self.document.version += 1;
        self.document.changed_ms = now_ms();
        self.publish_document();
    }

    fn publish_document(&mut self) {
        self.document_tx
            .send_replace(Arc::new(self.document.clone()));
    }

    /// Applies news about hostname targets: rebuilds the alias slots that
    /// use them, follows their probes, and publishes.
    pub fn resolved(&mut self, changes: Vec<(Name, HostAddrs)>) {
        let probes = self.book.apply(&self.table, changes);
        if probes.any() {
            // A probe that went away forgets its state; one that comes back
            // starts up, like any new probe.
            for gone in &probes.removed {
                if !self.probe_index.contains_key(gone) {
                    self.probe_up.remove(gone);
                }
            }
            let (probes, contested) = self.vote();
            self.health.probes = probes;
            self.health.contested = contested;
            self.probes_tx
                .send_replace(all_probes(&self.table, &self.book));
        }
        self.health.resolved = self.book.resolved();
        self.publish();
    }

    /// Applies one override change and publishes it. Costs O(1) in the
    /// number of sets: one chunk of the override bits is copied and the
    /// table is shared.
    pub fn set_override(
        &mut self,
        record: Name,
        set: String,
        state: Override,
        meta: OverrideMeta,
    ) -> Result<OverrideApplied, OverrideError> {
        if let Some(declared) = self.declared.get(&record, &set)
            && super::overrides::set_index(&self.table, &record, &set).is_ok()
        {
            return Err(OverrideError::Declared {
                record: record.to_string(),
                set,
                state: declared.state,
                origin: declared.origin(),
                how: declared.how_to_clear(),
            });
        }
        let reason = meta.reason.clone();
        let client = meta.client.clone();
        let (index, existed) =
            self.overrides
                .change(&self.table, &record, &set, state, meta, &mut self.hlc)?;
        info!(
            record = %record,
            set = %set,
            state = ?state,
            reason = reason.as_deref().unwrap_or(""),
            client = client.as_deref().unwrap_or(""),
            "override"
        );
        self.health.overrides = self.health.overrides.with(index, state);
        self.publish();
        let saved = self.overrides_changed(existed || state != Override::Auto);
        Ok(OverrideApplied {
            generation: self.generation,
            existed,
            saved,
        })
    }

    /// Applies an RFC 2136 update; publishes when it changed something.
    /// Queries see the change at once; the update path answers once it is
    /// saved.
    fn apply_update(
        &mut self,
        zone: &[u8],
        key: Option<&Name>,
        update: &Update,
    ) -> Result<bool, UpdateError> {
        let applied = self.updates.apply(
            &self.table,
            &self.loaded.config,
            zone,
            key,
            update,
            &mut self.hlc,
        );
        if applied == Ok(true) {
            self.rebuild_dynamic();
            self.publish();
        }
        // The update's MAC is spent whatever the outcome: peers learn it.
        self.updates_shown();
        applied
    }

    /// Queues a state file write of the dynamic records and the seen
    /// MACs, when there is a state file; returns its version.
    fn save_updates(&mut self) -> Option<u64> {
        let saver = self.saver.as_mut()?;
        Some(saver.save_updates(self.updates.save()))
    }

    /// Builds the dynamic read layer for the current table.
    fn rebuild_dynamic(&mut self) {
        self.dynamic = Arc::new(self.updates.layer(&self.table, &self.loaded.config));
    }

    /// Shows the current overrides to the admin API and the peers and,
    /// when `save` and there is a state file, queues a write; returns its
    /// version. Declared overrides are shown, never shared nor saved.
    fn overrides_changed(&mut self, save: bool) -> Option<u64> {
        self.overrides.expire_tombstones(now_ms());
        let all = self.overrides.all();
        let next = self.document.version + 1;
        if Section::replace(&mut self.document.overrides, all.clone(), next) {
            self.document_changed();
        }
        let saver = self.saver.as_mut().filter(|_| save);
        let version = saver.map(|saver| saver.save(all));
        self.show_overrides();
        version
    }

    /// Publishes the override list (the book's, then the declared ones,
    /// by record and set) and the `gslb_overrides` counts.
    fn show_overrides(&mut self) {
        let book = self.overrides.list();
        let mut listed: Vec<ListedOverride> = book.iter().map(ListedOverride::from).collect();
        listed.extend(self.declared.listed());
        listed.sort_by(|a, b| (&a.record, &a.set).cmp(&(&b.record, &b.set)));
        let down = book.iter().filter(|e| e.state == Override::Down).count() as u64;
        let admin = crate::metrics::overrides::Forced {
            down,
            up: book.len() as u64 - down,
        };
        self.metrics.overrides.set(admin, self.declared.counts());
        self.listed.send_replace(listed.into());
    }

    /// The overrides DNS applies: the book's, and the declared ones over
    /// them.
    fn effective_overrides(&self) -> SetOverrides {
        self.declared
            .apply(&self.table, self.overrides.for_table(&self.table))
    }

    /// Takes the declared overrides of a new config (the table already
    /// compiled from it) and logs what changed: each override set or
    /// cleared, an admin override it supersedes, and those that became
    /// inactive (`inactive_before`: those that were already).
    fn take_declared(&mut self, next: Declared, inactive_before: &[FileOverrideKey]) {
        let changes = self.declared.changes(&next);
        for o in &changes.set {
            info!(
                record = %o.record,
                set = %o.set,
                state = o.state.as_str(),
                object = o.object.as_deref().unwrap_or(""),
                reason = o.reason.as_deref().unwrap_or(""),
                file = %o.file,
                "declared override in force"
            );
            if self.overrides.get(&o.record, &o.set) != Override::Auto {
                info!(
                    record = %o.record,
                    set = %o.set,
                    object = o.object.as_deref().unwrap_or(""),
                    "the admin override of this set is superseded by the declared one; it applies again when that is gone"
                );
            }
        }
        for o in &changes.cleared {
            info!(
                record = %o.record,
                set = %o.set,
                state = o.state.as_str(),
                object = o.object.as_deref().unwrap_or(""),
                "declared override cleared"
            );
        }
        for o in next.inactive(&self.table) {
            if !inactive_before.contains(&(o.record.clone(), o.set.clone())) {
                warn!(
                    record = %o.record,
                    set = %o.set,
                    state = o.state.as_str(),
                    object = o.object.as_deref().unwrap_or(""),
                    "declared override inactive: the config has no such record or set; it applies when the set is there"
                );
            }
        }
        self.declared = next;
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
            dynamic: self.dynamic.clone(),
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
}

/// A declared override's (record, set).
type FileOverrideKey = (Name, String);

/// What this instance knows of one probe from its own results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OwnState {
    up: bool,
    /// Since when, ms since the Unix epoch.
    since_ms: u64,
}

/// Probe bits for `table` and the resolved-address probes of `book`, from
/// each probe's verdict: (up, contested). The bit of expired addresses is
/// down.
fn probe_bits(
    table: &Table,
    book: &AliasBook,
    verdict: impl Fn(&Probe) -> Verdict,
) -> (ProbeBits, ProbeBits) {
    let mut dynamic: HashMap<usize, Verdict> = HashMap::new();
    for probe in book.probes() {
        if let Some(index) = book.probe_index(probe) {
            dynamic.insert(index, verdict(probe));
        }
    }
    let all_up = Verdict {
        up: true,
        contested: false,
    };
    let verdicts: Vec<Verdict> = (0..book.probe_bits())
        .map(|i| match table.probes.get(i) {
            Some(probe) => verdict(probe),
            None if i == book.expired_probe() => Verdict {
                up: false,
                contested: false,
            },
            None => dynamic.get(&i).copied().unwrap_or(all_up),
        })
        .collect();
    let len = verdicts.len();
    (
        ProbeBits::from_fn(len, |i| verdicts[i].up),
        ProbeBits::from_fn(len, |i| verdicts[i].contested),
    )
}

/// Every probe the prober runs: the table's, then the resolved addresses'.
fn all_probes(table: &Table, book: &AliasBook) -> Arc<[Probe]> {
    table.probes.iter().chain(book.probes()).cloned().collect()
}

fn probe_index(table: &Table) -> HashMap<Probe, usize> {
    table
        .probes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i))
        .collect()
}

/// The liveness of the first snapshot: every probe up until probed, the
/// record files' declared overrides in force.
fn first_liveness(table: &Table, book: &AliasBook, declared: &Declared) -> Liveness {
    let (probes, contested) = probe_bits(table, book, |_| Verdict {
        up: true,
        contested: false,
    });
    Liveness {
        probes,
        contested,
        overrides: declared.apply(table, SetOverrides::none(table.set_count as usize)),
        resolved: book.resolved(),
    }
}

/// Records in `metrics` the config put in force: its metrics detail and
/// the build time of its GeoIP database.
fn applied(metrics: &Metrics, loaded: &Loaded) {
    let geoip_build_epoch = loaded.geo.as_ref().map(|geo| geo.build_epoch());
    metrics
        .config
        .applied(loaded.config.server.metrics_per_record, geoip_build_epoch);
}

#[cfg(test)]
mod tests;
