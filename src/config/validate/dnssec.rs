//! `zones[].dnssec`: the key files, read and checked at load time (so a
//! missing, malformed or foreign key fails `check-config` and a reload,
//! and the running snapshot keeps serving), and the signature settings.

use std::{path::Path, sync::Arc, time::Duration};

use super::Checker;
use crate::config::Secrets;
use crate::config::raw::RawDnssec;
use crate::config::settings as s;
use crate::dnssec::signer::MAX_KEYS;
use crate::dnssec::{Key, Policy};
use crate::name::Name;

/// Checks a zone's `dnssec` at `path`; `None` after an error (reported).
pub(super) fn dnssec(
    check: &mut Checker<'_>,
    path: &str,
    raw: &RawDnssec,
    zone: Option<&Name>,
    now: u64,
) -> Option<Policy> {
    let validity = check.duration(
        format!("{path}.signature_validity"),
        raw.signature_validity.as_deref(),
        &s::DNSSEC_SIGNATURE_VALIDITY,
    );
    let refresh = check.duration(
        format!("{path}.signature_refresh"),
        raw.signature_refresh.as_deref(),
        &s::DNSSEC_SIGNATURE_REFRESH,
    );
    let rrsig_cache: Option<usize> = check.int(
        format!("{path}.rrsig_cache"),
        raw.rrsig_cache,
        &s::DNSSEC_RRSIG_CACHE,
    );
    if let (Some(validity), Some(refresh)) = (validity, refresh)
        // The signature starts up to two hours before it is made.
        && refresh + Duration::from_secs(2 * 3600) > validity
    {
        check.error(
            format!("{path}.signature_refresh"),
            format!(
                "{} leaves no time between signing and refreshing: it must be at least 2h shorter than signature_validity ({})",
                humantime::format_duration(refresh),
                humantime::format_duration(validity)
            ),
        );
        return None;
    }
    let keys = keys(check, path, raw, zone?, now)?;
    Some(Policy {
        keys,
        validity_secs: u32::try_from(validity?.as_secs()).ok()?,
        refresh_secs: u32::try_from(refresh?.as_secs()).ok()?,
        rrsig_cache: rrsig_cache?,
    })
}

/// Reads every key file; checks there is one key signing at `now`.
fn keys(
    check: &mut Checker<'_>,
    path: &str,
    raw: &RawDnssec,
    zone: &Name,
    now: u64,
) -> Option<Vec<Arc<Key>>> {
    if raw.key_files.is_empty() {
        check.error(
            format!("{path}.key_files"),
            "at least one key is required: make one with `dnssec-keygen -a 13 -f KSK -n ZONE <zone>`",
        );
        return None;
    }
    if raw.key_files.len() > MAX_KEYS {
        check.error(
            format!("{path}.key_files"),
            format!("{} keys, more than {MAX_KEYS}", raw.key_files.len()),
        );
        return None;
    }
    if check.secrets == Secrets::Skip {
        // The pairs are not read (`check-config --no-secrets`): the keys
        // check only as far as the config says, for a config that is
        // checked and never served.
        return Some(Vec::new());
    }
    let mut keys: Vec<Arc<Key>> = Vec::new();
    let errors = check.error_count();
    for (i, entry) in raw.key_files.iter().enumerate() {
        let key_path = format!("{path}.key_files[{i}]");
        match Key::read(Path::new(entry), zone) {
            Ok(key) if keys.iter().any(|k| k.dnskey == key.dnskey) => check.error(
                key_path,
                format!("{}: the same key as another entry", key.path.display()),
            ),
            Ok(key) => keys.push(Arc::new(key)),
            Err(error) => check.error(key_path, error),
        }
    }
    if check.error_count() > errors {
        return None;
    }
    if !keys.iter().any(|k| k.timing.signs(now)) {
        let states: Vec<String> = keys
            .iter()
            .map(|k| format!("{} {}", k.path.display(), k.state(now)))
            .collect();
        check.error(
            format!("{path}.key_files"),
            format!(
                "no key is active now, so nothing could sign the zone ({}): check the keys' Activate, Inactive and Delete times",
                states.join(", ")
            ),
        );
        return None;
    }
    Some(keys)
}
