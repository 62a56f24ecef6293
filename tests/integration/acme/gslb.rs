//! The ACME DNS-01 checks pass against gslb, one instance and a peer
//! group: the same harness as `acme/knot_reference.rs` (pebble, certbot's dns-rfc2136 plugin,
//! nsupdate, dig), with the real `gslb` binary on [`Block::server_addr`]
//! where that file runs Knot. The zone, key and certificate names come
//! from `config/acme/cluster-issuer.yaml`, the book's cert-manager draft.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::acme::knot_reference::{IssuerDraft, check_issued, policy_run};
use crate::support::acme::{
    Block, Daemon, Pebble, TsigAlgorithm, TsigKey, UpdateServer, certbot, challenge_name, path_str,
};
use crate::support::dns_update::{PolicyCase, Update, dig, nsupdate, soa_serial};
use crate::support::harness::{eventually, query, raw_udp_from};
use crate::support::process::free_admin_addr;

/// What gslb answers each case of [`crate::support::dns_update::POLICY_CASES`], over
/// UDP and TCP alike: the RFC 2136 §3.3 REFUSED for policy breaches and
/// unsigned updates, signed whenever the request's signature verified.
const GSLB_POLICY: [(PolicyCase, &str); 10] = [
    (PolicyCase::AllowedAdd, "NOERROR"),
    (
        PolicyCase::UnknownKey,
        "NOTAUTH(BADKEY) (tsig: tsig indicates error)",
    ),
    (
        PolicyCase::WrongSecret,
        "NOTAUTH(BADSIG) (tsig: tsig indicates error)",
    ),
    (PolicyCase::Unsigned, "REFUSED"),
    (PolicyCase::NameOutsidePolicy, "REFUSED"),
    (PolicyCase::TypeOutsidePolicy, "REFUSED"),
    (PolicyCase::RrsetExists, "YXRRSET"),
    (PolicyCase::NameMissing, "NXDOMAIN"),
    (PolicyCase::ZoneNotServed, "NOTAUTH"),
    (PolicyCase::AllowedDelete, "NOERROR"),
];

/// `gslb serve` for `server`'s zone and key (plus `more_keys` with the same
/// rights), its config, secrets and state file in a directory that outlives
/// restarts.
struct GslbDaemon {
    daemon: Option<Daemon>,
    /// The admin API (for `/metrics`).
    admin: std::net::SocketAddr,
    server: UpdateServer,
    dir: tempfile::TempDir,
    more_keys: Vec<TsigKey>,
    /// Extra `server:` lines (a peer group's), indented two spaces.
    server_extra: String,
}

impl GslbDaemon {
    async fn start(server: &UpdateServer, more_keys: &[TsigKey]) -> Self {
        Self::start_with(server, more_keys, free_admin_addr(), "").await
    }

    /// [`GslbDaemon::start`] with its admin API on `admin` and
    /// `server_extra` in its `server:` section.
    async fn start_with(
        server: &UpdateServer,
        more_keys: &[TsigKey],
        admin: std::net::SocketAddr,
        server_extra: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut gslb = Self {
            daemon: None,
            admin,
            server: server.clone(),
            dir,
            more_keys: more_keys.to_vec(),
            server_extra: server_extra.to_owned(),
        };
        gslb.write_config("");
        gslb.spawn().await;
        gslb
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("gslb.yaml")
    }

    /// The state file.
    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// Writes the config (atomically, so a running gslb reloads it once),
    /// with `extra_records` appended to `records:`.
    fn write_config(&self, extra_records: &str) {
        let d = self.dir.path();
        let server = &self.server;
        let zone = &server.zone;
        let mut keys = vec![server.key.clone()];
        keys.extend(self.more_keys.iter().cloned());
        let mut key_lines = String::new();
        let mut allow_lines = String::new();
        for (i, key) in keys.iter().enumerate() {
            let file = d.join(format!("key{i}.secret"));
            std::fs::write(&file, format!("{}\n", key.secret)).expect("secret file");
            key_lines.push_str(&format!(
                "        - {{ name: {}, algorithm: {}, secret_file: \"{}\" }}\n",
                key.name,
                key.algorithm.name(),
                file.display()
            ));
            allow_lines.push_str(&format!(
                "        - {{ key: {}, names: [\"_acme-challenge.*\"], types: [TXT] }}\n",
                key.name
            ));
        }
        let yaml = format!(
            "server:\n  dns_listen: [\"{addr}\"]\n  admin_listen: \"{admin}\"\n  udp_workers: 1\n  state_file: \"{state}\"\n{extra}\
             zones:\n  - origin: {zone}\n\
             \x20   soa: {{ mname: ns1.{zone}, rname: hostmaster.example.test. }}\n\
             \x20   nameservers: {{ ns1.{zone}: [{ip}] }}\n\
             \x20   updates:\n      keys:\n{key_lines}      allow:\n{allow_lines}\
             records:\n\
             \x20 - {{ name: webapp.{zone}, sets: [{{ id: one, targets: [192.0.2.10] }}] }}\n\
             \x20 - {{ name: www.{zone}, sets: [{{ id: one, targets: [192.0.2.10] }}] }}\n\
             {extra_records}",
            addr = server.addr,
            admin = self.admin,
            state = self.state_path().display(),
            extra = self.server_extra,
            ip = server.addr.ip(),
        );
        let tmp = d.join("gslb.yaml.tmp");
        std::fs::write(&tmp, yaml).expect("config");
        std::fs::rename(&tmp, self.config_path()).expect("config in place");
    }

    async fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gslb"));
        command
            .args(["serve", "--config", path_str(&self.config_path())])
            .env("RUST_LOG", "info");
        let log = self.dir.path().join(format!(
            "gslb-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let mut daemon = Daemon::spawn("gslb", command, log);
        let probe = query(&self.server.zone, RecordType::SOA)
            .to_vec()
            .expect("encode");
        let addr = self.server.addr;
        daemon
            .wait_until("answering", async || {
                raw_udp_from(
                    IpAddr::from([127, 0, 0, 1]),
                    addr,
                    &probe,
                    Duration::from_millis(300),
                )
                .await
                .is_some()
            })
            .await;
        self.daemon = Some(daemon);
    }

    /// Kills gslb (no goodbye: SIGKILL) and starts it again.
    async fn restart(&mut self) {
        self.daemon = None;
        self.spawn().await;
    }

    /// The value of one `/metrics` series (`name{labels}`), 0 if absent.
    async fn metric(&self, series: &str) -> f64 {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let text = reqwest::Client::new()
            .get(format!("http://{}/metrics", self.admin))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("/metrics answers")
            .text()
            .await
            .expect("/metrics body");
        text.lines()
            .find_map(|line| {
                line.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    }

    fn log(&self) -> String {
        self.daemon.as_ref().map(Daemon::log).unwrap_or_default()
    }
}

/// certbot obtains one certificate for `webapp.global.example.test` and
/// `*.global.example.test` from pebble, which checks both challenges
/// through gslb; afterwards no challenge record is left, and the zone's
/// serial has moved.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig)),
    ignore = "needs pebble, certbot, nsupdate and dig (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils)"
)]
async fn certbot_gets_a_name_and_its_wildcard_through_gslb() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let server = draft.server(block.server_addr());
    let (gslb, pebble) = tokio::join!(
        GslbDaemon::start(&server, &[]),
        Pebble::start(block, server.addr),
    );
    let serial = soa_serial(server.addr, &server.zone).await;

    let issued = certbot(&pebble, &server, &draft.dns_names)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n--- gslb:\n{}\n--- pebble:\n{}",
                gslb.log(),
                pebble.log()
            )
        });

    check_issued(&issued, &draft, &pebble, &server, serial).await;
}

/// nsupdate gets gslb's answer to every allowed and forbidden update over
/// UDP and over TCP; an hmac-sha512 key works like the hmac-sha256 one;
/// the forbidden updates left nothing behind; every outcome is counted.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig)),
    ignore = "needs pebble, certbot, nsupdate and dig (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils)"
)]
async fn nsupdate_gets_gslbs_answer_to_each_policy_case() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let server = draft.server(block.server_addr());
    let sha512 = TsigKey::generate(
        &format!("sha512.{}", server.zone),
        TsigAlgorithm::HmacSha512,
    );
    let gslb = GslbDaemon::start(&server, std::slice::from_ref(&sha512)).await;

    let mut mismatches = policy_run(&server, &sha512, &GSLB_POLICY).await;
    // Each case once over UDP and once over TCP, counted by key and result.
    let key = &server.key.name;
    for (labels, want) in [
        (format!("key=\"{key}\",result=\"ok\""), 4.0),
        (format!("key=\"{}\",result=\"ok\"", sha512.name), 2.0),
        ("key=\"unknown\",result=\"badkey\"".to_owned(), 2.0),
        (format!("key=\"{key}\",result=\"badsig\""), 2.0),
        ("key=\"\",result=\"unsigned\"".to_owned(), 2.0),
        (format!("key=\"{key}\",result=\"refused\""), 4.0),
        (format!("key=\"{key}\",result=\"prereq\""), 4.0),
        (format!("key=\"{key}\",result=\"notauth\""), 2.0),
    ] {
        let got = gslb
            .metric(&format!("gslb_dns_updates_total{{{labels}}}"))
            .await;
        if got != want {
            mismatches.push(format!(
                "gslb_dns_updates_total{{{labels}}} is {got}, not {want}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n--- gslb:\n{}",
        mismatches.join("\n"),
        gslb.log()
    );
}

/// dig with the key: gslb answers a TSIG-signed SOA query (what certbot
/// sends to find the zone) with a response dig verifies.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig)),
    ignore = "needs pebble, certbot, nsupdate and dig (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils)"
)]
async fn signed_soa_queries_get_signed_answers() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let server = draft.server(block.server_addr());
    let gslb = GslbDaemon::start(&server, &[]).await;
    for transport in ["+notcp", "+tcp"] {
        let output = tokio::process::Command::new("dig")
            .arg(format!("@{}", server.addr.ip()))
            .args([
                "-p",
                &server.addr.port().to_string(),
                "+norec",
                "+time=2",
                "+tries=1",
            ])
            .arg(transport)
            .args([
                "-y",
                &format!(
                    "{}:{}:{}",
                    server.key.algorithm.name(),
                    server.key.name,
                    server.key.secret
                ),
            ])
            .args([server.zone.as_str(), "SOA"])
            .output()
            .await
            .expect("dig runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("status: NOERROR"),
            "{transport}: {text}\n{}",
            gslb.log()
        );
        let tsig = text
            .split(";; TSIG PSEUDOSECTION:")
            .nth(1)
            .and_then(|rest| rest.lines().nth(1))
            .unwrap_or_default();
        assert!(
            tsig.starts_with(server.key.name.as_str()) && tsig.contains(" NOERROR "),
            "{transport}: the answer carries a TSIG record by the key: {text}"
        );
        assert!(
            !text.contains("Couldn't verify") && !text.contains("failure"),
            "{transport}: dig verified the signature: {text}"
        );
    }
}

/// A dynamic TXT record survives a config reload and a restart (the state
/// file), and the serial never goes back; a reload whose policy no longer
/// allows the record drops it.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig)),
    ignore = "needs pebble, certbot, nsupdate and dig (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils)"
)]
async fn dynamic_records_survive_reload_and_restart() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let server = draft.server(block.server_addr());
    let mut gslb = GslbDaemon::start(&server, &[]).await;
    let owner = challenge_name(&format!("kept.{}", server.zone));
    let add = Update::add(&server.zone, Some(&server.key), &owner, "TXT", "\"kept\"");
    assert_eq!(nsupdate(server.addr, &add).await.to_string(), "NOERROR");
    let txt = async |gslb: &GslbDaemon| {
        let found = dig(server.addr, &owner, "TXT").await;
        assert_eq!(found.answers, ["\"kept\""], "{found:?}\n{}", gslb.log());
    };
    txt(&gslb).await;
    let serial = soa_serial(server.addr, &server.zone).await;

    // A reload: a new record appears, the dynamic one stays.
    gslb.write_config(&format!(
        "  - {{ name: new.{}, sets: [{{ id: one, targets: [192.0.2.20] }}] }}\n",
        server.zone
    ));
    let new_name = format!("new.{}", server.zone);
    let reloaded = eventually(Duration::from_secs(20), async || {
        !dig(server.addr, &new_name, "A").await.answers.is_empty()
    })
    .await;
    assert!(reloaded.is_some(), "the reload happened:\n{}", gslb.log());
    txt(&gslb).await;
    assert!(soa_serial(server.addr, &server.zone).await >= serial);

    // A restart: the state file brings it back.
    let state = gslb.state_path();
    let saved = eventually(Duration::from_secs(10), async || {
        std::fs::read_to_string(&state).is_ok_and(|s| s.contains("kept"))
    })
    .await;
    assert!(
        saved.is_some(),
        "the state file has the record: {:?}",
        std::fs::read_to_string(&state)
    );
    gslb.restart().await;
    txt(&gslb).await;
    let after = soa_serial(server.addr, &server.zone).await;
    assert!(
        after >= serial,
        "the serial never goes back: {serial} -> {after}"
    );

    // A reload without the key drops the record, and says so.
    gslb.more_keys.clear();
    gslb.server.key = TsigKey::generate(&format!("other.{}", server.zone), server.key.algorithm);
    gslb.write_config("");
    let dropped = eventually(Duration::from_secs(20), async || {
        dig(server.addr, &owner, "TXT").await.answers.is_empty()
    })
    .await;
    assert!(
        dropped.is_some(),
        "the record went with its key:\n{}",
        gslb.log()
    );
    assert!(
        gslb.log().contains("dynamic record dropped"),
        "{}",
        gslb.log()
    );
}

/// Two gslb instances in a peer group: nsupdate adds a TXT record through
/// a and b answers it within a second (its SOA serial moving on); a delete
/// through b removes it from a; certbot gets a certificate updating a
/// while pebble's DNS-01 lookups go to b, the instance that did not take
/// the updates.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig)),
    ignore = "needs pebble, certbot, nsupdate and dig (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils)"
)]
async fn an_update_taken_by_one_instance_is_answered_by_its_peer() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let a_server = draft.server(block.server_addr());
    let b_server = UpdateServer {
        addr: std::net::SocketAddr::new(block.ip(3), block.server_addr().port()),
        ..a_server.clone()
    };
    let (a_admin, b_admin) = (free_admin_addr(), free_admin_addr());
    let peering = |me: &str, peer: &str, url: std::net::SocketAddr| {
        format!("  instance: {me}\n  peers: [{{ name: {peer}, url: \"http://{url}\" }}]\n")
    };
    let (a_peering, b_peering) = (peering("a", "b", b_admin), peering("b", "a", a_admin));
    let (a, b, pebble) = tokio::join!(
        GslbDaemon::start_with(&a_server, &[], a_admin, &a_peering),
        GslbDaemon::start_with(&b_server, &[], b_admin, &b_peering),
        Pebble::start(block, b_server.addr),
    );
    let logs = || format!("--- a:\n{}\n--- b:\n{}", a.log(), b.log());
    let serial = soa_serial(b_server.addr, &b_server.zone).await;

    let owner = challenge_name(&format!("shared.{}", a_server.zone));
    let add = Update::add(
        &a_server.zone,
        Some(&a_server.key),
        &owner,
        "TXT",
        "\"shared\"",
    );
    assert_eq!(nsupdate(a_server.addr, &add).await.to_string(), "NOERROR");
    let added = std::time::Instant::now();
    let on_b = eventually(Duration::from_secs(3), async || {
        dig(b_server.addr, &owner, "TXT").await.answers == ["\"shared\""]
    })
    .await;
    assert!(on_b.is_some(), "b answers a's record; {}", logs());
    let took = added.elapsed();
    eprintln!("b answered a's update {took:?} after a acknowledged it");
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    let moved = soa_serial(b_server.addr, &b_server.zone).await;
    assert!(moved > serial, "b's serial moves on: {serial} -> {moved}");

    let delete = Update::delete(
        &b_server.zone,
        Some(&b_server.key),
        &owner,
        "TXT",
        "\"shared\"",
    );
    assert_eq!(
        nsupdate(b_server.addr, &delete).await.to_string(),
        "NOERROR"
    );
    let gone = eventually(Duration::from_secs(3), async || {
        dig(a_server.addr, &owner, "TXT").await.answers.is_empty()
    })
    .await;
    assert!(gone.is_some(), "b's delete reaches a; {}", logs());

    let serial = soa_serial(b_server.addr, &b_server.zone).await;
    let issued = certbot(&pebble, &a_server, &draft.dns_names)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n--- pebble:\n{}", logs(), pebble.log()));
    check_issued(&issued, &draft, &pebble, &b_server, serial).await;
}
