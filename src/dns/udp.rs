//! The UDP listener: gslb's own loop, not hickory-server's.
//!
//! hickory-server spawns a task and decodes a full `Message` per packet,
//! which caps a handler near 60k queries/s on this class of machine. Here
//! each worker is an OS thread with its own `SO_REUSEPORT` socket (the
//! kernel spreads clients across them), its own buffers and its own
//! [`Responder`]. A worker blocks in `recvmmsg` for up to [`BATCH`] queries
//! at once (`MSG_WAITFORONE`: it returns as soon as one is there), answers
//! them all against one snapshot load, and sends the answers with one
//! `sendmmsg`, as gdnsd and Knot do: two system calls per batch instead of
//! two per query, and no lock, allocation or async runtime per packet.
//! Each datagram takes the [request path](super::request); with
//! `server.rate_limit`, every answer then passes [`crate::rrl::response`] before it
//! is queued for sending.

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

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, warn};

use super::answer::Responder;
use super::request::{self, Handled, Transport};
use super::update::{ReplyTo, UpdateQueue};
use crate::metrics::{Metrics, latency::Sampler};
use crate::rrl;
use crate::table::SnapshotCell;

/// Largest query read; anything longer is cut and answered FORMERR. Real
/// queries (a question, an OPT with ECS and a cookie) are far smaller.
const MAX_QUERY: usize = 1536;
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
    /// The workers' sockets, to wake a worker blocked in `recvmmsg` at stop.
    /// Blocking without a read timeout saves a timer per wake-up.
    sockets: Vec<Socket>,
}

impl UdpListener {
    /// Binds `workers` sockets to `addr` and starts a thread on each.
    pub fn start(
        addr: SocketAddr,
        workers: usize,
        cell: SnapshotCell,
        metrics: Arc<Metrics>,
        updates: UpdateQueue,
    ) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let first = bind(addr)?;
        let local_addr = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("bound UDP socket has no IP address"))?;
        let mut sockets = vec![first];
        for _ in 1..workers {
            sockets.push(bind(local_addr)?);
        }
        let wakers = sockets
            .iter()
            .map(Socket::try_clone)
            .collect::<io::Result<Vec<_>>>()?;
        let threads = sockets
            .into_iter()
            .map(UdpSocket::from)
            .enumerate()
            .map(|(i, socket)| {
                let (cell, metrics, stop) = (cell.clone(), metrics.clone(), stop.clone());
                let updates = updates.clone();
                std::thread::Builder::new()
                    .name(format!("gslb-udp-{i}"))
                    .spawn(move || serve(socket, cell, metrics, stop, updates))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            local_addr,
            threads,
            stop,
            sockets: wakers,
        })
    }

    /// Asks the workers to stop and wakes them. Shutting down the read side
    /// of a UDP socket makes a blocked `recvmmsg` return at once (Linux
    /// reports ENOTCONN for an unconnected socket but still wakes readers).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        for socket in &self.sockets {
            let _ = socket.shutdown(std::net::Shutdown::Read);
        }
    }

    /// Stops the workers and waits for them.
    pub fn join(self) {
        self.stop();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // Don't fragment, and ignore cached path MTUs (IP_PMTUDISC_PROBE):
    // answers are capped at `max_udp_payload` (1232 bytes by default), a
    // fragmented DNS answer is a cache-poisoning vector (RFC 8900), and a
    // DF datagram from an unconnected socket needs no IP ID, which spares
    // the kernel a hash per answer.
    let pmtu = if addr.is_ipv6() {
        rustix::net::sockopt::set_ipv6_mtu_discover(
            &socket,
            rustix::net::sockopt::Ipv6PathMtuDiscovery::PROBE,
        )
    } else {
        rustix::net::sockopt::set_ip_mtu_discover(
            &socket,
            rustix::net::sockopt::Ipv4PathMtuDiscovery::PROBE,
        )
    };
    if let Err(error) = pmtu {
        debug!(%error, "cannot set don't-fragment on the UDP socket");
    }
    if let Err(error) = socket.set_recv_buffer_size(RECV_BUFFER) {
        debug!(%error, "cannot enlarge the UDP receive buffer");
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Queries read and answered per system call.
pub const BATCH: usize = 32;

/// Per-worker buffers, allocated once.
struct Batch {
    queries: Box<[[u8; MAX_QUERY]; BATCH]>,
    /// (length, client) of each query received.
    received: [(usize, Option<SocketAddr>); BATCH],
    responses: [Vec<u8>; BATCH],
    /// Client address of each response to send, in order.
    peers: [Option<SockaddrStorage>; BATCH],
}

impl Batch {
    fn new() -> Self {
        Self {
            queries: Box::new([[0; MAX_QUERY]; BATCH]),
            received: [(0, None); BATCH],
            responses: std::array::from_fn(|_| Vec::with_capacity(MAX_QUERY)),
            peers: [None; BATCH],
        }
    }
}

fn serve(
    socket: UdpSocket,
    cell: SnapshotCell,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    updates: UpdateQueue,
) {
    let fd = socket.as_raw_fd();
    // Update answers are sent from the update task through this clone.
    let reply_socket = socket.try_clone().ok().map(Arc::new);
    let mut responder = Responder::default();
    let mut batch = Batch::new();
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut sampler = Sampler::default();
    while !stop.load(Ordering::Relaxed) {
        let count = match receive(fd, &mut recv_headers, &mut batch) {
            Ok(count) => count,
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(error) => {
                warn!(%error, "UDP receive failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Every query of the batch is sent at its end: a sampled query's
        // time in the server is the batch's.
        let timed = sampler.take(count).then(std::time::Instant::now);
        let snapshot = cell.load();
        let limiter = snapshot.rate_limiter.as_deref().map(|l| (l, l.now()));
        let mut replies = 0;
        for i in 0..count {
            let (len, Some(peer)) = batch.received[i] else {
                continue;
            };
            if peer.port() == 0 {
                continue; // cannot be answered; likely spoofed
            }
            let packet = &batch.queries[i][..len];
            let out = &mut batch.responses[replies];
            let outcome = match request::handle(
                &mut responder,
                &snapshot,
                &metrics,
                packet,
                peer.ip(),
                Transport::Udp,
                out,
            ) {
                Handled::Reply(outcome) => outcome,
                Handled::Update => {
                    if let Some(socket) = &reply_socket {
                        let socket = socket.clone();
                        updates.submit(packet, peer.ip(), ReplyTo::Udp { socket, peer });
                    }
                    continue;
                }
            };
            if outcome.replied
                && limiter.is_none_or(|(l, now)| {
                    rrl::response::admit(l, peer.ip(), &outcome.rrl(), out, now, &metrics.rrl)
                })
            {
                batch.peers[replies] = Some(SockaddrStorage::from(peer));
                replies += 1;
            }
        }
        drop(snapshot);
        send(fd, &mut send_headers, &batch, replies);
        if let Some(started) = timed {
            metrics.dns_latency.udp.observe(started.elapsed());
        }
    }
}

/// Blocks until at least one query arrives (or the read timeout passes);
/// records each query's length and client in `batch.received`.
fn receive(
    fd: RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    batch: &mut Batch,
) -> nix::Result<usize> {
    let mut slices = batch.queries.each_mut().map(|q| [IoSliceMut::new(q)]);
    let results = recvmmsg(
        fd,
        headers,
        slices.iter_mut(),
        MsgFlags::MSG_WAITFORONE,
        None,
    )?;
    let mut count = 0;
    for (slot, message) in batch.received.iter_mut().zip(results) {
        *slot = (message.bytes, message.address.and_then(to_socket_addr));
        count += 1;
    }
    Ok(count)
}

/// Sends the first `count` responses, retrying what the kernel did not take.
fn send(fd: RawFd, headers: &mut MultiHeaders<SockaddrStorage>, batch: &Batch, count: usize) {
    let mut sent = 0;
    while sent < count {
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(&batch.responses[i])]);
        let pending = &slices[sent..count];
        match sendmmsg(
            fd,
            headers,
            pending,
            &batch.peers[sent..count],
            [],
            MsgFlags::empty(),
        ) {
            Ok(results) => {
                let n = results.count();
                if n == 0 {
                    break;
                }
                sent += n;
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => {
                debug!(dropped = count - sent, "UDP send buffer full");
                break;
            }
            Err(error) => {
                // One bad destination fails the call: skip it, send the rest.
                debug!(%error, "UDP send failed");
                sent += 1;
            }
        }
    }
}

fn to_socket_addr(addr: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6((*v6).into()))
}
