//! `GET /explain?name=N&type=A|AAAA&client=IP[/PREFIX]&assume=...&samples=K`:
//! the [`crate::explain`] trace of the current snapshot as JSON, behind the
//! same access rule as `/status`. 400 names the parameter that is wrong;
//! 404 says what DNS answers for a name that holds no record (NXDOMAIN,
//! REFUSED, apex or glue).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{AdminState, error};
use crate::explain::{self, ClientArg, ExplainError, MAX_SAMPLES, Question};
use crate::name::Name;
use crate::table::Family;

/// Longest `assume` value taken.
const MAX_ASSUME_BYTES: usize = 4096;

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
    let snapshot = state.cell.load_full();
    let board = state.board.clone();
    // Sampling runs up to 100,000 selections: keep it off the runtime.
    let traced =
        tokio::task::spawn_blocking(move || explain::explain(&snapshot, Some(&board), &question))
            .await;
    match traced {
        Ok(Ok(trace)) => Json(trace).into_response(),
        Ok(Err(e @ ExplainError::Assume(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("explaining failed: {e}"),
        ),
    }
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
