//! The config's errors: each problem with its file, where in the file,
//! its field and the reason, all of them together, so an operator fixes a
//! file in one go.

use std::{fmt, sync::Arc};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file it is in.
    pub file: Arc<str>,
    /// Where in the file: the field's key (or list item), or the nearest
    /// enclosing one the file has. `None` when the problem is the whole
    /// file, or the text it came from is not at hand (overlays merged,
    /// environment overrides).
    pub at: Option<Location>,
    /// The field, e.g. `records[3].sets[1].targets[0]`; empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A position in a file, both 1-based, as editors count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Line.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

impl ConfigError {
    /// A problem with `path` of `file`, not yet located in its text.
    pub fn new(
        file: impl Into<Arc<str>>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            at: None,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    /// `file:line:column: field: reason`, the form compilers use, so
    /// editors and terminals jump to it; parts that are not known are left
    /// out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(at) = self.at {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a config and its record files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
