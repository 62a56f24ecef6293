//! Domain names in the two forms gslb needs: the text form operators write in
//! config files, and the lower-cased wire form the hot path looks names up by.
//!
//! Names are kept as lower-cased wire bytes (`3www7example4test0`) so a query
//! name can be looked up after one pass over the packet, without allocating.

use std::fmt;

/// Longest name on the wire, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest single label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A validated, lower-cased, fully qualified domain name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    /// Wire form, lower-cased, ending with the root label.
    wire: Box<[u8]>,
}

/// Why a text name was rejected; the message is shown to operators as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name was empty.
    #[error("is empty")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("has an empty label")]
    EmptyLabel,
    /// A label is longer than 63 bytes.
    #[error("has a label longer than 63 characters")]
    LabelTooLong,
    /// The wire form would exceed 255 bytes.
    #[error("is longer than 255 bytes")]
    TooLong,
    /// A character outside letters, digits, `-` and `_`.
    #[error("has the character {0:?}, only letters, digits, '-' and '_' are allowed")]
    BadChar(char),
}

impl Name {
    /// Parses an operator-written name. A trailing dot is optional: every
    /// name in a gslb config is absolute.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        let mut wire = Vec::with_capacity(text.len() + 2);
        for label in text.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            if let Some(bad) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(NameError::BadChar(bad));
            }
            wire.push(label.len() as u8);
            wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
        wire.push(0);
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        Ok(Self {
            wire: wire.into_boxed_slice(),
        })
    }

    /// The lower-cased wire form, root label included.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// True when `self` is `zone` or a name below it.
    pub fn is_within(&self, zone: &Self) -> bool {
        suffix_at(&self.wire, zone.wire()).is_some()
    }

    /// The name one label up, or `None` for a single-label name.
    pub fn parent(&self) -> Option<Self> {
        let first = usize::from(self.wire[0]);
        let rest = &self.wire[1 + first..];
        (rest.len() > 1).then(|| Self { wire: rest.into() })
    }
}

/// Offset in `name` where the labels of `suffix` start, when `name` ends with
/// the whole labels of `suffix` (both lower-cased wire names).
pub fn suffix_at(name: &[u8], suffix: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < name.len() {
        if name.len() - at == suffix.len() {
            return (&name[at..] == suffix).then_some(at);
        }
        if name.len() - at < suffix.len() {
            return None;
        }
        at += 1 + usize::from(name[at]);
    }
    None
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut at = 0;
        while let Some(&len) = self.wire.get(at) {
            if len == 0 {
                break;
            }
            let label = &self.wire[at + 1..at + 1 + usize::from(len)];
            // Parsed names hold only ASCII letters, digits, '-' and '_'.
            f.write_str(std::str::from_utf8(label).map_err(|_| fmt::Error)?)?;
            f.write_str(".")?;
            at += 1 + usize::from(len);
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        let name = Name::parse("WebApp.Global.Example.Test.").unwrap();
        assert_eq!(name.to_string(), "webapp.global.example.test.");
        assert_eq!(name, Name::parse("webapp.global.example.test").unwrap());
        assert_eq!(&name.wire()[..7], b"\x06webapp");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("."), Err(NameError::Empty));
        assert_eq!(Name::parse("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse("a b.c"), Err(NameError::BadChar(' ')));
        assert_eq!(Name::parse(&"a".repeat(64)), Err(NameError::LabelTooLong));
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(Name::parse(&long), Err(NameError::TooLong));
    }

    #[test]
    fn within_and_parent() {
        let zone = Name::parse("global.example.test").unwrap();
        let name = Name::parse("a.b.global.example.test").unwrap();
        assert!(name.is_within(&zone));
        assert!(zone.is_within(&zone));
        assert!(
            !Name::parse("xglobal.example.test")
                .unwrap()
                .is_within(&zone)
        );
        assert!(!zone.is_within(&name));
        assert_eq!(name.parent().unwrap().to_string(), "b.global.example.test.");
        assert_eq!(Name::parse("test").unwrap().parent(), None);
    }
}
