//! Record data: the presentation format operators write in a zone's
//! `static` records (`10 mail.example.test.`, `0 issue "letsencrypt.org"`)
//! turned into the wire form the answer path copies into responses.
//!
//! It owns the record types gslb can serve besides its GSLB A/AAAA records,
//! the master-file syntax of their data (RFC 1035 §5.1: quoted and unquoted
//! character-strings, `\X` and `\DDD` escapes, `( )` grouping, `@` for the
//! origin, names relative to the origin without a trailing dot) and the
//! rules of each type's fields (RFC 1035, RFC 2782 SRV, RFC 8659 CAA). It
//! does not know zones, tables or the config's file layout: config
//! validation calls it and adds the file and field to its errors.
//!
//! Names in the data are written uncompressed and lower-cased (DNS names
//! compare without case), so the answer path copies them as they are and
//! can look a CNAME's or NS's target up by its bytes.
//!
//! Two choices differ from a plain zone file, both to keep a config from
//! meaning something other than it says: a name without a trailing dot that
//! already ends in the origin is taken as absolute (as everywhere else in a
//! gslb config), and an unquoted `;` is an error rather than the start of a
//! comment that silently drops the rest of the data. A character-string
//! longer than 255 bytes is split into 255-byte strings (a DKIM key fits in
//! one quoted string), as a TXT consumer joins them again.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::iana::rtype;
use crate::name::{Name, NameError};

/// Most CNAME links gslb follows in one answer; config validation rejects
/// longer static chains, so only loops through dynamic data could reach it.
pub const MAX_CNAME_CHAIN: usize = 8;
/// Largest RDATA (RDLENGTH is 16 bits).
pub const MAX_RDATA_LEN: usize = 65_535;
/// Longest character-string (its length is one byte).
const MAX_STRING_LEN: usize = 255;
/// Longest CAA tag (RFC 8659 §4.1).
const MAX_CAA_TAG_LEN: usize = 15;

/// A record type gslb serves from static data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// IPv4 host address.
    A,
    /// Delegation of a subdomain to other name servers.
    Ns,
    /// Alias to a canonical name.
    Cname,
    /// Mail exchange.
    Mx,
    /// Text (verification tokens, SPF, DKIM).
    Txt,
    /// IPv6 host address.
    Aaaa,
    /// Service location (RFC 2782).
    Srv,
    /// Delegation signer (RFC 4034 §5), at a delegation point: the
    /// signed child's key.
    Ds,
    /// Certification authority authorization (RFC 8659).
    Caa,
}

impl RecordType {
    /// Every type, in type-code order.
    pub const ALL: [Self; 9] = [
        Self::A,
        Self::Ns,
        Self::Cname,
        Self::Mx,
        Self::Txt,
        Self::Aaaa,
        Self::Srv,
        Self::Ds,
        Self::Caa,
    ];

    /// The TYPE value on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::A => rtype::A,
            Self::Ns => rtype::NS,
            Self::Cname => rtype::CNAME,
            Self::Mx => rtype::MX,
            Self::Txt => rtype::TXT,
            Self::Aaaa => rtype::AAAA,
            Self::Srv => rtype::SRV,
            Self::Ds => rtype::DS,
            Self::Caa => rtype::CAA,
        }
    }

    /// The mnemonic, as in zone files.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Ns => "NS",
            Self::Cname => "CNAME",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Aaaa => "AAAA",
            Self::Srv => "SRV",
            Self::Ds => "DS",
            Self::Caa => "CAA",
        }
    }

    /// The type of a mnemonic, in any case.
    pub fn from_mnemonic(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.mnemonic().eq_ignore_ascii_case(text))
    }

    /// The type of a TYPE value, if gslb serves it from static data.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

/// One record's data in wire form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rdata {
    /// The RDATA bytes, names uncompressed and lower-cased.
    wire: Box<[u8]>,
    /// The name a CNAME, NS, MX or SRV record points at (`None` for the
    /// root, as in a null MX or an SRV "no service" target).
    target: Option<Name>,
}

impl Rdata {
    /// The RDATA bytes exactly as they follow RDLENGTH.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The name the record points at, for CNAME, NS, MX and SRV.
    pub fn target(&self) -> Option<&Name> {
        self.target.as_ref()
    }

    /// Takes the wire bytes.
    pub fn into_wire(self) -> Box<[u8]> {
        self.wire
    }
}

/// Why record data was rejected; the message is shown to operators after
/// the data itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    /// Nothing but blanks.
    #[error("is empty")]
    Empty,
    /// A `"` without its closing partner.
    #[error("has a quoted string without its closing '\"'")]
    UnterminatedQuote,
    /// A `"` in the middle of an unquoted word.
    #[error("has a '\"' inside an unquoted word")]
    StrayQuote,
    /// A backslash at the end, or `\DDD` above 255.
    #[error("has a bad escape ('\\' ends the text or \\DDD is above 255)")]
    BadEscape,
    /// An unquoted `;`: a comment in zone files.
    #[error("has an unquoted ';', which starts a comment in zone files; put the text in quotes")]
    Comment,
    /// `(` and `)` do not pair up.
    #[error("has unbalanced parentheses")]
    Parentheses,
    /// The wrong number of fields for the type.
    #[error("needs {expected}, found {found} field(s)")]
    Fields {
        /// What the type's data is made of.
        expected: &'static str,
        /// Fields found.
        found: usize,
    },
    /// A number out of its field's range.
    #[error("{field} {text:?} is not a number from 0 to {max}")]
    Number {
        /// The field.
        field: &'static str,
        /// What was written.
        text: String,
        /// The field's largest value.
        max: u32,
    },
    /// A name field that does not parse.
    #[error("{field} {text:?} is not a domain name: it {error}")]
    Name {
        /// The field.
        field: &'static str,
        /// What was written.
        text: String,
        /// Why.
        error: NameError,
    },
    /// A name in quotes, which zone files do not allow.
    #[error("{field} {text:?} must not be quoted")]
    QuotedName {
        /// The field.
        field: &'static str,
        /// What was written.
        text: String,
    },
    /// The root where a real name is needed.
    #[error("{field} must not be the root name \".\"")]
    Root {
        /// The field.
        field: &'static str,
    },
    /// An address of the wrong form.
    #[error("{text:?} is not an {family} address")]
    Address {
        /// What was written.
        text: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// The CAA tag is not 1-15 letters and digits.
    #[error("CAA tag {0:?} must be 1 to 15 ASCII letters and digits")]
    CaaTag(String),
    /// A CAA `issue`/`issuewild`/`iodef` value breaks RFC 8659's grammar.
    #[error("CAA {tag} value {value:?} {reason}")]
    CaaValue {
        /// The tag.
        tag: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A DS digest that is not an even number of hex digits.
    #[error("DS digest {0:?} is not hexadecimal")]
    Digest(String),
    /// More than RDLENGTH can carry.
    #[error("is longer than {MAX_RDATA_LEN} bytes on the wire")]
    TooLong,
}

/// A word of record data: its bytes once escapes are undone, and whether
/// it was quoted (a quoted word is never a name or a number).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    bytes: Vec<u8>,
    quoted: bool,
}

impl Word {
    /// The word as text, for names, numbers and messages.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Parses the data of one record of type `rtype`; relative names are
/// completed with `origin`.
pub fn parse(rtype: RecordType, text: &str, origin: &Name) -> Result<Rdata, RdataError> {
    let words = words(text)?;
    if words.is_empty() {
        return Err(RdataError::Empty);
    }
    let rdata = match rtype {
        RecordType::A => {
            let [addr] = fields(&words, "one IPv4 address")?;
            let addr: Ipv4Addr = addr.text().parse().map_err(|_| RdataError::Address {
                text: addr.text(),
                family: "IPv4",
            })?;
            plain(addr.octets().to_vec())
        }
        RecordType::Aaaa => {
            let [addr] = fields(&words, "one IPv6 address")?;
            let addr: Ipv6Addr = addr.text().parse().map_err(|_| RdataError::Address {
                text: addr.text(),
                family: "IPv6",
            })?;
            plain(addr.octets().to_vec())
        }
        RecordType::Ns | RecordType::Cname => {
            let [target] = fields(&words, "one name")?;
            let target =
                data_name("target", target, origin)?.ok_or(RdataError::Root { field: "target" })?;
            named(Vec::new(), Some(target))
        }
        RecordType::Mx => {
            let [preference, exchange] = fields(&words, "2 fields (preference exchange)")?;
            let mut wire = number("preference", preference)?.to_be_bytes().to_vec();
            let exchange = data_name("exchange", exchange, origin)?;
            push_name(&mut wire, exchange.as_ref());
            named(wire, exchange)
        }
        RecordType::Srv => {
            let [priority, weight, port, target] =
                fields(&words, "4 fields (priority weight port target)")?;
            let mut wire = Vec::with_capacity(6);
            for (field, word) in [("priority", priority), ("weight", weight), ("port", port)] {
                wire.extend_from_slice(&number(field, word)?.to_be_bytes());
            }
            let target = data_name("target", target, origin)?;
            push_name(&mut wire, target.as_ref());
            named(wire, target)
        }
        RecordType::Txt => plain(txt(&words)),
        RecordType::Ds => plain(ds(&words)?),
        RecordType::Caa => plain(caa(&words)?),
    };
    if rdata.wire.len() > MAX_RDATA_LEN {
        return Err(RdataError::TooLong);
    }
    Ok(rdata)
}

/// Reads an owner name as the `name` of a static record is written: `@`
/// for the origin, a trailing dot for an absolute name, a name that ends
/// in the origin as absolute, anything else relative to the origin.
pub fn owner_name(text: &str, origin: &Name) -> Result<Name, NameError> {
    if text == "@" {
        return Ok(origin.clone());
    }
    if text.ends_with('.') {
        return Name::parse(text);
    }
    match Name::parse(text) {
        Ok(name) if name.is_within(origin) => Ok(name),
        Ok(_) => Name::parse(&format!("{text}.{origin}")),
        Err(error) => Err(error),
    }
}

/// A name field of record data: as [`owner_name`], and `.` for the root.
fn data_name(field: &'static str, word: &Word, origin: &Name) -> Result<Option<Name>, RdataError> {
    let text = word.text();
    if text == "." && !word.quoted {
        return Ok(None);
    }
    if word.quoted {
        return Err(RdataError::QuotedName { field, text });
    }
    owner_name(&text, origin)
        .map(Some)
        .map_err(|error| RdataError::Name { field, text, error })
}

fn plain(wire: Vec<u8>) -> Rdata {
    Rdata {
        wire: wire.into(),
        target: None,
    }
}

/// Data that ends with (or is) the target name.
fn named(mut wire: Vec<u8>, target: Option<Name>) -> Rdata {
    if wire.is_empty() {
        push_name(&mut wire, target.as_ref());
    }
    Rdata {
        wire: wire.into(),
        target,
    }
}

fn push_name(wire: &mut Vec<u8>, name: Option<&Name>) {
    match name {
        Some(name) => wire.extend_from_slice(name.wire()),
        None => wire.push(0),
    }
}

/// Exactly `N` words, or an error saying what the type needs.
fn fields<'w, const N: usize>(
    words: &'w [Word],
    expected: &'static str,
) -> Result<[&'w Word; N], RdataError> {
    let found = words.len();
    let wrong = || RdataError::Fields { expected, found };
    let refs: Vec<&Word> = words.iter().collect();
    refs.try_into().map_err(|_| wrong())
}

/// A 16-bit decimal field.
fn number(field: &'static str, word: &Word) -> Result<u16, RdataError> {
    let text = word.text();
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u16>() {
        Ok(value) if digits_only && !word.quoted => Ok(value),
        _ => Err(RdataError::Number {
            field,
            text,
            max: u16::MAX.into(),
        }),
    }
}

/// DS: key tag, algorithm, digest type, and the digest in hex (possibly
/// split into several words, as `dnssec-dsfromkey` does not but zone
/// files may).
fn ds(words: &[Word]) -> Result<Vec<u8>, RdataError> {
    let [tag, algorithm, digest_type, digest @ ..] = words else {
        return Err(RdataError::Fields {
            expected: "4 fields (key-tag algorithm digest-type digest)",
            found: words.len(),
        });
    };
    if digest.is_empty() {
        return Err(RdataError::Fields {
            expected: "4 fields (key-tag algorithm digest-type digest)",
            found: words.len(),
        });
    }
    let mut wire = number("key tag", tag)?.to_be_bytes().to_vec();
    for (field, word) in [("algorithm", algorithm), ("digest type", digest_type)] {
        let value = number(field, word)?;
        let byte = u8::try_from(value).map_err(|_| RdataError::Number {
            field,
            text: word.text(),
            max: 255,
        })?;
        wire.push(byte);
    }
    let hex: String = digest.iter().map(Word::text).collect();
    let bytes = hex
        .len()
        .is_multiple_of(2)
        .then(|| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten()
        .ok_or(RdataError::Digest(hex))?;
    wire.extend_from_slice(&bytes);
    Ok(wire)
}

/// TXT: each word a character-string, long ones split at 255 bytes.
fn txt(words: &[Word]) -> Vec<u8> {
    let mut wire = Vec::new();
    for word in words {
        if word.bytes.is_empty() {
            wire.push(0);
        }
        for chunk in word.bytes.chunks(MAX_STRING_LEN) {
            wire.push(chunk.len() as u8);
            wire.extend_from_slice(chunk);
        }
    }
    wire
}

/// CAA: flags, tag, value (RFC 8659 §4.1), the value of the tags CAs act
/// on checked against §4.2-4.4 so a typo fails here, not at issuance.
fn caa(words: &[Word]) -> Result<Vec<u8>, RdataError> {
    let [flags_word, tag, value] = fields(words, "3 fields (flags tag value)")?;
    let flags_text = flags_word.text();
    let flags = match flags_text.parse::<u8>() {
        Ok(flags) if !flags_word.quoted && flags_text.bytes().all(|b| b.is_ascii_digit()) => flags,
        _ => {
            return Err(RdataError::Number {
                field: "flags",
                text: flags_text,
                max: u8::MAX.into(),
            });
        }
    };
    let tag_ok = (1..=MAX_CAA_TAG_LEN).contains(&tag.bytes.len())
        && tag.bytes.iter().all(u8::is_ascii_alphanumeric);
    if !tag_ok {
        return Err(RdataError::CaaTag(tag.text()));
    }
    let tag_text = tag.text();
    let value_error = |reason| RdataError::CaaValue {
        tag: tag_text.clone(),
        value: value.text(),
        reason,
    };
    match tag_text.to_ascii_lowercase().as_str() {
        "issue" | "issuewild" => {
            let text =
                std::str::from_utf8(&value.bytes).map_err(|_| value_error("is not ASCII text"))?;
            issue_value(text).map_err(value_error)?;
        }
        "iodef" => {
            let lower = value.text().to_ascii_lowercase();
            if !["mailto:", "http://", "https://"]
                .iter()
                .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
            {
                return Err(value_error(
                    "is not a mailto:, http:// or https:// URL (RFC 8659 §4.4)",
                ));
            }
        }
        _ => {}
    }
    let mut wire = Vec::with_capacity(2 + tag.bytes.len() + value.bytes.len());
    wire.push(flags);
    wire.push(tag.bytes.len() as u8);
    wire.extend_from_slice(&tag.bytes);
    wire.extend_from_slice(&value.bytes);
    Ok(wire)
}

/// RFC 8659 §4.2: `[issuer-domain-name] [";" [parameter *(";" parameter)]]`
/// with blanks allowed around each part.
fn issue_value(text: &str) -> Result<(), &'static str> {
    let (issuer, parameters) = match text.split_once(';') {
        Some((issuer, parameters)) => (issuer, Some(parameters)),
        None => (text, None),
    };
    let issuer = issuer.trim_matches(is_wsp);
    if !issuer.is_empty() && !issuer.split('.').all(caa_label) {
        return Err("has an issuer that is not a domain name (RFC 8659 §4.2)");
    }
    let Some(parameters) = parameters else {
        return Ok(());
    };
    let parameters = parameters.trim_matches(is_wsp);
    if parameters.is_empty() {
        return Ok(());
    }
    for parameter in parameters.split(';') {
        let Some((key, value)) = parameter.split_once('=') else {
            return Err("has a parameter without '=' (RFC 8659 §4.2)");
        };
        let key = key.trim_matches(is_wsp);
        let value = value.trim_matches(is_wsp);
        let value_ok = value
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b';');
        if !caa_label(key) || !value_ok {
            return Err("has a parameter that is not key=value (RFC 8659 §4.2)");
        }
    }
    Ok(())
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `(ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))` of RFC 8659 §4.2.
fn caa_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// Splits record data into words: blanks separate unquoted words, `"..."`
/// is one word whatever it holds, `\X` stands for X and `\DDD` for the
/// byte DDD, `(` and `)` only group lines.
fn words(text: &str) -> Result<Vec<Word>, RdataError> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'(' => {
                depth += 1;
                at += 1;
            }
            b')' => {
                depth = depth.checked_sub(1).ok_or(RdataError::Parentheses)?;
                at += 1;
            }
            b';' => return Err(RdataError::Comment),
            b'"' => {
                let (word, end) = quoted(bytes, at + 1)?;
                words.push(word);
                at = end;
            }
            _ => {
                let (word, end) = unquoted(bytes, at)?;
                words.push(word);
                at = end;
            }
        }
    }
    if depth != 0 {
        return Err(RdataError::Parentheses);
    }
    Ok(words)
}

/// A quoted word starting after its `"`; returns it and the offset after
/// the closing `"`.
fn quoted(bytes: &[u8], mut at: usize) -> Result<(Word, usize), RdataError> {
    let mut word = Vec::new();
    loop {
        match bytes.get(at) {
            None => return Err(RdataError::UnterminatedQuote),
            Some(b'"') => {
                let word = Word {
                    bytes: word,
                    quoted: true,
                };
                return Ok((word, at + 1));
            }
            Some(b'\\') => at = escape(bytes, at, &mut word)?,
            Some(&b) => {
                word.push(b);
                at += 1;
            }
        }
    }
}

/// An unquoted word; returns it and the offset after it.
fn unquoted(bytes: &[u8], mut at: usize) -> Result<(Word, usize), RdataError> {
    let mut word = Vec::new();
    while let Some(&b) = bytes.get(at) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' => break,
            b';' => return Err(RdataError::Comment),
            b'"' => return Err(RdataError::StrayQuote),
            b'\\' => at = escape(bytes, at, &mut word)?,
            _ => {
                word.push(b);
                at += 1;
            }
        }
    }
    let word = Word {
        bytes: word,
        quoted: false,
    };
    Ok((word, at))
}

/// The escape at `at` (a backslash): pushes its byte, returns the offset
/// after it.
fn escape(bytes: &[u8], at: usize, word: &mut Vec<u8>) -> Result<usize, RdataError> {
    let digits = bytes
        .get(at + 1..at + 4)
        .filter(|d| d.iter().all(u8::is_ascii_digit));
    if let Some(digits) = digits {
        let value = digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        word.push(u8::try_from(value).map_err(|_| RdataError::BadEscape)?);
        return Ok(at + 4);
    }
    match bytes.get(at + 1) {
        Some(&b) if !b.is_ascii_digit() => {
            word.push(b);
            Ok(at + 2)
        }
        _ => Err(RdataError::BadEscape),
    }
}

#[cfg(test)]
mod tests;
