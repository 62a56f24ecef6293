//! The state file (`server.state_file`): what changed at run time, kept
//! across restarts: operator overrides, the records of RFC 2136 updates
//! ([`SavedZone`]) and the MACs of the signed updates accepted recently
//! ([`SeenMac`], so a restart does not reopen the replay window). The
//! format is a versioned JSON object so that more keys can join them:
//!
//! ```json
//! {"version": 1, "overrides": [{"record": "api.global.example.test.", "set": "us-east",
//!   "state": "down", "reason": "maintenance", "client": "127.0.0.1:50312",
//!   "at": "2026-11-29T15:00:00Z"}],
//!  "seen_macs": [{"key": "acme-update.global.example.test.", "mac": "base64", "expires": 1700000300}]}
//! ```
//!
//! Top-level keys this version does not know are kept and written back, so
//! a newer gslb's additions survive a rollback. Writes are atomic (temporary
//! file, fsync, rename, fsync of the directory) and happen in a task of
//! their own, so the table writer never waits on a disk. Each change gets a
//! version, and [`SavedWatch::wait`] tells when a version is on disk: an
//! override or an update is acknowledged only then. Changes that arrive
//! while a write is under way are written together by the next one (group
//! commit), so a burst of them costs one or two fsyncs, not one each.
//! Temporary files that a crash left behind are removed when the file is
//! loaded at start.
//!
//! A file that cannot be read or understood never stops the server: it is
//! logged, moved aside to `<file>.bad-<unix time>` (so the next write does
//! not destroy what an operator may want to recover) and the server starts
//! without overrides.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::ddns::saved::SavedZone;
use super::overrides::OverrideEntry;
use super::replay::{ReplayGuard, SeenMac, unix_now};

/// The format version this gslb writes and reads.
pub const VERSION: u32 = 1;

/// The state file's contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// Operator overrides.
    #[serde(default)]
    pub overrides: Vec<OverrideEntry>,
    /// Records added by RFC 2136 updates, and each zone's SOA serial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamic: Vec<SavedZone>,
    /// MACs of signed updates that a replay must not get past.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_macs: Vec<SeenMac>,
    /// Keys of newer versions, written back unchanged.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Why a state file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a state file this version understands.
    #[error("{path} is not a gslb state file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the state file; a missing file is an empty state.
pub fn read(path: &Path) -> Result<State, LoadError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(State {
                version: VERSION,
                ..State::default()
            });
        }
        Err(source) => {
            return Err(LoadError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let invalid = |message: String| LoadError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let mut de = serde_json::Deserializer::from_slice(&text);
    let state: State = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))?;
    de.end().map_err(|e| invalid(e.to_string()))?;
    if state.version != VERSION {
        return Err(invalid(format!(
            "version {} (this gslb reads version {VERSION})",
            state.version
        )));
    }
    Ok(state)
}

/// Reads the state file at start-up. Never fails: a file that cannot be
/// used is logged, moved aside when it is unreadable as JSON, and an empty
/// state is returned.
pub fn load(path: &Path) -> State {
    for removed in crate::atomic_file::remove_temporaries(path) {
        info!(file = %removed.display(), "temporary file of an unfinished state file write removed");
    }
    let empty = State {
        version: VERSION,
        ..State::default()
    };
    match read(path) {
        Ok(state) => {
            info!(
                file = %path.display(),
                overrides = state.overrides.len(),
                dynamic_zones = state.dynamic.len(),
                seen_macs = state.seen_macs.len(),
                "state file loaded"
            );
            state
        }
        Err(e @ LoadError::Read { .. }) => {
            error!(error = %e, "state file ignored: starting without saved overrides");
            empty
        }
        Err(e @ LoadError::Invalid { .. }) => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = PathBuf::from(format!("{}.bad-{secs}", path.display()));
            match std::fs::rename(path, &aside) {
                Ok(()) => error!(
                    error = %e,
                    moved_to = %aside.display(),
                    "state file ignored and moved aside: starting without saved overrides"
                ),
                Err(rename) => error!(
                    error = %e,
                    rename_error = %rename,
                    "state file ignored (and could not be moved aside): starting without saved overrides"
                ),
            }
            empty
        }
    }
}

/// Writes `state` to `path` atomically: a temporary file in the same
/// directory, fsync, rename over `path`, fsync of the directory (the same
/// steps as the sidecar's record file).
pub fn write(path: &Path, state: &State) -> Result<(), String> {
    let mut body = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    body.push(b'\n');
    crate::atomic_file::write(path, &body).map_err(|e| crate::error_chain(&e))
}

/// Where writing stands.
#[derive(Debug, Clone, Default)]
struct Saved {
    /// The latest version a write was tried for.
    attempted: u64,
    /// The latest version on disk: every earlier one is covered by it.
    written: u64,
    /// Why the latest write failed, if it did.
    error: Option<Arc<str>>,
}

/// Hands states to the writer task; owned by the table writer.
#[derive(Debug)]
pub struct Saver {
    version: u64,
    /// The latest of each part: a change to one writes them all.
    overrides: Vec<OverrideEntry>,
    dynamic: Vec<SavedZone>,
    other: serde_json::Map<String, serde_json::Value>,
    tx: watch::Sender<(u64, Arc<State>)>,
    saved: watch::Receiver<Saved>,
}

/// Waits for writes; cloned into the admin API.
#[derive(Debug, Clone)]
pub struct SavedWatch {
    saved: watch::Receiver<Saved>,
}

impl SavedWatch {
    /// Waits until a write of version `version` or a later one was tried;
    /// `Ok` when one of them is on disk, else the error of the latest.
    pub async fn wait(&self, version: u64) -> Result<(), String> {
        let mut saved = self.saved.clone();
        let done = saved.wait_for(|s| s.attempted >= version).await;
        match done {
            Ok(done) if done.written >= version => Ok(()),
            Ok(done) => Err(done
                .error
                .as_deref()
                .unwrap_or("the state file was not written")
                .to_owned()),
            Err(_) => Err("the state file writer has stopped".into()),
        }
    }
}

impl Saver {
    /// Starts the writer task for `path`; `loaded` is what was read at
    /// start-up, whose unknown keys are written back. Each write takes the
    /// MACs `seen` holds at that moment: they only grow between writes
    /// (but for expiry), so a write covers every MAC recorded before the
    /// version it was queued for, and no update pays for copying them.
    pub fn spawn(path: PathBuf, loaded: &State, seen: ReplayGuard) -> (Self, SavedWatch) {
        let (tx, mut rx) = watch::channel((0u64, Arc::new(loaded.clone())));
        let (saved_tx, saved) = watch::channel(Saved::default());
        tokio::spawn(async move {
            // The latest state waiting is written: versions queued during
            // a write are covered by the next one.
            while rx.changed().await.is_ok() {
                let (version, state) = rx.borrow_and_update().clone();
                let target = path.clone();
                let seen = seen.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let mut state = State::clone(&state);
                    state.seen_macs = seen.save(unix_now());
                    write(&target, &state)
                })
                .await;
                let error = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(e) => Some(format!("writing {}: {e}", path.display())),
                };
                if let Some(error) = &error {
                    warn!(%error, "state file not saved: overrides and dynamic records will not survive a restart");
                }
                saved_tx.send_modify(|saved| {
                    saved.attempted = version;
                    if error.is_none() {
                        saved.written = version;
                    }
                    saved.error = error.map(Arc::from);
                });
            }
        });
        let saver = Self {
            version: 0,
            overrides: loaded.overrides.clone(),
            dynamic: loaded.dynamic.clone(),
            other: loaded.other.clone(),
            tx,
            saved: saved.clone(),
        };
        (saver, SavedWatch { saved })
    }

    /// Queues `overrides` for writing; returns the version to wait for.
    pub fn save(&mut self, overrides: Vec<OverrideEntry>) -> u64 {
        self.overrides = overrides;
        self.queue()
    }

    /// Queues the dynamic records (and the seen MACs) for writing;
    /// returns the version to wait for.
    pub fn save_updates(&mut self, dynamic: Vec<SavedZone>) -> u64 {
        self.dynamic = dynamic;
        self.queue()
    }

    fn queue(&mut self) -> u64 {
        self.version += 1;
        let state = State {
            version: VERSION,
            overrides: self.overrides.clone(),
            dynamic: self.dynamic.clone(),
            seen_macs: Vec::new(),
            other: self.other.clone(),
        };
        let _ = self.tx.send((self.version, Arc::new(state)));
        self.version
    }

    /// A watch on finished writes.
    pub fn watch(&self) -> SavedWatch {
        SavedWatch {
            saved: self.saved.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::liveness::Override;

    fn entry() -> OverrideEntry {
        OverrideEntry {
            record: "api.global.example.test.".into(),
            set: "us-east".into(),
            state: Override::Down,
            reason: Some("maintenance".into()),
            client: None,
            at: "2026-11-29T15:00:00Z".into(),
            version: crate::table::shared::version::Version::ancient(),
        }
    }

    #[test]
    fn round_trips_and_keeps_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"version": 1, "overrides": [], "newer_key": [{"name": "x"}]}"#,
        )
        .unwrap();
        let mut state = read(&path).unwrap();
        state.overrides.push(entry());
        write(&path, &state).unwrap();
        let again = read(&path).unwrap();
        assert_eq!(again, state);
        assert!(again.other.contains_key("newer_key"));
    }

    #[test]
    fn loading_removes_the_temporaries_of_a_crashed_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let tmp = dir.path().join(".state.json.tmp-999999");
        std::fs::write(&tmp, "{\"version\": 1, \"overr").unwrap();
        assert_eq!(load(&path).version, VERSION);
        assert!(!tmp.exists());
    }

    #[tokio::test]
    async fn a_version_is_reported_on_disk_only_once_written_with_the_macs_of_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let seen = ReplayGuard::default();
        let (mut saver, watch) = Saver::spawn(path.clone(), &State::default(), seen.clone());
        let key = crate::name::Name::parse("acme.").unwrap();
        let far = unix_now() + 300;
        seen.admit(&key, b"mac-1", 1, far, unix_now());
        let first = saver.save_updates(Vec::new());
        seen.admit(&key, b"mac-2", 2, far, unix_now());
        let second = saver.save_updates(Vec::new());
        assert_eq!(watch.wait(second).await, Ok(()));
        assert_eq!(
            watch.wait(first).await,
            Ok(()),
            "an earlier version is covered"
        );
        assert_eq!(read(&path).unwrap().seen_macs.len(), 2);
        // A write that fails is reported to whoever waits for it.
        let (mut saver, watch) = Saver::spawn(
            dir.path().join("missing/state.json"),
            &State::default(),
            seen,
        );
        let version = saver.save(vec![entry()]);
        let error = watch.wait(version).await.unwrap_err();
        assert!(error.contains("missing"), "{error}");
    }

    #[test]
    fn a_bad_file_is_moved_aside_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for bad in [
            "{not json",
            r#"{"version": 2, "overrides": []}"#,
            r#"{"version": 1, "overrides": [{"record": 5}]}"#,
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(read(&path), Err(LoadError::Invalid { .. })),
                "{bad}"
            );
            assert_eq!(load(&path).overrides, Vec::new());
            assert!(!path.exists(), "moved aside");
            let aside: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(
                aside.iter().any(|n| n.starts_with("state.json.bad-")),
                "{aside:?}"
            );
            for name in aside {
                std::fs::remove_file(dir.path().join(name)).unwrap();
            }
        }
        assert_eq!(
            load(&path).version,
            VERSION,
            "a missing file is an empty state"
        );
    }
}
