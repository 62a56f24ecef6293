//! A key's timing metadata, as BIND writes it in the `.private` file
//! (`Publish: 20240101000000`), and what it means at a given second: is the
//! key in the DNSKEY RRset, does it sign.
//!
//! Keys are evaluated against the clock when they are used, not when the
//! config loads, so a key whose `Activate` passes while gslb runs starts
//! signing on its own, and a retired one stops, with no reload.

use std::fmt;

/// The timing lines of a key file, as Unix seconds; `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// `Created`: shown only.
    pub created: Option<u64>,
    /// `Publish`: from then on the key is in the DNSKEY RRset.
    pub publish: Option<u64>,
    /// `Activate`: from then on the key signs.
    pub activate: Option<u64>,
    /// `Inactive`: from then on the key no longer signs.
    pub inactive: Option<u64>,
    /// `Delete`: from then on the key is gone from the DNSKEY RRset.
    pub delete: Option<u64>,
}

/// Where a key stands at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Not yet published.
    Created,
    /// In the DNSKEY RRset, not signing yet (pre-published).
    Published,
    /// Published and signing.
    Active,
    /// Published, no longer signing (retiring).
    Inactive,
    /// Removed from the DNSKEY RRset.
    Deleted,
}

impl KeyState {
    /// The word `check-config` and the metrics use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Published => "published",
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Deleted => "deleted",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Timing {
    /// Whether the key signs at `now`: activated (a key without
    /// `Activate` counts as active, as `dnssec-signzone` treats keys without
    /// timing metadata), not inactive, not deleted.
    pub fn signs(&self, now: u64) -> bool {
        self.activate.is_none_or(|t| t <= now)
            && self.inactive.is_none_or(|t| now < t)
            && self.delete.is_none_or(|t| now < t)
    }

    /// Whether the key is in the DNSKEY RRset at `now`: published (or
    /// signing: a signing key must be published, or its signatures would
    /// not validate) and not deleted.
    pub fn published(&self, now: u64) -> bool {
        (self.publish.is_none_or(|t| t <= now) || self.signs(now))
            && self.delete.is_none_or(|t| now < t)
    }

    /// The key's state at `now`.
    pub fn state(&self, now: u64) -> KeyState {
        if self.delete.is_some_and(|t| t <= now) {
            KeyState::Deleted
        } else if self.signs(now) {
            KeyState::Active
        } else if !self.published(now) {
            KeyState::Created
        } else if self.inactive.is_some_and(|t| t <= now) {
            KeyState::Inactive
        } else {
            KeyState::Published
        }
    }

    /// The next moment after `now` at which the key's state changes, if any.
    pub fn next_change(&self, now: u64) -> Option<u64> {
        [self.publish, self.activate, self.inactive, self.delete]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min()
    }
}

/// Parses a BIND timestamp, `YYYYMMDDHHMMSS` in UTC, into Unix seconds.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| text[range].parse::<u64>().ok();
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC) for people.
pub fn format_timestamp(unix: u64) -> String {
    let (days, rest) = (unix / 86_400, unix % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Formats Unix seconds as an RRSIG/BIND timestamp, `YYYYMMDDHHMMSS`.
pub fn format_compact(unix: u64) -> String {
    let (days, rest) = (unix / 86_400, unix % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(parse_timestamp("19700101000000"), Some(0));
        assert_eq!(parse_timestamp("20240229123456"), Some(1_709_210_096));
        assert_eq!(format_compact(1_709_210_096), "20240229123456");
        assert_eq!(format_timestamp(1_709_210_096), "2024-02-29 12:34:56");
        for bad in [
            "2023022912345",
            "20230229000000",
            "20241301000000",
            "2024x101000000",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_rollover_moves_through_the_states() {
        let t = Timing {
            created: Some(0),
            publish: Some(100),
            activate: Some(200),
            inactive: Some(300),
            delete: Some(400),
        };
        let states: Vec<KeyState> = [50, 100, 250, 300, 400].map(|now| t.state(now)).into();
        assert_eq!(
            states,
            [
                KeyState::Created,
                KeyState::Published,
                KeyState::Active,
                KeyState::Inactive,
                KeyState::Deleted
            ]
        );
        assert!(!t.published(99) && t.published(100) && t.published(399) && !t.published(400));
        assert!(!t.signs(199) && t.signs(200) && !t.signs(300));
        assert_eq!(t.next_change(250), Some(300));
        assert_eq!(t.next_change(400), None);
    }

    #[test]
    fn a_key_without_timing_is_active_and_published() {
        let t = Timing::default();
        assert_eq!(t.state(1_000), KeyState::Active);
        assert!(t.published(0));
    }
}
