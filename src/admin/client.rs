//! The admin API as `gslb status`, `gslb override` and `gslb explain` use
//! it: one request with the operator's token, over HTTPS trusting a
//! private CA when asked (`--ca-file`), and errors that say what to do.

use std::{path::Path, time::Duration};

use reqwest::{Method, StatusCode};

use super::overrides::{OverrideReply, OverrideRequest};
use super::token;
use crate::table::liveness::Override;

/// A failed admin request, worded for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

/// The token to send: the file's content when `token_file` is given, else
/// `GSLB_ADMIN_TOKEN`, else none.
pub fn token(token_file: Option<&Path>) -> Result<Option<String>, ClientError> {
    if let Some(file) = token_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ClientError(format!(
                "cannot read {}: {}",
                file.display(),
                crate::config::secret::io_reason(&e)
            ))
        })?;
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(std::env::var(token::ENV)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty()))
}

/// An admin API client for `base` (such as `http://127.0.0.1:9153`).
#[derive(Debug)]
pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client that sends `token` with every request and, for an
    /// `https://` base, trusts the certificates in `ca_file` besides the
    /// system's.
    pub fn new(
        base: &str,
        token: Option<String>,
        ca_file: Option<&Path>,
    ) -> Result<Self, ClientError> {
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ClientError(format!(
                    "cannot read {}: {}",
                    path.display(),
                    crate::config::secret::io_reason(&e)
                ))
            })?;
            crate::tls::certificates_from_pem(&pem)
                .map_err(|e| ClientError(format!("{}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ClientError(format!("{}: {e}", path.display())))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError(crate::error_chain(&e)))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// `GET /status`, the raw JSON.
    pub async fn status(&self) -> Result<String, ClientError> {
        self.send(Method::GET, "/status", None).await
    }

    /// `GET /explain` with `params` (name, type, client, assume, samples),
    /// the raw JSON.
    pub async fn explain(&self, params: &[(&str, String)]) -> Result<String, ClientError> {
        let mut query = String::new();
        for (key, value) in params {
            query.push(if query.is_empty() { '?' } else { '&' });
            query.push_str(key);
            query.push('=');
            query.push_str(&segment(value));
        }
        self.send(Method::GET, &format!("/explain{query}"), None)
            .await
    }

    /// `PUT /overrides/{record}/{set}`.
    pub async fn set_override(
        &self,
        record: &str,
        set: &str,
        state: Override,
        reason: Option<String>,
    ) -> Result<OverrideReply, ClientError> {
        let body = serde_json::to_string(&OverrideRequest { state, reason })
            .map_err(|e| ClientError(e.to_string()))?;
        let path = format!("/overrides/{}/{}", segment(record), segment(set));
        let text = self.send(Method::PUT, &path, Some(body)).await?;
        serde_json::from_str(&text)
            .map_err(|e| ClientError(format!("unexpected reply from {}{path}: {e}", self.base)))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|e| {
            let chain = crate::error_chain(&e);
            ClientError(format!("{url}: {chain}{}", tls_hint(&chain)))
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ClientError(format!("{url}: {}", crate::error_chain(&e))))?;
        if status.is_success() {
            return Ok(text);
        }
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.trim_end().to_owned());
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "; pass the admin token with --token-file FILE or GSLB_ADMIN_TOKEN"
            }
            StatusCode::BAD_REQUEST if message.contains("serves HTTPS only") => {
                "; the admin API has server.admin_tls: use https:// (and --ca-file for a private CA)"
            }
            _ => "",
        };
        Err(ClientError(format!("{url}: {status}: {message}{hint}")))
    }
}

/// What to do about a certificate the client does not trust.
fn tls_hint(error: &str) -> &'static str {
    let untrusted = ["UnknownIssuer", "certificate", "BadSignature"]
        .iter()
        .any(|needle| error.contains(needle));
    if untrusted {
        "; if the admin API's certificate is from a private CA, pass it with --ca-file FILE or GSLB_ADMIN_CA_FILE"
    } else {
        ""
    }
}

/// A path segment with the characters URLs reserve escaped.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
