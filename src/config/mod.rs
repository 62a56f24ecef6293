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
use raw::{RawConfig, RawRecordFile, RawServer};
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
    let mut raw: RawConfig = read_yaml(path).map_err(|e| ConfigErrors(vec![e]))?;
    raw.server = with_env_overrides(raw.server, path, env).map_err(|e| ConfigErrors(vec![e]))?;

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
        match read_yaml::<RawRecordFile>(&record_path) {
            Ok(raw) => sources.push(RecordSource {
                file: record_file.as_str().into(),
                raw,
            }),
            Err(error) => errors.push(error),
        }
    }
    let geoip = raw.server.geoip_database.clone();
    let validated = validate::validate(raw, &file, sources, default_serial());
    if let Ok(config) = &validated {
        warnings.extend(large_nameserver_answers(config, &file));
    }
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
                    message: crate::error_chain(&error),
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

/// Zones whose NS answer with glue is larger than gslb's UDP payload: every
/// resolver asking for it is sent to TCP, which an operator should know.
fn large_nameserver_answers(config: &Config, file: &str) -> Vec<String> {
    let udp = usize::from(config.server.max_udp_payload);
    config
        .zones
        .iter()
        .enumerate()
        .filter_map(|(i, zone)| {
            let len = crate::dns::answer::nameservers_response_len(&zone.origin, &zone.nameservers);
            (len > udp).then(|| {
                format!(
                    "{file}: zones[{i}].nameservers: the NS answer with all glue takes up to {len} bytes, more than max_udp_payload {udp}: resolvers get it truncated over UDP and retry over TCP"
                )
            })
        })
        .collect()
}

/// Validates a config given as text, with its record files as (name, text)
/// pairs: the reading and validation of [`load`] without the file system,
/// the environment or a GeoIP database (`server.record_files` and
/// `server.geoip_database` are not opened). The fuzz targets use it.
pub fn load_from_text(
    file: &str,
    text: &str,
    record_files: &[(&str, &str)],
) -> Result<Config, ConfigErrors> {
    let raw: RawConfig = parse_yaml(text, file.into()).map_err(|e| ConfigErrors(vec![e]))?;
    let mut errors = Vec::new();
    let mut sources = Vec::new();
    for (name, text) in record_files {
        match parse_yaml::<RawRecordFile>(text, (*name).into()) {
            Ok(raw) => sources.push(RecordSource {
                file: (*name).into(),
                raw,
            }),
            Err(error) => errors.push(error),
        }
    }
    match validate::validate(raw, file, sources, default_serial()) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors(errors)),
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            Err(ConfigErrors(errors))
        }
    }
}

/// Reads the zones, health checks and record names of a config file, for
/// checking records outside a full load (`gslb crd-sync`). Neither the
/// environment nor the record files it names are read.
pub fn load_record_scope(path: &Path) -> Result<RecordScope, ConfigErrors> {
    let raw: RawConfig = read_yaml(path).map_err(|e| ConfigErrors(vec![e]))?;
    RecordScope::from_config(&raw, &path.display().to_string())
}

/// Reads one YAML file into `T`, naming the field of any type error.
///
/// YAML is read straight into the typed shapes by serde-saphyr, with no
/// intermediate value tree: a 100,000-record file parses in well under a
/// second and little more memory than the result (the `config` crate's tree
/// took about 20 KB and 0.1 ms per record). Its size limits, which guard
/// against alias bombs, are raised to fit such files.
fn read_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let file: Arc<str> = path.display().to_string().into();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        path: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    parse_yaml(&text, file)
}

/// [`read_yaml`] on text already read; `file` names it in errors.
fn parse_yaml<T: DeserializeOwned>(text: &str, file: Arc<str>) -> Result<T, ConfigError> {
    let error = |path: String, message: String| ConfigError {
        file: file.clone(),
        path,
        message,
    };
    if let Some(json) = json_body(text) {
        // JSON is YAML too, and what `gslb crd-sync` writes: a JSON parser
        // reads large record files about ten times faster.
        let mut de = serde_json::Deserializer::from_str(&json);
        let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
            error(
                e.path().to_string().trim_start_matches('.').to_owned(),
                e.inner().to_string(),
            )
        })?;
        de.end().map_err(|e| error(String::new(), e.to_string()))?;
        return Ok(value);
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 200_000_000,
            max_nodes: 200_000_000,
            max_total_scalar_bytes: 1 << 30,
            max_reader_input_bytes: None,
        },
        with_snippet: false,
    };
    // A type error stops deserialization early; serde-saphyr then reports the
    // unread rest of the input as a second document. The type error, with its
    // field path, is the one worth showing.
    let mut type_error = None;
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(value) => Ok(Some(value)),
            Err(e) => {
                type_error = Some(error(
                    e.path().to_string().trim_start_matches('.').to_owned(),
                    e.inner().to_string(),
                ));
                Ok(None)
            }
        }
    });
    if let Some(type_error) = type_error {
        return Err(type_error);
    }
    match parsed {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(error(String::new(), "could not be read".into())),
        Err(e) => Err(error(String::new(), e.to_string())),
    }
}

/// The JSON document in a file, when after leading `#` comment lines (YAML
/// comments, which crd-sync writes as a header) it opens an object. The
/// comment lines are blanked, not dropped, so error line numbers still match
/// the file.
fn json_body(text: &str) -> Option<String> {
    let mut body = String::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
        if trimmed.starts_with('#') {
            let end = trimmed.find('\n').map_or(trimmed.len(), |i| i + 1);
            body.push('\n');
            rest = &trimmed[end..];
        } else if let Some(after) = trimmed.strip_prefix('\n') {
            body.push('\n');
            rest = after;
        } else if trimmed.starts_with('{') {
            body.push_str(trimmed);
            return Some(body);
        } else {
            return None;
        }
    }
}

/// Applies `GSLB_SERVER__*` overrides to the file's server settings through
/// the `config` crate's layering.
fn with_env_overrides(
    server: RawServer,
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<RawServer, ConfigError> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Layer {
        server: RawServer,
    }
    let overrides: config::Map<String, String> = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(ENV_PREFIX))
        .collect();
    if overrides.is_empty() {
        return Ok(server);
    }
    let error = |message: String| ConfigError {
        file: path.display().to_string().into(),
        path: "server".into(),
        message,
    };
    let environment = config::Environment::with_prefix("GSLB")
        .prefix_separator("_")
        .separator("__")
        .list_separator(",")
        .with_list_parse_key("server.dns_listen")
        .with_list_parse_key("server.record_files")
        .try_parsing(true)
        .source(Some(overrides));
    let file_layer =
        config::Config::try_from(&Layer { server }).map_err(|e| error(e.to_string()))?;
    let layered = config::Config::builder()
        .add_source(file_layer)
        .add_source(environment)
        .build()
        .map_err(|e| error(format!("environment override: {e}")))?;
    serde_path_to_error::deserialize::<_, Layer>(layered)
        .map(|layer| layer.server)
        .map_err(|e| ConfigError {
            file: format!("{} (with GSLB_SERVER__* overrides)", path.display()).into(),
            path: e.path().to_string().trim_start_matches('.').to_owned(),
            message: e.inner().to_string(),
        })
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
