//! Replay protection for TSIG-signed updates (RFC 8945 §5.2.3): the MACs
//! of the signed requests gslb accepted, per key, each kept until its
//! request's time signed is out of every window gslb could accept it in.
//!
//! A captured update that verifies once verifies again under any message
//! id, so a signature alone does not stop an attacker from replaying an
//! old add after its delete, or an old delete after a fresh add. RFC 8945
//! suggests remembering each key's latest time signed, but time signed has
//! one-second granularity and clients send several updates within one
//! second (certbot, nsupdate), some in parallel: "later than the last"
//! would refuse them. A MAC, which covers the whole message and its time,
//! names one request exactly, so the rule here is: a request is accepted
//! only if its time is within the (capped) fudge of gslb's clock, which
//! [`crate::dns`] checks, and its MAC was not accepted before.
//!
//! A message sent again whole, under its first message id, is a
//! retransmission rather than an attack: a UDP client (nsupdate) resends
//! the same bytes when the answer was lost. It gets the first one's
//! answer again, and nothing is applied twice. The same MAC under another
//! id is a replay and is refused.
//!
//! Each key keeps at most [`MAX_SEEN_PER_KEY`] MACs; a key that signs
//! more requests within the window is refused until older ones expire, so
//! memory stays bounded. The set is plain data, `(key, MAC, expiry)`
//! triples, saved in the state file with the dynamic records (so a restart
//! does not reopen the window) and mergeable by union, as an exchange
//! between instances would need.
//!
//! Shared behind a lock by the DNS listeners, which check and record a MAC
//! before queueing the request, and the table writer, which saves the set.
//! Only updates take the lock; queries never do.

use std::{collections::HashMap, sync::Arc};

use base64::Engine as _;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::model::ddns::MAX_MAX_FUDGE;
use crate::name::Name;

/// Most MACs remembered per key: at the default fudge of 300 s a key may
/// sign 4096 accepted requests in about ten minutes, far more than ACME
/// clients send, while a leaked key costs at most about a megabyte.
pub const MAX_SEEN_PER_KEY: usize = 4096;

/// One remembered MAC, as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenMac {
    /// The key's name, absolute.
    pub key: String,
    /// The request's MAC, base64.
    pub mac: String,
    /// Unix time after which no request with this MAC can be accepted.
    pub expires: u64,
}

/// Whether a verified request may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Its MAC is new: recorded, go on.
    Fresh,
    /// The same message again under its first id: the first one's answer,
    /// once there is one.
    Retransmission(Option<Arc<[u8]>>),
    /// Its MAC was accepted before under another id (or before a
    /// restart): a replay.
    Replay,
    /// The key already has [`MAX_SEEN_PER_KEY`] live MACs.
    Full,
}

/// Seconds since the Unix epoch, as TSIG's time signed counts them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When a request signed at `time_signed` with `fudge` can no longer be
/// accepted under any configuration: gslb caps the fudge at
/// [`MAX_MAX_FUDGE`] at most, so a reload that raises the cap cannot bring
/// a forgotten MAC back into its window.
pub fn expiry(time_signed: u64, fudge: u16) -> u64 {
    time_signed.saturating_add(u64::from(fudge.min(MAX_MAX_FUDGE)))
}

/// What is kept of one accepted request.
#[derive(Debug, Default)]
struct Seen {
    expires: u64,
    /// Its message id; `None` once restored from the state file.
    id: Option<u16>,
    /// The answer it got, for a retransmission.
    answer: Option<Arc<[u8]>>,
}

/// The MACs of one key.
#[derive(Debug, Default)]
struct KeyMacs {
    name: Option<Name>,
    macs: HashMap<Box<[u8]>, Seen, foldhash::fast::RandomState>,
}

impl KeyMacs {
    fn prune(&mut self, now: u64) {
        self.macs.retain(|_, seen| seen.expires >= now);
    }
}

/// Every key's remembered MACs.
#[derive(Debug, Default)]
pub struct SeenMacs {
    /// By the key's lower-cased wire name.
    keys: HashMap<Box<[u8]>, KeyMacs>,
}

impl SeenMacs {
    /// Records `mac` of a request with message id `id` verified with
    /// `key`, unless it was seen (expired entries are dropped first when
    /// the key is full).
    pub fn admit(&mut self, key: &Name, mac: &[u8], id: u16, expires: u64, now: u64) -> Admission {
        let entry = self.keys.entry(key.wire().into()).or_default();
        entry.name.get_or_insert_with(|| key.clone());
        if let Some(seen) = entry.macs.get(mac)
            && seen.expires >= now
        {
            return if seen.id == Some(id) {
                Admission::Retransmission(seen.answer.clone())
            } else {
                Admission::Replay
            };
        }
        if entry.macs.len() >= MAX_SEEN_PER_KEY {
            entry.prune(now);
            if entry.macs.len() >= MAX_SEEN_PER_KEY {
                return Admission::Full;
            }
        }
        let seen = Seen {
            expires,
            id: Some(id),
            answer: None,
        };
        entry.macs.insert(mac.into(), seen);
        Admission::Fresh
    }

    /// Keeps the answer the request signed with `mac` got, for its
    /// retransmissions.
    pub fn answered(&mut self, key: &Name, mac: &[u8], answer: Arc<[u8]>) {
        if let Some(seen) = self
            .keys
            .get_mut(key.wire())
            .and_then(|entry| entry.macs.get_mut(mac))
        {
            seen.answer = Some(answer);
        }
    }

    /// Forgets `mac`: its request was never processed (the queue was
    /// full), so the client's retry must not count as a replay.
    pub fn forget(&mut self, key: &Name, mac: &[u8]) {
        if let Some(entry) = self.keys.get_mut(key.wire()) {
            entry.macs.remove(mac);
        }
    }

    /// The live MACs, for the state file, sorted so equal sets save equal.
    pub fn save(&self, now: u64) -> Vec<SeenMac> {
        let engine = &base64::engine::general_purpose::STANDARD;
        let mut saved: Vec<SeenMac> = self
            .keys
            .values()
            .filter_map(|k| Some((k.name.as_ref()?, &k.macs)))
            .flat_map(|(name, macs)| {
                macs.iter()
                    .filter(|(_, seen)| seen.expires >= now)
                    .map(move |(mac, seen)| SeenMac {
                        key: name.to_string(),
                        mac: engine.encode(mac),
                        expires: seen.expires,
                    })
            })
            .collect();
        saved.sort_by(|a, b| (&a.key, a.expires, &a.mac).cmp(&(&b.key, b.expires, &b.mac)));
        saved
    }

    /// Adds saved MACs (a union: a MAC keeps its later expiry); expired
    /// ones and ones that cannot be read are skipped. Returns how many were
    /// skipped as unreadable.
    pub fn merge(&mut self, saved: &[SeenMac], now: u64) -> usize {
        let engine = &base64::engine::general_purpose::STANDARD;
        let mut unreadable = 0;
        for seen in saved.iter().filter(|s| s.expires >= now) {
            let (Ok(key), Ok(mac)) = (Name::parse(&seen.key), engine.decode(&seen.mac)) else {
                unreadable += 1;
                continue;
            };
            let entry = self.keys.entry(key.wire().into()).or_default();
            if entry.macs.len() >= MAX_SEEN_PER_KEY && !entry.macs.contains_key(&mac[..]) {
                continue;
            }
            entry.name.get_or_insert(key);
            let kept = entry.macs.entry(mac.into()).or_default();
            kept.expires = kept.expires.max(seen.expires);
        }
        unreadable
    }

    /// How many MACs are remembered.
    pub fn len(&self) -> usize {
        self.keys.values().map(|k| k.macs.len()).sum()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The shared [`SeenMacs`]: cloned into the update path and kept by the
/// table writer, which saves it.
#[derive(Debug, Clone, Default)]
pub struct ReplayGuard(Arc<Mutex<SeenMacs>>);

impl ReplayGuard {
    /// See [`SeenMacs::admit`].
    pub fn admit(&self, key: &Name, mac: &[u8], id: u16, expires: u64, now: u64) -> Admission {
        self.0.lock().admit(key, mac, id, expires, now)
    }

    /// See [`SeenMacs::answered`].
    pub fn answered(&self, key: &Name, mac: &[u8], answer: Arc<[u8]>) {
        self.0.lock().answered(key, mac, answer);
    }

    /// See [`SeenMacs::forget`].
    pub fn forget(&self, key: &Name, mac: &[u8]) {
        self.0.lock().forget(key, mac);
    }

    /// See [`SeenMacs::save`].
    pub fn save(&self, now: u64) -> Vec<SeenMac> {
        self.0.lock().save(now)
    }

    /// See [`SeenMacs::merge`].
    pub fn merge(&self, saved: &[SeenMac], now: u64) -> usize {
        self.0.lock().merge(saved, now)
    }

    /// How many MACs are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Name {
        Name::parse("acme.").unwrap()
    }

    #[test]
    fn a_mac_is_admitted_once_until_it_expires() {
        let mut seen = SeenMacs::default();
        assert_eq!(
            seen.admit(&key(), b"mac-1", 7, 1300, 1000),
            Admission::Fresh
        );
        assert_eq!(
            seen.admit(&key(), b"mac-1", 8, 1300, 1100),
            Admission::Replay
        );
        assert_eq!(
            seen.admit(&key(), b"mac-2", 7, 1300, 1100),
            Admission::Fresh
        );
        let other = Name::parse("other.").unwrap();
        assert_eq!(
            seen.admit(&other, b"mac-1", 7, 1300, 1100),
            Admission::Fresh
        );
        // Past its expiry the time check refuses it anyway; the slot is free.
        assert_eq!(
            seen.admit(&key(), b"mac-1", 8, 1700, 1301),
            Admission::Fresh
        );
        seen.forget(&key(), b"mac-2");
        assert_eq!(
            seen.admit(&key(), b"mac-2", 7, 1300, 1101),
            Admission::Fresh
        );
    }

    #[test]
    fn a_retransmission_gets_the_first_answer() {
        let mut seen = SeenMacs::default();
        assert_eq!(seen.admit(&key(), b"mac", 7, 1300, 1000), Admission::Fresh);
        assert_eq!(
            seen.admit(&key(), b"mac", 7, 1300, 1000),
            Admission::Retransmission(None),
            "still being processed"
        );
        let answer: Arc<[u8]> = Arc::from(&b"answer"[..]);
        seen.answered(&key(), b"mac", answer.clone());
        assert_eq!(
            seen.admit(&key(), b"mac", 7, 1300, 1001),
            Admission::Retransmission(Some(answer))
        );
        assert_eq!(seen.admit(&key(), b"mac", 8, 1300, 1001), Admission::Replay);
        // Restored MACs have no id: any second sending is a replay.
        let mut restarted = SeenMacs::default();
        restarted.merge(&seen.save(1001), 1001);
        assert_eq!(
            restarted.admit(&key(), b"mac", 7, 1300, 1002),
            Admission::Replay
        );
    }

    #[test]
    fn a_full_key_is_refused_until_its_macs_expire() {
        let mut seen = SeenMacs::default();
        for i in 0..MAX_SEEN_PER_KEY {
            let mac = (i as u64).to_be_bytes();
            assert_eq!(seen.admit(&key(), &mac, 1, 1300, 1000), Admission::Fresh);
        }
        assert_eq!(
            seen.admit(&key(), b"one more", 1, 1300, 1000),
            Admission::Full
        );
        assert_eq!(
            seen.admit(&key(), b"one more", 1, 1700, 1301),
            Admission::Fresh
        );
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn saved_macs_merge_by_union_and_drop_expired_ones() {
        let mut seen = SeenMacs::default();
        seen.admit(&key(), b"old", 1, 1100, 1000);
        seen.admit(&key(), b"new", 1, 1300, 1000);
        let saved = seen.save(1200);
        assert_eq!(saved.len(), 1, "the expired MAC is not saved: {saved:?}");
        assert_eq!(saved[0].key, "acme.");
        let mut restarted = SeenMacs::default();
        let mut with_bad = saved.clone();
        with_bad.push(SeenMac {
            key: "acme.".into(),
            mac: "not base64!".into(),
            expires: 5000,
        });
        assert_eq!(restarted.merge(&with_bad, 1200), 1);
        assert_eq!(
            restarted.admit(&key(), b"new", 1, 1300, 1200),
            Admission::Replay
        );
        assert_eq!(restarted.save(1200), saved);
        assert_eq!(expiry(1000, u16::MAX), 1000 + u64::from(MAX_MAX_FUDGE));
        assert_eq!(expiry(1000, 300), 1300);
    }
}
