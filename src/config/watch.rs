//! Noticing edits to the config and record files.
//!
//! The parent directories are watched, not the files: editors, `crd-sync`
//! and Kubernetes ConfigMap mounts replace files by rename, which a watch on
//! the old inode would miss. Any event in those directories is a hint; the
//! table builder compares file contents before it reloads.

use std::{
    collections::BTreeSet,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// A live watch; dropping it stops watching.
pub struct FileWatch {
    _watcher: Option<RecommendedWatcher>,
    dirs: BTreeSet<PathBuf>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("dirs", &self.dirs)
            .finish()
    }
}

impl FileWatch {
    /// Watches the directories holding `files`; each event sends a ping
    /// (pings coalesce in the bounded channel).
    pub fn new(files: &[PathBuf], pings: mpsc::Sender<()>) -> Self {
        let dirs: BTreeSet<PathBuf> = files.iter().map(|f| parent_dir(f)).collect();
        let handler = move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                debug!(paths = ?event.paths, kind = ?event.kind, "file event");
                let _ = pings.try_send(());
            }
            Err(error) => warn!(%error, "file watch error"),
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(error) => {
                warn!(%error, "cannot watch config files; reload with SIGHUP");
                return Self {
                    _watcher: None,
                    dirs,
                };
            }
        };
        for dir in &dirs {
            if let Err(error) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                warn!(%error, dir = %dir.display(), "cannot watch directory; reload with SIGHUP after changing files in it");
            }
        }
        Self {
            _watcher: Some(watcher),
            dirs,
        }
    }

    /// Whether this watch already covers `files`.
    pub fn covers(&self, files: &[PathBuf]) -> bool {
        files.iter().all(|f| self.dirs.contains(&parent_dir(f)))
    }
}

fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A fingerprint of the files' current contents (missing files count as
/// empty), to skip reloads that would change nothing.
pub fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}
