//! The admin HTTP API: `/healthz`, `/readyz`, `/metrics` (open, for probes
//! and Prometheus; sums by zone and set, or per-record series with
//! `server.metrics.per_record`, only for operators), and the operator
//! routes `/status`, `/explain`, `GET /overrides`, `PUT` and
//! `DELETE /overrides/{record}/{set}` behind [`access`]. It only reads
//! snapshots and the prober's status board, and sends overrides to the
//! table writer. The probe listener ([`probe_router`]) serves `/healthz`
//! and `/readyz` alone, on a port of its own.
//!
//! Connections are served by [`listener`] with connection caps ([`slots`])
//! and timeouts, over HTTPS when `server.admin_tls` is set ([`tls`]); `/status` and `/metrics` bodies are shared between
//! readers ([`rendered`]); explains are bounded in number and size
//! ([`explain`]).

pub mod access;
pub mod client;
mod explain;
pub mod listener;
pub mod overrides;
pub mod page;
mod peer;
pub mod prometheus;
pub mod rendered;
pub mod report;
pub mod slots;
pub mod tls;
pub mod token;

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, put},
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tokio_util::sync::CancellationToken;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::health::prober::StatusBoard;
use crate::metrics::{Detail, Metrics};
use crate::table::shared::quorum::HealthView;
use crate::table::{
    SnapshotCell, overrides::ListedOverride, state_file::SavedWatch, writer::WriterHandle,
};
use access::Access;
use listener::Limits;
pub use overrides::{OverrideList, OverrideReply, OverrideRequest};
use rendered::Rendered;
use report::StatusReport;

/// What the handlers read.
#[derive(Clone)]
pub struct AdminState {
    /// Snapshots.
    pub cell: SnapshotCell,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// For overrides.
    pub writer: WriterHandle,
    /// Probe details and readiness.
    pub board: Arc<StatusBoard>,
    /// Hostname targets: their addresses and first-resolution readiness.
    pub aliases: Arc<crate::alias::AliasBoard>,
    /// Cancelled when shutdown starts: readiness turns false at once,
    /// while the API keeps serving through the drain.
    pub shutdown: CancellationToken,
    /// Who may use the operator routes.
    pub access: Access,
    /// The overrides in force, as the writer publishes them.
    pub overrides: watch::Receiver<Arc<[ListedOverride]>>,
    /// State file writes, when `server.state_file` is set: a change is
    /// answered once it is saved.
    pub saved: Option<SavedWatch>,
    /// Connection cap and timeouts.
    pub limits: Limits,
    /// `/status` and `/metrics` bodies shared between readers.
    pub documents: Arc<Documents>,
    /// This instance's document for its peers.
    pub document: watch::Receiver<Arc<crate::table::shared::document::Published>>,
    /// The peers' fresh health views.
    pub peer_views: watch::Receiver<Arc<std::collections::BTreeMap<String, HealthView>>>,
    /// Explains allowed to run at once ([`explain::MAX_RUNNING`]); more
    /// are answered 503.
    pub explains: Arc<Semaphore>,
}

/// The shared rendered bodies.
#[derive(Debug, Default)]
pub struct Documents {
    status: Rendered,
    /// Every series, for operators, with `server.metrics.per_record`.
    metrics: Rendered,
    /// Sums by zone and set id, for operators.
    metrics_sets: Rendered,
    /// The totals, for everyone else.
    metrics_public: Rendered,
}

/// The explains allowed to run at once, for [`AdminState::explains`].
pub fn explain_slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(explain::MAX_RUNNING))
}

/// The API's routes.
pub fn router(state: AdminState) -> Router {
    let operator = Router::new()
        .route("/status", get(status))
        .route("/explain", get(explain::explain))
        .route("/overrides", get(overrides::list))
        .route(
            "/overrides/{record}/{set}",
            put(overrides::put).delete(overrides::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            state.access.clone(),
            access::require_operator,
        ));
    let peers = Router::new()
        .route(crate::table::shared::document::PATH, get(peer::document))
        .route_layer(middleware::from_fn_with_state(
            state.access.clone(),
            access::require_peer,
        ));
    // Everything that costs work or changes state; the cross-site check
    // runs first.
    let costly = Router::new()
        .route("/metrics", get(metrics))
        .merge(operator)
        .route_layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            access::refuse_cross_site,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(costly)
        .merge(peers)
        .merge(page::routes())
        .layer(DefaultBodyLimit::max(overrides::MAX_BODY))
        .layer(RequestBodyTimeoutLayer::new(state.limits.timeout))
        .with_state(state)
}

/// The probe listener's routes: `/healthz` and `/readyz`, open, and 404
/// for everything else. They read only the readiness flags.
pub fn probe_router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(0))
        .layer(RequestBodyTimeoutLayer::new(state.limits.timeout))
        .with_state(state)
}

/// Binds `addr`; the address bound is returned (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves until `stop` fires (after the drain, not when it starts:
/// `state.shutdown` only turns `/readyz` to 503); HTTPS only when `tls`
/// is given.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    tls: Option<tls::AdminTls>,
    stop: CancellationToken,
) {
    let limits = state.limits;
    let metrics = state.metrics.clone();
    listener::serve(listener, router(state), limits, metrics, tls, stop).await;
}

/// Serves the probe routes on `listener` under `limits` until `stop`
/// fires.
pub async fn serve_probes(
    listener: TcpListener,
    state: AdminState,
    limits: Limits,
    stop: CancellationToken,
) {
    let metrics = state.metrics.clone();
    listener::serve(listener, probe_router(state), limits, metrics, None, stop).await;
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if state.board.ready() && state.aliases.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else if state.board.ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the first resolution of hostname targets\n",
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the first round of health checks\n",
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AdminState>, headers: header::HeaderMap) -> Response {
    let detail = match state.access.metrics_detail(&headers) {
        Detail::PerRecord if !state.metrics.config.per_record() => Detail::PerSet,
        detail => detail,
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = prometheus::Format::from_accept(accept);
    let snapshot = state.cell.load_full();
    let generation = snapshot.generation;
    let ready = state.board.ready() && state.aliases.ready();
    let metrics = state.metrics.clone();
    let shared = match detail {
        Detail::PerRecord => &state.documents.metrics,
        Detail::PerSet => &state.documents.metrics_sets,
        Detail::Aggregate => &state.documents.metrics_public,
    };
    let body = shared
        .get(generation, move || {
            prometheus::render_at(&metrics, snapshot, ready, detail).into_bytes()
        })
        .await;
    let body = body.map(|(bytes, rendered)| (format.convert(bytes), rendered));
    let counter = &state.metrics.admin_metrics_renders;
    document(body, counter, format.content_type())
}

async fn status(State(state): State<AdminState>) -> Response {
    let snapshot = state.cell.load_full();
    let generation = snapshot.generation;
    let board = state.board.clone();
    let aliases = state.aliases.clone();
    let published = state.document.borrow().clone();
    let views = state.peer_views.borrow().clone();
    let peers = state.metrics.peers.readings();
    let body = state
        .documents
        .status
        .get(generation, move || {
            let group = report::GroupInputs {
                instance: published.instance.clone(),
                own: HealthView::from_items(&published.health.items),
                views,
                peers,
            };
            serde_json::to_vec(&StatusReport::build(&snapshot, &board, &aliases, &group))
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes())
        })
        .await;
    document(
        body,
        &state.metrics.admin_status_renders,
        "application/json",
    )
}

/// A shared body as a response, counting renders.
fn document(
    body: Result<(Bytes, bool), tokio::task::JoinError>,
    renders: &std::sync::atomic::AtomicU64,
    content_type: &'static str,
) -> Response {
    match body {
        Ok((bytes, rendered)) => {
            if rendered {
                renders.fetch_add(1, Ordering::Relaxed);
            }
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering failed: {e}"),
        ),
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}
