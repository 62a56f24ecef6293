//! `Checker`: where validators report problems, with helpers that parse
//! and range-check a field or report why it cannot be used. Defaults and
//! ranges come from the settings table ([`crate::config::settings`]).

use std::{fmt, net::IpAddr, sync::Arc, time::Duration};

use crate::config::settings::{DurationSetting, IntSetting};
use crate::config::{ConfigError, ConfigErrors, Secrets};
use crate::name::Name;

/// Collects errors for one file.
pub(in crate::config) struct Checker<'e> {
    /// The file checked, named in every error.
    pub(super) file: Arc<str>,
    /// Whether secret files are read (`check-config --no-secrets` skips
    /// them: they exist only where the server runs).
    pub(super) secrets: Secrets,
    errors: &'e mut Vec<ConfigError>,
}

impl<'e> Checker<'e> {
    /// A checker for `file` that adds to `errors`, which may hold other
    /// files' errors: a load reports every file's problems together.
    pub(in crate::config) fn new(
        file: impl Into<Arc<str>>,
        errors: &'e mut Vec<ConfigError>,
    ) -> Self {
        Self {
            file: file.into(),
            secrets: Secrets::Read,
            errors,
        }
    }

    /// The same checker, reading secret files or not.
    pub(in crate::config) fn with_secrets(self, secrets: Secrets) -> Self {
        Self { secrets, ..self }
    }
}

impl Checker<'_> {
    /// How many problems have been reported so far, to tell whether a
    /// section added any.
    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Runs `check` on one file: what it returns when it reported no
    /// problem, else every problem it reported.
    pub(in crate::config) fn collect<T>(
        file: &str,
        secrets: Secrets,
        check: impl FnOnce(&mut Checker<'_>) -> T,
    ) -> Result<T, ConfigErrors> {
        let mut errors = Vec::new();
        let value = check(&mut Checker::new(file, &mut errors).with_secrets(secrets));
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Adds errors another checker of the same file collected (a chunk of
    /// records checked on another thread).
    pub(super) fn extend(&mut self, errors: impl IntoIterator<Item = ConfigError>) {
        self.errors.extend(errors);
    }

    pub(in crate::config) fn error(&mut self, path: impl fmt::Display, message: impl fmt::Display) {
        self.errors.push(ConfigError::new(
            self.file.clone(),
            path.to_string(),
            message.to_string(),
        ));
    }

    /// `setting` at `path`: `value`, or the table's default when absent,
    /// within the table's range. A setting without a default is required.
    pub(in crate::config) fn int<T: TryFrom<i64>>(
        &mut self,
        path: impl fmt::Display,
        value: Option<i64>,
        setting: &IntSetting,
    ) -> Option<T> {
        match value.or(setting.default) {
            Some(value) => self.int_in_range(path, value, setting),
            None => {
                self.error(path, "is required");
                None
            }
        }
    }

    /// `setting` at `path` whose default depends on other keys (a record's
    /// TTL defaults to its zone's): `value`, or `default` when absent,
    /// within the table's range.
    pub(in crate::config) fn int_or<T: TryFrom<i64>>(
        &mut self,
        path: impl fmt::Display,
        value: Option<i64>,
        default: i64,
        setting: &IntSetting,
    ) -> Option<T> {
        self.int_in_range(path, value.unwrap_or(default), setting)
    }

    fn int_in_range<T: TryFrom<i64>>(
        &mut self,
        path: impl fmt::Display,
        value: i64,
        setting: &IntSetting,
    ) -> Option<T> {
        if !(setting.min..=setting.max).contains(&value) {
            self.error(
                path,
                format!("{value} is out of range ({})", setting.range_text()),
            );
            return None;
        }
        T::try_from(value).ok()
    }

    pub(in crate::config) fn name(&mut self, path: impl fmt::Display, text: &str) -> Option<Name> {
        Name::parse(text)
            .map_err(|e| self.error(path, format!("{text:?} is not a domain name: it {e}")))
            .ok()
    }

    pub(in crate::config) fn ip(&mut self, path: impl fmt::Display, text: &str) -> Option<IpAddr> {
        text.parse()
            .map_err(|_| self.error(path, format!("{text:?} is not an IP address")))
            .ok()
    }

    /// `setting` at `path`: `text` parsed as a duration, or the table's
    /// default when absent, within the table's range.
    pub(in crate::config) fn duration(
        &mut self,
        path: impl fmt::Display,
        text: Option<&str>,
        setting: &DurationSetting,
    ) -> Option<Duration> {
        let path = path.to_string();
        let Some(text) = text else {
            if setting.default.is_none() {
                self.error(&path, "is required");
            }
            return setting.default;
        };
        let value = humantime::parse_duration(text)
            .map_err(|e| {
                self.error(
                    &path,
                    format!("{text:?} is not a duration such as 5s or 500ms: {e}"),
                )
            })
            .ok()?;
        if value < setting.min || value > setting.max {
            self.error(
                path,
                format!("{text} is out of range ({})", setting.range_text()),
            );
            return None;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Checker;
    use crate::config::settings::{Apply, Doc, DurationSetting, IntSetting, Unit};

    const DOC: Doc = Doc {
        default: None,
        apply: Apply::Reload,
        meaning: "test",
    };

    /// The range and default checked are the row's, whatever row it is: a
    /// row with another range checks another range.
    #[test]
    fn ranges_and_defaults_come_from_the_row_given() {
        let narrow = IntSetting {
            key: "x",
            default: Some(12),
            min: 10,
            max: 20,
            unit: Unit::Seconds,
            doc: DOC,
        };
        let wide = IntSetting {
            min: 0,
            max: 100,
            ..narrow
        };
        let mut errors = Vec::new();
        let mut check = Checker::new("t.yaml", &mut errors);
        assert_eq!(check.int::<u32>("x", Some(5), &wide), Some(5));
        assert_eq!(check.int::<u32>("x", Some(5), &narrow), None);
        assert_eq!(check.int::<u32>("x", None, &narrow), Some(12));
        let window = DurationSetting {
            key: "w",
            default: Some(Duration::from_secs(2)),
            min: Duration::from_secs(1),
            max: Duration::from_secs(3),
            doc: DOC,
        };
        assert_eq!(check.duration("w", Some("4s"), &window), None);
        assert_eq!(
            check.duration("w", None, &window),
            Some(Duration::from_secs(2))
        );
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "t.yaml: x: 5 is out of range (10 to 20 seconds)",
                "t.yaml: w: 4s is out of range (1s to 3s)",
            ]
        );
    }
}
