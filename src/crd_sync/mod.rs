//! `gslb crd-sync`: the sidecar that turns ExternalDNS `DNSEndpoint` objects
//! (`externaldns.k8s.io/v1alpha1`) into a record file that `gslb serve`
//! reads through `server.record_files`.
//!
//! # Layout
//!
//! ```text
//! kube watcher ──▶ watch::Syncer (table of objects, debounce, resync)
//!                    │ convert::convert (pure: objects + zones → records, rejections)
//!                    ├─▶ sink (render, atomic write when changed) ──▶ record file ──▶ gslb serve
//!                    └─▶ watch channel ──▶ status::StatusReporter (observedGeneration, Events)
//! admin: /metrics, /healthz on --admin-listen
//! ```
//!
//! The sidecar never removes the file. If it stops or loses the API
//! server, the server keeps serving the last file.
//!
//! # Mapping
//!
//! | DNSEndpoint | gslb |
//! |---|---|
//! | `dnsName` | record name, lower-cased; must be inside a served zone and not a name the config's own `records` define |
//! | `recordType` `A` / `AAAA` | targets must be IPv4 / IPv6; empty: each target's own family; anything else (CNAME, TXT, ...) is rejected |
//! | `targets` | set targets, de-duplicated and sorted; each must be an IP address |
//! | `recordTTL` | record `ttl`; 0 or absent: the zone's TTL; endpoints of one name with different TTLs: the lowest (warning) |
//! | `setIdentifier` | set `id`; empty: `namespace/name` of the object |
//! | `gslb/weight`, `aws/weight` | `weight` |
//! | `gslb/priority`; `aws/failover` `PRIMARY` / `SECONDARY` | `priority` 0 / 1 |
//! | `gslb/continents`, `gslb/countries`, `gslb/subdivisions` (comma lists) | `geo` |
//! | `aws/geolocation-continent-code` | `geo.continents` (not together with a country) |
//! | `aws/geolocation-country-code` | `geo.countries`; `*` (Route 53's default location): no geo |
//! | `aws/geolocation-subdivision-code` | `geo.subdivisions` `COUNTRY-CODE` (country US when none is given) |
//! | `gslb/lat`, `gslb/lon` | `location` (both or neither) |
//! | `gslb/health-check` | `health_check`: must name a check of the config; rejected when `--zones` is a list |
//! | other keys (`aws/evaluate-target-health`, `alias`, other providers') | ignored (debug log) |
//! | unknown `gslb/*` key, a key given twice | the endpoint is rejected |
//!
//! `gslb/*` keys win over `aws/*` keys for the same field. Endpoints with
//! the same `dnsName` become one record with one set per set id. A name
//! belongs to the namespace of its oldest object ([`ownership`]); other
//! namespaces' endpoints for it are rejected unless the owner lists them in
//! the annotation `gslb.io/shared-with`, and only the owner's endpoints set
//! the TTL. The oldest object (`creationTimestamp`, then namespace/name) of
//! the owner namespace, then of the others, owns a set id; other objects'
//! endpoints with that id are rejected. Within one object,
//! endpoints with the same name and set id (an `A` and an `AAAA`) merge when
//! their routing keys agree. Every endpoint is checked with the server's own
//! record checks before it is written, so one bad endpoint never makes the
//! server reject the whole file. An object whose endpoints were all accepted
//! gets `status.observedGeneration`; each rejected endpoint gets a warning log
//! line and a `Warning` Event (reason `EndpointRejected`) on its object.

pub mod admin;
pub mod convert;
pub mod endpoint;
pub mod metrics;
pub mod ownership;
pub mod sink;
pub mod status;
pub mod watch;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::watcher,
};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::{ConfigErrors, RecordScope};
use metrics::SyncMetrics;
use sink::RecordFileSink;
use status::{StatusReporter, StatusWork};
use watch::{Syncer, Timing};

/// API group of DNSEndpoint.
pub const GROUP: &str = "externaldns.k8s.io";
/// API version of DNSEndpoint.
pub const VERSION: &str = "v1alpha1";
/// Kind.
pub const KIND: &str = "DNSEndpoint";
/// Resource (plural) name.
pub const PLURAL: &str = "dnsendpoints";

/// The DNSEndpoint resource, for dynamic API calls.
pub fn dns_endpoint_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, KIND), PLURAL)
}

/// `gslb crd-sync` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Record file to write; list it in the server's `server.record_files`.
    #[arg(long, env = "GSLB_CRD_SYNC_OUTPUT")]
    pub output: PathBuf,
    /// The served zones: the server's config file (zones and health checks
    /// are read from it; its record files need not exist), or a
    /// comma-separated list of zone origins.
    #[arg(long, env = "GSLB_CRD_SYNC_ZONES")]
    pub zones: String,
    /// Watch one namespace only (default: all namespaces).
    #[arg(long, env = "GSLB_CRD_SYNC_NAMESPACE")]
    pub namespace: Option<String>,
    /// Watch only objects matching this label selector, e.g. `gslb=enabled`.
    #[arg(long, env = "GSLB_CRD_SYNC_LABEL_SELECTOR")]
    pub label_selector: Option<String>,
    /// kubeconfig file (default: the in-cluster service account, or
    /// KUBECONFIG / ~/.kube/config outside a cluster).
    #[arg(long, env = "GSLB_CRD_SYNC_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Address of the sidecar's own /metrics and /healthz.
    #[arg(
        long,
        env = "GSLB_CRD_SYNC_ADMIN_LISTEN",
        default_value = "127.0.0.1:9154"
    )]
    pub admin_listen: SocketAddr,
    /// Changes within this window are written together.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub debounce: Duration,
    /// Period of a full re-conversion (re-reads the zones, checks the file).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub resync: Duration,
    /// List once, write the file, update status and exit (for debugging).
    #[arg(long)]
    pub once: bool,
}

/// Why the sidecar could not start or, with `--once`, finish.
#[derive(Debug, thiserror::Error)]
pub enum CrdSyncError {
    /// `--zones` is unusable.
    #[error("--zones {source_text}: {errors}")]
    Zones {
        /// The argument.
        source_text: String,
        /// What is wrong.
        errors: ConfigErrors,
    },
    /// The kubeconfig could not be read.
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// No cluster configuration was found.
    #[error("no Kubernetes configuration (in-cluster or kubeconfig): {0}")]
    Infer(#[from] kube::config::InferConfigError),
    /// The client could not be built.
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The admin port.
    #[error(transparent)]
    Admin(#[from] admin::AdminError),
    /// Signal handlers.
    #[error("cannot install signal handlers: {0}")]
    Signal(#[source] std::io::Error),
    /// With `--once`: the list or the write failed.
    #[error(transparent)]
    Sync(#[from] watch::SyncError),
}

/// Where the served zones come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSource {
    /// The server's config file, re-read on every resync.
    ConfigFile(PathBuf),
    /// Zone origins given on the command line.
    Origins(Vec<String>),
}

impl ZoneSource {
    /// A file when `arg` names one, looks like a path (has a `/`) or ends in
    /// `.yaml`, `.yml` or `.json`, so a mistyped file name is an error rather
    /// than a zone called `gslb.yaml`; a comma-separated list otherwise.
    pub fn parse(arg: &str) -> Self {
        let path = Path::new(arg);
        let looks_like_file = arg.contains('/')
            || [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| arg.ends_with(ext));
        if path.is_file() || looks_like_file {
            return Self::ConfigFile(path.to_owned());
        }
        Self::Origins(
            arg.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Reads the zones.
    pub fn load(&self) -> Result<RecordScope, ConfigErrors> {
        match self {
            Self::ConfigFile(path) => crate::config::load_record_scope(path),
            Self::Origins(origins) => {
                let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
                RecordScope::from_origins(&origins, "--zones")
            }
        }
    }
}

/// Runs the sidecar until SIGTERM/SIGINT (or, with `--once`, one sync).
pub async fn run(args: Args) -> Result<(), CrdSyncError> {
    // Pick ring explicitly: another dependency enabling rustls' aws-lc-rs
    // would otherwise leave no process-wide default and kube would panic.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let zones = ZoneSource::parse(&args.zones);
    let scope = zones.load().map_err(|errors| CrdSyncError::Zones {
        source_text: args.zones.clone(),
        errors,
    })?;
    let client = client(args.kubeconfig.as_deref()).await?;
    let resource = dns_endpoint_resource();
    let api: Api<DynamicObject> = match &args.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut watch_config = watcher::Config::default();
    if let Some(selector) = &args.label_selector {
        watch_config = watch_config.labels(selector);
    }
    let metrics = SyncMetrics::default();
    let cancel = CancellationToken::new();
    let instance = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "gslb-crd-sync".into());
    let reporter = StatusReporter::new(client, resource.clone(), instance, metrics.clone());
    let (status_tx, status_rx) = tokio::sync::watch::channel(Arc::new(StatusWork::default()));
    let sink = RecordFileSink::new(args.output.clone());
    let syncer = Syncer::new(zones, scope, sink, metrics.clone(), status_tx);
    let timing = Timing {
        debounce: args.debounce,
        resync: args.resync,
    };
    info!(
        output = %args.output.display(),
        namespace = args.namespace.as_deref().unwrap_or("(all)"),
        label_selector = args.label_selector.as_deref().unwrap_or(""),
        "crd-sync starting"
    );
    if args.once {
        syncer
            .run(api, resource, watch_config, timing, cancel, true)
            .await?;
        let work = status_rx.borrow().clone();
        let mut reporter = reporter;
        reporter.apply(&work).await;
        return Ok(());
    }
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let (admin_addr, admin) = admin::start(args.admin_listen, registry, cancel.clone()).await?;
    info!(admin = %admin_addr, "crd-sync admin listening (/metrics, /healthz)");
    let status = tokio::spawn(reporter.run(status_rx, cancel.clone()));
    spawn_signal_handler(cancel.clone())?;
    let result = syncer
        .run(api, resource, watch_config, timing, cancel.clone(), false)
        .await;
    cancel.cancel();
    let _ = tokio::join!(status, admin);
    info!("crd-sync stopped");
    result.map_err(CrdSyncError::from)
}

/// A kube client from `kubeconfig`, or inferred (in-cluster first when
/// running in a pod).
async fn client(kubeconfig: Option<&Path>) -> Result<Client, CrdSyncError> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| CrdSyncError::Kubeconfig {
                    path: path.to_owned(),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|source| CrdSyncError::Kubeconfig {
                    path: path.to_owned(),
                    source,
                })?
        }
        None => kube::Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}

/// Cancels `cancel` on SIGTERM or SIGINT.
fn spawn_signal_handler(cancel: CancellationToken) -> Result<(), CrdSyncError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(CrdSyncError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(CrdSyncError::Signal)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: stopping"),
            _ = int.recv() => info!("SIGINT: stopping"),
        }
        cancel.cancel();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ZoneSource;

    #[test]
    fn zones_argument_is_a_file_or_a_list() {
        assert_eq!(
            ZoneSource::parse("global.example.test., other.test"),
            ZoneSource::Origins(vec!["global.example.test.".into(), "other.test".into()])
        );
        assert!(matches!(
            ZoneSource::parse("config/gslb.yaml"),
            ZoneSource::ConfigFile(_)
        ));
        assert!(matches!(
            ZoneSource::parse("missing.yaml"),
            ZoneSource::ConfigFile(_)
        ));
        let err = ZoneSource::parse("missing.yaml").load().unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
