//! Hostname targets: telling a host name from an address in `targets`, and
//! `server.alias`, the refresh and staleness bounds of their resolution.

use std::{net::IpAddr, time::Duration};

use super::Checker;
use crate::alias::Policy;
use crate::config::raw::RawAlias;
use crate::dns::name::Name;

/// Shortest `min_refresh`: below a second a short upstream TTL would turn
/// into a query stream to the resolver.
const MIN_REFRESH_FLOOR: Duration = Duration::from_secs(1);
/// Longest `max_refresh` and `max_stale`.
const LONGEST: Duration = Duration::from_secs(7 * 86_400);
/// Largest `max_addresses`.
const MAX_ADDRESSES: i64 = 1024;

/// One entry of a set's `targets`.
pub(super) enum Target {
    /// An address, answered as it is.
    Ip(IpAddr),
    /// A host name, resolved in the background.
    Host(Name),
}

/// Reads one entry of `targets`: an IP address, else a host name with at
/// least two labels whose last is not all digits (so a mistyped address
/// such as `10.0.0.300` is reported as one, not resolved).
pub(super) fn target(check: &mut Checker<'_>, path: &str, text: &str) -> Option<Target> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Target::Ip(ip));
    }
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let last = trimmed.rsplit('.').next().unwrap_or("");
    let looks_numeric = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    if looks_numeric || text.contains(':') || !trimmed.contains('.') {
        // Not a plausible host name either: the message of a plain
        // address field (a host name needs a dot and a non-numeric TLD).
        check.error(path, format!("{text:?} is not an IP address"));
        return None;
    }
    match Name::parse(text) {
        Ok(name) => Some(Target::Host(name)),
        Err(e) => {
            check.error(path, format!("{text:?} is not a valid host name: {e}"));
            None
        }
    }
}

/// Checks `server.alias`; the defaults when absent.
pub(super) fn alias(check: &mut Checker<'_>, raw: Option<&RawAlias>) -> Option<Policy> {
    let defaults = Policy::default();
    let Some(raw) = raw else {
        return Some(defaults);
    };
    let path = "server.alias";
    let min_refresh = check.duration(
        format!("{path}.min_refresh"),
        raw.min_refresh.as_deref(),
        defaults.min_refresh,
        MIN_REFRESH_FLOOR,
        LONGEST,
    );
    let max_refresh = check.duration(
        format!("{path}.max_refresh"),
        raw.max_refresh.as_deref(),
        defaults.max_refresh,
        MIN_REFRESH_FLOOR,
        LONGEST,
    );
    let max_stale = check.duration(
        format!("{path}.max_stale"),
        raw.max_stale.as_deref(),
        defaults.max_stale,
        Duration::ZERO,
        LONGEST,
    );
    let max_addresses = check.int(
        format!("{path}.max_addresses"),
        raw.max_addresses,
        defaults.max_addresses as i64,
        1,
        MAX_ADDRESSES,
    );
    let (min_refresh, max_refresh) = (min_refresh?, max_refresh?);
    if max_refresh < min_refresh {
        check.error(
            format!("{path}.max_refresh"),
            format!(
                "{} is below min_refresh {}",
                humantime::format_duration(max_refresh),
                humantime::format_duration(min_refresh)
            ),
        );
        return None;
    }
    Some(Policy {
        min_refresh,
        max_refresh,
        max_stale: max_stale?,
        max_addresses: max_addresses?,
    })
}
