//! Starting servers and asking them questions.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    sync::Once,
    time::Duration,
};

use gslb::app::Server;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long a test waits for one response.
pub(crate) const WAIT: Duration = Duration::from_secs(2);

/// A zone header for test configs; `{geoip}` is replaced with the test
/// City database.
pub(crate) const ZONE: &str = r#"
server:
  dns_listen: ["127.0.0.1:0"]
  admin_listen: "127.0.0.1:0"
  geoip_database: "{geoip}"
  udp_workers: 2
zones:
  - origin: global.example.test.
    ttl: 30
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 20 }
    nameservers:
      ns1.global.example.test.: [192.0.2.53]
"#;

/// A path in the repository.
pub(crate) fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Logs to the test output once, filtered by RUST_LOG.
pub(crate) fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
    });
}

/// Fills the placeholders of a test config.
pub(crate) fn render(yaml: &str, dir: &Path) -> String {
    yaml.replace(
        "{geoip}",
        &repo("geoip/test-city.mmdb").display().to_string(),
    )
    .replace("{dir}", &dir.display().to_string())
}

/// A server running in this process on an ephemeral port.
pub(crate) struct Gslb {
    /// The running server.
    pub(crate) server: Server,
    /// Its DNS address (UDP and TCP).
    pub(crate) addr: SocketAddr,
    /// Holds the config file.
    pub(crate) dir: tempfile::TempDir,
    /// The config file.
    pub(crate) config: PathBuf,
}

impl Gslb {
    /// Starts a server on `yaml` (placeholders filled).
    pub(crate) async fn start(yaml: &str) -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("gslb.yaml");
        std::fs::write(&config, render(yaml, dir.path())).expect("write config");
        Self::start_file(dir, config, Vec::new()).await
    }

    /// Starts a server on an existing config file with extra environment.
    pub(crate) async fn start_file(
        dir: tempfile::TempDir,
        config: PathBuf,
        env: Vec<(String, String)>,
    ) -> Self {
        init_tracing();
        let loaded = gslb::config::load_with_env(&config, env)
            .unwrap_or_else(|e| panic!("config loads:\n{e}"));
        let server = Server::start(config.clone(), loaded)
            .await
            .expect("server starts");
        let addr = server.dns_addrs[0];
        Self {
            server,
            addr,
            dir,
            config,
        }
    }

    /// Rewrites the config file (placeholders filled).
    pub(crate) fn write_config(&self, yaml: &str) {
        let tmp = self.dir.path().join("gslb.yaml.tmp");
        std::fs::write(&tmp, render(yaml, self.dir.path())).expect("write config");
        std::fs::rename(&tmp, &self.config).expect("replace config");
    }

    /// Asks over UDP.
    pub(crate) async fn udp(&self, query: &Message) -> Message {
        udp(self.addr, query).await
    }

    /// Asks over TCP.
    pub(crate) async fn tcp(&self, query: &Message) -> Message {
        tcp(self.addr, query).await
    }

    /// The admin API base URL.
    pub(crate) fn admin(&self) -> String {
        format!(
            "http://{}",
            self.server
                .admin_addr
                .expect("test configs have an admin API")
        )
    }

    /// GET on the admin API: (status code, body).
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.admin()))
            .await
            .expect("admin API answers");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// PUT JSON on the admin API: (status code, body).
    pub(crate) async fn put(&self, path: &str, json: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .put(format!("{}{path}", self.admin()))
            .header("content-type", "application/json")
            .body(json.to_owned())
            .send()
            .await
            .expect("admin API answers");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// Waits (bounded) until the first round of health checks is served.
    pub(crate) async fn wait_ready(&self) {
        let ready = eventually(Duration::from_secs(10), async || {
            self.get("/readyz").await.0 == 200
        })
        .await;
        assert!(ready.is_some(), "/readyz turned ready");
    }

    /// The value of one metric line (`name{labels}`), rendered now from the
    /// server's counters: `/metrics` over HTTP may be up to a second behind
    /// by design (`admin::rendered`), and tests compare counts taken moments
    /// apart.
    pub(crate) async fn metric(&self, series: &str) -> Option<f64> {
        let text = gslb::admin::prometheus::render(
            &self.server.metrics,
            self.server.cell.load_full(),
            self.server.board.ready(),
        );
        text.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// The A answer for `name` from 127.0.0.1, without ECS.
    pub(crate) async fn a(&self, name: &str) -> Vec<IpAddr> {
        addrs(&self.udp(&query(name, RecordType::A)).await)
    }

    /// The addresses answered for `name` over UDP, with an ECS subnet.
    pub(crate) async fn a_with_ecs(
        &self,
        name: &str,
        subnet: &str,
        prefix: u8,
    ) -> (Vec<IpAddr>, Option<u8>) {
        let response = self
            .udp(&with_ecs(query(name, RecordType::A), subnet, prefix))
            .await;
        (addrs(&response), ecs_scope(&response))
    }
}

/// A recursion-desired query with a random id.
pub(crate) fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii(name).expect("test name"),
        rtype,
    ));
    m
}

/// Adds EDNS with a client subnet.
pub(crate) fn with_ecs(mut m: Message, subnet: &str, prefix: u8) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    let addr: IpAddr = subnet.parse().expect("test subnet");
    edns.options_mut()
        .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
    m.set_edns(edns);
    m
}

/// Sends raw bytes over UDP from `from`; the response bytes, or `None`
/// after `wait`.
pub(crate) async fn raw_udp_from(
    from: IpAddr,
    to: SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((from, 0))
        .await
        .expect("bind client socket");
    socket.send_to(bytes, to).await.expect("send");
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Asks over UDP from 127.0.0.1 and decodes the answer.
pub(crate) async fn udp(to: SocketAddr, query: &Message) -> Message {
    udp_from("127.0.0.1".parse().expect("ip"), to, query).await
}

/// Asks over UDP from a given loopback source.
pub(crate) async fn udp_from(from: IpAddr, to: SocketAddr, query: &Message) -> Message {
    let bytes = query.to_vec().expect("encode query");
    let response = raw_udp_from(from, to, &bytes, WAIT)
        .await
        .expect("a UDP response");
    let message = Message::from_vec(&response).expect("response decodes");
    assert_eq!(
        message.metadata.id, query.metadata.id,
        "response id matches"
    );
    message
}

/// Asks over TCP and decodes the answer.
pub(crate) async fn tcp(to: SocketAddr, query: &Message) -> Message {
    let bytes = query.to_vec().expect("encode query");
    let response = tokio::time::timeout(WAIT, raw_tcp(to, &bytes))
        .await
        .expect("TCP response in time")
        .expect("a TCP response");
    Message::from_vec(&response).expect("response decodes")
}

/// One length-prefixed exchange on a new TCP connection.
pub(crate) async fn raw_tcp(to: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(to).await?;
    stream
        .write_all(&(bytes.len() as u16).to_be_bytes())
        .await?;
    stream.write_all(bytes).await?;
    let len = stream.read_u16().await?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

/// A and AAAA addresses of the answer section.
pub(crate) fn addrs(m: &Message) -> Vec<IpAddr> {
    record_addrs(&m.answers)
}

/// A and AAAA addresses among `records`.
pub(crate) fn record_addrs(records: &[hickory_proto::rr::Record]) -> Vec<IpAddr> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// The scope prefix of the echoed client subnet.
pub(crate) fn ecs_scope(m: &Message) -> Option<u8> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(subnet) => Some(subnet.scope_prefix()),
        _ => None,
    }
}

/// Parses a list of addresses.
pub(crate) fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter()
        .map(|s| s.parse().expect("test address"))
        .collect()
}

/// Polls `check` every 20 ms until it holds or `limit` passes; returns how
/// long it took.
pub(crate) async fn eventually(
    limit: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> Option<Duration> {
    let started = tokio::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The external tools `build.rs` did not find when it built this test
/// binary (`kube-apiserver`, `port-53` for the right to bind it, or an
/// executable name). A test that needs one is marked
/// `#[cfg_attr(not(has_TOOL), ignore = "needs TOOL ...")]`, so `cargo test`
/// lists it as ignored with the reason.
pub(crate) fn missing_tools() -> Vec<&'static str> {
    env!("GSLB_MISSING_TOOLS").split_whitespace().collect()
}

/// Fails when any of `needed` is missing and `GSLB_REQUIRE_TOOLS=1` (set by
/// `.ci/run`, which installs them): there the ignored tests would
/// otherwise let a run go green without them. Each test binary calls it
/// from a `required_tools_are_installed` test with the tools its tests use.
pub(crate) fn check_required_tools(needed: &[&str]) {
    let missing: Vec<&str> = missing_tools()
        .into_iter()
        .filter(|tool| needed.contains(tool))
        .collect();
    let required = std::env::var("GSLB_REQUIRE_TOOLS").as_deref() == Ok("1");
    if required {
        assert!(
            missing.is_empty(),
            "GSLB_REQUIRE_TOOLS=1 but the tests that need these were built as ignored: {}. \
             Install them (.ci/run shows how; port-53 means running as root); build.rs \
             notices a new executable on PATH by itself, a new kube-apiserver after `touch build.rs`",
            missing.join(", ")
        );
    } else if !missing.is_empty() {
        eprintln!(
            "missing {}: the tests that need them are ignored; .ci/run installs them",
            missing.join(", ")
        );
    }
}
