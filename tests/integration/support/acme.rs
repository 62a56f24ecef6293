//! ACME DNS-01 on loopback, with the authoritative server under test as a
//! parameter: pebble (the ACME test CA) validates through that
//! server, and certbot with its `dns-rfc2136` plugin writes and removes the
//! `_acme-challenge` TXT records with TSIG-signed RFC 2136 updates.
//! `support/dns_update.rs` has the reference clients (nsupdate, dig) and the
//! policy cases; `acme/knot_reference.rs` proves all of it against Knot.
//!
//! # What the server under test must provide
//!
//! An [`UpdateServer`]: an address (UDP and TCP), a zone and a TSIG key.
//! For the end-to-end test, taken from `config/acme/cluster-issuer.yaml`:
//!
//! * **Zone** `global.example.test.`, authoritative (AA) on the address over
//!   UDP and TCP, with its SOA at the apex. certbot finds the zone by asking
//!   SOA for `_acme-challenge.webapp.global.example.test.`, then each parent,
//!   over TCP, until an answer is NOERROR + AA with the SOA in the answer
//!   section; below the apex the answer must be NXDOMAIN or NODATA. certbot
//!   2.1 **signs these queries** with the key: dnspython 2.3 accepts an
//!   unsigned answer, but RFC 8945 §5.3 wants a signed one.
//! * **Key** `acme-update.global.example.test.`, `hmac-sha256`, a random
//!   32-byte secret in base64 (one line; a trailing newline must be allowed,
//!   `openssl rand -base64 32` writes one).
//! * **Policy**: the key may add and delete TXT records at
//!   `_acme-challenge.webapp.global.example.test.` and, for the wildcard
//!   `*.global.example.test`, at `_acme-challenge.global.example.test.`
//!   (RFC 8555 §8.4 drops the `*.`). Nothing else: see
//!   [`crate::support::dns_update::PolicyCase`] for the rejections and their rcodes.
//!   In gslb's config (issue 13's shape; [`UpdateServer::gslb_updates_yaml`]
//!   renders it for a test):
//!
//!   ```yaml
//!   zones:
//!     - origin: global.example.test.
//!       # ttl, soa, nameservers as usual
//!       updates:
//!         keys:
//!           - name: acme-update.global.example.test.
//!             algorithm: hmac-sha256
//!             secret_file: /etc/gslb/acme-update.key
//!         allow:
//!           - key: acme-update.global.example.test.
//!             names: ["_acme-challenge.*"]
//!             types: [TXT]
//!   ```
//! * **UPDATE as the clients send it.** certbot sends one update per record,
//!   over TCP only, signed: add one TXT with TTL 120, later delete that one
//!   RR (class NONE, RFC 2136 §2.5.4), not the RRset; it fails on any rcode
//!   but NOERROR. cert-manager's `rfc2136` solver does the same with TTL 60
//!   over UDP (TCP with `protocol: TCP`); nsupdate sends UDP unless told
//!   `-v`. The records must be visible to queries within certbot's wait
//!   (1 s here) after the NOERROR.
//! * **TXT queries as pebble's validator sends them**: UDP, RD=1, no EDNS,
//!   three per authorization (pebble imitates multi-perspective checks),
//!   answered AA with the TXT records.
//!
//! One server stands here for the zone. In production every name server of
//! the zone must serve the challenge: a CA may ask any of them (Let's
//! Encrypt from several places), and cert-manager checks each one before it
//! tells the CA to look, while a client sends each update to one address.
//!
//! Each harness gets its own [`Block`] (127.0.X.0/24), so tests running at
//! once never meet; daemons die when dropped, a failing test included.

use std::{
    fs::File,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::support::harness::eventually;

/// Harnesses use 127.0.FIRST_BLOCK.0/24 to 127.0.(FIRST_BLOCK + BLOCKS -
/// 1).0/24: clear of the 127.0.0-99.x of the other tests and of the DNS
/// trees' 150-249 (`dns_tree.rs`).
const FIRST_BLOCK: u8 = 100;
const BLOCKS: u8 = 50;
/// The server under test listens here on host 1 (no root needed).
const DNS_PORT: u16 = 5300;
/// pebble's ACME and management ports on host 2.
const PEBBLE_PORTS: [u16; 2] = [14000, 15000];
/// How long a daemon may take to start serving.
const START_LIMIT: Duration = Duration::from_secs(15);
/// The most one certbot run may take (about 6 s when things work; its own
/// network timeout is 45 s).
const CERTBOT_LIMIT: Duration = Duration::from_secs(120);
/// How long certbot waits between writing the TXT records and asking the
/// CA to check them.
const PROPAGATION_SECS: u32 = 1;

/// One harness's addresses: host 1 the server under test (port
/// [`DNS_PORT`]), host 2 pebble.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block(u8);

impl Block {
    /// A block nobody listens on. The tests that call it are ignored when
    /// `build.rs` found no pebble, certbot, nsupdate or dig; certbot's
    /// `dns-rfc2136` plugin (asking certbot takes a second, too slow for
    /// the build script) is checked here, and its absence fails the test.
    pub(crate) fn reserve() -> Self {
        assert!(
            certbot_has_rfc2136(),
            "certbot has no dns-rfc2136 plugin (apt-get install python3-certbot-dns-rfc2136)"
        );
        // Distinct blocks within this process; a random start keeps other
        // processes elsewhere, and the bind check steps over what is taken.
        static START: OnceLock<u8> = OnceLock::new();
        static NEXT: AtomicU8 = AtomicU8::new(0);
        let start = *START.get_or_init(|| rand::random::<u8>() % BLOCKS);
        for _ in 0..BLOCKS {
            let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed) % BLOCKS) % BLOCKS;
            let block = Self(FIRST_BLOCK + offset);
            if block.is_free() {
                return block;
            }
        }
        panic!("no free 127.0.X.0/24 for an ACME harness");
    }

    /// Whether the block's ports can be bound.
    fn is_free(&self) -> bool {
        let dns = SocketAddr::new(self.ip(1), DNS_PORT);
        let dns_free =
            std::net::UdpSocket::bind(dns).is_ok() && std::net::TcpListener::bind(dns).is_ok();
        dns_free
            && PEBBLE_PORTS
                .iter()
                .all(|&port| std::net::TcpListener::bind((self.ip(2), port)).is_ok())
    }

    /// Host `host` of the block.
    pub(crate) fn ip(&self, host: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, self.0, host))
    }

    /// Where the server under test listens, UDP and TCP.
    pub(crate) fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip(1), DNS_PORT)
    }
}

/// Whether certbot lists the `dns-rfc2136` authenticator (asked once per
/// process: it takes certbot about a second; given up after
/// [`START_LIMIT`]).
fn certbot_has_rfc2136() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let Ok(dir) = tempfile::tempdir() else {
            return false;
        };
        let spawned = Command::new("certbot")
            .args(["plugins", "--authenticators"])
            .args(certbot_dirs(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = spawned else {
            return false;
        };
        let started = std::time::Instant::now();
        while matches!(child.try_wait(), Ok(None)) && started.elapsed() < START_LIMIT {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        // The list is a few hundred bytes: it fits the pipe, so certbot
        // never blocked writing it.
        child
            .wait_with_output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("dns-rfc2136"))
    })
}

/// A TSIG algorithm, with the spelling each tool wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsigAlgorithm {
    HmacSha256,
    HmacSha512,
}

impl TsigAlgorithm {
    /// The name in gslb's config, Knot's config and nsupdate's `-y`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// The name in certbot's credentials file.
    fn certbot(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMAC-SHA256",
            Self::HmacSha512 => "HMAC-SHA512",
        }
    }

    /// From cert-manager's `tsigAlgorithm` (case-insensitive there too).
    pub(crate) fn from_cert_manager(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "HMACSHA256" => Some(Self::HmacSha256),
            "HMACSHA512" => Some(Self::HmacSha512),
            _ => None,
        }
    }
}

/// A TSIG key as the server and the clients share it.
#[derive(Debug, Clone)]
pub(crate) struct TsigKey {
    /// Absolute, with the trailing dot.
    pub(crate) name: String,
    pub(crate) algorithm: TsigAlgorithm,
    /// The secret in base64, as key files and Kubernetes Secrets hold it.
    pub(crate) secret: String,
}

impl TsigKey {
    /// A key with a fresh random 32-byte secret.
    pub(crate) fn generate(name: &str, algorithm: TsigAlgorithm) -> Self {
        let bytes: [u8; 32] = rand::random();
        Self {
            name: name.to_owned(),
            algorithm,
            secret: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The same name and algorithm with another secret.
    pub(crate) fn with_other_secret(&self) -> Self {
        Self::generate(&self.name, self.algorithm)
    }
}

/// The authoritative server under test: where it listens (UDP and TCP),
/// the zone it serves and the key its update policy allows.
#[derive(Debug, Clone)]
pub(crate) struct UpdateServer {
    pub(crate) addr: SocketAddr,
    /// Absolute, with the trailing dot.
    pub(crate) zone: String,
    pub(crate) key: TsigKey,
}

impl UpdateServer {
    /// The `updates:` entry of the zone in gslb's config (issue 13's shape)
    /// that lets the key write the challenge records, indented for a zone
    /// in the `zones:` list; `secret_file` holds [`TsigKey::secret`].
    pub(crate) fn gslb_updates_yaml(&self, secret_file: &Path) -> String {
        format!(
            "    updates:\n\
             \x20     keys:\n\
             \x20       - name: {key}\n\
             \x20         algorithm: {algorithm}\n\
             \x20         secret_file: \"{file}\"\n\
             \x20     allow:\n\
             \x20       - key: {key}\n\
             \x20         names: [\"_acme-challenge.*\"]\n\
             \x20         types: [TXT]\n",
            key = self.key.name,
            algorithm = self.key.algorithm.name(),
            file = secret_file.display(),
        )
    }
}

/// The owner of the DNS-01 TXT record for a certificate name (RFC 8555
/// §8.4): `_acme-challenge.` before the name, a wildcard's `*.` dropped.
pub(crate) fn challenge_name(domain: &str) -> String {
    let base = domain.strip_prefix("*.").unwrap_or(domain);
    format!("_acme-challenge.{}.", base.trim_end_matches('.'))
}

/// A program in the foreground with its output in a log file, killed on
/// drop.
pub(crate) struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `command` with its output going to `log`.
    pub(crate) fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Self {
        let file = File::create(&log).expect("daemon log");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { name, child, log }
    }

    /// What the daemon logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `ready` holds; panics with the daemon's log if it does
    /// not within [`START_LIMIT`].
    pub(crate) async fn wait_until(&mut self, what: &str, ready: impl AsyncFnMut() -> bool) {
        if eventually(START_LIMIT, ready).await.is_none() {
            let exited = self.child.try_wait().ok().flatten();
            panic!(
                "{} is not {what} after {START_LIMIT:?} (exit: {exited:?}); its log:\n{}",
                self.name,
                self.log()
            );
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// pebble on the block's host 2, validating through `dns`.
pub(crate) struct Pebble {
    daemon: Daemon,
    /// The ACME directory URL.
    pub(crate) directory: String,
    /// The CA of pebble's HTTPS listener, for the clients.
    ca_file: PathBuf,
    /// Holds the config and the listener's certificate; goes last.
    _dir: tempfile::TempDir,
}

impl Pebble {
    /// Starts pebble with `-dnsserver dns` and waits until it accepts
    /// connections.
    pub(crate) async fn start(block: Block, dns: SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let ip = block.ip(2);
        let ca_file = d.join("listener-ca.pem");
        let (cert, key) = (d.join("listener.pem"), d.join("listener-key.pem"));
        write_listener_certificate(ip, &ca_file, &cert, &key);
        let [acme_port, management_port] = PEBBLE_PORTS;
        // httpPort and tlsPort are where pebble would dial the names for
        // HTTP-01 and TLS-ALPN-01; certbot answers only DNS-01 here, so
        // pebble never does.
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("{ip}:{acme_port}"),
            "managementListenAddress": format!("{ip}:{management_port}"),
            "certificate": cert,
            "privateKey": key,
            "httpPort": 5002,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_file = d.join("pebble.json");
        std::fs::write(&config_file, config.to_string()).expect("pebble config");
        let mut command = Command::new("pebble");
        command
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &dns.to_string()])
            // No random waits before validating; no rejected nonces (each
            // costs the client a retry); and never "always valid", which
            // would pass every challenge without a DNS query.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env_remove("PEBBLE_VA_ALWAYS_VALID");
        let mut daemon = Daemon::spawn("pebble", command, d.join("pebble.log"));
        let acme = SocketAddr::new(ip, acme_port);
        daemon
            .wait_until("listening", async || {
                tokio::net::TcpStream::connect(acme).await.is_ok()
            })
            .await;
        Self {
            daemon,
            directory: format!("https://{acme}/dir"),
            ca_file,
            _dir: dir,
        }
    }

    /// pebble's log: each order, authorization and validation.
    pub(crate) fn log(&self) -> String {
        self.daemon.log()
    }
}

/// A CA and a certificate for `ip` signed by it, as PEM files.
fn write_listener_certificate(ip: IpAddr, ca_file: &Path, cert_file: &Path, key_file: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "gslb test: pebble listener CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let mut leaf = CertificateParams::new(vec![ip.to_string()]).expect("listener params");
    leaf.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().expect("listener key");
    let cert = leaf.signed_by(&key, &ca).expect("listener certificate");
    std::fs::write(ca_file, ca.pem()).expect("write CA");
    std::fs::write(cert_file, cert.pem()).expect("write certificate");
    std::fs::write(key_file, key.serialize_pem()).expect("write key");
}

/// What a certificate that certbot obtained says.
#[derive(Debug)]
pub(crate) struct Issued {
    /// The DNS names of the subject alternative name extension, in order.
    pub(crate) dns_names: Vec<String>,
    /// The issuer's distinguished name.
    pub(crate) issuer: String,
}

impl Issued {
    /// Parses a full chain (leaf first) and checks that the next
    /// certificate in it signed the leaf.
    fn from_chain(pem: &[u8]) -> Result<Self, String> {
        let ders = x509_parser::pem::Pem::iter_from_buffer(pem)
            .map(|p| p.map(|p| p.contents))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("reading the chain: {e}"))?;
        let [leaf, issuer, ..] = &ders[..] else {
            return Err(format!("a chain of {} certificates", ders.len()));
        };
        let (_, leaf) = X509Certificate::from_der(leaf).map_err(|e| format!("leaf: {e}"))?;
        let (_, issuer) = X509Certificate::from_der(issuer).map_err(|e| format!("issuer: {e}"))?;
        leaf.verify_signature(Some(issuer.public_key()))
            .map_err(|e| format!("the leaf is not signed by the next certificate: {e}"))?;
        let san = leaf
            .subject_alternative_name()
            .map_err(|e| format!("subjectAltName: {e}"))?
            .ok_or("no subjectAltName")?;
        let dns_names = san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(name) => Some((*name).to_owned()),
                _ => None,
            })
            .collect();
        Ok(Self {
            dns_names,
            issuer: leaf.issuer().to_string(),
        })
    }
}

/// Obtains a certificate for `names` from `pebble` with certbot's
/// `dns-rfc2136` plugin, writing the challenges into `server`. The error
/// carries certbot's output and the end of its debug log.
pub(crate) async fn certbot(
    pebble: &Pebble,
    server: &UpdateServer,
    names: &[String],
) -> Result<Issued, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let credentials = d.join("rfc2136.ini");
    write_private(
        &credentials,
        &format!(
            "dns_rfc2136_server = {ip}\n\
             dns_rfc2136_port = {port}\n\
             dns_rfc2136_name = {name}\n\
             dns_rfc2136_secret = {secret}\n\
             dns_rfc2136_algorithm = {algorithm}\n",
            ip = server.addr.ip(),
            port = server.addr.port(),
            name = server.key.name,
            secret = server.key.secret,
            algorithm = server.key.algorithm.certbot(),
        ),
    );
    let mut command = tokio::process::Command::new("certbot");
    command
        .args(["certonly", "--non-interactive", "--agree-tos"])
        .args(["--register-unsafely-without-email", "--no-eff-email"])
        .args(["--server", &pebble.directory])
        .args(certbot_dirs(d))
        .args([
            "--authenticator",
            "dns-rfc2136",
            "--preferred-challenges",
            "dns",
        ])
        .arg("--dns-rfc2136-credentials")
        .arg(&credentials)
        .args([
            "--dns-rfc2136-propagation-seconds",
            &PROPAGATION_SECS.to_string(),
        ])
        .args(["--cert-name", "global"]);
    for name in names {
        command.args(["-d", name]);
    }
    command
        .env("REQUESTS_CA_BUNDLE", &pebble.ca_file)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for proxy in ["http_proxy", "https_proxy", "all_proxy"] {
        command.env_remove(proxy).env_remove(proxy.to_uppercase());
    }
    let output = match tokio::time::timeout(CERTBOT_LIMIT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("running certbot: {e}")),
        Err(_) => return Err(format!("certbot took more than {CERTBOT_LIMIT:?}")),
    };
    let chain = d.join("config/live/global/fullchain.pem");
    match std::fs::read(&chain) {
        Ok(pem) if output.status.success() => Issued::from_chain(&pem),
        _ => Err(format!(
            "certbot failed ({}):\n{}{}\n--- end of its debug log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            tail(&d.join("logs/letsencrypt.log"), 60),
        )),
    }
}

/// certbot's directories, all under `dir` (nothing under /etc or /var).
fn certbot_dirs(dir: &Path) -> Vec<String> {
    ["config", "work", "logs"]
        .into_iter()
        .flat_map(|sub| [format!("--{sub}-dir"), dir.join(sub).display().to_string()])
        .collect()
}

/// Writes a file only its owner may read (certbot warns about others).
fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    std::io::Write::write_all(&mut file, text.as_bytes()).expect("write credentials");
}

/// The last `lines` lines of a file, or a note that it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
