//! HTTPS for the admin API (`server.admin_tls`): the listener's TLS
//! acceptor and the handshake every connection goes through before hyper
//! sees it.
//!
//! The certificate comes from a `watch` the reload task fills
//! ([`crate::config::reload::Reloader::subscribe_admin_key`]): a renewed
//! pair is served from the next handshake on, with no restart and no lock
//! held across a handshake. What the file contents are and whether they
//! are valid is the config's business; this module only serves them.
//!
//! The handshake runs inside the connection's slot and under a deadline
//! (`server.admin_header_timeout`), so a client that opens connections and
//! never finishes a handshake holds its slots no longer than one that
//! trickles a request line. A client that speaks plain HTTP to the port
//! gets a 400 that says to use `https://`, not a TLS alert it cannot
//! read.

use std::{pin::Pin, sync::Arc, time::Duration};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::{io::AsyncWriteExt as _, net::TcpStream, sync::watch};
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use crate::metrics::admin::TlsFailure;

/// The first byte of a TLS record carrying a handshake message (a
/// ClientHello): anything else is not a TLS client.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What a plain HTTP client is told.
const PLAIN_HTTP_REPLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Connection: close\r\n\
Content-Length: 59\r\n\
\r\n\
this admin API serves HTTPS only: use an https:// URL here\n";

/// A connection after its handshake, ready for hyper.
pub type Stream = TlsStream<Pin<Box<TimeoutStream<TcpStream>>>>;

/// The admin listener's TLS side.
#[derive(Clone)]
pub struct AdminTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for AdminTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTls").finish_non_exhaustive()
    }
}

/// Hands each handshake the certificate and key in force.
#[derive(Debug)]
struct CurrentKey(watch::Receiver<Option<Arc<CertifiedKey>>>);

impl ResolvesServerCert for CurrentKey {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.borrow().clone()
    }
}

/// Why a connection ended before hyper saw it.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// No handshake within the deadline.
    #[error("no TLS handshake within {0:?}")]
    Timeout(Duration),
    /// A plain HTTP client; it was told to use HTTPS.
    #[error("plain HTTP on the HTTPS port")]
    PlainHttp,
    /// The client closed before sending anything.
    #[error("closed before a TLS handshake")]
    Closed,
    /// The handshake failed.
    #[error("TLS handshake failed: {0}")]
    Failed(std::io::Error),
}

impl HandshakeError {
    /// What the counters call it; `None` for a client that merely closed.
    pub fn counted_as(&self) -> Option<TlsFailure> {
        match self {
            Self::Timeout(_) => Some(TlsFailure::Timeout),
            Self::PlainHttp => Some(TlsFailure::PlainHttp),
            Self::Closed => None,
            Self::Failed(_) => Some(TlsFailure::Handshake),
        }
    }
}

impl AdminTls {
    /// An acceptor serving the pair in `keys` (HTTP/1.1 only, as the
    /// admin API is).
    pub fn new(keys: watch::Receiver<Option<Arc<CertifiedKey>>>) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(CurrentKey(keys)));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Runs the handshake on `stream` within `deadline`; writes stall out
    /// after `write_timeout`, as they do on plain connections.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        deadline: Duration,
        write_timeout: Duration,
    ) -> Result<Stream, HandshakeError> {
        tokio::time::timeout(deadline, self.handshake_unbounded(stream, write_timeout))
            .await
            .map_err(|_| HandshakeError::Timeout(deadline))?
    }

    async fn handshake_unbounded(
        &self,
        mut stream: TcpStream,
        write_timeout: Duration,
    ) -> Result<Stream, HandshakeError> {
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await {
            Ok(0) => return Err(HandshakeError::Closed),
            Ok(_) if first[0] != TLS_HANDSHAKE_RECORD => {
                // Best effort: the client learns why, then the connection
                // closes; a client that does not read is cut by the deadline.
                let _ = stream.write_all(PLAIN_HTTP_REPLY).await;
                let _ = stream.shutdown().await;
                return Err(HandshakeError::PlainHttp);
            }
            Ok(_) => {}
            Err(e) => return Err(HandshakeError::Failed(e)),
        }
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(write_timeout));
        self.acceptor
            .accept(Box::pin(io))
            .await
            .map_err(HandshakeError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_reply_says_its_length() {
        let text = std::str::from_utf8(PLAIN_HTTP_REPLY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
