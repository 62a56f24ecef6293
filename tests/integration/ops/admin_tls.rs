//! The admin API over HTTPS (`server.admin_tls`) with real gslb processes
//! and a private CA made in the test: peers that follow each other over
//! `https://` with `peer_ca_file`, the CLI with `--ca-file`, peers that do
//! not trust the certificate, plain HTTP on the port, stalled handshakes
//! and every other admin protection over TLS, and a renewed certificate
//! served without a restart.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Duration,
};

use hickory_proto::rr::RecordType;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::support::harness::{addrs, eventually, ips, query, udp};
use crate::support::process::{Process, config_text, connect_from, free_admin_addr, free_dns_port};

const NAME: &str = "app.global.example.test.";
const US_SET: &str = "/overrides/app.global.example.test./us";
const TOKEN: &str = "tls-test-token-0123456789abcdef";
const RECORDS: &str = "records:
  - name: app.global.example.test.
    sets:
      - { id: us, targets: [127.0.40.1], priority: 0 }
      - { id: eu, targets: [127.0.40.2], priority: 1 }
";

/// A private CA made for one test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for 127.0.0.1 and localhost and its key, PEM.
    fn leaf(&self) -> (String, String) {
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("leaf params");
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

/// One instance: its addresses, its directory (certificate, key, token,
/// CA files, config), then its process.
struct Instance {
    dns: SocketAddr,
    admin: SocketAddr,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    process: Option<Process>,
}

impl Instance {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("token"), TOKEN).expect("token");
        Self {
            dns: ([127, 0, 0, 1], free_dns_port()).into(),
            admin: free_admin_addr(),
            dir: Some(dir),
            path,
            process: None,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a certificate of `ca` and its key as cert.pem and key.pem.
    fn write_pair(&self, ca: &Ca) {
        let (cert, key) = ca.leaf();
        replace(&self.file("cert.pem"), &cert);
        replace(&self.file("key.pem"), &key);
    }

    /// The `server:` lines serving HTTPS with cert.pem and key.pem.
    fn tls_lines(&self) -> String {
        format!(
            "  admin_tls: {{ cert_file: \"{}\", key_file: \"{}\" }}\n  admin_token_file: \"{}\"\n",
            self.file("cert.pem").display(),
            self.file("key.pem").display(),
            self.file("token").display()
        )
    }

    fn https(&self) -> String {
        format!("https://{}", self.admin)
    }

    /// Starts gslb on `server_extra` and RECORDS; its admin API is
    /// reached over HTTPS trusting `ca` when given.
    fn start(&mut self, name: &str, server_extra: &str, ca: Option<&Ca>) {
        let config = self.file("gslb.yaml");
        let server = format!("  instance: {name}\n{server_extra}");
        std::fs::write(&config, config_text(self.dns, self.admin, &server, RECORDS))
            .expect("config");
        let dir = self.dir.take().expect("started once");
        let process = Process::start(dir, config, self.dns, self.admin, &[], None);
        self.process = Some(match ca {
            Some(ca) => process.with_https(&ca.pem()),
            None => process,
        });
    }

    fn process(&self) -> &Process {
        self.process.as_ref().expect("started")
    }

    async fn answer(&self) -> Vec<IpAddr> {
        addrs(&udp(self.dns, &query(NAME, RecordType::A)).await)
    }
}

/// Replaces `path` the way cert-manager's Secret volume and editors do:
/// a new file renamed over the old one.
fn replace(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write");
    std::fs::rename(&temp, path).expect("rename");
}

/// `gslb ARGS...` to completion: (success, stdout, stderr).
async fn cli(args: Vec<String>) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_gslb"))
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("GSLB_ADMIN_TOKEN")
            .env_remove("GSLB_ADMIN_CA_FILE")
            .output()
            .expect("run gslb")
    })
    .await
    .expect("CLI task");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Waits until `instance` counts `views` fresh peer views.
async fn wait_views(instance: &Instance, views: u32) {
    let fresh = eventually(Duration::from_secs(15), async || {
        instance.process().metric("gslb_peer_views_fresh").await == Some(f64::from(views))
    })
    .await;
    assert!(
        fresh.is_some(),
        "{views} fresh peer views; log:\n{}",
        instance.process().log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_follow_each_other_over_https_and_the_cli_trusts_a_private_ca() {
    let ca = Ca::new("gslb test: admin CA");
    let (mut a, mut b) = (Instance::new(), Instance::new());
    for me in [&a, &b] {
        me.write_pair(&ca);
        replace(&me.file("ca.pem"), &ca.pem());
    }
    let server = |me: &Instance, peer: &str, url: String| {
        format!(
            "{}  peer_ca_file: \"{}\"\n  peers: [{{ name: {peer}, url: \"{url}\" }}]\n",
            me.tls_lines(),
            me.file("ca.pem").display()
        )
    };
    let (a_server, b_server) = (server(&a, "b", b.https()), server(&b, "a", a.https()));
    a.start("a", &a_server, Some(&ca));
    b.start("b", &b_server, Some(&ca));
    a.process().wait_ready().await;
    b.process().wait_ready().await;
    wait_views(&a, 1).await;
    wait_views(&b, 1).await;
    assert!(
        a.process().log().contains("scheme=\"https\""),
        "{}",
        a.process().log()
    );

    // The CLI drains us through a, trusting the CA with --ca-file; b
    // answers the drain within a second.
    let ca_file = a.file("ca.pem").display().to_string();
    let token_file = a.file("token").display().to_string();
    let (ok, out, err) = cli(strings(&[
        "override",
        NAME,
        "us",
        "down",
        "--reason",
        "tls test",
        "--admin",
        &a.https(),
        "--ca-file",
        &ca_file,
        "--token-file",
        &token_file,
    ]))
    .await;
    assert!(ok, "gslb override over HTTPS: {out}{err}");
    let started = Instant::now();
    let drained = eventually(Duration::from_secs(3), async || {
        b.answer().await == ips(&["127.0.40.2"])
    })
    .await;
    let took = started.elapsed();
    assert!(
        drained.is_some(),
        "b drains us; logs:\n{}\n{}",
        a.process().log(),
        b.process().log()
    );
    eprintln!("b drained {took:?} after the override on a (HTTPS exchange)");
    assert!(took <= Duration::from_secs(1), "b took {took:?}");

    // gslb status and explain against b over HTTPS, and what happens
    // without the CA or with http://.
    let (ok, out, err) = cli(strings(&[
        "status",
        "--admin",
        &b.https(),
        "--ca-file",
        &ca_file,
        "--token-file",
        &token_file,
    ]))
    .await;
    assert!(ok && out.contains("down"), "gslb status: {out}{err}");
    let (ok, out, err) = cli(strings(&[
        "explain",
        NAME,
        "--admin",
        &b.https(),
        "--ca-file",
        &ca_file,
        "--token-file",
        &token_file,
    ]))
    .await;
    assert!(ok && out.contains("eu"), "gslb explain: {out}{err}");
    let (ok, _, err) = cli(strings(&[
        "status",
        "--admin",
        &b.https(),
        "--token-file",
        &token_file,
    ]))
    .await;
    assert!(
        !ok && err.contains("UnknownIssuer") && err.contains("--ca-file"),
        "without the CA: {err}"
    );
    let (ok, _, err) = cli(strings(&[
        "status",
        "--admin",
        &format!("http://{}", b.admin),
        "--token-file",
        &token_file,
    ]))
    .await;
    assert!(
        !ok && err.contains("400") && err.contains("use https://"),
        "plain HTTP: {err}"
    );

    // Plain HTTP to the port gets a 400 that says why, from any client.
    let plain = reqwest::get(format!("http://{}/readyz", a.admin))
        .await
        .expect("a plain HTTP client gets an answer");
    assert_eq!(plain.status().as_u16(), 400);
    assert!(
        plain
            .text()
            .await
            .unwrap_or_default()
            .contains("serves HTTPS only")
    );
    assert!(
        a.process()
            .metric("gslb_admin_tls_handshake_failures_total{reason=\"plain_http\"}")
            .await
            >= Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_does_not_trust_the_certificate_is_not_followed_and_says_why() {
    let ca = Ca::new("gslb test: the right CA");
    let other = Ca::new("gslb test: another CA");
    let (mut a, mut wrong, mut none) = (Instance::new(), Instance::new(), Instance::new());
    a.write_pair(&ca);
    replace(&wrong.file("ca.pem"), &other.pem());
    a.start("a", &a.tls_lines(), Some(&ca));
    let follows_a = |me: &Instance, ca_line: String| {
        format!(
            "  admin_token_file: \"{}\"\n{ca_line}  peers: [{{ name: a, url: \"{}\" }}]\n",
            me.file("token").display(),
            a.https()
        )
    };
    let wrong_server = follows_a(
        &wrong,
        format!("  peer_ca_file: \"{}\"\n", wrong.file("ca.pem").display()),
    );
    let none_server = follows_a(&none, String::new());
    wrong.start("wrong", &wrong_server, None);
    none.start("none", &none_server, None);
    for instance in [&a, &wrong, &none] {
        instance.process().wait_ready().await;
    }
    for instance in [&wrong, &none] {
        let logged = eventually(Duration::from_secs(10), async || {
            instance.process().log().lines().any(|l| {
                l.contains("peer exchange failed")
                    && l.contains("peer=a")
                    && l.contains("UnknownIssuer")
            })
        })
        .await;
        assert!(
            logged.is_some(),
            "the refused certificate is logged; log:\n{}",
            instance.process().log()
        );
        assert_eq!(
            instance.process().metric("gslb_peer_up{peer=\"a\"}").await,
            Some(0.0)
        );
        assert_eq!(
            instance.process().metric("gslb_peer_views_fresh").await,
            Some(0.0)
        );
    }
    assert!(
        a.process()
            .metric("gslb_admin_tls_handshake_failures_total{reason=\"handshake\"}")
            .await
            >= Some(2.0),
        "a counts the handshakes its peers gave up"
    );
}

/// A rustls client trusting `ca`.
fn tls_client(ca: &Ca) -> tokio_rustls::TlsConnector {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.issuer.der().clone())
        .expect("CA into the root store");
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Whether the server closed `stream` (EOF or reset) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    read.await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_handshakes_do_not_block_other_clients_and_every_admin_limit_holds_over_tls() {
    let ca = Ca::new("gslb test: limits CA");
    let mut gslb = Instance::new();
    gslb.write_pair(&ca);
    let server = format!(
        "{}  admin_header_timeout: 2s\n  admin_max_connections_per_client: 3\n",
        gslb.tls_lines()
    );
    gslb.start("limits", &server, Some(&ca));
    gslb.process().wait_ready().await;
    let admin = gslb.admin;

    // 127.0.0.2 opens its share of connections and stalls them: two never
    // send a byte, one sends the start of a ClientHello.
    let stalled_from: IpAddr = "127.0.0.2".parse().expect("ip");
    let mut stalled = Vec::new();
    for i in 0..3 {
        let mut stream = connect_from(stalled_from, admin).await.expect("connect");
        if i == 2 {
            stream
                .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
                .await
                .expect("partial ClientHello");
        }
        stalled.push(stream);
    }
    let opened = Instant::now();
    // A fourth from the same client is over its share: closed at once.
    let mut over = connect_from(stalled_from, admin).await.expect("connect");
    assert!(
        closed_within(&mut over, Duration::from_millis(500)).await,
        "the per-client cap holds before any handshake"
    );
    // Others are served meanwhile, promptly.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA"))
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let asked = Instant::now();
        let response = client
            .get(format!("{}/healthz", gslb.https()))
            .send()
            .await
            .expect("served while others stall");
        assert_eq!(response.status().as_u16(), 200);
        // Well inside the 2 s the stalled connections are held.
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        slowest = slowest.max(asked.elapsed());
    }
    eprintln!("/healthz over HTTPS while another client stalls handshakes: slowest {slowest:?}");
    // The stalled handshakes are cut at admin_header_timeout.
    for stream in &mut stalled {
        assert!(
            closed_within(stream, Duration::from_secs(4)).await,
            "a stalled handshake is closed"
        );
    }
    let held = opened.elapsed();
    eprintln!("stalled handshakes closed {held:?} after they opened (deadline 2 s)");
    assert!(
        held >= Duration::from_millis(1900),
        "not before the deadline"
    );
    assert!(
        gslb.process()
            .metric("gslb_admin_tls_handshake_failures_total{reason=\"timeout\"}")
            .await
            >= Some(3.0)
    );

    // After a finished handshake the head deadline still applies (from an
    // address of its own: 127.0.0.1's pooled connections count against
    // the per-client cap of 3).
    let connector = tls_client(&ca);
    let tcp = connect_from("127.0.0.3".parse().expect("ip"), admin)
        .await
        .expect("connect");
    let server_name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector
        .connect(server_name, tcp)
        .await
        .expect("handshake");
    tls.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("half a head");
    let mut buf = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(4), tls.read_to_end(&mut buf)).await;
    assert!(cut.is_ok(), "a trickled head is cut over TLS too");

    // The token and the body limit.
    let status = client
        .get(format!("{}/status", gslb.https()))
        .send()
        .await
        .expect("GET /status");
    assert_eq!(status.status().as_u16(), 401, "the token is required");
    let large = client
        .put(format!("{}{US_SET}", gslb.https()))
        .bearer_auth(TOKEN)
        // Refused before its body is read, the connection is not reused.
        .header("connection", "close")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .expect("PUT");
    assert_eq!(large.status().as_u16(), 413, "the body limit holds");
    let drain = client
        .put(format!("{}{US_SET}", gslb.https()))
        .bearer_auth(TOKEN)
        .body(r#"{"state": "down"}"#)
        .send()
        .await
        .expect("PUT");
    assert_eq!(drain.status().as_u16(), 200);
}

/// The leaf certificate a TLS handshake with `addr` presents.
async fn served_certificate(connector: &tokio_rustls::TlsConnector, addr: SocketAddr) -> Vec<u8> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let tls = connector.connect(name, tcp).await.expect("handshake");
    let (_, connection) = tls.get_ref();
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.to_vec())
        .expect("a certificate")
}

fn leaf_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_or_moved_one_is_not() {
    let ca = Ca::new("gslb test: renewal CA");
    let mut gslb = Instance::new();
    gslb.write_pair(&ca);
    let first = leaf_der(&std::fs::read_to_string(gslb.file("cert.pem")).expect("cert"));
    let server = gslb.tls_lines();
    gslb.start("renewal", &server, Some(&ca));
    gslb.process().wait_ready().await;
    let connector = tls_client(&ca);
    assert_eq!(served_certificate(&connector, gslb.admin).await, first);

    // Renewed on disk (as cert-manager does): served from the next
    // handshake, with no signal.
    gslb.write_pair(&ca);
    let renewed = leaf_der(&std::fs::read_to_string(gslb.file("cert.pem")).expect("cert"));
    let taken = eventually(Duration::from_secs(20), async || {
        served_certificate(&connector, gslb.admin).await == renewed
    })
    .await;
    assert!(
        taken.is_some(),
        "the renewed certificate is served; log:\n{}",
        gslb.process().log()
    );
    assert!(
        gslb.process()
            .log()
            .contains("admin API certificate reloaded")
    );

    // Other files named in admin_tls wait for a restart, and say so.
    let (other_cert, other_key) = ca.leaf();
    replace(&gslb.file("other-cert.pem"), &other_cert);
    replace(&gslb.file("other-key.pem"), &other_key);
    let config = gslb.file("gslb.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    replace(
        &config,
        &text
            .replace("/cert.pem", "/other-cert.pem")
            .replace("/key.pem", "/other-key.pem"),
    );
    let warned = eventually(Duration::from_secs(20), async || {
        gslb.process()
            .log()
            .contains("server.admin_tls changes take effect after a restart")
    })
    .await;
    assert!(
        warned.is_some(),
        "a changed admin_tls is a restart; log:\n{}",
        gslb.process().log()
    );
    assert_eq!(served_certificate(&connector, gslb.admin).await, renewed);

    // A key that does not match is refused; the pair in force stays.
    let (_, stray_key) = ca.leaf();
    replace(&gslb.file("other-key.pem"), &stray_key);
    gslb.process().signal("HUP");
    let refused = eventually(Duration::from_secs(20), async || {
        gslb.process()
            .log()
            .contains("does not belong to the first certificate")
    })
    .await;
    assert!(
        refused.is_some(),
        "the broken pair is refused with its reason; log:\n{}",
        gslb.process().log()
    );
    assert_eq!(served_certificate(&connector, gslb.admin).await, renewed);
}
