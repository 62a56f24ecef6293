//! Caps on what a config can make the server read and hold: the size of each
//! file (`server.max_config_bytes`), the number of records
//! (`server.max_records`) and the YAML parser's budgets, which follow the
//! size of the file being read so that aliases cannot expand a small file
//! into gigabytes (an "alias bomb").
//!
//! A file is checked against the cap of the config that names it: record
//! files against the new config's values, the main config against the
//! running config's (its own are only known once it has been read).

use std::cell::Cell;

use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};

use super::raw::{RawRecord, RawServer};
use super::settings;

/// Default `server.max_config_bytes`: 64 MiB per file (the settings table's).
pub const DEFAULT_MAX_CONFIG_BYTES: u64 = settings::MAX_CONFIG_BYTES.default_value() as u64;
/// Smallest `server.max_config_bytes`.
pub const MIN_MAX_CONFIG_BYTES: u64 = settings::MAX_CONFIG_BYTES.min as u64;
/// Largest `server.max_config_bytes`: 4 GiB, beyond which a file would not
/// fit in the memory of any sensible deployment anyway.
pub const MAX_MAX_CONFIG_BYTES: u64 = settings::MAX_CONFIG_BYTES.max as u64;
/// Default `server.max_records`, the config and its record files together.
pub const DEFAULT_MAX_RECORDS: usize = settings::MAX_RECORDS.default_value() as usize;
/// Largest `server.max_records` (each record costs a few KB while loading).
pub const MAX_MAX_RECORDS: usize = settings::MAX_RECORDS.max as usize;

/// Aliases may replay at least this many YAML events (serde-saphyr's own
/// default), however small the file.
const MIN_REPLAYED_EVENTS: usize = 1_000_000;
/// Aliases may replay this many YAML events per byte of the file: records
/// sharing one anchored list of sets replay about seven.
const REPLAYED_EVENTS_PER_BYTE: usize = 16;

/// The caps a load reads files with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, in bytes; also the most scalar text a YAML file may
    /// expand to through aliases.
    pub max_config_bytes: u64,
    /// Most records in a config and its record files together.
    pub max_records: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_config_bytes: DEFAULT_MAX_CONFIG_BYTES,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

impl Limits {
    /// The limits a validated config sets.
    pub fn of(server: &crate::model::Server) -> Self {
        Self {
            max_config_bytes: server.max_config_bytes,
            max_records: server.max_records,
        }
    }

    /// The limits a freshly read config asks for, to read its record files
    /// with. A value that validation will reject falls back to `self`; the
    /// load fails anyway.
    pub(super) fn asked_by(self, raw: &RawServer) -> Self {
        let bytes = raw
            .max_config_bytes
            .map_or(Some(DEFAULT_MAX_CONFIG_BYTES), |v| u64::try_from(v).ok())
            .filter(|v| (MIN_MAX_CONFIG_BYTES..=MAX_MAX_CONFIG_BYTES).contains(v));
        let records = raw
            .max_records
            .map_or(Some(DEFAULT_MAX_RECORDS), |v| usize::try_from(v).ok())
            .filter(|v| (settings::MAX_RECORDS.min as usize..=MAX_MAX_RECORDS).contains(v));
        Self {
            max_config_bytes: bytes.unwrap_or(self.max_config_bytes),
            max_records: records.unwrap_or(self.max_records),
        }
    }

    /// The limits before any config has been read (`gslb serve` starting,
    /// `gslb check-config`): the defaults, or `GSLB_SERVER__MAX_CONFIG_BYTES`
    /// and `GSLB_SERVER__MAX_RECORDS` when set, so an operator can start
    /// with a main config larger than the default cap.
    pub(super) fn before_any_config(env: &[(String, String)]) -> Self {
        let value = |key: &str| {
            env.iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.trim().parse::<i64>().ok())
        };
        Self::default().asked_by(&RawServer {
            max_config_bytes: value("GSLB_SERVER__MAX_CONFIG_BYTES"),
            max_records: value("GSLB_SERVER__MAX_RECORDS"),
            ..RawServer::default()
        })
    }

    /// serde-saphyr options for a YAML file of `len` bytes. Its default
    /// budgets are too small for large record files and unrelated to the
    /// file's size; these scale with it, so that through aliases a file can
    /// cost no more than a file at the size cap could:
    /// * scalar text, aliases expanded, at most `max_config_bytes` (a 1 MB
    ///   scalar aliased 2,000 times is stopped at 64 MiB, not at 2 GB);
    /// * replayed alias events at most 16 per byte of the file (at least
    ///   1,000,000) and at most `max_config_bytes`, so nested aliases
    ///   ("billion laughs") stop early;
    /// * parser events and nodes at most what the file itself can hold
    ///   (under one per byte) plus those replays.
    ///
    /// The library's alias-to-anchor ratio heuristic is off: with these
    /// budgets it would only reject configs that reuse an anchor in many
    /// records.
    pub(super) fn yaml_options(self, len: usize) -> serde_saphyr::Options {
        let cap = usize::try_from(self.max_config_bytes).unwrap_or(usize::MAX);
        let replays = len
            .saturating_mul(REPLAYED_EVENTS_PER_BYTE)
            .max(MIN_REPLAYED_EVENTS)
            .min(cap);
        let events = len.saturating_add(replays).saturating_add(1024);
        let mut budget = serde_saphyr::Budget::default();
        budget.max_events = events;
        budget.max_nodes = events;
        budget.max_aliases = len / 2 + 1;
        budget.max_total_scalar_bytes = cap;
        budget.max_recorded_anchor_bytes = cap;
        budget.max_reader_input_bytes = None;
        budget.enforce_alias_anchor_ratio = false;
        serde_saphyr::options! {
            budget: Some(budget),
            alias_limits: serde_saphyr::alias_limits! {
                max_total_replayed_events: replays,
            },
            with_snippet: false,
        }
    }
}

thread_local! {
    /// Records the file being read may still hold: the rest of
    /// `server.max_records` after the files read before it. `None` when no
    /// load is counting (the record scope `gslb crd-sync` reads).
    static RECORD_ALLOWANCE: Cell<Option<Allowance>> = const { Cell::new(None) };
}

#[derive(Debug, Clone, Copy)]
struct Allowance {
    left: usize,
    max: usize,
}

/// Counts records while one file is deserialized on this thread, so a file
/// with too many is rejected at the first record over the cap instead of
/// after all of them are built.
pub(super) struct RecordCount {
    previous: Option<Allowance>,
}

impl RecordCount {
    /// Allows `left` more records out of `max` until dropped.
    pub(super) fn allow(left: usize, max: usize) -> Self {
        let previous = RECORD_ALLOWANCE.with(|a| a.replace(Some(Allowance { left, max })));
        Self { previous }
    }
}

/// The record allowance as it was at [`RecordCount::rewind`], to give back
/// before the same file is read again.
pub(super) struct Rewind(Option<Allowance>);

impl RecordCount {
    /// The allowance now: reading a file twice (a fast parse, then one that
    /// names the field of an error) must not charge its records twice.
    pub(super) fn rewind() -> Rewind {
        Rewind(RECORD_ALLOWANCE.with(Cell::get))
    }
}

impl Rewind {
    /// Restores the allowance saved.
    pub(super) fn restore(&self) {
        RECORD_ALLOWANCE.with(|a| a.set(self.0));
    }
}

impl Drop for RecordCount {
    fn drop(&mut self) {
        RECORD_ALLOWANCE.with(|a| a.set(self.previous));
    }
}

/// Deserializes `records:`, charging each record to the allowance of the
/// load in progress (see [`RecordCount`]).
pub(super) fn counted_records<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<RawRecord>, D::Error> {
    struct Records;
    impl<'de> Visitor<'de> for Records {
        type Value = Vec<RawRecord>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of records")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(record) = seq.next_element()? {
                let charged = RECORD_ALLOWANCE.with(|a| match a.get() {
                    None => Ok(()),
                    Some(Allowance { left: 0, max }) => Err(max),
                    Some(Allowance { left, max }) => {
                        a.set(Some(Allowance {
                            left: left - 1,
                            max,
                        }));
                        Ok(())
                    }
                });
                if let Err(max) = charged {
                    return Err(A::Error::custom(format!(
                        "more than {max} records in the config and its record files (server.max_records)"
                    )));
                }
                records.push(record);
            }
            Ok(records)
        }
    }
    deserializer.deserialize_seq(Records)
}

#[cfg(test)]
mod tests;
