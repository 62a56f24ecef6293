//! Every config key in one table: its path, default, range, whether a
//! change applies on reload or needs a restart, and what it means.
//!
//! Validation takes defaults and ranges from here ([`IntSetting`] and
//! [`DurationSetting`] go to `Checker::int` and `Checker::duration`), and
//! `gslb config-reference` prints the table as the settings reference page
//! (docs/src/reference/settings.md, [`reference_page`]), so the page, the
//! checks and the defaults cannot drift apart: a test fails when the
//! committed page is not what the table prints.
//!
//! Keys are written as paths: `server.udp_workers`, `zones[].ttl` (every
//! zone), `health_checks.<name>.port` (every template),
//! `records[].sets[].weight`. What a key means lives here, not in the
//! README; the book's chapters explain how the keys work together.

mod page;
mod table;

use std::time::Duration;

pub use page::reference_page;
pub use table::*;

/// When a changed value takes effect in a running server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// On the next reload (SIGHUP or a file change).
    Reload,
    /// Only after a restart; a reload that changes it logs a warning.
    Restart,
}

/// What an integer counts, for messages and the reference page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count.
    Count,
    /// Seconds (TTLs, SOA timers).
    Seconds,
    /// Bytes.
    Bytes,
    /// Prefix length in bits.
    Bits,
}

impl Unit {
    /// The word after a number, with a leading space; empty for counts.
    fn suffix(self) -> &'static str {
        match self {
            Self::Count => "",
            Self::Seconds => " seconds",
            Self::Bytes => " bytes",
            Self::Bits => " bits",
        }
    }
}

/// What every key has besides its value's type.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// The default as the reference page shows it, when the typed default
    /// cannot say it ("CPU count", "zone `ttl`"); `None` shows the typed
    /// default, or "required" when there is none.
    pub default: Option<&'static str>,
    /// Reload or restart.
    pub apply: Apply,
    /// What it does, for operators (Markdown).
    pub meaning: &'static str,
}

/// An integer key.
#[derive(Debug, Clone, Copy)]
pub struct IntSetting {
    /// Path, e.g. `server.udp_workers` or `zones[].ttl`.
    pub key: &'static str,
    /// Used when the key is absent; `None` when it is required or its
    /// default depends on other keys (the validator supplies it).
    pub default: Option<i64>,
    /// Smallest value accepted.
    pub min: i64,
    /// Largest value accepted.
    pub max: i64,
    /// What it counts.
    pub unit: Unit,
    /// Reference page text.
    pub doc: Doc,
}

impl IntSetting {
    /// The default, for constants derived from the table; a key without one
    /// fails to compile where this is asked in a const.
    pub const fn default_value(&self) -> i64 {
        match self.default {
            Some(value) => value,
            None => panic!("this setting has no constant default"),
        }
    }

    /// `(min to max unit)`, as range errors and the reference page say it.
    pub fn range_text(&self) -> String {
        format!("{} to {}{}", self.min, self.max, self.unit.suffix())
    }
}

/// A duration key, written like `5s`, `500ms` or `1h`.
#[derive(Debug, Clone, Copy)]
pub struct DurationSetting {
    /// Path.
    pub key: &'static str,
    /// Used when the key is absent.
    pub default: Option<Duration>,
    /// Shortest value accepted.
    pub min: Duration,
    /// Longest value accepted.
    pub max: Duration,
    /// Reference page text.
    pub doc: Doc,
}

impl DurationSetting {
    /// `min to max` in the notation the file uses.
    pub fn range_text(&self) -> String {
        format!(
            "{} to {}",
            humantime::format_duration(self.min),
            humantime::format_duration(self.max)
        )
    }
}

/// A decimal number key (coordinates).
#[derive(Debug, Clone, Copy)]
pub struct FloatSetting {
    /// Path.
    pub key: &'static str,
    /// Smallest value accepted.
    pub min: f64,
    /// Largest value accepted.
    pub max: f64,
    /// Reference page text.
    pub doc: Doc,
}

/// Any other key: addresses, names, files, lists, tables. Its checks are
/// its validator's; the table holds what the page says of it.
#[derive(Debug, Clone, Copy)]
pub struct OtherSetting {
    /// Path.
    pub key: &'static str,
    /// What values it takes, for the page's range column; empty when the
    /// meaning says it all.
    pub range: &'static str,
    /// Reference page text.
    pub doc: Doc,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    /// An integer.
    Int(&'static IntSetting),
    /// A duration.
    Duration(&'static DurationSetting),
    /// A decimal number.
    Float(&'static FloatSetting),
    /// Anything else.
    Other(&'static OtherSetting),
}

impl Setting {
    /// The key's path.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Int(s) => s.key,
            Self::Duration(s) => s.key,
            Self::Float(s) => s.key,
            Self::Other(s) => s.key,
        }
    }

    /// Its reference text.
    pub fn doc(&self) -> &Doc {
        match self {
            Self::Int(s) => &s.doc,
            Self::Duration(s) => &s.doc,
            Self::Float(s) => &s.doc,
            Self::Other(s) => &s.doc,
        }
    }

    /// The default as the page shows it.
    pub fn default_text(&self) -> String {
        if let Some(text) = self.doc().default {
            return text.to_owned();
        }
        match self {
            Self::Int(s) => s
                .default
                .map_or_else(|| "required".to_owned(), |v| int_text(v, s.unit)),
            Self::Duration(s) => s.default.map_or_else(
                || "required".to_owned(),
                |d| format!("`{}`", humantime::format_duration(d)),
            ),
            Self::Float(_) | Self::Other(_) => "required".to_owned(),
        }
    }

    /// The range as the page shows it; empty when there is none to show.
    pub fn range_text(&self) -> String {
        match self {
            Self::Int(s) => s.range_text(),
            Self::Duration(s) => s.range_text(),
            Self::Float(s) => format!("{} to {}", s.min, s.max),
            Self::Other(s) => s.range.to_owned(),
        }
    }
}

/// A number as the page shows it: bytes also in KiB/MiB/GiB when round.
fn int_text(value: i64, unit: Unit) -> String {
    if unit != Unit::Bytes {
        return value.to_string();
    }
    for (shift, name) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        let size = 1i64 << shift;
        if value >= size && value % size == 0 {
            return format!("{value} ({} {name})", value / size);
        }
    }
    value.to_string()
}

/// The row for `key`, if the table has one.
pub fn find(key: &str) -> Option<Setting> {
    ALL.iter().copied().find(|s| s.key() == key)
}

#[cfg(test)]
mod tests;
