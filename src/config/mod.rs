//! Loading the config: the YAML file, or a base file with overlays merged
//! onto it ([`overlay`]), with `GSLB_SERVER__*` environment variables
//! overriding server settings (through the `config` crate), the record
//! files it names, and the GeoIP database, validated together.
//!
//! Loading is all or nothing: the caller gets a complete [`Loaded`] or every
//! error found, and keeps serving what it had. Every file is read once,
//! within the caps of [`limits`], and what was read is kept ([`input`]) so
//! the table writer can tell whether a file changed since.

mod error;
pub mod input;
pub mod limits;
pub mod overlay;
pub mod raw;
pub mod reload;
mod scope;
pub mod secret;
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
use crate::model::ns_answer::nameservers_response_len;
pub use error::{ConfigError, ConfigErrors};
use input::{Contents, is_blank};
pub use input::{FileState, Input, Inputs};
pub use limits::Limits;
use limits::RecordCount;
pub use overlay::ConfigFiles;
use raw::{RawConfig, RawRecordFile, RawServer};
pub use scope::RecordScope;
use validate::RecordSource;

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
    /// The files read and what they held, to tell later whether they changed.
    pub inputs: Inputs,
    /// The admin API's certificate and key, when `server.admin_tls` is
    /// set: read and checked with the rest, so the listener serves the very
    /// pair `check-config` accepted.
    pub admin_key: Option<Arc<rustls::sign::CertifiedKey>>,
}

impl Loaded {
    /// The loaded config minus its records: once compiled into the table
    /// they are not needed again, and at 100,000 records they are a third
    /// of the server's memory. When nothing else holds the config, the
    /// records are dropped in place instead of the rest being copied.
    pub fn without_records(self) -> Self {
        let config = match Arc::try_unwrap(self.config) {
            Ok(mut config) => {
                config.records = Vec::new();
                config
            }
            Err(shared) => Config {
                records: Vec::new(),
                ..(*shared).clone()
            },
        };
        Self {
            config: Arc::new(config),
            ..self
        }
    }
}

/// What a reload continues from.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// The caps to read the main config with (its own are not known until
    /// it has been read).
    pub limits: Limits,
    /// Record files whose records are being served: such a file that
    /// vanishes or turns empty is an error that keeps its records, not a
    /// reason to drop them (an empty record file on purpose says
    /// `records: []`; dropping it from `server.record_files` drops it).
    pub served_record_files: Vec<PathBuf>,
}

impl Baseline {
    /// The baseline of the config being served.
    pub fn of(running: &Loaded) -> Self {
        Self {
            limits: Limits::of(&running.config.server),
            served_record_files: running
                .inputs
                .served_record_files()
                .map(Path::to_path_buf)
                .collect(),
        }
    }
}

/// One load: its result and, either way, the files it read.
#[derive(Clone)]
pub struct Attempt {
    /// The config, or every error found.
    pub result: Result<Loaded, ConfigErrors>,
    /// What was read; on success also in [`Loaded::inputs`].
    pub inputs: Inputs,
}

/// Loads `files` (a config file, or a base and its overlays) with the
/// process environment's overrides.
pub fn load(files: impl Into<ConfigFiles>) -> Result<Loaded, ConfigErrors> {
    load_with_env(files, process_env())
}

/// Loads `files`, taking server overrides from `env` (only
/// `GSLB_SERVER__*` entries are used, so unrelated `GSLB_*` variables
/// cannot break a load). Nothing is running yet: the config files are read
/// within the default `server.max_config_bytes`, or the one set in `env`.
pub fn load_with_env(
    files: impl Into<ConfigFiles>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigErrors> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let baseline = Baseline {
        limits: Limits::before_any_config(&env),
        served_record_files: Vec::new(),
    };
    load_after(files, env, &baseline).result
}

/// Reloads `files` with the process environment's overrides, on top of a
/// running config's `baseline`.
pub fn reload(files: &ConfigFiles, baseline: &Baseline) -> Attempt {
    load_after(files.clone(), process_env(), baseline)
}

fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// Loads `files` and the record files they name, each read once (see
/// [`input`]).
pub fn load_after(
    files: impl Into<ConfigFiles>,
    env: Vec<(String, String)>,
    baseline: &Baseline,
) -> Attempt {
    let files = files.into();
    let mut inputs = Inputs::default();
    let result = load_into(&files, env, baseline, &mut inputs).map(|mut loaded| {
        loaded.inputs = inputs.clone();
        loaded
    });
    Attempt { result, inputs }
}

fn load_into(
    files: &ConfigFiles,
    env: Vec<(String, String)>,
    baseline: &Baseline,
    inputs: &mut Inputs,
) -> Result<Loaded, ConfigErrors> {
    let file: Arc<str> = files.label().into();
    let (raw, limits) = read_main(files, env, baseline.limits, inputs)?;
    let records_left = limits.max_records - raw.records.len();
    let RecordFiles {
        sources,
        mut errors,
        mut warnings,
    } = read_record_files(&file, &raw.server, limits, records_left, baseline, inputs);
    let geoip = raw.server.geoip_database.clone();
    record_key_files(&raw, inputs);
    let validated = validate::validate(raw, &file, sources, default_serial());
    if let Ok(config) = &validated {
        warnings.extend(large_nameserver_answers(config, &file));
        warnings.extend(geo_without_database(config, &file));
    }
    let config = match validated {
        Ok(config) if errors.is_empty() => Some(config),
        Ok(_) => None,
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            None
        }
    };
    let geo = geoip.and_then(|db| {
        open_geoip(&file, &db)
            .map_err(|error| errors.push(error))
            .ok()
    });
    if let Some(token_file) = config
        .as_ref()
        .and_then(|c| c.server.admin_token_file.as_ref())
        && let Err(message) = secret::admin_token_file(token_file)
    {
        errors.push(ConfigError {
            file: file.clone(),
            path: "server.admin_token_file".into(),
            message,
        });
    }
    let mut admin_key = None;
    if let Some(tls) = config.as_ref().and_then(|c| c.server.admin_tls.as_ref()) {
        match secret::admin_tls(tls, inputs) {
            Ok(key) => admin_key = Some(key),
            Err((path, message)) => errors.push(ConfigError {
                file: file.clone(),
                path: path.into(),
                message,
            }),
        }
    }
    if let Some(ca_file) = config
        .as_ref()
        .and_then(|c| c.server.peering.ca_file.as_ref())
        && let Err(message) = secret::peer_ca_file(ca_file)
    {
        errors.push(ConfigError {
            file: file.clone(),
            path: "server.peer_ca_file".into(),
            message,
        });
    }
    match config {
        Some(config) if errors.is_empty() => Ok(Loaded {
            config: Arc::new(config),
            geo,
            warnings,
            inputs: Inputs::default(),
            admin_key,
        }),
        _ => Err(ConfigErrors(errors)),
    }
}

/// Reads and parses the main config within the running caps, applies the
/// environment's overrides, and checks its record count against the caps
/// it asks for: with them, the caps the record files are read with.
fn read_main(
    files: &ConfigFiles,
    env: Vec<(String, String)>,
    running: Limits,
    inputs: &mut Inputs,
) -> Result<(RawConfig, Limits), ConfigErrors> {
    let path = files.base();
    let base_file: Arc<str> = path.display().to_string().into();
    let file: Arc<str> = files.label().into();
    let one = |e: ConfigError| ConfigErrors(vec![e]);
    let contents = Contents::read(path, running.max_config_bytes);
    inputs.push(path, running.max_config_bytes, &contents);
    let text = text_of(&base_file, contents, running.max_config_bytes).map_err(one)?;
    if is_blank(&text) {
        return Err(one(whole_file(&base_file, "is empty: it holds no config")));
    }
    let mut raw: RawConfig = {
        let _count = RecordCount::allow(running.max_records, running.max_records);
        parse_yaml(&base_file, &text, running).map_err(one)?
    };
    drop(text);
    if !files.overlays().is_empty() {
        raw = with_overlays(raw, files, running, inputs)?;
    }
    raw.server = with_env_overrides(raw.server, &file, env).map_err(one)?;
    let limits = running.asked_by(&raw.server);
    if raw.records.len() > limits.max_records {
        return Err(one(ConfigError {
            file,
            path: "records".into(),
            message: format!(
                "{} records, more than server.max_records ({})",
                raw.records.len(),
                limits.max_records
            ),
        }));
    }
    Ok((raw, limits))
}

/// Records the DNSSEC key files (both files of each pair) among what this
/// load read, before validation reads them: a change to one, such as
/// `dnssec-settime` moving a rollover on, then reloads the config like a
/// change to the config file does.
fn record_key_files(raw: &RawConfig, inputs: &mut Inputs) {
    use crate::dnssec::keyfile::{MAX_KEY_FILE_BYTES, pair_paths};
    let entries = raw
        .zones
        .iter()
        .filter_map(|z| z.dnssec.as_ref())
        .flat_map(|d| d.key_files.iter());
    for entry in entries {
        let (public, private) = pair_paths(Path::new(entry));
        for path in [public, private] {
            let contents = Contents::read(&path, MAX_KEY_FILE_BYTES);
            inputs.push(&path, MAX_KEY_FILE_BYTES, &contents);
        }
    }
}

/// What the record files of one load gave.
struct RecordFiles {
    /// The records of each file that parsed.
    sources: Vec<RecordSource>,
    /// Files that failed the load.
    errors: Vec<ConfigError>,
    /// Files the load goes on without.
    warnings: Vec<String>,
}

/// Reads and parses `server.record_files` in order, within what is left of
/// `server.max_records` after the main config's records.
fn read_record_files(
    file: &str,
    server: &RawServer,
    limits: Limits,
    mut records_left: usize,
    baseline: &Baseline,
    inputs: &mut Inputs,
) -> RecordFiles {
    let mut read = RecordFiles {
        sources: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, record_file) in server.record_files.iter().enumerate() {
        let record_path = PathBuf::from(record_file);
        let name: Arc<str> = record_file.as_str().into();
        let cap = limits.max_config_bytes;
        let contents = Contents::read(&record_path, cap);
        inputs.push(&record_path, cap, &contents);
        let served = baseline.served_record_files.contains(&record_path);
        let text = match record_file_text(file, i, &name, served, contents, cap) {
            Ok(text) => text,
            Err(Skipped::Error(error)) => {
                read.errors.push(error);
                continue;
            }
            Err(Skipped::Warning(warning)) => {
                read.warnings.push(warning);
                continue;
            }
        };
        let _count = RecordCount::allow(records_left, limits.max_records);
        match parse_yaml::<RawRecordFile>(&name, &text, limits) {
            Ok(raw) => {
                records_left = records_left.saturating_sub(raw.records.len());
                inputs.serve_last();
                read.sources.push(RecordSource { file: name, raw });
            }
            Err(error) => read.errors.push(error),
        }
    }
    read
}

/// Why a record file adds nothing to a load.
enum Skipped {
    /// The load fails: the file cannot be read, or it was served and is
    /// gone or empty now (its records stay served).
    Error(ConfigError),
    /// The load goes on without the file, which has not been served yet.
    Warning(String),
}

/// The text of `server.record_files[i]` (`name`), or why it is skipped: a
/// file that is missing or blank stops the load only when its records are
/// `served`, since dropping them quietly would take names out of DNS.
fn record_file_text(
    file: &str,
    i: usize,
    name: &Arc<str>,
    served: bool,
    contents: Contents,
    cap: u64,
) -> Result<String, Skipped> {
    let text = match contents {
        Contents::Missing if served => {
            return Err(Skipped::Error(whole_file(
                name,
                "was loaded and is now missing; its records are still served. Restore it, or remove it from server.record_files to drop them",
            )));
        }
        Contents::Missing => {
            return Err(Skipped::Warning(format!(
                "{file}: server.record_files[{i}]: {name} does not exist yet; serving without it until it appears"
            )));
        }
        contents => text_of(name, contents, cap).map_err(Skipped::Error)?,
    };
    if !is_blank(&text) {
        return Ok(text);
    }
    Err(if served {
        Skipped::Error(whole_file(
            name,
            "was loaded and is now empty; its records are still served. A record file with no records says `records: []`",
        ))
    } else {
        Skipped::Warning(format!(
            "{file}: server.record_files[{i}]: {name} is empty; serving without it until it holds records"
        ))
    })
}

/// Opens `server.geoip_database`.
fn open_geoip(file: &Arc<str>, db: &str) -> Result<Arc<GeoDb>, ConfigError> {
    GeoDb::open(Path::new(db))
        .map(Arc::new)
        .map_err(|error| ConfigError {
            file: file.clone(),
            path: "server.geoip_database".into(),
            message: crate::error_chain(&error),
        })
}

/// Sets with `geo` or `location` while no GeoIP database is configured: no
/// client can be located, so those rules match no one and nearest-set
/// answers are off. A warning, not an error: a config may be written
/// before its database is in place, and the answers still work (geo-less
/// sets and failover decide).
fn geo_without_database(config: &Config, file: &str) -> Option<String> {
    if config.server.geoip_database.is_some() {
        return None;
    }
    let mut located = config
        .records
        .iter()
        .flat_map(|r| r.sets.iter().map(move |s| (r, s)))
        .filter(|(_, s)| !s.geo.is_empty() || s.location.is_some());
    let (record, set) = located.next()?;
    let more = located.count();
    let others = if more == 0 {
        String::new()
    } else {
        format!(" and {more} other set(s)")
    };
    Some(format!(
        "{file}: server.geoip_database is not set, but set {:?} of {}{others} use geo or location: no client can be located, so those rules match no one (see README, \"GeoIP\")",
        set.id, record.name
    ))
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
            let len = nameservers_response_len(&zone.origin, &zone.nameservers);
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
    let limits = Limits::default();
    let raw: RawConfig =
        parse_yaml(&file.into(), text, limits).map_err(|e| ConfigErrors(vec![e]))?;
    let mut errors = Vec::new();
    let mut sources = Vec::new();
    for (name, text) in record_files {
        match parse_yaml::<RawRecordFile>(&(*name).into(), text, limits) {
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
    let file: Arc<str> = path.display().to_string().into();
    let limits = Limits::default();
    let contents = Contents::read(path, limits.max_config_bytes);
    let text =
        text_of(&file, contents, limits.max_config_bytes).map_err(|e| ConfigErrors(vec![e]))?;
    let raw: RawConfig = parse_yaml(&file, &text, limits).map_err(|e| ConfigErrors(vec![e]))?;
    RecordScope::from_config(&raw, &file)
}

/// An error about a whole file.
fn whole_file(file: &Arc<str>, message: &str) -> ConfigError {
    ConfigError {
        file: file.clone(),
        path: String::new(),
        message: message.into(),
    }
}

/// The text of a file read within `cap` bytes, or why there is none.
fn text_of(file: &Arc<str>, contents: Contents, cap: u64) -> Result<String, ConfigError> {
    let error = |message: String| ConfigError {
        file: file.clone(),
        path: String::new(),
        message,
    };
    match contents {
        Contents::Bytes(bytes) => {
            String::from_utf8(bytes).map_err(|e| error(format!("is not UTF-8 text: {e}")))
        }
        Contents::Missing => Err(error("no such file".to_owned())),
        Contents::TooLarge { len } => Err(error(format!(
            "is {len} bytes, more than server.max_config_bytes ({cap}); not read"
        ))),
        Contents::Unreadable(e) => Err(error(format!("cannot read: {e}"))),
    }
}

/// Parses YAML (or JSON) `text` of `file` into `T`, naming the field of any
/// type error.
///
/// YAML is read straight into the typed shapes by serde-saphyr, with no
/// intermediate value tree: a 100,000-record file parses in well under a
/// second and little more memory than the result (the `config` crate's tree
/// took about 20 KB and 0.1 ms per record). Its budgets, which guard against
/// alias bombs, follow the file's size and `limits` ([`Limits::yaml_options`]).
pub(super) fn parse_yaml<T: DeserializeOwned>(
    file: &Arc<str>,
    text: &str,
    limits: Limits,
) -> Result<T, ConfigError> {
    let error = |path: String, message: String| ConfigError {
        file: file.clone(),
        path,
        message,
    };
    if let Some(json) = json_body(text) {
        // JSON is YAML too, and what `gslb crd-sync` writes: a JSON parser
        // reads large record files about ten times faster.
        let mut de = serde_json::Deserializer::from_str(&json);
        let value = serde_path_to_error::deserialize::<_, T>(&mut de)
            .map_err(|e| error(field_path(e.path()), e.inner().to_string()))?;
        de.end().map_err(|e| error(String::new(), e.to_string()))?;
        return Ok(value);
    }
    let options = limits.yaml_options(text.len());
    // A type error stops deserialization early; serde-saphyr then reports the
    // unread rest of the input as a second document. The type error, with its
    // field path, is the one worth showing.
    let mut type_error = None;
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(value) => Ok(Some(value)),
            Err(e) => {
                type_error = Some(error(
                    field_path(e.path()),
                    yaml_error_message(e.inner(), limits),
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
        Err(e) => Err(error(String::new(), yaml_error_message(&e, limits))),
    }
}

/// serde-saphyr's message, with the reason spelled out when a budget
/// stopped the parse.
fn yaml_error_message(e: &serde_saphyr::Error, limits: Limits) -> String {
    use serde_saphyr::Error as E;
    let mut cause = e;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = cause {
        cause = error;
    }
    match cause {
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => format!(
            "too large once YAML aliases are expanded ({e}); a file may expand to no more than server.max_config_bytes ({} bytes) of text, and its aliases to 16 events per byte of the file",
            limits.max_config_bytes
        ),
        _ => e.to_string(),
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

/// Reads the overlays of `files` and merges them onto `base` (see
/// [`overlay`]); every overlay's problem is reported, with its file.
fn with_overlays(
    mut base: RawConfig,
    files: &ConfigFiles,
    limits: Limits,
    inputs: &mut Inputs,
) -> Result<RawConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut overlays = Vec::new();
    for path in files.overlays() {
        let name: Arc<str> = path.display().to_string().into();
        let contents = Contents::read(path, limits.max_config_bytes);
        inputs.push(path, limits.max_config_bytes, &contents);
        let parsed = text_of(&name, contents, limits.max_config_bytes).and_then(|text| {
            if is_blank(&text) {
                return Err(whole_file(
                    &name,
                    "is empty: an overlay holds at least one key",
                ));
            }
            match parse_yaml::<serde_json::Value>(&name, &text, limits)? {
                value @ serde_json::Value::Object(_) => Ok(value),
                _ => Err(whole_file(
                    &name,
                    "is not a mapping of config keys (server:, zones:, ...)",
                )),
            }
        });
        match parsed {
            Ok(value) => overlays.push(value),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let file: Arc<str> = files.label().into();
    // The base's records stay typed: they may be many, and no overlay
    // changes them (it can only add its own).
    let records = std::mem::take(&mut base.records);
    let merged = overlay::merge(&base, overlays).map_err(|message| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            path: String::new(),
            message,
        }])
    })?;
    let mut merged: RawConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            path: field_path(e.path()),
            message: e.inner().to_string(),
        }])
    })?;
    let added = std::mem::replace(&mut merged.records, records);
    merged.records.extend(added);
    Ok(merged)
}

/// Applies `GSLB_SERVER__*` overrides to the file's server settings through
/// the `config` crate's layering.
fn with_env_overrides(
    server: RawServer,
    file: &str,
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
        file: file.into(),
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
            file: format!("{file} (with GSLB_SERVER__* overrides)").into(),
            path: field_path(e.path()),
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

/// A deserialization error's field path as config errors show it:
/// `zones[0].soa.mname`, without serde_path_to_error's leading dot.
fn field_path(path: &serde_path_to_error::Path) -> String {
    path.to_string().trim_start_matches('.').to_owned()
}

#[cfg(test)]
mod tests;
