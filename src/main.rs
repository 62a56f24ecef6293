//! The `gslb` command line: `serve`, `check-config`, `status`, `override`,
//! `explain`, `crd-sync`, and the generated aids `config-schema`,
//! `completions` and `man`.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

use gslb::admin::client::{self, AdminClient};
use gslb::admin::report::{self, StatusReport};
use gslb::{app::Server, config};

/// Global DNS load balancer: answers global hostnames with the ingress
/// addresses of healthy, nearby clusters.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "GSLB_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve DNS (UDP and TCP) from a config file; SIGHUP or a file change reloads it.
    Serve {
        /// Config file; given again, each later file is merged onto the
        /// ones before it (an overlay: see docs/src/configuration/overlays.md).
        #[arg(long, short, env = "GSLB_CONFIG", required = true)]
        config: Vec<PathBuf>,
    },
    /// Validate a config file and its record files; print a summary, or every
    /// error as FILE:LINE:COLUMN: FIELD: REASON. Exit status 0 when the config
    /// is valid, 1 when not.
    CheckConfig {
        /// Config file; given again, each later file is merged onto the
        /// ones before it, as `serve` does.
        #[arg(long, short, env = "GSLB_CONFIG", required = true)]
        config: Vec<PathBuf>,
        /// Do not read secret files (admin_token_file, peer_token_file,
        /// peer_ca_file, admin_tls cert_file and key_file, TSIG secret_file):
        /// check a config whose secrets exist only where the server runs,
        /// such as a Kubernetes ConfigMap whose Secrets are mounted in the
        /// pod. The files skipped are listed; everything else is checked.
        #[arg(long)]
        no_secrets: bool,
    },
    /// DNSSEC: the DS records for the parent zone.
    Dnssec {
        #[command(subcommand)]
        command: DnssecCommand,
    },
    /// Print the health of every target, from a running server's admin API.
    Status {
        /// Admin API base URL.
        #[arg(long, default_value = "http://127.0.0.1:9153", env = "GSLB_ADMIN")]
        admin: String,
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// File holding the admin token (default: GSLB_ADMIN_TOKEN).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// CA certificates (PEM) to trust for an https:// admin API.
        #[arg(long, env = "GSLB_ADMIN_CA_FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Drain (down), force (up) or release (auto) a set of a record.
    Override(OverrideArgs),
    /// Explain which set a client gets for a name, rule by rule, from a running server.
    Explain(ExplainArgs),
    /// Write DNSEndpoint objects (externaldns.k8s.io) to a record file; runs beside serve.
    #[cfg(feature = "kubernetes")]
    CrdSync(Box<gslb::crd_sync::Args>),
    /// Write DNSEndpoint objects to a record file: not in this build, which
    /// lacks the cargo feature `kubernetes`.
    #[cfg(not(feature = "kubernetes"))]
    #[command(disable_help_flag = true)]
    CrdSync {
        /// Whatever was given; none of it is read.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Print the JSON Schema of the config file, for editors
    /// (yaml-language-server) and CI checks.
    ConfigSchema,
    /// Print a shell completion script.
    Completions {
        /// The shell, e.g. bash: `source <(gslb completions bash)`.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `gslb man | man -l -`.
    Man,
}

/// `gslb config-reference`: prints the settings reference page
/// (docs/src/reference/settings.md) from the settings table. For
/// maintainers, so it is added to the parser only, not to the `Cli` that
/// completions and the man page describe.
const CONFIG_REFERENCE: &str = "config-reference";

#[derive(Debug, Subcommand)]
enum DnssecCommand {
    /// Print the DS records (SHA-256) of every signed zone's SEP keys, as
    /// zone-file lines to give to the parent zone.
    Ds {
        /// Config file; given again, each later file is merged onto the
        /// ones before it, as `serve` does.
        #[arg(long, short, env = "GSLB_CONFIG", required = true)]
        config: Vec<PathBuf>,
    },
}

/// The git commit this binary was built from (build.rs), `-dirty` when
/// the tree had uncommitted changes.
const COMMIT: &str = match option_env!("GSLB_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// `gslb --version`: the version and the commit. The man page and the
/// completions keep the bare version, so they change only with a release.
fn long_version() -> String {
    format!("{} (commit {COMMIT})", env!("CARGO_PKG_VERSION"))
}

/// `gslb override RECORD SET up|down|auto`.
#[derive(Debug, clap::Args)]
struct OverrideArgs {
    /// Record name, e.g. api.global.example.test.
    record: String,
    /// Set id, e.g. us-east.
    set: String,
    /// down drains the set, up answers it whatever the probes say, auto
    /// hands it back to the probes.
    #[arg(value_enum)]
    state: OverrideState,
    /// Why: shown by GET /overrides and kept in the state file.
    #[arg(long)]
    reason: Option<String>,
    /// Admin API base URL.
    #[arg(long, default_value = "http://127.0.0.1:9153", env = "GSLB_ADMIN")]
    admin: String,
    /// File holding the admin token (default: GSLB_ADMIN_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for an https:// admin API.
    #[arg(long, env = "GSLB_ADMIN_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// `gslb explain NAME [--type AAAA] [--client IP[/PREFIX]] [--assume ...]`.
#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// Record name, e.g. webapp.global.example.test.
    name: String,
    /// A or AAAA.
    #[arg(long = "type", default_value = "A")]
    qtype: String,
    /// The client: IP (a query from that address) or IP/PREFIX (a query
    /// with that EDNS Client Subnet).
    #[arg(long)]
    client: Option<String>,
    /// What-if changes, in memory only: SET:down, RECORD/SET:up,
    /// ADDRESS:down, ... (comma-separated or repeated).
    #[arg(long)]
    assume: Vec<String>,
    /// Also run the real selection this many times (at most 100000) and
    /// print the shares seen.
    #[arg(long)]
    samples: Option<u32>,
    /// Print the raw JSON trace.
    #[arg(long)]
    json: bool,
    /// Admin API base URL.
    #[arg(long, default_value = "http://127.0.0.1:9153", env = "GSLB_ADMIN")]
    admin: String,
    /// File holding the admin token (default: GSLB_ADMIN_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for an https:// admin API.
    #[arg(long, env = "GSLB_ADMIN_CA_FILE")]
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OverrideState {
    Up,
    Down,
    Auto,
}

/// jemalloc rather than glibc malloc (the `jemalloc` feature): a load
/// parses and validates every record before compiling the table, and glibc
/// keeps those freed pages (benches/memory/run: RSS four times the live
/// heap at 100k records).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // Freed pages go back to the system from jemalloc's own thread, within
    // its decay time, whether or not the thread that freed them allocates
    // again (a reload's parse runs on a blocking thread that then idles).
    #[cfg(feature = "jemalloc")]
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("gslb: jemalloc background purging is off: {error}");
    }
    let matches = Cli::command()
        .version(long_version())
        .subcommand(
            clap::Command::new(CONFIG_REFERENCE)
                .hide(true)
                .about("Print the settings reference page (Markdown)"),
        )
        .get_matches();
    if matches.subcommand_name() == Some(CONFIG_REFERENCE) {
        print!("{}", config::settings::reference_page());
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    init_tracing(cli.log_format);
    if matches!(cli.command, Command::Serve { .. }) || is_crd_sync(&cli.command) {
        info!(
            version = %env!("CARGO_PKG_VERSION"),
            commit = %COMMIT,
            "gslb starting"
        );
    }
    match cli.command {
        Command::ConfigSchema => print_json(&config::raw::schema()),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "gslb", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => match man_page(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gslb man: {error}");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config, no_secrets } => match config::ConfigFiles::new(config) {
            Some(files) => check_config(&files, no_secrets),
            None => ExitCode::FAILURE,
        },
        Command::Dnssec {
            command: DnssecCommand::Ds { config },
        } => match config::ConfigFiles::new(config) {
            Some(files) => print_ds(&files),
            None => ExitCode::FAILURE,
        },
        Command::Status {
            admin,
            json,
            token_file,
            ca_file,
        } => match status(&admin, json, token_file.as_deref(), ca_file.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gslb status: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Override(args) => match set_override(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gslb override: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Explain(args) => match explain(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gslb explain: {error:#}");
                ExitCode::FAILURE
            }
        },
        #[cfg(feature = "kubernetes")]
        Command::CrdSync(args) => run_crd_sync(*args),
        #[cfg(not(feature = "kubernetes"))]
        Command::CrdSync { .. } => {
            eprintln!(
                "gslb crd-sync: built without Kubernetes support; build with --features kubernetes \
                 (cargo build --release --features kubernetes), or use the container image"
            );
            // A usage error, like a subcommand clap does not know.
            ExitCode::from(2)
        }
        Command::Serve { config } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .on_thread_start(gslb::app::lower_runtime_thread_priority)
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    error!(%error, "cannot start the async runtime");
                    return ExitCode::FAILURE;
                }
            };
            let result = runtime.block_on(serve(config));
            // Whatever a cut-short drain left running must not hold the exit.
            runtime.shutdown_timeout(Duration::from_millis(100));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    error!(error = format!("{error:#}"), "gslb stopped");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Whether `command` is the sidecar (which, like `serve`, logs its build
/// first).
fn is_crd_sync(command: &Command) -> bool {
    #[cfg(feature = "kubernetes")]
    if matches!(command, Command::CrdSync(_)) {
        return true;
    }
    let _ = command;
    false
}

fn print_json(value: &serde_json::Value) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("gslb: cannot encode JSON: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "kubernetes")]
fn run_crd_sync(args: gslb::crd_sync::Args) -> ExitCode {
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| Ok(runtime.block_on(gslb::crd_sync::run(args))?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!(error = format!("{error:#}"), "crd-sync stopped");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        // The platform verifier logs each certificate it rejects; the peer
        // client and the CLI report the same error with what to do.
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_proto=warn,rustls_platform_verifier=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The man page: clap_mangen's page of `gslb`, then a section per
/// subcommand with its synopsis and options (one page, since the
/// subcommands have none of their own).
fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cli = Cli::command();
    let man = clap_mangen::Man::new(cli.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("gslb {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(&name));
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut section)?;
        }
        let heading = format!(".SH \"{}\"\n", name.to_uppercase().replace('-', "\\-"));
        let section = String::from_utf8_lossy(&section)
            .replacen(".SH SYNOPSIS\n", &heading, 1)
            .replace(".SH OPTIONS\n", ".SS Options\n");
        out.write_all(section.as_bytes())?;
    }
    man.render_version_section(out)
}

fn check_config(files: &config::ConfigFiles, no_secrets: bool) -> ExitCode {
    let secrets = if no_secrets {
        config::Secrets::Skip
    } else {
        config::Secrets::Read
    };
    match config::check(files.clone(), secrets) {
        Ok(checked) => {
            let loaded = checked.loaded;
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            for unread in &checked.unread_secrets {
                eprintln!("not read (--no-secrets): {}: {}", unread.field, unread.file);
            }
            let c = &loaded.config;
            let sets: usize = c.records.iter().map(|r| r.sets.len()).sum();
            let targets: usize = c
                .records
                .iter()
                .flat_map(|r| &r.sets)
                .map(|s| s.targets.len() + s.hostnames.len())
                .sum();
            println!(
                "{}: ok: {} zone{}, {} record{}, {} set{}, {} target{}, {} health check{}, GeoIP: {}",
                files.label(),
                c.zones.len(),
                plural(c.zones.len()),
                c.records.len(),
                plural(c.records.len()),
                sets,
                plural(sets),
                targets,
                plural(targets),
                c.health_checks.len(),
                plural(c.health_checks.len()),
                loaded.geo.as_ref().map_or("none", |g| g.database_type()),
            );
            let statics: usize = c.zones.iter().map(|z| z.statics.len()).sum();
            if statics > 0 {
                println!("static records: {statics}");
            }
            let now = unix_now();
            for zone in &c.zones {
                match &zone.dnssec {
                    Some(_) if secrets == config::Secrets::Skip => {
                        println!("dnssec {}: keys not read (--no-secrets)", zone.origin);
                    }
                    Some(policy) => print!(
                        "{}",
                        gslb::dnssec::report::describe(&zone.origin, policy, now)
                    ),
                    None => {}
                }
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!(
                "{} error{}; config rejected",
                errors.0.len(),
                plural(errors.0.len())
            );
            ExitCode::FAILURE
        }
    }
}

/// `gslb dnssec ds`: the DS records of every signed zone.
fn print_ds(files: &config::ConfigFiles) -> ExitCode {
    let loaded = match config::load(files.clone()) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!("gslb dnssec ds: config rejected");
            return ExitCode::FAILURE;
        }
    };
    let now = unix_now();
    let mut printed = 0;
    for zone in &loaded.config.zones {
        if let Some(policy) = &zone.dnssec {
            for line in gslb::dnssec::report::ds_records(&zone.origin, policy, now) {
                println!("{line}");
                printed += 1;
            }
        }
    }
    if printed == 0 {
        eprintln!("gslb dnssec ds: {}: no zone has dnssec keys", files.label());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Seconds since the Unix epoch (0 before it).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn status(
    admin: &str,
    json: bool,
    token_file: Option<&std::path::Path>,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = format!("{}/status", admin.trim_end_matches('/'));
    let client = AdminClient::new(admin, client::token(token_file)?, ca_file)?;
    let body = runtime.block_on(client.status())?;
    if json {
        println!("{body}");
        return Ok(());
    }
    let report: StatusReport =
        serde_json::from_str(&body).with_context(|| format!("reading {url}"))?;
    print!(
        "{}",
        report.render(std::time::SystemTime::now(), report::colour_wanted())
    );
    Ok(())
}

fn set_override(args: OverrideArgs) -> anyhow::Result<()> {
    let state = match args.state {
        OverrideState::Up => gslb::table::liveness::Override::Up,
        OverrideState::Down => gslb::table::liveness::Override::Down,
        OverrideState::Auto => gslb::table::liveness::Override::Auto,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = AdminClient::new(
        &args.admin,
        client::token(args.token_file.as_deref())?,
        args.ca_file.as_deref(),
    )?;
    let reply =
        runtime.block_on(client.set_override(&args.record, &args.set, state, args.reason))?;
    let state = format!("{:?}", reply.state).to_lowercase();
    println!(
        "{} {}: {state} (served from generation {})",
        reply.record, reply.set, reply.generation
    );
    Ok(())
}

fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = AdminClient::new(
        &args.admin,
        client::token(args.token_file.as_deref())?,
        args.ca_file.as_deref(),
    )?;
    let mut params = vec![("name", args.name), ("type", args.qtype)];
    params.extend(args.client.map(|c| ("client", c)));
    params.extend(args.assume.into_iter().map(|a| ("assume", a)));
    params.extend(args.samples.map(|n| ("samples", n.to_string())));
    let body = runtime.block_on(client.explain(&params))?;
    if args.json {
        println!("{body}");
        return Ok(());
    }
    let trace: gslb::explain::Trace =
        serde_json::from_str(&body).context("reading the /explain trace")?;
    print!(
        "{}",
        gslb::explain::render::render(&trace, report::colour_wanted())
    );
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

async fn serve(files: Vec<PathBuf>) -> anyhow::Result<()> {
    let files = config::ConfigFiles::new(files).context("no --config file")?;
    let loaded = config::load(files.clone())
        .map_err(|errors| anyhow::anyhow!("config rejected:\n{errors}"))?;
    for warning in &loaded.warnings {
        warn!(%warning, "config");
    }
    match &loaded.geo {
        Some(geo) => info!(
            database = geo.database_type(),
            build_epoch = geo.build_epoch(),
            "GeoIP database loaded"
        ),
        None => warn!(
            "no GeoIP database: only the clients' ECS-less defaults apply; sets with geo match no one, nearest-cluster fallback is off"
        ),
    }
    // Handlers first: a SIGHUP that arrives once DNS answers but before a
    // handler exists would take the default action and kill the server.
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let server = Server::start(files, loaded).await?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                info!("SIGHUP: reloading");
                server.reloader.reload();
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    info!("shutting down");
    // A second SIGTERM or SIGINT cuts the drain short.
    tokio::select! {
        () = server.drain() => {}
        _ = term.recv() => warn!("second signal: exiting without finishing the drain"),
        _ = int.recv() => warn!("second signal: exiting without finishing the drain"),
    }
    Ok(())
}
