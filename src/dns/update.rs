//! RFC 2136 UPDATE messages on the wire: reading them, checking their TSIG
//! signature (RFC 8945), handing the change to the table writer and
//! writing the (signed) response.
//!
//! Updates are rare and never on the query hot path. A UDP worker does not
//! wait for one: it queues the packet ([`UpdateQueue`]) and goes on; the
//! update task answers from a clone of the worker's socket. A TCP
//! connection awaits the answer, so its messages stay in order.
//!
//! The order of checks, and what each failure answers:
//!
//! 1. Header or sections unreadable, ZOCOUNT not 1, zone type not SOA:
//!    FORMERR (RFC 2136 §3.1.1), unsigned.
//! 2. TSIG (RFC 8945 §5.2): unknown key BADKEY, bad MAC BADSIG, clock
//!    BADTIME, all NOTAUTH. Signed requests that verify get signed
//!    responses, whatever the outcome.
//! 3. A zone gslb does not serve: NOTAUTH (RFC 2136 §3.1.1).
//! 4. A zone without `updates`, an unsigned request, or a key that is not
//!    one of the zone's: REFUSED.
//! 5. The writer applies prerequisites, permission, prescan and changes
//!    ([`crate::table::dynamic_zone`]).

use std::{
    net::{IpAddr, SocketAddr, UdpSocket},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::message::{self, RawRecord, TYPE_TSIG, WireName};
use super::tsig::{self, Rejection, Signature};
use crate::metrics::Metrics;
use crate::metrics::updates::UpdateResult;
use crate::table::SnapshotCell;
use crate::table::dynamic_zone::{Refusal, Update, UpdateRr};
use crate::table::keyring::TsigKey;
use crate::table::writer::{UpdateError, WriterHandle};

/// Opcode UPDATE.
pub const OPCODE_UPDATE: u8 = 5;
/// RCODE FORMERR.
const FORMERR: u16 = 1;
/// RCODE SERVFAIL.
const SERVFAIL: u16 = 2;
/// RCODE REFUSED.
const REFUSED: u16 = 5;
/// RCODE NOTAUTH.
const NOTAUTH: u16 = 9;
/// RR type SOA.
const TYPE_SOA: u16 = 6;
/// RR type OPT.
const TYPE_OPT: u16 = 41;
/// Updates waiting for the update task; more are dropped (and counted),
/// so a flood of updates costs a bounded amount of memory.
const QUEUE: usize = 64;

/// Whether `packet` is an UPDATE request (the transports route it here).
#[inline]
pub fn is_update(packet: &[u8]) -> bool {
    packet
        .get(2)
        .is_some_and(|b| (b >> 3) & 0x0F == OPCODE_UPDATE)
}

/// An UPDATE request as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The zone named in the zone section.
    pub zone: WireName,
    /// Where the zone section ends, so responses can echo it.
    pub zone_end: usize,
    /// Prerequisites and changes.
    pub update: Update,
    /// The TSIG record, when signed.
    pub signature: Option<Signature>,
}

/// Why a request cannot be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// No answer at all: not a whole header, or a response.
    Drop,
    /// FORMERR; the zone section is echoed when it ended at `zone_end`.
    FormErr {
        /// End of a readable zone section.
        zone_end: Option<usize>,
    },
}

/// Reads an UPDATE request (RFC 2136 §2).
pub fn parse(packet: &[u8]) -> Result<Request, Unreadable> {
    let header = packet.get(..12).ok_or(Unreadable::Drop)?;
    if header[2] & 0x80 != 0 {
        return Err(Unreadable::Drop);
    }
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let (zocount, prcount, upcount, adcount) = (count(4), count(6), count(8), count(10));
    if zocount != 1 {
        return Err(Unreadable::FormErr { zone_end: None });
    }
    let (zone, ztype, zclass, zone_end) =
        message::read_question(packet, 12).ok_or(Unreadable::FormErr { zone_end: None })?;
    if ztype != TYPE_SOA || zclass != 1 {
        return Err(Unreadable::FormErr { zone_end: None });
    }
    let form_err = Unreadable::FormErr {
        zone_end: Some(zone_end),
    };
    let mut at = zone_end;
    let mut section = |n: u16| -> Result<Vec<UpdateRr>, Unreadable> {
        let mut rrs = Vec::with_capacity(usize::from(n).min(64));
        for _ in 0..n {
            let rr = message::read_record(packet, at).ok_or(form_err)?;
            at = rr.end();
            if rr.rtype == TYPE_TSIG || rr.rtype == TYPE_OPT {
                return Err(form_err);
            }
            rrs.push(update_rr(packet, &rr).ok_or(form_err)?);
        }
        Ok(rrs)
    };
    let prerequisites = section(prcount)?;
    let changes = section(upcount)?;
    let mut signature = None;
    for i in 0..adcount {
        let rr = message::read_record(packet, at).ok_or(form_err)?;
        at = rr.end();
        if rr.rtype == TYPE_TSIG {
            // RFC 8945 §5.2: only one, and the last record.
            if i + 1 != adcount || rr.end() != packet.len() {
                return Err(form_err);
            }
            signature = Some(Signature::read(packet, &rr).ok_or(form_err)?);
        }
    }
    if at != packet.len() {
        return Err(form_err);
    }
    Ok(Request {
        zone,
        zone_end,
        update: Update {
            prerequisites,
            changes,
        },
        signature,
    })
}

fn update_rr(packet: &[u8], rr: &RawRecord) -> Option<UpdateRr> {
    let rdata = message::canonical_rdata(packet, rr.rtype, rr.rdata.clone())?;
    Some(UpdateRr {
        name: rr.name.clone(),
        rtype: rr.rtype,
        class: rr.class,
        ttl: rr.ttl,
        rdata: rdata.into(),
    })
}

/// A response: the request's id and opcode, QR, `rcode`, and the zone
/// section when it was readable (RFC 2136 §3.8 lets a server echo it or
/// not; BIND and dnspython echo it).
fn response(packet: &[u8], zone_end: Option<usize>, rcode: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(zone_end.unwrap_or(12) + 128);
    out.extend_from_slice(&packet[..2]);
    // QR, the request's opcode; AA, TC, RD, RA, Z clear.
    out.push(0x80 | (packet[2] & 0x78));
    out.push((rcode & 0x0F) as u8);
    let zocount: u16 = zone_end.map_or(0, |_| 1);
    out.extend_from_slice(&zocount.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    if let Some(end) = zone_end {
        out.extend_from_slice(&packet[12..end]);
    }
    out
}

/// Where the answer to a queued update goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// Sent from a clone of the UDP worker's socket.
    Udp {
        /// The worker's socket.
        socket: Arc<UdpSocket>,
        /// The client.
        peer: SocketAddr,
    },
    /// Handed back to the TCP connection.
    Tcp(oneshot::Sender<Option<Vec<u8>>>),
}

/// One update waiting for the update task.
#[derive(Debug)]
struct Job {
    packet: Vec<u8>,
    client: IpAddr,
    reply: ReplyTo,
}

/// The way from the DNS listeners to the update task. Cloned into every
/// listener; without a task behind it, updates are answered REFUSED.
#[derive(Debug, Clone, Default)]
pub struct UpdateQueue {
    tx: Option<mpsc::Sender<Job>>,
    metrics: Option<Arc<Metrics>>,
}

impl UpdateQueue {
    /// Queues `packet` without waiting; a full queue drops it (counted):
    /// the client retries, as it would after a lost datagram.
    pub fn submit(&self, packet: &[u8], client: IpAddr, reply: ReplyTo) {
        let Some(tx) = &self.tx else {
            if let ReplyTo::Udp { socket, peer } = reply {
                if let Ok(Request { zone_end, .. }) = parse(packet) {
                    send_udp(&socket, peer, &response(packet, Some(zone_end), REFUSED));
                }
            } else if let ReplyTo::Tcp(done) = reply {
                let answer = match parse(packet) {
                    Ok(request) => Some(response(packet, Some(request.zone_end), REFUSED)),
                    Err(Unreadable::Drop) => None,
                    Err(Unreadable::FormErr { zone_end }) => {
                        Some(response(packet, zone_end, FORMERR))
                    }
                };
                let _ = done.send(answer);
            }
            return;
        };
        let job = Job {
            packet: packet.to_vec(),
            client,
            reply,
        };
        if let Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) =
            tx.try_send(job)
        {
            if let Some(metrics) = &self.metrics {
                metrics.updates.count("", UpdateResult::Dropped);
            }
            if let ReplyTo::Tcp(done) = job.reply {
                // A TCP client waits for an answer; tell it to retry.
                let answer = parse(&job.packet)
                    .ok()
                    .map(|r| response(&job.packet, Some(r.zone_end), SERVFAIL));
                let _ = done.send(answer);
            }
        }
    }
}

/// Starts the update task; returns the queue the listeners submit to.
/// The task ends when every queue clone is dropped.
pub fn spawn(cell: SnapshotCell, writer: WriterHandle, metrics: Arc<Metrics>) -> UpdateQueue {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
    let task_metrics = metrics.clone();
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let answer = handle(&job.packet, job.client, &cell, &writer, &task_metrics).await;
            match job.reply {
                ReplyTo::Udp { socket, peer } => {
                    if let Some(answer) = answer {
                        send_udp(&socket, peer, &answer);
                    }
                }
                ReplyTo::Tcp(done) => {
                    let _ = done.send(answer);
                }
            }
        }
    });
    UpdateQueue {
        tx: Some(tx),
        metrics: Some(metrics),
    }
}

/// Sends without blocking: the socket is shared with a worker thread that
/// blocks in `recvmmsg`, so it cannot be made non-blocking itself.
fn send_udp(socket: &UdpSocket, peer: SocketAddr, answer: &[u8]) {
    let flags = nix::sys::socket::MsgFlags::MSG_DONTWAIT;
    let to = nix::sys::socket::SockaddrStorage::from(peer);
    if let Err(error) =
        nix::sys::socket::sendto(std::os::fd::AsRawFd::as_raw_fd(socket), answer, &to, flags)
    {
        debug!(%error, %peer, "cannot send an update response");
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Processes one UPDATE: returns the response, or `None` when there is
/// nothing to answer.
pub async fn handle(
    packet: &[u8],
    client: IpAddr,
    cell: &SnapshotCell,
    writer: &WriterHandle,
    metrics: &Metrics,
) -> Option<Vec<u8>> {
    let request = match parse(packet) {
        Ok(request) => request,
        Err(Unreadable::Drop) => return None,
        Err(Unreadable::FormErr { zone_end }) => {
            metrics.updates.count("", UpdateResult::FormErr);
            debug!(%client, "malformed update");
            return Some(response(packet, zone_end, FORMERR));
        }
    };
    let keyring = cell.load().table.keyring.clone();
    let zone_end = Some(request.zone_end);
    // RFC 8945 §5.2: the signature is checked before anything else.
    let key: Option<Arc<TsigKey>> = match &request.signature {
        None => None,
        Some(signature) => {
            let key = keyring.get(&signature.key_name).cloned();
            match tsig::verify(packet, signature, key.as_deref(), now()) {
                Ok(()) => key,
                Err(rejection) => {
                    let label = key
                        .as_ref()
                        .map_or("unknown".to_owned(), |k| k.name().to_string());
                    let (rcode, result, error) = match rejection {
                        Rejection::FormErr => (FORMERR, UpdateResult::FormErr, 0),
                        Rejection::Tsig(error) => (NOTAUTH, result_of_tsig(error), error),
                    };
                    metrics.updates.count(&label, result);
                    warn!(%client, key = %label, result = result.label(), "update signature rejected");
                    let mut out = response(packet, zone_end, rcode);
                    if rejection != Rejection::FormErr {
                        tsig::Reply {
                            request: signature,
                            key: key.as_deref().filter(|_| rejection.signed()),
                            error,
                            now: now(),
                        }
                        .append_to(&mut out);
                    }
                    return Some(out);
                }
            }
        }
    };
    let key_label = key.as_ref().map_or(String::new(), |k| k.name().to_string());
    let outcome = writer
        .update(
            request.zone.clone(),
            key.as_ref().map(|k| k.name().clone()),
            request.update,
        )
        .await;
    let (rcode, result) = match &outcome {
        Ok(_) => (0, UpdateResult::Ok),
        Err(UpdateError::NotAuth) => (NOTAUTH, UpdateResult::NotAuth),
        Err(UpdateError::Unsigned) => (REFUSED, UpdateResult::Unsigned),
        Err(UpdateError::Refused(_)) => (REFUSED, UpdateResult::Refused),
        Err(UpdateError::Rejected(refusal)) => (refusal.rcode(), result_of_refusal(*refusal)),
        Err(UpdateError::Stopped) => (SERVFAIL, UpdateResult::Dropped),
    };
    metrics.updates.count(&key_label, result);
    let zone = message_name(&request.zone);
    match &outcome {
        Ok(changed) => info!(%client, zone, key = %key_label, changed, "update applied"),
        Err(error) => info!(%client, zone, key = %key_label, %error, "update not applied"),
    }
    let mut out = response(packet, zone_end, rcode);
    if let (Some(signature), Some(key)) = (&request.signature, &key) {
        tsig::Reply {
            request: signature,
            key: Some(key),
            error: 0,
            now: now(),
        }
        .append_to(&mut out);
    }
    Some(out)
}

/// A wire name as text for logs (labels joined by dots, bytes escaped).
fn message_name(wire: &[u8]) -> String {
    let mut text = String::new();
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 {
            break;
        }
        let label = wire
            .get(at + 1..at + 1 + usize::from(len))
            .unwrap_or_default();
        text.push_str(&label.escape_ascii().to_string());
        text.push('.');
        at += 1 + usize::from(len);
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

/// The metric result of a TSIG error.
fn result_of_tsig(error: u16) -> UpdateResult {
    match error {
        tsig::BADSIG => UpdateResult::BadSig,
        tsig::BADTIME => UpdateResult::BadTime,
        tsig::BADTRUNC => UpdateResult::BadTrunc,
        _ => UpdateResult::BadKey,
    }
}

/// The metric result of an update the writer turned down.
fn result_of_refusal(refusal: Refusal) -> UpdateResult {
    match refusal {
        Refusal::FormErr(_) => UpdateResult::FormErr,
        Refusal::Refused(_) => UpdateResult::Refused,
        Refusal::NotZone => UpdateResult::NotZone,
        Refusal::NxDomain | Refusal::YxDomain | Refusal::YxRrset | Refusal::NxRrset => {
            UpdateResult::Prereq
        }
    }
}

#[cfg(test)]
mod tests;
