//! The admin HTTP API: `/healthz`, `/readyz`, `/metrics`, `/status` and
//! `PUT /overrides/{record}/{set}`. It only reads snapshots and the
//! prober's status board, and sends overrides to the table builder.

pub mod page;
pub mod report;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, State, rejection::JsonRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, put},
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::dns::name::Name;
use crate::health::{Override, prober::StatusBoard};
use crate::metrics::Metrics;
use crate::table::{
    SnapshotCell,
    builder::{BuilderHandle, OverrideError},
};
use report::StatusReport;

/// What the handlers read.
#[derive(Clone)]
pub struct AdminState {
    /// Snapshots.
    pub cell: SnapshotCell,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// For overrides.
    pub builder: BuilderHandle,
    /// Probe details and readiness.
    pub board: Arc<StatusBoard>,
    /// Cancelled when shutdown starts: readiness turns false at once,
    /// while the API keeps serving through the drain.
    pub shutdown: CancellationToken,
}

/// Body of `PUT /overrides/{record}/{set}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct OverrideRequest {
    /// `up`, `down` or `auto`.
    pub state: Override,
}

/// Reply to a successful override.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideReply {
    /// Record name.
    pub record: String,
    /// Set id.
    pub set: String,
    /// State now in force.
    pub state: Override,
    /// Generation of the first snapshot that has it.
    pub generation: u64,
}

/// The API's routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/overrides/{record}/{set}", put(set_override))
        .merge(page::routes())
        .with_state(state)
}

/// Binds `addr`; the address bound is returned (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves until `stop` fires (after the drain, not when it starts).
pub async fn serve(listener: TcpListener, state: AdminState, stop: CancellationToken) {
    let app = router(state);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        warn!(%error, "admin API stopped");
    }
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if state.board.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the first round of health checks\n",
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let text = state
        .metrics
        .render(state.cell.load_full(), state.board.ready());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn status(State(state): State<AdminState>) -> Json<StatusReport> {
    Json(StatusReport::build(&state.cell.load(), &state.board))
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}

async fn set_override(
    State(state): State<AdminState>,
    Path((record, set)): Path<(String, String)>,
    body: Result<Json<OverrideRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected {{\"state\": \"up\" | \"down\" | \"auto\"}}: {}",
                    rejection.body_text()
                ),
            );
        }
    };
    let name = match Name::parse(&record) {
        Ok(name) => name,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{record:?} is not a domain name: it {e}"),
            );
        }
    };
    match state
        .builder
        .set_override(name.clone(), set.clone(), request.state)
        .await
    {
        Ok(generation) => Json(OverrideReply {
            record: name.to_string(),
            set,
            state: request.state,
            generation,
        })
        .into_response(),
        Err(e @ (OverrideError::NoRecord(_) | OverrideError::NoSet { .. })) => {
            error(StatusCode::NOT_FOUND, e)
        }
        Err(e @ OverrideError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
