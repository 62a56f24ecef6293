//! Wiring for `gslb serve`: binds the listeners, starts the table writer,
//! and shuts everything down in order.
//!
//! [`Server::start`] returns once every socket is bound, with the real
//! addresses (tests ask for port 0), so callers can query it straight away.
//!
//! Shutdown is a drain ([`Server::drain`]): `/readyz` turns 503 at once so
//! load balancers stop sending; DNS keeps answering for
//! `server.shutdown_grace`; then the listeners close, open TCP connections
//! answer what they have received, and the background tasks stop, all
//! within [`FINISH_LIMIT`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::admin::{self, AdminState};
use crate::config::{
    ConfigFiles, Loaded,
    reload::{ReloadHandle, Reloader},
};
use crate::dns::{tcp, udp::UdpListener};
use crate::fd_limit;
use crate::health::prober::{Prober, StatusBoard};
use crate::metrics::Metrics;
use crate::table::{
    SnapshotCell,
    writer::{Writer, WriterHandle},
};

/// Nice value for the async runtime's threads (health probes, admin API,
/// reloads, DNS over TCP): higher than the UDP workers' 0, so when both want
/// a busy core the kernel runs the UDP answers first and probing thousands
/// of targets does not delay them.
pub const RUNTIME_NICE: i32 = 5;

/// After the grace, how long in-flight TCP queries and the background
/// tasks get before the process gives up on them: the process exits within
/// `shutdown_grace` plus this (the bound is plus 2 s).
pub const FINISH_LIMIT: Duration = Duration::from_millis(1500);

/// Lowers the calling thread's priority to [`RUNTIME_NICE`]; meant for
/// `tokio::runtime::Builder::on_thread_start`. Threads spawned later from a
/// runtime thread inherit it, so the UDP workers are started from the main
/// thread, which keeps nice 0.
pub fn lower_runtime_thread_priority() {
    let tid = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(tid), RUNTIME_NICE) {
        tracing::debug!(%error, "cannot lower the runtime thread's priority");
    }
}

/// A running gslb server.
pub struct Server {
    /// Bound DNS addresses (UDP and TCP share each port).
    pub dns_addrs: Vec<SocketAddr>,
    /// Where snapshots are published.
    pub cell: SnapshotCell,
    /// Sends the writer flips and overrides.
    pub writer: WriterHandle,
    /// Asks the reload task to reload the config (SIGHUP).
    pub reloader: ReloadHandle,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Bound admin API address, if configured.
    pub admin_addr: Option<SocketAddr>,
    /// Bound probe listener address, if configured.
    pub probe_addr: Option<SocketAddr>,
    /// Probe details and readiness.
    pub board: Arc<StatusBoard>,
    /// The effective TCP connection cap (configured, or lowered to fit
    /// the file descriptor limit).
    pub tcp_max_connections: usize,
    /// How long DNS keeps answering after a drain starts.
    pub shutdown_grace: Duration,
    /// Cancelled when the drain starts: `/readyz` answers 503.
    draining: CancellationToken,
    /// Stops the background tasks (prober, writer, admin API).
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    udp: Vec<UdpListener>,
    tcp: Vec<tcp::TcpListener>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("dns_addrs", &self.dns_addrs)
            .finish()
    }
}

impl Server {
    /// Starts serving `loaded` (already validated from `config`: a file,
    /// or a base and its overlays).
    pub async fn start(config: impl Into<ConfigFiles>, loaded: Loaded) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let server_cfg = loaded.config.server.clone();
        let (config_tx, configs) = tokio::sync::mpsc::channel(1);
        let (reloader, reload_handle) = Reloader::new(config, &loaded, config_tx, metrics.clone());
        let admin_key = reloader.subscribe_admin_key();
        let (mut writer, handle, cell) = Writer::new(loaded, metrics.clone());
        // Before any listener: a set drained before a restart stays drained.
        let saved = server_cfg
            .state_file
            .clone()
            .map(|path| writer.restore_state(path));
        let override_list = writer.subscribe_overrides();
        let document = writer.subscribe_document();
        let peer_views = writer.subscribe_views();
        // RFC 2136 updates from every listener go to one task.
        let updates = crate::dns::update::spawn(
            cell.clone(),
            handle.clone(),
            metrics.clone(),
            writer.replay_guard(),
            saved.clone(),
        );
        let cancel = CancellationToken::new();
        let draining = CancellationToken::new();
        let dns = start_dns(&server_cfg, &cell, &metrics, &updates).await?;
        let mut tasks = JoinSet::new();
        let (board, aliases) =
            start_feeders(&server_cfg, &writer, &handle, &metrics, &mut tasks, &cancel)?;
        tasks.spawn(writer.run(configs, cancel.clone()));
        tasks.spawn(reloader.run(cancel.clone()));
        // Bound first: the admin API's access rule names its address.
        let admin_listener = match server_cfg.admin_listen {
            None => None,
            Some(addr) => Some(bind_admin(addr).await?),
        };
        let access = admin_access(
            &server_cfg,
            admin_listener.as_ref().map(|(_, bound)| *bound),
        )?;
        let state = AdminState {
            cell: cell.clone(),
            metrics: metrics.clone(),
            writer: handle.clone(),
            board: board.clone(),
            aliases: aliases.clone(),
            shutdown: draining.clone(),
            overrides: override_list.clone(),
            saved: saved.clone(),
            limits: admin_limits(&server_cfg),
            documents: Default::default(),
            document,
            peer_views,
            access: access.clone(),
            explains: admin::explain_slots(),
        };
        let probe_addr = match server_cfg.probe_listen {
            None => None,
            Some(addr) => Some(start_probes(addr, state.clone(), &mut tasks, &cancel).await?),
        };
        let admin_addr = match admin_listener {
            None => None,
            Some((listener, bound)) => {
                let tls = server_cfg.admin_tls.is_some().then_some(admin_key);
                serve_admin(listener, bound, state, tls, &access, &mut tasks, &cancel)?;
                Some(bound)
            }
        };
        Ok(Self {
            dns_addrs: dns.addrs,
            cell,
            writer: handle,
            reloader: reload_handle,
            metrics,
            admin_addr,
            probe_addr,
            board,
            tcp_max_connections: dns.tcp_max_connections,
            shutdown_grace: server_cfg.shutdown_grace,
            draining,
            cancel,
            tasks,
            udp: dns.udp,
            tcp: dns.tcp,
        })
    }

    /// The handle that stops the server's tasks.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Turns `/readyz` to 503, so load balancers stop sending; DNS keeps
    /// answering. The first step of [`drain`](Self::drain).
    pub fn stop_ready(&self) {
        self.draining.cancel();
    }

    /// The whole shutdown sequence: not ready at once, DNS answering for
    /// `shutdown_grace`, then [`shutdown`](Self::shutdown) within
    /// [`FINISH_LIMIT`].
    pub async fn drain(self) {
        self.stop_ready();
        info!(
            grace = %humantime::format_duration(self.shutdown_grace),
            "draining: /readyz answers 503, DNS keeps answering until the grace ends"
        );
        tokio::time::sleep(self.shutdown_grace).await;
        self.shutdown(FINISH_LIMIT).await;
    }

    /// Closes the listeners now, lets open TCP connections answer what they
    /// have received, stops the background tasks; gives up on whatever is
    /// left after `limit`.
    pub async fn shutdown(mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        self.draining.cancel();
        self.udp.iter().for_each(UdpListener::stop);
        self.tcp.iter().for_each(tcp::TcpListener::stop);
        info!("listeners closed");
        futures_util::future::join_all(self.tcp.drain(..).map(|tcp| tcp.join(deadline))).await;
        let udp = std::mem::take(&mut self.udp);
        let _ =
            tokio::task::spawn_blocking(move || udp.into_iter().for_each(UdpListener::join)).await;
        self.cancel.cancel();
        if tokio::time::timeout_at(deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            warn!("tasks still running at the shutdown deadline");
            self.tasks.abort_all();
        }
        info!("stopped");
    }
}

/// The probe listener's limits: only the kubelet (or a load balancer)
/// should call it, with one short request at a time, so the caps are small;
/// a prober holding fewer connections than the heaviest client always gets
/// in (eviction), and a client that does not send its request at once is
/// cut after a second.
pub const PROBE_LIMITS: admin::listener::Limits = admin::listener::Limits {
    listener: crate::metrics::admin::Listener::Probe,
    caps: admin::slots::Caps {
        max_total: 32,
        max_per_client: 4,
    },
    header_timeout: Duration::from_secs(1),
    timeout: Duration::from_secs(2),
};

/// The admin listener's limits from `server`.
fn admin_limits(server: &crate::model::Server) -> admin::listener::Limits {
    admin::listener::Limits {
        listener: crate::metrics::admin::Listener::Admin,
        caps: admin::slots::Caps {
            max_total: server.admin_max_connections,
            max_per_client: server.admin_max_connections_per_client,
        },
        header_timeout: server.admin_header_timeout,
        timeout: server.admin_timeout,
    }
}

/// The TCP connection cap that fits the file descriptor limit, raising the
/// soft limit first; warns when the configured cap had to shrink.
fn tcp_cap(server: &crate::model::Server) -> usize {
    let limit = fd_limit::raise();
    let cap = fd_limit::tcp_cap(server.tcp_max_connections, limit);
    if cap < server.tcp_max_connections {
        warn!(
            configured = server.tcp_max_connections,
            effective = cap,
            open_file_limit = limit.soft,
            reserve = limit.soft.map(fd_limit::reserve),
            "server.tcp_max_connections lowered to fit the open file limit; raise the limit (ulimit -n, LimitNOFILE) to allow more"
        );
    }
    cap
}

/// Binds UDP workers and a TCP listening socket on the same address. With
/// port 0 the UDP port is chosen first and TCP follows it; if another
/// process holds that TCP port, both are released and a new port is tried.
async fn bind_dns(
    addr: SocketAddr,
    server: &crate::model::Server,
    cell: &SnapshotCell,
    metrics: &Arc<Metrics>,
    updates: &crate::dns::update::UpdateQueue,
) -> anyhow::Result<(UdpListener, tokio::net::TcpListener)> {
    const ATTEMPTS: usize = 20;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let listener = UdpListener::start(
            addr,
            server.udp_workers,
            cell.clone(),
            metrics.clone(),
            updates.clone(),
        )
        .with_context(|| format!("binding UDP {addr}"))?;
        let bound = listener.local_addr;
        match tcp::bind(bound) {
            Ok(tcp) => return Ok((listener, tcp)),
            Err(error)
                if addr.port() == 0
                    && error.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < ATTEMPTS =>
            {
                tokio::task::spawn_blocking(move || listener.join())
                    .await
                    .ok();
            }
            Err(error) => return Err(error).with_context(|| format!("binding TCP {bound}")),
        }
    }
}

/// The background tasks that feed the table writer health and addresses:
/// the prober, the hostname-target refresher and the peer follower.
fn start_feeders(
    server_cfg: &crate::model::Server,
    writer: &Writer,
    handle: &WriterHandle,
    metrics: &Arc<Metrics>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> anyhow::Result<(Arc<StatusBoard>, Arc<crate::alias::task::AliasBoard>)> {
    let prober = Prober::new(handle.clone(), metrics.clone(), writer.subscribe_peering())?;
    let board = prober.board();
    tasks.spawn(prober.run(writer.subscribe_probes(), cancel.clone()));
    let aliases = crate::alias::start(
        server_cfg,
        handle.clone(),
        writer.subscribe_hostnames(),
        tasks,
        cancel,
    )?;
    tasks.spawn(crate::peer::run(
        writer.subscribe_peering(),
        server_cfg.admin_token_file.clone(),
        handle.clone(),
        metrics.clone(),
        cancel.clone(),
    ));
    Ok((board, aliases))
}

/// Binds the admin API's address (before serving it: its access rule
/// names the address).
async fn bind_admin(addr: SocketAddr) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    admin::bind(addr)
        .await
        .with_context(|| format!("binding admin API {addr}"))
}

/// Serves the admin API on `listener`, over HTTPS when `tls` holds the
/// watch of `server.admin_tls`'s key.
fn serve_admin(
    listener: tokio::net::TcpListener,
    bound: SocketAddr,
    state: AdminState,
    tls: Option<tokio::sync::watch::Receiver<Option<Arc<rustls::sign::CertifiedKey>>>>,
    access: &admin::access::Access,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let tls = match tls {
        Some(key) => Some(
            admin::tls::AdminTls::new(key)
                .context("setting up TLS for the admin API (server.admin_tls)")?,
        ),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tasks.spawn(admin::serve(listener, state, tls, cancel.clone()));
    info!(admin = %bound, scheme, access = access.describe(), "admin API listening");
    Ok(())
}

/// The DNS listeners of `server.dns_listen`: UDP workers and a TCP accept
/// loop per address, sharing one set of TCP connection slots.
struct DnsListeners {
    udp: Vec<UdpListener>,
    tcp: Vec<tcp::TcpListener>,
    addrs: Vec<SocketAddr>,
    tcp_max_connections: usize,
}

/// Binds and starts every DNS listener.
async fn start_dns(
    server_cfg: &crate::model::Server,
    cell: &SnapshotCell,
    metrics: &Arc<Metrics>,
    updates: &crate::dns::update::UpdateQueue,
) -> anyhow::Result<DnsListeners> {
    let tcp_max_connections = tcp_cap(server_cfg);
    let slots = tcp::Slots::new(
        tcp_max_connections,
        server_cfg.tcp_max_connections_per_ip,
        crate::rrl::PrefixLengths::new(server_cfg.tcp_ipv4_prefix, server_cfg.tcp_ipv6_prefix),
        metrics.clone(),
    );
    let mut udp = Vec::new();
    let mut tcp_listeners = Vec::new();
    let mut dns_addrs = Vec::new();
    for addr in &server_cfg.dns_listen {
        let (udp_listener, tcp_socket) =
            bind_dns(*addr, server_cfg, cell, metrics, updates).await?;
        let bound = udp_listener.local_addr;
        info!(udp = %bound, tcp = %bound, workers = server_cfg.udp_workers, "listening for DNS");
        let tcp_listener = tcp::TcpListener::start(
            tcp_socket,
            slots.clone(),
            tcp::ConnectionSettings::new(server_cfg.tcp_idle_timeout),
            cell.clone(),
            metrics.clone(),
            updates.clone(),
        )
        .with_context(|| format!("starting TCP on {bound}"))?;
        udp.push(udp_listener);
        tcp_listeners.push(tcp_listener);
        dns_addrs.push(bound);
    }
    Ok(DnsListeners {
        udp,
        tcp: tcp_listeners,
        addrs: dns_addrs,
        tcp_max_connections,
    })
}

/// Who may use the admin API: the admin token, the peers' token, and the
/// address the access rule names (`admin` when bound, else loopback).
fn admin_access(
    server_cfg: &crate::model::Server,
    bound: Option<SocketAddr>,
) -> anyhow::Result<admin::access::Access> {
    let token = admin::token::AdminToken::for_server(server_cfg.admin_token_file.as_deref())
        .map_err(|e| anyhow::anyhow!("admin token: {e}"))?;
    let unbound = SocketAddr::from(([127, 0, 0, 1], 0));
    let peer_token = match &server_cfg.peering.token_file {
        Some(file) => Some(
            admin::token::AdminToken::from_file(file)
                .map_err(|e| anyhow::anyhow!("server.peer_token_file: {e}"))?,
        ),
        None => None,
    };
    Ok(admin::access::Access::new(token, bound.unwrap_or(unbound)).with_peer_token(peer_token))
}

/// Binds `server.probe_listen` and serves `/healthz` and `/readyz` there.
async fn start_probes(
    addr: SocketAddr,
    state: AdminState,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let (listener, bound) = admin::bind(addr)
        .await
        .with_context(|| format!("binding probe listener {addr}"))?;
    tasks.spawn(admin::serve_probes(
        listener,
        state,
        PROBE_LIMITS,
        cancel.clone(),
    ));
    info!(probe = %bound, "probe listener (/healthz, /readyz) listening");
    Ok(bound)
}
