//! Secrets the config names by file: the admin API's bearer token, the
//! peers' token, the admin API's TLS certificate and key, the peer CA, and
//! the TSIG keys of dynamic updates ([`files`] lists them).
//!
//! They are read and checked when the config loads, so a missing,
//! unreadable, oversized or malformed secret fails `check-config` and a
//! reload with the file named, instead of failing later. Reads are capped:
//! a secret file pointed at a large file (or a device) must not fill memory.

use std::{io, io::Read as _, path::Path, sync::Arc};

use rustls::sign::CertifiedKey;

use super::input::{Contents, Inputs};
use super::raw::RawConfig;
use crate::model::AdminTls;
use crate::tls::KeyPairError;

/// A secret file a config names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// The field naming it, e.g. `zones[0].updates.keys[1].secret_file`.
    pub field: String,
    /// The file, as written.
    pub file: String,
}

/// Every secret file `raw` names: the files a config is checked without
/// under `check-config --no-secrets`, because they exist only where the
/// server runs (Kubernetes Secrets mounted into its pod). The admin TLS
/// certificate and the peer CA are here too: they come from the same
/// Secrets, and the certificate is checked against its key.
pub fn files(raw: &RawConfig) -> Vec<SecretFile> {
    let server = &raw.server;
    let mut files: Vec<SecretFile> = [
        ("server.admin_token_file", server.admin_token_file.as_ref()),
        ("server.peer_token_file", server.peer_token_file.as_ref()),
        ("server.peer_ca_file", server.peer_ca_file.as_ref()),
        (
            "server.admin_tls.cert_file",
            server.admin_tls.as_ref().map(|t| &t.cert_file),
        ),
        (
            "server.admin_tls.key_file",
            server.admin_tls.as_ref().map(|t| &t.key_file),
        ),
    ]
    .into_iter()
    .filter_map(|(field, file)| {
        Some(SecretFile {
            field: field.to_owned(),
            file: file?.clone(),
        })
    })
    .collect();
    for (i, zone) in raw.zones.iter().enumerate() {
        for (k, key) in zone.updates.iter().flat_map(|u| u.keys.iter().enumerate()) {
            files.push(SecretFile {
                field: format!("zones[{i}].updates.keys[{k}].secret_file"),
                file: key.secret_file.clone(),
            });
        }
        // A DNSSEC key's `.private` file holds the signing key; its `.key`
        // is public but is read with it, as a pair.
        for (k, entry) in zone
            .dnssec
            .iter()
            .flat_map(|d| d.key_files.iter().enumerate())
        {
            let (_, private) = crate::dnssec::keyfile::pair_paths(Path::new(entry));
            files.push(SecretFile {
                field: format!("zones[{i}].dnssec.key_files[{k}]"),
                file: private.display().to_string(),
            });
        }
    }
    files
}

/// Reads and checks the server's secret files (admin token, peer token,
/// admin TLS pair, peer CA): the admin API's key when it has TLS, and every
/// problem as (field, reason).
pub(super) fn check_server(
    server: &crate::model::Server,
    inputs: &mut Inputs,
) -> (Option<Arc<CertifiedKey>>, Vec<(String, String)>) {
    let mut errors = Vec::new();
    if let Some(file) = &server.admin_token_file
        && let Err(message) = admin_token_file(file)
    {
        errors.push(("server.admin_token_file".to_owned(), message));
    }
    if let Some(file) = &server.peering.token_file
        && let Err(message) = admin_token_file(file)
    {
        errors.push(("server.peer_token_file".to_owned(), message));
    }
    let mut key = None;
    if let Some(tls) = &server.admin_tls {
        match admin_tls(tls, inputs) {
            Ok(pair) => key = Some(pair),
            Err((field, message)) => errors.push((field.to_owned(), message)),
        }
    }
    if let Some(file) = &server.peering.ca_file
        && let Err(message) = peer_ca_file(file)
    {
        errors.push(("server.peer_ca_file".to_owned(), message));
    }
    (key, errors)
}

/// Why a file could not be read, in a few words: `no such file` rather
/// than the OS's `No such file or directory (os error 2)`.
pub fn io_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::IsADirectory => "is a directory".to_owned(),
        io::ErrorKind::InvalidData => "is not UTF-8 text".to_owned(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None => text,
            }
        }
    }
}

/// Shortest admin token accepted: 16 characters is 96 bits as base64, 64
/// as hex.
pub const ADMIN_TOKEN_MIN_LEN: usize = 16;
/// Longest admin token accepted: it travels in one HTTP header.
pub const ADMIN_TOKEN_MAX_LEN: usize = 4096;
/// Largest admin token file read: the longest token with room to spare for
/// the white space around it.
const ADMIN_TOKEN_FILE_MAX_BYTES: u64 = 64 * 1024;

/// Reads a secret file of at most `max_bytes` bytes as text; the error says
/// why it could not be read, without the path (callers name the file and
/// the field).
pub fn read(path: &Path, max_bytes: u64) -> Result<String, String> {
    let handle = std::fs::File::open(path).map_err(|e| io_reason(&e))?;
    let mut text = String::new();
    handle
        .take(max_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|e| io_reason(&e))?;
    if text.len() as u64 > max_bytes {
        return Err(format!("larger than {max_bytes} bytes"));
    }
    Ok(text)
}

/// Checks an admin token's shape: surrounding white space (the newline of
/// `echo` or `openssl rand`) is dropped; what is left must be 16 to 4096
/// printable ASCII characters without spaces. Returns the token.
pub fn admin_token(text: &str) -> Result<&str, String> {
    let token = text.trim();
    if token.is_empty() {
        return Err("the admin token is empty".into());
    }
    if token.len() < ADMIN_TOKEN_MIN_LEN {
        return Err(format!(
            "the admin token is shorter than {ADMIN_TOKEN_MIN_LEN} characters; make one with `openssl rand -hex 32`"
        ));
    }
    if token.len() > ADMIN_TOKEN_MAX_LEN {
        return Err(format!(
            "the admin token is longer than {ADMIN_TOKEN_MAX_LEN} characters"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the admin token has characters other than printable ASCII (no spaces)".into());
    }
    Ok(token)
}

/// Reads and checks an admin token file (`server.admin_token_file`);
/// returns the token. The message names the file.
pub fn admin_token_file(path: &Path) -> Result<String, String> {
    let text = read(path, ADMIN_TOKEN_FILE_MAX_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    admin_token(&text)
        .map(str::to_owned)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Largest PEM file read for `server.admin_tls` or `server.peer_ca_file`:
/// a chain of a few certificates takes a few KB.
pub const PEM_FILE_MAX_BYTES: u64 = 1 << 20;

/// Reads and checks `server.admin_tls`: the certificate chain and key,
/// which must belong together. Both files go into `inputs`, so a rotated
/// pair (cert-manager renewing a Secret) reloads the config, and the
/// listener takes the new pair. The error is (field, reason); the reason
/// names the file.
pub(super) fn admin_tls(
    tls: &AdminTls,
    inputs: &mut Inputs,
) -> Result<Arc<CertifiedKey>, (&'static str, String)> {
    let cert = read_pem(&tls.cert_file, inputs);
    let key = read_pem(&tls.key_file, inputs);
    let cert = cert.map_err(|e| ("server.admin_tls.cert_file", e))?;
    let key = key.map_err(|e| ("server.admin_tls.key_file", e))?;
    crate::tls::certified_key_from_pem(&cert, &key).map_err(|e| match e {
        KeyPairError::Certificate(why) => (
            "server.admin_tls.cert_file",
            format!("{}: {why}", tls.cert_file.display()),
        ),
        KeyPairError::Key(why) => (
            "server.admin_tls.key_file",
            format!("{}: {why}", tls.key_file.display()),
        ),
        KeyPairError::Mismatch(why) => (
            "server.admin_tls.key_file",
            format!(
                "{}: {why} ({})",
                tls.key_file.display(),
                tls.cert_file.display()
            ),
        ),
    })
}

/// Reads and checks `server.peer_ca_file`: at least one PEM certificate.
pub fn peer_ca_file(path: &Path) -> Result<(), String> {
    let pem = read(path, PEM_FILE_MAX_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::tls::certificates_from_pem(pem.as_bytes())
        .map(drop)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A PEM file's bytes, recorded in `inputs`; the error names the file.
fn read_pem(path: &Path, inputs: &mut Inputs) -> Result<Vec<u8>, String> {
    let contents = Contents::read(path, PEM_FILE_MAX_BYTES);
    inputs.push(path, PEM_FILE_MAX_BYTES, &contents);
    match contents {
        Contents::Bytes(bytes) => Ok(bytes),
        Contents::Missing => Err(format!("{}: no such file", path.display())),
        Contents::TooLarge { .. } => Err(format!(
            "{}: larger than {PEM_FILE_MAX_BYTES} bytes; not a PEM certificate or key",
            path.display()
        )),
        Contents::Unreadable(e) => {
            Err(format!("cannot read {}: {}", path.display(), io_reason(&e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read(&path, 10).unwrap(), "0123456789");
        assert_eq!(read(&path, 9).unwrap_err(), "larger than 9 bytes");
        let missing = read(&dir.path().join("missing"), 10).unwrap_err();
        assert_eq!(missing, "no such file");
    }

    #[test]
    fn admin_token_files_are_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        assert_eq!(admin_token_file(&path).unwrap(), "0123456789abcdef0123");
        std::fs::write(&path, "short\n").unwrap();
        let short = admin_token_file(&path).unwrap_err();
        assert!(
            short.starts_with(&format!("{}: the admin token is shorter", path.display())),
            "{short}"
        );
        // A token path pointed at a huge file is refused before it fills
        // memory, even when the token in it would be valid.
        let padded = format!("{}0123456789abcdef0123\n", " ".repeat(70_000));
        std::fs::write(&path, padded).unwrap();
        let large = admin_token_file(&path).unwrap_err();
        assert!(large.ends_with("larger than 65536 bytes"), "{large}");
        let missing = admin_token_file(Path::new("/nonexistent/token")).unwrap_err();
        assert_eq!(missing, "cannot read /nonexistent/token: no such file");
    }
}
