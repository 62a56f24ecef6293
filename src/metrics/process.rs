//! `gslb_build_info` and the process's own readings (`process_*`, the
//! names Prometheus client libraries use), read from `/proc/self` at
//! scrape time. A reading that cannot be taken (no procfs) is left out
//! rather than shown as 0.

use std::fs;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use super::{family, single};

/// The version this binary was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this binary was built from, when the build recorded one.
pub const COMMIT: &str = match option_env!("GSLB_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Writes `gslb_build_info` and the process readings.
pub fn encode(encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
    family(
        encoder,
        "gslb_build_info",
        "Always 1; the labels name the build: version and git commit",
        MetricType::Gauge,
        [(
            [
                ("version", VERSION.to_owned()),
                ("commit", COMMIT.to_owned()),
            ],
            1,
        )],
    )?;
    if let Some(seconds) = cpu_seconds() {
        let metric = encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(seconds).encode(metric)?;
    }
    if let Some(bytes) = resident_bytes() {
        single(
            encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            MetricType::Gauge,
            bytes,
        )?;
    }
    if let Some(fds) = open_fds() {
        single(
            encoder,
            "process_open_fds",
            "Open file descriptors",
            MetricType::Gauge,
            fds,
        )?;
    }
    if let Some(soft) = nofile_soft_limit() {
        single(
            encoder,
            "process_max_fds",
            "File descriptors the process may open (the soft limit)",
            MetricType::Gauge,
            soft,
        )?;
    }
    Ok(())
}

/// utime + stime of `/proc/self/stat`, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    cpu_seconds_of(&stat, rustix::param::clock_ticks_per_second())
}

/// Parses utime and stime (fields 14 and 15) of a `/proc/PID/stat` line:
/// the command name in parentheses may hold spaces, so fields are counted
/// after its closing parenthesis.
fn cpu_seconds_of(stat: &str, ticks_per_second: u64) -> Option<f64> {
    let (_, after) = stat.rsplit_once(')')?;
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    (ticks_per_second > 0).then(|| (utime + stime) as f64 / ticks_per_second as f64)
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// Entries of `/proc/self/fd` (the directory's own descriptor included,
/// as other client libraries count it).
fn open_fds() -> Option<u64> {
    Some(fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// The soft `RLIMIT_NOFILE`; `None` when unlimited.
fn nofile_soft_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_count_fields_after_the_command_name() {
        // A command name with spaces and a parenthesis, utime 250, stime 50.
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_seconds_of(stat, 100), Some(3.0));
        assert_eq!(cpu_seconds_of("42 (x) S 1", 100), None);
    }

    #[test]
    fn this_process_has_readings() {
        assert!(cpu_seconds().is_some());
        assert!(resident_bytes().is_some_and(|b| b > 0));
        assert!(open_fds().is_some_and(|n| n >= 3));
    }
}
