//! `GET /explain?name=N&type=A|AAAA&client=IP[/PREFIX]&assume=...&samples=K`:
//! the [`crate::explain`] trace of the current snapshot as JSON, behind the
//! same access rule as `/status`. 400 names the parameter that is wrong;
//! 404 says what DNS answers for a name that holds no record (NXDOMAIN,
//! REFUSED, apex or glue).
//!
//! The work is bounded: [`crate::explain`] bounds one trace (assumptions
//! de-duplicated and capped, matched sets counted rather than listed), at
//! most [`MAX_RUNNING`] explains run at once (more get 503 with
//! `Retry-After` rather than a queue), and a body over [`MAX_BODY_BYTES`]
//! is refused rather than sent.

use std::sync::atomic::Ordering;

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{AdminState, error};
use crate::explain::{self, ClientArg, ExplainError, MAX_SAMPLES, Question};
use crate::name::Name;
use crate::table::Family;

/// Longest `assume` value taken.
const MAX_ASSUME_BYTES: usize = 4096;

/// Explains running at once. A trace of a large table takes tens of
/// milliseconds and a sampled one up to about a second on one core, so two
/// keep an operator's queries moving without letting a burst take every
/// core from the runtime.
pub(super) const MAX_RUNNING: usize = 2;

/// Largest trace sent. A trace lists one record's sets (a few hundred
/// bytes each) and summarises assumptions, so only a record of thousands
/// of sets reaches this.
pub(super) const MAX_BODY_BYTES: usize = 4 << 20;

/// What a busy server tells the client to wait, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// `GET /explain`.
pub(super) async fn explain(
    State(state): State<AdminState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let params = match query {
        Ok(Query(params)) => params,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let question = match question(&params) {
        Ok(question) => question,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Ok(permit) = state.explains.clone().try_acquire_owned() else {
        state
            .metrics
            .admin
            .explain_busy
            .fetch_add(1, Ordering::Relaxed);
        let mut busy = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_RUNNING} explains are running; ask again in a moment"),
        );
        busy.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        return busy;
    };
    let snapshot = state.cell.load_full();
    let board = state.board.clone();
    // Sampling runs up to 100,000 selections: keep it off the runtime. The
    // permit lives as long as the work, even if the client goes away.
    let traced = tokio::task::spawn_blocking(move || {
        let trace = explain::explain(&snapshot, Some(&board), &question)?;
        drop(snapshot);
        let body = json_at_most(&trace, MAX_BODY_BYTES);
        drop(permit);
        Ok::<_, ExplainError>(body)
    })
    .await;
    match traced {
        Ok(Ok(Some(body))) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Ok(None)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the trace is larger than {MAX_BODY_BYTES} bytes; the record has too many sets to explain"
            ),
        ),
        Ok(Err(e @ ExplainError::Assume(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("explaining failed: {e}"),
        ),
    }
}

/// `value` as JSON, or `None` once it passes `cap` bytes (the writing
/// stops there, so memory stays bounded).
fn json_at_most(value: &impl serde::Serialize, cap: usize) -> Option<Vec<u8>> {
    struct Capped {
        bytes: Vec<u8>,
        cap: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.bytes.len() + buf.len() > self.cap {
                return Err(std::io::Error::other("over the cap"));
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped {
        bytes: Vec::new(),
        cap,
    };
    serde_json::to_writer(&mut out, value).ok()?;
    Some(out.bytes)
}

/// The question in the query string, or what is wrong with it.
fn question(params: &[(String, String)]) -> Result<Question, String> {
    let mut name = None;
    let mut family = Family::V4;
    let mut client = None;
    let mut assume = String::new();
    let mut samples = 0;
    for (key, value) in params {
        let value = value.trim();
        match key.as_str() {
            "name" => {
                name = Some(
                    Name::parse(value)
                        .map_err(|e| format!("name {value:?} is not a domain name: it {e}"))?,
                );
            }
            "type" => {
                family = match value.to_ascii_uppercase().as_str() {
                    "A" => Family::V4,
                    "AAAA" => Family::V6,
                    _ => return Err(format!("type {value:?}: explain answers A or AAAA")),
                };
            }
            "client" if value.is_empty() => client = None,
            "client" => client = Some(value.parse::<ClientArg>()?),
            "assume" => {
                if !assume.is_empty() {
                    assume.push(',');
                }
                assume.push_str(value);
                if assume.len() > MAX_ASSUME_BYTES {
                    return Err(format!("assume is longer than {MAX_ASSUME_BYTES} bytes"));
                }
            }
            "samples" => {
                samples = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= MAX_SAMPLES)
                    .ok_or_else(|| {
                        format!("samples {value:?} must be a whole number from 0 to {MAX_SAMPLES}")
                    })?;
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}; explain takes name, type, client, assume and samples"
                ));
            }
        }
    }
    let name = name.ok_or("name is required: /explain?name=www.example.com.&client=192.0.2.1")?;
    let assume = explain::assume::parse(&assume).map_err(|e| e.to_string())?;
    Ok(Question {
        name,
        family,
        client,
        assume,
        samples,
    })
}
