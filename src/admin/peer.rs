//! `GET /peer/v1/document?epoch=E&since=V&wait=S`: this instance's
//! document for its peers. A long poll: it answers at once when the
//! document changed since the follower's `(epoch, since)`, else when it
//! changes or after `wait` seconds (capped below the admin API's handler
//! timeout), with only the sections that changed.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tokio::time::{Instant, timeout_at};

use super::AdminState;
use crate::table::shared::document::Published;

/// Longest wait granted, whatever the follower asks.
const MAX_WAIT: Duration = Duration::from_secs(25);

/// The follower's position and patience.
#[derive(Debug, Deserialize)]
pub(super) struct Position {
    #[serde(default)]
    epoch: u64,
    #[serde(default)]
    since: u64,
    #[serde(default)]
    wait: u64,
}

pub(super) async fn document(
    State(state): State<AdminState>,
    Query(position): Query<Position>,
) -> Response {
    // Leave a second of the handler timeout for the answer itself.
    let cap = MAX_WAIT.min(state.limits.timeout.saturating_sub(Duration::from_secs(1)));
    let deadline = Instant::now() + Duration::from_secs(position.wait).min(cap);
    let mut document = state.document.clone();
    let current: Arc<Published> = loop {
        let current = document.borrow_and_update().clone();
        if current.newer_than(position.epoch, position.since) {
            break current;
        }
        match timeout_at(deadline, document.changed()).await {
            Ok(Ok(())) => continue,
            _ => break current,
        }
    };
    let body = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&current.since(position.epoch, position.since))
    })
    .await;
    match body {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(e)) => super::error(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the document: {e}"),
        ),
        Err(e) => super::error(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the document: {e}"),
        ),
    }
}
