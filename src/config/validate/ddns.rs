//! `zones[].updates`: the keys, rules and caps of RFC 2136 dynamic updates.
//!
//! Secrets are read here (through [`secret::read`]), at load time, so a
//! missing, unreadable, short or non-base64 secret file fails `check-config`
//! and a reload with the file and field named, instead of failing every
//! update later.

use std::{collections::BTreeMap, path::Path};

use base64::Engine as _;

use super::Checker;
use crate::config::raw::{RawAllow, RawTsigKey, RawUpdates};
use crate::config::settings as s;
use crate::config::{Secrets, secret};
use crate::model::ddns::{
    AllowRule, NamePattern, Secret, TsigAlgorithm, TsigKey, UPDATABLE_TYPES, UpdatePolicy,
};
use crate::name::Name;

/// Largest secret file read, bytes: a 512-bit secret is 88 base64
/// characters.
const MAX_SECRET_FILE: u64 = 4096;

/// Checks one zone's `updates`; `None` after reporting errors.
pub(super) fn updates(
    check: &mut Checker<'_>,
    path: &str,
    raw: &RawUpdates,
    origin: Option<&Name>,
) -> Option<UpdatePolicy> {
    let errors_before = check.error_count();
    let caps = caps(check, path, raw);
    let keys = keys(check, path, raw);
    let allow = allow_rules(check, path, raw, origin);
    if check.error_count() > errors_before {
        return None;
    }
    Some(UpdatePolicy {
        keys,
        allow,
        max_ttl: caps.max_ttl?,
        max_records_per_key: caps.max_records_per_key?,
        max_fudge: caps.max_fudge?,
        max_rrset_bytes: caps.max_rrset_bytes?,
    })
}

/// The numeric caps of one zone's updates, each `None` after its error.
struct Caps {
    max_ttl: Option<u32>,
    max_records_per_key: Option<u32>,
    max_fudge: Option<u16>,
    max_rrset_bytes: Option<u32>,
}

/// Range-checks the caps, defaulting the absent ones, so every bad cap is
/// reported before the keys are read. `max_ttl` stops at an hour:
/// challenge and verification records are short-lived, and a long TTL
/// keeps a removed record in caches.
fn caps(check: &mut Checker<'_>, path: &str, raw: &RawUpdates) -> Caps {
    Caps {
        max_ttl: check.int(format!("{path}.max_ttl"), raw.max_ttl, &s::UPDATES_MAX_TTL),
        max_records_per_key: check.int(
            format!("{path}.max_records_per_key"),
            raw.max_records_per_key,
            &s::UPDATES_MAX_RECORDS_PER_KEY,
        ),
        max_fudge: check.int(
            format!("{path}.max_fudge"),
            raw.max_fudge,
            &s::UPDATES_MAX_FUDGE,
        ),
        max_rrset_bytes: check.int(
            format!("{path}.max_rrset_bytes"),
            raw.max_rrset_bytes,
            &s::UPDATES_MAX_RRSET_BYTES,
        ),
    }
}

/// Checks `keys`: at least one, each usable, no name twice.
fn keys(check: &mut Checker<'_>, path: &str, raw: &RawUpdates) -> Vec<TsigKey> {
    if raw.keys.is_empty() {
        check.error(
            format!("{path}.keys"),
            "at least one key is required when updates are on",
        );
    }
    let mut keys: Vec<TsigKey> = Vec::new();
    for (i, key) in raw.keys.iter().enumerate() {
        let key_path = format!("{path}.keys[{i}]");
        let Some(key) = key_entry(check, &key_path, key) else {
            continue;
        };
        if keys.iter().any(|k| k.name == key.name) {
            check.error(
                format!("{key_path}.name"),
                format!("key {} is listed twice", key.name),
            );
            continue;
        }
        keys.push(key);
    }
    keys
}

/// Checks one key's name, algorithm and secret file; the secret is read
/// only once the algorithm, which sets its minimum length, is known.
fn key_entry(check: &mut Checker<'_>, key_path: &str, key: &RawTsigKey) -> Option<TsigKey> {
    let name = check.name(format!("{key_path}.name"), &key.name);
    let algorithm = algorithm(check, key_path, key.algorithm.as_deref());
    let secret = algorithm.and_then(|a| secret(check, key_path, &key.secret_file, a));
    Some(TsigKey {
        name: name?,
        algorithm: algorithm?,
        secret: secret?,
    })
}

/// The key's algorithm, HMAC-SHA256 when absent; an unknown name is
/// reported with the supported ones.
fn algorithm(check: &mut Checker<'_>, key_path: &str, text: Option<&str>) -> Option<TsigAlgorithm> {
    let Some(text) = text else {
        return Some(TsigAlgorithm::HmacSha256);
    };
    TsigAlgorithm::from_name(text).or_else(|| {
        let known: Vec<&str> = TsigAlgorithm::ALL.iter().map(|a| a.name()).collect();
        check.error(
            format!("{key_path}.algorithm"),
            format!("{text:?} is not supported; use one of {}", known.join(", ")),
        );
        None
    })
}

/// Checks `allow`: at least one rule, each naming a listed key.
fn allow_rules(
    check: &mut Checker<'_>,
    path: &str,
    raw: &RawUpdates,
    origin: Option<&Name>,
) -> Vec<AllowRule> {
    let allow = raw
        .allow
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| allow_rule(check, path, i, rule, &raw.keys, origin))
        .collect();
    if raw.allow.is_empty() {
        check.error(
            format!("{path}.allow"),
            "at least one rule is required: without one no key may write anything",
        );
    }
    allow
}

/// Checks `allow[i]`: its key is one of `keys`, its names lie in the zone
/// (`origin`, `None` when the zone's name was bad) and its types may be
/// updated.
fn allow_rule(
    check: &mut Checker<'_>,
    path: &str,
    i: usize,
    rule: &RawAllow,
    keys: &[RawTsigKey],
    origin: Option<&Name>,
) -> Option<AllowRule> {
    let rule_path = format!("{path}.allow[{i}]");
    let key = check.name(format!("{rule_path}.key"), &rule.key);
    let key_names: Vec<Option<Name>> = keys.iter().map(|k| Name::parse(&k.name).ok()).collect();
    // A key whose own name is broken is reported where it is listed; a
    // rule naming it is not an undefined reference on top of that.
    if let Some(key) = &key
        && key_names.iter().all(Option::is_some)
        && key_names.iter().all(|k| k.as_ref() != Some(key))
    {
        check.error(
            format!("{rule_path}.key"),
            format!("{key} is not one of {path}.keys"),
        );
    }
    let names = rule_names(check, &rule_path, &rule.names, origin);
    let types = rule_types(check, &rule_path, &rule.types);
    Some(AllowRule {
        key: key?,
        names,
        types,
    })
}

/// Parses a rule's name patterns relative to the zone's origin.
fn rule_names(
    check: &mut Checker<'_>,
    rule_path: &str,
    names: &[String],
    origin: Option<&Name>,
) -> Vec<NamePattern> {
    if names.is_empty() {
        check.error(
            format!("{rule_path}.names"),
            "at least one name is required",
        );
    }
    let Some(origin) = origin else {
        return Vec::new();
    };
    names
        .iter()
        .enumerate()
        .filter_map(|(k, text)| {
            NamePattern::parse(text, origin)
                .map_err(|e| {
                    check.error(format!("{rule_path}.names[{k}]"), format!("{text:?} {e}"))
                })
                .ok()
        })
        .collect()
}

/// Maps a rule's type names to codes; only [`UPDATABLE_TYPES`] are
/// accepted, so zone data that resolvers rely on stays static.
fn rule_types(check: &mut Checker<'_>, rule_path: &str, types: &[String]) -> Vec<u16> {
    if types.is_empty() {
        check.error(
            format!("{rule_path}.types"),
            "at least one type is required",
        );
    }
    types
        .iter()
        .enumerate()
        .filter_map(|(k, text)| {
            let found = UPDATABLE_TYPES
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(text.trim()));
            if found.is_none() {
                let known: Vec<&str> = UPDATABLE_TYPES.iter().map(|(_, n)| *n).collect();
                check.error(
                    format!("{rule_path}.types[{k}]"),
                    format!(
                        "{text:?} cannot be updated dynamically; updatable types: {} (put other data in the zone's static records)",
                        known.join(", ")
                    ),
                );
            }
            found.map(|(t, _)| *t)
        })
        .collect()
}

/// Reads and decodes a secret file: base64 (standard alphabet, padding
/// optional), surrounding white space ignored (files end with a newline),
/// at least half the MAC length long.
fn secret(
    check: &mut Checker<'_>,
    key_path: &str,
    file: &str,
    algorithm: TsigAlgorithm,
) -> Option<Secret> {
    let path = format!("{key_path}.secret_file");
    if check.secrets == Secrets::Skip {
        // Not read: the key checks only as far as the config says. Its
        // secret is a blank of the right length, for a config that is
        // checked and never served.
        return Some(Secret::new(vec![0; algorithm.min_secret_len()]));
    }
    let text = match secret::read(Path::new(file), MAX_SECRET_FILE) {
        Ok(text) => text,
        Err(why) => {
            check.error(path, format!("cannot read {file:?}: {why}"));
            return None;
        }
    };
    let trimmed: String = text.split_whitespace().collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = match engine.decode(trimmed.as_bytes()) {
        Ok(bytes) => bytes,
        Err(e) => {
            check.error(path, format!("{file:?} is not base64: {e}"));
            return None;
        }
    };
    let min = algorithm.min_secret_len();
    if bytes.len() < min {
        check.error(
            path,
            format!(
                "{file:?} holds a {}-byte secret; {} needs at least {min} bytes (make one with `openssl rand -base64 32`)",
                bytes.len(),
                algorithm.name()
            ),
        );
        return None;
    }
    Some(Secret::new(bytes))
}

/// A key name must mean one key server-wide (a signed query names no
/// zone): the same name in two zones must have the same algorithm and
/// secret.
pub(super) fn check_keys_agree(check: &mut Checker<'_>, zones: &[(usize, &UpdatePolicy)]) {
    let mut seen: BTreeMap<&Name, (usize, &TsigKey)> = BTreeMap::new();
    for &(i, policy) in zones {
        for (k, key) in policy.keys.iter().enumerate() {
            match seen.get(&key.name) {
                Some((j, first))
                    if first.algorithm != key.algorithm || first.secret != key.secret =>
                {
                    check.error(
                        format!("zones[{i}].updates.keys[{k}]"),
                        format!(
                            "key {} is also in zones[{j}] with another algorithm or secret; a key name must mean one key",
                            key.name
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    seen.insert(&key.name, (i, key));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
