//! A zone's signing key, ready to sign: the DNSKEY RDATA, its key tag
//! (RFC 4034 Appendix B), its DS digest (SHA-256, RFC 4509), its timing,
//! and the `ring` key pair built from the key file's private key and
//! checked against its public key.

use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

use super::keyfile::{self, Algorithm, KeyFile, KeyFileError};
use super::timing::{KeyState, Timing};
use crate::name::Name;

/// DNSKEY flags bit: the key is a zone key (RFC 4034 §2.1.1).
pub const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flags bit: Secure Entry Point, a KSK or CSK (RFC 4034 §2.1.1).
pub const FLAG_SEP: u16 = 0x0001;

/// The private half, in `ring`'s form.
enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One signing key of a zone.
pub struct Key {
    /// The `.private` file it was read from, for messages and `check-config`.
    pub path: PathBuf,
    /// DNSKEY flags.
    pub flags: u16,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Key tag.
    pub tag: u16,
    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    pub dnskey: Box<[u8]>,
    /// The DS RDATA (SHA-256) at the zone: what CDS answers.
    pub ds: Box<[u8]>,
    /// Publish/Activate/Inactive/Delete.
    pub timing: Timing,
    pair: Pair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("path", &self.path)
            .field("tag", &self.tag)
            .field("algorithm", &self.algorithm)
            .field("flags", &self.flags)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

/// Two keys are the same when their files said the same: the public key,
/// flags and timing (the private key is checked to match the public one).
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.dnskey == other.dnskey && self.timing == other.timing
    }
}

impl Key {
    /// Reads the pair `entry` names and checks it belongs to `zone`.
    pub fn read(entry: &Path, zone: &Name) -> Result<Self, KeyFileError> {
        let file = keyfile::read(entry)?;
        if &file.owner != zone {
            return Err(KeyFileError {
                file: file.public_path.display().to_string(),
                reason: format!("the DNSKEY is for {}, not for the zone {zone}", file.owner),
            });
        }
        Self::from_file(file)
    }

    /// Builds the key pair from a read key file, checking that the private
    /// key matches the public one.
    pub fn from_file(file: KeyFile) -> Result<Self, KeyFileError> {
        let mismatch = |why: &str| KeyFileError {
            file: file.private_path.display().to_string(),
            reason: format!(
                "PrivateKey: {why} the public key in {}",
                file.public_path.display()
            ),
        };
        let rng = SystemRandom::new();
        let pair = match file.algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let mut public = Vec::with_capacity(65);
                public.push(4); // uncompressed point, as ring takes it
                public.extend_from_slice(&file.public_key);
                EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &file.private_key,
                    &public,
                    &rng,
                )
                .map(Pair::Ecdsa)
                .map_err(|_| mismatch("not a P-256 key, or does not match"))?
            }
            Algorithm::Ed25519 => {
                Ed25519KeyPair::from_seed_and_public_key(&file.private_key, &file.public_key)
                    .map(Pair::Ed25519)
                    .map_err(|_| mismatch("does not match"))?
            }
        };
        let mut dnskey = Vec::with_capacity(4 + file.public_key.len());
        dnskey.extend_from_slice(&file.flags.to_be_bytes());
        dnskey.push(3);
        dnskey.push(file.algorithm.number());
        dnskey.extend_from_slice(&file.public_key);
        let ds = ds_rdata(&file.owner, &dnskey);
        Ok(Self {
            ds,
            tag: key_tag(&dnskey),
            path: file.private_path,
            flags: file.flags,
            algorithm: file.algorithm,
            dnskey: dnskey.into(),
            timing: file.timing,
            pair,
            rng,
        })
    }

    /// Whether the key has the SEP flag (a KSK, or a CSK).
    pub fn is_sep(&self) -> bool {
        self.flags & FLAG_SEP != 0
    }

    /// The key's state at `now`.
    pub fn state(&self, now: u64) -> KeyState {
        self.timing.state(now)
    }

    /// Signs `data`: 64 bytes, r and s for ECDSA (RFC 6605 §4), the
    /// signature for Ed25519 (RFC 8080 §4).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.pair {
            Pair::Ecdsa(pair) => pair
                .sign(&self.rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError),
            Pair::Ed25519(pair) => Ok(pair.sign(data).as_ref().to_vec()),
        }
    }

    /// The public key as ring holds it (checked equal to the DNSKEY's).
    pub fn public_key(&self) -> &[u8] {
        match &self.pair {
            Pair::Ecdsa(pair) => pair.public_key().as_ref(),
            Pair::Ed25519(pair) => pair.public_key().as_ref(),
        }
    }

    /// The DS record in zone-file form, what `gslb dnssec ds` prints.
    pub fn ds_text(&self, zone: &Name) -> String {
        let ds = &self.ds;
        let digest: String = ds[4..].iter().map(|b| format!("{b:02X}")).collect();
        format!(
            "{zone} IN DS {} {} 2 {digest}",
            self.tag,
            self.algorithm.number()
        )
    }
}

/// The DS RDATA of `dnskey` at `zone` with SHA-256 (digest type 2, RFC
/// 4509): key tag, algorithm, 2, SHA-256(owner | DNSKEY RDATA).
fn ds_rdata(zone: &Name, dnskey: &[u8]) -> Box<[u8]> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(zone.wire());
    ctx.update(dnskey);
    let mut ds = Vec::with_capacity(4 + 32);
    ds.extend_from_slice(&key_tag(dnskey).to_be_bytes());
    ds.push(dnskey[3]);
    ds.push(2);
    ds.extend_from_slice(ctx.finish().as_ref());
    ds.into()
}

/// A signature could not be made (ring's ECDSA needs its random source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signing failed")]
pub struct SignError;

/// The key tag of DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1 is not
/// supported, so no special case).
pub fn key_tag(dnskey: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, b) in dnskey.iter().enumerate() {
        sum += if i & 1 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    sum += (sum >> 16) & 0xFFFF;
    (sum & 0xFFFF) as u16
}
