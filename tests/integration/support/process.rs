//! The real `gslb serve` binary as a child process, for tests where
//! process behaviour matters: file descriptor limits, CPU time, memory,
//! signals and exit.

use std::{
    net::{IpAddr, SocketAddr, TcpListener, UdpSocket},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use tokio::net::{TcpSocket, TcpStream};

use crate::support::harness::eventually;

/// A zone for process tests; no GeoIP database, to keep descriptors few.
const ZONES: &str = r#"zones:
  - origin: global.example.test.
    ttl: 30
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 20 }
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
"#;

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub(crate) fn free_dns_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// An admin address free on 127.0.0.1 right now.
pub(crate) fn free_admin_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free admin port")
}

/// A process test's config: `server:` with the listeners and `server_extra`
/// (lines indented two spaces), the test zone, then `rest`.
pub(crate) fn config_text(
    dns: SocketAddr,
    admin: SocketAddr,
    server_extra: &str,
    rest: &str,
) -> String {
    format!(
        "server:\n  dns_listen: [\"{dns}\"]\n  admin_listen: \"{admin}\"\n  udp_workers: 2\n{server_extra}{ZONES}{rest}"
    )
}

/// A running `gslb serve`, killed if the test ends first.
pub(crate) struct Process {
    child: Child,
    /// DNS address, UDP and TCP.
    pub(crate) dns: SocketAddr,
    /// Admin API address.
    pub(crate) admin: SocketAddr,
    log: PathBuf,
    client: reqwest::Client,
    /// `http`, or `https` after [`Process::with_https`].
    scheme: &'static str,
    /// How it was started, for [`Process::relaunch`].
    launch: Launch,
    _dir: tempfile::TempDir,
}

/// What starts a `gslb serve`: its config file, extra environment and
/// open-file limit.
struct Launch {
    config: PathBuf,
    env: Vec<(String, String)>,
    nofile: Option<u32>,
}

impl Launch {
    /// Starts gslb with its output appended to `log`.
    fn start(&self, log: &std::path::Path) -> Child {
        let binary = env!("CARGO_BIN_EXE_gslb");
        let mut command = match self.nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        command
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        command.spawn().expect("spawn gslb")
    }
}

impl Process {
    /// Starts `gslb serve` with extra `server:` lines (indented two
    /// spaces), the given `records:`/`health_checks:` text and environment,
    /// under an open-file limit when `nofile` is set (soft and hard, as
    /// `ulimit -n` sets them).
    pub(crate) fn spawn(
        server_extra: &str,
        rest: &str,
        env: &[(&str, &str)],
        nofile: Option<u32>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let dns: SocketAddr = ([127, 0, 0, 1], free_dns_port()).into();
        let admin = free_admin_addr();
        let config = dir.path().join("gslb.yaml");
        std::fs::write(&config, config_text(dns, admin, server_extra, rest)).expect("write config");
        Self::start(dir, config, dns, admin, env, nofile)
    }

    /// Starts `gslb serve --config config`, which listens on `dns` and
    /// `admin`; its log goes into `dir`, which lives as long as it.
    pub(crate) fn start(
        dir: tempfile::TempDir,
        config: PathBuf,
        dns: SocketAddr,
        admin: SocketAddr,
        env: &[(&str, &str)],
        nofile: Option<u32>,
    ) -> Self {
        let log = dir.path().join("gslb.log");
        let launch = Launch {
            config,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            nofile,
        };
        let child = launch.start(&log);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("HTTP client");
        Self {
            child,
            dns,
            admin,
            log,
            client,
            scheme: "http",
            launch,
            _dir: dir,
        }
    }

    /// Talks to its admin API over HTTPS (it has `server.admin_tls`),
    /// trusting the CA in `ca_pem`.
    pub(crate) fn with_https(mut self, ca_pem: &str) -> Self {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA certificate");
        self.client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .add_root_certificate(ca)
            .build()
            .expect("HTTPS client");
        self.scheme = "https";
        self
    }

    /// Kills gslb with SIGKILL (no goodbye: nothing is flushed or saved on
    /// the way out); [`Process::relaunch`] starts it again.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts gslb again (after [`Process::kill`]) with the same config,
    /// addresses and environment; its log goes on in the same file.
    pub(crate) fn relaunch(&mut self) {
        self.kill();
        self.child = self.launch.start(&self.log);
    }

    /// Its log so far, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET on the admin API: (status, body), or `None` if it does not
    /// answer within a second.
    pub(crate) async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = self
            .client
            .get(format!("{}://{}{path}", self.scheme, self.admin))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Waits (bounded) until `/readyz` says ready.
    pub(crate) async fn wait_ready(&self) {
        let ready = eventually(Duration::from_secs(20), async || {
            matches!(self.get("/readyz").await, Some((200, _)))
        })
        .await;
        assert!(ready.is_some(), "gslb became ready; log:\n{}", self.log());
    }

    /// The value of one metric line (`name{labels}`), if served.
    pub(crate) async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await?;
        text.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id()))
            .unwrap_or_else(|e| panic!("reading /proc/PID/{name}: {e}; log:\n{}", self.log()))
    }

    /// CPU time used so far (user + system), from /proc/PID/stat.
    pub(crate) fn cpu(&self) -> Duration {
        let stat = self.proc_file("stat");
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 (1-based), in 1/100 s on Linux.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// Resident memory, from /proc/PID/status.
    pub(crate) fn rss_kib(&self) -> u64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends a signal by name (`TERM`, `HUP`).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// The exit status, if it exits within `limit`.
    pub(crate) async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP connection to `to` from the loopback address `from`.
pub(crate) async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match from {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind((from, 0).into())?;
    socket.connect(to).await
}
