//! Replacing a file so that readers see the old bytes or the new, never a
//! mix: the record file the sidecar writes (the server may reload it at any
//! moment), the sidecar's per-cluster state and the server's state file.
//!
//! Its own module because the sidecar and the table both write such files
//! and neither may depend on the other.

use std::{
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
};

/// A filesystem step of [`write()`] failed; the old file is intact.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {step}: {source}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Which step: create temporary file, write, fsync, rename, fsync directory.
    pub step: &'static str,
    /// The error.
    pub source: io::Error,
}

/// The directory holding `file` (`.` for a bare file name): where a
/// temporary file must go for `rename` to be atomic, and what inotify
/// watches to see the file replaced.
pub fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to a temporary file beside `path`, fsyncs it, renames it
/// over `path` and fsyncs the directory, so a crash leaves either file
/// whole. On failure the temporary file is removed.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |step: &'static str| {
        move |source: io::Error| WriteError {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let dir = parent_dir(path);
    let tmp = dir.join(format!("{}{}", temporary_prefix(path), std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io("create temporary file"))?;
        file.write_all(bytes).map_err(io("write"))?;
        file.sync_all().map_err(io("fsync"))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io("rename"))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What the temporary files of `path` start with; the writer's process id
/// follows.
fn temporary_prefix(path: &Path) -> String {
    let file_name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    format!(".{file_name}.tmp-")
}

/// Removes the temporary files a crashed [`write()`] of `path` left beside
/// it (a process id after the prefix); returns those removed. For start-up,
/// when no write of `path` can be under way: one process writes a file.
pub fn remove_temporaries(path: &Path) -> Vec<PathBuf> {
    let prefix = temporary_prefix(path);
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_name().to_str().is_some_and(|name| {
                name.strip_prefix(&prefix)
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .map(|entry| entry.path())
        .filter(|tmp| fs::remove_file(tmp).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.yaml");
        fs::write(&path, "old").unwrap();
        // A directory where the temporary file would go makes create fail.
        let tmp = dir
            .path()
            .join(format!(".records.yaml.tmp-{}", std::process::id()));
        fs::create_dir(&tmp).unwrap();
        let err = write(&path, b"new").unwrap_err();
        assert!(err.to_string().contains("create temporary file"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "old").unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporaries_of_crashed_writes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for name in [
            "state.json",
            ".state.json.tmp-123",
            ".state.json.tmp-4194300",
            ".state.json.tmp-",
            ".state.json.tmp-12x",
            ".other.json.tmp-123",
        ] {
            fs::write(dir.path().join(name), "x").unwrap();
        }
        let mut removed = remove_temporaries(&path);
        removed.sort();
        assert_eq!(
            removed,
            [
                dir.path().join(".state.json.tmp-123"),
                dir.path().join(".state.json.tmp-4194300")
            ]
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn a_bare_file_name_lives_in_the_working_directory() {
        assert_eq!(parent_dir(Path::new("gslb.yaml")), PathBuf::from("."));
        assert_eq!(
            parent_dir(Path::new("/etc/gslb.yaml")),
            PathBuf::from("/etc")
        );
    }
}
