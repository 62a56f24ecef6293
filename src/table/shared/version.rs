//! Versions of shared entries: a hybrid logical clock (Kulkarni et al.,
//! 2014). A version is the wall clock in milliseconds, a counter that
//! orders changes within one millisecond (or while the wall clock lags a
//! version already seen), and the instance that made it, which breaks
//! ties. Versions are totally ordered, so "the newer entry wins" picks the
//! same entry on every instance.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// When and where a shared entry was last changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Wall clock of the change, ms since the Unix epoch (or later, when
    /// the instance had already seen a later version).
    pub ms: u64,
    /// Orders changes that share `ms`.
    #[serde(default)]
    pub n: u32,
    /// The instance that made the change.
    pub by: String,
}

impl Version {
    /// The version of entries from before versions existed (state files
    /// of older gslb): older than any change made since.
    pub fn ancient() -> Self {
        Self {
            ms: 0,
            n: 0,
            by: String::new(),
        }
    }
}

/// The current wall clock in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One instance's hybrid logical clock. Owned by the table writer.
#[derive(Debug, Clone)]
pub struct Clock {
    ms: u64,
    n: u32,
    instance: String,
}

impl Clock {
    /// A clock for `instance` that has seen nothing yet.
    pub fn new(instance: &str) -> Self {
        Self {
            ms: 0,
            n: 0,
            instance: instance.to_owned(),
        }
    }

    /// The instance whose changes this clock stamps.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Renames the instance (a reload changed `server.instance`).
    pub fn rename(&mut self, instance: &str) {
        instance.clone_into(&mut self.instance);
    }

    /// The version of a change made now: later than every version this
    /// clock made or [observed](Self::observe).
    pub fn tick(&mut self, now_ms: u64) -> Version {
        if now_ms > self.ms {
            self.ms = now_ms;
            self.n = 0;
        } else if let Some(n) = self.n.checked_add(1) {
            self.n = n;
        } else {
            self.ms += 1;
            self.n = 0;
        }
        Version {
            ms: self.ms,
            n: self.n,
            by: self.instance.clone(),
        }
    }

    /// Takes in a version seen from a peer, so the next local change is
    /// later than it (a change made after seeing another must win over it).
    pub fn observe(&mut self, seen: &Version) {
        if (seen.ms, seen.n) > (self.ms, self.n) {
            self.ms = seen.ms;
            self.n = seen.n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_increase_even_when_the_wall_clock_stands_still_or_goes_back() {
        let mut clock = Clock::new("a");
        let first = clock.tick(1_000);
        let second = clock.tick(1_000);
        let third = clock.tick(900);
        assert!(
            first < second && second < third,
            "{first:?} {second:?} {third:?}"
        );
        assert_eq!(clock.tick(2_000).ms, 2_000);
    }

    #[test]
    fn a_change_made_after_seeing_a_peer_version_is_newer_than_it() {
        let mut a = Clock::new("a");
        let mut b = Clock::new("b");
        let from_b = b.tick(5_000);
        a.observe(&from_b);
        // a's wall clock lags b's by 4 s; its change still wins.
        let from_a = a.tick(1_000);
        assert!(from_a > from_b);
    }

    #[test]
    fn the_instance_breaks_ties() {
        let a = Version {
            ms: 7,
            n: 0,
            by: "a".into(),
        };
        let b = Version {
            ms: 7,
            n: 0,
            by: "b".into(),
        };
        assert!(b > a);
        assert!(Version::ancient() < a);
    }
}
