//! `gslb crd-sync`: the sidecar that turns ExternalDNS `DNSEndpoint` objects
//! (`externaldns.k8s.io/v1alpha1`) into a record file that `gslb serve`
//! reads through `server.record_files`.
//!
//! # Layout
//!
//! ```text
//! cluster::ClusterWatch (one per cluster: kube watcher → reflector store, backoff, re-list)
//!     │ News (listed, changed, failed)
//!     ▼
//! watch::Syncer (every cluster's objects, debounce, resync, state files)
//!     │ convert::convert (pure: objects + zones → records, rejections)
//!     ├─▶ sink (render, atomic write when changed) ──▶ record file ──▶ gslb serve
//!     ├─▶ state (each cluster's last known objects, with several clusters)
//!     └─▶ watch channel per cluster ──▶ status::StatusReporter (observedGeneration, Events)
//! admin: /metrics, /healthz on --admin-listen
//! ```
//!
//! The sidecar never removes the file. If it stops or loses an API
//! server, the server keeps serving the last file.
//!
//! # Several clusters
//!
//! `--context NAME` (repeatable) and `--cluster NAME=KUBECONFIG[#CONTEXT]`
//! name the clusters ([`cluster`]); without them the one cluster is the
//! in-cluster service account or the current context. With several:
//!
//! * every cluster's objects go into one conversion, keyed by cluster,
//!   namespace and name, so the output never depends on which cluster
//!   answered first and every instance that watches the same clusters
//!   under the same names writes the same bytes;
//! * a namespace is the same owner in every cluster (namespace sameness),
//!   and a set id claimed in two clusters goes to the older object;
//! * an endpoint without `setIdentifier` gets `CLUSTER/NAMESPACE/NAME`;
//! * a cluster whose API server is unreachable keeps its last known
//!   objects, also across a restart of the sidecar ([`state`]); a cluster
//!   no longer on the command line is dropped at start;
//! * `status.observedGeneration` and Events go to each object's own
//!   cluster.

//! # Mapping
//!
//! | DNSEndpoint | gslb |
//! |---|---|
//! | `dnsName` | record name, lower-cased; must be inside a served zone and not a name the config's own `records` define |
//! | `recordType` `A` / `AAAA` | address targets must be IPv4 / IPv6; empty: each target's own family; `CNAME`: every target must be a host name; anything else (TXT, MX, ...) is rejected |
//! | `targets` | set targets, de-duplicated and sorted (addresses, then host names); each an IP address or a host name (a hostname target: resolved by gslb and answered as A/AAAA, never as a CNAME) |
//! | `recordTTL` | record `ttl`; 0 or absent: the zone's TTL; endpoints of one name with different TTLs: the lowest (warning) |
//! | `setIdentifier` | set `id`; empty: `namespace/name` of the object (`cluster/namespace/name` with several clusters) |
//! | `gslb/weight`, `aws/weight` | `weight` |
//! | `gslb/priority`; `aws/failover` `PRIMARY` / `SECONDARY` | `priority` 0 / 1 |
//! | `gslb/continents`, `gslb/countries`, `gslb/subdivisions` (comma lists) | `geo` |
//! | `aws/geolocation-continent-code` | `geo.continents` (not together with a country) |
//! | `aws/geolocation-country-code` | `geo.countries`; `*` (Route 53's default location): no geo |
//! | `aws/geolocation-subdivision-code` | `geo.subdivisions` `COUNTRY-CODE` (country US when none is given) |
//! | `gslb/lat`, `gslb/lon` | `location` (both or neither) |
//! | `aws/geoproximity-coordinates` `"LAT,LON"` | `location` (when `gslb/lat` and `gslb/lon` are absent) |
//! | `gslb/health-check` | `health_check`: must name a check of the config; rejected when `--zones` is a list |
//! | `aws/region` (latency), `aws/health-check-id`, `aws/multi-value-answer`, `aws/evaluate-target-health`, `aws/geoproximity-region`, `-local-zone-group`, `-bias`, `alias`, other providers' keys | not honoured, the endpoint still served: reported ([`unsupported`]) |
//! | annotations `external-dns.alpha.kubernetes.io/*`, `gslb.io/*` but `gslb.io/shared-with` | not read: reported ([`unsupported`]) |
//! | unknown `gslb/*` key, a key given twice | the endpoint is rejected |
//!
//! `gslb/*` keys win over `aws/*` keys for the same field. Endpoints with
//! the same `dnsName` become one record with one set per set id. A name
//! belongs to the namespace of its oldest object ([`ownership`]); other
//! namespaces' endpoints for it are rejected unless the owner lists them in
//! the annotation `gslb.io/shared-with`, and only the owner's endpoints set
//! the TTL. The oldest object (`creationTimestamp`, then namespace, name
//! and cluster) of
//! the owner namespace, then of the others, owns a set id; other objects'
//! endpoints with that id are rejected. Within one object,
//! endpoints with the same name and set id (an `A` and an `AAAA`) merge when
//! their routing keys agree. Every endpoint is checked with the server's own
//! record checks before it is written, so one bad endpoint never makes the
//! server reject the whole file. An object whose endpoints were all accepted
//! gets `status.observedGeneration`; each rejected endpoint gets a warning log
//! line and a `Warning` Event (reason `EndpointRejected`) on its object, and
//! each property gslb does not honour a warning and a `Warning` Event (reason
//! `UnsupportedProperty`) naming what gslb does instead, once per object
//! generation, and a count in `gslb_crd_sync_unsupported_properties`.

pub mod admin;
pub mod cluster;
pub mod convert;
pub mod endpoint;
pub mod gslb_override;
pub mod metrics;
pub mod override_events;
pub mod ownership;
pub mod sink;
pub mod state;
pub mod status;
pub mod unsupported;
pub mod watch;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    runtime::{reflector::store::Writer, watcher},
};
use prometheus_client::registry::Registry;
use tokio::{sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{ConfigErrors, RecordScope};
use cluster::{ClientError, ClusterArg, ClusterSpec, ClusterWatch, Feed, News};
use gslb_override::gslb_override_resource;
use metrics::SyncMetrics;
use override_events::{OverrideEvents, OverrideWork};
use sink::RecordFileSink;
use state::{ClusterState, StateDir, StateError};
use status::{StatusReporter, StatusWork};
use watch::{ClusterView, Syncer, Timing};

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
    /// Where GslbOverride objects are read, in every cluster (default: the
    /// pod's namespace, `POD_NAMESPACE` or the service account's, else
    /// `gslb`).
    #[arg(long, env = "GSLB_CRD_SYNC_OVERRIDE_NAMESPACE")]
    pub override_namespace: Option<String>,
    /// kubeconfig file (default: the in-cluster service account, or
    /// KUBECONFIG / ~/.kube/config outside a cluster).
    #[arg(long, env = "GSLB_CRD_SYNC_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch this context of the kubeconfig as a cluster of the same name
    /// (repeatable; with --cluster too). Every gslb instance must name each
    /// cluster alike.
    #[arg(long = "context", value_name = "NAME")]
    pub contexts: Vec<String>,
    /// Watch a cluster: NAME=KUBECONFIG[#CONTEXT] (repeatable). An empty
    /// KUBECONFIG is --kubeconfig or the default (`NAME=` alone: the
    /// in-cluster service account).
    #[arg(long = "cluster", value_name = "NAME=KUBECONFIG[#CONTEXT]")]
    pub clusters: Vec<ClusterArg>,
    /// With several clusters: where each cluster's last known objects are
    /// kept, so a restart while an API server is down keeps its records
    /// (default: crd-sync-state beside --output).
    #[arg(long, env = "GSLB_CRD_SYNC_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// With several clusters: how long the first write waits for a cluster
    /// that has neither listed nor a state file.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub initial_list_timeout: Duration,
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
    /// `--context` or `--cluster` is unusable.
    #[error("{0}")]
    Clusters(String),
    /// A cluster's kubeconfig or context is unusable.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The state directory cannot be created.
    #[error(transparent)]
    State(#[from] StateError),
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

/// Where the service account's namespace is mounted in a pod.
const POD_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// The override namespace outside a pod.
pub const DEFAULT_OVERRIDE_NAMESPACE: &str = "gslb";

/// The namespace GslbOverrides are read from: `arg`, else `POD_NAMESPACE`,
/// else the pod's service account namespace, else
/// [`DEFAULT_OVERRIDE_NAMESPACE`].
fn override_namespace(arg: Option<&str>) -> String {
    let pod = || {
        std::env::var("POD_NAMESPACE")
            .ok()
            .or_else(|| std::fs::read_to_string(POD_NAMESPACE_FILE).ok())
    };
    arg.map(str::to_owned)
        .or_else(pod)
        .map(|ns| ns.trim().to_owned())
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| DEFAULT_OVERRIDE_NAMESPACE.to_owned())
}

/// Runs the sidecar until SIGTERM/SIGINT (or, with `--once`, one sync).
pub async fn run(args: Args) -> Result<(), CrdSyncError> {
    crate::tls::install_crypto_provider();
    let zones = ZoneSource::parse(&args.zones);
    let scope = zones.load().map_err(|errors| CrdSyncError::Zones {
        source_text: args.zones.clone(),
        errors,
    })?;
    let specs = cluster::specs(&args.contexts, &args.clusters, args.kubeconfig.as_deref())
        .map_err(CrdSyncError::Clusters)?;
    let state = open_state(&args, &specs)?;
    let metrics = SyncMetrics::default();
    let wiring = Wiring::new(&args, specs.len() > 1, metrics.clone());
    let mut clusters = Clusters::default();
    for (index, spec) in specs.iter().enumerate() {
        clusters.add(&wiring, index, spec, state.as_ref()).await?;
    }
    let sink = RecordFileSink::new(args.output.clone());
    let syncer = Syncer::new(zones, scope, sink, metrics.clone(), clusters.views, state);
    let timing = Timing {
        debounce: args.debounce,
        resync: args.resync,
        initial_list_timeout: args.initial_list_timeout,
    };
    log_start(&args, &specs, &wiring.override_namespace);
    let cancel = CancellationToken::new();
    let (news_tx, news) = mpsc::channel(64);
    let mut tasks = JoinSet::new();
    for (watch, writer) in clusters.watches {
        tasks.spawn(watch.run(writer, news_tx.clone(), cancel.clone()));
    }
    drop(news_tx);
    let sidecar = Sidecar {
        syncer,
        news,
        timing,
        tasks,
        cancel,
        reporters: clusters.reporters,
    };
    if args.once {
        sidecar.once().await
    } else {
        sidecar.serve(args.admin_listen, &metrics).await
    }
}

/// With several clusters, the state directory that keeps each one's last
/// known objects, tidied of clusters no longer named; with one, none.
fn open_state(args: &Args, specs: &[ClusterSpec]) -> Result<Option<StateDir>, CrdSyncError> {
    if specs.len() <= 1 {
        return Ok(None);
    }
    let dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| StateDir::beside(&args.output));
    let state = StateDir::open(dir)?;
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    match state.remove_others(&names) {
        Ok(removed) if !removed.is_empty() => info!(
            clusters = %removed.join(","),
            "clusters no longer on the command line: their objects are dropped"
        ),
        Ok(_) => {}
        Err(error) => warn!(%error, "cannot tidy the state directory"),
    }
    Ok(Some(state))
}

/// Logs what the sidecar follows and where it writes, once at start.
fn log_start(args: &Args, specs: &[ClusterSpec], override_namespace: &str) {
    let clusters: Vec<String> = specs.iter().map(ToString::to_string).collect();
    info!(
        output = %args.output.display(),
        clusters = %clusters.join(", "),
        namespace = args.namespace.as_deref().unwrap_or("(all)"),
        label_selector = args.label_selector.as_deref().unwrap_or(""),
        override_namespace = %override_namespace,
        "crd-sync starting"
    );
}

/// What every cluster's watches and reporters share, worked out once from
/// the arguments so that each cluster is wired alike.
struct Wiring {
    /// The DNSEndpoint resource.
    resource: ApiResource,
    /// The GslbOverride resource.
    override_resource: ApiResource,
    /// `--namespace`: where DNSEndpoints are watched (`None`: everywhere).
    namespace: Option<String>,
    /// The DNSEndpoint watches' settings (`--label-selector`).
    watch_config: watcher::Config,
    /// Where GslbOverrides are read, in every cluster.
    override_namespace: String,
    /// This replica's name in Events.
    instance: String,
    /// More than one cluster: object keys carry the cluster name.
    several: bool,
    /// Shared metrics.
    metrics: SyncMetrics,
}

impl Wiring {
    /// The shared settings for a run over one or `several` clusters.
    fn new(args: &Args, several: bool, metrics: SyncMetrics) -> Self {
        let mut watch_config = watcher::Config::default();
        if let Some(selector) = &args.label_selector {
            watch_config = watch_config.labels(selector);
        }
        let instance = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "gslb-crd-sync".into());
        Self {
            resource: dns_endpoint_resource(),
            override_resource: gslb_override_resource(),
            namespace: args.namespace.clone(),
            watch_config,
            override_namespace: override_namespace(args.override_namespace.as_deref()),
            instance,
            several,
            metrics,
        }
    }

    /// The watch of one feed of the cluster at `index`.
    fn watch(
        &self,
        index: usize,
        spec: &ClusterSpec,
        feed: Feed,
        api: Api<DynamicObject>,
        config: watcher::Config,
    ) -> ClusterWatch {
        ClusterWatch {
            index,
            feed,
            name: spec.name.clone(),
            api,
            config,
            metrics: self.metrics.clone(),
        }
    }
}

/// Every cluster's parts, gathered before any task starts.
#[derive(Default)]
struct Clusters {
    /// What the syncer reads of each cluster.
    views: Vec<ClusterView>,
    /// Each cluster's watches with the stores they fill.
    watches: Vec<(ClusterWatch, Writer<DynamicObject>)>,
    /// What writes back to each cluster.
    reporters: Reporters,
}

impl Clusters {
    /// Wires one cluster: its view for the syncer, its two watches
    /// (DNSEndpoints, GslbOverrides) and its two reporters (status,
    /// override Events), joined by the stores and channels made here.
    async fn add(
        &mut self,
        wiring: &Wiring,
        index: usize,
        spec: &ClusterSpec,
        state: Option<&StateDir>,
    ) -> Result<(), CrdSyncError> {
        let client = spec.client().await?;
        let api: Api<DynamicObject> = match &wiring.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &wiring.resource),
            None => Api::all_with(client.clone(), &wiring.resource),
        };
        wiring.metrics.add_cluster(&spec.name);
        let restored = state.and_then(|state| restore(state, &spec.name, &wiring.metrics));
        let writer = Writer::new(wiring.resource.clone());
        let overrides = Writer::new(wiring.override_resource.clone());
        let (status_tx, status_rx) = tokio::sync::watch::channel(Arc::new(StatusWork::default()));
        let (events_tx, events_rx) = tokio::sync::watch::channel(Arc::new(OverrideWork::default()));
        self.views.push(
            ClusterView::new(
                spec.name.clone(),
                wiring.several,
                writer.as_reader(),
                restored,
                status_tx,
            )
            .with_overrides(overrides.as_reader(), events_tx),
        );
        let watch = wiring.watch(
            index,
            spec,
            Feed::Endpoints,
            api,
            wiring.watch_config.clone(),
        );
        self.watches.push((watch, writer));
        let override_api = Api::namespaced_with(
            client.clone(),
            &wiring.override_namespace,
            &wiring.override_resource,
        );
        let override_watch = wiring.watch(
            index,
            spec,
            Feed::Overrides,
            override_api,
            watcher::Config::default(),
        );
        self.watches.push((override_watch, overrides));
        let reporter = StatusReporter::new(
            client.clone(),
            wiring.resource.clone(),
            wiring.instance.clone(),
            wiring.metrics.clone(),
        );
        self.reporters.status.push((reporter, status_rx));
        let events = OverrideEvents::new(
            client,
            wiring.override_resource.clone(),
            wiring.instance.clone(),
            wiring.metrics.clone(),
        );
        self.reporters.overrides.push((events, events_rx));
        Ok(())
    }
}

/// The cluster's last known objects from the state directory, used until
/// it lists; an unreadable state file leaves the cluster unknown rather
/// than stopping the sidecar.
fn restore(state: &StateDir, cluster: &str, metrics: &SyncMetrics) -> Option<ClusterState> {
    match state.load(cluster) {
        Ok(Some(restored)) => {
            info!(
                cluster = %cluster,
                objects = restored.objects.len(),
                "cluster's last known objects restored; used until it lists"
            );
            metrics.cluster_restored(cluster, restored.listed_at);
            Some(restored)
        }
        Ok(None) => None,
        Err(error) => {
            warn!(cluster = %cluster, %error, "cannot restore the cluster's last known objects; it counts as unknown until it lists");
            None
        }
    }
}

/// The tasks that write back to the clusters, each fed the latest work by
/// the syncer.
#[derive(Default)]
struct Reporters {
    /// `status.observedGeneration` and rejection Events, per cluster.
    status: Vec<(
        StatusReporter,
        tokio::sync::watch::Receiver<Arc<StatusWork>>,
    )>,
    /// GslbOverride Events, per cluster.
    overrides: Vec<(
        OverrideEvents,
        tokio::sync::watch::Receiver<Arc<OverrideWork>>,
    )>,
}

impl Reporters {
    /// One pass of each over the work of the one sync (`--once`).
    async fn apply_once(self) {
        for (mut reporter, work) in self.status {
            let work = work.borrow().clone();
            reporter.apply(&work).await;
        }
        for (mut events, work) in self.overrides {
            let work = work.borrow().clone();
            events.apply(&work).await;
        }
    }

    /// Starts each on `tasks`, following its work until `cancel`.
    fn spawn(self, tasks: &mut JoinSet<()>, cancel: &CancellationToken) {
        for (reporter, work) in self.status {
            tasks.spawn(reporter.run(work, cancel.clone()));
        }
        for (events, work) in self.overrides {
            tasks.spawn(events.run(work, cancel.clone()));
        }
    }
}

/// The sidecar once its watches run: the syncer they feed, and what is
/// started or stopped with it.
struct Sidecar {
    /// Converts and writes.
    syncer: Syncer,
    /// The watches' news, for the syncer.
    news: mpsc::Receiver<(Feed, News)>,
    /// Debounce, resync and first-list timeout.
    timing: Timing,
    /// The watches, and later the reporters.
    tasks: JoinSet<()>,
    /// Stops every task.
    cancel: CancellationToken,
    /// Not started yet: with `--once` they run after the sync.
    reporters: Reporters,
}

impl Sidecar {
    /// `--once`: one sync, then the reporters' one pass over its work; an
    /// error of the list or the write is the command's.
    async fn once(self) -> Result<(), CrdSyncError> {
        let result = self
            .syncer
            .run(self.news, self.timing, self.cancel.clone(), true)
            .await;
        self.cancel.cancel();
        self.tasks.join_all().await;
        result?;
        self.reporters.apply_once().await;
        Ok(())
    }

    /// Serves the admin port and the reporters and syncs until SIGTERM or
    /// SIGINT, then stops every task before returning.
    async fn serve(
        mut self,
        admin_listen: SocketAddr,
        metrics: &SyncMetrics,
    ) -> Result<(), CrdSyncError> {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let (admin_addr, admin) = admin::start(admin_listen, registry, self.cancel.clone()).await?;
        info!(admin = %admin_addr, "crd-sync admin listening (/metrics, /healthz)");
        self.reporters.spawn(&mut self.tasks, &self.cancel);
        spawn_signal_handler(self.cancel.clone())?;
        let result = self
            .syncer
            .run(self.news, self.timing, self.cancel.clone(), false)
            .await;
        self.cancel.cancel();
        self.tasks.join_all().await;
        let _ = admin.await;
        info!("crd-sync stopped");
        result.map_err(CrdSyncError::from)
    }
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
        assert!(err.to_string().contains("no such file"), "{err}");
    }
}
