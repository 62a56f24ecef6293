//! Noticing edits to the config and record files.
//!
//! The parent directories are watched, not the files: editors, `crd-sync`
//! and Kubernetes ConfigMap mounts replace files by rename, which a watch on
//! the old inode would miss. Only events that finish a change are asked for
//! (a written file closed, a file renamed in, created or deleted), not every
//! write or read: another program writing in the same directory (a log, a
//! tool's output) must cost the server nothing. Events for other names are
//! dropped; the rest are hints, and the table writer compares the files
//! with what the last load read ([`crate::config::input::Inputs`]) before it reloads.

use crate::atomic_file::parent_dir;
use std::{
    collections::BTreeSet,
    ffi::{OsStr, OsString},
    path::PathBuf,
};

use futures_util::StreamExt;
use inotify::{Inotify, WatchMask};
use tokio::{sync::mpsc, task::JoinHandle};
use tracing::{debug, warn};

/// A live watch; dropping it stops watching.
#[derive(Debug)]
pub struct FileWatch {
    task: Option<JoinHandle<()>>,
    dirs: BTreeSet<PathBuf>,
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl FileWatch {
    /// Watches the directories holding `files`; each relevant event sends a
    /// ping (pings coalesce in the bounded channel). Must run inside a tokio
    /// runtime. A watch that cannot be set up is logged; SIGHUP still works.
    pub fn new(files: &[PathBuf], pings: mpsc::Sender<()>) -> Self {
        let dirs: BTreeSet<PathBuf> = files.iter().map(|f| parent_dir(f)).collect();
        let names: BTreeSet<OsString> = files
            .iter()
            .filter_map(|f| f.file_name().map(OsString::from))
            .collect();
        let task = match watch(&dirs) {
            Ok(inotify) => match inotify.into_event_stream([0u8; 4096]) {
                Ok(mut events) => Some(tokio::spawn(async move {
                    while let Some(event) = events.next().await {
                        match event {
                            Ok(event)
                                if event.name.as_deref().is_none_or(|n| concerns(n, &names)) =>
                            {
                                debug!(name = ?event.name, mask = ?event.mask, "file event");
                                let _ = pings.try_send(());
                            }
                            Ok(_) => {}
                            Err(error) => {
                                warn!(%error, "file watch failed; reload with SIGHUP");
                                break;
                            }
                        }
                    }
                })),
                Err(error) => {
                    warn!(%error, "cannot watch config files; reload with SIGHUP");
                    None
                }
            },
            Err(error) => {
                warn!(%error, "cannot watch config files; reload with SIGHUP");
                None
            }
        };
        Self { task, dirs }
    }

    /// Whether this watch already covers `files`.
    pub fn covers(&self, files: &[PathBuf]) -> bool {
        files.iter().all(|f| self.dirs.contains(&parent_dir(f)))
    }
}

/// An inotify instance watching `dirs` for finished changes.
fn watch(dirs: &BTreeSet<PathBuf>) -> std::io::Result<Inotify> {
    let inotify = Inotify::init()?;
    let mask = WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF;
    for dir in dirs {
        if let Err(error) = inotify.watches().add(dir, mask) {
            warn!(%error, dir = %dir.display(), "cannot watch directory; reload with SIGHUP after changing files in it");
        }
    }
    Ok(inotify)
}

/// Whether an event on `name` may change one of the watched files: the file
/// itself (a temp file renamed onto it shows its name in the MOVED_TO
/// event), or Kubernetes' `..data` symlink swap behind a ConfigMap mount.
fn concerns(name: &OsStr, names: &BTreeSet<OsString>) -> bool {
    names.contains(name) || name.as_encoded_bytes().starts_with(b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_watched_names_and_kubernetes_swaps_concern_us() {
        let names: BTreeSet<OsString> = ["gslb.yaml".into(), "crd.yaml".into()].into();
        for name in [
            "gslb.yaml",
            "crd.yaml",
            "..data",
            "..2026_11_25_10_00_00.123",
        ] {
            assert!(concerns(OsStr::new(name), &names), "{name}");
        }
        for name in ["gslb.yaml.tmp", "out.txt", ".gslb.yaml.swp", "x"] {
            assert!(!concerns(OsStr::new(name), &names), "{name}");
        }
    }
}
