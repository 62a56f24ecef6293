//! The accept loop of the admin and probe listeners, with the limits
//! `axum::serve` does not offer: caps on open connections, overall and per
//! client prefix, with eviction of the heaviest client when full
//! ([`Slots`]); a short deadline for a request's head that also closes
//! idle keep-alive connections (hyper restarts it whenever a connection
//! waits for its next request), so a client trickling a request line holds
//! its slot only briefly; and a write-stall timeout so a client that stops
//! reading a large body cannot hold its connection forever. Request bodies
//! are bounded in time by the router's `RequestBodyTimeoutLayer`.
//!
//! With `server.admin_tls` every connection first goes through a TLS
//! handshake ([`super::tls`]) inside its slot and under the same head
//! deadline; hyper then serves it exactly as a plain one.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::{GracefulShutdown, Watcher},
};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tracing::{debug, warn};

use super::slots::{Caps, Slots};
use super::tls::AdminTls;
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

/// Serves `app` on `listener` until `shutdown` fires; over HTTPS only
/// when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    tls: Option<AdminTls>,
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
        let connection = Connection {
            app: app.clone(),
            peer,
            limits,
            watcher: graceful.watcher(),
        };
        let tls = tls.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = connection.run(stream, tls, &metrics) => {},
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

/// One accepted connection, served in its own task while it holds a slot.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: Limits,
    /// Lets shutdown close it gracefully once hyper serves it.
    watcher: Watcher,
}

impl Connection {
    /// The TLS handshake when there is one, then HTTP/1.1 until the client
    /// or the deadlines close it.
    async fn run(self, stream: TcpStream, tls: Option<AdminTls>, metrics: &Metrics) {
        let Some(tls) = tls else {
            let mut io = TimeoutStream::new(stream);
            io.set_write_timeout(Some(self.limits.timeout));
            return self.serve_http(TokioIo::new(Box::pin(io))).await;
        };
        let peer = self.peer;
        match tls
            .handshake(stream, self.limits.header_timeout, self.limits.timeout)
            .await
        {
            Ok(stream) => self.serve_http(TokioIo::new(stream)).await,
            Err(error) => {
                if let Some(why) = error.counted_as() {
                    metrics.admin.tls_failed(why);
                }
                debug!(%peer, %error, "admin API connection closed before a request");
            }
        }
    }

    async fn serve_http<I>(self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let Self {
            app,
            peer,
            limits,
            watcher,
        } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service);
        if let Err(error) = watcher.watch(connection).await {
            debug!(%peer, %error, "admin API connection closed");
        }
    }
}

/// The client address of a request served by [`serve`].
pub fn client(request_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}
