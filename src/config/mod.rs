//! Loading the config: the YAML file (through the `config` crate, so
//! `GSLB_SERVER__*` environment variables override server settings), the
//! record files it names, and the GeoIP database, validated together.
//!
//! Loading is all or nothing: the caller gets a complete [`Loaded`] or every
//! error found, and keeps serving what it had.

pub mod raw;
pub mod validate;
/// Watching config files for changes.
pub mod watch;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::de::DeserializeOwned;

use crate::geo::GeoDb;
use crate::model::Config;
use raw::{RawConfig, RawRecordFile};
use validate::RecordSource;
pub use validate::{ConfigError, ConfigErrors, RecordScope};

/// Prefix of the environment variables that override `server:` settings.
const ENV_PREFIX: &str = "GSLB_SERVER__";

/// A validated config with the resources it names opened.
#[derive(Clone)]
pub struct Loaded {
    /// The config, record files merged in.
    pub config: Arc<Config>,
    /// The GeoIP database, when `server.geoip_database` is set.
    pub geo: Option<Arc<GeoDb>>,
    /// Things worth telling the operator that do not stop the load.
    pub warnings: Vec<String>,
}

/// Loads `path` with the process environment's overrides.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    let env = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)));
    load_with_env(path, env)
}

/// Loads `path`, taking server overrides from `env` (only `GSLB_SERVER__*`
/// entries are used, so unrelated `GSLB_*` variables cannot break a load).
pub fn load_with_env(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigErrors> {
    let file = path.display().to_string();
    let overrides: config::Map<String, String> = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(ENV_PREFIX))
        .collect();
    let environment = config::Environment::with_prefix("GSLB")
        .prefix_separator("_")
        .separator("__")
        .list_separator(",")
        .with_list_parse_key("server.dns_listen")
        .with_list_parse_key("server.record_files")
        .try_parsing(true)
        .source(Some(overrides));
    let raw: RawConfig = read_yaml(path, Some(environment)).map_err(|e| ConfigErrors(vec![e]))?;

    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut sources = Vec::new();
    for (i, record_file) in raw.server.record_files.iter().enumerate() {
        let record_path = PathBuf::from(record_file);
        if !record_path.exists() {
            warnings.push(format!(
                "{file}: server.record_files[{i}]: {record_file} does not exist yet; serving without it until it appears"
            ));
            continue;
        }
        match read_yaml::<RawRecordFile>(&record_path, None) {
            Ok(raw) => sources.push(RecordSource {
                file: record_file.as_str().into(),
                raw,
            }),
            Err(error) => errors.push(error),
        }
    }
    let geoip = raw.server.geoip_database.clone();
    let validated = validate::validate(raw, &file, sources, default_serial());
    let config = match validated {
        Ok(config) if errors.is_empty() => Some(config),
        Ok(_) => None,
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            None
        }
    };
    let geo = match geoip {
        None => None,
        Some(db) => match GeoDb::open(Path::new(&db)) {
            Ok(geo) => Some(Arc::new(geo)),
            Err(error) => {
                errors.push(ConfigError {
                    file: file.as_str().into(),
                    path: "server.geoip_database".into(),
                    message: error_chain(&error),
                });
                None
            }
        },
    };
    match config {
        Some(config) if errors.is_empty() => Ok(Loaded {
            config: Arc::new(config),
            geo,
            warnings,
        }),
        _ => Err(ConfigErrors(errors)),
    }
}

/// Reads the zones, health checks and record names of a config file, for
/// checking records outside a full load (`gslb crd-sync`). Neither the
/// environment nor the record files it names are read.
pub fn load_record_scope(path: &Path) -> Result<RecordScope, ConfigErrors> {
    let raw: RawConfig = read_yaml(path, None).map_err(|e| ConfigErrors(vec![e]))?;
    RecordScope::from_config(&raw, &path.display().to_string())
}

/// Reads one YAML file into `T`, naming the field of any type error.
fn read_yaml<T: DeserializeOwned>(
    path: &Path,
    environment: Option<config::Environment>,
) -> Result<T, ConfigError> {
    let file: Arc<str> = path.display().to_string().into();
    let whole_file = |message: String| ConfigError {
        file: file.clone(),
        path: String::new(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| whole_file(format!("cannot read: {e}")))?;
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Yaml));
    if let Some(environment) = environment {
        builder = builder.add_source(environment);
    }
    let layered = builder.build().map_err(|e| whole_file(e.to_string()))?;
    serde_path_to_error::deserialize(layered).map_err(|e| ConfigError {
        file: file.clone(),
        path: e.path().to_string().trim_start_matches('.').to_owned(),
        message: e.inner().to_string(),
    })
}

/// An error with its causes: "cannot read GeoIP database x: No such file".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// SOA serial for zones that set none: the load time, so every reload
/// publishes a higher serial.
fn default_serial() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
