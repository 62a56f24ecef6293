//! How this instance asks a peer for its document: one HTTP(S) client for
//! every peer, the bearer token, and a size cap on what is read.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};

use crate::config::secret;
use crate::model::Peering;
use crate::table::shared::document::{self, Document};

/// The environment variable that holds the admin token when no file does
/// (the admin API reads the same one).
const ADMIN_TOKEN_ENV: &str = "GSLB_ADMIN_TOKEN";

/// Largest document read from a peer. A document holds one line per
/// probed target, override and dynamic record: 100,000 targets take about
/// 10 MB.
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;

/// Why a peer's document was not taken.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not reached, or the connection failed.
    #[error("{0}")]
    Unreachable(String),
    /// Reached, but it refused or failed the request.
    #[error("it answered HTTP {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// Reached, but what it sent is not a document this instance takes.
    #[error("its document is unusable: {0}")]
    Garbage(String),
}

impl FetchError {
    /// Whether the peer answered, but with something wrong: its view
    /// stops counting at once rather than when it goes stale.
    pub fn is_garbage(&self) -> bool {
        matches!(self, Self::Garbage(_))
    }
}

/// Where the bearer token sent to peers comes from.
#[derive(Debug, Clone)]
enum Token {
    /// Read per request, so a rotated Secret takes effect without a restart.
    File(PathBuf),
    /// The admin token from `GSLB_ADMIN_TOKEN`.
    Fixed(String),
    None,
}

/// The client that fetches peers' documents.
#[derive(Debug)]
pub struct PeerClient {
    http: reqwest::Client,
    token: Token,
    user_agent: HeaderValue,
}

impl PeerClient {
    /// A client for `peering`: its CA file trusted beside the system's
    /// roots, and its token file sent, else the admin token
    /// (`admin_token_file`, else `GSLB_ADMIN_TOKEN`).
    pub fn new(peering: &Peering, admin_token_file: Option<&Path>) -> Result<Self, String> {
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(path) = &peering.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "server.peer_ca_file: cannot read {}: {}",
                    path.display(),
                    crate::config::secret::io_reason(&e)
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("server.peer_ca_file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "server.peer_ca_file {}: no PEM certificate in it",
                    path.display()
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the peer client: {}", crate::error_chain(&e)))?;
        let token = match (&peering.token_file, admin_token_file) {
            (Some(path), _) => Token::File(path.clone()),
            (None, Some(path)) => Token::File(path.to_owned()),
            (None, None) => match std::env::var(ADMIN_TOKEN_ENV) {
                Ok(token) => Token::Fixed(token.trim().to_owned()),
                Err(_) => Token::None,
            },
        };
        let user_agent = HeaderValue::try_from(peering.user_agent())
            .map_err(|e| format!("server.instance: {e}"))?;
        Ok(Self {
            http,
            token,
            user_agent,
        })
    }

    /// Asks `base`'s document from `(epoch, since)`, waiting up to `wait`
    /// for a change, within `limit` overall.
    pub async fn fetch(
        &self,
        base: &str,
        epoch: u64,
        since: u64,
        wait: Duration,
        limit: Duration,
    ) -> Result<Document, FetchError> {
        let url = format!(
            "{base}{}?epoch={epoch}&since={since}&wait={}",
            document::PATH,
            wait.as_secs()
        );
        let mut request = self
            .http
            .get(&url)
            .timeout(limit)
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(token) = self.token()? {
            request = request.header(AUTHORIZATION, token);
        }
        let unreachable = |e: reqwest::Error| FetchError::Unreachable(crate::error_chain(&e));
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = read_capped(&mut response).await?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(FetchError::Status {
                status: status.as_u16(),
                body: text,
            });
        }
        serde_json::from_slice(&body).map_err(|e| FetchError::Garbage(e.to_string()))
    }

    fn token(&self) -> Result<Option<HeaderValue>, FetchError> {
        let token = match &self.token {
            Token::None => return Ok(None),
            Token::Fixed(token) => token.clone(),
            Token::File(path) => secret::admin_token_file(path)
                .map_err(|e| FetchError::Unreachable(format!("server.peer_token_file: {e}")))?,
        };
        HeaderValue::try_from(format!("Bearer {token}"))
            .map(Some)
            .map_err(|e| FetchError::Unreachable(format!("the peer token: {e}")))
    }
}

/// The body, refused past [`MAX_DOCUMENT_BYTES`] without reading it all.
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let too_big = || FetchError::Garbage(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Unreachable(crate::error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
