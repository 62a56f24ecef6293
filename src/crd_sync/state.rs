//! Each cluster's last known objects on disk (DNSEndpoints and
//! GslbOverrides), so that a sidecar restarted while a cluster's API server
//! is down still writes that cluster's records and overrides (with several
//! clusters the record file mixes them and cannot tell whose they are).
//!
//! One JSON file per cluster in the state directory, written atomically
//! after the record file whenever the cluster's objects changed, and read
//! once at start for the clusters of the command line. A cluster's file is
//! only a stand-in until its first list in this run completes; files of
//! clusters no longer on the command line are removed at start, so their
//! objects are dropped. An unreadable file is logged and ignored: the
//! cluster then counts as unknown until it lists.

use std::{
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use kube::api::DynamicObject;
use serde::{Deserialize, Serialize};

use crate::atomic_file;

/// Largest state file read back: far above any real cluster's
/// DNSEndpoints, and a bound on what a corrupt file can make us allocate.
pub const MAX_STATE_BYTES: u64 = 256 << 20;

/// What is kept about one cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterState {
    /// The cluster name, checked on load.
    pub cluster: String,
    /// Unix time of the list these objects come from (then kept current by
    /// the watch until the file was written).
    pub listed_at: f64,
    /// The DNSEndpoint objects, without `managedFields`.
    pub objects: Vec<DynamicObject>,
    /// The GslbOverride objects of the override namespace. Absent in
    /// files of older versions, which had none.
    #[serde(default)]
    pub overrides: Vec<DynamicObject>,
}

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Too large.
    #[error("{path} is larger than {MAX_STATE_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not a state file.
    #[error("{path} does not decode: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A file of another cluster (renamed by hand).
    #[error("{path} holds cluster {found:?}, not {expected:?}")]
    Cluster {
        /// The file.
        path: PathBuf,
        /// The name in it.
        found: String,
        /// The name expected.
        expected: String,
    },
    /// The directory cannot be created or listed.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] atomic_file::WriteError),
    /// Encoding failed.
    #[error("cannot encode the state of cluster {cluster}: {source}")]
    Encode {
        /// The cluster.
        cluster: String,
        /// Why.
        source: serde_json::Error,
    },
}

/// The state directory; cluster names are valid file names
/// ([`super::cluster::check_name`]).
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Creates `dir` if needed.
    pub fn open(dir: PathBuf) -> Result<Self, StateError> {
        fs::create_dir_all(&dir).map_err(|source| StateError::Dir {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// The default: `crd-sync-state` beside the record file, so that it is
    /// on the same volume and lives as long.
    pub fn beside(output: &Path) -> PathBuf {
        atomic_file::parent_dir(output).join("crd-sync-state")
    }

    /// Where the state of `cluster` is kept.
    pub fn path(&self, cluster: &str) -> PathBuf {
        self.dir.join(format!("{cluster}.json"))
    }

    /// Removes the files of clusters not in `keep`; returns their names.
    pub fn remove_others(&self, keep: &[&str]) -> Result<Vec<String>, StateError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| StateError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(cluster) = name.strip_suffix(".json") else {
                continue;
            };
            if !keep.contains(&cluster) && fs::remove_file(entry.path()).is_ok() {
                removed.push(cluster.to_owned());
            }
        }
        removed.sort();
        Ok(removed)
    }

    /// The saved state of `cluster`; `Ok(None)` when there is none.
    pub fn load(&self, cluster: &str) -> Result<Option<ClusterState>, StateError> {
        let path = self.path(cluster);
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let mut bytes = Vec::new();
        file.take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| StateError::Read {
                path: path.clone(),
                source,
            })?;
        if bytes.len() as u64 > MAX_STATE_BYTES {
            return Err(StateError::TooLarge { path });
        }
        let state: ClusterState =
            serde_json::from_slice(&bytes).map_err(|source| StateError::Decode {
                path: path.clone(),
                source,
            })?;
        if state.cluster != cluster {
            return Err(StateError::Cluster {
                path,
                found: state.cluster,
                expected: cluster.to_owned(),
            });
        }
        Ok(Some(state))
    }

    /// Replaces the state of `state.cluster`. Blocking.
    pub fn save(&self, state: &ClusterState) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(state).map_err(|source| StateError::Encode {
            cluster: state.cluster.clone(),
            source,
        })?;
        atomic_file::write(&self.path(&state.cluster), &bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
            "metadata": {"name": name, "namespace": "production", "uid": "u",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"endpoints": [{"dnsName": "a.example.test", "targets": ["192.0.2.1"]}]}
        }))
        .expect("fixture")
    }

    #[test]
    fn a_saved_cluster_loads_back_and_others_are_removed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = StateDir::open(dir.path().join("state")).expect("opens");
        assert!(state.load("us").expect("no file is no error").is_none());
        let saved = ClusterState {
            cluster: "us".into(),
            listed_at: 1_700_000_000.5,
            objects: vec![object("web")],
            overrides: vec![object("drain")],
        };
        state.save(&saved).expect("saves");
        state
            .save(&ClusterState {
                cluster: "gone".into(),
                listed_at: 1.0,
                objects: Vec::new(),
                overrides: Vec::new(),
            })
            .expect("saves");
        let loaded = state.load("us").expect("loads").expect("is there");
        assert_eq!(loaded.listed_at, saved.listed_at);
        assert_eq!(loaded.objects, saved.objects);
        assert_eq!(loaded.overrides, saved.overrides);
        assert_eq!(state.remove_others(&["us"]).expect("lists"), ["gone"]);
        assert!(state.load("gone").expect("no file").is_none());
        assert!(state.load("us").expect("kept").is_some());
    }

    #[test]
    fn a_file_of_an_older_version_has_no_overrides() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = StateDir::open(dir.path().to_owned()).expect("opens");
        fs::write(
            state.path("us"),
            r#"{"cluster": "us", "listed_at": 1, "objects": []}"#,
        )
        .expect("write");
        let loaded = state.load("us").expect("loads").expect("is there");
        assert!(loaded.overrides.is_empty());
    }

    #[test]
    fn a_broken_or_foreign_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = StateDir::open(dir.path().to_owned()).expect("opens");
        fs::write(state.path("us"), "{not json").expect("write");
        assert!(matches!(state.load("us"), Err(StateError::Decode { .. })));
        fs::write(
            state.path("us"),
            r#"{"cluster": "eu", "listed_at": 1, "objects": []}"#,
        )
        .expect("write");
        let error = state.load("us").expect_err("another cluster's file");
        assert!(
            error.to_string().contains("holds cluster \"eu\""),
            "{error}"
        );
    }

    #[test]
    fn the_default_directory_is_beside_the_record_file() {
        assert_eq!(
            StateDir::beside(Path::new("/var/run/gslb/crd-records.yaml")),
            Path::new("/var/run/gslb/crd-sync-state")
        );
        assert_eq!(
            StateDir::beside(Path::new("records.yaml")),
            Path::new("./crd-sync-state")
        );
    }
}
