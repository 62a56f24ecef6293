//! `GET /overrides`, `PUT /overrides/{record}/{set}` and `DELETE
//! /overrides/{record}/{set}`: operators drain (`down`), force (`up`) or
//! release (`auto`) a set. Changes go to the table writer, which applies
//! them, publishes a snapshot and queues the state file write; a reply
//! comes once the change is served and, with a state file, saved.
//!
//! A set whose override a record file declares (a GslbOverride object,
//! through crd-sync) cannot be changed here: `PUT` and `DELETE` answer
//! `409 Conflict` naming the object. `GET` lists both kinds, each with its
//! `source`.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{ConnectInfo, Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{AdminState, error};
use crate::model::file_override::MAX_REASON;
use crate::name::Name;
use crate::table::liveness::Override;
use crate::table::{
    overrides::{ListedOverride, OverrideMeta},
    writer::{OverrideApplied, OverrideError},
};

/// Header that carries an operator's reason for a change.
pub const REASON_HEADER: &str = "x-gslb-reason";
/// Largest request body: an override is a few dozen bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Body of `PUT /overrides/{record}/{set}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `up`, `down` or `auto`.
    pub state: Override,
    /// Why; shown by `GET /overrides` and kept in the state file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Reply to a successful change.
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

/// Reply of `GET /overrides`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideList {
    /// Every override in force, by record and set: the admin API's (and
    /// the peer group's) and the record files'.
    pub overrides: Vec<ListedOverride>,
}

/// `GET /overrides`.
pub(super) async fn list(State(state): State<AdminState>) -> Json<OverrideList> {
    let overrides = state.overrides.borrow().to_vec();
    Json(OverrideList { overrides })
}

/// `PUT /overrides/{record}/{set}`. The body is read as JSON whatever its
/// Content-Type (`curl -d` sends form encoding).
pub(super) async fn put(
    State(state): State<AdminState>,
    Path((record, set)): Path<(String, String)>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the body is larger than {MAX_BODY} bytes")
            } else {
                rejection.body_text()
            };
            return error(status, message);
        }
    };
    let request: OverrideRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected a JSON body {{\"state\": \"up\" | \"down\" | \"auto\", \"reason\": \"...\"}}: {e}"
                ),
            );
        }
    };
    let reason = match reason(request.reason, &headers) {
        Ok(reason) => reason,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let meta = OverrideMeta {
        reason,
        client: client.map(|Extension(ConnectInfo(addr))| addr.to_string()),
    };
    change(&state, &record, set, request.state, meta, false).await
}

/// `DELETE /overrides/{record}/{set}`: clears one override; 404 when the
/// set has none.
pub(super) async fn delete(
    State(state): State<AdminState>,
    Path((record, set)): Path<(String, String)>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let reason = match reason(None, &headers) {
        Ok(reason) => reason,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let meta = OverrideMeta {
        reason,
        client: client.map(|Extension(ConnectInfo(addr))| addr.to_string()),
    };
    change(&state, &record, set, Override::Auto, meta, true).await
}

/// The reason from the body, else from `X-Gslb-Reason`, checked.
fn reason(body: Option<String>, headers: &HeaderMap) -> Result<Option<String>, String> {
    let reason = match body {
        Some(reason) => Some(reason),
        None => match headers.get(REASON_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| format!("{REASON_HEADER} must be printable ASCII"))?
                    .to_owned(),
            ),
        },
    };
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        if r.chars().count() > MAX_REASON {
            return Err(format!("the reason is longer than {MAX_REASON} characters"));
        }
        if r.chars().any(char::is_control) {
            return Err("the reason has control characters".into());
        }
    }
    Ok(reason)
}

async fn change(
    state: &AdminState,
    record: &str,
    set: String,
    to: Override,
    meta: OverrideMeta,
    must_exist: bool,
) -> Response {
    let name = match Name::parse(record) {
        Ok(name) => name,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{record:?} is not a domain name: it {e}"),
            );
        }
    };
    let applied = state
        .writer
        .change_override(name.clone(), set.clone(), to, meta)
        .await;
    let OverrideApplied {
        generation,
        existed,
        saved,
    } = match applied {
        Ok(applied) => applied,
        Err(e @ (OverrideError::NoRecord(_) | OverrideError::NoSet { .. })) => {
            return error(StatusCode::NOT_FOUND, e);
        }
        Err(e @ OverrideError::Declared { .. }) => return error(StatusCode::CONFLICT, e),
        Err(e @ OverrideError::Stopped) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    if must_exist && !existed {
        return error(
            StatusCode::NOT_FOUND,
            format!("{name} set {set:?} has no override"),
        );
    }
    if let (Some(version), Some(watch)) = (saved, &state.saved) {
        let wait = Duration::from_secs(10);
        let outcome = tokio::time::timeout(wait, watch.wait(version))
            .await
            .unwrap_or_else(|_| Err("the state file write takes longer than 10 s".into()));
        if let Err(e) = outcome {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the override is in force (generation {generation}) but was not saved, so it will not survive a restart: {e}"
                ),
            );
        }
    }
    Json(OverrideReply {
        record: name.to_string(),
        set,
        state: to,
        generation,
    })
    .into_response()
}
