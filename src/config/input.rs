//! The files a load reads, read once each within a size cap, and a record of
//! what was read.
//!
//! The table writer decides whether a file event calls for a reload by
//! comparing the files now with [`Inputs`], the digests of the very bytes
//! the last load parsed. Re-reading the files after a load instead would
//! take an edit that lands in between for one already loaded, and the edit
//! would be lost until the next one.

use std::{
    hash::Hasher,
    io::{self, Read},
    path::{Path, PathBuf},
};

/// One file's contents as a load saw it, for change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// The file did not exist.
    Missing,
    /// It was over its size cap and was not read.
    TooLarge,
    /// It could not be opened or read.
    Unreadable(io::ErrorKind),
    /// It was read: its length and a digest of its bytes.
    Read {
        /// Length in bytes.
        len: u64,
        /// SipHash of the bytes.
        digest: u64,
    },
}

impl FileState {
    /// The state of `path` now, read the way a load would read it, without
    /// keeping more than a buffer of it in memory.
    pub(super) fn now(path: &Path, cap: u64) -> Self {
        let mut file = match open(path, cap) {
            Ok((file, _)) => file,
            Err(not_read) => return not_read.state(),
        };
        let mut hasher = Digest::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut len = 0u64;
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.0.write(&buf[..n]);
                    len += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Self::Unreadable(e.kind()),
            }
        }
        if len > cap {
            return Self::TooLarge;
        }
        Self::Read {
            len,
            digest: hasher.0.finish(),
        }
    }
}

/// A file's contents, read whole within a cap.
#[derive(Debug)]
pub(super) enum Contents {
    /// No such file.
    Missing,
    /// Over the cap (`len` is what was seen: the size, or more than the cap
    /// for a file that grew while being read).
    TooLarge {
        /// Bytes seen.
        len: u64,
    },
    /// Could not be opened or read.
    Unreadable(io::Error),
    /// The bytes.
    Bytes(Vec<u8>),
}

impl Contents {
    /// Reads `path` if it holds at most `cap` bytes. The size is checked
    /// before reading and the read stops one byte past the cap, so a huge
    /// file or a device costs nothing.
    pub(super) fn read(path: &Path, cap: u64) -> Self {
        let (mut file, len) = match open(path, cap) {
            Ok(opened) => opened,
            Err(not_read) => return not_read,
        };
        // Sized from the file's length up front: growing by doubling would
        // copy (and fault in) a large record file about twice over.
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
        match file.read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 > cap => Self::TooLarge {
                len: bytes.len() as u64,
            },
            Ok(_) => Self::Bytes(bytes),
            Err(e) => Self::Unreadable(e),
        }
    }

    /// What change detection remembers of these contents.
    pub(super) fn state(&self) -> FileState {
        match self {
            Self::Missing => FileState::Missing,
            Self::TooLarge { .. } => FileState::TooLarge,
            Self::Unreadable(e) => FileState::Unreadable(e.kind()),
            Self::Bytes(bytes) => {
                let mut hasher = Digest::default();
                hasher.0.write(bytes);
                FileState::Read {
                    len: bytes.len() as u64,
                    digest: hasher.0.finish(),
                }
            }
        }
    }
}

/// A file opened for reading at most `cap + 1` bytes, or the contents that
/// stop it being read (never [`Contents::Bytes`]).
/// The file, limited to `cap` and one byte more, and its length now.
fn open(path: &Path, cap: u64) -> Result<(io::Take<std::fs::File>, u64), Contents> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Contents::Missing),
        Err(e) => return Err(Contents::Unreadable(e)),
    };
    match file.metadata() {
        Ok(meta) if meta.is_file() && meta.len() > cap => {
            Err(Contents::TooLarge { len: meta.len() })
        }
        Ok(meta) => Ok((file.take(cap.saturating_add(1)), meta.len().min(cap))),
        Err(e) => Err(Contents::Unreadable(e)),
    }
}

/// The digest of file contents. SipHash with fixed keys: the same bytes give
/// the same digest across reads, however they were split into writes.
#[derive(Default)]
struct Digest(std::collections::hash_map::DefaultHasher);

/// One file a load read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file.
    pub path: PathBuf,
    /// The size cap it was read with.
    pub cap: u64,
    /// What was read.
    pub state: FileState,
    /// Whether it is a record file whose records the load took in.
    pub served: bool,
}

/// Every file one load read, in order: the config, then its record files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs(pub Vec<Input>);

impl Inputs {
    /// Whether any file now differs from what the load read (or would now
    /// be read differently: created, removed, grown past its cap). Reads the
    /// files: call it off the async runtime's threads.
    pub fn changed(&self) -> bool {
        self.0
            .iter()
            .any(|input| FileState::now(&input.path, input.cap) != input.state)
    }

    /// The record files whose records the load took in.
    pub fn served_record_files(&self) -> impl Iterator<Item = &Path> {
        self.0
            .iter()
            .filter(|input| input.served)
            .map(|input| input.path.as_path())
    }

    /// The files read.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter().map(|input| input.path.as_path())
    }

    /// The text of `path` as this load read it, read again: errors found
    /// after parsing are located in it without the load holding every
    /// file's text. `None` when the file was not read as text, or has
    /// changed since (then its errors go without a line).
    pub(super) fn text_as_read(&self, path: &Path) -> Option<String> {
        let input = self.0.iter().rev().find(|input| input.path == path)?;
        let contents = Contents::read(path, input.cap);
        if contents.state() != input.state {
            return None;
        }
        match contents {
            Contents::Bytes(bytes) => String::from_utf8(bytes).ok(),
            _ => None,
        }
    }

    pub(super) fn push(&mut self, path: &Path, cap: u64, contents: &Contents) {
        self.push_state(path, cap, contents.state());
    }

    /// [`Inputs::push`] with the state already taken (a record file parsed
    /// on another thread, a GeoIP database found unchanged).
    pub(super) fn push_state(&mut self, path: &Path, cap: u64, state: FileState) {
        self.0.push(Input {
            path: path.to_path_buf(),
            cap,
            state,
            served: false,
        });
    }

    /// Marks the last file pushed as served.
    pub(super) fn serve_last(&mut self) {
        if let Some(last) = self.0.last_mut() {
            last.served = true;
        }
    }
}

/// Whether YAML text holds no document: only blanks and `#` comment lines.
/// An emptied or truncated file looks like this; an empty record file on
/// purpose says `records: []`.
pub(super) fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim_start_matches([' ', '\t', '\r', '\u{feff}']);
        line.is_empty() || line.starts_with('#')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_pieces_has_the_digest_of_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let contents = Contents::read(&path, 1 << 20);
        assert_eq!(FileState::now(&path, 1 << 20), contents.state());
        std::fs::write(&path, &bytes[1..]).unwrap();
        assert_ne!(FileState::now(&path, 1 << 20), contents.state());
    }

    #[test]
    fn files_over_the_cap_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'#'; 2000]).unwrap();
        assert!(matches!(
            Contents::read(&path, 1999),
            Contents::TooLarge { len: 2000 }
        ));
        assert!(matches!(Contents::read(&path, 2000), Contents::Bytes(b) if b.len() == 2000));
        assert_eq!(FileState::now(&path, 1999), FileState::TooLarge);
        assert!(matches!(
            Contents::read(&dir.path().join("nope"), 10),
            Contents::Missing
        ));
    }

    /// A config naming `extra.yaml` beside it, and the loaded result.
    fn load(dir: &Path, served: bool) -> Result<super::super::Loaded, super::super::ConfigErrors> {
        let extra = dir.join("extra.yaml");
        let path = dir.join("gslb.yaml");
        std::fs::write(
            &path,
            format!(
                "server: {{ dns_listen: [\"127.0.0.1:53\"], record_files: [\"{}\"] }}\nzones:\n  - origin: global.example.test.\n    soa: {{ mname: a.test., rname: b.test. }}\n    nameservers: {{ a.test.: [] }}\n",
                extra.display()
            ),
        )
        .unwrap();
        let baseline = super::super::Baseline {
            served_record_files: if served { vec![extra] } else { Vec::new() },
            ..Default::default()
        };
        super::super::load_after(&path, Vec::new(), &baseline).result
    }

    #[test]
    fn a_served_record_file_may_not_vanish_or_empty_but_a_new_one_may_be_absent() {
        let dir = tempfile::tempdir().unwrap();
        let extra = dir.path().join("extra.yaml");
        let file = extra.display();
        let message = |served| match load(dir.path(), served) {
            Ok(loaded) => format!("ok {:?}", loaded.warnings),
            Err(errors) => errors.to_string(),
        };
        // Missing.
        assert_eq!(
            message(true),
            format!(
                "{file}: was loaded and is now missing; its records are still served. Restore it, or remove it from server.record_files to drop them"
            )
        );
        assert!(
            message(false).starts_with("ok [") && message(false).contains("does not exist yet")
        );
        // Zero bytes, or nothing but comments.
        for blank in ["", "# generated\n\n"] {
            std::fs::write(&extra, blank).unwrap();
            assert_eq!(
                message(true),
                format!(
                    "{file}: was loaded and is now empty; its records are still served. A record file with no records says `records: []`"
                )
            );
            assert!(
                message(false).contains("is empty; serving without it"),
                "{}",
                message(false)
            );
        }
        // Empty on purpose, and what the load remembers of it.
        std::fs::write(&extra, "records: []\n").unwrap();
        let loaded = load(dir.path(), true).unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty());
        assert_eq!(
            loaded.inputs.served_record_files().collect::<Vec<_>>(),
            vec![extra.as_path()]
        );
        assert!(!loaded.inputs.changed());
        std::fs::write(&extra, "records: [] # edited\n").unwrap();
        assert!(loaded.inputs.changed(), "an edit since the load is seen");
    }

    #[test]
    fn blank_means_no_document() {
        assert!(is_blank(""));
        assert!(is_blank("\n  \n# generated\n   # more\n"));
        assert!(!is_blank("records: []\n"));
        assert!(!is_blank("# header\n{\"records\":[]}"));
    }
}
