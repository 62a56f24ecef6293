//! `health_checks`: the probe templates sets refer to by name.

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use super::Checker;
use crate::config::raw::{RawHealthCheck, RawStatus, RawStatusItem};
use crate::config::settings as s;
use crate::model::{HealthCheck, ProbeKind};
use crate::name::Name;

pub(in crate::config) fn health_checks(
    check: &mut Checker<'_>,
    raw: &BTreeMap<String, RawHealthCheck>,
) -> BTreeMap<String, Arc<HealthCheck>> {
    raw.iter()
        .filter_map(|(name, raw)| {
            health_check(check, &format!("health_checks.{name}"), name, raw)
                .map(|hc| (name.clone(), Arc::new(hc)))
        })
        .collect()
}

/// Checks one template, every field in turn; `None` after reporting
/// errors.
fn health_check(
    check: &mut Checker<'_>,
    path: &str,
    name: &str,
    raw: &RawHealthCheck,
) -> Option<HealthCheck> {
    let kind = kind(check, path, &raw.kind);
    let port = port(check, path, raw.port, kind);
    if kind == Some(ProbeKind::Tcp) {
        reject_http_fields(check, path, raw);
    }
    let http_path = http_path(check, path, raw.path.as_deref());
    if let Some(host) = &raw.host {
        check_host(check, path, host);
    }
    let expect_status = expect_status(
        check,
        &format!("{path}.expect_status"),
        raw.expect_status.as_ref(),
    );
    let (interval, timeout) = timing(check, path, raw);
    let rise = check.int(format!("{path}.rise"), raw.rise, &s::CHECK_RISE);
    let fall = check.int(format!("{path}.fall"), raw.fall, &s::CHECK_FALL);
    Some(HealthCheck {
        name: name.to_owned(),
        kind: kind?,
        port: port?,
        path: http_path,
        host: raw.host.clone(),
        expect_status: expect_status?,
        body_contains: raw.body_contains.clone(),
        insecure_skip_verify: raw.insecure_skip_verify.unwrap_or(false),
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
    })
}

/// The probe's protocol.
fn kind(check: &mut Checker<'_>, path: &str, text: &str) -> Option<ProbeKind> {
    match text {
        "http" => Some(ProbeKind::Http),
        "https" => Some(ProbeKind::Https),
        "tcp" => Some(ProbeKind::Tcp),
        other => {
            check.error(
                format!("{path}.kind"),
                format!("{other:?} is not one of http, https, tcp"),
            );
            None
        }
    }
}

/// The port probed: HTTP(S) default to their well-known port; a TCP
/// check has none to default to, so it must name one.
fn port(
    check: &mut Checker<'_>,
    path: &str,
    port: Option<i64>,
    kind: Option<ProbeKind>,
) -> Option<u16> {
    let default_port = match kind {
        Some(ProbeKind::Http) => Some(80),
        Some(ProbeKind::Https) => Some(443),
        _ => None,
    };
    match (port, default_port) {
        (None, None) if kind.is_some() => {
            check.error(format!("{path}.port"), "is required for tcp checks");
            None
        }
        (port, default) => check.int_or(
            format!("{path}.port"),
            port,
            default.unwrap_or(0),
            &s::CHECK_PORT,
        ),
    }
}

/// A TCP check sends no request: HTTP settings on it are a mistake the
/// operator should hear about, not silently ignored.
fn reject_http_fields(check: &mut Checker<'_>, path: &str, raw: &RawHealthCheck) {
    for (field, set) in [
        ("path", raw.path.is_some()),
        ("host", raw.host.is_some()),
        ("expect_status", raw.expect_status.is_some()),
        ("body_contains", raw.body_contains.is_some()),
        ("insecure_skip_verify", raw.insecure_skip_verify.is_some()),
    ] {
        if set {
            check.error(
                format!("{path}.{field}"),
                "only applies to http and https checks",
            );
        }
    }
}

/// The request path, `/` when absent; it goes into the request line as
/// written, so it must be a path without white space.
fn http_path(check: &mut Checker<'_>, path: &str, raw: Option<&str>) -> String {
    let http_path = raw.unwrap_or("/").to_owned();
    if !http_path.starts_with('/')
        || http_path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        check.error(
            format!("{path}.path"),
            format!("{http_path:?} must start with '/' and have no spaces"),
        );
    }
    http_path
}

/// The Host header (and SNI) must be a host name or an address.
fn check_host(check: &mut Checker<'_>, path: &str, host: &str) {
    if Name::parse(host).is_err() && host.parse::<IpAddr>().is_err() {
        check.error(
            format!("{path}.host"),
            format!("{host:?} is not a host name"),
        );
    }
}

/// `interval` and `timeout`; a probe that may outlast its interval would
/// overlap the next one.
fn timing(
    check: &mut Checker<'_>,
    path: &str,
    raw: &RawHealthCheck,
) -> (Option<Duration>, Option<Duration>) {
    let interval = check.duration(
        format!("{path}.interval"),
        raw.interval.as_deref(),
        &s::CHECK_INTERVAL,
    );
    let timeout = check.duration(
        format!("{path}.timeout"),
        raw.timeout.as_deref(),
        &s::CHECK_TIMEOUT,
    );
    if let (Some(i), Some(t)) = (interval, timeout)
        && t > i
    {
        check.error(
            format!("{path}.timeout"),
            "must not be longer than interval",
        );
    }
    (interval, timeout)
}

fn expect_status(
    check: &mut Checker<'_>,
    path: &str,
    raw: Option<&RawStatus>,
) -> Option<Vec<(u16, u16)>> {
    let items: Vec<String> = match raw {
        None => return Some(vec![(200, 399)]),
        Some(RawStatus::Code(code)) => vec![code.to_string()],
        Some(RawStatus::Text(text)) => text.split(',').map(|s| s.trim().to_owned()).collect(),
        Some(RawStatus::List(list)) => list
            .iter()
            .map(|item| match item {
                RawStatusItem::Code(code) => code.to_string(),
                RawStatusItem::Text(text) => text.trim().to_owned(),
            })
            .collect(),
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
    };
    let mut ranges = Vec::new();
    for item in &items {
        let range = match item.split_once('-') {
            Some((lo, hi)) => parse(lo).zip(parse(hi)).filter(|(lo, hi)| lo <= hi),
            None => parse(item).map(|c| (c, c)),
        };
        match range {
            Some(range) => ranges.push(range),
            None => check.error(
                path,
                format!("{item:?} is not a status code (100-599) or a range such as 200-399"),
            ),
        }
    }
    (ranges.len() == items.len() && !ranges.is_empty()).then_some(ranges)
}
