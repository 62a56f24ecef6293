//! The reload task: where new configs come from.
//!
//! It watches the config and record files ([`super::watch`]), takes
//! reload requests (SIGHUP), and loads on a blocking thread, at most one
//! load at a time. A config that passes validation goes to the table
//! writer as [`Reloaded`]; a rejected one is logged and counted and the
//! writer never hears of it, so the served snapshot stays as it was.
//!
//! The admin API's certificate and key are among the files a load reads,
//! so a renewed pair (cert-manager rewriting a Secret) reloads the config
//! like an edit does, and a load that read a new pair publishes it
//! ([`Reloader::subscribe_admin_key`]): new TLS handshakes use it, open
//! connections keep theirs.
//!
//! The GeoIP database (`server.geoip_database`) is one of the files too:
//! replaced on disk (geoipupdate renames a new download over it) it
//! reloads the config, whose load opens the new file ([`super::geoip`]),
//! logs it with the database's build time and counts it; a replacement
//! that does not open keeps the database being served, logged and counted
//! as a failure, and the rest of the config still applies.
//!
//! Two guarantees hold across a load: a file event that arrives while a
//! load runs waits in the ping channel and is compared afterwards, so an
//! edit landing mid-load is never lost; and a file event only reloads when
//! a file differs from what the last attempt read ([`crate::config::input::Inputs`]), so
//! a broken file is not retried until it changes again (or SIGHUP asks).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use rustls::sign::CertifiedKey;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{Baseline, ConfigFiles, GeoOutcome, Inputs, Loaded, watch::FileWatch};
use crate::metrics::Metrics;
use crate::model::Server;

/// How long file events settle before a reload, so a burst of writes
/// (temp file, write, rename) makes one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// A config that passed validation, for the table writer to apply.
pub struct Reloaded {
    /// The config and what it was read from.
    pub loaded: Loaded,
    /// What asked for it (`signal`, `file change`), for the log.
    pub trigger: &'static str,
}

/// Asks the reload task for a reload (SIGHUP, tests).
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    tx: mpsc::Sender<()>,
}

impl ReloadHandle {
    /// Queues a reload. Requests coalesce: one already waiting reads the
    /// files after this call, which is all a caller can ask for.
    pub fn reload(&self) {
        let _ = self.tx.try_send(());
    }
}

/// The reload task's state.
pub struct Reloader {
    /// The config files (a base and its overlays), re-read on every
    /// reload.
    files: ConfigFiles,
    /// The server settings being served: what restart-only settings are
    /// compared with, and where record files are listed.
    server: Server,
    /// What the next load continues from (caps, record files served).
    baseline: Baseline,
    /// The files the last load attempt read, as it read them.
    tried: Inputs,
    /// Watches the config and record files; made in [`Reloader::new`] so
    /// no edit after start-up can slip past.
    file_watch: FileWatch,
    pings: mpsc::Receiver<()>,
    ping_tx: mpsc::Sender<()>,
    requests: mpsc::Receiver<()>,
    writer: mpsc::Sender<Reloaded>,
    metrics: Arc<Metrics>,
    /// The admin API's certificate and key as last loaded.
    admin_key: watch::Sender<Option<Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloaded")
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reload task for the config in `files`, now serving `loaded`; loaded
    /// configs go to `writer`. Must run inside a Tokio runtime (the file
    /// watch starts here).
    pub fn new(
        files: impl Into<ConfigFiles>,
        loaded: &Loaded,
        writer: mpsc::Sender<Reloaded>,
        metrics: Arc<Metrics>,
    ) -> (Self, ReloadHandle) {
        let (ping_tx, pings) = mpsc::channel(1);
        let (tx, requests) = mpsc::channel(1);
        let server = loaded.config.server.clone();
        let tried = loaded.inputs.clone();
        let files = files.into();
        let file_watch = FileWatch::new(&watched_files(&files, &server, &tried), ping_tx.clone());
        let (admin_key, _) = watch::channel(loaded.admin_key.clone());
        let reloader = Self {
            files,
            server,
            baseline: Baseline::of(loaded),
            tried,
            file_watch,
            pings,
            ping_tx,
            requests,
            writer,
            metrics,
            admin_key,
        };
        (reloader, ReloadHandle { tx })
    }

    /// The admin API's certificate and key: the pair loaded at start, then
    /// each new pair a reload read from the same files. A reload that
    /// changes `server.admin_tls` itself publishes nothing (restart).
    pub fn subscribe_admin_key(&self) -> watch::Receiver<Option<Arc<CertifiedKey>>> {
        self.admin_key.subscribe()
    }

    /// Runs until `cancel` fires or the writer is gone.
    pub async fn run(mut self, cancel: CancellationToken) {
        // Files edited between the initial load and the watch starting.
        self.reload_if_changed().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(()) = self.pings.recv() => {
                    tokio::time::sleep(DEBOUNCE).await;
                    while self.pings.try_recv().is_ok() {}
                    self.reload_if_changed().await;
                }
                Some(()) = self.requests.recv() => self.reload("signal").await,
            }
            if self.writer.is_closed() {
                break;
            }
            let files = watched_files(&self.files, &self.server, &self.tried);
            if !self.file_watch.covers(&files) {
                self.file_watch = FileWatch::new(&files, self.ping_tx.clone());
                // A file in a newly watched directory may have changed after
                // the load read it and before the watch began: compare now.
                let _ = self.ping_tx.try_send(());
            }
        }
        debug!("reload task stopped");
    }

    /// Reloads when a file differs from what the last attempt read. A write
    /// that lands during a load differs from what that load read, so it is
    /// reloaded on its event, which waits in the ping channel meanwhile.
    async fn reload_if_changed(&mut self) {
        let tried = self.tried.clone();
        let changed = tokio::task::spawn_blocking(move || tried.changed())
            .await
            .unwrap_or(true);
        if changed {
            self.reload("file change").await;
        }
    }

    /// Loads the files; hands a valid config to the writer, or logs and
    /// counts why not.
    async fn reload(&mut self, trigger: &'static str) {
        let files = self.files.clone();
        let baseline = self.baseline.clone();
        let attempt = tokio::task::spawn_blocking(move || super::reload(&files, &baseline)).await;
        let attempt = match attempt {
            Ok(attempt) => attempt,
            Err(join_error) => {
                error!(error = %join_error, "reload task failed; still serving the previous config");
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                self.metrics.config.rejected();
                return;
            }
        };
        self.tried = attempt.inputs;
        let geoip = attempt.geoip;
        let loaded = match attempt.result {
            Ok(loaded) => loaded,
            Err(errors) => {
                for e in &errors.0 {
                    error!(file = %e.file, field = %e.path, error = %e.message, "config rejected");
                }
                warn!(
                    trigger,
                    errors = errors.0.len(),
                    "reload failed; still serving the previous config"
                );
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                self.metrics.config.rejected();
                return;
            }
        };
        for warning in &loaded.warnings {
            warn!(%warning, "config");
        }
        warn_on_restart_only_changes(&self.server, &loaded.config.server);
        self.report_geoip(&geoip, &loaded);
        self.publish_admin_key(&loaded);
        self.server = loaded.config.server.clone();
        self.baseline = Baseline::of(&loaded);
        // The writer gone means the server is stopping; `run` ends.
        let _ = self.writer.send(Reloaded { loaded, trigger }).await;
    }
}

impl Reloader {
    /// Logs and counts a GeoIP database this load opened from a new file,
    /// or a replacement it could not open.
    fn report_geoip(&self, outcome: &GeoOutcome, loaded: &Loaded) {
        let (Some(geo), Some(path)) = (&loaded.geo, &loaded.config.server.geoip_database) else {
            return;
        };
        match outcome {
            GeoOutcome::Opened => {
                info!(
                    path = %path.display(),
                    database = geo.database_type(),
                    build_epoch = geo.build_epoch(),
                    "GeoIP database reloaded"
                );
                self.metrics.config.geoip_reloaded(true);
            }
            GeoOutcome::Kept { error } => {
                error!(
                    path = %path.display(),
                    %error,
                    build_epoch = geo.build_epoch(),
                    "GeoIP database file rejected; still serving the database loaded before"
                );
                self.metrics.config.geoip_reloaded(false);
            }
            GeoOutcome::None | GeoOutcome::Same => {}
        }
    }

    /// Hands the listener a renewed certificate and key read from the files
    /// it serves.
    fn publish_admin_key(&self, loaded: &Loaded) {
        let (Some(tls), Some(new)) = (&loaded.config.server.admin_tls, &loaded.admin_key) else {
            return;
        };
        if self.server.admin_tls.as_ref() != Some(tls) {
            return;
        }
        let renewed = self.admin_key.send_if_modified(|current| {
            let same = current.as_ref().is_some_and(|old| old.cert == new.cert);
            if !same {
                *current = Some(new.clone());
            }
            !same
        });
        if renewed {
            info!(
                cert_file = %tls.cert_file.display(),
                "admin API certificate reloaded: new TLS connections get it"
            );
        }
    }
}

/// The config files, the record files being served and the files the last
/// attempt read (a rejected config may name new ones to be fixed; the
/// admin API's certificate and key are among them).
fn watched_files(files: &ConfigFiles, server: &Server, tried: &Inputs) -> Vec<PathBuf> {
    files
        .all()
        .iter()
        .cloned()
        .chain(server.record_files.iter().cloned())
        .chain(tried.paths().map(Path::to_path_buf))
        .collect()
}

/// Settings a reload cannot change in a running server: the operator is
/// told they wait for a restart.
fn warn_on_restart_only_changes(old: &Server, new: &Server) {
    if old.resolvers != new.resolvers || old.alias != new.alias {
        warn!("server.resolvers and server.alias changes take effect after a restart");
    }
    if old.dns_listen != new.dns_listen
        || old.admin_listen != new.admin_listen
        || old.probe_listen != new.probe_listen
        || old.udp_workers != new.udp_workers
    {
        warn!(
            "server.dns_listen, server.admin_listen, server.probe_listen and server.udp_workers changes take effect after a restart"
        );
    }
    if old.admin_tls != new.admin_tls {
        warn!(
            "server.admin_tls changes take effect after a restart (a renewed certificate and key in the same files are taken at once)"
        );
    }
    if old.tcp_idle_timeout != new.tcp_idle_timeout
        || old.tcp_max_connections != new.tcp_max_connections
        || old.tcp_max_connections_per_ip != new.tcp_max_connections_per_ip
        || old.tcp_ipv4_prefix != new.tcp_ipv4_prefix
        || old.tcp_ipv6_prefix != new.tcp_ipv6_prefix
        || old.shutdown_grace != new.shutdown_grace
    {
        warn!(
            "server.tcp_idle_timeout, server.tcp_max_connections, server.tcp_max_connections_per_ip, server.tcp_ipv4_prefix, server.tcp_ipv6_prefix and server.shutdown_grace changes take effect after a restart"
        );
    }
}

#[cfg(test)]
mod tests;
