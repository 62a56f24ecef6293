//! The UDP listener: gslb's own loop, not hickory-server's.
//!
//! hickory-server spawns a task and decodes a full `Message` per packet,
//! which caps a handler near 60k queries/s on this class of machine. Here
//! each worker is an OS thread with its own `SO_REUSEPORT` socket (the
//! kernel spreads clients across them), a reusable buffer and its own
//! [`Responder`]: per packet it loads the snapshot once, answers, and sends,
//! sharing nothing mutable with the other workers.

use std::{
    io,
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, warn};

use super::answer::{Responder, Transport};
use crate::metrics::Metrics;
use crate::table::SnapshotCell;

/// How often a blocked worker wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(200);
/// Largest query read; anything longer is cut and answered FORMERR.
const MAX_QUERY: usize = 4096;
/// Socket receive buffer, so bursts queue instead of dropping.
const RECV_BUFFER: usize = 4 << 20;

/// Running UDP workers for one listen address.
#[derive(Debug)]
pub struct UdpListener {
    /// The bound address (the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
    /// Tells the workers to return.
    stop: Arc<AtomicBool>,
}

impl UdpListener {
    /// Binds `workers` sockets to `addr` and starts a thread on each.
    pub fn start(
        addr: SocketAddr,
        workers: usize,
        cell: SnapshotCell,
        metrics: Arc<Metrics>,
    ) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let first = bind(addr)?;
        let local_addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..workers {
            sockets.push(bind(local_addr)?);
        }
        let threads = sockets
            .into_iter()
            .enumerate()
            .map(|(i, socket)| {
                let (cell, metrics, stop) = (cell.clone(), metrics.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("gslb-udp-{i}"))
                    .spawn(move || serve(socket, cell, metrics, stop))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            local_addr,
            threads,
            stop,
        })
    }

    /// Asks the workers to stop; they notice within the poll interval.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the workers and waits for them.
    pub fn join(self) {
        self.stop();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    if let Err(error) = socket.set_recv_buffer_size(RECV_BUFFER) {
        debug!(%error, "cannot enlarge the UDP receive buffer");
    }
    socket.set_read_timeout(Some(POLL))?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn serve(socket: UdpSocket, cell: SnapshotCell, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) {
    let mut responder = Responder::default();
    let mut packet = vec![0u8; MAX_QUERY];
    let mut out = Vec::with_capacity(MAX_QUERY);
    while !stop.load(Ordering::Relaxed) {
        let (len, peer) = match socket.recv_from(&mut packet) {
            Ok(received) => received,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => {
                warn!(%error, "UDP receive failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if peer.port() == 0 {
            continue; // cannot be answered; likely spoofed
        }
        let snapshot = cell.load();
        let outcome = responder.respond(
            &snapshot,
            &packet[..len],
            peer.ip(),
            Transport::Udp,
            &mut out,
        );
        metrics.observe(&snapshot.counters, &outcome);
        if outcome.replied
            && let Err(error) = socket.send_to(&out, peer)
        {
            debug!(%error, client = %peer, "UDP send failed");
        }
    }
}
