//! DNS over TCP through hickory-server, which owns connection handling:
//! framing, idle timeouts, one request after another per connection.
//!
//! The handler runs the same [`Responder`] as the UDP path on the request's
//! raw bytes. hickory-server only sends typed messages, so the response is
//! decoded once and handed back; TCP carries the few truncated retries, so
//! that extra step costs nothing that matters.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use hickory_proto::op::{Header, HeaderCounts, Message, MessageType, Metadata};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use super::answer::{Responder, Transport};
use crate::metrics::Metrics;
use crate::table::SnapshotCell;

/// Most bytes hickory-server buffers per connection for responses.
const RESPONSE_BUFFER: usize = 64;

/// Answers TCP requests from the current snapshot.
#[derive(Debug, Clone)]
pub struct TcpHandler {
    cell: SnapshotCell,
    metrics: Arc<Metrics>,
}

impl TcpHandler {
    /// A handler reading snapshots from `cell`.
    pub fn new(cell: SnapshotCell, metrics: Arc<Metrics>) -> Self {
        Self { cell, metrics }
    }
}

thread_local! {
    /// One responder per runtime thread, so the RNG is seeded once.
    static RESPONDER: std::cell::RefCell<Responder> = std::cell::RefCell::new(Responder::default());
}

#[async_trait::async_trait]
impl RequestHandler for TcpHandler {
    async fn handle_request<R: ResponseHandler, T: hickory_server::net::runtime::Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let snapshot = self.cell.load();
        let mut out = Vec::with_capacity(512);
        let outcome = RESPONDER.with_borrow_mut(|r| {
            r.respond(
                &snapshot,
                request.as_slice(),
                request.src().ip(),
                Transport::Tcp,
                &mut out,
            )
        });
        self.metrics.observe(&snapshot.counters, &outcome);
        let fallback = ResponseInfo::from(Header {
            metadata: Metadata::new(
                request.metadata.id,
                MessageType::Response,
                request.metadata.op_code,
            ),
            counts: HeaderCounts::default(),
        });
        if !outcome.replied {
            return fallback;
        }
        let message = match Message::from_vec(&out) {
            Ok(message) => message,
            Err(error) => {
                warn!(%error, "cannot re-read own TCP response");
                return fallback;
            }
        };
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &message.edns {
            builder.edns(edns);
        }
        let response = builder.build(
            message.metadata,
            message.answers.iter(),
            message.authorities.iter(),
            std::iter::empty(),
            message.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                debug!(%error, client = %request.src(), "TCP send failed");
                fallback
            }
        }
    }
}

/// Binds a TCP listener and serves it with hickory-server until the
/// returned server is shut down.
pub async fn start(
    addr: SocketAddr,
    idle_timeout: Duration,
    handler: TcpHandler,
) -> std::io::Result<(SocketAddr, hickory_server::Server<TcpHandler>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let mut server = hickory_server::Server::new(handler);
    server.register_listener(listener, idle_timeout, RESPONSE_BUFFER);
    Ok((local, server))
}
