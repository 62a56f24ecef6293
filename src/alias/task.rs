//! The refresher: the background task that resolves every hostname target
//! when it is due and tells the table writer what changed.
//!
//! It follows the list of names the current table needs (a `watch`),
//! resolves new names at once, keeps at most [`MAX_IN_FLIGHT`] resolutions
//! running, and wakes for the next due name or the next expiry. Changes go
//! to the writer in batches ([`Sink`]), which publishes them before the
//! next batch is sent, so readiness never runs ahead of the answers.

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;

use tokio::{sync::watch, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::lookup::Upstream;
use super::schedule::{Answer, HostAddrs, HostState, HostStatus};
use crate::model::AliasPolicy;
use crate::name::Name;
use crate::table::writer::WriterHandle;

/// Resolutions running at once: enough for thousands of names refreshed
/// every few seconds, few enough not to flood a resolver.
pub const MAX_IN_FLIGHT: usize = 64;

/// What the refresher tells the table writer: each changed name with its
/// new view. Returns once a snapshot with the change is published.
pub trait Sink: Send + Sync + 'static {
    /// Applies `changes` and publishes them.
    fn resolved(&self, changes: Vec<(Name, HostAddrs)>) -> impl Future<Output = ()> + Send;
}

/// The table writer applies the refresher's reports.
impl Sink for WriterHandle {
    async fn resolved(&self, changes: Vec<(Name, HostAddrs)>) {
        Self::resolved(self, changes).await;
    }
}

/// The refresher's public record: every name's state, for `/status`, and
/// readiness. Written by the refresher only.
#[derive(Debug)]
pub struct AliasBoard {
    policy: AliasPolicy,
    hosts: Mutex<HashMap<Name, HostState>>,
    ready: std::sync::atomic::AtomicBool,
}

impl AliasBoard {
    /// An empty board for names refreshed under `policy`.
    pub fn new(policy: AliasPolicy) -> Self {
        Self {
            policy,
            hosts: Mutex::default(),
            ready: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The status of `name` now, if it is being resolved.
    pub fn status(&self, name: &Name) -> Option<HostStatus> {
        let hosts = self.hosts.lock();
        hosts
            .get(name)
            .map(|host| host.status(Instant::now(), &self.policy))
    }

    /// Whether every name the table needs has had its first attempt and
    /// the result is published.
    pub fn ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Latches readiness when no refresher runs (no resolvers could be
    /// set up and the table has no hostname targets).
    pub fn set_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Every name being resolved, sorted, with its status now.
    pub fn all(&self) -> Vec<(Name, HostStatus)> {
        let now = Instant::now();
        let hosts = self.hosts.lock();
        let mut all: Vec<(Name, HostStatus)> = hosts
            .iter()
            .map(|(name, host)| (name.clone(), host.status(now, &self.policy)))
            .collect();
        drop(hosts);
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn store(&self, name: &Name, host: &HostState) {
        let mut hosts = self.hosts.lock();
        hosts.insert(name.clone(), host.clone());
    }

    fn retain(&self, keep: impl Fn(&Name) -> bool) {
        let mut hosts = self.hosts.lock();
        hosts.retain(|name, _| keep(name));
    }
}

/// One name the refresher knows.
struct Tracked {
    state: HostState,
    /// A resolution of it is running.
    in_flight: bool,
}

/// The refresher task.
pub struct Refresher<U, S> {
    upstream: Arc<U>,
    sink: S,
    policy: AliasPolicy,
    board: Arc<AliasBoard>,
    hosts: HashMap<Name, Tracked>,
    running: JoinSet<(Name, Result<Answer, String>)>,
}

impl<U, S> std::fmt::Debug for Refresher<U, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("hosts", &self.hosts.len())
            .field("running", &self.running.len())
            .finish()
    }
}

impl<U: Upstream, S: Sink> Refresher<U, S> {
    /// A refresher asking `upstream` and reporting to `sink`.
    pub fn new(upstream: U, sink: S, policy: AliasPolicy) -> Self {
        Self {
            upstream: Arc::new(upstream),
            sink,
            policy,
            board: Arc::new(AliasBoard::new(policy)),
            hosts: HashMap::new(),
            running: JoinSet::new(),
        }
    }

    /// The status board, for the admin API.
    pub fn board(&self) -> Arc<AliasBoard> {
        self.board.clone()
    }

    /// Resolves the names of `names` until `cancel` fires.
    pub async fn run(mut self, mut names: watch::Receiver<Arc<[Name]>>, cancel: CancellationToken) {
        let wanted = names.borrow_and_update().clone();
        self.follow(&wanted);
        loop {
            let now = Instant::now();
            self.dispatch(now);
            let mut changes = self.expiries(now);
            if !changes.is_empty() {
                self.sink.resolved(std::mem::take(&mut changes)).await;
            }
            self.check_ready();
            let wake = self.next_wake();
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = names.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let wanted = names.borrow_and_update().clone();
                    self.follow(&wanted);
                }
                Some(done) = self.running.join_next(), if !self.running.is_empty() => {
                    let mut changes = Vec::new();
                    self.finished(done, &mut changes);
                    // Whatever else finished meanwhile goes in the same batch.
                    while let Some(done) = self.running.try_join_next() {
                        self.finished(done, &mut changes);
                    }
                    if !changes.is_empty() {
                        self.sink.resolved(changes).await;
                    }
                }
                () = sleep_until(wake) => {}
            }
        }
        self.running.abort_all();
        debug!("hostname refresher stopped");
    }

    /// Starts tracking new names and forgets those no longer wanted.
    fn follow(&mut self, wanted: &[Name]) {
        let now = Instant::now();
        let before = self.hosts.len();
        self.hosts.retain(|name, _| wanted.contains(name));
        let removed = before - self.hosts.len();
        let mut added = 0;
        for name in wanted {
            self.hosts.entry(name.clone()).or_insert_with(|| {
                added += 1;
                Tracked {
                    state: HostState::new(now),
                    in_flight: false,
                }
            });
        }
        let hosts = &self.hosts;
        self.board.retain(|name| hosts.contains_key(name));
        if added + removed > 0 {
            info!(
                hostnames = self.hosts.len(),
                added, removed, "hostname targets synced with the table"
            );
        }
    }

    /// Starts the resolutions that are due, up to [`MAX_IN_FLIGHT`].
    fn dispatch(&mut self, now: Instant) {
        let mut due: Vec<(Instant, &Name)> = self
            .hosts
            .iter()
            .filter(|(_, t)| !t.in_flight && t.state.due(now))
            .map(|(name, t)| (t.state.next_attempt(), name))
            .collect();
        due.sort();
        let free = MAX_IN_FLIGHT.saturating_sub(self.running.len());
        let starting: Vec<Name> = due.into_iter().take(free).map(|(_, n)| n.clone()).collect();
        for name in starting {
            if let Some(tracked) = self.hosts.get_mut(&name) {
                tracked.in_flight = true;
            }
            let upstream = self.upstream.clone();
            self.running.spawn(async move {
                let result = upstream.resolve(&name).await;
                (name, result)
            });
        }
    }

    /// Names whose addresses expired since they were last reported.
    fn expiries(&mut self, now: Instant) -> Vec<(Name, HostAddrs)> {
        let mut changes = Vec::new();
        for (name, tracked) in &mut self.hosts {
            if let Some(view) = tracked.state.tick(now, &self.policy) {
                warn!(
                    hostname = %name,
                    addresses = view.addrs.len(),
                    max_stale = %humantime::format_duration(self.policy.max_stale),
                    "hostname target expired: resolution failed for longer than max_stale; its addresses count as down"
                );
                self.board.store(name, &tracked.state);
                changes.push((name.clone(), view));
            }
        }
        changes
    }

    /// Applies one finished resolution.
    fn finished(
        &mut self,
        done: Result<(Name, Result<Answer, String>), tokio::task::JoinError>,
        changes: &mut Vec<(Name, HostAddrs)>,
    ) {
        let Ok((name, result)) = done else {
            return; // aborted at shutdown; a panic is a bug the log shows
        };
        let Some(tracked) = self.hosts.get_mut(&name) else {
            return; // no longer wanted
        };
        tracked.in_flight = false;
        let now = Instant::now();
        let result = result.and_then(|answer| screen(&name, &mut tracked.state, answer));
        let view = match result {
            Ok(answer) => {
                let ttl = answer.ttl;
                let recovered = tracked.state.status(now, &self.policy).failures > 0;
                let applied = tracked.state.answered(now, answer, &self.policy);
                if !applied.added.is_empty() || !applied.removed.is_empty() || recovered {
                    info!(
                        hostname = %name,
                        added = ?applied.added,
                        removed = ?applied.removed,
                        ttl_secs = ttl.as_secs(),
                        "hostname target resolved"
                    );
                } else {
                    debug!(hostname = %name, ttl_secs = ttl.as_secs(), "hostname target refreshed");
                }
                if applied.dropped > 0 {
                    warn!(
                        hostname = %name,
                        dropped = applied.dropped,
                        kept = self.policy.max_addresses,
                        "hostname target has more addresses than server.alias.max_addresses"
                    );
                }
                applied.report
            }
            Err(error) => {
                let first = tracked.state.status(now, &self.policy).failures == 0;
                if first {
                    warn!(hostname = %name, %error, "hostname target did not resolve; keeping its last addresses");
                } else {
                    debug!(hostname = %name, %error, "hostname target still does not resolve");
                }
                tracked.state.failed(now, error, &self.policy)
            }
        };
        self.board.store(&name, &tracked.state);
        if let Some(view) = view {
            changes.push((name, view));
        }
    }

    /// Latches readiness once every name has had an attempt (the batch
    /// that carried it is published by the time this runs).
    fn check_ready(&self) {
        if !self.board.ready() && self.hosts.values().all(|t| t.state.attempted()) {
            self.board
                .ready
                .store(true, std::sync::atomic::Ordering::Release);
            info!(
                hostnames = self.hosts.len(),
                "first resolution of hostname targets done"
            );
        }
    }

    /// When the loop must wake without a message: the next due name (while
    /// there is room to start it) or the next expiry.
    fn next_wake(&self) -> Option<Instant> {
        let room = self.running.len() < MAX_IN_FLIGHT;
        self.hosts
            .values()
            .filter_map(|t| {
                let expiry = t.state.expiry_event(&self.policy);
                if t.in_flight || !room {
                    expiry
                } else {
                    Some(t.state.next_event(&self.policy))
                }
            })
            .min()
    }
}

/// Takes the addresses no client can use out of `answer`, logging when
/// they change; an answer left with none is a failure (the last usable
/// addresses stay until `max_stale`).
fn screen(name: &Name, state: &mut HostState, mut answer: Answer) -> Result<Answer, String> {
    match state.screen(&mut answer) {
        Some(dropped) if dropped.is_empty() => {
            info!(hostname = %name, "hostname target no longer resolves to unusable addresses");
        }
        Some(dropped) => warn!(
            hostname = %name,
            ?dropped,
            "hostname target resolved to addresses no client can connect to (unspecified, broadcast, multicast or link-local); they are not answered"
        ),
        None => {}
    }
    if answer.addrs.is_empty() {
        let list: Vec<String> = state.unusable().iter().map(ToString::to_string).collect();
        return Err(format!(
            "resolved only to addresses no client can connect to: {}",
            list.join(", ")
        ));
    }
    Ok(answer)
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
