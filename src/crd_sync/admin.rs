//! The sidecar's own small HTTP port: `/metrics` (Prometheus text) and
//! `/healthz`.
//!
//! `/healthz` answers 200 while the process runs, also while the API server
//! is unreachable: restarting the sidecar would not bring the API server
//! back, and the last record file keeps serving meanwhile. Whether the
//! sidecar is in sync shows in `gslb_crd_sync_last_sync_timestamp_seconds`.

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, http::header, routing::get};
use prometheus_client::{encoding::text::encode, registry::Registry};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the admin port could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for the crd-sync admin port: {source}")]
pub struct AdminError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// Binds `addr` and serves until `cancel`; returns the bound address (port 0
/// picks a free one) and the serving task.
pub async fn start(
    addr: SocketAddr,
    registry: Registry,
    cancel: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), AdminError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| AdminError { addr, source })?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(Arc::new(registry));
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "crd-sync admin server stopped");
        }
    });
    Ok((bound, task))
}

async fn metrics(
    State(registry): State<Arc<Registry>>,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let mut body = String::new();
    match encode(&mut body, &registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            "cannot encode metrics\n".into(),
        ),
    }
}
