//! One DNS-over-TCP connection (RFC 7766): 2-byte length-prefixed
//! messages, each taken through the [request path](crate::dns::request)
//! in order, as UDP's are, its bytes written straight back.
//!
//! Every wait has a clock: a connection with no message under way is
//! closed after the idle timeout; once the first byte of a message has
//! arrived, the whole message must arrive within the message timeout, so a
//! client that trickles a 64 KiB frame cannot hold its slot for long; a
//! client that does not read its answers is dropped after the same time.
//! Buffers grow with the bytes that actually arrive (never to a length a
//! client merely announced) and shrink back when the connection goes idle,
//! so idle and stalled connections cost little memory.
//!
//! An idle connection tells its [`Slot`] so, and closes when the slot
//! sheds it to admit another client at the connection cap.
//!
//! On stop, an idle connection answers what has already arrived in its
//! socket and closes; a message under way is finished and answered first.

use std::{net::IpAddr, sync::Arc, time::Duration};

use futures_util::FutureExt as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

use super::slots::Slot;
use crate::dns::answer::Responder;
use crate::dns::request::{self, Handled, Transport};
use crate::dns::update::{ReplyTo, UpdateQueue};
use crate::metrics::{Metrics, latency::Sampler, tcp::Timeout};
use crate::table::SnapshotCell;

/// The clocks of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// A connection with no message under way is closed after this long.
    pub idle_timeout: Duration,
    /// A message must arrive whole this long after its first byte, and a
    /// batch of answers must be taken by the client within it.
    pub message_timeout: Duration,
}

/// Longest [`ConnectionSettings::message_timeout`]: real queries are a few
/// dozen bytes and arrive in one segment.
pub const MESSAGE_TIMEOUT_MAX: Duration = Duration::from_secs(5);

impl ConnectionSettings {
    /// Settings for `idle_timeout`; the message timeout is the shorter of
    /// it and [`MESSAGE_TIMEOUT_MAX`].
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            idle_timeout,
            message_timeout: idle_timeout.min(MESSAGE_TIMEOUT_MAX),
        }
    }
}

/// Buffer capacity kept by an idle connection; more is given back.
const KEEP: usize = 1024;
/// Answers are written once this many bytes are queued, so a client that
/// pipelines thousands of queries cannot make gslb hold all their answers.
const FLUSH_AT: usize = 64 * 1024;
/// Most bytes asked of one read.
const READ_CHUNK: usize = 16 * 1024;
/// Longest wait for an update's answer; the client retries after it.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes asked of a read before a message's length is known.
const FIRST_READ: usize = 512;

thread_local! {
    /// One responder per runtime thread: its RNG is seeded once and its
    /// scratch memory is shared by every connection the thread serves.
    static RESPONDER: std::cell::RefCell<Responder> = std::cell::RefCell::new(Responder::default());
    /// Picks the TCP queries whose answer time is measured, across every
    /// connection the thread serves.
    static SAMPLER: std::cell::RefCell<Sampler> = std::cell::RefCell::new(Sampler::default());
}

/// A client sent a zero-length message; RFC 7766 has no use for one.
#[derive(Debug)]
struct ZeroLength;

/// The connection's byte buffers.
#[derive(Debug, Default)]
struct Buffers {
    /// Bytes received and not yet answered: at most one partial message
    /// between reads.
    inbox: Vec<u8>,
    /// Length-prefixed answers waiting to be written.
    outbox: Vec<u8>,
    /// The answer being built.
    response: Vec<u8>,
}

impl Buffers {
    /// Gives back capacity beyond [`KEEP`], when nothing is under way.
    fn release(&mut self) {
        for buffer in [&mut self.inbox, &mut self.outbox, &mut self.response] {
            if buffer.capacity() > KEEP {
                buffer.shrink_to(KEEP);
            }
        }
    }

    /// How many bytes the next read should make room for: what the message
    /// under way still lacks, in chunks.
    fn wanted(&self) -> usize {
        match self.inbox.get(..2) {
            Some(&[hi, lo]) => {
                let total = 2 + usize::from(u16::from_be_bytes([hi, lo]));
                total.saturating_sub(self.inbox.len()).clamp(1, READ_CHUNK)
            }
            _ => FIRST_READ,
        }
    }
}

/// A client connection and what it needs to answer.
#[derive(Debug)]
pub(crate) struct Connection<S> {
    stream: S,
    client: IpAddr,
    settings: ConnectionSettings,
    cell: SnapshotCell,
    metrics: Arc<Metrics>,
    buffers: Buffers,
    /// Where UPDATE messages go; answered REFUSED without a queue.
    updates: UpdateQueue,
    /// The message at the front of the inbox is an UPDATE, for
    /// [`Connection::answer_update`].
    update_next: bool,
    /// When a sampled query's answer began, until it is written
    /// (`gslb_dns_response_seconds{transport="tcp"}`).
    timed: Option<std::time::Instant>,
    /// The connection's place under the caps, told when it is idle.
    slot: Option<Slot>,
    /// Cancelled when the slot is shed (never without a slot).
    shed: CancellationToken,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// A connection from `client` on `stream`.
    pub(crate) fn new(
        stream: S,
        client: IpAddr,
        settings: ConnectionSettings,
        cell: SnapshotCell,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            stream,
            client,
            settings,
            cell,
            metrics,
            buffers: Buffers::default(),
            updates: UpdateQueue::default(),
            update_next: false,
            timed: None,
            slot: None,
            shed: CancellationToken::new(),
        }
    }

    /// Holds `slot` while it serves, marking it idle between messages so
    /// it can be shed, and closes when it is.
    pub(crate) fn with_slot(mut self, slot: Slot) -> Self {
        self.shed = slot.shed_signal();
        self.slot = Some(slot);
        self
    }

    /// Sends UPDATE messages to `updates`.
    pub(crate) fn with_updates(mut self, updates: UpdateQueue) -> Self {
        self.updates = updates;
        self
    }

    /// Answers messages until the client closes, a clock runs out, an I/O
    /// error occurs, or `stop` fires and what had arrived is answered.
    pub(crate) async fn serve(mut self, stop: CancellationToken) {
        // When the first byte of the message under way arrived.
        let mut started: Option<Instant> = None;
        let mut stopping = false;
        loop {
            if !self.answer_and_flush(&mut started).await {
                return;
            }
            if self.buffers.inbox.is_empty() {
                self.buffers.release();
                if stopping {
                    // Answer what the socket already holds, then close.
                    if self.read_now() {
                        started = Some(Instant::now());
                        continue;
                    }
                    return;
                }
            }
            let deadline = match started {
                None => {
                    if let Some(slot) = &self.slot {
                        slot.idle();
                    }
                    Instant::now() + self.settings.idle_timeout
                }
                Some(at) => at + self.settings.message_timeout,
            };
            let want = self.buffers.wanted();
            self.buffers.inbox.reserve_exact(want);
            let read = tokio::select! {
                biased;
                () = self.shed.cancelled(), if started.is_none() => return,
                () = stop.cancelled(), if !stopping && started.is_none() => {
                    stopping = true;
                    continue;
                }
                read = timeout_at(deadline, self.stream.read_buf(&mut self.buffers.inbox)) => read,
            };
            match read {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(_)) => {
                    if started.is_none() {
                        if let Some(slot) = &self.slot {
                            slot.busy();
                        }
                        started = Some(Instant::now());
                    }
                }
                Err(_elapsed) => {
                    let kind = if started.is_some() {
                        Timeout::Message
                    } else {
                        Timeout::Idle
                    };
                    self.metrics.tcp.timed_out(kind);
                    return;
                }
            }
        }
    }

    /// Answers every whole message received and writes the answers.
    /// Returns false when the connection must close.
    async fn answer_and_flush(&mut self, started: &mut Option<Instant>) -> bool {
        loop {
            match self.answer_whole_messages() {
                Ok(0) => {}
                // What is left is the start of the next message.
                Ok(_) => *started = (!self.buffers.inbox.is_empty()).then(Instant::now),
                Err(ZeroLength) => return false,
            }
            if self.answer_update().await {
                *started = (!self.buffers.inbox.is_empty()).then(Instant::now);
                continue;
            }
            if self.buffers.outbox.is_empty() {
                return true;
            }
            if !self.flush().await {
                return false;
            }
        }
    }

    /// Answers the whole messages at the front of the inbox, in order,
    /// into the outbox (up to [`FLUSH_AT`]); returns the bytes consumed.
    fn answer_whole_messages(&mut self) -> Result<usize, ZeroLength> {
        let Self {
            client,
            cell,
            metrics,
            buffers,
            update_next,
            timed,
            ..
        } = self;
        let Buffers {
            inbox,
            outbox,
            response,
        } = buffers;
        let mut consumed = 0;
        let mut snapshot = None;
        while outbox.len() < FLUSH_AT {
            let rest = &inbox[consumed..];
            let Some(&[hi, lo]) = rest.get(..2) else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if len == 0 {
                return Err(ZeroLength);
            }
            let Some(packet) = rest.get(2..2 + len) else {
                break;
            };
            let snapshot = snapshot.get_or_insert_with(|| cell.load());
            if timed.is_none() && SAMPLER.with_borrow_mut(|s| s.take(1)) {
                *timed = Some(std::time::Instant::now());
            }
            let handled = RESPONDER.with_borrow_mut(|r| {
                request::handle(
                    r,
                    snapshot,
                    metrics,
                    packet,
                    *client,
                    Transport::Tcp,
                    response,
                )
            });
            let outcome = match handled {
                Handled::Reply(outcome) => outcome,
                Handled::Update => {
                    *update_next = true;
                    // An update's answer waits for the update path: not
                    // the query answer time this measures.
                    *timed = None;
                    break; // answered by `answer_update`, which may wait
                }
            };
            // A TCP answer is at most 65,535 bytes: the answer engine cuts it there.
            if let (true, Ok(n)) = (outcome.replied, u16::try_from(response.len())) {
                outbox.extend_from_slice(&n.to_be_bytes());
                outbox.extend_from_slice(response);
            }
            consumed += 2 + len;
        }
        inbox.drain(..consumed);
        Ok(consumed)
    }

    /// Answers the UPDATE message at the front of the inbox, if the
    /// request path found one there, after the answers before it; true if
    /// it did.
    async fn answer_update(&mut self) -> bool {
        if !std::mem::take(&mut self.update_next) {
            return false;
        }
        let inbox = &self.buffers.inbox;
        let Some(&[hi, lo]) = inbox.get(..2) else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(packet) = inbox.get(2..2 + len) else {
            return false;
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        self.updates.submit(packet, self.client, ReplyTo::Tcp(done));
        let answer = timeout_at(Instant::now() + UPDATE_TIMEOUT, answer).await;
        if let Ok(Ok(Some(answer))) = answer
            && let Ok(n) = u16::try_from(answer.len())
        {
            self.buffers.outbox.extend_from_slice(&n.to_be_bytes());
            self.buffers.outbox.extend_from_slice(&answer);
        }
        self.buffers.inbox.drain(..2 + len);
        true
    }

    /// Writes the outbox; false when the client did not take it in time.
    async fn flush(&mut self) -> bool {
        let deadline = Instant::now() + self.settings.message_timeout;
        match timeout_at(deadline, self.stream.write_all(&self.buffers.outbox)).await {
            Ok(Ok(())) => {
                self.buffers.outbox.clear();
                if let Some(started) = self.timed.take() {
                    self.metrics.dns_latency.tcp.observe(started.elapsed());
                }
                true
            }
            Ok(Err(_)) => false,
            Err(_elapsed) => {
                self.metrics.tcp.timed_out(Timeout::Write);
                false
            }
        }
    }

    /// Reads what the socket holds without waiting; true if bytes came.
    fn read_now(&mut self) -> bool {
        let want = self.buffers.wanted();
        self.buffers.inbox.reserve_exact(want);
        matches!(
            self.stream.read_buf(&mut self.buffers.inbox).now_or_never(),
            Some(Ok(n)) if n > 0
        )
    }
}

#[cfg(test)]
mod tests;
