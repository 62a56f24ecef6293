//! TSIG (RFC 8945): shared-secret signatures on DNS messages. gslb checks
//! the signature of dynamic updates and of signed queries, and signs its
//! responses to them.
//!
//! Written on `ring`'s HMAC rather than hickory-proto's TSIG: hickory's is
//! a client's (it signs requests and checks responses, leaves the clock to
//! the caller and does not take truncated MACs), while a server needs the
//! checks of RFC 8945 §5.2 in their order and the error responses of §5.3.
//!
//! What gslb does, by section of RFC 8945:
//!
//! * §5.2: a TSIG record must be the last record of the message, and only
//!   one; otherwise, or when it cannot be read, FORMERR.
//! * §5.2.1: an unknown key name, or a known one with another algorithm:
//!   NOTAUTH with TSIG error BADKEY, unsigned.
//! * §5.2.2: a MAC that does not match: NOTAUTH/BADSIG, unsigned. A MAC
//!   longer than the algorithm's output or shorter than the larger of 10
//!   bytes and half the output is FORMERR (§5.2.2.1).
//! * §5.2.3: a time signed further from gslb's clock than the fudge (the
//!   request's, capped at the key's `max_fudge`, so a request cannot
//!   widen its own window): NOTAUTH/BADTIME, signed, with gslb's time in
//!   Other Data.
//! * §5.2.4: gslb's truncation policy is "full length": a MAC that is
//!   shorter than the output (though allowed by §5.2.2.1) is
//!   NOTAUTH/BADTRUNC, signed. No client of gslb's (nsupdate, certbot,
//!   cert-manager, lego) truncates.
//! * §5.3: every other response to a signed request is signed with the
//!   same key, the request's MAC first in the digest.
//!
//! Replays (§5.2.3) are refused by the update path with the MACs it
//! remembers ([`crate::table::replay`]) rather than by each key's latest
//! time signed: two ACME clients sharing a key send several updates in
//! one second, in parallel, and their seconds need not arrive in order.

use crate::iana::{class, rtype, tsig_error};
use ring::hmac;
use subtle::ConstantTimeEq;

use super::message::{self, RawRecord, WireName};
use crate::table::keyring::TsigKey as Key;

/// The fudge gslb puts in the responses it signs on its own, seconds.
pub const FUDGE: u16 = 300;

/// The TSIG record of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Where the TSIG record starts: the signed part of the message ends
    /// here.
    pub start: usize,
    /// The key name, lower-cased.
    pub key_name: WireName,
    /// The algorithm name, lower-cased.
    pub algorithm_name: WireName,
    /// Seconds since the Unix epoch (48 bits).
    pub time_signed: u64,
    /// Allowed clock difference, seconds.
    pub fudge: u16,
    /// The MAC.
    pub mac: Box<[u8]>,
    /// The message id when it was signed.
    pub original_id: u16,
    /// TSIG error (0 in requests).
    pub error: u16,
    /// Other Data (empty in requests).
    pub other: Box<[u8]>,
}

impl Signature {
    /// Reads a TSIG record found in `packet`; `None` when it cannot be
    /// interpreted (RFC 8945 §5.2: FORMERR).
    pub fn read(packet: &[u8], rr: &RawRecord) -> Option<Self> {
        if rr.rtype != rtype::TSIG || rr.class != class::ANY || rr.ttl != 0 {
            return None;
        }
        let rdata = &packet[..rr.rdata.end];
        let (algorithm_name, mut at) = message::read_name(rdata, rr.rdata.start)?;
        let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
            let bytes = rdata.get(*at..*at + n)?;
            *at += n;
            Some(bytes)
        };
        let word = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
        let time = take(&mut at, 6)?;
        let time_signed = time.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let fudge = word(take(&mut at, 2)?);
        let mac_len = usize::from(word(take(&mut at, 2)?));
        let mac = take(&mut at, mac_len)?.into();
        let original_id = word(take(&mut at, 2)?);
        let error = word(take(&mut at, 2)?);
        let other_len = usize::from(word(take(&mut at, 2)?));
        let other = take(&mut at, other_len)?.into();
        (at == rr.rdata.end).then(|| Self {
            start: rr.start,
            key_name: rr.name.clone(),
            algorithm_name,
            time_signed,
            fudge,
            mac,
            original_id,
            error,
            other,
        })
    }
}

/// Why a signed request is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The TSIG record is malformed (RFC 8945 §5.2.2.1): FORMERR, no TSIG.
    FormErr,
    /// NOTAUTH with this TSIG error (BADKEY, BADSIG: unsigned; BADTIME,
    /// BADTRUNC: signed).
    Tsig(u16),
}

impl Rejection {
    /// Whether the error response is signed (RFC 8945 §5.3.2: not when
    /// the key or the MAC failed).
    pub fn signed(self) -> bool {
        matches!(self, Self::Tsig(tsig_error::BADTIME | tsig_error::BADTRUNC))
    }
}

/// Checks `signature` of `packet` with `key` (the configured key of that
/// name, if any) at `now` (seconds since the epoch), in RFC 8945 §5.2's
/// order: key, MAC, time, truncation.
pub fn verify(
    packet: &[u8],
    signature: &Signature,
    key: Option<&Key>,
    now: u64,
) -> Result<(), Rejection> {
    let key = key
        .filter(|k| *signature.algorithm_name == *k.algorithm().wire())
        .ok_or(Rejection::Tsig(tsig_error::BADKEY))?;
    let full = key.algorithm().mac_len();
    let mac_len = signature.mac.len();
    if mac_len > full || mac_len < full.div_ceil(2).max(10) {
        return Err(Rejection::FormErr);
    }
    let expected = request_mac(packet, signature, key);
    if !bool::from(expected.as_ref()[..mac_len].ct_eq(&signature.mac)) {
        return Err(Rejection::Tsig(tsig_error::BADSIG));
    }
    let fudge = signature.fudge.min(key.max_fudge());
    if now.abs_diff(signature.time_signed) > u64::from(fudge) {
        return Err(Rejection::Tsig(tsig_error::BADTIME));
    }
    if mac_len < full {
        return Err(Rejection::Tsig(tsig_error::BADTRUNC));
    }
    Ok(())
}

/// The MAC of a request (RFC 8945 §4.3.1, §4.3.3): the message as it was
/// signed (original id, the TSIG record taken out of ARCOUNT), then the
/// TSIG variables.
fn request_mac(packet: &[u8], signature: &Signature, key: &Key) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key.hmac_key());
    let mut header = [0u8; 12];
    header.copy_from_slice(&packet[..12]);
    header[0..2].copy_from_slice(&signature.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([header[10], header[11]]).saturating_sub(1);
    header[10..12].copy_from_slice(&arcount.to_be_bytes());
    context.update(&header);
    context.update(&packet[12..signature.start]);
    context.update(&variables(
        &signature.key_name,
        &signature.algorithm_name,
        signature.time_signed,
        signature.fudge,
        signature.error,
        &signature.other,
    ));
    context.sign()
}

/// TSIG variables (RFC 8945 §4.3.3): key name, class ANY, TTL 0, algorithm
/// name (both names lower-cased and uncompressed), time signed, fudge,
/// error, other len, other data.
fn variables(
    key_name: &[u8],
    algorithm_name: &[u8],
    time_signed: u64,
    fudge: u16,
    error: u16,
    other: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(key_name.len() + algorithm_name.len() + 22 + other.len());
    v.extend_from_slice(key_name);
    v.extend_from_slice(&class::ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(algorithm_name);
    v.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// How to sign a response to a request that carried `request`.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// The request's TSIG record.
    pub request: &'a Signature,
    /// The key that verified it; `None` for the unsigned BADKEY/BADSIG
    /// answers.
    pub key: Option<&'a Key>,
    /// TSIG error to report (0 when the request verified).
    pub error: u16,
    /// gslb's clock, seconds since the epoch.
    pub now: u64,
}

impl Reply<'_> {
    /// The bytes a TSIG record for this reply adds to a response, so the
    /// answer can leave room for it.
    pub fn record_len(&self) -> usize {
        let mac = self.key.map_or(0, |k| k.algorithm().mac_len());
        let other = if self.error == tsig_error::BADTIME {
            6
        } else {
            0
        };
        self.request.key_name.len() + 10 + self.request.algorithm_name.len() + 16 + mac + other
    }

    /// Appends the TSIG record to `response` (a whole message with its
    /// header) and counts it in ARCOUNT: signed with the key when there is
    /// one (the request's MAC, then the response, then the variables),
    /// with an empty MAC otherwise.
    pub fn append_to(&self, response: &mut Vec<u8>) {
        let Some(header) = response.get_mut(..12) else {
            return;
        };
        let arcount = u16::from_be_bytes([header[10], header[11]]).saturating_add(1);
        let id = u16::from_be_bytes([header[0], header[1]]);
        // BADTIME: the request's time signed, gslb's time in Other Data,
        // so the client can see the skew (RFC 8945 §5.2.3).
        let (time_signed, other) = if self.error == tsig_error::BADTIME {
            (
                self.request.time_signed,
                self.now.to_be_bytes()[2..].to_vec(),
            )
        } else {
            (self.now, Vec::new())
        };
        let fudge = FUDGE;
        let request = self.request;
        let mac = self.key.map(|key| {
            let mut context = hmac::Context::with_key(key.hmac_key());
            context.update(&(request.mac.len() as u16).to_be_bytes());
            context.update(&request.mac);
            context.update(response);
            context.update(&variables(
                &request.key_name,
                &request.algorithm_name,
                time_signed,
                fudge,
                self.error,
                &other,
            ));
            context.sign()
        });
        let mac: &[u8] = mac.as_ref().map_or(&[], |tag| tag.as_ref());
        response[10..12].copy_from_slice(&arcount.to_be_bytes());
        response.extend_from_slice(&request.key_name);
        response.extend_from_slice(&rtype::TSIG.to_be_bytes());
        response.extend_from_slice(&class::ANY.to_be_bytes());
        response.extend_from_slice(&0u32.to_be_bytes());
        let rdlength = request.algorithm_name.len() + 16 + mac.len() + other.len();
        response.extend_from_slice(&(rdlength as u16).to_be_bytes());
        response.extend_from_slice(&request.algorithm_name);
        response.extend_from_slice(&time_signed.to_be_bytes()[2..]);
        response.extend_from_slice(&fudge.to_be_bytes());
        response.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        response.extend_from_slice(mac);
        response.extend_from_slice(&id.to_be_bytes());
        response.extend_from_slice(&self.error.to_be_bytes());
        response.extend_from_slice(&(other.len() as u16).to_be_bytes());
        response.extend_from_slice(&other);
    }
}

/// Signs a request as a client would (RFC 8945 §4.3.1), for tests of the
/// paths that verify.
#[cfg(test)]
pub(crate) fn sign_request(message: &mut Vec<u8>, key: &Key, time_signed: u64) {
    let fudge = FUDGE;
    let mut context = hmac::Context::with_key(key.hmac_key());
    context.update(message);
    context.update(&variables(
        key.name().wire(),
        key.algorithm().wire(),
        time_signed,
        fudge,
        0,
        &[],
    ));
    let tag = context.sign();
    let mac = tag.as_ref();
    let id = [message[0], message[1]];
    let arcount = u16::from_be_bytes([message[10], message[11]]) + 1;
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
    message.extend_from_slice(key.name().wire());
    message.extend_from_slice(&rtype::TSIG.to_be_bytes());
    message.extend_from_slice(&class::ANY.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    let algorithm = key.algorithm().wire();
    message.extend_from_slice(&((algorithm.len() + 16 + mac.len()) as u16).to_be_bytes());
    message.extend_from_slice(algorithm);
    message.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    message.extend_from_slice(&fudge.to_be_bytes());
    message.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    message.extend_from_slice(mac);
    message.extend_from_slice(&id);
    message.extend_from_slice(&[0, 0, 0, 0]);
}

#[cfg(test)]
mod tests;
