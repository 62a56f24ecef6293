//! RFC 2136 UPDATE messages on the wire: reading them, checking their TSIG
//! signature (RFC 8945) and that they are no replay, handing verified
//! changes to the table writer, and writing the (signed) response once the
//! change is on disk.
//!
//! Updates are rare and never on the query hot path. A listener hands each
//! one to [`UpdateQueue::submit`], which runs the cheap checks on the
//! listener's own thread: reading the message, one HMAC for the signature,
//! the replay check. Whatever fails them is answered right there, counted,
//! summed up in the log and, over UDP, rate limited (`update/refusal.rs`);
//! it is never queued. Only requests whose signature verified enter the update
//! task's queue, so a flood of unsigned or forged updates cannot fill it
//! nor delay a real client's. The task hands each verified update to the
//! table writer in order and answers it once the state file holds what
//! the update left (`server.state_file`; the state file writer shares one
//! write between the updates that arrive meanwhile). A UDP worker never
//! waits: the answer goes out from a clone of its socket. A TCP connection
//! awaits the answer, so its messages stay in order.
//!
//! The order of checks, and what each failure answers:
//!
//! 1. Header or records unreadable, ZOCOUNT not 1, zone type not SOA, a
//!    TSIG record that is not the last: FORMERR (RFC 2136 §3.1.1),
//!    unsigned.
//! 2. TSIG (RFC 8945 §5.2): unknown key BADKEY, bad MAC BADSIG (unsigned),
//!    a time signed further from gslb's clock than the request's fudge
//!    capped at the key's `max_fudge` BADTIME, truncated MAC BADTRUNC
//!    (signed), all NOTAUTH. A MAC accepted before, under another message
//!    id, is a replay: NOTAUTH with BADTIME (§5.2.3), signed; under its
//!    own id it is a retransmission and gets the first answer again. Every
//!    response to a request whose signature verified is signed, whatever
//!    the outcome.
//! 3. Prerequisites or changes that cannot be read (a TSIG or OPT record
//!    among them, RDATA that does not fit its type): FORMERR.
//! 4. Unsigned: NOTAUTH for a zone gslb does not serve (RFC 2136
//!    §3.1.1), else REFUSED.
//! 5. The writer: NOTAUTH for a zone gslb does not serve; REFUSED for a
//!    zone without `updates` or a key that is not one of the zone's; then
//!    prerequisites, permission, prescan and changes
//!    ([`crate::table::ddns`]).
//! 6. The answer waits until the state file holds the result; SERVFAIL if
//!    it could not be written (the change is served, but would not
//!    survive a restart; the client retries).

mod refusal;

use crate::iana::{rcode, rtype, tsig_error};
use std::{
    net::{IpAddr, SocketAddr, UdpSocket},
    sync::Arc,
};

use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, info, warn};

use super::message::{self, RawRecord, WireName};
use super::tsig::{self, Rejection, Signature};
use crate::metrics::Metrics;
use crate::metrics::ddns::UpdateResult;
use crate::table::ddns::{Refusal, Update, UpdateRr};
use crate::table::keyring::TsigKey;
use crate::table::replay::{self, Admission, ReplayGuard};
use crate::table::state_file::SavedWatch;
use crate::table::writer::{UpdateError, UpdateOutcome, WriterHandle};
use crate::table::{SnapshotCell, Table};
use refusal::{Refusals, SUMMARY_INTERVAL};

/// Verified updates waiting for the update task; more are dropped (and
/// counted), so even a flood by a key holder costs bounded memory. Only
/// verified updates come here.
const QUEUE: usize = 64;
/// Verified updates handed to the writer and waiting for their write to
/// the state file; the task takes no more from the queue meanwhile.
const IN_FLIGHT: usize = 256;

/// An UPDATE request as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The zone named in the zone section.
    pub zone: WireName,
    /// Where the zone section ends, so responses can echo it.
    pub zone_end: usize,
    /// Prerequisites and changes, or why they cannot be read (FORMERR,
    /// signed when the signature verifies).
    pub update: Result<Update, &'static str>,
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

/// Reads an UPDATE request (RFC 2136 §2). The frame (header, zone, every
/// record's extent, the TSIG record) must read, or the request is
/// [`Unreadable`]; what the prerequisites and changes say is read after,
/// into [`Request::update`], so that a malformed but signed request still
/// gets a signed FORMERR.
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
    if ztype != rtype::SOA || zclass != 1 {
        return Err(Unreadable::FormErr { zone_end: None });
    }
    let form_err = Unreadable::FormErr {
        zone_end: Some(zone_end),
    };
    let mut at = zone_end;
    let mut malformed = None;
    let prerequisites = section(packet, &mut at, prcount, &mut malformed).ok_or(form_err)?;
    let changes = section(packet, &mut at, upcount, &mut malformed).ok_or(form_err)?;
    let mut signature = None;
    for i in 0..adcount {
        let rr = message::read_record(packet, at).ok_or(form_err)?;
        at = rr.end();
        if rr.rtype == rtype::TSIG {
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
        update: match malformed {
            Some(why) => Err(why),
            None => Ok(Update {
                prerequisites,
                changes,
            }),
        },
        signature,
    })
}

/// Reads `n` records at `at` (moved past them); `None` when one does not
/// fit the message. A record that reads but cannot be taken leaves the
/// reason in `malformed`.
fn section(
    packet: &[u8],
    at: &mut usize,
    n: u16,
    malformed: &mut Option<&'static str>,
) -> Option<Vec<UpdateRr>> {
    let mut rrs = Vec::with_capacity(usize::from(n).min(64));
    for _ in 0..n {
        let rr = message::read_record(packet, *at)?;
        *at = rr.end();
        if rr.rtype == rtype::TSIG || rr.rtype == rtype::OPT {
            malformed.get_or_insert("a TSIG or OPT record outside the additional section");
            continue;
        }
        match update_rr(packet, &rr) {
            Some(rr) => rrs.push(rr),
            None => {
                malformed.get_or_insert("RDATA that does not fit its type");
            }
        }
    }
    Some(rrs)
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

/// Where the answer to an update goes.
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

impl ReplyTo {
    /// Sends `answer`; `None` tells a TCP connection there is none.
    fn send(self, answer: Option<Vec<u8>>) {
        match self {
            Self::Udp { socket, peer } => {
                if let Some(answer) = answer {
                    send_udp(&socket, peer, &answer);
                }
            }
            Self::Tcp(done) => {
                let _ = done.send(answer);
            }
        }
    }

    fn is_udp(&self) -> bool {
        matches!(self, Self::Udp { .. })
    }
}

/// An update whose signature verified and whose MAC is fresh.
#[derive(Debug)]
struct Verified {
    /// The request's header and zone section, which the response echoes.
    head: Vec<u8>,
    zone: WireName,
    update: Update,
    signature: Signature,
    key: Arc<TsigKey>,
    client: IpAddr,
}

/// A verified update waiting for the update task, and where its answer
/// goes.
#[derive(Debug)]
struct Job {
    request: Verified,
    reply: ReplyTo,
}

/// What the listeners and the update task share.
#[derive(Debug)]
struct Shared {
    metrics: Arc<Metrics>,
    refusals: Refusals,
    /// The writer's record of accepted MACs.
    replay: ReplayGuard,
}

/// The listeners' side: the checks before the queue, and the queue.
#[derive(Debug)]
struct Front {
    cell: SnapshotCell,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Job>,
}

/// What the checks before the queue decided.
enum Checked {
    /// Nothing to send.
    Silent,
    /// Send this at once (a refusal, or a retransmission's answer).
    Answer(Vec<u8>),
    /// Verified, and no replay: for the writer.
    Verified(Verified),
}

/// A request past parsing, as the checks after it see it: what a
/// refusal needs to be counted and answered.
#[derive(Clone, Copy)]
struct Asked<'p> {
    /// The request; the answer echoes its header and zone section.
    packet: &'p [u8],
    /// Where the zone section ends.
    zone_end: Option<usize>,
    client: IpAddr,
    /// Over UDP: refusals past the rate limit are counted, not sent.
    udp: bool,
}

impl Asked<'_> {
    /// The answer with `rcode` and TSIG `error`, signed with `key`, which
    /// verified the request's `signature`.
    fn signed(
        self,
        signature: &Signature,
        key: &TsigKey,
        now: u64,
        rcode: u16,
        error: u16,
    ) -> Vec<u8> {
        let mut out = response(self.packet, self.zone_end, rcode);
        tsig::Reply {
            request: signature,
            key: Some(key),
            error,
            now,
        }
        .append_to(&mut out);
        out
    }
}

/// The way from the DNS listeners to the update task. Cloned into every
/// listener; without a task behind it, updates are answered REFUSED.
#[derive(Debug, Clone, Default)]
pub struct UpdateQueue {
    front: Option<Arc<Front>>,
}

impl UpdateQueue {
    /// Checks `packet` on the caller's thread and answers it, or queues
    /// it for the writer when its signature verified. Never waits: a full
    /// queue drops the update (counted; a TCP client gets a signed
    /// SERVFAIL, a UDP client retries as after a lost datagram).
    pub fn submit(&self, packet: &[u8], client: IpAddr, reply: ReplyTo) {
        let Some(front) = &self.front else {
            let answer = match parse(packet) {
                Ok(request) => Some(response(packet, Some(request.zone_end), rcode::REFUSED)),
                Err(Unreadable::Drop) => None,
                Err(Unreadable::FormErr { zone_end }) => {
                    Some(response(packet, zone_end, rcode::FORMERR))
                }
            };
            reply.send(answer);
            return;
        };
        match front.check(packet, client, reply.is_udp()) {
            Checked::Silent => reply.send(None),
            Checked::Answer(answer) => reply.send(Some(answer)),
            Checked::Verified(request) => front.queue(Job { request, reply }),
        }
    }
}

impl Front {
    /// Steps 1 to 4 of the module docs, and the replay check. Over UDP
    /// (`udp`), refusals past the rate limit are counted and not sent.
    fn check(&self, packet: &[u8], client: IpAddr, udp: bool) -> Checked {
        // An unsigned request (no additional record can be the TSIG) over
        // the rate is dropped before it costs a parse.
        let arcount = packet.get(10..12).map(|c| u16::from_be_bytes([c[0], c[1]]));
        if udp && arcount == Some(0) && !self.shared.refusals.may_answer_udp(client) {
            return self.silence(client, UpdateResult::Unsigned);
        }
        let request = match parse(packet) {
            Ok(request) => request,
            Err(Unreadable::Drop) => return Checked::Silent,
            Err(Unreadable::FormErr { zone_end }) => {
                return self.refuse(client, udp, "", UpdateResult::FormErr, || {
                    response(packet, zone_end, rcode::FORMERR)
                });
            }
        };
        let asked = Asked {
            packet,
            zone_end: Some(request.zone_end),
            client,
            udp,
        };
        let snapshot = self.cell.load();
        let Some(signature) = request.signature else {
            // Counted against the limit before parsing already.
            let udp = udp && arcount != Some(0);
            return self.refuse_unsigned(Asked { udp, ..asked }, &request.zone, &snapshot.table);
        };
        let key = snapshot.table.keyring.get(&signature.key_name).cloned();
        drop(snapshot);
        let now = replay::unix_now();
        // RFC 8945 §5.2: the signature is checked before anything else.
        let verified = tsig::verify(packet, &signature, key.as_deref(), now);
        let key = match (verified, key) {
            (Ok(()), Some(key)) => key,
            (verified, key) => {
                let rejection = verified
                    .err()
                    .unwrap_or(Rejection::Tsig(tsig_error::BADKEY));
                return self.refuse_signature(asked, &signature, key.as_deref(), rejection, now);
            }
        };
        // Verified: every answer from here on is signed.
        let label = key.name().to_string();
        let update = match request.update {
            Ok(update) => update,
            Err(why) => {
                debug!(%client, key = %label, why, "malformed signed update");
                return self.refuse(client, udp, &label, UpdateResult::FormErr, || {
                    asked.signed(&signature, &key, now, rcode::FORMERR, 0)
                });
            }
        };
        if let Some(answered) = self.admit(asked, &signature, &key, &label, now) {
            return answered;
        }
        Checked::Verified(Verified {
            head: packet[..request.zone_end].to_vec(),
            zone: request.zone,
            update,
            signature,
            key,
            client,
        })
    }

    /// Counts and notes a refusal that gets no answer: the client is over
    /// the UDP rate limit.
    fn silence(&self, client: IpAddr, result: UpdateResult) -> Checked {
        self.shared.metrics.updates.count("", result);
        self.shared.refusals.note(client, "", result);
        Checked::Silent
    }

    /// An unsigned request for `zone`: REFUSED when gslb serves the zone
    /// (only signed updates are taken), NOTAUTH when it does not.
    fn refuse_unsigned(&self, asked: Asked<'_>, zone: &[u8], table: &Table) -> Checked {
        let served = table.zones.iter().any(|z| z.origin.wire() == zone);
        let (rcode, result) = if served {
            (rcode::REFUSED, UpdateResult::Unsigned)
        } else {
            (rcode::NOTAUTH, UpdateResult::NotAuth)
        };
        self.refuse(asked.client, asked.udp, "", result, || {
            response(asked.packet, asked.zone_end, rcode)
        })
    }

    /// Refuses a request whose signature did not verify with `key` (`None`:
    /// no such key), signed only where RFC 8945 lets an unverified request
    /// get a signed answer.
    fn refuse_signature(
        &self,
        asked: Asked<'_>,
        signature: &Signature,
        key: Option<&TsigKey>,
        rejection: Rejection,
        now: u64,
    ) -> Checked {
        let label = key.map_or("unknown".to_owned(), |k| k.name().to_string());
        let (rcode, result, error) = match rejection {
            Rejection::FormErr => (rcode::FORMERR, UpdateResult::FormErr, 0),
            Rejection::Tsig(error) => (rcode::NOTAUTH, result_of_tsig(error), error),
        };
        self.refuse(asked.client, asked.udp, &label, result, || {
            let mut out = response(asked.packet, asked.zone_end, rcode);
            if rejection != Rejection::FormErr {
                tsig::Reply {
                    request: signature,
                    key: key.filter(|_| rejection.signed()),
                    error,
                    now,
                }
                .append_to(&mut out);
            }
            out
        })
    }

    /// The replay check of a verified request: `None` when its MAC is new;
    /// else the first answer again for a retransmission under the same
    /// id, or a signed refusal (a replay, or no room to remember the MAC).
    fn admit(
        &self,
        asked: Asked<'_>,
        signature: &Signature,
        key: &TsigKey,
        label: &str,
        now: u64,
    ) -> Option<Checked> {
        let Asked {
            packet,
            client,
            udp,
            ..
        } = asked;
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        let expires = replay::expiry(signature.time_signed, signature.fudge);
        match self
            .shared
            .replay
            .admit(key.name(), &signature.mac, id, expires, now)
        {
            Admission::Fresh => None,
            Admission::Retransmission(answer) => {
                debug!(%client, key = %label, "update sent again; answered as the first time");
                let send = !udp || self.shared.refusals.may_answer_udp(client);
                Some(match answer.filter(|_| send) {
                    Some(answer) => Checked::Answer(answer.to_vec()),
                    None => Checked::Silent,
                })
            }
            Admission::Replay => {
                Some(self.refuse(client, udp, label, UpdateResult::Replay, || {
                    asked.signed(signature, key, now, rcode::NOTAUTH, tsig_error::BADTIME)
                }))
            }
            Admission::Full => Some(self.refuse(client, udp, label, UpdateResult::Refused, || {
                asked.signed(signature, key, now, rcode::REFUSED, 0)
            })),
        }
    }

    /// Queues a verified update; a full queue drops it and forgets its
    /// MAC, so the client's retry is no replay.
    fn queue(&self, job: Job) {
        if let Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) =
            self.tx.try_send(job)
        {
            let request = &job.request;
            let (key, mac) = (request.key.name(), &request.signature.mac);
            self.shared.replay.forget(key, mac);
            let label = key.to_string();
            self.shared
                .metrics
                .updates
                .count(&label, UpdateResult::Dropped);
            self.shared
                .refusals
                .note(request.client, &label, UpdateResult::Dropped);
            if !job.reply.is_udp() {
                // A TCP client waits for an answer; tell it to retry.
                let answer = request.signed_response(rcode::SERVFAIL);
                job.reply.send(Some(answer));
            }
        }
    }

    /// Counts one refusal and logs it in the interval's summary; its
    /// answer, unless it goes over UDP past the rate limit.
    fn refuse(
        &self,
        client: IpAddr,
        udp: bool,
        key: &str,
        result: UpdateResult,
        answer: impl FnOnce() -> Vec<u8>,
    ) -> Checked {
        self.shared.metrics.updates.count(key, result);
        self.shared.refusals.note(client, key, result);
        if udp && !self.shared.refusals.may_answer_udp(client) {
            return Checked::Silent;
        }
        Checked::Answer(answer())
    }
}

impl Verified {
    /// The response with `rcode`, signed with the key.
    fn signed_response(&self, rcode: u16) -> Vec<u8> {
        let mut out = response(&self.head, Some(self.head.len()), rcode);
        tsig::Reply {
            request: &self.signature,
            key: Some(&self.key),
            error: 0,
            now: replay::unix_now(),
        }
        .append_to(&mut out);
        out
    }
}

/// Starts the update task; returns the queue the listeners submit to.
/// `replay` is the writer's record of accepted MACs, `saved` the state
/// file's progress (`None` without a state file: answers do not wait).
/// The task ends when every queue clone is dropped.
pub fn spawn(
    cell: SnapshotCell,
    writer: WriterHandle,
    metrics: Arc<Metrics>,
    replay: ReplayGuard,
    saved: Option<SavedWatch>,
) -> UpdateQueue {
    let (tx, rx) = mpsc::channel::<Job>(QUEUE);
    let shared = Arc::new(Shared {
        metrics,
        refusals: Refusals::default(),
        replay,
    });
    tokio::spawn(run(rx, writer, saved, shared.clone()));
    UpdateQueue {
        front: Some(Arc::new(Front { cell, shared, tx })),
    }
}

/// The update task: hands verified updates to the writer in order, then
/// waits for each one's write in a task of its own (at most
/// [`IN_FLIGHT`]), so the updates that arrive during one write share the
/// next; sums up refusals every [`SUMMARY_INTERVAL`].
async fn run(
    mut rx: mpsc::Receiver<Job>,
    writer: WriterHandle,
    saved: Option<SavedWatch>,
    shared: Arc<Shared>,
) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut summary = tokio::time::interval(SUMMARY_INTERVAL);
    summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            job = rx.recv() => {
                let Some(mut job) = job else { break };
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let request = &mut job.request;
                let update = std::mem::take(&mut request.update);
                let pending = writer
                    .queue_update(request.zone.clone(), Some(request.key.name().clone()), update)
                    .await;
                let (saved, shared) = (saved.clone(), shared.clone());
                tokio::spawn(async move {
                    finish(job, pending, saved.as_ref(), &shared).await;
                    drop(permit);
                });
            }
            _ = summary.tick() => shared.refusals.summarize(),
        }
    }
    shared.refusals.summarize();
}

/// Waits for the writer's outcome and for the state file to hold it, then
/// answers (signed).
async fn finish(
    job: Job,
    pending: Result<oneshot::Receiver<UpdateOutcome>, UpdateError>,
    saved: Option<&SavedWatch>,
    shared: &Shared,
) {
    let stopped = || UpdateOutcome {
        result: Err(UpdateError::Stopped),
        saved: None,
    };
    let outcome = match pending {
        Ok(rx) => rx.await.unwrap_or_else(|_| stopped()),
        Err(_) => stopped(),
    };
    let durable = match (outcome.saved, saved) {
        (Some(version), Some(watch)) => watch.wait(version).await,
        _ => Ok(()),
    };
    let (mut rcode, mut result) = match &outcome.result {
        Ok(_) => (0, UpdateResult::Ok),
        Err(UpdateError::NotAuth) => (rcode::NOTAUTH, UpdateResult::NotAuth),
        Err(UpdateError::Unsigned) => (rcode::REFUSED, UpdateResult::Unsigned),
        Err(UpdateError::Refused(_)) => (rcode::REFUSED, UpdateResult::Refused),
        Err(UpdateError::Rejected(refusal)) => (refusal.rcode(), result_of_refusal(*refusal)),
        Err(UpdateError::Stopped) => (rcode::SERVFAIL, UpdateResult::Dropped),
    };
    let request = &job.request;
    let key = request.key.name().to_string();
    let zone = message_name(&request.zone);
    let client = request.client;
    match (&outcome.result, &durable) {
        (_, Err(error)) => {
            (rcode, result) = (rcode::SERVFAIL, UpdateResult::Unsaved);
            warn!(%client, zone, key, %error, "update not saved to the state file: answered SERVFAIL");
        }
        (Ok(changed), Ok(())) => info!(%client, zone, key, changed, "update applied"),
        (Err(error), Ok(())) => info!(%client, zone, key, %error, "update not applied"),
    }
    shared.metrics.updates.count(&key, result);
    let answer = request.signed_response(rcode);
    // A retransmission of the request gets this answer again.
    shared.replay.answered(
        request.key.name(),
        &request.signature.mac,
        Arc::from(&answer[..]),
    );
    job.reply.send(Some(answer));
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
        tsig_error::BADSIG => UpdateResult::BadSig,
        tsig_error::BADTIME => UpdateResult::BadTime,
        tsig_error::BADTRUNC => UpdateResult::BadTrunc,
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
