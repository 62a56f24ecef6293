//! The `/status` document: every record, set and target with its health,
//! shared by the admin API (which builds it) and `gslb status` (which
//! prints it).

use std::{
    io::IsTerminal,
    net::IpAddr,
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};

use crate::alias::{AliasBoard, Freshness};
use crate::health::prober::StatusBoard;
use crate::table::health::{Health, Override};
use crate::table::{Family, Probe, Snapshot, resolved::STATIC_ORIGIN};

/// The whole status document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Generation of the snapshot described.
    pub generation: u64,
    /// Whether the first round of health checks is done.
    pub ready: bool,
    /// Records in table order.
    pub records: Vec<RecordStatus>,
    /// Hostname targets with their current addresses, sorted by name.
    /// Absent in documents from older servers.
    #[serde(default)]
    pub hostnames: Vec<HostnameStatus>,
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
    /// Whether DNS may answer it now (override and probe combined).
    pub serving: bool,
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

impl StatusReport {
    /// Describes `snapshot` with the prober's and the refresher's details.
    pub fn build(snapshot: &Snapshot, board: &StatusBoard, aliases: &AliasBoard) -> Self {
        let health: &Health = &snapshot.health;
        let records = snapshot
            .table
            .records
            .iter()
            .map(|record| RecordStatus {
                name: record.name.to_string(),
                sets: record
                    .sets
                    .iter()
                    .map(|set| {
                        // Each target with the hostname it came from and
                        // the check it is probed with.
                        let slot = snapshot.table.aliases.get(set.alias as usize);
                        let mut all = Vec::new();
                        let mut origin = Vec::new();
                        for family in [Family::V4, Family::V6] {
                            let targets = health.targets(set, family);
                            all.extend_from_slice(targets);
                            let origins = health
                                .resolved
                                .slot(set.alias)
                                .filter(|_| slot.is_some())
                                .map(|s| &s.origins[family as usize][..])
                                .unwrap_or(&[]);
                            origin.extend((0..targets.len()).map(|i| {
                                let h = origins.get(i).copied().unwrap_or(STATIC_ORIGIN);
                                slot.and_then(|slot| slot.hostnames.get(usize::from(h)))
                            }));
                        }
                        let targets =
                            all.iter()
                                .zip(&origin)
                                .map(|(t, host)| {
                                    let check = match (host, slot) {
                                        (Some(_), Some(slot)) => slot.check.as_ref(),
                                        _ => set.health_check.as_ref(),
                                    };
                                    let probe = check.map(|check| Probe {
                                        check: check.clone(),
                                        addr: t.addr,
                                    });
                                    let detail = probe.as_ref().and_then(|p| board.get(p));
                                    let state = match (&probe, detail.as_ref().and_then(|d| d.up)) {
                                        (None, _) => ProbeState::Unchecked,
                                        (Some(_), None) => ProbeState::Pending,
                                        (Some(_), Some(true)) => ProbeState::Up,
                                        (Some(_), Some(false)) => ProbeState::Down,
                                    };
                                    TargetStatus {
                                        address: t.addr,
                                        check: set.health_check.as_ref().map(|c| c.name.clone()),
                                        state,
                                        serving: health.target_up(set, t),
                                        last_probe: detail.as_ref().and_then(|d| d.last_probe).map(
                                            |at| humantime::format_rfc3339_millis(at).to_string(),
                                        ),
                                        latency_ms: detail
                                            .as_ref()
                                            .and_then(|d| d.latency)
                                            .map(|l| (l.as_secs_f64() * 1e6).round() / 1e3),
                                        last_error: detail.and_then(|d| d.last_error),
                                        hostname: host.map(ToString::to_string),
                                    }
                                })
                                .collect();
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
                    })
                    .collect(),
            })
            .collect();
        let hostnames = aliases
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
            .collect();
        Self {
            generation: snapshot.generation,
            ready: board.ready() && aliases.ready(),
            records,
            hostnames,
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
            "LATENCY",
            "LAST PROBE",
            "ERROR",
        ];
        let mut rows: Vec<[String; 10]> = Vec::new();
        for record in &self.records {
            for set in &record.sets {
                for t in &set.targets {
                    rows.push([
                        record.name.clone(),
                        set.id.clone(),
                        t.address.to_string(),
                        format!("{:?}", t.state).to_lowercase(),
                        if t.serving { "serving" } else { "drained" }.to_owned(),
                        match set.override_state {
                            Override::Auto => "-".to_owned(),
                            other => format!("{other:?}").to_lowercase(),
                        },
                        t.check.clone().unwrap_or_else(|| "-".into()),
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
        let mut out = format!(
            "generation {}, {}\n",
            self.generation,
            if self.ready {
                "ready"
            } else {
                "not ready: first round of health checks running"
            }
        );
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

/// Colours the state, DNS and override columns.
fn paint(column: usize, cell: &str) -> String {
    let code = match (column, cell) {
        (3, "up") | (4, "serving") => "32",
        (3, "down") | (4, "drained") => "31",
        (3, "pending") | (5, "up" | "down") => "33",
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
