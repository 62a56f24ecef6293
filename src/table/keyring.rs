//! The TSIG keys of every zone's `updates`, ready for the DNS path to
//! check and sign with (RFC 8945). Compiled with the table, so a query or
//! an update finds its key in the snapshot it already holds.
//!
//! A key name means one key server-wide: config validation refuses the
//! same name with another algorithm or secret in two zones, so a signed
//! query (which names no zone) finds the one key of its name.

use std::{collections::HashMap, sync::Arc};

use ring::hmac;

pub use crate::model::update::TsigAlgorithm;
use crate::model::update::TsigKey as KeySpec;
use crate::name::Name;

/// A TSIG key with its secret loaded into the HMAC implementation.
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    secret: hmac::Key,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// A key named `name` with the raw (base64-decoded) `secret`.
    pub fn new(name: Name, algorithm: TsigAlgorithm, secret: &[u8]) -> Self {
        let hmac_algorithm = match algorithm {
            TsigAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
            TsigAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
        };
        Self {
            name,
            algorithm,
            secret: hmac::Key::new(hmac_algorithm, secret),
        }
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
    /// The keyring of `keys`; the first of a name wins (validation makes
    /// duplicates identical).
    pub fn new<'k>(keys: impl IntoIterator<Item = &'k KeySpec>) -> Self {
        let mut ring = HashMap::new();
        for spec in keys {
            ring.entry(spec.name.wire().into()).or_insert_with(|| {
                Arc::new(TsigKey::new(
                    spec.name.clone(),
                    spec.algorithm,
                    spec.secret.as_bytes(),
                ))
            });
        }
        Self { keys: ring }
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
