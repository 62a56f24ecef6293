//! `zones`: origins, SOA fields and name servers with their glue.

use std::net::IpAddr;

use super::{Checker, ddns, dnssec};
use crate::config::raw::RawZone;
use crate::config::settings as s;
use crate::model::ns_answer::nameservers_response_len;
use crate::model::{Soa, Zone};
use crate::name::Name;

pub(in crate::config) fn zones(
    check: &mut Checker<'_>,
    raw: &[RawZone],
    default_serial: u32,
) -> Vec<Zone> {
    if raw.is_empty() {
        check.error("zones", "at least one zone is required");
    }
    let mut zones: Vec<Zone> = Vec::new();
    for (i, raw) in raw.iter().enumerate() {
        let path = format!("zones[{i}]");
        let Some(zone) = zone(check, &path, raw, default_serial) else {
            continue;
        };
        if let Some(j) = zones.iter().position(|z| z.origin == zone.origin) {
            check.error(
                format!("{path}.origin"),
                format!("{} is already zones[{j}]", zone.origin),
            );
            continue;
        }
        zones.push(zone);
    }
    let policies: Vec<(usize, &crate::model::ddns::UpdatePolicy)> = zones
        .iter()
        .enumerate()
        .filter_map(|(i, z)| Some((i, z.updates.as_ref()?)))
        .collect();
    ddns::check_keys_agree(check, &policies);
    let origins: Vec<Name> = zones.iter().map(|z| z.origin.clone()).collect();
    for (i, zone) in zones.iter().enumerate() {
        for (ns, glue) in &zone.nameservers {
            let in_zone = origins.iter().any(|o| ns.is_within(o));
            if in_zone && glue.is_empty() {
                check.error(
                    format!("zones[{i}].nameservers.{ns}"),
                    "is inside a served zone, so it needs glue addresses",
                );
            } else if !in_zone && !glue.is_empty() {
                check.error(
                    format!("zones[{i}].nameservers.{ns}"),
                    "is outside every served zone: gslb cannot serve its addresses, list it with []",
                );
            }
        }
        let ns_len = nameservers_response_len(&zone.origin, &zone.nameservers);
        if ns_len > usize::from(u16::MAX) {
            check.error(
                format!("zones[{i}].nameservers"),
                format!("the NS answer with all glue would take {ns_len} bytes, more than the 65535 a DNS message holds: list fewer name servers or addresses"),
            );
        }
    }
    zones
}

fn zone(check: &mut Checker<'_>, path: &str, raw: &RawZone, default_serial: u32) -> Option<Zone> {
    let origin = check.name(format!("{path}.origin"), &raw.origin);
    let ttl = check.int(format!("{path}.ttl"), raw.ttl, &s::ZONE_TTL);
    let degraded_ttl = check.int(
        format!("{path}.degraded_ttl"),
        raw.degraded_ttl,
        &s::ZONE_DEGRADED_TTL,
    );
    let soa = &raw.soa;
    let mname = check.name(format!("{path}.soa.mname"), &soa.mname);
    let rname = check.name(format!("{path}.soa.rname"), &soa.rname);
    let serial = check.int_or(
        format!("{path}.soa.serial"),
        soa.serial,
        i64::from(default_serial),
        &s::SOA_SERIAL,
    );
    let refresh = check.int(format!("{path}.soa.refresh"), soa.refresh, &s::SOA_REFRESH);
    let retry = check.int(format!("{path}.soa.retry"), soa.retry, &s::SOA_RETRY);
    let expire = check.int(format!("{path}.soa.expire"), soa.expire, &s::SOA_EXPIRE);
    let minimum = check.int(format!("{path}.soa.minimum"), soa.minimum, &s::SOA_MINIMUM);
    if raw.nameservers.is_empty() {
        check.error(
            format!("{path}.nameservers"),
            "at least one name server is required",
        );
    }
    let mut nameservers = Vec::new();
    for (ns, addrs) in &raw.nameservers {
        let ns_path = format!("{path}.nameservers.{ns}");
        let Some(name) = check.name(&ns_path, ns) else {
            continue;
        };
        let glue: Vec<IpAddr> = addrs
            .iter()
            .enumerate()
            .filter_map(|(k, a)| check.ip(format!("{ns_path}[{k}]"), a))
            .collect();
        // A bad address is already reported; do not also call the glue missing.
        if glue.len() == addrs.len() {
            nameservers.push((name, glue));
        }
    }
    let updates = raw
        .updates
        .as_ref()
        .and_then(|u| ddns::updates(check, &format!("{path}.updates"), u, origin.as_ref()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dnssec = raw
        .dnssec
        .as_ref()
        .and_then(|d| dnssec::dnssec(check, &format!("{path}.dnssec"), d, origin.as_ref(), now));
    // Keep a zone whose origin parsed even if other fields did not, so its
    // records are still checked against it; the errors already fail the load.
    Some(Zone {
        origin: origin?,
        ttl: ttl.unwrap_or_default(),
        degraded_ttl: degraded_ttl.unwrap_or_default(),
        soa: Soa {
            mname: mname.unwrap_or_else(zone_fallback_name),
            rname: rname.unwrap_or_else(zone_fallback_name),
            serial: serial.unwrap_or_default(),
            refresh: refresh.unwrap_or_default(),
            retry: retry.unwrap_or_default(),
            expire: expire.unwrap_or_default(),
            minimum: minimum.unwrap_or_default(),
        },
        nameservers,
        statics: Vec::new(),
        updates,
        dnssec,
    })
}

/// Stands in for a name that failed to parse in a zone kept for checking.
fn zone_fallback_name() -> Name {
    Name::parse("invalid").unwrap_or_else(|_| unreachable!("a constant valid name"))
}
