//! Who may use the admin API's operator routes (`/status`, `/explain`, `/overrides`,
//! every write). `/healthz`, `/readyz` and `/metrics` are always open, for
//! probes and Prometheus.
//!
//! * With a token (`server.admin_token_file` or `GSLB_ADMIN_TOKEN`): a
//!   request needs `Authorization: Bearer TOKEN`; none is 401 with
//!   `WWW-Authenticate: Bearer`, a wrong one 403.
//! * Without a token, on a loopback `admin_listen`: allowed only when the
//!   `Host` header names a loopback address, `localhost` or the listen
//!   address, so a web page cannot reach the API by DNS rebinding (its
//!   requests carry the attacker's host name).
//! * Without a token on any other address: refused (403), `/status`
//!   included, since it lists every record, target and probe error.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::token::AdminToken;

/// The access rule in force.
#[derive(Debug, Clone)]
pub struct Access {
    token: Option<AdminToken>,
    /// `server.peer_token_file`'s token: it opens the peer document, and
    /// nothing else.
    peer_token: Option<AdminToken>,
    listen: SocketAddr,
}

impl Access {
    /// The rule for an API on `listen` with `token`.
    pub fn new(token: Option<AdminToken>, listen: SocketAddr) -> Self {
        Self {
            token,
            peer_token: None,
            listen,
        }
    }

    /// The same rule, with a peer token that also opens the peer document.
    pub fn with_peer_token(mut self, peer_token: Option<AdminToken>) -> Self {
        self.peer_token = peer_token;
        self
    }

    /// Whether a request may read the peer document: what opens the
    /// operator routes, or the peer token.
    pub fn check_peer(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let operator = self.check(headers);
        match (&self.peer_token, operator) {
            (Some(peer), Err(refusal)) => check_bearer(peer, headers).map_err(|_| refusal),
            (_, operator) => operator,
        }
    }

    /// What operators should know about this rule at start-up.
    pub fn describe(&self) -> &'static str {
        match (&self.token, self.listen.ip().to_canonical().is_loopback()) {
            (Some(_), _) => "bearer token required for /status, /explain and /overrides",
            (None, true) => {
                "no admin token: /status, /explain and /overrides only for requests whose Host is a loopback address"
            }
            (None, false) => {
                "no admin token on a non-loopback address: /status, /explain and /overrides are refused; set server.admin_token_file"
            }
        }
    }

    /// Whether a request with `headers` may use an operator route; the
    /// refusal to send otherwise.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match &self.token {
            Some(token) => check_bearer(token, headers),
            None if !self.listen.ip().to_canonical().is_loopback() => Err(refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "no admin token is configured and admin_listen {} is not a loopback address: set server.admin_token_file (or {}) to use this endpoint",
                    self.listen,
                    super::token::ENV
                ),
            )),
            None => self.check_host(headers),
        }
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if host_is_local(host, self.listen) {
            Ok(())
        } else {
            Err(refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "Host {host:?} is not a loopback address: without an admin token only requests to localhost, 127.0.0.0/8, [::1] or {} are accepted",
                    self.listen
                ),
            ))
        }
    }
}

/// Middleware for the operator routes.
pub async fn require_operator(
    State(access): State<Access>,
    request: Request,
    next: Next,
) -> Response {
    match access.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Middleware for the peer document.
pub async fn require_peer(State(access): State<Access>, request: Request, next: Next) -> Response {
    match access.check_peer(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn check_bearer(token: &AdminToken, headers: &HeaderMap) -> Result<(), Refusal> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .and_then(|value| {
            let (scheme, rest) = value.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        });
    match presented {
        None => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs the admin token: Authorization: Bearer TOKEN",
        )),
        Some(presented) if token.matches(presented.trim_ascii()) => Ok(()),
        Some(_) => Err(refuse(StatusCode::FORBIDDEN, "wrong admin token")),
    }
}

/// Why a request may not use an operator route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401 or 403.
    pub status: StatusCode,
    /// What to do about it.
    pub message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gslb admin\""),
            );
        }
        response
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// Whether a Host header value names this machine's loopback or `listen`.
fn host_is_local(host: &str, listen: SocketAddr) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    let name = name.trim_end_matches('.');
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback() || ip == listen.ip(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_local() {
        let listen: SocketAddr = "127.0.0.1:9153".parse().unwrap();
        for host in [
            "localhost",
            "LOCALHOST:9153",
            "localhost.",
            "127.0.0.1:9153",
            "127.3.4.5",
            "[::1]:9153",
            "[::1]",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(host_is_local(host, listen), "{host}");
        }
        for host in [
            "",
            "attacker.example:9153",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "192.0.2.1:9153",
            "[2001:db8::1]:9153",
        ] {
            assert!(!host_is_local(host, listen), "{host}");
        }
    }
}
