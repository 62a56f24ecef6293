//! The admin API's bearer token: read from `server.admin_token_file` or
//! the `GSLB_ADMIN_TOKEN` environment variable, checked for shape, and
//! compared in constant time.

use std::path::Path;

use subtle::ConstantTimeEq as _;

use crate::config::secret;

/// Environment variable holding the token itself (the server's fallback
/// when no file is configured, and the CLI's).
pub const ENV: &str = "GSLB_ADMIN_TOKEN";

/// A bearer token. Its `Debug` never shows it.
#[derive(Clone)]
pub struct AdminToken {
    /// SHA-256 of the token: requests are compared digest to digest, so
    /// neither the content nor the length leaks through timing.
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(redacted)")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    digest.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    digest
}

impl AdminToken {
    /// Reads a token file ([`secret::admin_token_file`], which config
    /// loading also uses to check it); the message says what is wrong.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let token = secret::admin_token_file(path)?;
        Ok(Self {
            digest: sha256(token.as_bytes()),
        })
    }

    /// Checks a token's shape ([`secret::admin_token`]): surrounding
    /// whitespace is dropped; what is left must be 16 to 4096 printable
    /// ASCII characters without spaces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let token = secret::admin_token(text)?;
        Ok(Self {
            digest: sha256(token.as_bytes()),
        })
    }

    /// The server's token: the configured file, else `GSLB_ADMIN_TOKEN`,
    /// else none.
    pub fn for_server(file: Option<&Path>) -> Result<Option<Self>, String> {
        if let Some(file) = file {
            return Self::from_file(file).map(Some);
        }
        match std::env::var(ENV) {
            Ok(value) => Self::parse(&value)
                .map(Some)
                .map_err(|e| format!("{ENV}: {e}")),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{ENV} is not valid UTF-8")),
        }
    }

    /// Whether `presented` is the token, in time independent of both.
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.digest.ct_eq(&sha256(presented)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_checked_and_compared() {
        let token = AdminToken::parse("0123456789abcdef0123\n").unwrap();
        assert!(token.matches(b"0123456789abcdef0123"));
        assert!(!token.matches(b"0123456789abcdef0124"));
        assert!(!token.matches(b""));
        assert!(!format!("{token:?}").contains("0123"), "Debug redacts");
        for bad in [
            "",
            "  \n",
            "short",
            "0123456789abcdef 0123",
            "0123456789abcdéf0123",
        ] {
            assert!(AdminToken::parse(bad).is_err(), "{bad:?}");
        }
        let missing = AdminToken::from_file(Path::new("/nonexistent/token")).unwrap_err();
        assert!(
            missing.contains("cannot read /nonexistent/token"),
            "{missing}"
        );
    }
}
