//! What operators read about a signed zone: `gslb check-config`'s key
//! table and `gslb dnssec ds`'s records for the parent.

use std::fmt::Write as _;

use super::key::Key;
use super::signer::Policy;
use super::timing::format_timestamp;
use crate::name::Name;

/// A key's role among the zone's keys: KSK (SEP, beside keys without
/// it), CSK (SEP, alone) or ZSK.
pub fn role(key: &Key, policy: &Policy) -> &'static str {
    let zsks = policy.keys.iter().any(|k| !k.is_sep());
    match (key.is_sep(), zsks) {
        (true, true) => "KSK",
        (true, false) => "CSK",
        (false, _) => "ZSK",
    }
}

/// The `check-config` lines of a signed zone: a summary, then one line
/// per key with its state at `now` and its dates.
pub fn describe(zone: &Name, policy: &Policy, now: u64) -> String {
    let mut text = format!(
        "dnssec {zone}: {} key{}, signatures valid {}, refreshed with {} left, cache {} RRsets\n",
        policy.keys.len(),
        if policy.keys.len() == 1 { "" } else { "s" },
        days(policy.validity_secs),
        days(policy.refresh_secs),
        policy.rrsig_cache,
    );
    let date = |t: Option<u64>| t.map_or_else(|| "-".to_owned(), format_timestamp);
    for key in &policy.keys {
        let t = &key.timing;
        let _ = writeln!(
            text,
            "  key {} {} {} {}: publish {}, activate {}, inactive {}, delete {} ({})",
            key.tag,
            key.algorithm.mnemonic(),
            role(key, policy),
            key.state(now),
            date(t.publish),
            date(t.activate),
            date(t.inactive),
            date(t.delete),
            key.path.display(),
        );
    }
    text
}

/// The DS records (SHA-256) for the parent: one per SEP key not deleted
/// at `now` (every key's, when the zone has no SEP key).
pub fn ds_records(zone: &Name, policy: &Policy, now: u64) -> Vec<String> {
    let any_sep = policy.keys.iter().any(|k| k.is_sep());
    policy
        .keys
        .iter()
        .filter(|k| (k.is_sep() || !any_sep) && k.state(now) != super::KeyState::Deleted)
        .map(|k| k.ds_text(zone))
        .collect()
}

/// Seconds as whole days, hours or seconds.
fn days(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{s}s"),
    }
}
