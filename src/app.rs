//! Wiring for `gslb serve`: binds the listeners, starts the table builder,
//! and shuts everything down in order.
//!
//! [`Server::start`] returns once every socket is bound, with the real
//! addresses (tests ask for port 0), so callers can query it straight away.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::admin::{self, AdminState};
use crate::config::Loaded;
use crate::dns::{tcp, udp::UdpListener};
use crate::health::prober::{Prober, StatusBoard};
use crate::metrics::Metrics;
use crate::table::{
    SnapshotCell,
    builder::{Builder, BuilderHandle},
};

/// Nice value for the async runtime's threads (health probes, admin API,
/// reloads, DNS over TCP): higher than the UDP workers' 0, so when both want
/// a busy core the kernel runs the UDP answers first and probing thousands
/// of targets does not delay them.
pub const RUNTIME_NICE: i32 = 5;

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
    /// Sends the builder reloads, flips and overrides.
    pub builder: BuilderHandle,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Bound admin API address, if configured.
    pub admin_addr: Option<SocketAddr>,
    /// Probe details and readiness.
    pub board: Arc<StatusBoard>,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    udp: Vec<UdpListener>,
    tcp: Vec<hickory_server::Server<tcp::TcpHandler>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("dns_addrs", &self.dns_addrs)
            .finish()
    }
}

impl Server {
    /// Starts serving `loaded` (already validated from `config_path`).
    pub async fn start(config_path: PathBuf, loaded: Loaded) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let server_cfg = loaded.config.server.clone();
        let (mut builder, handle, cell) = Builder::new(config_path, loaded, metrics.clone());
        // Before any listener: a set drained before a restart stays drained.
        let saved = server_cfg
            .state_file
            .clone()
            .map(|path| builder.restore_state(path));
        let override_list = builder.subscribe_overrides();
        let cancel = CancellationToken::new();
        let mut udp = Vec::new();
        let mut tcp_servers = Vec::new();
        let mut dns_addrs = Vec::new();
        for addr in &server_cfg.dns_listen {
            let (listener, tcp_addr, server) =
                bind_dns(*addr, &server_cfg, &cell, &metrics).await?;
            let bound = listener.local_addr;
            info!(udp = %bound, tcp = %tcp_addr, workers = server_cfg.udp_workers, "listening for DNS");
            udp.push(listener);
            tcp_servers.push(server);
            dns_addrs.push(bound);
        }
        let mut tasks = JoinSet::new();
        let prober = Prober::new(handle.clone(), metrics.clone())?;
        let board = prober.board();
        tasks.spawn(prober.run(builder.subscribe_tables(), cancel.clone()));
        tasks.spawn(builder.run(cancel.clone()));
        let admin_addr = match server_cfg.admin_listen {
            None => None,
            Some(addr) => {
                let (listener, bound) = admin::bind(addr)
                    .await
                    .with_context(|| format!("binding admin API {addr}"))?;
                let token =
                    admin::token::AdminToken::for_server(server_cfg.admin_token_file.as_deref())
                        .map_err(|e| anyhow::anyhow!("admin token: {e}"))?;
                let access = admin::access::Access::new(token, bound);
                let state = AdminState {
                    cell: cell.clone(),
                    metrics: metrics.clone(),
                    builder: handle.clone(),
                    board: board.clone(),
                    shutdown: cancel.clone(),
                    overrides: override_list.clone(),
                    saved: saved.clone(),
                    limits: admin::listener::Limits {
                        max_connections: server_cfg.admin_max_connections,
                        timeout: server_cfg.admin_timeout,
                    },
                    documents: Default::default(),
                    access: access.clone(),
                };
                tasks.spawn(admin::serve(listener, state));
                info!(admin = %bound, access = access.describe(), "admin API listening");
                Some(bound)
            }
        };
        Ok(Self {
            dns_addrs,
            cell,
            builder: handle,
            metrics,
            admin_addr,
            board,
            cancel,
            tasks,
            udp,
            tcp: tcp_servers,
        })
    }

    /// The handle that stops the server's tasks.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stops listening and waits up to `grace` for tasks to finish.
    pub async fn shutdown(mut self, grace: Duration) {
        self.cancel.cancel();
        self.udp.iter().for_each(UdpListener::stop);
        for mut server in self.tcp.drain(..) {
            if tokio::time::timeout(grace, server.shutdown_gracefully())
                .await
                .is_err()
            {
                warn!("TCP connections still open after the grace period");
            }
        }
        let udp = std::mem::take(&mut self.udp);
        let _ =
            tokio::task::spawn_blocking(move || udp.into_iter().for_each(UdpListener::join)).await;
        if tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            warn!("tasks still running after the grace period");
            self.tasks.abort_all();
        }
        info!("stopped");
    }
}

/// Binds UDP workers and a TCP listener on the same address. With port 0
/// the UDP port is chosen first and TCP follows it; if another process holds
/// that TCP port, both are released and a new port is tried.
async fn bind_dns(
    addr: SocketAddr,
    server: &crate::model::Server,
    cell: &SnapshotCell,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<(
    UdpListener,
    SocketAddr,
    hickory_server::Server<tcp::TcpHandler>,
)> {
    const ATTEMPTS: usize = 20;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let listener = UdpListener::start(addr, server.udp_workers, cell.clone(), metrics.clone())
            .with_context(|| format!("binding UDP {addr}"))?;
        let bound = listener.local_addr;
        let handler = tcp::TcpHandler::new(cell.clone(), metrics.clone());
        match tcp::start(bound, server.tcp_idle_timeout, handler).await {
            Ok((tcp_addr, tcp_server)) => return Ok((listener, tcp_addr, tcp_server)),
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
