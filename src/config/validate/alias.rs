//! Hostname targets: telling a host name from an address in `targets`,
//! loops of hostname targets through the config's own records, and
//! `server.alias`, the refresh and staleness bounds of their resolution.

use std::{collections::HashMap, fmt, net::IpAddr, sync::Arc};

use super::Checker;
use crate::config::ConfigError;
use crate::config::raw::RawAlias;
use crate::config::settings as s;
use crate::model::AliasPolicy as Policy;
use crate::model::Record;
use crate::name::Name;

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

/// Hostname targets that lead back to where they started through records
/// gslb itself serves: `a.` has a set targeting `b.`, whose record has a
/// set targeting `a.`. gslb resolves a hostname target by asking its
/// resolvers, which ask gslb, so each name's addresses would come only from
/// the others': it never resolves, or keeps whatever a race left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLoop {
    /// The record names around the loop, the first repeated at the end.
    pub names: Vec<Name>,
    /// The record (index in the input) whose hostname target closes the
    /// loop, and the set (index in that record) it is in.
    pub closed_by: (usize, usize),
}

impl fmt::Display for TargetLoop {
    /// `a. → b. → a.`; a loop of more than 8 names shows its first and
    /// last 4 and how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.names.len();
        for (i, name) in self.names.iter().enumerate() {
            if len > 8 && (4..len - 4).contains(&i) {
                if i == 4 {
                    f.write_str(" → …")?;
                }
                continue;
            }
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{name}")?;
        }
        if len > 8 {
            write!(f, " ({} names)", len - 1)?;
        }
        Ok(())
    }
}

/// The loops among `records`, each given as its name and its hostname
/// targets with the index of the set each is in. Every edge that closes a
/// loop is reported once. A depth-first search with its own stack: a chain
/// through a million records must not exhaust the thread's.
pub fn target_loops(records: &[(&Name, Vec<(usize, &Name)>)]) -> Vec<TargetLoop> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let index: HashMap<&Name, usize> = records
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();
    let mut state = vec![NEW; records.len()];
    let mut loops = Vec::new();
    // (record, next edge to follow)
    let mut path: Vec<(usize, usize)> = Vec::new();
    for start in 0..records.len() {
        if state[start] != NEW {
            continue;
        }
        state[start] = ON_PATH;
        path.push((start, 0));
        while let Some((record, edge)) = path.last_mut() {
            let (record, edges) = (*record, &records[*record].1);
            let Some(&(set, target)) = edges.get(*edge) else {
                state[record] = DONE;
                path.pop();
                continue;
            };
            *edge += 1;
            let Some(&next) = index.get(target) else {
                continue; // resolved upstream, not through gslb's records
            };
            match state[next] {
                NEW => {
                    state[next] = ON_PATH;
                    path.push((next, 0));
                }
                ON_PATH => {
                    let from = path.iter().position(|(r, _)| *r == next).unwrap_or(0);
                    let mut names: Vec<Name> = path[from..]
                        .iter()
                        .map(|(r, _)| records[*r].0.clone())
                        .collect();
                    names.push(records[next].0.clone());
                    loops.push(TargetLoop {
                        names,
                        closed_by: (record, set),
                    });
                }
                _ => {}
            }
        }
    }
    loops
}

/// Reports every loop of hostname targets among the validated `records`,
/// at the set that closes it (`records[i].sets[j].targets` of its file).
/// Runs once every record is valid, so each record's index in its file is
/// its place among the records from that file.
pub(super) fn report_loops(errors: &mut Vec<ConfigError>, records: &[Record]) {
    let graph: Vec<(&Name, Vec<(usize, &Name)>)> = records
        .iter()
        .map(|r| {
            let targets = r
                .sets
                .iter()
                .enumerate()
                .flat_map(|(j, set)| set.hostnames.iter().map(move |h| (j, h)))
                .collect();
            (&r.name, targets)
        })
        .collect();
    let loops = target_loops(&graph);
    if loops.is_empty() {
        return;
    }
    let mut seen: HashMap<&Arc<str>, usize> = HashMap::new();
    let in_file: Vec<usize> = records
        .iter()
        .map(|r| {
            let n = seen.entry(&r.source).or_default();
            *n += 1;
            *n - 1
        })
        .collect();
    for found in loops {
        let (record, set) = found.closed_by;
        errors.push(ConfigError::new(
            records[record].source.clone(),
            format!("records[{}].sets[{set}].targets", in_file[record]),
            format!(
                "hostname targets loop through records gslb serves: {found}; each name would resolve only through the others"
            ),
        ));
    }
}

/// Checks `server.alias`; the defaults when absent. The shortest
/// `min_refresh` is a second: below that a short upstream TTL would turn
/// into a query stream to the resolver.
pub(super) fn alias(check: &mut Checker<'_>, raw: Option<&RawAlias>) -> Option<Policy> {
    let raw = raw.cloned().unwrap_or_default();
    let min_refresh = check.duration(
        s::ALIAS_MIN_REFRESH.key,
        raw.min_refresh.as_deref(),
        &s::ALIAS_MIN_REFRESH,
    );
    let max_refresh = check.duration(
        s::ALIAS_MAX_REFRESH.key,
        raw.max_refresh.as_deref(),
        &s::ALIAS_MAX_REFRESH,
    );
    let max_stale = check.duration(
        s::ALIAS_MAX_STALE.key,
        raw.max_stale.as_deref(),
        &s::ALIAS_MAX_STALE,
    );
    let max_addresses = check.int(
        s::ALIAS_MAX_ADDRESSES.key,
        raw.max_addresses,
        &s::ALIAS_MAX_ADDRESSES,
    );
    let (min_refresh, max_refresh) = (min_refresh?, max_refresh?);
    if max_refresh < min_refresh {
        check.error(
            s::ALIAS_MAX_REFRESH.key,
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

    use super::target_loops;
    use crate::config::raw::RawConfig;
    use crate::config::validate::validate;
    use crate::model::Config;
    use crate::name::Name;

    fn load(server: &str, targets: &str) -> Result<Config, Vec<String>> {
        let yaml = format!(
            "server: {{ dns_listen: [\"127.0.0.1:0\"]{server} }}\nzones:\n  - origin: global.example.test.\n    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}\n    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}\nrecords:\n  - name: a.global.example.test.\n    sets: [{{ id: x, targets: [{targets}] }}]\n"
        );
        let raw: RawConfig = serde_saphyr::from_str(&yaml).expect("test YAML parses");
        validate(
            raw,
            "gslb.yaml",
            Vec::new(),
            1,
            crate::config::Secrets::Read,
        )
        .map_err(|e| {
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

    fn names(count: usize) -> Vec<Name> {
        (0..count)
            .map(|i| Name::parse(&format!("n{i}.global.example.test.")).unwrap())
            .collect()
    }

    #[test]
    fn loops_are_found_once_each_and_names_outside_them_are_not() {
        let n = names(6);
        // 0 → 1 → 2 → 0, 3 → 1 (into the loop), 4 → 4, 5 → elsewhere.
        let elsewhere = Name::parse("lb.elb.example.test.").unwrap();
        let graph = vec![
            (&n[0], vec![(0, &n[1])]),
            (&n[1], vec![(0, &elsewhere), (1, &n[2])]),
            (&n[2], vec![(2, &n[0])]),
            (&n[3], vec![(0, &n[1])]),
            (&n[4], vec![(0, &n[4])]),
            (&n[5], vec![(0, &elsewhere)]),
        ];
        let found = target_loops(&graph);
        let shown: Vec<(String, (usize, usize))> =
            found.iter().map(|l| (l.to_string(), l.closed_by)).collect();
        assert_eq!(
            shown,
            [
                (
                    "n0.global.example.test. → n1.global.example.test. → n2.global.example.test. → n0.global.example.test.".to_owned(),
                    (2, 2)
                ),
                (
                    "n4.global.example.test. → n4.global.example.test.".to_owned(),
                    (4, 0)
                ),
            ]
        );
    }

    #[test]
    fn a_loop_through_many_records_is_found_without_deep_recursion() {
        const COUNT: usize = 200_000;
        let n = names(COUNT);
        let graph: Vec<_> = (0..COUNT)
            .map(|i| (&n[i], vec![(0, &n[(i + 1) % COUNT])]))
            .collect();
        let found = target_loops(&graph);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].names.len(), COUNT + 1);
        assert_eq!(
            found[0].to_string(),
            "n0.global.example.test. → n1.global.example.test. → n2.global.example.test. → n3.global.example.test. → … → n199997.global.example.test. → n199998.global.example.test. → n199999.global.example.test. → n0.global.example.test. (200000 names)"
        );
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
