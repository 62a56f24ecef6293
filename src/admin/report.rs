//! The `/status` document: every record, set and target with its health,
//! shared by the admin API (which builds it) and `gslb status` (which
//! prints it).

use std::{
    collections::BTreeMap,
    io::IsTerminal,
    net::IpAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};

use crate::alias::{AliasBoard, Freshness};
use crate::health::prober::StatusBoard;
use crate::metrics::peers::PeerReading;
use crate::model::{Fallback, HealthCheck};
use crate::table::liveness::{Liveness, Override};
use crate::table::shared::quorum::HealthView;
use crate::table::{
    Family, NO_PROBE, Probe, Record, Set, Snapshot, Target, resolved::STATIC_ORIGIN,
};

/// The whole status document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Generation of the snapshot described.
    pub generation: u64,
    /// Whether the first round of health checks is done.
    pub ready: bool,
    /// This instance's name (`server.instance`).
    #[serde(default)]
    pub instance: String,
    /// Peers are configured but none has a fresh view: this instance
    /// decides health alone.
    #[serde(default)]
    pub deciding_alone: bool,
    /// The configured peers and how they are reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerStatus>,
    /// Records in table order.
    pub records: Vec<RecordStatus>,
    /// Hostname targets with their current addresses, sorted by name.
    /// Absent in documents from older servers.
    #[serde(default)]
    pub hostnames: Vec<HostnameStatus>,
}

/// One peer of the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Its name.
    pub name: String,
    /// Whether its view counts in the vote now.
    pub fresh: bool,
    /// Seconds since the last successful exchange; `None`: never.
    pub last_exchange_secs_ago: Option<u64>,
    /// Seconds from its latest change to its arrival here.
    pub lag_seconds: f64,
    /// Exchanges that failed.
    pub failures: u64,
}

/// One instance's word on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The instance (this one, or a peer).
    pub instance: String,
    /// Whether it sees the target up.
    pub up: bool,
    /// Since when (RFC 3339).
    pub since: String,
}

/// What DNS does with a target now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsState {
    /// Answered: healthy, or its set is forced up.
    #[default]
    Answered,
    /// Down, but answered: no set the same clients could get is healthy,
    /// so the record fails open.
    FailingOpen,
    /// Down and not answered: a healthy set answers instead.
    NotAnswered,
    /// Never answered: an operator drained its set.
    Drained,
}

/// One hostname target as the refresher knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostnameStatus {
    /// The host name.
    pub name: String,
    /// How much its addresses are worth: unresolved, fresh, stale (past
    /// the upstream TTL, resolution failing, still answered) or expired
    /// (past `max_stale`: treated as down).
    pub freshness: Freshness,
    /// Its current addresses, each with how long it has been in the answer.
    pub addresses: Vec<HostnameAddress>,
    /// Seconds since the last successful resolution.
    pub resolved_secs_ago: Option<u64>,
    /// Seconds left of the upstream TTL.
    pub ttl_left_secs: Option<u64>,
    /// Seconds until the next resolution.
    pub next_refresh_secs: u64,
    /// Failed resolutions since the last success.
    pub failures: u32,
    /// Why the last resolution failed.
    pub last_error: Option<String>,
}

/// One resolved address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostnameAddress {
    /// The address.
    pub address: IpAddr,
    /// Seconds since it first appeared in the answers.
    pub age_secs: u64,
}

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordStatus {
    /// Owner name.
    pub name: String,
    /// Its sets.
    pub sets: Vec<SetStatus>,
}

/// One set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetStatus {
    /// Set id.
    pub id: String,
    /// Failover tier.
    pub priority: u32,
    /// Weight.
    pub weight: u32,
    /// Operator override.
    #[serde(rename = "override")]
    pub override_state: Override,
    /// Whether the set has a target DNS may answer.
    pub healthy: bool,
    /// Its targets.
    pub targets: Vec<TargetStatus>,
    /// Where the cluster is, from the config: the status page places the
    /// set on its map there. Absent in documents from older servers.
    #[serde(default)]
    pub location: Option<SetLocation>,
}

/// A set's configured `location`, in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SetLocation {
    /// Latitude, -90 (south) to 90 (north).
    pub lat: f64,
    /// Longitude, -180 (west) to 180 (east).
    pub lon: f64,
}

/// What a probe says about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeState {
    /// Passing.
    Up,
    /// Failing.
    Down,
    /// Checked, but no result yet (counts as up).
    Pending,
    /// The set has no health check.
    Unchecked,
}

/// One target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    /// Address answered.
    pub address: IpAddr,
    /// Health check name.
    pub check: Option<String>,
    /// Probe state.
    pub state: ProbeState,
    /// Whether it counts as healthy (override, and the probe or the peer
    /// group's vote).
    pub serving: bool,
    /// What DNS does with it now.
    #[serde(default)]
    pub dns: DnsState,
    /// The peer group's fresh views disagree about it.
    #[serde(default)]
    pub contested: bool,
    /// Each instance's word on it (with peers only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<Vote>,
    /// When the last probe finished (RFC 3339).
    pub last_probe: Option<String>,
    /// Latency of the last probe.
    pub latency_ms: Option<f64>,
    /// Why the last failing probe failed.
    pub last_error: Option<String>,
    /// The hostname target it was resolved from; absent for an address
    /// from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// What the peer group adds to `/status`.
#[derive(Debug, Default)]
pub struct GroupInputs {
    /// This instance's name.
    pub instance: String,
    /// This instance's own probe results, from its document.
    pub own: HealthView,
    /// The fresh views of its peers.
    pub views: Arc<BTreeMap<String, HealthView>>,
    /// How each configured peer is reached.
    pub peers: Vec<(String, PeerReading)>,
}

impl StatusReport {
    /// Describes `snapshot` with the prober's and the refresher's details
    /// and the peer group's views.
    pub fn build(
        snapshot: &Snapshot,
        board: &StatusBoard,
        aliases: &AliasBoard,
        group: &GroupInputs,
    ) -> Self {
        let records = snapshot
            .table
            .records
            .iter()
            .map(|record| RecordStatus {
                name: record.name.to_string(),
                sets: record
                    .sets
                    .iter()
                    .map(|set| set_status(snapshot, record, set, board, group))
                    .collect(),
            })
            .collect();
        let now = std::time::SystemTime::now();
        let peers = group
            .peers
            .iter()
            .map(|(name, reading)| PeerStatus {
                name: name.clone(),
                fresh: group.views.contains_key(name),
                last_exchange_secs_ago: (reading.last_exchange > 0.0).then(|| {
                    let at = std::time::UNIX_EPOCH + Duration::from_secs_f64(reading.last_exchange);
                    now.duration_since(at).unwrap_or_default().as_secs()
                }),
                lag_seconds: reading.lag_seconds,
                failures: reading.failures,
            })
            .collect();
        Self {
            generation: snapshot.generation,
            ready: board.ready() && aliases.ready(),
            instance: group.instance.clone(),
            deciding_alone: !group.peers.is_empty() && group.views.is_empty(),
            peers,
            records,
            hostnames: hostnames(aliases),
        }
    }

    /// The table `gslb status` prints: one aligned line per target,
    /// coloured when `colour`.
    pub fn render(&self, now: SystemTime, colour: bool) -> String {
        let header = [
            "RECORD",
            "SET",
            "TARGET",
            "STATE",
            "DNS",
            "OVERRIDE",
            "CHECK",
            "VOTES",
            "LATENCY",
            "LAST PROBE",
            "ERROR",
        ];
        let mut rows: Vec<[String; 11]> = Vec::new();
        for record in &self.records {
            for set in &record.sets {
                for t in &set.targets {
                    rows.push([
                        record.name.clone(),
                        set.id.clone(),
                        t.address.to_string(),
                        format!("{:?}", t.state).to_lowercase(),
                        t.dns.text().to_owned(),
                        match set.override_state {
                            Override::Auto => "-".to_owned(),
                            other => format!("{other:?}").to_lowercase(),
                        },
                        t.check.clone().unwrap_or_else(|| "-".into()),
                        votes_text(&t.votes),
                        t.latency_ms.map_or("-".into(), |ms| format!("{ms:.1}ms")),
                        t.last_probe
                            .as_deref()
                            .map_or("-".into(), |at| age(at, now)),
                        t.last_error.clone().unwrap_or_default(),
                    ]);
                }
            }
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = self.render_heading();
        let line = |cells: &[String], paint: &dyn Fn(usize, &str) -> String| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                text.push_str(&paint(i, cell));
                if i + 1 < cells.len() {
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            text.trim_end().to_owned() + "\n"
        };
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        out += &line(&header, &|_, cell| cell.to_owned());
        for row in &rows {
            out += &line(row, &|i, cell| {
                if colour {
                    paint(i, cell)
                } else {
                    cell.to_owned()
                }
            });
        }
        if !self.hostnames.is_empty() {
            out += "\n";
            out += &self.render_hostnames();
        }
        out
    }

    /// The lines above the table: the instance, readiness and the peers.
    fn render_heading(&self) -> String {
        let instance = if self.instance.is_empty() {
            String::new()
        } else {
            format!("instance {}, ", self.instance)
        };
        let ready = if self.ready {
            "ready"
        } else {
            "not ready: first round of health checks running"
        };
        let mut out = format!("{instance}generation {}, {ready}\n", self.generation);
        if !self.peers.is_empty() {
            let peers: Vec<String> = self
                .peers
                .iter()
                .map(|p| match (p.fresh, p.last_exchange_secs_ago) {
                    (true, _) => format!("{} fresh (lag {:.3}s)", p.name, p.lag_seconds),
                    (false, Some(ago)) => format!("{} stale (last exchange {ago}s ago)", p.name),
                    (false, None) => format!("{} unreachable", p.name),
                })
                .collect();
            out += &format!("peers: {}\n", peers.join(", "));
        }
        if self.deciding_alone {
            out += "no fresh peer view: this instance decides health alone\n";
        }
        out
    }

    /// The hostname targets' table: one line per address (a name without
    /// addresses gets one line with `-`).
    fn render_hostnames(&self) -> String {
        let header = [
            "HOSTNAME", "STATE", "ADDRESS", "AGE", "RESOLVED", "TTL LEFT", "NEXT", "ERROR",
        ];
        let secs = |s: Option<u64>| s.map_or("-".into(), |s| format!("{s}s"));
        let mut rows: Vec<[String; 8]> = Vec::new();
        for host in &self.hostnames {
            let state = format!("{:?}", host.freshness).to_lowercase();
            let common = |address: String, age: String| {
                [
                    host.name.clone(),
                    state.clone(),
                    address,
                    age,
                    host.resolved_secs_ago
                        .map_or("-".into(), |s| format!("{s}s ago")),
                    secs(host.ttl_left_secs),
                    format!("{}s", host.next_refresh_secs),
                    host.last_error.clone().unwrap_or_default(),
                ]
            };
            if host.addresses.is_empty() {
                rows.push(common("-".into(), "-".into()));
            }
            for a in &host.addresses {
                rows.push(common(a.address.to_string(), format!("{}s", a.age_secs)));
            }
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header[..]).chain(rows.iter().map(|r| &r[..])) {
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                text.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            out += text.trim_end();
            out += "\n";
        }
        out
    }
}

/// One set's status: each target with the hostname it came from, the
/// check it is probed with, its votes and what DNS does with it.
fn set_status(
    snapshot: &Snapshot,
    record: &Record,
    set: &Set,
    board: &StatusBoard,
    group: &GroupInputs,
) -> SetStatus {
    let health: &Liveness = &snapshot.health;
    let slot = snapshot.table.aliases.get(set.alias as usize);
    let mut targets = Vec::new();
    let mut all = Vec::new();
    for family in [Family::V4, Family::V6] {
        let family_targets = health.targets(set, family);
        all.extend_from_slice(family_targets);
        let origins = health
            .resolved
            .slot(set.alias)
            .filter(|_| slot.is_some())
            .map(|s| &s.origins[family as usize][..])
            .unwrap_or(&[]);
        for (i, target) in family_targets.iter().enumerate() {
            let origin = origins.get(i).copied().unwrap_or(STATIC_ORIGIN);
            let host = slot.and_then(|slot| slot.hostnames.get(usize::from(origin)));
            let check = match (host, slot) {
                (Some(_), Some(slot)) => slot.check.as_ref(),
                _ => set.health_check.as_ref(),
            };
            let dns = dns_state(health, record, set, target, family);
            let mut status = target_status(health, set, target, check, board, group, dns);
            status.hostname = host.map(ToString::to_string);
            targets.push(status);
        }
    }
    SetStatus {
        id: set.id.to_string(),
        priority: set.priority,
        weight: set.weight,
        override_state: health.override_of(set),
        healthy: health.any_up(set, &all),
        targets,
        location: set.location.map(|c| SetLocation {
            lat: c.lat,
            lon: c.lon,
        }),
    }
}

fn target_status(
    health: &Liveness,
    set: &Set,
    target: &Target,
    check: Option<&Arc<HealthCheck>>,
    board: &StatusBoard,
    group: &GroupInputs,
    dns: DnsState,
) -> TargetStatus {
    let probe = check.map(|check| Probe {
        check: check.clone(),
        addr: target.addr,
    });
    let detail = probe.as_ref().and_then(|p| board.get(p));
    let state = match (&probe, detail.as_ref().and_then(|d| d.up)) {
        (None, _) => ProbeState::Unchecked,
        (Some(_), None) => ProbeState::Pending,
        (Some(_), Some(true)) => ProbeState::Up,
        (Some(_), Some(false)) => ProbeState::Down,
    };
    let votes = match (&probe, group.views.is_empty() && group.peers.is_empty()) {
        (Some(probe), false) => votes(probe, group),
        _ => Vec::new(),
    };
    TargetStatus {
        address: target.addr,
        check: set.health_check.as_ref().map(|c| c.name.clone()),
        state,
        serving: health.target_up(set, target),
        dns,
        contested: target.probe != NO_PROBE && health.contested.is_set(target.probe as usize),
        votes,
        last_probe: detail
            .as_ref()
            .and_then(|d| d.last_probe)
            .map(|at| humantime::format_rfc3339_millis(at).to_string()),
        latency_ms: detail
            .as_ref()
            .and_then(|d| d.latency)
            .map(|l| (l.as_secs_f64() * 1e6).round() / 1e3),
        last_error: detail.and_then(|d| d.last_error),
        hostname: None,
    }
}

/// This instance's and each fresh peer's word on `probe`.
fn votes(probe: &Probe, group: &GroupInputs) -> Vec<Vote> {
    let check = probe.check.name.as_str();
    let vote = |instance: &str, view: &HealthView| {
        view.get(check, probe.addr).map(|(up, since_ms)| Vote {
            instance: instance.to_owned(),
            up,
            since: humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_millis(since_ms),
            )
            .to_string(),
        })
    };
    std::iter::once(vote(&group.instance, &group.own))
        .chain(group.views.iter().map(|(name, view)| vote(name, view)))
        .flatten()
        .collect()
}

/// What DNS does with `target` of `set` now. A down target is answered
/// while its record fails open: when no set the same clients could get
/// (not drained, with targets of the family, and under `fallback: none`
/// of the same geo) has a healthy target.
fn dns_state(
    health: &Liveness,
    record: &Record,
    set: &Set,
    target: &Target,
    family: Family,
) -> DnsState {
    if health.drained(set) {
        return DnsState::Drained;
    }
    if health.target_up(set, target) {
        return DnsState::Answered;
    }
    let same_clients = |other: &Set| record.fallback != Fallback::None || other.geo == set.geo;
    let any_healthy = record.sets.iter().any(|other| {
        !health.drained(other)
            && same_clients(other)
            && health.any_up(other, health.targets(other, family))
    });
    if any_healthy {
        DnsState::NotAnswered
    } else {
        DnsState::FailingOpen
    }
}

/// The hostname targets with their current addresses.
fn hostnames(aliases: &AliasBoard) -> Vec<HostnameStatus> {
    aliases
        .all()
        .into_iter()
        .map(|(name, host)| HostnameStatus {
            name: name.to_string(),
            freshness: host.freshness,
            addresses: host
                .addresses
                .iter()
                .map(|(address, age)| HostnameAddress {
                    address: *address,
                    age_secs: age.as_secs(),
                })
                .collect(),
            resolved_secs_ago: host.resolved_ago.map(|d| d.as_secs()),
            ttl_left_secs: host.ttl_left.map(|d| d.as_secs()),
            next_refresh_secs: host.next_in.as_secs(),
            failures: host.failures,
            last_error: host.last_error,
        })
        .collect()
}

impl DnsState {
    /// The DNS column of `gslb status`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::FailingOpen => "failing open",
            Self::NotAnswered => "not answered",
            Self::Drained => "drained",
        }
    }
}

/// `a:up b:down`, or `-` without peers.
fn votes_text(votes: &[Vote]) -> String {
    if votes.is_empty() {
        return "-".into();
    }
    let words: Vec<String> = votes
        .iter()
        .map(|v| format!("{}:{}", v.instance, if v.up { "up" } else { "down" }))
        .collect();
    words.join(" ")
}

/// Colours the state, DNS and override columns.
fn paint(column: usize, cell: &str) -> String {
    let code = match (column, cell) {
        (3, "up") | (4, "answered") => "32",
        (3, "down") | (4, "drained" | "not answered") => "31",
        (3, "pending") | (4, "failing open") | (5, "up" | "down") => "33",
        _ => return cell.to_owned(),
    };
    format!("\x1b[{code}m{cell}\x1b[0m")
}

/// "3s ago" for an RFC 3339 time.
fn age(at: &str, now: SystemTime) -> String {
    match humantime::parse_rfc3339(at) {
        Ok(at) => {
            let secs = now.duration_since(at).unwrap_or(Duration::ZERO).as_secs();
            format!("{}s ago", secs)
        }
        Err(_) => at.to_owned(),
    }
}

/// Whether `gslb status` should colour its output.
pub fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
