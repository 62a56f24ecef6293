//! TXT RDATA (RFC 1035 §3.3.14) in and out of presentation format, for
//! the state file: `"v=spf1 -all" "second string"`, with `\"`, `\\` and
//! `\DDD` escapes (RFC 1035 §5.1).

/// Whether `rdata` is one or more character-strings filling it exactly.
pub fn is_valid(rdata: &[u8]) -> bool {
    let mut at = 0;
    while at < rdata.len() {
        at += 1 + usize::from(rdata[at]);
    }
    !rdata.is_empty() && at == rdata.len()
}

/// Presentation format of valid TXT RDATA: each string quoted, printable
/// ASCII as is (`"` and `\` escaped), other bytes as `\DDD`.
pub fn to_text(rdata: &[u8]) -> String {
    let mut text = String::with_capacity(rdata.len() + 8);
    let mut at = 0;
    while let Some(&len) = rdata.get(at) {
        let Some(string) = rdata.get(at + 1..at + 1 + usize::from(len)) else {
            break;
        };
        if at > 0 {
            text.push(' ');
        }
        text.push('"');
        for &byte in string {
            match byte {
                b'"' | b'\\' => {
                    text.push('\\');
                    text.push(char::from(byte));
                }
                0x20..=0x7E => text.push(char::from(byte)),
                _ => text.push_str(&format!("\\{byte:03}")),
            }
        }
        text.push('"');
        at += 1 + usize::from(len);
    }
    text
}

/// Why presentation text is not TXT data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxtError {
    /// No string at all.
    #[error("has no character-string")]
    Empty,
    /// A quote that is never closed.
    #[error("has an unclosed quote")]
    Unclosed,
    /// A bad escape.
    #[error(
        "has a bad escape: a backslash must be followed by a character or three digits up to 255"
    )]
    BadEscape,
    /// A string over 255 bytes.
    #[error("has a string longer than 255 bytes")]
    TooLong,
}

/// TXT RDATA from presentation format: quoted strings, or bare words
/// without spaces.
pub fn from_text(text: &str) -> Result<Vec<u8>, TxtError> {
    let bytes = text.as_bytes();
    let mut rdata = Vec::with_capacity(bytes.len());
    let mut at = 0;
    loop {
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        if at == bytes.len() {
            break;
        }
        let quoted = bytes[at] == b'"';
        if quoted {
            at += 1;
        }
        let mut string = Vec::new();
        loop {
            let Some(&byte) = bytes.get(at) else {
                if quoted {
                    return Err(TxtError::Unclosed);
                }
                break;
            };
            if (quoted && byte == b'"') || (!quoted && byte.is_ascii_whitespace()) {
                at += usize::from(quoted);
                break;
            }
            at += 1;
            if byte != b'\\' {
                string.push(byte);
                continue;
            }
            let digits = bytes
                .get(at..at + 3)
                .filter(|d| d.iter().all(u8::is_ascii_digit));
            if let Some(digits) = digits {
                let value = digits
                    .iter()
                    .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
                string.push(u8::try_from(value).map_err(|_| TxtError::BadEscape)?);
                at += 3;
            } else {
                let &next = bytes.get(at).ok_or(TxtError::BadEscape)?;
                if next.is_ascii_digit() {
                    return Err(TxtError::BadEscape);
                }
                string.push(next);
                at += 1;
            }
        }
        let len = u8::try_from(string.len()).map_err(|_| TxtError::TooLong)?;
        rdata.push(len);
        rdata.extend_from_slice(&string);
    }
    if rdata.is_empty() {
        return Err(TxtError::Empty);
    }
    Ok(rdata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_quotes_escapes_and_binary() {
        for rdata in [
            &b"\x07token-1"[..],
            b"\x00",
            b"\x05a\"b\\c\x03\x00\xff\n",
            b"\x02hi\x05there",
        ] {
            assert!(is_valid(rdata));
            let text = to_text(rdata);
            assert_eq!(from_text(&text).unwrap(), rdata, "{text}");
        }
        assert_eq!(to_text(b"\x05a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(to_text(b"\x02\x00\xff"), r#""\000\255""#);
    }

    #[test]
    fn reads_bare_words_and_rejects_bad_text() {
        assert_eq!(from_text("abc  \"d e\"").unwrap(), b"\x03abc\x03d e");
        assert_eq!(from_text(""), Err(TxtError::Empty));
        assert_eq!(from_text("\"abc"), Err(TxtError::Unclosed));
        assert_eq!(from_text(r#""\256""#), Err(TxtError::BadEscape));
        assert_eq!(from_text(r#""\25""#), Err(TxtError::BadEscape));
        assert_eq!(from_text(&"a".repeat(256)), Err(TxtError::TooLong));
        assert!(from_text(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn validity_of_wire_data() {
        assert!(!is_valid(b""));
        assert!(!is_valid(b"\x05abc"));
        assert!(!is_valid(b"\x01ab"));
    }
}
