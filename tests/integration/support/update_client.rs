//! A raw RFC 2136 client with TSIG (RFC 8945, hmac-sha256), for the update
//! tests nsupdate cannot drive: a signed message captured and sent again
//! (replays), a chosen time signed and fudge, thousands of messages a
//! second (floods), a label holding a dot. Responses are read with their
//! TSIG record, whose MAC is checked as a client would.

use std::{net::SocketAddr, time::Duration};

use base64::Engine;
use ring::hmac;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// TSIG's type, and the class ANY it lives in.
const TYPE_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;
/// Class NONE (RFC 2136 §1.3).
const CLASS_NONE: u16 = 254;
/// The wire name of hmac-sha256.
const HMAC_SHA256: &[u8] = b"\x0bhmac-sha256\x00";

/// RR types the tests name.
pub(crate) const TXT: u16 = 16;

/// An hmac-sha256 TSIG key.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// Absolute, with the trailing dot.
    pub(crate) name: String,
    pub(crate) secret: Vec<u8>,
}

impl Key {
    /// A key with a random 32-byte secret.
    pub(crate) fn generate(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            secret: rand::random::<[u8; 32]>().to_vec(),
        }
    }

    /// The same name with another secret: its MACs do not verify.
    pub(crate) fn with_other_secret(&self) -> Self {
        Self::generate(&self.name)
    }

    /// The secret as a key file holds it.
    pub(crate) fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.secret)
    }
}

/// `text` (dotted) as a wire name.
pub(crate) fn wire(text: &str) -> Vec<u8> {
    labels(&text.trim_end_matches('.').split('.').collect::<Vec<_>>())
}

/// A wire name of these labels (a label may hold any byte, dots too).
pub(crate) fn labels(labels: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for label in labels.iter().filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// TXT RDATA of these strings.
pub(crate) fn txt(strings: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in strings {
        out.push(s.len() as u8);
        out.extend_from_slice(s);
    }
    out
}

/// One record of a prerequisite or update section.
#[derive(Debug, Clone)]
pub(crate) struct Rr {
    pub(crate) name: Vec<u8>,
    pub(crate) rtype: u16,
    pub(crate) class: u16,
    pub(crate) ttl: u32,
    pub(crate) rdata: Vec<u8>,
}

impl Rr {
    /// Adds one record (class IN, TTL 60).
    pub(crate) fn add(name: Vec<u8>, rtype: u16, rdata: Vec<u8>) -> Self {
        Self {
            name,
            rtype,
            class: 1,
            ttl: 60,
            rdata,
        }
    }

    /// Deletes one record (class NONE, RFC 2136 §2.5.4).
    pub(crate) fn delete(name: Vec<u8>, rtype: u16, rdata: Vec<u8>) -> Self {
        Self {
            name,
            rtype,
            class: CLASS_NONE,
            ttl: 0,
            rdata,
        }
    }

    /// Deletes an RRset (class ANY, empty RDATA, §2.5.2).
    pub(crate) fn delete_rrset(name: Vec<u8>, rtype: u16) -> Self {
        Self {
            name,
            rtype,
            class: CLASS_ANY,
            ttl: 0,
            rdata: Vec::new(),
        }
    }

    /// Prerequisite "RRset exists" (class ANY, empty RDATA, §2.4.1).
    pub(crate) fn exists(name: Vec<u8>, rtype: u16) -> Self {
        Self::delete_rrset(name, rtype)
    }

    /// Prerequisite "RRset does not exist" (class NONE, empty RDATA, §2.4.3).
    pub(crate) fn absent(name: Vec<u8>, rtype: u16) -> Self {
        Self {
            name,
            rtype,
            class: CLASS_NONE,
            ttl: 0,
            rdata: Vec::new(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.name);
        out.extend_from_slice(&self.rtype.to_be_bytes());
        out.extend_from_slice(&self.class.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.extend_from_slice(&(self.rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.rdata);
    }
}

/// An unsigned UPDATE for `zone` with a random id.
pub(crate) fn update(zone: &str, prerequisites: &[Rr], changes: &[Rr]) -> Vec<u8> {
    let mut out = rand::random::<[u8; 2]>().to_vec();
    out.extend_from_slice(&[5 << 3, 0, 0, 1]);
    out.extend_from_slice(&(prerequisites.len() as u16).to_be_bytes());
    out.extend_from_slice(&(changes.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&wire(zone));
    out.extend_from_slice(&[0, 6, 0, 1]);
    for rr in prerequisites.iter().chain(changes) {
        rr.write(&mut out);
    }
    out
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A signed message and its MAC (which the response's MAC covers).
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) mac: Vec<u8>,
}

impl Signed {
    /// The same message under another message id, as a replaying attacker
    /// sends it: the MAC covers the original id (RFC 8945 §4.3.1), so it
    /// still verifies.
    pub(crate) fn with_new_id(&self) -> Self {
        let mut bytes = self.bytes.clone();
        let id = u16::from_be_bytes([bytes[0], bytes[1]]).wrapping_add(1);
        bytes[..2].copy_from_slice(&id.to_be_bytes());
        Self {
            bytes,
            mac: self.mac.clone(),
        }
    }
}

/// TSIG variables (RFC 8945 §4.3.3).
fn variables(key: &str, time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = wire(&key.to_ascii_lowercase());
    v.extend_from_slice(&CLASS_ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(HMAC_SHA256);
    v.extend_from_slice(&time.to_be_bytes()[2..]);
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// Signs `message` with `key` at `time` with `fudge` (RFC 8945 §4.3.1).
pub(crate) fn sign_at(mut message: Vec<u8>, key: &Key, time: u64, fudge: u16) -> Signed {
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key.secret);
    let mut context = hmac::Context::with_key(&hmac_key);
    context.update(&message);
    context.update(&variables(&key.name, time, fudge, 0, &[]));
    let mac = context.sign().as_ref().to_vec();
    let id = [message[0], message[1]];
    let arcount = u16::from_be_bytes([message[10], message[11]]) + 1;
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
    message.extend_from_slice(&wire(&key.name));
    message.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    message.extend_from_slice(&CLASS_ANY.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    message.extend_from_slice(&((HMAC_SHA256.len() + 16 + mac.len()) as u16).to_be_bytes());
    message.extend_from_slice(HMAC_SHA256);
    message.extend_from_slice(&time.to_be_bytes()[2..]);
    message.extend_from_slice(&fudge.to_be_bytes());
    message.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    message.extend_from_slice(&mac);
    message.extend_from_slice(&id);
    message.extend_from_slice(&[0, 0, 0, 0]);
    Signed {
        bytes: message,
        mac,
    }
}

/// Signs `message` now, with the fudge nsupdate and certbot use (300 s).
pub(crate) fn sign(message: Vec<u8>, key: &Key) -> Signed {
    sign_at(message, key, now(), 300)
}

/// What a response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The message id.
    pub(crate) id: u16,
    /// RCODE (4 bits: updates have no EDNS).
    pub(crate) rcode: u8,
    /// The TSIG error, when the response has a TSIG record.
    pub(crate) tsig_error: Option<u16>,
    /// Whether its TSIG MAC verified with the key (over the request's MAC).
    pub(crate) signed: bool,
}

impl Reply {
    /// NOERROR, signed with the key.
    pub(crate) fn is_signed_noerror(&self) -> bool {
        self.rcode == 0 && self.signed && self.tsig_error == Some(0)
    }
}

/// Reads a name at `at` (following pointers); the offset after it.
fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        if len & 0xC0 == 0xC0 {
            return Some(at + 2);
        }
        at += 1 + usize::from(len);
        if len == 0 {
            return Some(at);
        }
    }
}

/// Reads `response` to `request` (signed with `key`, when signed).
pub(crate) fn read_reply(response: &[u8], request: Option<(&Signed, &Key)>) -> Option<Reply> {
    let header = response.get(..12)?;
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let records = u32::from(count(6)) + u32::from(count(8)) + u32::from(count(10));
    let mut at = 12;
    for _ in 0..count(4) {
        at = skip_name(response, at)? + 4;
    }
    let mut last = None;
    for _ in 0..records {
        let start = at;
        let after = skip_name(response, at)?;
        let fixed = response.get(after..after + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        at = after + 10 + rdlength;
        last = Some((start, rtype, after + 10, at));
    }
    let mut reply = Reply {
        id: count(0),
        rcode: header[3] & 0x0F,
        tsig_error: None,
        signed: false,
    };
    let Some((start, TYPE_TSIG, rdata, end)) = last else {
        return Some(reply);
    };
    let rd = response.get(rdata..end)?;
    let algorithm_end = skip_name(rd, 0)?;
    let mut p = algorithm_end;
    let time = rd
        .get(p..p + 6)?
        .iter()
        .fold(0u64, |t, &b| (t << 8) | u64::from(b));
    let fudge = u16::from_be_bytes([rd[p + 6], rd[p + 7]]);
    let mac_len = usize::from(u16::from_be_bytes([rd[p + 8], rd[p + 9]]));
    p += 10;
    let mac = rd.get(p..p + mac_len)?;
    p += mac_len;
    let fixed = rd.get(p..p + 6)?;
    let original_id = [fixed[0], fixed[1]];
    let error = u16::from_be_bytes([fixed[2], fixed[3]]);
    let other = rd.get(p + 6..)?;
    reply.tsig_error = Some(error);
    if let Some((signed, key)) = request
        && !mac.is_empty()
    {
        let mut unsigned = response[..start].to_vec();
        unsigned[..2].copy_from_slice(&original_id);
        let arcount = count(10) - 1;
        unsigned[10..12].copy_from_slice(&arcount.to_be_bytes());
        let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key.secret);
        let mut context = hmac::Context::with_key(&hmac_key);
        context.update(&(signed.mac.len() as u16).to_be_bytes());
        context.update(&signed.mac);
        context.update(&unsigned);
        context.update(&variables(&key.name, time, fudge, error, other));
        reply.signed = context.sign().as_ref() == mac;
    }
    Some(reply)
}

/// Sends `message` over UDP from a fresh socket, `tries` times at most,
/// waiting up to `wait` for the response after each: the same bytes from
/// the same port each time, as nsupdate retries.
pub(crate) async fn udp(
    server: SocketAddr,
    message: &[u8],
    wait: Duration,
    tries: usize,
) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.ok()?;
    let mut buf = vec![0; 65535];
    for _ in 0..tries {
        socket.send_to(message, server).await.ok()?;
        if let Ok(Ok((n, _))) = tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// Sends `message` over a new TCP connection and reads one response,
/// within 10 s.
pub(crate) async fn tcp(server: SocketAddr, message: &[u8]) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.ok()?;
        let mut framed = (message.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(message);
        stream.write_all(&framed).await.ok()?;
        read_frame(&mut stream).await
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .ok()?
}

/// Reads one length-prefixed DNS message.
pub(crate) async fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.ok()?;
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// Sends a signed update over UDP (`over_tcp` false; three tries a second
/// apart, as nsupdate retries) or TCP and reads the reply; `None` when
/// none came.
pub(crate) async fn exchange(
    server: SocketAddr,
    signed: &Signed,
    key: &Key,
    over_tcp: bool,
) -> Option<Reply> {
    let response = if over_tcp {
        tcp(server, &signed.bytes).await?
    } else {
        udp(server, &signed.bytes, Duration::from_secs(1), 3).await?
    };
    read_reply(&response, Some((signed, key)))
}
