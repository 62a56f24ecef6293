//! The `/status` document: every record, set and target with its health,
//! shared by the admin API (which builds it) and `gslb status` (which
//! prints it).

use std::{
    io::IsTerminal,
    net::IpAddr,
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};

use crate::health::{Health, Override, prober::StatusBoard};
use crate::table::{Probe, Snapshot};

/// The whole status document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Generation of the snapshot described.
    pub generation: u64,
    /// Whether the first round of health checks is done.
    pub ready: bool,
    /// Records in table order.
    pub records: Vec<RecordStatus>,
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
}

impl StatusReport {
    /// Describes `snapshot` with the prober's details.
    pub fn build(snapshot: &Snapshot, board: &StatusBoard) -> Self {
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
                        let all: Vec<_> = set.targets.iter().flatten().copied().collect();
                        let targets =
                            all.iter()
                                .map(|t| {
                                    let probe = set.health_check.as_ref().map(|check| Probe {
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
        Self {
            generation: snapshot.generation,
            ready: board.ready(),
            records,
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
