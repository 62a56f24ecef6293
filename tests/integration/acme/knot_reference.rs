//! The ACME DNS-01 checks pass against Knot, the reference server: pebble
//! as the CA, certbot's `dns-rfc2136` plugin as the client, nsupdate and
//! dig as reference clients, and Knot as the authoritative server with
//! DDNS and TSIG: the reference that `acme/gslb.rs` runs the same checks
//! against gslb beside (with the zone
//! of [`ZONE_RECORDS`] as gslb records and `UpdateServer::gslb_updates_yaml`'s
//! policy); `support/dns_update.rs` tables how the two answers differ.
//!
//! The key name, algorithm, zone and certificate names come from
//! `config/acme/cluster-issuer.yaml`, the cert-manager draft of the book's
//! page "Certificates for global names", so what the book tells users is
//! what these tests prove.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::support::acme::{
    Block, Daemon, Issued, Pebble, TsigAlgorithm, TsigKey, UpdateServer, certbot, challenge_name,
    path_str,
};
use crate::support::dns_tree::glue;
use crate::support::dns_update::{
    PolicyCase, Transport, Update, dig, nsupdate, policy_mismatches, policy_replies, soa_serial,
};
use crate::support::harness::{query, raw_udp_from, repo};

/// The cert-manager draft the book shows.
const CLUSTER_ISSUER: &str = "config/acme/cluster-issuer.yaml";

/// What the zone holds besides its SOA and NS ({zone} and {ns_ip} filled).
const ZONE_RECORDS: &str = "\
ns1.{zone}    30 IN A {ns_ip}\n\
webapp.{zone} 30 IN A 192.0.2.10\n\
www.{zone}    30 IN A 192.0.2.10\n";

/// What Knot 3.2 answers each case of [`crate::support::dns_update::POLICY_CASES`]
/// (over UDP and TCP alike). A policy breach looks like an unknown key, and
/// the answer for a zone it does not serve is not signed.
const KNOT_POLICY: [(PolicyCase, &str); 10] = [
    (PolicyCase::AllowedAdd, "NOERROR"),
    (
        PolicyCase::UnknownKey,
        "NOTAUTH(BADKEY) (tsig: tsig indicates error)",
    ),
    (
        PolicyCase::WrongSecret,
        "NOTAUTH(BADSIG) (tsig: tsig indicates error)",
    ),
    (PolicyCase::Unsigned, "NOTAUTH"),
    (
        PolicyCase::NameOutsidePolicy,
        "NOTAUTH(BADKEY) (tsig: tsig indicates error)",
    ),
    (
        PolicyCase::TypeOutsidePolicy,
        "NOTAUTH(BADKEY) (tsig: tsig indicates error)",
    ),
    (PolicyCase::RrsetExists, "YXRRSET"),
    (PolicyCase::NameMissing, "NXDOMAIN"),
    (
        PolicyCase::ZoneNotServed,
        "NOTAUTH (tsig: expected a TSIG or SIG(0))",
    ),
    (PolicyCase::AllowedDelete, "NOERROR"),
];

/// What the tests take from [`CLUSTER_ISSUER`].
#[derive(Debug)]
pub(crate) struct IssuerDraft {
    /// The solver's `dnsZones` entry, absolute.
    pub(crate) zone: String,
    pub(crate) key_name: String,
    pub(crate) algorithm: TsigAlgorithm,
    /// The solver's `nameserver`.
    pub(crate) nameserver: SocketAddr,
    /// The Certificate's `dnsNames`.
    pub(crate) dns_names: Vec<String>,
}

impl IssuerDraft {
    /// Reads the ClusterIssuer and the Certificate that uses it; panics
    /// with the field that is missing or wrong.
    pub(crate) fn load() -> Self {
        let text = std::fs::read_to_string(repo(CLUSTER_ISSUER)).expect(CLUSTER_ISSUER);
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{CLUSTER_ISSUER} is YAML: {e}"));
        let kind = |kind: &str| {
            docs.iter()
                .find(|doc| doc["kind"] == kind && doc["apiVersion"] == "cert-manager.io/v1")
                .unwrap_or_else(|| panic!("{CLUSTER_ISSUER} has a cert-manager.io/v1 {kind}"))
        };
        let (issuer, certificate) = (kind("ClusterIssuer"), kind("Certificate"));
        let solver = &issuer["spec"]["acme"]["solvers"][0];
        let rfc2136 = &solver["dns01"]["rfc2136"];
        let text_at = |value: &Value, what: &str| -> String {
            value
                .as_str()
                .unwrap_or_else(|| panic!("{CLUSTER_ISSUER}: no {what}"))
                .to_owned()
        };
        assert_eq!(
            certificate["spec"]["issuerRef"]["name"], issuer["metadata"]["name"],
            "{CLUSTER_ISSUER}: the Certificate uses the ClusterIssuer"
        );
        assert_eq!(certificate["spec"]["issuerRef"]["kind"], "ClusterIssuer");
        let secret_ref = &rfc2136["tsigSecretSecretRef"];
        text_at(&secret_ref["name"], "tsigSecretSecretRef.name");
        text_at(&secret_ref["key"], "tsigSecretSecretRef.key");
        let algorithm = text_at(&rfc2136["tsigAlgorithm"], "tsigAlgorithm");
        let nameserver = text_at(&rfc2136["nameserver"], "nameserver");
        let dns_names = certificate["spec"]["dnsNames"]
            .as_array()
            .unwrap_or_else(|| panic!("{CLUSTER_ISSUER}: no dnsNames"))
            .iter()
            .map(|name| text_at(name, "dnsNames entry"))
            .collect();
        Self {
            zone: format!(
                "{}.",
                text_at(&solver["selector"]["dnsZones"][0], "dnsZones")
            ),
            key_name: text_at(&rfc2136["tsigKeyName"], "tsigKeyName"),
            algorithm: TsigAlgorithm::from_cert_manager(&algorithm).unwrap_or_else(|| {
                panic!("{CLUSTER_ISSUER}: tsigAlgorithm {algorithm} is not one gslb takes")
            }),
            nameserver: nameserver.parse().unwrap_or_else(|e| {
                panic!("{CLUSTER_ISSUER}: nameserver {nameserver} is not IP:port: {e}")
            }),
            dns_names,
        }
    }

    /// The server under test on `addr`, with a fresh secret for the key.
    pub(crate) fn server(&self, addr: SocketAddr) -> UpdateServer {
        UpdateServer {
            addr,
            zone: self.zone.clone(),
            key: TsigKey::generate(&self.key_name, self.algorithm),
        }
    }
}

/// Knot as the server under test: the zone with DDNS, and an ACL that lets
/// the keys add and delete TXT records at the challenge names of `names`
/// and nothing else. (Knot 3.2 matches owners by name only, so the names
/// are listed where gslb's policy says `_acme-challenge.*`.)
struct Knot {
    daemon: Daemon,
    /// Holds the config, zone and database; goes last.
    _dir: tempfile::TempDir,
}

impl Knot {
    /// Starts Knot for `server` (its address, zone and key, plus
    /// `more_keys` with the same rights) and waits until it answers.
    async fn start(server: &UpdateServer, more_keys: &[TsigKey], names: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        // Knot 3.2 does not create its database folder itself.
        std::fs::create_dir_all(d.join("db")).expect("knot db dir");
        let zone = &server.zone;
        let zone_file = d.join("zone");
        let records = ZONE_RECORDS
            .replace("{zone}", zone)
            .replace("{ns_ip}", &server.addr.ip().to_string());
        std::fs::write(
            &zone_file,
            format!(
                "{zone} 30 IN SOA ns1.{zone} hostmaster.example.test. 1 3600 600 604800 60\n\
                 {zone} 30 IN NS  ns1.{zone}\n{records}"
            ),
        )
        .expect("zone file");
        let keys: Vec<&TsigKey> = std::iter::once(&server.key).chain(more_keys).collect();
        let key_section: String = keys
            .iter()
            .map(|k| {
                format!(
                    "  - id: {}\n    algorithm: {}\n    secret: {}\n",
                    k.name,
                    k.algorithm.name(),
                    k.secret
                )
            })
            .collect();
        let key_ids: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let owners: Vec<String> = names.iter().map(|n| challenge_name(n)).collect();
        let conf = d.join("knot.conf");
        std::fs::write(
            &conf,
            format!(
                "server:\n    rundir: \"{home}\"\n    listen: {ip}@{port}\n\
                 \x20   udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
                 database:\n    storage: \"{home}/db\"\n\
                 log:\n  - target: stderr\n    any: info\n\
                 key:\n{key_section}\
                 acl:\n  - id: acme\n    key: [{key_ids}]\n    action: update\n\
                 \x20   update-type: [TXT]\n    update-owner: name\n\
                 \x20   update-owner-match: equal\n    update-owner-name: [{owners}]\n\
                 template:\n  - id: default\n    zonefile-sync: -1\n    journal-content: none\n\
                 zone:\n  - domain: \"{zone}\"\n    file: \"{file}\"\n    acl: [acme]\n",
                home = d.display(),
                ip = server.addr.ip(),
                port = server.addr.port(),
                key_ids = key_ids.join(", "),
                owners = owners.join(", "),
                file = zone_file.display(),
            ),
        )
        .expect("knot config");
        let mut command = Command::new("knotd");
        command.args(["-c", path_str(&conf)]);
        let mut daemon = Daemon::spawn("knotd", command, d.join("knot.log"));
        let probe = query(zone, RecordType::SOA).to_vec().expect("encode");
        let from = IpAddr::from([127, 0, 0, 1]);
        daemon
            .wait_until("answering", async || {
                raw_udp_from(from, server.addr, &probe, Duration::from_millis(300))
                    .await
                    .is_some()
            })
            .await;
        Self { daemon, _dir: dir }
    }
}

/// certbot obtains one certificate for `webapp.global.example.test` and
/// `*.global.example.test` from pebble, which checks both challenges
/// through Knot; afterwards no challenge record is left, and the zone's
/// serial has moved.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig, has_knotd)),
    ignore = "needs pebble, certbot, nsupdate, dig and knotd (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils knot)"
)]
async fn certbot_gets_a_name_and_its_wildcard_through_knot() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let server = draft.server(block.server_addr());
    let (knot, pebble) = tokio::join!(
        Knot::start(&server, &[], &draft.dns_names),
        Pebble::start(block, server.addr),
    );
    let serial = soa_serial(server.addr, &server.zone).await;

    let issued = certbot(&pebble, &server, &draft.dns_names)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n--- knot:\n{}\n--- pebble:\n{}",
                knot.daemon.log(),
                pebble.log()
            )
        });

    check_issued(&issued, &draft, &pebble, &server, serial).await;
}

/// nsupdate, the reference RFC 2136 client, gets Knot's answer to every
/// allowed and forbidden update over UDP and over TCP; an hmac-sha512 key
/// works like the hmac-sha256 one; and the forbidden updates left nothing
/// behind.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_pebble, has_certbot, has_nsupdate, has_dig, has_knotd)),
    ignore = "needs pebble, certbot, nsupdate, dig and knotd (apt-get install pebble certbot python3-certbot-dns-rfc2136 bind9-dnsutils knot)"
)]
async fn nsupdate_gets_knots_answer_to_each_policy_case() {
    let block = Block::reserve();
    let draft = IssuerDraft::load();
    let server = draft.server(block.server_addr());
    let sha512 = TsigKey::generate(
        &format!("sha512.{}", server.zone),
        TsigAlgorithm::HmacSha512,
    );
    let knot = Knot::start(&server, std::slice::from_ref(&sha512), &draft.dns_names).await;

    let mismatches = policy_run(&server, &sha512, &KNOT_POLICY).await;
    assert!(
        mismatches.is_empty(),
        "{}\n--- knot:\n{}",
        mismatches.join("\n"),
        knot.daemon.log()
    );
}

/// The draft names a key gslb takes, ns1 of the delegation on port 53, and
/// certificate names inside the solver's zone.
#[test]
fn cluster_issuer_draft_fits_the_delegation() {
    let draft = IssuerDraft::load();
    let parent = std::fs::read_to_string(repo("config/delegation/parent.zone"))
        .expect("config/delegation/parent.zone");
    let ns1 = glue(&parent)
        .into_iter()
        .find(|(name, _)| name == &format!("ns1.{}", draft.zone))
        .and_then(|(_, addrs)| addrs.first().copied())
        .expect("the delegation has glue for ns1");
    assert_eq!(
        draft.nameserver,
        SocketAddr::new(ns1, 53),
        "nameserver is ns1"
    );
    assert!(draft.key_name.ends_with('.'), "the key name is absolute");
    assert!(!draft.dns_names.is_empty());
    for name in &draft.dns_names {
        let base = name.strip_prefix("*.").unwrap_or(name);
        assert!(
            format!("{base}.") == draft.zone
                || format!("{base}.").ends_with(&format!(".{}", draft.zone)),
            "{name} lies in {}",
            draft.zone
        );
    }
}

/// The `updates:` fragment a gslb test will add to its zone has issue 13's
/// shape: the key with its algorithm and secret file, and an `allow` rule
/// for that key on `_acme-challenge.*` TXT records only.
#[test]
fn gslb_updates_fragment_has_the_issue_shape() {
    let draft = IssuerDraft::load();
    let server = draft.server("127.0.0.1:5300".parse().expect("addr"));
    let secret_file = std::path::Path::new("/run/gslb/acme-update.key");
    let yaml = format!(
        "zones:\n  - origin: {}\n{}",
        server.zone,
        server.gslb_updates_yaml(secret_file)
    );
    let config: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}:\n{yaml}"));
    let updates = &config["zones"][0]["updates"];
    let expected = serde_json::json!({
        "keys": [{
            "name": draft.key_name,
            "algorithm": "hmac-sha256",
            "secret_file": "/run/gslb/acme-update.key",
        }],
        "allow": [{
            "key": draft.key_name,
            "names": ["_acme-challenge.*"],
            "types": ["TXT"],
        }],
    });
    assert_eq!(updates, &expected, "{yaml}");
}

/// The book's page on certificates for global names.
const CERTIFICATES_PAGE: &str = "docs/src/certificates.md";

/// The book's page "Certificates for global names" shows the solver and
/// the `updates:` key of the draft these tests issue with, so the book
/// cannot drift from what was proven.
#[test]
fn the_book_shows_the_tested_solver_and_key() {
    let draft = IssuerDraft::load();
    let section = std::fs::read_to_string(repo(CERTIFICATES_PAGE)).expect(CERTIFICATES_PAGE);
    let algorithm = match draft.algorithm {
        TsigAlgorithm::HmacSha256 => "HMACSHA256",
        TsigAlgorithm::HmacSha512 => "HMACSHA512",
    };
    for line in [
        format!("nameserver: \"{}\"", draft.nameserver),
        format!("tsigKeyName: {}", draft.key_name),
        format!("tsigAlgorithm: {algorithm}"),
        format!("dnsZones: [{}]", draft.zone.trim_end_matches('.')),
        format!("{{ name: {},", draft.key_name),
        format!(
            "{{ key: {}, names: [\"_acme-challenge.*\"], types: [TXT] }}",
            draft.key_name
        ),
    ] {
        assert!(
            section.contains(&line),
            "{CERTIFICATES_PAGE} shows `{line}` (from {CLUSTER_ISSUER})"
        );
    }
}

/// What an issuance through `server` must leave behind: a certificate from
/// this pebble for exactly the draft's names, both challenges validated by
/// DNS, no challenge records left, and a moved zone serial.
pub(crate) async fn check_issued(
    issued: &Issued,
    draft: &IssuerDraft,
    pebble: &Pebble,
    server: &UpdateServer,
    serial: u32,
) {
    let mut got = issued.dns_names.clone();
    let mut want = draft.dns_names.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the certificate's subjectAltName DNS names");
    assert!(
        issued.issuer.contains("Pebble"),
        "issued by this pebble: {}",
        issued.issuer
    );
    let validated = pebble
        .log()
        .matches("set VALID by completed challenge")
        .count();
    assert_eq!(
        validated,
        2,
        "pebble validated both challenges by DNS:\n{}",
        pebble.log()
    );
    for name in &draft.dns_names {
        let owner = challenge_name(name);
        let left = dig(server.addr, &owner, "TXT").await;
        assert!(
            left.answers.is_empty() && ["NXDOMAIN", "NOERROR"].contains(&left.status.as_str()),
            "certbot removed the challenge at {owner}: {left:?}"
        );
    }
    let after = soa_serial(server.addr, &server.zone).await;
    assert!(
        after > serial,
        "the updates moved the serial: {serial} -> {after}"
    );
}

/// Runs every policy case over UDP and TCP against `server`, adds and
/// deletes a record with the hmac-sha512 key `sha512`, and checks that no
/// forbidden update left a record behind: what differs from `expected`.
pub(crate) async fn policy_run(
    server: &UpdateServer,
    sha512: &TsigKey,
    expected: &[(PolicyCase, &str)],
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let replies = policy_replies(server, transport).await;
        mismatches.extend(
            policy_mismatches(&replies, expected)
                .into_iter()
                .map(|m| format!("{transport:?} {m}")),
        );
    }
    let owner = challenge_name(&format!("*.{}", server.zone));
    for update in [
        Update::add(&server.zone, Some(sha512), &owner, "TXT", "\"sha512\""),
        Update::delete(&server.zone, Some(sha512), &owner, "TXT", "").over(Transport::Tcp),
    ] {
        let reply = nsupdate(server.addr, &update).await;
        if reply.to_string() != "NOERROR" {
            mismatches.push(format!("hmac-sha512 {update:?}: {reply}"));
        }
    }
    let webapp = challenge_name(&format!("webapp.{}", server.zone));
    for (name, rtype) in [
        (format!("www.{}", server.zone), "TXT"),
        (webapp.clone(), "A"),
        (webapp, "TXT"),
        (owner, "TXT"),
    ] {
        let left = dig(server.addr, &name, rtype).await;
        if !left.answers.is_empty() {
            mismatches.push(format!("{name} {rtype} left behind: {:?}", left.answers));
        }
    }
    mismatches
}
