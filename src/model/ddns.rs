//! A zone's dynamic update policy (RFC 2136 updates signed with TSIG, RFC
//! 8945): the keys that may sign updates, what each key may write, and the
//! caps that keep a leaked key from filling memory.
//!
//! Names in `allow` rules are patterns relative to the zone's origin, the
//! way ACME clients need them:
//!
//! | pattern | matches |
//! |---|---|
//! | `www` | `www.<origin>` |
//! | `_acme-challenge.*` | `_acme-challenge.<origin>` and `_acme-challenge.<any labels>.<origin>` |
//! | `*.dyn` | one or more labels in front of `dyn.<origin>` |
//! | `*` | every name of the zone, the apex included |
//! | `@` | the apex |
//!
//! A pattern that ends with a dot is absolute and must end with the origin
//! (`_acme-challenge.*.global.example.test.` is `_acme-challenge.*` there).
//! `*` stands alone as the first or the last label; matching ignores case.

use crate::iana::rtype;
use std::sync::Arc;

use crate::name::{Name, suffix_at};

/// The record types dynamic updates may write, with their names. TXT is
/// what ACME DNS-01 (RFC 8555 §8.4) and domain verification need; other
/// data belongs in the config's static records.
pub const UPDATABLE_TYPES: [(u16, &str); 1] = [(rtype::TXT, "TXT")];
/// Default of `max_ttl`, seconds: challenge records are short-lived.
pub const DEFAULT_MAX_TTL: u32 = 300;
/// Default of `max_records_per_key`: enough for many certificates being
/// issued at once (one TXT record per name), small enough that a leaked
/// key costs at most a few MiB.
pub const DEFAULT_MAX_RECORDS_PER_KEY: u32 = 256;
/// Default of `max_fudge`, seconds: the fudge RFC 8945 §10 recommends and
/// nsupdate, certbot and cert-manager send.
pub const DEFAULT_MAX_FUDGE: u16 = 300;
/// Largest `max_fudge`, seconds. Replay protection remembers a MAC until
/// its request's time signed is this far behind, whatever the fudge
/// configured now, so a reload that raises the cap reopens no window.
pub const MAX_MAX_FUDGE: u16 = 3600;
/// Default of `max_rrset_bytes`: 16 KiB of records at one name, a few
/// hundred challenge records, and with the header, question, EDNS and a
/// TSIG record far below the 65,535 bytes a TCP answer holds.
pub const DEFAULT_MAX_RRSET_BYTES: u32 = 16 * 1024;
/// Largest `max_rrset_bytes`: half a TCP message, so the answer still fits
/// with the longest question, EDNS options and a TSIG record.
pub const MAX_MAX_RRSET_BYTES: u32 = 32 * 1024;
/// Bytes a record takes in an answer besides its RDATA: a compressed owner
/// (2), type, class, TTL and RDLENGTH (10).
pub const RR_OVERHEAD: usize = 12;

/// A TSIG MAC algorithm gslb takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    /// `hmac-sha256` (RFC 8945 §6: mandatory to implement); the default.
    HmacSha256,
    /// `hmac-sha512`.
    HmacSha512,
}

impl TsigAlgorithm {
    /// Every algorithm, for messages that list them.
    pub const ALL: [Self; 2] = [Self::HmacSha256, Self::HmacSha512];

    /// The algorithm of a name as configs and tools write it (any case, a
    /// trailing dot allowed).
    pub fn from_name(text: &str) -> Option<Self> {
        let text = text.strip_suffix('.').unwrap_or(text);
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text))
    }

    /// The name, as in TSIG records and configs.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// The name in wire form (lower-cased, as TSIG digests it).
    pub fn wire(self) -> &'static [u8] {
        match self {
            Self::HmacSha256 => b"\x0bhmac-sha256\x00",
            Self::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// Length of a full MAC, bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::HmacSha512 => 64,
        }
    }

    /// The shortest secret gslb accepts: half the MAC length (NIST SP
    /// 800-107's guidance for HMAC keys).
    pub fn min_secret_len(self) -> usize {
        self.mac_len() / 2
    }
}

/// A TSIG key's secret bytes; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// Wraps decoded secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// A TSIG key of `updates.keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// Its name, as clients put it in the TSIG record.
    pub name: Name,
    /// Its MAC algorithm.
    pub algorithm: TsigAlgorithm,
    /// The shared secret.
    pub secret: Secret,
}

/// A zone's `updates:`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePolicy {
    /// Keys that may sign updates to the zone.
    pub keys: Vec<TsigKey>,
    /// What each key may write; nothing else is allowed.
    pub allow: Vec<AllowRule>,
    /// Larger TTLs in updates are lowered to this, seconds.
    pub max_ttl: u32,
    /// Most dynamic records one key may have in the zone.
    pub max_records_per_key: u32,
    /// Largest TSIG fudge accepted, seconds: a request whose time signed
    /// is further from gslb's clock than the smaller of this and its own
    /// fudge is BADTIME.
    pub max_fudge: u16,
    /// Most bytes the dynamic records at one name may take in an answer
    /// ([`RR_OVERHEAD`] plus RDATA per record), so every name that updates
    /// build can be answered whole over TCP.
    pub max_rrset_bytes: u32,
}

/// One entry of `allow`: a key may write these types at these names.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowRule {
    /// The key's name.
    pub key: Name,
    /// Owner names the key may write.
    pub names: Vec<NamePattern>,
    /// RR types it may write there.
    pub types: Vec<u16>,
}

impl UpdatePolicy {
    /// The key named `name`, if the zone has it.
    pub fn key(&self, name: &[u8]) -> Option<&TsigKey> {
        self.keys.iter().find(|k| k.name.wire() == name)
    }

    /// Whether `key` may write `rtype` records at `name` (a lower-cased
    /// wire name) in the zone at `origin`.
    pub fn allows(&self, key: &Name, origin: &Name, name: &[u8], rtype: u16) -> bool {
        self.rules_for(key, origin, name)
            .any(|rule| rule.types.contains(&rtype))
    }

    /// The types `key` may write at `name`.
    pub fn types_allowed(&self, key: &Name, origin: &Name, name: &[u8]) -> Vec<u16> {
        let mut types: Vec<u16> = self
            .rules_for(key, origin, name)
            .flat_map(|rule| rule.types.iter().copied())
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    fn rules_for<'a>(
        &'a self,
        key: &'a Name,
        origin: &'a Name,
        name: &'a [u8],
    ) -> impl Iterator<Item = &'a AllowRule> {
        self.allow.iter().filter(move |rule| {
            rule.key == *key && rule.names.iter().any(|p| p.matches(origin, name))
        })
    }
}

/// Where a pattern's `*` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Star {
    /// No `*`: one exact name.
    None,
    /// `*.rest`: one or more labels in front of `rest`.
    First,
    /// `rest.*`: `rest` followed by zero or more labels.
    Last,
    /// `*`: any name in the zone.
    Alone,
}

/// An owner-name pattern of an `allow` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    /// The labels other than `*`, lower-cased, leftmost first, relative to
    /// the origin.
    labels: Vec<Box<[u8]>>,
    star: Star,
    /// As written, for messages.
    text: String,
}

/// Why a name pattern was rejected; shown to operators as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty text.
    #[error("is empty")]
    Empty,
    /// An absolute pattern outside the zone.
    #[error("is not inside the zone {0}")]
    OutsideZone(String),
    /// `*` somewhere other than alone as the first or last label.
    #[error("has '*' inside a label or in the middle; it may only be the first or the last label")]
    MisplacedStar,
    /// A bad label.
    #[error("has a bad label {label:?}: {why}")]
    BadLabel {
        /// The label.
        label: String,
        /// Why.
        why: &'static str,
    },
}

impl NamePattern {
    /// Parses a pattern of the zone at `origin`.
    pub fn parse(text: &str, origin: &Name) -> Result<Self, PatternError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(PatternError::Empty);
        }
        let mut labels: Vec<&str> = if trimmed == "@" {
            Vec::new()
        } else if let Some(absolute) = trimmed.strip_suffix('.') {
            let origin_text = origin.to_string();
            let origin_labels = origin_text.trim_end_matches('.').split('.').count();
            let all: Vec<&str> = absolute.split('.').collect();
            let split = all.len().checked_sub(origin_labels);
            let inside = split.is_some_and(|at| {
                all[at..]
                    .iter()
                    .zip(origin_text.trim_end_matches('.').split('.'))
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
            });
            if !inside {
                return Err(PatternError::OutsideZone(origin_text));
            }
            all[..split.unwrap_or(0)].to_vec()
        } else {
            trimmed.split('.').collect()
        };
        let star = match (labels.first(), labels.last(), labels.len()) {
            (Some(&"*"), _, 1) => Star::Alone,
            (Some(&"*"), _, _) => Star::First,
            (_, Some(&"*"), _) => Star::Last,
            _ => Star::None,
        };
        match star {
            Star::Alone => labels.clear(),
            Star::First => {
                labels.remove(0);
            }
            Star::Last => {
                labels.pop();
            }
            Star::None => {}
        }
        let mut wire_labels = Vec::with_capacity(labels.len());
        for label in labels {
            if label.contains('*') {
                return Err(PatternError::MisplacedStar);
            }
            let why = if label.is_empty() {
                Some("empty")
            } else if label.len() > 63 {
                Some("longer than 63 characters")
            } else if !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                Some("only letters, digits, '-' and '_' are allowed")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(PatternError::BadLabel {
                    label: label.to_owned(),
                    why,
                });
            }
            wire_labels.push(label.to_ascii_lowercase().into_bytes().into_boxed_slice());
        }
        Ok(Self {
            labels: wire_labels,
            star,
            text: trimmed.to_owned(),
        })
    }

    /// Whether `name` (a lower-cased wire name) matches in the zone at
    /// `origin`.
    pub fn matches(&self, origin: &Name, name: &[u8]) -> bool {
        let Some(cut) = suffix_at(name, origin.wire()) else {
            return false;
        };
        let mut relative = Vec::new();
        let mut at = 0;
        while at < cut {
            let len = usize::from(name[at]);
            relative.push(&name[at + 1..at + 1 + len]);
            at += 1 + len;
        }
        let fixed = self.labels.iter().map(|l| &**l);
        match self.star {
            Star::Alone => true,
            Star::None => relative.len() == self.labels.len() && relative.iter().copied().eq(fixed),
            Star::First => {
                relative.len() > self.labels.len()
                    && relative[relative.len() - self.labels.len()..]
                        .iter()
                        .copied()
                        .eq(fixed)
            }
            Star::Last => {
                relative.len() >= self.labels.len()
                    && relative[..self.labels.len()].iter().copied().eq(fixed)
            }
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::parse("global.example.test.").unwrap()
    }

    fn matches(pattern: &str, name: &str) -> bool {
        NamePattern::parse(pattern, &origin())
            .unwrap()
            .matches(&origin(), Name::parse(name).unwrap().wire())
    }

    #[test]
    fn acme_challenge_pattern_covers_names_and_the_wildcards_owner() {
        let p = "_acme-challenge.*";
        assert!(matches(p, "_acme-challenge.webapp.global.example.test"));
        assert!(matches(p, "_ACME-Challenge.a.b.global.example.test"));
        assert!(
            matches(p, "_acme-challenge.global.example.test"),
            "*.global.example.test's challenge (RFC 8555 §8.4)"
        );
        assert!(!matches(p, "www.global.example.test"));
        assert!(!matches(p, "x._acme-challenge.global.example.test"));
        assert!(
            !matches(p, "_acme-challenge.example.test"),
            "outside the zone"
        );
    }

    #[test]
    fn exact_first_star_alone_and_apex() {
        assert!(matches("www", "www.global.example.test"));
        assert!(!matches("www", "a.www.global.example.test"));
        assert!(matches("*.dyn", "a.dyn.global.example.test"));
        assert!(matches("*.dyn", "a.b.dyn.global.example.test"));
        assert!(!matches("*.dyn", "dyn.global.example.test"));
        assert!(matches("*", "global.example.test"));
        assert!(matches("*", "any.thing.global.example.test"));
        assert!(!matches("*", "example.test"));
        assert!(matches("@", "global.example.test"));
        assert!(!matches("@", "www.global.example.test"));
    }

    #[test]
    fn absolute_patterns_must_lie_in_the_zone() {
        assert!(matches(
            "_acme-challenge.*.Global.Example.Test.",
            "_acme-challenge.x.global.example.test"
        ));
        assert!(matches("global.example.test.", "global.example.test"));
        assert_eq!(
            NamePattern::parse("www.example.test.", &origin()),
            Err(PatternError::OutsideZone("global.example.test.".into()))
        );
        assert_eq!(
            NamePattern::parse("test.", &origin()),
            Err(PatternError::OutsideZone("global.example.test.".into()))
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["a.*.b", "a*", "*.*", "a..b", "a b", ""] {
            assert!(NamePattern::parse(bad, &origin()).is_err(), "{bad:?}");
        }
        assert_eq!(
            NamePattern::parse("a.*.b", &origin()),
            Err(PatternError::MisplacedStar)
        );
    }

    #[test]
    fn policy_allows_only_the_keys_names_and_types() {
        let key = Name::parse("acme.").unwrap();
        let other = Name::parse("other.").unwrap();
        let policy = UpdatePolicy {
            keys: Vec::new(),
            allow: vec![AllowRule {
                key: key.clone(),
                names: vec![NamePattern::parse("_acme-challenge.*", &origin()).unwrap()],
                types: vec![rtype::TXT],
            }],
            max_ttl: DEFAULT_MAX_TTL,
            max_records_per_key: DEFAULT_MAX_RECORDS_PER_KEY,
            max_fudge: DEFAULT_MAX_FUDGE,
            max_rrset_bytes: DEFAULT_MAX_RRSET_BYTES,
        };
        let name = Name::parse("_acme-challenge.www.global.example.test").unwrap();
        let www = Name::parse("www.global.example.test").unwrap();
        assert!(policy.allows(&key, &origin(), name.wire(), rtype::TXT));
        assert!(!policy.allows(&key, &origin(), name.wire(), 1), "type A");
        assert!(!policy.allows(&key, &origin(), www.wire(), rtype::TXT));
        assert!(!policy.allows(&other, &origin(), name.wire(), rtype::TXT));
        assert_eq!(
            policy.types_allowed(&key, &origin(), name.wire()),
            [rtype::TXT]
        );
        assert!(policy.types_allowed(&key, &origin(), www.wire()).is_empty());
    }

    #[test]
    fn algorithms_by_name() {
        assert_eq!(
            TsigAlgorithm::from_name("HMAC-SHA256."),
            Some(TsigAlgorithm::HmacSha256)
        );
        assert_eq!(
            TsigAlgorithm::from_name("hmac-sha512"),
            Some(TsigAlgorithm::HmacSha512)
        );
        assert_eq!(TsigAlgorithm::from_name("hmac-md5"), None);
        assert_eq!(
            format!("{:?}", Secret::new(vec![1; 32])),
            "Secret(32 bytes)"
        );
    }
}
