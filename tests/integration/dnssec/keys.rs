//! Bad key files: `gslb check-config` rejects each with the file and the
//! reason, and a running server reloaded onto one keeps its signed
//! snapshot serving.

use std::{net::SocketAddr, sync::atomic::Ordering, time::Duration};

use hickory_proto::rr::RecordType;

use super::*;
use crate::support::dns_tree::{Block, Tree};
use crate::support::zone_keys::{Key, check_config, dnssec_yaml, gslb_ds};

/// A zone record to sign.
const RECORDS: &str = r#"
records:
  - name: webapp.global.example.test.
    sets:
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] } }
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] } }
"#;

/// Cuts a file to half its length, as a failed copy leaves it.
fn truncate_half(path: &std::path::Path) {
    let bytes = std::fs::read(path).expect("read key file");
    std::fs::write(path, &bytes[..bytes.len() / 2]).expect("truncate key file");
}

/// The file name part of a key's base path (`K<zone>+<alg>+<tag>`), which
/// an error about the key names in any of its forms.
fn file_name(key: &Key) -> String {
    key.base
        .file_name()
        .and_then(|n| n.to_str())
        .expect("key file name")
        .to_owned()
}

#[tokio::test]
#[cfg_attr(
    not(has_dnssec_keygen),
    ignore = "needs dnssec-keygen (apt-get install bind9-utils)"
)]
async fn bad_key_files_are_config_errors_naming_the_file_and_the_reason() {
    let nameservers = "      ns1.global.example.test.: [192.0.2.53]\n";
    let setup = Setup::new();
    let (ksk, zsk, _) = ksk_and_zsk(&setup, 300).await;
    let listen = [SocketAddr::from(([127, 0, 0, 1], 0))];
    let check = async |keys: &[&Key]| {
        setup.write_config(&config(
            nameservers,
            &listen,
            30,
            &dnssec_yaml(keys),
            "",
            RECORDS,
        ));
        check_config(&setup.config_path()).await
    };

    // The good pair passes, and check-config shows each key's state.
    let (ok, out) = check(&[&ksk, &zsk]).await;
    assert!(ok, "KSK and ZSK pass:\n{out}");
    for tag in [ksk.tag, zsk.tag] {
        assert!(out.contains(&tag.to_string()), "key {tag} shown:\n{out}");
    }
    assert!(
        out.to_lowercase().contains("active"),
        "states shown:\n{out}"
    );

    let other_zone = Key::generate(&setup.keys(), "other.example.test.", P256, 300, &[]).await;
    let rsa = setup.key(8, 300, &[]).await;
    let truncated = setup.key(P256, 300, &[]).await;
    truncate_half(&truncated.private_file());
    // Not active yet, or not any more (a key without an Activate time
    // signs from the start, as with dnssec-signzone).
    let future_ksk = setup.key(P256, 300, &["-f", "KSK", "-A", "+30d"]).await;
    let retired_zsk = setup.key(P256, 300, &["-A", "-2d", "-I", "-1d"]).await;
    let future_zsk = setup.key(P256, 300, &["-P", "now", "-A", "+30d"]).await;
    let cases: [(&str, Vec<&Key>, &Key, &[&str]); 4] = [
        (
            "a key of another zone",
            vec![&ksk, &zsk, &other_zone],
            &other_zone,
            &["zone", "other.example.test"],
        ),
        (
            "an unsupported algorithm (8, RSASHA256)",
            vec![&ksk, &zsk, &rsa],
            &rsa,
            &["algorithm", "8"],
        ),
        (
            "a truncated private key",
            vec![&ksk, &truncated],
            &truncated,
            &["PrivateKey"],
        ),
        (
            "no active key (two active in 30 days, one retired)",
            vec![&future_ksk, &retired_zsk, &future_zsk],
            &retired_zsk,
            &["active"],
        ),
    ];
    for (what, keys, culprit, reasons) in cases {
        let (ok, out) = check(&keys).await;
        assert!(!ok, "{what}: check-config fails:\n{out}");
        let lower = out.to_lowercase();
        assert!(
            out.contains(&file_name(culprit)),
            "{what}: the error names {}:\n{out}",
            file_name(culprit)
        );
        for reason in reasons {
            assert!(
                lower.contains(&reason.to_lowercase()),
                "{what}: the error says {reason:?}:\n{out}"
            );
        }
    }

    // A key file that is not there.
    let missing = Key {
        base: setup.keys().join("Kglobal.example.test.+013+00001"),
        tag: 1,
    };
    let (ok, out) = check(&[&ksk, &zsk, &missing]).await;
    assert!(!ok, "a missing key file fails:\n{out}");
    assert!(out.contains("Kglobal.example.test.+013+00001"), "{out}");
    assert!(
        out.to_lowercase().contains("no such file"),
        "a missing file says so:\n{out}"
    );
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
async fn a_reload_with_a_bad_key_keeps_the_signed_snapshot_serving() {
    let block = Block::reserve();
    let setup = Setup::new();
    let (ksk, zsk, dnssec) = ksk_and_zsk(&setup, 30).await;
    let [ns1, ns2] = block.gslb();
    let listen = [SocketAddr::new(ns1, 53), SocketAddr::new(ns2, 53)];
    let config_path = setup.config_path();
    let dir = setup.dir.path().to_owned();
    setup.write_config(&config(
        &block.nameservers_yaml(),
        &listen,
        30,
        &dnssec,
        "",
        RECORDS,
    ));
    let ds = gslb_ds(&config_path).await;
    let other_zone = Key::generate(&setup.keys(), "other.example.test.", P256, 30, &[]).await;
    let gslb = setup.start().await;
    let tree = Tree::start_signed(block, &ds).await;
    let webapp = "webapp.global.example.test.";
    // Each check asks for a network not asked before, so Unbound has to
    // ask gslb (and validate) anew.
    let mut subnets = ["198.51.100.10/32", "198.51.100.70/32", "198.51.100.20/32"].into_iter();
    let mut check_signed = async |when: &str| {
        let subnet = subnets.next().expect("a fresh subnet per check");
        let direct = gslb
            .udp(&secure_query(webapp, RecordType::A, Some(subnet)))
            .await;
        assert_eq!(
            rrsig_tags(&direct.answers, RecordType::A),
            [zsk.tag],
            "{when}: gslb signs with the ZSK: {direct}"
        );
        let response = resolve(
            local(),
            tree.resolver(),
            &secure_query(webapp, RecordType::A, Some(subnet)),
        )
        .await;
        assert_secure(&response, when);
    };
    check_signed("before the reloads").await;

    let metrics = gslb.server.metrics.clone();
    let reload_rejected = async |what: &str| {
        let failures = metrics.reload_failures.load(Ordering::Relaxed);
        gslb.server.reloader.reload();
        let rejected = eventually(Duration::from_secs(5), async || {
            metrics.reload_failures.load(Ordering::Relaxed) > failures
        })
        .await;
        assert!(rejected.is_some(), "{what}: the reload is rejected");
    };

    // A key of another zone added to the config.
    write_config(
        &config_path,
        &config(
            &block.nameservers_yaml(),
            &listen,
            30,
            &dnssec_yaml(&[&ksk, &zsk, &other_zone]),
            "",
            RECORDS,
        ),
        &dir,
    );
    reload_rejected("another zone's key").await;
    check_signed("after the reload with another zone's key").await;

    // The ZSK's private key file cut in half under the same config.
    write_config(
        &config_path,
        &config(&block.nameservers_yaml(), &listen, 30, &dnssec, "", RECORDS),
        &dir,
    );
    truncate_half(&zsk.private_file());
    reload_rejected("a truncated private key").await;
    check_signed("after the reload with a truncated private key").await;
    let failures = tree.validation_failures();
    assert!(failures.is_empty(), "nothing bogus: {failures:#?}");
    gslb.server.shutdown(WAIT).await;
}
