//! `Checker`: where validators report problems, with helpers that parse
//! and range-check a field or report why it cannot be used.

use std::{fmt, net::IpAddr, sync::Arc, time::Duration};

use crate::config::{ConfigError, ConfigErrors};
use crate::name::Name;

/// Collects errors for one file.
pub(in crate::config) struct Checker<'e> {
    /// The file checked, named in every error.
    pub(super) file: Arc<str>,
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
            errors,
        }
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
        check: impl FnOnce(&mut Checker<'_>) -> T,
    ) -> Result<T, ConfigErrors> {
        let mut errors = Vec::new();
        let value = check(&mut Checker::new(file, &mut errors));
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    pub(in crate::config) fn error(&mut self, path: impl fmt::Display, message: impl fmt::Display) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            path: path.to_string(),
            message: message.to_string(),
        });
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub(in crate::config) fn int<T: TryFrom<i64>>(
        &mut self,
        path: impl fmt::Display,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Option<T> {
        let value = value.unwrap_or(default);
        if !(min..=max).contains(&value) {
            self.error(path, format!("{value} is out of range ({min} to {max})"));
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

    pub(in crate::config) fn duration(
        &mut self,
        path: impl fmt::Display,
        text: Option<&str>,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let Some(text) = text else {
            return Some(default);
        };
        let path = path.to_string();
        let value = humantime::parse_duration(text)
            .map_err(|e| {
                self.error(
                    &path,
                    format!("{text:?} is not a duration such as 5s or 500ms: {e}"),
                )
            })
            .ok()?;
        if value < min || value > max {
            self.error(
                path,
                format!(
                    "{text} is out of range ({} to {})",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            );
            return None;
        }
        Some(value)
    }
}
