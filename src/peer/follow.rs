//! One peer's follower: a long poll of its document, each answer handed
//! to the table writer, and the peer's view dropped from the vote when it
//! goes stale (no answer within `server.peer_view_max_age`) or when the
//! peer sends something unusable.

use std::{sync::Arc, time::Duration};

use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::client::{FetchError, PeerClient};
use crate::metrics::Metrics;
use crate::model::Peer;
use crate::table::shared::document::{Document, FORMAT};
use crate::table::shared::version::now_ms;
use crate::table::writer::WriterHandle;

/// Longest wait a long poll asks for: within the admin API's handler
/// timeout.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// First pause after a failed exchange; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause between failed exchanges.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Follows one peer.
#[derive(Debug)]
pub struct Follower {
    peer: Peer,
    client: Arc<PeerClient>,
    writer: WriterHandle,
    metrics: Arc<Metrics>,
    /// A view counts while younger than this.
    max_age: Duration,
}

/// Where the follower stands with its peer.
#[derive(Debug, Default)]
struct Progress {
    /// The (epoch, version) of the peer's document last taken: the next
    /// request asks for what changed since.
    have: (u64, u64),
    /// While the view counts: when it stops counting without news.
    fresh_until: Option<Instant>,
    /// The last failure logged, so a peer that stays down logs once.
    last_error: Option<String>,
}

impl Follower {
    /// A follower of `peer` through `client`.
    pub fn new(
        peer: Peer,
        client: Arc<PeerClient>,
        writer: WriterHandle,
        metrics: Arc<Metrics>,
        max_age: Duration,
    ) -> Self {
        Self {
            peer,
            client,
            writer,
            metrics,
            max_age,
        }
    }

    /// Runs until `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        let wait = (self.max_age / 3).clamp(Duration::from_secs(1), MAX_WAIT);
        // The answer may take the whole wait, plus a margin for a busy peer.
        let limit = wait + (self.max_age / 3).max(Duration::from_secs(2));
        let mut progress = Progress::default();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let (epoch, since) = progress.have;
            let asked = Instant::now();
            let fetch = self.client.fetch(&self.peer.url, epoch, since, wait, limit);
            let Some(result) = self.until_done(fetch, &mut progress, &stop).await else {
                return;
            };
            match result.and_then(|doc| self.check(doc)) {
                Ok(document) => {
                    let changed = self.take(document, &mut progress).await;
                    backoff = FIRST_BACKOFF;
                    // A peer that answers at once with nothing new does not
                    // hold the long poll: do not ask it in a tight loop.
                    if !changed && asked.elapsed() < wait / 2 {
                        let pause = tokio::time::sleep(FIRST_BACKOFF);
                        if self.until_done(pause, &mut progress, &stop).await.is_none() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    self.failed(&error, &mut progress).await;
                    let pause = self.until_done(tokio::time::sleep(backoff), &mut progress, &stop);
                    if pause.await.is_none() {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Drives `work` to its end, dropping the view from the vote if it
    /// goes stale meanwhile; `None` when `stop` fired.
    async fn until_done<T>(
        &self,
        work: impl Future<Output = T>,
        progress: &mut Progress,
        stop: &CancellationToken,
    ) -> Option<T> {
        tokio::pin!(work);
        loop {
            let stale = progress.fresh_until;
            tokio::select! {
                _ = stop.cancelled() => return None,
                done = &mut work => return Some(done),
                _ = sleep_until(stale.unwrap_or_else(Instant::now)), if stale.is_some() => {
                    let why = format!(
                        "no answer within server.peer_view_max_age ({})",
                        humantime::format_duration(self.max_age)
                    );
                    self.lost(progress, &why).await;
                }
            }
        }
    }

    /// Refuses a document that is not this peer's or not of this format.
    fn check(&self, document: Document) -> Result<Document, FetchError> {
        if document.format != FORMAT {
            return Err(FetchError::Garbage(format!(
                "format {} (this gslb reads format {FORMAT})",
                document.format
            )));
        }
        if document.instance != self.peer.name {
            return Err(FetchError::Garbage(format!(
                "it names itself {:?}, not {:?}: check server.peers and the peer's server.instance",
                document.instance, self.peer.name
            )));
        }
        Ok(document)
    }

    /// Hands a document to the writer; returns whether it was news.
    async fn take(&self, document: Document, progress: &mut Progress) -> bool {
        let now = now_ms();
        let changed = (document.epoch, document.version) != progress.have;
        let lag = changed.then(|| now.saturating_sub(document.changed_ms) as f64 / 1000.0);
        progress.have = (document.epoch, document.version);
        let name = self.peer.name.clone();
        if changed {
            self.writer.peer_document(name, document).await;
        }
        self.metrics.peers.update(&self.peer.name, |reading| {
            reading.up = true;
            reading.last_exchange = now as f64 / 1000.0;
            if let Some(lag) = lag {
                reading.lag_seconds = lag;
            }
        });
        if progress.fresh_until.is_none() || progress.last_error.is_some() {
            info!(peer = %self.peer.name, url = %self.peer.url, "peer reachable: its view counts");
        }
        progress.last_error = None;
        progress.fresh_until = Some(Instant::now() + self.max_age);
        changed
    }

    async fn failed(&self, error: &FetchError, progress: &mut Progress) {
        self.metrics
            .peers
            .update(&self.peer.name, |reading| reading.failures += 1);
        let text = error.to_string();
        if progress.last_error.as_deref() != Some(text.as_str()) {
            warn!(peer = %self.peer.name, url = %self.peer.url, error = %text, "peer exchange failed");
            progress.last_error = Some(text);
        }
        if error.is_garbage() {
            self.lost(progress, "it sent an unusable document").await;
        }
    }

    /// Drops the view from the vote; the next exchange asks for the whole
    /// document again.
    async fn lost(&self, progress: &mut Progress, why: &str) {
        progress.have = (0, 0);
        if progress.fresh_until.take().is_some() {
            warn!(peer = %self.peer.name, url = %self.peer.url, why, "peer view dropped from the vote");
            self.metrics
                .peers
                .update(&self.peer.name, |reading| reading.up = false);
            self.writer.peer_lost(self.peer.name.clone()).await;
        }
    }
}
