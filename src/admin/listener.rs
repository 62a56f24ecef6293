//! The accept loop of the admin and probe listeners, with the limits
//! `axum::serve` does not offer: caps on open connections, overall and per
//! client prefix, with eviction of the heaviest client when full
//! ([`Slots`]); a short deadline for a request's head that also closes
//! idle keep-alive connections (hyper restarts it whenever a connection
//! waits for its next request), so a client trickling a request line holds
//! its slot only briefly; and a write-stall timeout so a client that stops
//! reading a large body cannot hold its connection forever. Request bodies
//! are bounded in time by the router's `RequestBodyTimeoutLayer`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tracing::{debug, warn};

use super::slots::{Caps, Slots};
use crate::metrics::Metrics;
use crate::metrics::admin::Listener;

/// Connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Which listener, for the counters.
    pub listener: Listener,
    /// Connections open at once, overall and per client prefix.
    pub caps: Caps,
    /// Bound on receiving a request's head, and on an idle keep-alive
    /// connection.
    pub header_timeout: Duration,
    /// Body-read and write-stall bound.
    pub timeout: Duration,
}

/// How long shutdown waits for open requests to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let slots = Slots::new(limits.caps);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!(%error, "admin API accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let slot = match slots.acquire(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                metrics.admin.refused(limits.listener, why);
                debug!(%peer, listener = limits.listener.label(), reason = why.label(), "connection refused");
                drop(stream);
                continue;
            }
        };
        if slot.evicted_other {
            metrics.admin.evicted(limits.listener);
        }
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.timeout));
        let io = TokioIo::new(Box::pin(io));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                done = connection => if let Err(error) = done {
                    debug!(%peer, %error, "admin API connection closed");
                },
                () = slot.evicted() => debug!(%peer, "admin API connection evicted for a lighter client"),
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        debug!("admin API connections still open at shutdown");
    }
}

/// The client address of a request served by [`serve`].
pub fn client(request_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}
