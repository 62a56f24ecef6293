//! `server.geoip_database` in a load: the file read once, remembered in
//! [`Inputs`] like the config (so replacing it on disk is a file change
//! that reloads, [`super::reload`]), and compared with the database being
//! served.
//!
//! A reload shares the served database when the file holds the same bytes
//! (no parse, and the query threads' lookup caches stay warm), opens it
//! when it changed, and keeps the served one when the replacement does not
//! open: a half-copied or corrupt download must not take location away
//! from every answer, nor hold back the rest of the config. A first load
//! (start-up, `check-config`) has nothing to keep and fails instead.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use super::input::{Contents, FileState, Inputs};
use super::{ConfigError, Loaded};
use crate::geo::{GeoDb, GeoError};

/// Largest database read. GeoIP2 City is about 130 MB, the enterprise
/// databases a few hundred: this only stops a wrong path (a device, a
/// disk image) from being read whole.
pub const GEOIP_MAX_BYTES: u64 = 4 << 30;

/// The database a running config serves, for the next load to compare
/// the file with.
#[derive(Debug, Clone)]
pub struct ServedGeo {
    /// `server.geoip_database` as configured.
    path: PathBuf,
    /// What the last load read of the file: the bytes `db` came from, or,
    /// when a replacement did not open and `db` was kept, that
    /// replacement, so it is not tried again until it changes.
    state: FileState,
    /// The database.
    db: Arc<GeoDb>,
}

impl ServedGeo {
    /// The database `running` serves, if it has one.
    pub(super) fn of(running: &Loaded) -> Option<Self> {
        let db = running.geo.clone()?;
        let path = running.config.server.geoip_database.clone()?;
        let state = running.inputs.0.iter().find(|i| i.path == path)?.state;
        Some(Self { path, state, db })
    }
}

/// What a load did with `server.geoip_database`, for the reload task to
/// log and count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GeoOutcome {
    /// No database configured, or the load failed before it.
    #[default]
    None,
    /// The file is as the served database was read from: shared.
    Same,
    /// A database opened from a file not served before (new or changed).
    Opened,
    /// The file changed and does not open; the served database is kept.
    Kept {
        /// Why the file was refused.
        error: String,
    },
}

/// Opens the database at `db` (as the config spells it), remembering
/// what was read in `inputs`, against the database `served` (if any).
pub(super) fn open(
    file: &Arc<str>,
    db: &str,
    served: Option<&ServedGeo>,
    inputs: &mut Inputs,
) -> Result<(Arc<GeoDb>, GeoOutcome), ConfigError> {
    let path = Path::new(db);
    let served = served.filter(|s| s.path == path);
    if let Some(served) = served {
        let now = FileState::now(path, GEOIP_MAX_BYTES);
        if now == served.state {
            inputs.push_state(path, GEOIP_MAX_BYTES, now);
            return Ok((served.db.clone(), GeoOutcome::Same));
        }
    }
    let contents = Contents::read(path, GEOIP_MAX_BYTES);
    inputs.push(path, GEOIP_MAX_BYTES, &contents);
    let opened = match contents {
        Contents::Bytes(bytes) => GeoDb::from_bytes(path, bytes),
        Contents::Missing => Err(GeoError::Read {
            path: path.to_owned(),
            // What reading it would have said: "No such file or directory".
            source: rustix::io::Errno::NOENT.into(),
        }),
        Contents::TooLarge { len } => Err(GeoError::Read {
            path: path.to_owned(),
            source: std::io::Error::other(format!(
                "{len} bytes, more than the {GEOIP_MAX_BYTES} a GeoIP database may have"
            )),
        }),
        Contents::Unreadable(source) => Err(GeoError::Read {
            path: path.to_owned(),
            source,
        }),
    };
    match (opened, served) {
        (Ok(db), _) => Ok((Arc::new(db), GeoOutcome::Opened)),
        (Err(error), Some(served)) => Ok((
            served.db.clone(),
            GeoOutcome::Kept {
                error: open_error(&error),
            },
        )),
        (Err(error), None) => Err(ConfigError::new(
            file.clone(),
            "server.geoip_database",
            open_error(&error),
        )),
    }
}

/// Why the database did not open, in words: a file that is not there says
/// "no such file", not the I/O error's name.
fn open_error(error: &crate::geo::GeoError) -> String {
    match error {
        crate::geo::GeoError::Read { path, source } => format!(
            "cannot read {}: {}",
            path.display(),
            super::secret::io_reason(source)
        ),
        other => crate::error_chain(other),
    }
}

#[cfg(test)]
mod tests;
