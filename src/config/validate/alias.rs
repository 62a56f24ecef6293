//! Hostname targets: telling a host name from an address in `targets`, and
//! `server.alias`, the refresh and staleness bounds of their resolution.

use std::{net::IpAddr, time::Duration};

use super::Checker;
use crate::config::raw::RawAlias;
use crate::model::AliasPolicy as Policy;
use crate::name::Name;

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::raw::RawConfig;
    use crate::config::validate::validate;
    use crate::model::Config;

    fn load(server: &str, targets: &str) -> Result<Config, Vec<String>> {
        let yaml = format!(
            "server: {{ dns_listen: [\"127.0.0.1:0\"]{server} }}\nzones:\n  - origin: global.example.test.\n    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}\n    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}\nrecords:\n  - name: a.global.example.test.\n    sets: [{{ id: x, targets: [{targets}] }}]\n"
        );
        let raw: RawConfig = serde_saphyr::from_str(&yaml).expect("test YAML parses");
        validate(raw, "gslb.yaml", Vec::new(), 1).map_err(|e| {
            e.0.iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()
        })
    }

    #[test]
    fn host_names_in_targets_are_hostname_targets() {
        let config = load("", "192.0.2.1, LB-1.Elb.Example.test, \"2001:db8::1\"").unwrap();
        let set = &config.records[0].sets[0];
        assert_eq!(set.targets.len(), 2);
        assert_eq!(
            set.hostnames
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["lb-1.elb.example.test."]
        );
        let only = load("", "lb-1.elb.example.test.").unwrap();
        assert!(only.records[0].sets[0].targets.is_empty());
        assert_eq!(config.server.alias, super::Policy::default());
        assert!(config.server.resolvers.is_empty());
    }

    #[test]
    fn mistyped_addresses_and_bare_words_are_not_host_names() {
        for (target, says) in [
            ("10.0.0.300", "\"10.0.0.300\" is not an IP address"),
            ("localhost", "\"localhost\" is not an IP address"),
            ("\"2001:db8::zz\"", "is not an IP address"),
            ("\"lb_1 .example.test\"", "is not a valid host name"),
            (
                "lb.example.test, LB.example.test.",
                "lb.example.test. is listed twice",
            ),
        ] {
            let errors = load("", target).unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{target}: {errors:?}"
            );
        }
    }

    #[test]
    fn addresses_no_client_can_connect_to_are_refused_as_targets() {
        for (target, says) in [
            (
                "0.0.0.0",
                "records[0].sets[0].targets[0]: 0.0.0.0 is the unspecified address: no client can connect to it",
            ),
            (
                "\"::\"",
                "records[0].sets[0].targets[0]: :: is the unspecified address",
            ),
            (
                "192.0.2.1, 255.255.255.255",
                "records[0].sets[0].targets[1]: 255.255.255.255 is the broadcast address",
            ),
            ("224.0.0.251", "224.0.0.251 is a multicast address"),
            ("\"ff02::fb\"", "ff02::fb is a multicast address"),
            ("169.254.169.254", "169.254.169.254 is link-local"),
            ("\"fe80::1\"", "fe80::1 is link-local"),
            ("0.0.0.7", "0.0.0.7 is in 0.0.0.0/8"),
        ] {
            let errors = load("", target).unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{target}: {errors:?}"
            );
        }
        // Loopback stays allowed: single-host setups and tests use it.
        let config = load("", "127.0.0.1, \"::1\", 10.0.0.1").unwrap();
        assert_eq!(config.records[0].sets[0].targets.len(), 3);
    }

    #[test]
    fn resolvers_and_refresh_bounds_are_checked() {
        let config = load(
            ", resolvers: [\"127.0.0.1:5353\", \"[::1]:53\"], alias: { min_refresh: 2s, max_refresh: 1m, max_stale: 0s, max_addresses: 4 }",
            "192.0.2.1",
        )
        .unwrap();
        assert_eq!(config.server.resolvers.len(), 2);
        let alias = config.server.alias;
        assert_eq!(
            (
                alias.min_refresh,
                alias.max_refresh,
                alias.max_stale,
                alias.max_addresses
            ),
            (
                Duration::from_secs(2),
                Duration::from_secs(60),
                Duration::ZERO,
                4
            )
        );
        for (server, says) in [
            (", resolvers: [\"127.0.0.1\"]", "server.resolvers[0]"),
            (
                ", alias: { min_refresh: 100ms }",
                "server.alias.min_refresh",
            ),
            (
                ", alias: { min_refresh: 1m, max_refresh: 10s }",
                "10s is below min_refresh 1m",
            ),
            (
                ", alias: { max_addresses: 0 }",
                "server.alias.max_addresses",
            ),
            (", alias: { max_stale: forever }", "server.alias.max_stale"),
        ] {
            let errors = load(server, "192.0.2.1").unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{server}: {errors:?}"
            );
        }
    }
}
