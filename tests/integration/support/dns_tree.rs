//! A DNS tree on loopback, for tests of gslb behind a delegation: one Knot
//! serving the root zone, another serving `example.test.` (which delegates
//! `global.example.test.` to gslb with the records of
//! `config/delegation/parent.zone`), and Unbound resolving from that root,
//! its `subnetcache` module sending ECS to gslb.
//!
//! Every tree gets its own 127.0.X.0/24 and temporary directory, so the
//! trees of tests running at once, in this process or another, never meet.
//! The daemons are killed when the tree is dropped, a failing test included.
//!
//! A signed tree ([`Tree::start_signed`]) is the same with DNSSEC: Knot
//! signs the root and `example.test.` itself (`dnssec-signing: on`, keys
//! it makes), `example.test.` publishes the DS records of
//! `global.example.test.` it is given (what `gslb dnssec ds` prints), the
//! root those of `example.test.`, and Unbound validates from the root's
//! DS, read from Knot's key store with `keymgr`, logging every validation
//! failure (`val-log-level: 2`).

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

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::harness::{eventually, query, raw_udp_from, repo};
use crate::support::zone_keys::run_tool;

/// Trees use 127.0.FIRST_BLOCK.0/24 to 127.0.(FIRST_BLOCK + BLOCKS - 1).0/24,
/// clear of the 127.0.0-99.x the other tests use.
const FIRST_BLOCK: u8 = 150;
const BLOCKS: u8 = 100;
/// The hosts of a block that listen on port 53 (see [`Block`]).
const PORT_53_HOSTS: [u8; 5] = [1, 2, 3, 4, 5];
/// The documentation addresses of `parent.zone`, in the order of
/// [`Block::gslb`].
const DOC_ADDRESSES: [&str; 2] = ["192.0.2.53", "192.0.2.54"];
/// How long a daemon may take to answer its first query.
const START_LIMIT: Duration = Duration::from_secs(15);

/// One tree's addresses: 127.0.X.1 the root server, .2 the `example.test.`
/// server, .3 and .5 gslb (ns1 and ns2), .4 the resolver, .6 to .9 servers
/// of zones gslb delegates ([`Tree::serve_zone`]), and .10 and up free for
/// backends. Port 53 everywhere.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block(u8);

impl Block {
    /// A block nobody listens on. The tests that call it are ignored when
    /// `build.rs` found no knotd, unbound or unbound-control, or no right
    /// to bind port 53; binding is checked again here, for a clear failure.
    pub(crate) fn reserve() -> Self {
        // Distinct blocks within this process; a random start keeps other
        // processes (another `cargo test`) elsewhere, and the bind check
        // steps over anything still in use.
        static START: OnceLock<u8> = OnceLock::new();
        static NEXT: AtomicU8 = AtomicU8::new(0);
        let start = *START.get_or_init(|| rand::random::<u8>() % BLOCKS);
        for _ in 0..BLOCKS {
            let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed) % BLOCKS) % BLOCKS;
            let block = Self(FIRST_BLOCK + offset);
            match block.check_free() {
                Ok(true) => return block,
                Ok(false) => continue,
                Err(error) => panic!(
                    "cannot bind {}:53 ({error}); run as root or with CAP_NET_BIND_SERVICE",
                    block.ip(1)
                ),
            }
        }
        panic!("no free 127.0.X.0/24 for a DNS tree");
    }

    /// Whether every port-53 address of the block is free; an error when
    /// binding is not allowed at all.
    fn check_free(&self) -> std::io::Result<bool> {
        for host in PORT_53_HOSTS {
            let addr = SocketAddr::new(self.ip(host), 53);
            let bound = std::net::UdpSocket::bind(addr)
                .and_then(|_| std::net::TcpListener::bind(addr).map(drop));
            match bound {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Err(e),
                Err(_) => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Host `host` of the block.
    pub(crate) fn ip(&self, host: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, self.0, host))
    }

    /// The addresses gslb listens on, as ns1 and ns2.
    pub(crate) fn gslb(&self) -> [IpAddr; 2] {
        [self.ip(3), self.ip(5)]
    }

    /// The resolver's address.
    pub(crate) fn resolver(&self) -> SocketAddr {
        SocketAddr::new(self.ip(4), 53)
    }

    /// The parent-zone records of `config/delegation/parent.zone` (the
    /// book's, docs/src/dns/delegation.md), with its documentation addresses swapped for this
    /// block's gslb addresses.
    pub(crate) fn delegation_records(&self) -> String {
        let mut records = std::fs::read_to_string(repo("config/delegation/parent.zone"))
            .expect("config/delegation/parent.zone");
        for (doc, ip) in DOC_ADDRESSES.iter().zip(self.gslb()) {
            records = records.replace(doc, &ip.to_string());
        }
        records
    }

    /// The `nameservers:` entries of gslb's zone that match the glue of
    /// [`Self::delegation_records`], as YAML lines indented for a zone.
    pub(crate) fn nameservers_yaml(&self) -> String {
        glue(&self.delegation_records())
            .iter()
            .map(|(name, ips)| {
                let ips: Vec<String> = ips.iter().map(|ip| format!("\"{ip}\"")).collect();
                format!("      {name}: [{}]\n", ips.join(", "))
            })
            .collect()
    }
}

/// Name server names and their glue addresses among zone-file `records`
/// (the A and AAAA lines, `NAME TTL IN A ADDRESS`), in order.
pub(crate) fn glue(records: &str) -> Vec<(String, Vec<IpAddr>)> {
    let mut glue: Vec<(String, Vec<IpAddr>)> = Vec::new();
    for line in records.lines().filter(|l| !l.trim_start().starts_with(';')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, _ttl, "IN", "A" | "AAAA", addr] = fields[..] else {
            continue;
        };
        let addr: IpAddr = addr.parse().expect("glue address");
        match glue.iter_mut().find(|(n, _)| n == name) {
            Some((_, addrs)) => addrs.push(addr),
            None => glue.push((name.to_owned(), vec![addr])),
        }
    }
    glue
}

/// A daemon in the foreground, killed on drop.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(name: &'static str, program: &str, args: &[&str], log: PathBuf) -> Self {
        let file = File::create(&log).expect("daemon log");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        Self { name, child, log }
    }

    /// Waits until `probe` (a query to the daemon) is answered; panics with
    /// the daemon's log if it is not within [`START_LIMIT`].
    async fn wait_serving(&mut self, to: SocketAddr, probe: &Message) {
        let bytes = probe.to_vec().expect("encode query");
        let from: IpAddr = "127.0.0.1".parse().expect("ip");
        let answered = eventually(START_LIMIT, async || {
            raw_udp_from(from, to, &bytes, Duration::from_millis(300))
                .await
                .is_some()
        })
        .await;
        if answered.is_none() {
            let exited = self.child.try_wait().ok().flatten();
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!(
                "{} did not answer on {to} (exit: {exited:?}); its log:\n{log}",
                self.name
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

/// A running tree: root and parent on Knot, Unbound in front.
pub(crate) struct Tree {
    block: Block,
    /// The root's DS records, zone-file lines, when the tree is signed.
    root_ds: Option<Vec<String>>,
    /// Field order is drop order: the resolver stops first, the
    /// directory goes last.
    _unbound: Daemon,
    /// Servers of zones below gslb's ([`Tree::serve_zone`]).
    children: Vec<Daemon>,
    _parent: Daemon,
    _root: Daemon,
    dir: tempfile::TempDir,
}

impl Tree {
    /// Starts the tree of `block` and waits until each server answers.
    pub(crate) async fn start(block: Block) -> Self {
        Self::start_with(block, None).await
    }

    /// Starts a signed tree: Knot signs the root and `example.test.`,
    /// which publishes `gslb_ds` (DS records in zone-file syntax, as
    /// `gslb dnssec ds` prints them) for `global.example.test.`, and
    /// Unbound validates from the root's trust anchor.
    pub(crate) async fn start_signed(block: Block, gslb_ds: &str) -> Self {
        let ds = ds_records(gslb_ds, 3600);
        assert!(
            !ds.is_empty(),
            "no DS record for global.example.test. in {gslb_ds:?}"
        );
        Self::start_with(block, Some(ds)).await
    }

    /// Starts the tree, signed when `gslb_ds` is given (DS records of
    /// gslb's zone for the parent).
    async fn start_with(block: Block, gslb_ds: Option<Vec<String>>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let signed = gslb_ds.is_some();
        let (root_ip, parent_ip) = (block.ip(1), block.ip(2));
        let mut parent_zone = format!(
            "example.test.     3600 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 604800 60\n\
             example.test.     3600 IN NS  ns1.example.test.\n\
             ns1.example.test. 3600 IN A   {parent_ip}\n{}",
            block.delegation_records()
        );
        for ds in gslb_ds.iter().flatten() {
            parent_zone.push_str(&format!("{ds}\n"));
        }
        // The parent first: a signed root publishes the DS of the keys
        // Knot made for the parent when it loaded.
        let mut parent = knot(
            d,
            "parent",
            parent_ip,
            "example.test.",
            &parent_zone,
            signed,
        );
        parent
            .wait_serving(
                SocketAddr::new(parent_ip, 53),
                &query("example.test.", RecordType::SOA),
            )
            .await;
        let mut root_zone = format!(
            ".                     86400 IN SOA ns.root-servers.test. hostmaster.root-servers.test. 1 3600 600 604800 60\n\
             .                     86400 IN NS  ns.root-servers.test.\n\
             ns.root-servers.test. 86400 IN A   {root_ip}\n\
             example.test.         86400 IN NS  ns1.example.test.\n\
             ns1.example.test.     86400 IN A   {parent_ip}\n"
        );
        if signed {
            for ds in knot_ds(d, "parent", "example.test.").await {
                root_zone.push_str(&format!("{ds}\n"));
            }
        }
        let mut root = knot(d, "root", root_ip, ".", &root_zone, signed);
        root.wait_serving(SocketAddr::new(root_ip, 53), &query(".", RecordType::SOA))
            .await;
        let root_ds = if signed {
            Some(knot_ds(d, "root", ".").await)
        } else {
            None
        };
        let hints = format!(
            ".                     3600000 IN NS ns.root-servers.test.\n\
             ns.root-servers.test. 3600000 IN A  {root_ip}\n"
        );
        write(&d.join("root.hints"), &hints);
        write(
            &d.join("unbound.conf"),
            &unbound_conf(d, block, root_ds.as_deref()),
        );
        let conf = d.join("unbound.conf");
        let mut unbound = Daemon::spawn(
            "unbound",
            "unbound",
            &["-d", "-c", path_str(&conf)],
            d.join("unbound.log"),
        );
        unbound
            .wait_serving(block.resolver(), &query("localhost.", RecordType::A))
            .await;
        Self {
            block,
            root_ds,
            _unbound: unbound,
            children: Vec::new(),
            _parent: parent,
            _root: root,
            dir,
        }
    }

    /// The resolver's address.
    pub(crate) fn resolver(&self) -> SocketAddr {
        self.block.resolver()
    }

    /// Starts a Knot serving `zone` from the zone-file `text` on host
    /// `host` (6 to 9) of the block, port 53, as the server of a zone that
    /// gslb delegates; waits until it answers and keeps it until the tree
    /// is dropped.
    pub(crate) async fn serve_zone(
        &mut self,
        name: &'static str,
        host: u8,
        zone: &str,
        text: &str,
    ) {
        assert!((6..=9).contains(&host), "hosts 6 to 9 serve child zones");
        let ip = self.block.ip(host);
        let mut child = knot(self.dir.path(), name, ip, zone, text, false);
        child
            .wait_serving(SocketAddr::new(ip, 53), &query(zone, RecordType::SOA))
            .await;
        self.children.push(child);
    }

    /// One of Unbound's statistics (`unbound-control stats_noreset`).
    pub(crate) fn unbound_stat(&self, key: &str) -> u64 {
        let conf = self.dir.path().join("unbound.conf");
        let out = Command::new("unbound-control")
            .args(["-c", path_str(&conf), "stats_noreset"])
            .output()
            .expect("unbound-control runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in unbound-control stats:\n{text}"))
    }

    /// What Unbound logged so far.
    pub(crate) fn unbound_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }

    /// The lines where Unbound reported a validation failure or a bogus
    /// answer (`val-log-level: 2` logs each one).
    pub(crate) fn validation_failures(&self) -> Vec<String> {
        self.unbound_log()
            .lines()
            .filter(|line| {
                let line = line.to_ascii_lowercase();
                line.contains("validation failure") || line.contains("bogus")
            })
            .map(str::to_owned)
            .collect()
    }

    /// `delv` from `from` through the resolver, validating itself from the
    /// same root trust anchor as Unbound: its whole output. A signed tree
    /// only.
    pub(crate) async fn delv(&self, from: IpAddr, name: &str, rtype: &str) -> String {
        let root_ds = self.root_ds.as_ref().expect("delv needs a signed tree");
        let anchors = self.dir.path().join("delv.anchors");
        if !anchors.exists() {
            write(&anchors, &delv_anchors(root_ds));
        }
        let resolver = self.resolver();
        let mut command = tokio::process::Command::new("delv");
        command
            .arg(format!("@{}", resolver.ip()))
            .args(["-p", &resolver.port().to_string()])
            .args(["-b", &from.to_string()])
            .args(["-a", path_str(&anchors), "+root=."])
            .args([name, rtype]);
        let out = run_tool(command).await;
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// The DS records with SHA-256 digests among zone-file or `keymgr ds`
/// lines (`OWNER [TTL] [IN] DS TAG ALG 2 HEX`), rewritten with `ttl` and
/// the class, as a zone file takes them.
pub(crate) fn ds_records(text: &str, ttl: u32) -> Vec<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with(';'))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|f| f.eq_ignore_ascii_case("DS"))?;
            let (owner, rdata) = (fields.first()?, &fields[at + 1..]);
            // The hex digest may come split in chunks.
            let [tag, alg, "2", hex @ ..] = rdata else {
                return None;
            };
            Some(format!(
                "{owner} {ttl} IN DS {tag} {alg} 2 {}",
                hex.concat()
            ))
        })
        .collect()
}

/// `delv -a`'s file: the DS records as static trust anchors.
fn delv_anchors(ds: &[String]) -> String {
    let mut text = String::from("trust-anchors {\n");
    for record in ds {
        let fields: Vec<&str> = record.split_whitespace().collect();
        if let [owner, _ttl, _class, _ds, tag, alg, digest_type, hex] = fields[..] {
            text.push_str(&format!(
                "    \"{owner}\" static-ds {tag} {alg} {digest_type} \"{hex}\";\n"
            ));
        }
    }
    text.push_str("};\n");
    text
}

/// The DS records of the keys the Knot of tree member `name` made for
/// `zone` (`keymgr ds`), as zone-file lines.
async fn knot_ds(dir: &Path, name: &str, zone: &str) -> Vec<String> {
    let conf = dir.join(name).join("knot.conf");
    let mut command = tokio::process::Command::new("keymgr");
    command.args(["-c", path_str(&conf), zone, "ds"]);
    let out = run_tool(command).await;
    let text = String::from_utf8_lossy(&out.stdout);
    let ds = ds_records(&text, 86400);
    assert!(
        out.status.success() && !ds.is_empty(),
        "keymgr ds {zone}: no DS ({}):\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    ds
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Starts a Knot serving `zone` from `text` on `ip:53`, state under
/// `dir/name`; signing the zone with keys of its own when `signed` (its
/// default policy: ECDSA P-256, a KSK and a ZSK).
fn knot(
    dir: &Path,
    name: &'static str,
    ip: IpAddr,
    zone: &str,
    text: &str,
    signed: bool,
) -> Daemon {
    let home = dir.join(name);
    std::fs::create_dir_all(home.join("db")).expect("knot dirs");
    let zone_file = home.join("zone");
    write(&zone_file, text);
    let conf = home.join("knot.conf");
    write(
        &conf,
        &format!(
            "server:\n    rundir: \"{home}\"\n    listen: {ip}@53\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
             database:\n    storage: \"{home}/db\"\n\
             log:\n  - target: stderr\n    any: info\n\
             template:\n  - id: default\n    zonefile-sync: -1\n    journal-content: none\n\
             zone:\n  - domain: \"{zone}\"\n    file: \"{file}\"\n    dnssec-signing: {signing}\n",
            home = home.display(),
            file = zone_file.display(),
            signing = if signed { "on" } else { "off" },
        ),
    );
    Daemon::spawn(
        name,
        "knotd",
        &["-c", path_str(&conf)],
        home.join("knot.log"),
    )
}

/// Unbound as a site's resolver would run it for gslb: iterating from the
/// root hints, with ECS towards gslb's addresses (`send-client-subnet`)
/// and the cache keyed by the scope gslb answers. With `root_ds`, it
/// validates from that trust anchor and logs why each answer it rejects
/// is bogus.
fn unbound_conf(dir: &Path, block: Block, root_ds: Option<&[String]>) -> String {
    let send_subnet: String = block
        .gslb()
        .iter()
        .map(|ip| format!("    send-client-subnet: {ip}\n"))
        .collect();
    let (modules, validation) = match root_ds {
        None => ("subnetcache iterator", String::new()),
        Some(ds) => (
            "subnetcache validator iterator",
            ds.iter()
                .map(|record| format!("    trust-anchor: \"{record}\"\n"))
                .chain(["    val-log-level: 2\n".to_owned()])
                .collect(),
        ),
    };
    format!(
        "server:\n\
         \x20   interface: {resolver}\n\
         \x20   port: 53\n\
         \x20   outgoing-interface: {resolver}\n\
         \x20   do-ip6: no\n\
         \x20   do-daemonize: no\n\
         \x20   username: \"\"\n\
         \x20   chroot: \"\"\n\
         \x20   directory: \"{dir}\"\n\
         \x20   pidfile: \"{dir}/unbound.pid\"\n\
         \x20   use-syslog: no\n\
         \x20   logfile: \"\"\n\
         \x20   verbosity: 1\n\
         \x20   num-threads: 1\n\
         \x20   root-hints: \"{dir}/root.hints\"\n\
         \x20   access-control: 127.0.0.0/8 allow\n\
         \x20   do-not-query-localhost: no\n\
         \x20   local-zone: \"test.\" nodefault\n\
         \x20   extended-statistics: yes\n\
         \x20   module-config: \"{modules}\"\n\
         {validation}\
         {send_subnet}\
         \x20   max-client-subnet-ipv4: 32\n\
         remote-control:\n\
         \x20   control-enable: yes\n\
         \x20   control-interface: \"{dir}/unbound.ctl\"\n\
         \x20   control-use-cert: no\n",
        resolver = block.ip(4),
        dir = dir.display(),
    )
}
