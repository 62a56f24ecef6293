//! `server.rate_limit`: ranges and defaults of response rate limiting.
//!
//! The ranges (in the settings table) follow BIND's `rate-limit` statement
//! where it has one (slip 0-10, window up to an hour, defaults slip 2,
//! prefixes /24 and /56, window 15 s), except the rate, which goes up to a
//! million so that a server behind a few large resolvers can set a limit it
//! never reaches in normal traffic. The default table is 2 MiB of state,
//! room for 262,144 limited streams.

use super::Checker;
use crate::config::raw::RawRateLimit;
use crate::config::settings as s;
use crate::model::RateLimit;

/// Checks `server.rate_limit`: `Some(None)` when absent (limiting off),
/// `None` after reporting errors.
pub(super) fn rate_limit(
    check: &mut Checker<'_>,
    raw: Option<&RawRateLimit>,
) -> Option<Option<RateLimit>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let rate = match raw.responses_per_second {
        Some(value) => check.int(
            s::RATE_LIMIT_RESPONSES_PER_SECOND.key,
            Some(value),
            &s::RATE_LIMIT_RESPONSES_PER_SECOND,
        ),
        None => {
            check.error(
                s::RATE_LIMIT_RESPONSES_PER_SECOND.key,
                "is required when rate_limit is set, e.g. 20 (responses per second to one client prefix for one name)",
            );
            None
        }
    };
    let slip = check.int(s::RATE_LIMIT_SLIP.key, raw.slip, &s::RATE_LIMIT_SLIP);
    let ipv4_prefix = check.int(
        s::RATE_LIMIT_IPV4_PREFIX.key,
        raw.ipv4_prefix,
        &s::RATE_LIMIT_IPV4_PREFIX,
    );
    let ipv6_prefix = check.int(
        s::RATE_LIMIT_IPV6_PREFIX.key,
        raw.ipv6_prefix,
        &s::RATE_LIMIT_IPV6_PREFIX,
    );
    let window = check
        .duration(
            s::RATE_LIMIT_WINDOW.key,
            raw.window.as_deref(),
            &s::RATE_LIMIT_WINDOW,
        )
        .and_then(|window| {
            if window.subsec_nanos() != 0 {
                check.error(
                    s::RATE_LIMIT_WINDOW.key,
                    format!(
                        "{} is not a whole number of seconds (the limiter counts in seconds)",
                        humantime::format_duration(window)
                    ),
                );
                return None;
            }
            u32::try_from(window.as_secs()).ok()
        });
    let table_size = check.int(
        s::RATE_LIMIT_TABLE_SIZE.key,
        raw.table_size,
        &s::RATE_LIMIT_TABLE_SIZE,
    );
    Some(Some(RateLimit {
        responses_per_second: rate?,
        slip: slip?,
        ipv4_prefix: ipv4_prefix?,
        ipv6_prefix: ipv6_prefix?,
        window_secs: window?,
        table_size: table_size?,
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigErrors, load_with_env};
    use crate::model::RateLimit;

    const ZONE: &str = r#"
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
"#;

    /// Loads a config whose `server` table is `server` with `env`.
    fn load(server: &str, env: &[(&str, &str)]) -> Result<Option<RateLimit>, Vec<String>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gslb.yaml");
        std::fs::write(&path, format!("server:\n{server}\n{ZONE}")).expect("write config");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        match load_with_env(&path, env) {
            Ok(loaded) => Ok(loaded.config.server.rate_limit),
            Err(ConfigErrors(errors)) => Err(errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()),
        }
    }

    const LISTEN: &str = "  dns_listen: [\"127.0.0.1:0\"]";

    #[test]
    fn absent_means_off() {
        assert_eq!(load(LISTEN, &[]), Ok(None));
    }

    #[test]
    fn defaults_follow_bind() {
        let limit = load(
            &format!("{LISTEN}\n  rate_limit: {{ responses_per_second: 20 }}"),
            &[],
        );
        assert_eq!(
            limit,
            Ok(Some(RateLimit {
                responses_per_second: 20,
                slip: 2,
                ipv4_prefix: 24,
                ipv6_prefix: 56,
                window_secs: 15,
                table_size: 262_144,
            }))
        );
    }

    #[test]
    fn every_field_is_read() {
        let limit = load(
            &format!(
                "{LISTEN}\n  rate_limit: {{ responses_per_second: 1000000, slip: 0, ipv4_prefix: 32, ipv6_prefix: 128, window: 1h, table_size: 1024 }}"
            ),
            &[],
        );
        assert_eq!(
            limit,
            Ok(Some(RateLimit {
                responses_per_second: 1_000_000,
                slip: 0,
                ipv4_prefix: 32,
                ipv6_prefix: 128,
                window_secs: 3600,
                table_size: 1024,
            }))
        );
    }

    #[test]
    fn out_of_range_values_are_all_reported_with_their_field() {
        let errors = load(
            &format!(
                "{LISTEN}\n  rate_limit: {{ responses_per_second: 0, slip: 11, ipv4_prefix: 33, ipv6_prefix: 0, window: 1500ms, table_size: 100 }}"
            ),
            &[],
        )
        .expect_err("rejected");
        assert_eq!(
            errors,
            [
                "server.rate_limit.responses_per_second: 0 is out of range (1 to 1000000)",
                "server.rate_limit.slip: 11 is out of range (0 to 10)",
                "server.rate_limit.ipv4_prefix: 33 is out of range (1 to 32 bits)",
                "server.rate_limit.ipv6_prefix: 0 is out of range (1 to 128 bits)",
                "server.rate_limit.window: 1s 500ms is not a whole number of seconds (the limiter counts in seconds)",
                "server.rate_limit.table_size: 100 is out of range (1024 to 16777216)",
            ]
        );
        let errors = load(
            &format!("{LISTEN}\n  rate_limit: {{ window: 2h, responses_per_second: -1 }}"),
            &[],
        )
        .expect_err("rejected");
        assert_eq!(
            errors,
            [
                "server.rate_limit.responses_per_second: -1 is out of range (1 to 1000000)",
                "server.rate_limit.window: 2h is out of range (1s to 1h)",
            ]
        );
    }

    #[test]
    fn the_rate_is_required_and_unknown_keys_are_named() {
        let errors =
            load(&format!("{LISTEN}\n  rate_limit: {{ slip: 1 }}"), &[]).expect_err("rejected");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("server.rate_limit.responses_per_second: is required"),
            "{errors:?}"
        );
        let errors = load(
            &format!("{LISTEN}\n  rate_limit: {{ responses_per_second: 5, rate: 5 }}"),
            &[],
        )
        .expect_err("rejected");
        assert!(
            errors[0].contains("server.rate_limit") && errors[0].contains("unknown key `rate`"),
            "{errors:?}"
        );
    }

    #[test]
    fn environment_variables_turn_it_on_and_override_fields() {
        let limit = load(
            LISTEN,
            &[
                ("GSLB_SERVER__RATE_LIMIT__RESPONSES_PER_SECOND", "50"),
                ("GSLB_SERVER__RATE_LIMIT__WINDOW", "30s"),
            ],
        )
        .expect("loads");
        let limit = limit.expect("turned on");
        assert_eq!(limit.responses_per_second, 50);
        assert_eq!(limit.window_secs, 30);
        let limit = load(
            &format!("{LISTEN}\n  rate_limit: {{ responses_per_second: 20, slip: 3 }}"),
            &[("GSLB_SERVER__RATE_LIMIT__SLIP", "1")],
        )
        .expect("loads")
        .expect("on");
        assert_eq!((limit.responses_per_second, limit.slip), (20, 1));
    }
}
