//! The chain of trust from the test root down to gslb's answers: every
//! kind of answer gslb gives is validated by Unbound (AD=1) and by `delv`
//! ("fully validated"), for clients in several countries, and a failover's
//! new answer is as secure as the old one.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use hickory_proto::rr::RecordType;

use super::*;
use crate::support::acme::{TsigAlgorithm, TsigKey};
use crate::support::backend::{Backend, free_port};
use crate::support::dns_tree::{Block, Tree};
use crate::support::dns_update::{Update, nsupdate};
use crate::support::zone_keys::{dnssec_yaml, gslb_ds};

/// One GSLB record, a set per continent (the test GeoIP database puts
/// 198.51.100.0/26 in the US, .64/26 in Germany, .128/26 in India).
const GEO: &str = r#"
records:
  - name: webapp.global.example.test.
    ttl: 30
    sets:
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] } }
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] } }
      - { id: ap, targets: [192.0.2.30], geo: { continents: [AS] } }
"#;

/// Static records (one at the apex, an address, a two-link CNAME chain to
/// the GSLB record) and an update policy for ACME challenge TXT records;
/// `{secret}` is the TSIG secret file.
const ZONE_EXTRA: &str = r#"    static:
      - { name: "@", type: TXT, data: '"v=spf1 -all"' }
      - { name: mail, type: A, data: 192.0.2.25 }
      - { name: www, type: CNAME, data: alias }
      - { name: alias, type: CNAME, data: webapp }
    updates:
      keys:
        - { name: update.global.example.test., algorithm: hmac-sha256, secret_file: "{secret}" }
      allow:
        - { key: update.global.example.test., names: ["_acme-challenge.*"], types: [TXT] }
"#;

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(
        has_knotd,
        has_keymgr,
        has_unbound,
        has_unbound_control,
        has_delv,
        has_dnssec_keygen,
        has_nsupdate,
        can_bind_port_53
    )),
    ignore = "needs knotd, keymgr, unbound, unbound-control, delv, dnssec-keygen, nsupdate and root for port 53 (apt-get install knot unbound bind9-dnsutils bind9-utils)"
)]
async fn every_kind_of_answer_is_validated_through_a_signed_delegation() {
    let block = Block::reserve();
    let setup = Setup::new();
    let (ksk, zsk, dnssec) = ksk_and_zsk(&setup, 30).await;
    let tsig = TsigKey::generate("update.global.example.test.", TsigAlgorithm::HmacSha256);
    let secret = setup.dir.path().join("update.key");
    std::fs::write(&secret, &tsig.secret).expect("write TSIG secret");
    let [ns1, ns2] = block.gslb();
    let listen = [SocketAddr::new(ns1, 53), SocketAddr::new(ns2, 53)];
    let zone_extra = ZONE_EXTRA.replace("{secret}", &secret.display().to_string());
    setup.write_config(&config(
        &block.nameservers_yaml(),
        &listen,
        30,
        &dnssec,
        &zone_extra,
        GEO,
    ));

    // The parent gets the KSK's DS, as the operator copies it.
    let ds = gslb_ds(&setup.config_path()).await;
    let ds_tags: Vec<String> = crate::support::dns_tree::ds_records(&ds, 3600)
        .iter()
        .filter_map(|r| r.split_whitespace().nth(4).map(str::to_owned))
        .collect();
    assert_eq!(
        ds_tags,
        [ksk.tag.to_string()],
        "gslb dnssec ds prints the KSK's SHA-256 DS only:\n{ds}"
    );
    let gslb = setup.start().await;
    let tree = Tree::start_signed(block, &ds).await;
    let resolver = tree.resolver();
    let ask = async |from: IpAddr, name: &str, rtype: RecordType, ecs: Option<&str>| {
        resolve(from, resolver, &secure_query(name, rtype, ecs)).await
    };

    // The tree itself: Knot's signed parent validates.
    let parent = ask(local(), "ns1.example.test.", RecordType::A, None).await;
    assert_secure(&parent, "the parent's own record (the signed tree works)");

    // GSLB answers, a variant per client network, each signed by the ZSK.
    let webapp = "webapp.global.example.test.";
    for (subnet, want) in [
        ("198.51.100.70/32", "192.0.2.20"),
        ("198.51.100.10/32", "192.0.2.10"),
        ("198.51.100.130/32", "192.0.2.30"),
    ] {
        let response = ask(local(), webapp, RecordType::A, Some(subnet)).await;
        assert_secure(&response, &format!("{webapp} A for {subnet}"));
        assert_eq!(addrs(&response), ips(&[want]), "{subnet}: {response}");
        assert_eq!(
            rrsig_tags(&response.answers, RecordType::A),
            [zsk.tag],
            "{subnet}: the A RRset signed by the ZSK: {response}"
        );
    }
    // No ECS from the client: Unbound sends its source network, which gslb
    // locates (127.0.2.0/24 is Frankfurt, 127.0.1.0/24 San Francisco).
    for (from, want) in [("127.0.2.1", "192.0.2.20"), ("127.0.1.1", "192.0.2.10")] {
        let from: IpAddr = from.parse().expect("ip");
        let response = ask(from, webapp, RecordType::A, None).await;
        assert_secure(&response, &format!("{webapp} A from {from}"));
        assert_eq!(addrs(&response), ips(&[want]), "from {from}: {response}");
    }

    // The apex: SOA, NS, the keys, and CDS/CDNSKEY from the KSK.
    for rtype in [
        RecordType::SOA,
        RecordType::NS,
        RecordType::DNSKEY,
        RecordType::CDS,
        RecordType::CDNSKEY,
    ] {
        let response = ask(local(), ORIGIN, rtype, None).await;
        assert_secure(&response, &format!("{ORIGIN} {rtype}"));
        assert!(
            response.answers.iter().any(|r| r.record_type() == rtype),
            "{ORIGIN} {rtype} has an answer: {response}"
        );
        if rtype == RecordType::DNSKEY {
            let mut want = vec![ksk.tag, zsk.tag];
            want.sort_unstable();
            assert_eq!(dnskey_tags(&response.answers), want, "{response}");
            assert_eq!(
                rrsig_tags(&response.answers, RecordType::DNSKEY),
                [ksk.tag],
                "the KSK signs the DNSKEY RRset: {response}"
            );
        }
    }

    // Static records and a CNAME chain (www -> alias -> webapp), each link
    // signed.
    let txt = ask(local(), ORIGIN, RecordType::TXT, None).await;
    assert_secure(&txt, "static TXT at the apex");
    assert_eq!(answer_data(&txt, RecordType::TXT), ["v=spf1 -all"]);
    let mail = ask(local(), "mail.global.example.test.", RecordType::A, None).await;
    assert_secure(&mail, "static A");
    assert_eq!(addrs(&mail), ips(&["192.0.2.25"]));
    let www = ask(
        local(),
        "www.global.example.test.",
        RecordType::A,
        Some("198.51.100.70/32"),
    )
    .await;
    assert_secure(&www, "CNAME chain to the GSLB record");
    assert_eq!(addrs(&www), ips(&["192.0.2.20"]), "{www}");
    assert_eq!(
        rrsig_tags(&www.answers, RecordType::CNAME).len(),
        2,
        "both CNAME links signed: {www}"
    );
    assert_eq!(rrsig_tags(&www.answers, RecordType::A), [zsk.tag], "{www}");

    // A record added by RFC 2136, TSIG-signed.
    let challenge = "_acme-challenge.webapp.global.example.test.";
    let reply = nsupdate(
        SocketAddr::new(ns1, 53),
        &Update::add(ORIGIN, Some(&tsig), challenge, "TXT", "\"token-1\""),
    )
    .await;
    assert_eq!(reply.rcode, "NOERROR", "the update is accepted: {reply}");
    let dynamic = ask(local(), challenge, RecordType::TXT, None).await;
    assert_secure(&dynamic, "dynamic TXT");
    assert_eq!(answer_data(&dynamic, RecordType::TXT), ["token-1"]);

    // Denial of existence: a name that does not exist and types that do
    // not exist at names that do, all proven (AD=1) and empty.
    for (name, rtype) in [
        ("nope.global.example.test.", RecordType::A),
        ("deeper.nope.global.example.test.", RecordType::TXT),
        (webapp, RecordType::AAAA),
        ("mail.global.example.test.", RecordType::TXT),
        (ORIGIN, RecordType::MX),
    ] {
        let response = ask(local(), name, rtype, None).await;
        assert_secure(&response, &format!("{name} {rtype} (denial)"));
        assert!(
            !response.answers.iter().any(|r| r.record_type() == rtype),
            "{name} {rtype}: no data: {response}"
        );
    }
    let failures = tree.validation_failures();
    assert!(
        failures.is_empty(),
        "Unbound found nothing bogus: {failures:#?}"
    );

    // delv validates the same names itself, from the same trust anchor.
    let frankfurt: IpAddr = "127.0.2.1".parse().expect("ip");
    for (name, rtype) in [
        (webapp, "A"),
        (ORIGIN, "DNSKEY"),
        (ORIGIN, "SOA"),
        (ORIGIN, "TXT"),
        ("mail.global.example.test.", "A"),
        ("www.global.example.test.", "A"),
        (challenge, "TXT"),
        ("nope.global.example.test.", "A"),
        (webapp, "AAAA"),
    ] {
        let out = tree.delv(frankfurt, name, rtype).await;
        assert!(delv_validated(&out), "delv {name} {rtype}:\n{out}");
    }
    let out = tree.delv(frankfurt, webapp, "A").await;
    assert!(out.contains("192.0.2.20"), "delv from Frankfurt:\n{out}");
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(
        has_knotd,
        has_keymgr,
        has_unbound,
        has_unbound_control,
        has_dnssec_keygen,
        can_bind_port_53
    )),
    ignore = "needs knotd, keymgr, unbound, unbound-control, dnssec-keygen and root for port 53 (apt-get install knot unbound bind9-utils)"
)]
async fn a_failover_reaches_validating_resolver_clients_signed() {
    let block = Block::reserve();
    let (primary_ip, backup_ip) = (block.ip(10).to_string(), block.ip(11).to_string());
    let port = free_port(&primary_ip).await;
    let mut primary = Backend::http(&primary_ip, port).await;
    let _backup = Backend::http(&backup_ip, port).await;
    let ttl = Duration::from_secs(4);
    let records = format!(
        r#"
health_checks:
  fast: {{ kind: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }}
records:
  - name: api.global.example.test.
    ttl: {ttl}
    sets:
      - {{ id: primary, targets: [{primary_ip}], health_check: fast }}
      - {{ id: backup, targets: [{backup_ip}], priority: 1, health_check: fast }}
"#,
        ttl = ttl.as_secs()
    );
    // One Ed25519 key that signs everything (a CSK: SEP flag set).
    let setup = Setup::new();
    let csk = setup.key(ED25519, 4, &["-f", "KSK"]).await;
    let [ns1, ns2] = block.gslb();
    let listen = [SocketAddr::new(ns1, 53), SocketAddr::new(ns2, 53)];
    setup.write_config(&config(
        &block.nameservers_yaml(),
        &listen,
        4,
        &dnssec_yaml(&[&csk]),
        "",
        &records,
    ));
    let ds = gslb_ds(&setup.config_path()).await;
    let gslb = setup.start().await;
    gslb.wait_ready().await;
    let tree = Tree::start_signed(block, &ds).await;
    let name = "api.global.example.test.";
    let ask = async || {
        resolve(
            local(),
            tree.resolver(),
            &secure_query(name, RecordType::A, None),
        )
        .await
    };

    let first = ask().await;
    assert_secure(&first, "the primary's answer");
    assert_eq!(addrs(&first), ips(&[primary_ip.as_str()]));
    assert_eq!(rrsig_tags(&first.answers, RecordType::A), [csk.tag]);
    primary.stop();
    let direct = eventually(Duration::from_secs(10), async || {
        gslb.a(name).await == ips(&[backup_ip.as_str()])
    })
    .await;
    assert!(direct.is_some(), "gslb itself fails over");
    // Every answer on the way, cached or new, validates; bounded: the TTL
    // plus 10 s at one query per 100 ms.
    let mut seen = 0;
    let mut moved = false;
    let deadline = tokio::time::Instant::now() + ttl + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let response = ask().await;
        seen += 1;
        assert_secure(&response, &format!("answer {seen} during the failover"));
        if addrs(&response) == ips(&[backup_ip.as_str()]) {
            assert_eq!(rrsig_tags(&response.answers, RecordType::A), [csk.tag]);
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(moved, "resolver clients get the backup, validated");
    let failures = tree.validation_failures();
    assert!(failures.is_empty(), "nothing bogus: {failures:#?}");
    let denial = resolve(
        local(),
        tree.resolver(),
        &secure_query("nope.global.example.test.", RecordType::A, None),
    )
    .await;
    assert_secure(&denial, "denial with an Ed25519 CSK");
    gslb.server.shutdown(WAIT).await;
}
