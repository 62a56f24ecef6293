//! The accept loop: admits a connection if a slot is free or an idle
//! connection can be shed for it, else closes it at once (never queued),
//! and backs off when `accept` itself fails.
//!
//! `accept` fails with EMFILE/ENFILE when descriptors run out, and keeps
//! failing while the pending connection waits in the backlog: retrying at
//! once spins a core and starves everything else of CPU. The loop waits
//! 10 ms after the first failure, doubling up to 1 s, logs once per run of
//! failures and counts each.
//!
//! The loop owns its connections' tasks; at stop it closes the listening
//! socket and waits for them to finish their in-flight messages. Aborting
//! the loop's task drops the set, which aborts them.

use crate::dns::update::UpdateQueue;
use std::{future::Future, io, net::SocketAddr, sync::Arc, sync::atomic::Ordering, time::Duration};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{
    connection::{Connection, ConnectionSettings},
    slots::Slots,
};
use crate::metrics::Metrics;
use crate::table::SnapshotCell;

/// A source of connections: the listening socket, or a fake in tests.
pub(crate) trait Accept: Send + 'static {
    /// A connection's stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection and its peer.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

impl Accept for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    // The type's name spells out tokio's inherent `accept`, so this cannot
    // be read as a recursive call of the trait method.
    #[allow(clippy::use_self)]
    async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        // Answers go out in one write each; don't hold them for Nagle.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }
}

/// The waits after consecutive `accept` failures: 10 ms doubling to 1 s.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// The pause after one more failure, and whether it starts a run.
    fn failed(&mut self) -> (Duration, bool) {
        let pause = Self::FIRST
            .saturating_mul(1 << self.failures.min(7))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        (pause, self.failures == 1)
    }

    /// Ends a run of failures; returns its length if there was one.
    fn succeeded(&mut self) -> Option<u32> {
        (self.failures > 0).then(|| std::mem::take(&mut self.failures))
    }
}

/// Errors of one pending connection (it was reset or aborted before we
/// took it, or Linux passed on a network error): the next accept is fine.
fn is_per_connection(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted
            | ConnectionReset
            | Interrupted
            | WouldBlock
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
    ) || error.raw_os_error() == Some(rustix::io::Errno::PROTO.raw_os_error())
}

/// What the accept loop needs, besides its socket.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    pub(crate) slots: Slots,
    pub(crate) settings: ConnectionSettings,
    pub(crate) cell: SnapshotCell,
    pub(crate) metrics: Arc<Metrics>,
    /// Where UPDATE messages go.
    pub(crate) updates: UpdateQueue,
}

/// Accepts connections until `stop` fires, then waits for the open ones to
/// answer what they have received and close.
pub(crate) async fn run<A: Accept>(mut acceptor: A, admission: Admission, stop: CancellationToken) {
    let mut connections = JoinSet::new();
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = acceptor.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_per_connection(&error) => continue,
            Err(error) => {
                admission
                    .metrics
                    .tcp
                    .accept_errors
                    .fetch_add(1, Ordering::Relaxed);
                let (pause, first) = backoff.failed();
                if first {
                    warn!(%error, "TCP accept failing; backing off from 10 ms to 1 s until it works again");
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        if let Some(failures) = backoff.succeeded() {
            info!(failures, "TCP accept works again");
        }
        match admission.slots.acquire(peer.ip()) {
            Ok(slot) => {
                let connection = Connection::new(
                    stream,
                    peer.ip(),
                    admission.settings,
                    admission.cell.clone(),
                    admission.metrics.clone(),
                )
                .with_updates(admission.updates.clone())
                .with_slot(slot);
                connections.spawn(connection.serve(stop.clone()));
            }
            // Dropping the stream closes it: over a cap, never queued.
            Err(why) => debug!(client = %peer, reason = why.label(), "TCP connection refused"),
        }
    }
    drop(acceptor);
    while connections.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::rrl::PrefixLengths;

    #[test]
    fn backoff_doubles_to_a_second_and_resets_on_success() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..9)
            .map(|_| backoff.failed().0.as_millis() as u64)
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff.succeeded(), Some(9));
        assert_eq!(backoff.succeeded(), None);
        assert_eq!(backoff.failed(), (Duration::from_millis(10), true));
        assert!(!backoff.failed().1, "logged once per run");
    }

    /// Fails every accept with EMFILE, counting calls; after `limit` calls
    /// it waits forever, so a loop that spins stops at `limit` instead of
    /// hanging the test.
    struct Exhausted {
        calls: Arc<AtomicUsize>,
        limit: usize,
    }

    impl Accept for Exhausted {
        type Stream = tokio::io::DuplexStream;

        async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
            if self.calls.fetch_add(1, Ordering::Relaxed) >= self.limit {
                std::future::pending::<()>().await;
            }
            Err(io::Error::from_raw_os_error(
                rustix::io::Errno::MFILE.raw_os_error(),
            ))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn emfile_backs_off_instead_of_spinning() {
        let metrics = Arc::new(Metrics::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let admission = Admission {
            slots: Slots::new(10, 10, PrefixLengths::new(24, 56), metrics.clone()),
            settings: ConnectionSettings::new(Duration::from_secs(10)),
            cell: super::super::test_cell(),
            metrics: metrics.clone(),
            updates: UpdateQueue::default(),
        };
        let stop = CancellationToken::new();
        let acceptor = Exhausted {
            calls: calls.clone(),
            limit: 1_000,
        };
        let task = tokio::spawn(run(acceptor, admission, stop.clone()));
        tokio::time::sleep(Duration::from_secs(10)).await;
        // 10+20+...+640 ms is 1.27 s for the first 7, then one a second.
        let made = calls.load(Ordering::Relaxed);
        assert!((12..=20).contains(&made), "{made} accept calls in 10 s");
        assert_eq!(
            metrics.tcp.accept_errors.load(Ordering::Relaxed),
            made as u64
        );
        stop.cancel();
        task.await.unwrap();
    }
}
