//! The pieces of the cluster tier: test clusters (`tests/k8s/cluster.sh`)
//! behind a guard that stops them even when a test fails, kubectl, the
//! `gslb crd-sync` and `gslb serve` processes, and bounded polling.

use std::{
    future::Future,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::io::AsyncWriteExt;

use crate::harness::repo;

/// Upper bound of every wait for the sidecar and server to follow a change.
pub(crate) const FOLLOW: Duration = Duration::from_secs(20);

/// A running etcd + kube-apiserver, stopped on drop.
pub(crate) struct Cluster {
    /// State, logs and kubeconfigs (kept when a test fails).
    pub(crate) dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a fresh cluster with RBAC enforced (so the sidecar's token has
    /// only what deploy/rbac.yaml grants) and a short stop timeout.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gslb-k8s-")
            .tempdir()
            .expect("temp dir");
        let cluster = Self { dir };
        cluster.script(&["start"]).await;
        cluster.script(&["apply-crd"]).await;
        cluster
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `cluster.sh COMMAND DIR`, failing the test on error.
    pub(crate) async fn script(&self, args: &[&str]) {
        let out = tokio::process::Command::new(repo("tests/k8s/cluster.sh"))
            .args(args)
            .arg(self.dir.path())
            .env("GSLB_K8S_AUTHORIZATION", "RBAC")
            // kube-apiserver 1.20 waits for open watches on SIGTERM; a test
            // restart need not wait 30 s for it.
            .env("GSLB_K8S_STOP_TIMEOUT", "5")
            .output()
            .await
            .expect("cluster.sh runs");
        assert!(
            out.status.success(),
            "cluster.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs kubectl as the cluster admin; `stdin` is fed to `-f -`.
    pub(crate) async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, stdout, stderr) = self.kubectl_status(args, stdin).await;
        assert!(ok, "kubectl {args:?} failed: {stderr}");
        stdout
    }

    /// `kubectl apply [args] -k dir`, for the 1.20 API server: the
    /// rendered PodDisruptionBudget is sent as policy/v1beta1 (policy/v1
    /// came in 1.21 and is the only one from 1.25; the spec is the same).
    pub(crate) async fn apply_kustomization(&self, dir: &str, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.apply_kustomization_status(dir, args).await;
        assert!(ok, "kubectl apply {args:?} -k {dir} failed: {stderr}");
        stdout
    }

    /// [`apply_kustomization`](Self::apply_kustomization); (success,
    /// stdout, stderr).
    pub(crate) async fn apply_kustomization_status(
        &self,
        dir: &str,
        args: &[&str],
    ) -> (bool, String, String) {
        let rendered = self.kubectl(&["kustomize", dir], None).await;
        let rendered = rendered.replace(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget",
            "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget",
        );
        let mut apply = vec!["apply"];
        apply.extend_from_slice(args);
        apply.extend_from_slice(&["-f", "-"]);
        self.kubectl_status(&apply, Some(&rendered)).await
    }

    /// Runs kubectl; (success, stdout, stderr).
    pub(crate) async fn kubectl_status(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> (bool, String, String) {
        let mut child = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.path("kubeconfig"))
            .arg("--request-timeout=10s")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().expect("piped stdin");
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .await
            .expect("write kubectl stdin");
        drop(input);
        let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .expect("kubectl finishes within 30 s")
            .expect("kubectl output");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Prints the last lines of every log (`*.log` in the cluster dir: the
    /// API server's, etcd's, the sidecars'), for a failing test.
    fn dump_logs(&self) {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "log"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "---- last lines of {} ----\n{}",
                log.display(),
                tail.join("\n")
            );
        }
    }

    /// Starts `n` independent clusters at once, each with its own etcd and
    /// API server on free loopback ports.
    pub(crate) async fn start_many(n: usize) -> Vec<Self> {
        futures_util::future::join_all((0..n).map(|_| Self::start())).await
    }

    /// The API server's URL.
    pub(crate) fn url(&self) -> String {
        let ports = std::fs::read_to_string(self.path("ports")).expect("ports file");
        let port = ports
            .lines()
            .find_map(|l| l.strip_prefix("APISERVER_PORT="))
            .expect("APISERVER_PORT in the ports file");
        format!("https://127.0.0.1:{port}")
    }

    /// A token file's content: `sync-token` (the sidecar's own service
    /// account) or `remote-token` (the one other clusters use).
    pub(crate) fn token(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file))
            .expect("token file")
            .trim()
            .to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
            eprintln!("cluster state kept in {}", self.dir.path().display());
        }
        // Synchronous: Drop cannot await, and the processes must not outlive
        // the test.
        let stopped = Command::new(repo("tests/k8s/cluster.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .env("GSLB_K8S_STOP_TIMEOUT", "5")
            .stdout(Stdio::null())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            eprintln!(
                "WARNING: cluster.sh stop failed for {}",
                self.dir.path().display()
            );
        }
        if std::thread::panicking() {
            // Keep the logs to read after the run.
            let _ = std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("placeholder temp dir"),
            )
            .keep();
        }
    }
}

/// A `gslb crd-sync` process, killed on drop.
pub(crate) struct Sidecar {
    child: Child,
    /// Its admin address.
    pub(crate) admin: std::net::SocketAddr,
}

impl Sidecar {
    /// Starts the built binary against the cluster as the sidecar's service
    /// account, logging to `crd-sync.log` in the cluster dir.
    pub(crate) fn start(cluster: &Cluster, output: &Path, zones: &Path) -> Self {
        let kubeconfig = cluster.path("kubeconfig-sync");
        Self::start_with(
            &cluster.path("crd-sync.log"),
            "crd-sync-test",
            &[
                "--kubeconfig".as_ref(),
                kubeconfig.as_os_str(),
                "--output".as_ref(),
                output.as_os_str(),
                "--zones".as_ref(),
                zones.as_os_str(),
            ],
        )
    }

    /// Starts `gslb crd-sync ARGS` as pod `pod`, appending to `log`, with
    /// its admin port on a free port and a 2 s resync.
    pub(crate) fn start_with(log: &Path, pod: &str, args: &[&std::ffi::OsStr]) -> Self {
        let admin = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_gslb"))
            .arg("crd-sync")
            .args(args)
            .arg("--admin-listen")
            .arg(admin.to_string())
            // Short, so the test sees a replaced record file repaired.
            .args(["--resync", "2s"])
            .env("RUST_LOG", "info,gslb=debug")
            .env("POD_NAME", pod)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("gslb crd-sync starts");
        Self { child, admin }
    }

    /// The value of one series of its /metrics, e.g.
    /// `gslb_crd_sync_cluster_up{cluster="us"}`.
    /// `None` also while the admin port is not open yet.
    pub(crate) fn metric(&self, series: &str) -> Option<f64> {
        try_get(self.admin, "/metrics")?.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
    }

    /// Stops it with SIGTERM and returns whether it exited cleanly.
    pub(crate) fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A free loopback port (a small race with other binds is acceptable here).
pub(crate) fn free_port() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr")
}

/// GET `path` from `addr` with a bare HTTP/1.1 request; the body.
pub(crate) fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .expect("connect to admin port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`;
/// fails the test naming `what` otherwise.
pub(crate) async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `gslb serve` process (the built binary) on a free loopback port,
/// killed on drop.
pub(crate) struct Serve {
    child: Child,
    /// Its DNS address (UDP and TCP).
    pub(crate) dns: std::net::SocketAddr,
    /// Its admin API address.
    pub(crate) admin: std::net::SocketAddr,
}

impl Serve {
    /// Starts `gslb serve --config CONFIG`, where `config` is given the DNS
    /// and admin addresses to fill in, logging to `log`; returns once
    /// `/readyz` answers 200 (20 s bound).
    pub(crate) async fn start(
        dir: &Path,
        log: &Path,
        config: impl Fn(std::net::SocketAddr, std::net::SocketAddr) -> String,
    ) -> Self {
        let dns = loop {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
            let addr = udp.local_addr().expect("local addr");
            if TcpListener::bind(addr).is_ok() {
                break addr;
            }
        };
        let admin = free_port();
        let path = dir.join("gslb.yaml");
        std::fs::write(&path, config(dns, admin)).expect("write config");
        let log = std::fs::File::create(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_gslb"))
            .arg("serve")
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("gslb serve starts");
        let serve = Self { child, dns, admin };
        eventually("gslb serve is ready", FOLLOW, || async {
            ready(admin).then_some(())
        })
        .await;
        serve
    }
}

/// Whether `/readyz` on `admin` answers 200.
fn ready(admin: std::net::SocketAddr) -> bool {
    try_get(admin, "/readyz").is_some()
}

/// The body of `GET path` from `addr` when it answers 200; `None` when it
/// cannot be reached or answers something else.
fn try_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    if !response.starts_with("HTTP/1.1 200") {
        return None;
    }
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
