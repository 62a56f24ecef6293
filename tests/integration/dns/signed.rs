//! A signed zone seen through `dig +dnssec` (issue 18): RRSIGs on answers,
//! compact denial, the DO bit echoed, unsigned answers without DO, the
//! DS `gslb dnssec ds` prints, and a reload with a bad key that keeps the
//! signing snapshot. Validation through a resolver is
//! `integration::dnssec`'s.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::harness::*;

/// The unit tests' keys: a P-256 KSK and an Ed25519 ZSK.
fn config(ksk: &str) -> String {
    let keys = repo("src/dnssec/testdata");
    format!(
        r#"
server: {{ dns_listen: ["127.0.0.1:0"], admin_listen: "127.0.0.1:0" }}
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test., minimum: 20 }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}
    static:
      - {{ name: www, type: CNAME, data: webapp }}
    dnssec:
      key_files: ["{keys}/{ksk}", "{keys}/Kglobal.example.test.+015+43869"]
records:
  - name: webapp.global.example.test.
    sets: [{{ id: one, targets: [192.0.2.10, 192.0.2.11] }}]
"#,
        keys = keys.display()
    )
}

const KSK: &str = "Kglobal.example.test.+013+46294";

fn dig(port: &str, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", port, "+time=2", "+tries=1", "+norec"])
        .args(args)
        .output()
        .expect("dig runs");
    // Whitespace squashed: dig aligns columns with tabs and spaces.
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(not(has_dig), ignore = "needs dig (apt-get install bind9-dnsutils)")]
async fn dig_dnssec_gets_signed_answers_and_compact_denial() {
    let gslb = Gslb::start(&config(KSK)).await;
    let port = gslb.addr.port().to_string();
    let port = port.as_str();
    for transport in ["+notcp", "+tcp"] {
        let out = dig(
            port,
            &[transport, "+dnssec", "www.global.example.test", "A"],
        );
        assert!(out.contains("flags: qr aa;"), "{out}");
        assert!(out.contains("EDNS: version: 0, flags: do;"), "{out}");
        assert!(out.contains("IN RRSIG CNAME 15 4 30 "), "{out}");
        assert!(out.contains("IN RRSIG A 15 4 30 "), "{out}");
        assert!(out.contains(" 43869 global.example.test. "), "{out}");
        let out = dig(
            port,
            &[transport, "+dnssec", "global.example.test", "DNSKEY"],
        );
        assert!(out.contains("IN RRSIG DNSKEY 13 3 30 "), "{out}");
        assert!(out.contains(" 46294 global.example.test. "), "{out}");
        // A name that does not exist: NOERROR with an NSEC at the name.
        let out = dig(
            port,
            &[transport, "+dnssec", "nope.global.example.test", "A"],
        );
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(
            out.contains(
                "nope.global.example.test. 20 IN NSEC \\000.nope.global.example.test. RRSIG NSEC TYPE128"
            ),
            "{out}"
        );
        assert!(out.contains("IN RRSIG NSEC 15 4 20 "), "{out}");
        // Without DO: no signatures, NXDOMAIN as ever.
        let out = dig(port, &[transport, "nope.global.example.test", "A"]);
        assert!(
            out.contains("status: NXDOMAIN") && !out.contains("RRSIG"),
            "{out}"
        );
        let out = dig(port, &[transport, "www.global.example.test", "A"]);
        assert!(
            out.contains("IN A 192.0.2.1") && !out.contains("RRSIG"),
            "{out}"
        );
    }
    // NXDOMAIN when the query says Compact Answers OK (dig 9.18 does not
    // send that flag: hickory does).
    let mut q = query("nope.global.example.test.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.flags_mut().z = 0x4000;
    q.set_edns(edns);
    let response = gslb.udp(&q).await;
    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        response.edns.map(|e| e.flags().z),
        Some(0x4000),
        "CO echoed"
    );
    let hits = gslb
        .metric("gslb_dnssec_rrsig_cache_lookups_total{result=\"hit\"}")
        .await;
    assert!(
        hits.is_some_and(|h| h > 0.0),
        "the TCP round hit the cache: {hits:?}"
    );
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dnssec_ds_prints_the_ksks_ds_and_check_config_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gslb.yaml");
    std::fs::write(&file, config(KSK)).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gslb"))
            .args(args)
            .arg("--config")
            .arg(&file)
            .output()
            .expect("gslb runs")
    };
    let ds = run(&["dnssec", "ds"]);
    assert!(ds.status.success());
    let expected = std::fs::read_to_string(repo("src/dnssec/testdata/ds.txt")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ds.stdout),
        expected,
        "dnssec-dsfromkey's DS"
    );
    let check = run(&["check-config"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
    assert!(
        text.contains("dnssec global.example.test.: 2 keys"),
        "{text}"
    );
    assert!(
        text.contains("key 46294 ECDSAP256SHA256 KSK active: publish 2024-01-01 00:00:00"),
        "{text}"
    );
    assert!(text.contains("key 43869 ED25519 ZSK active"), "{text}");
    std::fs::write(&file, config("Kglobal.example.test.+013+99999")).unwrap();
    let bad = run(&["check-config"]);
    let errors = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        errors.contains("zones[0].dnssec.key_files[0]: ")
            && errors.contains("Kglobal.example.test.+013+99999.key: no such file"),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_with_a_missing_key_keeps_signing_with_the_old_keys() {
    let gslb = Gslb::start(&config(KSK)).await;
    let failures = gslb.server.metrics.reload_failures.load(Ordering::Relaxed);
    gslb.write_config(&config("Kglobal.example.test.+013+99999"));
    let rejected = eventually(Duration::from_secs(10), async || {
        gslb.server.metrics.reload_failures.load(Ordering::Relaxed) > failures
    })
    .await;
    assert!(rejected.is_some(), "the reload is rejected");
    let mut q = query("webapp.global.example.test.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    q.set_edns(edns);
    let response = gslb.udp(&q).await;
    let rrsigs = response
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::RRSIG)
        .count();
    assert_eq!(rrsigs, 1, "still signed: {response:?}");
    gslb.server.shutdown(WAIT).await;
}

/// The RRSIG key tags of the A answer for webapp.
async fn a_signers(gslb: &Gslb) -> Vec<u16> {
    let mut q = query("webapp.global.example.test.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    q.set_edns(edns);
    gslb.udp(&q)
        .await
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(
                sig,
            )) => Some(sig.input().key_tag),
            _ => None,
        })
        .collect()
}

/// `dnssec-settime` on a key file is a reload: the key files are watched
/// like the config. Retiring the ZSK leaves the KSK signing everything.
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_key_file_reloads_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    for file in std::fs::read_dir(repo("src/dnssec/testdata")).unwrap() {
        let file = file.unwrap().path();
        if file
            .extension()
            .is_some_and(|e| e == "key" || e == "private")
        {
            std::fs::copy(&file, dir.path().join(file.file_name().unwrap())).unwrap();
        }
    }
    let yaml = config(KSK).replace(
        &repo("src/dnssec/testdata").display().to_string(),
        &dir.path().display().to_string(),
    );
    let gslb = Gslb::start(&yaml).await;
    assert_eq!(a_signers(&gslb).await, [43869]);
    let private = dir.path().join("Kglobal.example.test.+015+43869.private");
    let text = std::fs::read_to_string(&private).unwrap();
    std::fs::write(&private, format!("{text}Inactive: 20240102000000\n")).unwrap();
    let ksk_signs = eventually(Duration::from_secs(10), async || {
        a_signers(&gslb).await == [46294]
    })
    .await;
    assert!(
        ksk_signs.is_some(),
        "the KSK signs once the ZSK is inactive"
    );
    gslb.server.shutdown(WAIT).await;
}
