//! The TSIG keys of every zone's `updates`, ready for the DNS path to
//! check and sign with (RFC 8945). Compiled with the table, so a query or
//! an update finds its key in the snapshot it already holds.
//!
//! A key name means one key server-wide: config validation refuses the
//! same name with another algorithm or secret in two zones, so a signed
//! query (which names no zone) finds the one key of its name. A key in
//! several zones takes the smallest of their `max_fudge`.

use std::{collections::HashMap, sync::Arc};

use ring::hmac;

pub use crate::model::ddns::TsigAlgorithm;
use crate::model::ddns::{DEFAULT_MAX_FUDGE, UpdatePolicy};
use crate::name::Name;

/// A TSIG key with its secret loaded into the HMAC implementation.
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    secret: hmac::Key,
    /// The largest fudge accepted from it, seconds.
    max_fudge: u16,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("max_fudge", &self.max_fudge)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// A key named `name` with the raw (base64-decoded) `secret`, taking
    /// the default `max_fudge`.
    pub fn new(name: Name, algorithm: TsigAlgorithm, secret: &[u8]) -> Self {
        let hmac_algorithm = match algorithm {
            TsigAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
            TsigAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
        };
        Self {
            name,
            algorithm,
            secret: hmac::Key::new(hmac_algorithm, secret),
            max_fudge: DEFAULT_MAX_FUDGE,
        }
    }

    /// The same key accepting a fudge of at most `max_fudge` seconds.
    pub fn with_max_fudge(mut self, max_fudge: u16) -> Self {
        self.max_fudge = max_fudge;
        self
    }

    /// The largest fudge accepted from this key, seconds.
    pub fn max_fudge(&self) -> u16 {
        self.max_fudge
    }

    /// The key's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
    }

    /// The secret, for computing MACs.
    pub fn hmac_key(&self) -> &hmac::Key {
        &self.secret
    }
}

/// Every configured key, by lower-cased wire name.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: HashMap<Box<[u8]>, Arc<TsigKey>>,
}

impl Keyring {
    /// The keyring of the zones' update policies; of a key listed in
    /// several zones the first wins (validation makes them identical), with
    /// the smallest `max_fudge` among those zones.
    pub fn new<'p>(policies: impl IntoIterator<Item = &'p UpdatePolicy>) -> Self {
        let mut ring: HashMap<Box<[u8]>, TsigKey> = HashMap::new();
        for policy in policies {
            for spec in &policy.keys {
                let key = ring.entry(spec.name.wire().into()).or_insert_with(|| {
                    TsigKey::new(spec.name.clone(), spec.algorithm, spec.secret.as_bytes())
                        .with_max_fudge(policy.max_fudge)
                });
                key.max_fudge = key.max_fudge.min(policy.max_fudge);
            }
        }
        Self {
            keys: ring.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        }
    }

    /// The key named `name` (lower-cased wire form).
    pub fn get(&self, name: &[u8]) -> Option<&Arc<TsigKey>> {
        self.keys.get(name)
    }

    /// Whether no key is configured: signed messages then all get BADKEY.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
