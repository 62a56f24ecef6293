//! A [`Trace`] as `gslb explain` prints it: a few aligned lines, coloured
//! on a terminal (the caller decides, as `gslb status` does).

use std::fmt::Write as _;

use super::{Located, SetVerdict, Trace};
use crate::table::liveness::Override;

/// Width of the left-hand labels.
const LABEL: usize = 10;

/// The trace for a terminal; ANSI colours when `colour`.
pub fn render(trace: &Trace, colour: bool) -> String {
    let style = Style { colour };
    let mut out = String::new();
    heading(&mut out, trace, style);
    assumptions(&mut out, trace, style);
    let _ = writeln!(out, "{:LABEL$}{}", "client", located(&trace.located));
    sets(&mut out, trace, style);
    votes(&mut out, trace);
    rules(&mut out, trace);
    answer(&mut out, trace, style);
    ttl(&mut out, trace, style);
    samples(&mut out, trace);
    out.lines()
        .map(|l| l.trim_end().to_owned() + "\n")
        .collect()
}

/// Whether to colour: the caller knows if it writes to a terminal.
#[derive(Clone, Copy)]
struct Style {
    colour: bool,
}

impl Style {
    /// `text` in the ANSI style `code`, or as it is without colour.
    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// The name, type, client and generation asked about.
fn heading(out: &mut String, trace: &Trace, style: Style) {
    let client = trace
        .client
        .as_deref()
        .unwrap_or("a client located nowhere");
    let _ = writeln!(
        out,
        "{} {} for {client} (generation {})",
        style.paint("1", &trace.name),
        trace.qtype,
        trace.generation
    );
}

/// Each what-if change and the sets (or probes) it touched.
fn assumptions(out: &mut String, trace: &Trace, style: Style) {
    for a in &trace.assumed {
        let what = if a.sets.is_empty() {
            format!("{} probe(s)", a.probes)
        } else if a.set_count > a.sets.len() {
            format!(
                "{} and {} more ({} sets)",
                a.sets.join(", "),
                a.set_count - a.sets.len(),
                a.set_count
            )
        } else {
            a.sets.join(", ")
        };
        let _ = writeln!(
            out,
            "{:LABEL$}{} → {what}",
            "assumed",
            style.paint("33", &a.assumption)
        );
    }
}

/// One aligned line per set: priority, weight, state, geo, distance.
fn sets(out: &mut String, trace: &Trace, style: Style) {
    let width = trace
        .sets
        .iter()
        .map(|s| s.id.chars().count())
        .max()
        .unwrap_or(0);
    for (i, set) in trace.sets.iter().enumerate() {
        let label = if i == 0 { "sets" } else { "" };
        let (state, code) = set_state(set);
        let _ = writeln!(
            out,
            "{label:LABEL$}{:width$}  priority {}  weight {}  {}  geo {:11}{}",
            set.id,
            set.priority,
            set.weight,
            style.paint(code, &format!("{state:8}")),
            set.geo,
            set.distance_km
                .map(|km| format!("  {km:>5.0} km"))
                .unwrap_or_default()
        );
    }
}

/// The targets whose state the peer group's vote decided.
fn votes(out: &mut String, trace: &Trace) {
    let notes = trace
        .sets
        .iter()
        .flat_map(|s| s.targets.iter().map(move |t| (s, t)))
        .filter_map(|(s, t)| Some((s, t, t.quorum.as_deref()?)));
    for (i, (set, target, note)) in notes.enumerate() {
        let label = if i == 0 { "vote" } else { "" };
        let _ = writeln!(out, "{label:LABEL$}{} {}: {note}", set.id, target.address);
    }
}

/// The rules in the order they ran, and the sets each left.
fn rules(out: &mut String, trace: &Trace) {
    for (i, step) in trace.steps.iter().enumerate() {
        let label = if i == 0 { "rules" } else { "" };
        let left = if step.sets.is_empty() {
            "none".to_owned()
        } else {
            step.sets.join(", ")
        };
        let _ = writeln!(
            out,
            "{label:LABEL$}{:9} → {left}  ({})",
            step.rule, step.detail
        );
    }
}

/// Why there is no data, or each candidate set with its chance and its
/// targets' chances.
fn answer(out: &mut String, trace: &Trace, style: Style) {
    if let Some(why) = &trace.nodata {
        let _ = writeln!(
            out,
            "{:LABEL$}{}: {why}",
            "answer",
            style.paint("31", "NODATA")
        );
    }
    for (i, c) in trace.candidates.iter().enumerate() {
        let label = if i == 0 { "answer" } else { "" };
        let targets: Vec<String> = c
            .targets
            .iter()
            .filter(|t| t.probability > 0.0)
            .map(|t| format!("{} {}", t.address, percent(t.probability)))
            .collect();
        let ttl = if c.degraded {
            format!("  (ttl {}s: degraded)", c.ttl)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{label:LABEL$}{} {}: {}{ttl}",
            style.paint("1", &c.set),
            percent(c.probability),
            targets.join(", ")
        );
    }
}

/// The answer's TTL, how many addresses it holds and whether it fails
/// open; for NODATA, the negative TTL.
fn ttl(out: &mut String, trace: &Trace, style: Style) {
    if trace.nodata.is_some() {
        let _ = writeln!(
            out,
            "{:LABEL$}ttl {}s (the SOA's negative TTL)",
            "", trace.ttl
        );
        return;
    }
    let open = if trace.failed_open {
        style.paint("31", "yes: no set is healthy, health ignored")
    } else {
        "no".to_owned()
    };
    let limit = match trace.answers {
        u16::MAX => "every address of the set".to_owned(),
        1 => "1 address".to_owned(),
        n => format!("at most {n} addresses"),
    };
    let _ = writeln!(
        out,
        "{:LABEL$}ttl {}s, {limit}, fails open: {open}",
        "", trace.ttl
    );
}

/// The shares real selections gave, when sampled.
fn samples(out: &mut String, trace: &Trace) {
    let Some(samples) = &trace.samples else {
        return;
    };
    let shares: Vec<String> = samples
        .sets
        .iter()
        .map(|s| format!("{} {}", s.set, percent(s.share)))
        .collect();
    let _ = writeln!(
        out,
        "{:LABEL$}{} selections: {}",
        "samples",
        samples.count,
        shares.join(", ")
    );
}

fn percent(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
}

/// A set's state word and its colour.
fn set_state(set: &SetVerdict) -> (&'static str, &'static str) {
    if set.targets.is_empty() {
        ("no addr", "2")
    } else if set.drained {
        ("drained", "33")
    } else if set.override_state == Override::Up {
        ("forced", "33")
    } else if set.healthy {
        ("healthy", "32")
    } else {
        ("down", "31")
    }
}

/// "ECS 198.51.100.64 in 198.51.100.64/26: DE-HE, DE, EU (50.11, 8.68); ECS scope /26".
fn located(l: &Located) -> String {
    let mut text = match (l.by.as_str(), l.address) {
        ("ecs", Some(addr)) => format!("by ECS {addr}"),
        ("source", Some(addr)) => format!("by source {addr}"),
        ("not needed", _) => "not looked up: no set has geo or location".to_owned(),
        _ => "nowhere".to_owned(),
    };
    if let Some(network) = &l.network {
        let places: Vec<&str> = [&l.subdivision, &l.country, &l.continent]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        let places = if places.is_empty() {
            "no GeoIP data".to_owned()
        } else {
            places.join(", ")
        };
        let _ = write!(text, " in {network}: {places}");
        if let Some([lat, lon]) = l.coordinates {
            let _ = write!(text, " ({lat:.2}, {lon:.2})");
        }
    }
    if let Some(scope) = l.ecs_scope {
        let _ = write!(text, "; ECS scope /{scope}");
    }
    text
}
