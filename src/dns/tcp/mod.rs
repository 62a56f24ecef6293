//! DNS over TCP: gslb's own accept loop and connection tasks, with limits.
//!
//! * `slots`: the caps on open connections, globally
//!   (`server.tcp_max_connections`, lowered to fit the fd budget) and per
//!   client prefix (`server.tcp_max_connections_per_ip`, clients grouped
//!   by `server.tcp_ipv4_prefix` / `tcp_ipv6_prefix`). At the global cap
//!   the oldest idle connection of the heaviest prefix is shed for a new
//!   one; a connection over the prefix's cap, or arriving when no
//!   connection is idle, is closed as soon as it is accepted.
//! * `accept`: the loop, which backs off when `accept` fails (EMFILE)
//!   instead of spinning, and owns its connections' tasks.
//! * `connection`: RFC 7766 framing, timeouts, in-order answers from the
//!   same [`Responder`](crate::dns::answer::Responder) as UDP.
//!
//! [`TcpListener::stop`] closes the listening socket and lets each
//! connection answer what it has received; the app bounds the wait.

mod accept;
mod connection;
mod slots;

use crate::dns::update::UpdateQueue;
use std::{io, net::SocketAddr, sync::Arc};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::warn;

pub use connection::{ConnectionSettings, MESSAGE_TIMEOUT_MAX};
pub use slots::{Slot, Slots};

use crate::metrics::Metrics;
use crate::table::SnapshotCell;

/// Connections the kernel may hold complete but not yet accepted.
const BACKLOG: i32 = 1024;

/// A running TCP listener on one address.
#[derive(Debug)]
pub struct TcpListener {
    /// The bound address.
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
    stop: CancellationToken,
}

/// Binds a listening socket. IPv6 sockets are IPv6-only, as the UDP ones
/// are, so `0.0.0.0:53` and `[::]:53` can both be listed.
pub fn bind(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    tokio::net::TcpListener::from_std(socket.into())
}

impl TcpListener {
    /// Serves `listener` until [`stop`](Self::stop); `slots` is shared by
    /// every listen address.
    pub fn start(
        listener: tokio::net::TcpListener,
        slots: Slots,
        settings: ConnectionSettings,
        cell: SnapshotCell,
        metrics: Arc<Metrics>,
        updates: UpdateQueue,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let admission = accept::Admission {
            slots,
            settings,
            cell,
            metrics,
            updates,
        };
        let task = tokio::spawn(accept::run(listener, admission, stop.clone()));
        Ok(Self {
            local_addr,
            task,
            stop,
        })
    }

    /// Closes the listening socket; open connections answer the messages
    /// they have received and close.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until the connections are done or `deadline` passes, then
    /// drops whatever is still open.
    pub async fn join(mut self, deadline: tokio::time::Instant) {
        self.stop();
        if tokio::time::timeout_at(deadline, &mut self.task)
            .await
            .is_err()
        {
            warn!(addr = %self.local_addr, "TCP connections still open at the shutdown deadline; closing them");
            self.task.abort();
            let _ = self.task.await;
        }
    }
}

/// A snapshot cell for this module's tests.
#[cfg(test)]
pub(crate) fn test_cell() -> SnapshotCell {
    use crate::table::compile::table_from_yaml;
    let table = table_from_yaml(
        r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    ttl: 30
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
records:
  - name: webapp.global.example.test.
    sets: [{ id: one, targets: [192.0.2.10] }]
"#,
    );
    SnapshotCell::fixed(crate::table::Snapshot {
        generation: 1,
        table,
        counters: Default::default(),
        health: Default::default(),
        geo: None,
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Default::default(),
    })
}
