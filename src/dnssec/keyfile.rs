//! BIND's key-file pairs, as `dnssec-keygen`, `ldns-keygen` and Knot's
//! `keymgr` write them: `K<zone>+<alg>+<tag>.key` holds the DNSKEY record
//! in zone-file form (after `;` comments), `K<zone>+<alg>+<tag>.private`
//! the private key and the timing lines:
//!
//! ```text
//! Private-key-format: v1.3
//! Algorithm: 13 (ECDSAP256SHA256)
//! PrivateKey: yCYXDdFJZ8vKg7r9tu8wfRUATfVsKyNq6QTbB7XMVyI=
//! Created: 20261208014853
//! Publish: 20261208014853
//! Activate: 20261208014853
//! ```
//!
//! Only the two algorithms gslb signs with are read: 13 (ECDSA P-256 with
//! SHA-256, `PrivateKey` the 32-byte scalar) and 15 (Ed25519, the 32-byte
//! seed). Every error names the file and the field.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::timing::{Timing, parse_timestamp};
use crate::name::Name;

/// Largest key file read: a few hundred bytes each, with room for comments.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The signing algorithms gslb supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 13: ECDSA P-256 with SHA-256 (RFC 6605).
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// The algorithm number in DNSKEY, RRSIG and DS.
    pub fn number(self) -> u8 {
        match self {
            Self::EcdsaP256Sha256 => 13,
            Self::Ed25519 => 15,
        }
    }

    /// The mnemonic, as BIND prints it.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Self::Ed25519 => "ED25519",
        }
    }

    /// The algorithm of a number, when gslb signs with it.
    pub fn from_number(number: u8) -> Option<Self> {
        match number {
            13 => Some(Self::EcdsaP256Sha256),
            15 => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// Length of the public key in DNSKEY and of the private key.
    fn key_len(self) -> (usize, usize) {
        match self {
            Self::EcdsaP256Sha256 => (64, 32),
            Self::Ed25519 => (32, 32),
        }
    }
}

/// What a key-file pair holds, checked for shape but not yet for
/// consistency between its parts (see [`super::Key::from_file`]).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The `.private` file's path, for messages.
    pub private_path: PathBuf,
    /// The `.key` file's path, for messages.
    pub public_path: PathBuf,
    /// The DNSKEY's owner: the zone.
    pub owner: Name,
    /// DNSKEY flags: 256 (zone key), 257 (zone key with SEP: a KSK or CSK).
    pub flags: u16,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The public key as in DNSKEY RDATA.
    pub public_key: Vec<u8>,
    /// The private key: the P-256 scalar or the Ed25519 seed.
    pub private_key: Vec<u8>,
    /// The timing lines.
    pub timing: Timing,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("private_path", &self.private_path)
            .field("owner", &self.owner)
            .field("flags", &self.flags)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Why a key file was rejected: the file and the reason, shown as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct KeyFileError {
    /// The file at fault.
    pub file: String,
    /// What is wrong, naming the field when one is.
    pub reason: String,
}

impl KeyFileError {
    fn new(file: &Path, reason: impl Into<String>) -> Self {
        Self {
            file: file.display().to_string(),
            reason: reason.into(),
        }
    }
}

/// The `.key` and `.private` paths of a `key_files` entry: the base path
/// `dnssec-keygen` prints (`Kzone.+013+12345`), or either file's path.
pub fn pair_paths(entry: &Path) -> (PathBuf, PathBuf) {
    let text = entry.as_os_str().to_string_lossy();
    let base = text
        .strip_suffix(".private")
        .or_else(|| text.strip_suffix(".key"))
        .unwrap_or(&text);
    (
        PathBuf::from(format!("{base}.key")),
        PathBuf::from(format!("{base}.private")),
    )
}

/// Reads both files of the pair `entry` names.
pub fn read(entry: &Path) -> Result<KeyFile, KeyFileError> {
    let (public_path, private_path) = pair_paths(entry);
    let public_text = read_text(&public_path)?;
    let private_text = read_text(&private_path)?;
    let public = parse_public(&public_path, &public_text)?;
    let private = parse_private(&private_path, &private_text)?;
    if private.algorithm != public.algorithm {
        return Err(KeyFileError::new(
            &private_path,
            format!(
                "Algorithm: {} does not match the DNSKEY's algorithm {} in {}",
                private.algorithm.number(),
                public.algorithm.number(),
                public_path.display()
            ),
        ));
    }
    Ok(KeyFile {
        private_path,
        public_path,
        owner: public.owner,
        flags: public.flags,
        algorithm: public.algorithm,
        public_key: public.key,
        private_key: private.key,
        timing: private.timing,
    })
}

fn read_text(path: &Path) -> Result<String, KeyFileError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeyFileError::new(path, "no such file"),
        _ => KeyFileError::new(path, format!("cannot read: {e}")),
    })?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| KeyFileError::new(path, format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::new(
            path,
            format!("larger than {MAX_KEY_FILE_BYTES} bytes: not a key file"),
        ));
    }
    Ok(text)
}

/// The DNSKEY of a `.key` file.
struct Public {
    owner: Name,
    flags: u16,
    algorithm: Algorithm,
    key: Vec<u8>,
}

/// Reads the one DNSKEY record of a `.key` file: `owner [TTL] [IN] DNSKEY
/// flags protocol algorithm base64...`, the key possibly split by spaces.
fn parse_public(path: &Path, text: &str) -> Result<Public, KeyFileError> {
    let err = |reason: String| KeyFileError::new(path, reason);
    let mut records = text
        .lines()
        .map(|l| l.split(';').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty());
    let line = records
        .next()
        .ok_or_else(|| err("holds no DNSKEY record".into()))?;
    if records.next().is_some() {
        return Err(err("holds more than one record".into()));
    }
    let mut fields = line.split_whitespace();
    let owner_text = fields.next().unwrap_or_default();
    let owner = Name::parse(owner_text)
        .map_err(|e| err(format!("the DNSKEY's owner {owner_text:?} {e}")))?;
    let rest: Vec<&str> = fields.collect();
    let at = rest
        .iter()
        .position(|f| f.eq_ignore_ascii_case("DNSKEY"))
        .ok_or_else(|| err("holds no DNSKEY record".into()))?;
    for field in &rest[..at] {
        if !(field.eq_ignore_ascii_case("IN") || field.bytes().all(|b| b.is_ascii_digit())) {
            return Err(err(format!("unexpected {field:?} before DNSKEY")));
        }
    }
    let data = &rest[at + 1..];
    let [flags, protocol, algorithm, key @ ..] = data else {
        return Err(err(
            "the DNSKEY needs flags, protocol, algorithm and key".into()
        ));
    };
    let flags: u16 = flags
        .parse()
        .map_err(|_| err(format!("DNSKEY flags {flags:?} is not a number")))?;
    if flags & 0x0100 == 0 {
        return Err(err(format!(
            "DNSKEY flags {flags}: not a zone key (256 or 257)"
        )));
    }
    if *protocol != "3" {
        return Err(err(format!("DNSKEY protocol {protocol}: must be 3")));
    }
    let algorithm = algorithm_of(algorithm).map_err(err)?;
    let key = decode_base64(&key.concat())
        .ok_or_else(|| err("the DNSKEY's public key is not base64".into()))?;
    if key.len() != algorithm.key_len().0 {
        return Err(err(format!(
            "the DNSKEY's public key has {} bytes; algorithm {} needs {}",
            key.len(),
            algorithm.number(),
            algorithm.key_len().0
        )));
    }
    Ok(Public {
        owner,
        flags,
        algorithm,
        key,
    })
}

/// An algorithm number (or mnemonic), refused unless gslb signs with it.
fn algorithm_of(text: &str) -> Result<Algorithm, String> {
    let number = match text.parse::<u8>() {
        Ok(n) => Some(n),
        Err(_) => match text.to_ascii_uppercase().as_str() {
            "ECDSAP256SHA256" => Some(13),
            "ED25519" => Some(15),
            _ => None,
        },
    };
    number.and_then(Algorithm::from_number).ok_or_else(|| {
        format!(
            "algorithm {text} is not supported: gslb signs with 13 (ECDSAP256SHA256) and 15 (ED25519)"
        )
    })
}

/// The private key and timing of a `.private` file.
struct Private {
    algorithm: Algorithm,
    key: Vec<u8>,
    timing: Timing,
}

fn parse_private(path: &Path, text: &str) -> Result<Private, KeyFileError> {
    let err = |reason: String| KeyFileError::new(path, reason);
    let mut algorithm = None;
    let mut key = None;
    let mut timing = Timing::default();
    let mut format_seen = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((field, value)) = line.split_once(':') else {
            return Err(err(format!("line {line:?} is not `Field: value`")));
        };
        let value = value.trim();
        let time = || {
            parse_timestamp(value).ok_or_else(|| {
                err(format!(
                    "{field}: {value:?} is not a time as YYYYMMDDHHMMSS"
                ))
            })
        };
        match field {
            "Private-key-format" => {
                if !value.starts_with("v1.") {
                    return Err(err(format!(
                        "Private-key-format: {value} is not a BIND v1.x key file"
                    )));
                }
                format_seen = true;
            }
            "Algorithm" => {
                let number = value.split_whitespace().next().unwrap_or_default();
                algorithm = Some(algorithm_of(number).map_err(|e| err(format!("Algorithm: {e}")))?);
            }
            "PrivateKey" => {
                key =
                    Some(decode_base64(value).ok_or_else(|| err("PrivateKey: not base64".into()))?);
            }
            "Created" => timing.created = Some(time()?),
            "Publish" => timing.publish = Some(time()?),
            "Activate" => timing.activate = Some(time()?),
            "Inactive" => timing.inactive = Some(time()?),
            "Delete" => timing.delete = Some(time()?),
            // Timing gslb does not act on (Revoke, SyncPublish, ...) and
            // the fields of other algorithms' files.
            _ => {}
        }
    }
    if !format_seen {
        return Err(err(
            "no Private-key-format line: not a BIND private key file".into(),
        ));
    }
    let algorithm = algorithm.ok_or_else(|| err("no Algorithm line".into()))?;
    let key = key.ok_or_else(|| err("no PrivateKey line".into()))?;
    if key.len() != algorithm.key_len().1 {
        return Err(err(format!(
            "PrivateKey: {} bytes; algorithm {} needs {} (truncated or another algorithm's key)",
            key.len(),
            algorithm.number(),
            algorithm.key_len().1
        )));
    }
    Ok(Private {
        algorithm,
        key,
        timing,
    })
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "; This is a key-signing key, keyid 34929, for global.example.test.\n\
; Created: 20261208014853 (Tue Dec  8 01:48:53 2026)\n\
global.example.test. IN DNSKEY 257 3 13 aUU52FL7+RBMVvkAU+Rrk7WLIBmgtqb8KmoAxvO74UzRWBHf3K54NOAg YBnPA65yzh3ZU5pFjmkvZp2e0JMPVA==\n";
    const PRIVATE: &str = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n\
PrivateKey: yCYXDdFJZ8vKg7r9tu8wfRUATfVsKyNq6QTbB7XMVyI=\nCreated: 20261208014853\n\
Publish: 20261208014853\nActivate: 20261208014853\nInactive: 20270101000000\n";

    #[test]
    fn pair_paths_take_the_base_or_either_file() {
        for entry in ["k/Kz.+013+1", "k/Kz.+013+1.key", "k/Kz.+013+1.private"] {
            let (public, private) = pair_paths(Path::new(entry));
            assert_eq!(public, Path::new("k/Kz.+013+1.key"));
            assert_eq!(private, Path::new("k/Kz.+013+1.private"));
        }
    }

    #[test]
    fn reads_a_dnssec_keygen_pair() {
        let public = parse_public(Path::new("K.key"), PUBLIC).unwrap();
        assert_eq!(public.owner, Name::parse("global.example.test.").unwrap());
        assert_eq!(
            (public.flags, public.algorithm),
            (257, Algorithm::EcdsaP256Sha256)
        );
        assert_eq!(public.key.len(), 64);
        let private = parse_private(Path::new("K.private"), PRIVATE).unwrap();
        assert_eq!(private.key.len(), 32);
        assert_eq!(private.timing.activate, parse_timestamp("20261208014853"));
        assert_eq!(private.timing.inactive, parse_timestamp("20270101000000"));
        assert_eq!(private.timing.delete, None);
    }

    #[test]
    fn errors_name_the_field() {
        let private = |text: &str| {
            parse_private(Path::new("K.private"), text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let truncated = PRIVATE.replace(
            "yCYXDdFJZ8vKg7r9tu8wfRUATfVsKyNq6QTbB7XMVyI=",
            "yCYXDdFJZ8vKg7r9",
        );
        assert_eq!(
            private(&truncated),
            "K.private: PrivateKey: 12 bytes; algorithm 13 needs 32 (truncated or another algorithm's key)"
        );
        let rsa = PRIVATE.replace("13 (ECDSAP256SHA256)", "8 (RSASHA256)");
        assert!(private(&rsa).starts_with("K.private: Algorithm: algorithm 8 is not supported"));
        let bad_time = PRIVATE.replace("Publish: 20261208014853", "Publish: tomorrow");
        assert!(private(&bad_time).contains("Publish: \"tomorrow\" is not a time"));
        assert!(private("hello").contains("is not `Field: value`"));
        let public = |text: &str| {
            parse_public(Path::new("K.key"), text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(public(&PUBLIC.replace(" 13 ", " 8 ")).contains("algorithm 8 is not supported"));
        assert!(public("; nothing\n").contains("holds no DNSKEY record"));
        assert!(public(&PUBLIC.replace("257", "1")).contains("not a zone key"));
    }
}
