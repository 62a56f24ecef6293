//! What a load does with the GeoIP database file against the one served.

use std::path::{Path, PathBuf};

use super::*;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Opens `path` as a load would, against `served`.
fn load(
    path: &Path,
    served: Option<&ServedGeo>,
) -> (Result<(Arc<GeoDb>, GeoOutcome), ConfigError>, Inputs) {
    let mut inputs = Inputs::default();
    let file: Arc<str> = "gslb.yaml".into();
    let result = open(&file, &path.display().to_string(), served, &mut inputs);
    (result, inputs)
}

/// What a reload continues from after a load of `path` gave `db`.
fn served(path: &Path, db: Arc<GeoDb>, inputs: &Inputs) -> ServedGeo {
    ServedGeo {
        path: path.to_owned(),
        state: inputs.0[0].state,
        db,
    }
}

#[test]
fn a_first_load_opens_the_file_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    std::fs::copy(repo("geoip/test-city.mmdb"), &path).unwrap();
    let (result, inputs) = load(&path, None);
    let (db, outcome) = result.unwrap();
    assert_eq!(outcome, GeoOutcome::Opened);
    assert_eq!(db.database_type(), "GSLB-Test-City");
    assert_eq!(inputs.0.len(), 1, "the file is a watched input");
    assert_eq!(inputs.0[0].path, path);
    assert!(!inputs.changed());

    std::fs::write(&path, b"garbage").unwrap();
    let error = load(&path, None).0.unwrap_err();
    assert_eq!(error.path, "server.geoip_database");
    assert!(
        error.message.contains("invalid GeoIP database"),
        "{}",
        error.message
    );
    let missing = load(&dir.path().join("none.mmdb"), None).0.unwrap_err();
    assert!(
        missing.message.contains("no such file"),
        "{}",
        missing.message
    );
}

#[test]
fn an_unchanged_file_shares_the_served_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    std::fs::copy(repo("geoip/test-city.mmdb"), &path).unwrap();
    let (result, inputs) = load(&path, None);
    let served = served(&path, result.unwrap().0, &inputs);
    let (result, again) = load(&path, Some(&served));
    let (db, outcome) = result.unwrap();
    assert_eq!(outcome, GeoOutcome::Same);
    assert!(Arc::ptr_eq(&db, &served.db), "no new database opened");
    assert_eq!(again, inputs);
}

#[test]
fn a_replaced_file_is_opened_and_a_broken_one_keeps_the_served_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("geo.mmdb");
    std::fs::copy(repo("geoip/test-city.mmdb"), &path).unwrap();
    let (result, inputs) = load(&path, None);
    let served = served(&path, result.unwrap().0, &inputs);

    std::fs::copy(repo("geoip/test-country.mmdb"), &path).unwrap();
    let (result, _) = load(&path, Some(&served));
    let (db, outcome) = result.unwrap();
    assert_eq!(outcome, GeoOutcome::Opened);
    assert_eq!(db.database_type(), "GSLB-Test-Country");

    for broken in [&b"not a database"[..], b""] {
        std::fs::write(&path, broken).unwrap();
        let (result, inputs) = load(&path, Some(&served));
        let (db, outcome) = result.unwrap();
        assert!(Arc::ptr_eq(&db, &served.db), "the served database is kept");
        assert!(
            matches!(&outcome, GeoOutcome::Kept { error } if error.contains("invalid GeoIP database")),
            "{outcome:?}"
        );
        // What was read is remembered: the broken file is not retried
        // until it changes again.
        assert_ne!(inputs.0[0].state, served.state);
    }
    std::fs::remove_file(&path).unwrap();
    let (result, _) = load(&path, Some(&served));
    assert!(
        matches!(result.unwrap().1, GeoOutcome::Kept { error } if error.contains("no such file"))
    );

    // Another path in the config is a new database, with nothing to keep.
    let other = dir.path().join("other.mmdb");
    std::fs::write(&other, b"garbage").unwrap();
    assert!(load(&other, Some(&served)).0.is_err());
}
