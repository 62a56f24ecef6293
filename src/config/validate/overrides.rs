//! `overrides:` of record files: record names, set ids, states and the
//! object each comes from, every problem with its file and path. A set may
//! be overridden once over all record files: crd-sync has already chosen
//! one object per set, so two entries mean two writers disagree.
//!
//! Whether the record and set exist is not checked: an override of a set
//! the config lacks is inactive, as the admin API's are, and applies when
//! the set is back.

use std::collections::HashMap;

use super::Checker;
use super::records::set_id_ok;
use crate::config::ConfigErrors;
use crate::config::raw::RawFileOverride;
use crate::model::file_override::MAX_REASON;
use crate::model::{FileOverride, OverrideState};
use crate::name::Name;

/// Longest `object`: `CLUSTER/NAMESPACE/NAME` of names of 63 and 253
/// characters fits.
const MAX_OBJECT: usize = 400;

/// Checks the overrides of every record file and rejects a set overridden
/// twice.
#[derive(Default)]
pub(in crate::config) struct OverrideChecker {
    /// Where each (record, set) was first overridden, for messages.
    seen: HashMap<(Name, String), String>,
    /// The entries that passed.
    pub(super) overrides: Vec<FileOverride>,
}

impl OverrideChecker {
    pub(super) fn add_all(&mut self, check: &mut Checker<'_>, raw: &[RawFileOverride]) {
        for (i, raw) in raw.iter().enumerate() {
            let path = format!("overrides[{i}]");
            let Some(entry) = entry(check, &path, raw) else {
                continue;
            };
            let here = format!("{} {path}", check.file);
            let key = (entry.record.clone(), entry.set.clone());
            if let Some(first) = self.seen.get(&key) {
                check.error(
                    path,
                    format!(
                        "set {:?} of {} is already overridden in {first}",
                        entry.set, entry.record
                    ),
                );
                continue;
            }
            self.seen.insert(key, here);
            self.overrides.push(entry);
        }
    }
}

/// Checks one override as the server would read it from a record file;
/// `what` names it in the errors (crd-sync: the object). crd-sync writes
/// only entries that pass, so one bad object never makes the server reject
/// the whole file.
pub fn check_override(what: &str, raw: &RawFileOverride) -> Result<FileOverride, ConfigErrors> {
    Checker::collect(what, crate::config::Secrets::Read, |check| {
        entry(check, "", raw)
    })
    .and_then(|entry| entry.ok_or_else(|| ConfigErrors(Vec::new())))
}

fn entry(check: &mut Checker<'_>, path: &str, raw: &RawFileOverride) -> Option<FileOverride> {
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let record = check.name(field("record"), &raw.record);
    let set_ok = set_id_ok(&raw.set);
    if !set_ok {
        check.error(
            field("set"),
            format!("{:?} must be 1-253 letters, digits or - _ . / :", raw.set),
        );
    }
    let state = match raw.state.as_str() {
        "down" => Some(OverrideState::Down),
        "up" => Some(OverrideState::Up),
        other => {
            check.error(
                field("state"),
                format!("{other:?} is not an override state: use \"down\" or \"up\" (remove the override to clear it)"),
            );
            None
        }
    };
    let reason = raw
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let reason_ok = reason.is_none_or(|r| reason_ok(check, &field("reason"), r));
    let object_ok = raw
        .object
        .as_deref()
        .is_none_or(|o| object_ok(check, &field("object"), o));
    let at_ok = raw
        .at
        .as_deref()
        .is_none_or(|at| at_ok(check, &field("at"), at));
    if !(set_ok && reason_ok && object_ok && at_ok) {
        return None;
    }
    Some(FileOverride {
        record: record?,
        set: raw.set.clone(),
        state: state?,
        reason: reason.map(str::to_owned),
        object: raw.object.clone(),
        at: raw.at.clone(),
        file: check.file.clone(),
    })
}

/// A reason fits the status page: at most `MAX_REASON` characters, no
/// control characters.
fn reason_ok(check: &mut Checker<'_>, field: &str, reason: &str) -> bool {
    let error = if reason.chars().count() > MAX_REASON {
        format!("is longer than {MAX_REASON} characters")
    } else if reason.chars().any(char::is_control) {
        "has control characters".to_owned()
    } else {
        return true;
    };
    check.error(field, error);
    false
}

/// The object an override came from (`cluster/namespace/name`).
fn object_ok(check: &mut Checker<'_>, field: &str, object: &str) -> bool {
    if object.is_empty() || object.len() > MAX_OBJECT || object.chars().any(char::is_control) {
        check.error(
            field,
            format!("{object:?} must be 1-{MAX_OBJECT} bytes without control characters"),
        );
        return false;
    }
    true
}

/// When the override was taken, as RFC 3339.
fn at_ok(check: &mut Checker<'_>, field: &str, at: &str) -> bool {
    match humantime::parse_rfc3339_weak(at) {
        Ok(_) => true,
        Err(e) => {
            check.error(
                field,
                format!("{at:?} is not an RFC 3339 time such as 2025-01-31T12:00:00Z: {e}"),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(record: &str, set: &str, state: &str) -> RawFileOverride {
        RawFileOverride {
            record: record.into(),
            set: set.into(),
            state: state.into(),
            reason: Some("maintenance".into()),
            object: Some("us/gslb/drain".into()),
            at: Some("2025-01-31T12:00:00Z".into()),
        }
    }

    fn errors(entries: &[RawFileOverride]) -> Vec<String> {
        let mut errors = Vec::new();
        let mut checker = OverrideChecker::default();
        checker.add_all(&mut Checker::new("records.yaml", &mut errors), entries);
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_bad_field_is_named_with_file_and_path() {
        let mut long = raw("a.example.test.", "us", "down");
        long.reason = Some("x".repeat(MAX_REASON + 1));
        long.at = Some("yesterday".into());
        let got = errors(&[
            raw("a.example.test.", "us", "down"),
            raw("not a name!", "us east", "auto"),
            long,
        ]);
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(
            got[0].starts_with("records.yaml: overrides[1].record: "),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with("records.yaml: overrides[1].set: "),
            "{got:#?}"
        );
        assert!(
            got[2].contains("overrides[1].state: \"auto\" is not an override state"),
            "{got:#?}"
        );
        assert!(
            got[3].contains("overrides[2].reason: is longer than 256"),
            "{got:#?}"
        );
        assert!(
            got[4].contains("overrides[2].at: \"yesterday\""),
            "{got:#?}"
        );
    }

    #[test]
    fn a_set_overridden_twice_is_an_error_naming_the_first() {
        let got = errors(&[
            raw("a.example.test.", "us", "down"),
            raw("A.example.test", "us", "up"),
        ]);
        assert_eq!(
            got,
            [
                "records.yaml: overrides[1]: set \"us\" of a.example.test. is already overridden in records.yaml overrides[0]"
            ]
        );
    }

    #[test]
    fn check_override_accepts_what_the_server_accepts() {
        let entry =
            check_override("us/gslb/drain", &raw("A.Example.Test", "us", "down")).expect("valid");
        assert_eq!(entry.record.to_string(), "a.example.test.");
        assert_eq!(entry.state, OverrideState::Down);
        let error = check_override("us/gslb/drain", &raw("a.example.test.", "us", "off"))
            .expect_err("bad state");
        assert_eq!(
            error.to_string(),
            "us/gslb/drain: state: \"off\" is not an override state: use \"down\" or \"up\" (remove the override to clear it)"
        );
    }
}
