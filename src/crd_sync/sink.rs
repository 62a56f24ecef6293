//! The record file on disk: rendered deterministically and replaced
//! atomically, only when what is on disk differs from what it should hold.
//!
//! Every write compares with the file as read back from disk, not with a
//! copy in memory: a file edited, replaced (`{"records": []}`) or deleted by
//! someone else is put right at the next change or resync, and the server,
//! which reloads on the rename, serves the objects again.
//!
//! The server watches the file's directory and reloads on a rename, so it
//! must never see a half-written file: the new content goes to a temporary
//! file in the same directory, is fsynced, renamed over the old one, and the
//! directory is fsynced so the rename survives a crash. Nothing here ever
//! deletes or empties the file: when the sidecar cannot reach the API
//! server, the last file keeps serving.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::config::raw::RawRecordFile;

/// First line of the file. YAML comments are allowed before the JSON body:
/// JSON is YAML, and the server's YAML reader parses it.
const HEADER: &str =
    "# Written by gslb crd-sync from DNSEndpoint objects; edits are overwritten.\n";

/// Why the file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The content could not be serialized (a non-finite number; the
    /// conversion rejects those, so this is a bug).
    #[error("cannot serialize the record file: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The blocking write task did not finish (it panicked or the runtime
    /// is shutting down).
    #[error("the record file write was interrupted: {0}")]
    Interrupted(String),
    /// A filesystem step failed.
    #[error(transparent)]
    Io(#[from] crate::atomic_file::WriteError),
}

/// The file's full text for `file`: equal inputs give equal bytes.
///
/// JSON, not YAML: every string is quoted, so a country code such as `NO`
/// or an address such as `2001:db8::1` cannot be read back as something
/// else, and `serde_json` is already a dependency.
pub fn render(file: &RawRecordFile) -> Result<String, SinkError> {
    let body = serde_json::to_string_pretty(file)?;
    Ok(format!("{HEADER}{body}\n"))
}

/// What a [`RecordFileSink::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file already held the content.
    Unchanged,
    /// New content was written.
    Written,
    /// The content had not changed, but the file on disk no longer held it
    /// (edited, replaced or deleted): it was written again.
    Repaired,
}

/// Owns the output path and what was last written there.
#[derive(Debug)]
pub struct RecordFileSink {
    path: PathBuf,
    /// The content as last written or as found at start: tells a repair
    /// (disk changed, content did not) from an ordinary change.
    last: Option<String>,
}

impl RecordFileSink {
    /// A sink for `path`, remembering what is there now.
    pub fn new(path: PathBuf) -> Self {
        let last = fs::read_to_string(&path).ok();
        Self { path, last }
    }

    /// The output path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file on disk holds exactly `content`. A file that cannot
    /// be read (missing, unreadable) does not.
    pub fn holds(&self, content: &str) -> bool {
        // The size first: a replaced file usually differs in length, and
        // then there is nothing to read.
        let same_len = fs::metadata(&self.path).is_ok_and(|m| m.len() == content.len() as u64);
        same_len && fs::read(&self.path).is_ok_and(|bytes| bytes == content.as_bytes())
    }

    /// Writes `content` unless the file on disk already holds it. Blocking:
    /// call it off the async workers.
    pub fn write(&mut self, content: String) -> Result<WriteOutcome, SinkError> {
        if self.holds(&content) {
            self.last = Some(content);
            return Ok(WriteOutcome::Unchanged);
        }
        let repair = self.last.as_deref() == Some(content.as_str());
        crate::atomic_file::write(&self.path, content.as_bytes())?;
        self.last = Some(content);
        Ok(if repair {
            WriteOutcome::Repaired
        } else {
            WriteOutcome::Written
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::{RawRecord, RawSet};

    fn file() -> RawRecordFile {
        RawRecordFile {
            records: vec![RawRecord {
                name: "a.example.test.".into(),
                ttl: Some(60),
                answers: None,
                fallback: None,
                sets: vec![RawSet {
                    id: "x".into(),
                    targets: vec!["192.0.2.1".into(), "2001:db8::1".into()],
                    weight: None,
                    priority: None,
                    geo: None,
                    location: None,
                    health_check: None,
                }],
            }],
            overrides: Vec::new(),
        }
    }

    #[test]
    fn writes_only_changes_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.yaml");
        let mut sink = RecordFileSink::new(path.clone());
        let text = render(&file()).unwrap();
        assert_eq!(sink.write(text.clone()).unwrap(), WriteOutcome::Written);
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(
            sink.write(text.clone()).unwrap(),
            WriteOutcome::Unchanged,
            "same content: no write"
        );
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), modified);
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the file itself: {names:?}");
        // A new sink on the same file finds its content in place.
        let mut again = RecordFileSink::new(path);
        assert_eq!(again.write(text).unwrap(), WriteOutcome::Unchanged);
    }

    /// A file replaced behind the sidecar's back is
    /// rewritten by the next write of the same content (a resync).
    #[test]
    fn a_replaced_or_deleted_file_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.yaml");
        let mut sink = RecordFileSink::new(path.clone());
        let text = render(&file()).unwrap();
        assert_eq!(sink.write(text.clone()).unwrap(), WriteOutcome::Written);
        for broken in ["{\"records\": []}", ""] {
            fs::write(&path, broken).unwrap();
            assert_eq!(sink.write(text.clone()).unwrap(), WriteOutcome::Repaired);
            assert_eq!(fs::read_to_string(&path).unwrap(), text);
        }
        // Same length, one byte changed: still caught.
        fs::write(&path, text.replacen("192.0.2.1", "192.0.2.9", 1)).unwrap();
        assert_eq!(sink.write(text.clone()).unwrap(), WriteOutcome::Repaired);
        fs::remove_file(&path).unwrap();
        assert_eq!(sink.write(text.clone()).unwrap(), WriteOutcome::Repaired);
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert_eq!(sink.write(text).unwrap(), WriteOutcome::Unchanged);
    }

    #[test]
    fn the_server_loads_the_rendered_file() {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records.yaml");
        fs::write(&records, render(&file()).unwrap()).unwrap();
        let config = dir.path().join("gslb.yaml");
        fs::write(
            &config,
            format!(
                "server: {{ dns_listen: [\"127.0.0.1:0\"], record_files: [{:?}] }}\n\
                 zones:\n  - origin: example.test.\n    soa: {{ mname: ns.example.test., rname: h.example.test. }}\n    \
                 nameservers: {{ ns.example.test.: [192.0.2.53] }}\n",
                records.display().to_string()
            ),
        )
        .unwrap();
        let loaded = crate::config::load_with_env(&config, Vec::new()).unwrap();
        let record = &loaded.config.records[0];
        assert_eq!(record.name.to_string(), "a.example.test.");
        assert_eq!(record.ttl, 60);
        assert_eq!(record.sets[0].targets.len(), 2);
    }
}
