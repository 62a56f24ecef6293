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
pub mod geoip;
pub mod input;
pub mod limits;
mod locate;
mod message;
pub mod overlay;
pub mod raw;
pub mod reload;
mod scope;
pub mod secret;
pub mod settings;
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
pub use error::{ConfigError, ConfigErrors, Location};
pub use geoip::{GeoOutcome, ServedGeo};
use input::{Contents, is_blank};
pub use input::{FileState, Input, Inputs};
pub use limits::Limits;
use limits::RecordCount;
pub use overlay::ConfigFiles;
use raw::{RawConfig, RawRecordFile, RawServer};
pub use scope::RecordScope;
pub use secret::SecretFile;
use validate::RecordSource;

/// Prefix of the environment variables that override `server:` settings.
const ENV_PREFIX: &str = "GSLB_SERVER__";

/// Whether a load reads the secret files a config names (tokens, keys,
/// TSIG secrets: [`secret::files`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Secrets {
    /// Read and check them, as serving needs.
    #[default]
    Read,
    /// Leave them unread (`check-config --no-secrets`): they exist only
    /// where the server runs, such as Kubernetes Secrets mounted into its
    /// pod. A config loaded so is for checking, never for serving.
    Skip,
}

/// What `gslb check-config` learns of a config.
pub struct Checked {
    /// The config, validated.
    pub loaded: Loaded,
    /// The secret files it names that were not read ([`Secrets::Skip`]).
    pub unread_secrets: Vec<SecretFile>,
}

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
    /// The GeoIP database being served: shared when its file is unchanged,
    /// kept when its replacement does not open ([`geoip`]).
    pub geoip: Option<ServedGeo>,
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
            geoip: ServedGeo::of(running),
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
    /// What became of `server.geoip_database` (on success).
    pub geoip: GeoOutcome,
}

/// Loads `files` (a config file, or a base and its overlays) with the
/// process environment's overrides.
pub fn load(files: impl Into<ConfigFiles>) -> Result<Loaded, ConfigErrors> {
    load_with_env(files, process_env())
}

/// Loads `files` as [`load`] does for `gslb check-config`, reading their
/// secret files or not.
pub fn check(files: impl Into<ConfigFiles>, secrets: Secrets) -> Result<Checked, ConfigErrors> {
    let env = process_env();
    let baseline = Baseline {
        limits: Limits::before_any_config(&env),
        served_record_files: Vec::new(),
        geoip: None,
    };
    let mut inputs = Inputs::default();
    let mut unread_secrets = Vec::new();
    let files = files.into();
    let read = Read {
        secrets,
        unread_secrets: &mut unread_secrets,
        inputs: &mut inputs,
        geoip: &mut GeoOutcome::None,
    };
    let loaded = load_into(&files, env, &baseline, read)?;
    Ok(Checked {
        loaded,
        unread_secrets,
    })
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
        geoip: None,
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
    let mut geoip = GeoOutcome::None;
    let read = Read {
        secrets: Secrets::Read,
        unread_secrets: &mut Vec::new(),
        inputs: &mut inputs,
        geoip: &mut geoip,
    };
    let result = load_into(&files, env, baseline, read).map(|mut loaded| {
        loaded.inputs = inputs.clone();
        loaded
    });
    if result.is_err() {
        geoip = GeoOutcome::None;
    }
    Attempt {
        result,
        inputs,
        geoip,
    }
}

/// How one load reads its files, and what it notes of them.
struct Read<'a> {
    /// Whether secret files are read.
    secrets: Secrets,
    /// The secret files left unread.
    unread_secrets: &'a mut Vec<SecretFile>,
    /// Every file read, as read.
    inputs: &'a mut Inputs,
    /// What became of the GeoIP database.
    geoip: &'a mut GeoOutcome,
}

/// Loads `files`, and on failure places each error at its line in the file
/// it names ([`locate`]).
fn load_into(
    files: &ConfigFiles,
    env: Vec<(String, String)>,
    baseline: &Baseline,
    read: Read<'_>,
) -> Result<Loaded, ConfigErrors> {
    let overridden = env_overridden_keys(&env);
    let Read {
        secrets,
        unread_secrets,
        inputs,
        geoip,
    } = read;
    load_files(files, env, baseline, secrets, unread_secrets, inputs, geoip).map_err(
        |mut errors| {
            locate_errors(&mut errors.0, files, &overridden, |path| {
                inputs.text_as_read(path)
            });
            errors
        },
    )
}

fn load_files(
    files: &ConfigFiles,
    env: Vec<(String, String)>,
    baseline: &Baseline,
    secrets: Secrets,
    unread_secrets: &mut Vec<SecretFile>,
    inputs: &mut Inputs,
    geoip_outcome: &mut GeoOutcome,
) -> Result<Loaded, ConfigErrors> {
    let file: Arc<str> = files.label().into();
    let (raw, limits) = read_main(files, env, baseline.limits, inputs)?;
    if secrets == Secrets::Skip {
        *unread_secrets = secret::files(&raw);
    }
    let records_left = limits.max_records - raw.records.len();
    let RecordFiles {
        sources,
        mut errors,
        mut warnings,
    } = read_record_files(&file, &raw.server, limits, records_left, baseline, inputs);
    let geoip = raw.server.geoip_database.clone();
    if secrets == Secrets::Read {
        record_key_files(&raw, inputs);
    }
    let validated = validate::validate(raw, &file, sources, default_serial(), secrets);
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
    let geo = geoip.and_then(
        |db| match geoip::open(&file, &db, baseline.geoip.as_ref(), inputs) {
            Ok((geo, outcome)) => {
                *geoip_outcome = outcome;
                Some(geo)
            }
            Err(error) => {
                errors.push(error);
                None
            }
        },
    );
    let mut admin_key = None;
    if let (Some(config), Secrets::Read) = (&config, secrets) {
        let (key, secret_errors) = secret::check_server(&config.server, inputs);
        admin_key = key;
        errors.extend(
            secret_errors
                .into_iter()
                .map(|(path, message)| ConfigError::new(file.clone(), path, message)),
        );
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
        return Err(one(ConfigError::new(
            file,
            "records",
            format!(
                "{} records, more than server.max_records ({})",
                raw.records.len(),
                limits.max_records
            ),
        )));
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

/// Reads and parses `server.record_files`, within what is left of
/// `server.max_records` after the main config's records. The files are
/// independent until their records are counted together, so they are read,
/// digested and parsed side by side, as many at a time as there are cores;
/// then taken in order, as if read one after the other.
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
    let cap = limits.max_config_bytes;
    let parse = |i: usize, record_file: &String| {
        let record_path = PathBuf::from(record_file);
        let name: Arc<str> = record_file.as_str().into();
        let contents = Contents::read(&record_path, cap);
        let state = contents.state();
        let served = baseline.served_record_files.contains(&record_path);
        let parsed = record_file_text(file, i, &name, served, contents, cap).and_then(|text| {
            // Each file may hold what is left; their sum is checked below.
            let _count = RecordCount::allow(records_left, limits.max_records);
            parse_yaml::<RawRecordFile>(&name, &text, limits).map_err(Skipped::Error)
        });
        (record_path, name, state, parsed)
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let files: Vec<(usize, &String)> = server.record_files.iter().enumerate().collect();
    let mut parsed = Vec::with_capacity(files.len());
    for batch in files.chunks(threads) {
        if let [(i, record_file)] = batch {
            parsed.push(parse(*i, record_file));
            continue;
        }
        std::thread::scope(|scope| {
            let running: Vec<_> = batch
                .iter()
                .map(|(i, record_file)| scope.spawn(|| parse(*i, record_file)))
                .collect();
            for thread in running {
                // A parse that panicked fails the load as it would have
                // on this thread.
                parsed.push(
                    thread
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                );
            }
        });
    }
    for (record_path, name, state, parsed) in parsed {
        inputs.push_state(&record_path, cap, state);
        match parsed {
            Ok(raw) if raw.records.len() > records_left => read.errors.push(ConfigError::new(
                name,
                "records",
                format!(
                    "more than {} records in the config and its record files (server.max_records)",
                    limits.max_records
                ),
            )),
            Ok(raw) => {
                records_left -= raw.records.len();
                inputs.serve_last();
                read.sources.push(RecordSource { file: name, raw });
            }
            Err(Skipped::Error(error)) => read.errors.push(error),
            Err(Skipped::Warning(warning)) => read.warnings.push(warning),
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
        "{file}: server.geoip_database is not set, but set {:?} of {}{others} use geo or location: no client can be located, so those rules match no one (docs/src/operations/geoip.md)",
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
    check_text(file, text, record_files, Secrets::Read)
}

/// [`load_from_text`], reading the secret files the config names or not.
pub fn check_text(
    file: &str,
    text: &str,
    record_files: &[(&str, &str)],
    secrets: Secrets,
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
    let result = match validate::validate(raw, file, sources, default_serial(), secrets) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors(errors)),
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            Err(ConfigErrors(errors))
        }
    };
    result.map_err(|mut errors| {
        let texts: Vec<(&str, &str)> = std::iter::once((file, text))
            .chain(record_files.iter().copied())
            .collect();
        locate_errors(
            &mut errors.0,
            &ConfigFiles::from(Path::new(file)),
            &[],
            |path| {
                texts
                    .iter()
                    .find(|(name, _)| Path::new(name) == path)
                    .map(|(_, text)| (*text).to_owned())
            },
        );
        errors
    })
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
    ConfigError::new(file.clone(), String::new(), message)
}

/// The text of a file read within `cap` bytes, or why there is none.
fn text_of(file: &Arc<str>, contents: Contents, cap: u64) -> Result<String, ConfigError> {
    let error = |message: String| ConfigError::new(file.clone(), String::new(), message);
    match contents {
        Contents::Bytes(bytes) => {
            String::from_utf8(bytes).map_err(|e| error(format!("is not UTF-8 text: {e}")))
        }
        Contents::Missing => Err(error("no such file".to_owned())),
        Contents::TooLarge { len } => Err(error(format!(
            "is {len} bytes, more than server.max_config_bytes ({cap}); not read"
        ))),
        Contents::Unreadable(e) => Err(error(format!("cannot read: {}", secret::io_reason(&e)))),
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
    let error = |path: String, complaint: message::Complaint| {
        let path = match complaint.duplicate_key {
            Some(key) if path.is_empty() => key,
            Some(key) => format!("{path}.{key}"),
            None => path,
        };
        ConfigError {
            at: complaint.at,
            ..ConfigError::new(file.clone(), path, complaint.message)
        }
    };
    // Plain serde first: tracking the path of every field costs about a
    // third of a large file's parse, and only a failed parse needs it, so a
    // file that fails is read a second time to name the field.
    let rewind = RecordCount::rewind();
    let fast = match json_start(text) {
        // From where the JSON starts, without copying the file: only a
        // failed parse needs the copy whose lines match the file's.
        Some(json) => {
            let mut de = serde_json::Deserializer::from_str(json);
            T::deserialize(&mut de)
                .and_then(|value| de.end().map(|()| value))
                .ok()
        }
        None => serde_saphyr::with_deserializer_from_str_with_options(
            text,
            limits.yaml_options(text.len()),
            |de| T::deserialize(de),
        )
        .ok(),
    };
    if let Some(value) = fast {
        return Ok(value);
    }
    rewind.restore();
    if let Some(json) = json_body(text) {
        // JSON is YAML too, and what `gslb crd-sync` writes: a JSON parser
        // reads large record files about ten times faster.
        let mut de = serde_json::Deserializer::from_str(&json);
        let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
            // The field's key, as validation errors point at, rather than
            // the end of the token serde_json stopped on.
            let path = field_path(e.path());
            let complaint = placed(message::json(e.inner()), &json, &path);
            error(path, complaint)
        })?;
        de.end()
            .map_err(|e| error(String::new(), message::json(&e)))?;
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
                let path = field_path(e.path());
                let mut complaint = placed(yaml_complaint(e.inner(), limits), text, &path);
                message::quote_value(&mut complaint, text);
                type_error = Some(error(path, complaint));
                Ok(None)
            }
        }
    });
    if let Some(type_error) = type_error {
        return Err(type_error);
    }
    match parsed {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(ConfigError::new(file.clone(), "", "could not be read")),
        Err(e) => Err(error(String::new(), yaml_complaint(&e, limits))),
    }
}

/// `complaint` placed at `path` in `text` when the path says better where
/// the problem is than the reader's position ([`message::Complaint`]).
fn placed(mut complaint: message::Complaint, text: &str, path: &str) -> message::Complaint {
    if complaint.place_by_path
        && let Some(Some(at)) = locate::locate(text, &[path]).first()
    {
        complaint.at = Some(*at);
    }
    complaint
}

/// serde-saphyr's complaint ([`message::yaml`]), with the reason spelled
/// out when a budget stopped the parse.
fn yaml_complaint(e: &serde_saphyr::Error, limits: Limits) -> message::Complaint {
    use serde_saphyr::Error as E;
    let mut complaint = message::yaml(e);
    let mut cause = e;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = cause {
        cause = error;
    }
    if let E::Budget { .. }
    | E::AliasReplayLimitExceeded { .. }
    | E::AliasExpansionLimitExceeded { .. }
    | E::AliasReplayStackDepthExceeded { .. } = cause
    {
        complaint.message = format!(
            "too large once YAML aliases are expanded ({}); a file may expand to no more than server.max_config_bytes ({} bytes) of text, and its aliases to 16 events per byte of the file",
            complaint.message, limits.max_config_bytes
        );
    }
    complaint
}

/// The JSON document in a file, when after leading `#` comment lines (YAML
/// comments, which crd-sync writes as a header) it opens an object.
fn json_start(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
        if trimmed.starts_with('#') {
            rest = trimmed.find('\n').map_or("", |i| &trimmed[i + 1..]);
        } else if let Some(after) = trimmed.strip_prefix('\n') {
            rest = after;
        } else if trimmed.starts_with('{') {
            return Some(trimmed);
        } else {
            return None;
        }
    }
}

/// [`json_start`]'s JSON with the comment lines before it blanked, not
/// dropped, so a parse error's line number is the file's.
fn json_body(text: &str) -> Option<String> {
    let json = json_start(text)?;
    let before = &text[..text.len() - json.len()];
    let mut body = "\n".repeat(before.matches('\n').count());
    body.push_str(json);
    Some(body)
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
    let merged = overlay::merge(&base, overlays)
        .map_err(|message| ConfigErrors(vec![ConfigError::new(file.clone(), "", message)]))?;
    let mut merged: RawConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        ConfigErrors(vec![ConfigError::new(
            file.clone(),
            field_path(e.path()),
            message::plain(&e.inner().to_string()),
        )])
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
    let error = |message: String| ConfigError::new(file, "server", message);
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
        .map_err(|e| {
            ConfigError::new(
                format!("{file} (with GSLB_SERVER__* overrides)"),
                field_path(e.path()),
                message::plain(&e.inner().to_string()),
            )
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
/// `zones[0].soa.mname`, without serde_path_to_error's leading dot and
/// without the `?` it writes where it lost track (inside a list read by
/// hand, or a value of several shapes): the path stops at the last field
/// it knows, and the line and column say the rest.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut text = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Unknown => break,
        }
    }
    text
}

/// The `server.*` keys the environment sets (`GSLB_SERVER__RATE_LIMIT__SLIP`
/// → `server.rate_limit.slip`): an error about one of them is not about the
/// file's text, so it is not given the file's line.
fn env_overridden_keys(env: &[(String, String)]) -> Vec<String> {
    env.iter()
        .filter_map(|(key, _)| key.strip_prefix(ENV_PREFIX))
        .map(|rest| format!("server.{}", rest.to_ascii_lowercase().replace("__", ".")))
        .collect()
}

/// Gives every error that names a field a line and column in its file:
/// `text_of` is the text the load parsed. Merged overlays have no one text
/// (their errors name `base.yaml + overlay.yaml`), and a field the
/// environment sets is not in the file: those stay without.
fn locate_errors(
    errors: &mut [ConfigError],
    files: &ConfigFiles,
    overridden: &[String],
    text_of: impl Fn(&Path) -> Option<String>,
) {
    let mut by_file: Vec<(Arc<str>, Vec<usize>)> = Vec::new();
    for (i, error) in errors.iter().enumerate() {
        let from_env = overridden
            .iter()
            .any(|key| error.path == *key || error.path.starts_with(&format!("{key}.")));
        if error.at.is_some() || error.path.is_empty() || from_env {
            continue;
        }
        if !files.overlays().is_empty() && *error.file == *files.label() {
            continue;
        }
        match by_file.iter_mut().find(|(file, _)| *file == error.file) {
            Some((_, indices)) => indices.push(i),
            None => by_file.push((error.file.clone(), vec![i])),
        }
    }
    for (file, indices) in by_file {
        let Some(text) = text_of(Path::new(&*file)) else {
            continue;
        };
        let paths: Vec<&str> = indices.iter().map(|&i| errors[i].path.as_str()).collect();
        let found = locate::locate(&text, &paths);
        for (&i, at) in indices.iter().zip(found) {
            errors[i].at = at;
        }
    }
}

#[cfg(test)]
mod tests;
