//! A ZSK rollover the way BIND operators do it (RFC 6781 §4.1.1.1,
//! pre-publication): a second ZSK made with `dnssec-keygen` and published
//! before it signs, then activated while the first is retired
//! (`dnssec-settime -A` / `-I` a few seconds ahead: gslb switches by its
//! clock), then the first deleted (`-D now`), gslb reloaded after each
//! change to the key files and each step held for the DNSKEY TTL. The KSK stays, so the parent's DS does too. Unbound, with
//! everything cached for at most the short TTLs, validates every answer
//! of a steady stream of queries throughout.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use hickory_proto::rr::RecordType;
use tokio::sync::Mutex;

use super::*;
use crate::support::dns_tree::{Block, Tree};
use crate::support::zone_keys::{dnssec_yaml, gslb_ds};

/// Every TTL in the zone: records, keys, the negative TTL.
const TTL: u32 = 2;
/// How long a step's change may take to show, directly and through the
/// resolver.
const STEP_LIMIT: Duration = Duration::from_secs(15);
/// How many seconds ahead of the reload the roll's Activate and Inactive
/// times lie.
const ROLL_AHEAD: u32 = 3;

const RECORDS: &str = r#"
records:
  - name: webapp.global.example.test.
    ttl: 2
    sets:
      - { id: us, targets: [192.0.2.10], geo: { continents: [NA] } }
      - { id: eu, targets: [192.0.2.20], geo: { continents: [EU] } }
      - { id: ap, targets: [192.0.2.30], geo: { continents: [AS] } }
"#;

const STATIC: &str = r#"    static:
      - { name: "@", type: TXT, data: '"rolling"' }
"#;

/// The questions the stream asks, round after round: GSLB variants, a
/// static record, a name that does not exist, the keys.
const QUESTIONS: [(&str, RecordType, Option<&str>); 6] = [
    (
        "webapp.global.example.test.",
        RecordType::A,
        Some("198.51.100.10/32"),
    ),
    (
        "webapp.global.example.test.",
        RecordType::A,
        Some("198.51.100.70/32"),
    ),
    (
        "webapp.global.example.test.",
        RecordType::A,
        Some("198.51.100.130/32"),
    ),
    ("global.example.test.", RecordType::TXT, None),
    ("nope.global.example.test.", RecordType::A, None),
    ("global.example.test.", RecordType::DNSKEY, None),
];
/// The most rounds the stream asks (bounds it if the test never stops it).
const MAX_ROUNDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(
        has_knotd,
        has_keymgr,
        has_unbound,
        has_unbound_control,
        has_dnssec_keygen,
        has_dnssec_settime,
        can_bind_port_53
    )),
    ignore = "needs knotd, keymgr, unbound, unbound-control, dnssec-keygen, dnssec-settime and root for port 53 (apt-get install knot unbound bind9-utils)"
)]
async fn a_zsk_rollover_by_timing_metadata_keeps_every_answer_validated() {
    let block = Block::reserve();
    let setup = Setup::new();
    let (ksk, zsk1, dnssec) = ksk_and_zsk(&setup, TTL).await;
    let [ns1, ns2] = block.gslb();
    let listen = [SocketAddr::new(ns1, 53), SocketAddr::new(ns2, 53)];
    let nameservers = block.nameservers_yaml();
    let config_path = setup.config_path();
    let dir = setup.dir.path().to_owned();
    let keys_dir = setup.keys();
    setup.write_config(&config(
        &nameservers,
        &listen,
        TTL,
        &dnssec,
        STATIC,
        RECORDS,
    ));
    let ds = gslb_ds(&config_path).await;
    let gslb = setup.start().await;
    let tree = Arc::new(Tree::start_signed(block, &ds).await);

    // The stream: every answer must be validated.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let insecure = Arc::new(Mutex::new(Vec::<String>::new()));
    let stream = {
        let (tree, stop, answered, insecure) = (
            tree.clone(),
            stop.clone(),
            answered.clone(),
            insecure.clone(),
        );
        tokio::spawn(async move {
            for round in 0..MAX_ROUNDS {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                for (name, rtype, ecs) in QUESTIONS {
                    let response =
                        resolve(local(), tree.resolver(), &secure_query(name, rtype, ecs)).await;
                    if !is_secure(&response) {
                        insecure
                            .lock()
                            .await
                            .push(format!("round {round}, {name} {rtype}:\n{response}"));
                    }
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let reload = async || {
        let reloads = gslb.server.metrics.reloads.load(Ordering::Relaxed);
        gslb.server.reloader.reload();
        let done = eventually(Duration::from_secs(5), async || {
            gslb.server.metrics.reloads.load(Ordering::Relaxed) > reloads
        })
        .await;
        assert!(done.is_some(), "the reload is applied");
    };
    // The DNSKEY set gslb serves, and the one Unbound's clients see.
    let direct_keys = async || {
        let response = gslb
            .udp(&secure_query(ORIGIN, RecordType::DNSKEY, None))
            .await;
        dnskey_tags(&response.answers)
    };
    let resolver_keys = async || {
        let response = resolve(
            local(),
            tree.resolver(),
            &secure_query(ORIGIN, RecordType::DNSKEY, None),
        )
        .await;
        dnskey_tags(&response.answers)
    };
    // The ZSK tag over a GSLB answer, directly and through Unbound.
    let direct_signer = async || {
        let response = gslb
            .udp(&secure_query(
                "webapp.global.example.test.",
                RecordType::A,
                Some("198.51.100.70/32"),
            ))
            .await;
        rrsig_tags(&response.answers, RecordType::A)
    };
    let resolver_signer = async || {
        let response = resolve(
            local(),
            tree.resolver(),
            &secure_query(
                "webapp.global.example.test.",
                RecordType::A,
                Some("198.51.100.70/32"),
            ),
        )
        .await;
        rrsig_tags(&response.answers, RecordType::A)
    };
    let sorted = |mut tags: Vec<u16>| {
        tags.sort_unstable();
        tags
    };
    let hold = Duration::from_secs(u64::from(TTL) + 1);

    assert_eq!(direct_keys().await, sorted(vec![ksk.tag, zsk1.tag]));
    assert_eq!(direct_signer().await, [zsk1.tag]);
    tokio::time::sleep(hold).await;

    // 1. Pre-publish: the new ZSK is in the DNSKEY set, not signing yet.
    let zsk2 = Key::generate(&keys_dir, ORIGIN, P256, TTL, &["-P", "now", "-A", "+1y"]).await;
    write_config(
        &config_path,
        &config(
            &nameservers,
            &listen,
            TTL,
            &dnssec_yaml(&[&ksk, &zsk1, &zsk2]),
            STATIC,
            RECORDS,
        ),
        &dir,
    );
    reload().await;
    let three = sorted(vec![ksk.tag, zsk1.tag, zsk2.tag]);
    assert_eq!(direct_keys().await, three, "published after the reload");
    assert_eq!(direct_signer().await, [zsk1.tag], "the old ZSK still signs");
    let seen = eventually(STEP_LIMIT, async || resolver_keys().await == three).await;
    assert!(
        seen.is_some(),
        "Unbound's clients see the new ZSK published"
    );
    tokio::time::sleep(hold).await;

    // 2. Roll: the new ZSK signs, the old one retires but stays published
    // while signatures made with it may be cached. The times lie a few
    // seconds ahead: gslb reads them at the reload and switches by its
    // clock, without another one.
    zsk2.settime(&["-A", &format!("+{ROLL_AHEAD}")]).await;
    zsk1.settime(&["-I", &format!("+{ROLL_AHEAD}")]).await;
    reload().await;
    let rolled = eventually(STEP_LIMIT, async || direct_signer().await == [zsk2.tag]).await;
    assert!(
        rolled.is_some(),
        "the new ZSK signs once its Activate time has passed"
    );
    assert_eq!(direct_keys().await, three, "the old ZSK is still published");
    let seen = eventually(STEP_LIMIT, async || resolver_signer().await == [zsk2.tag]).await;
    assert!(seen.is_some(), "Unbound's clients get the new signatures");
    tokio::time::sleep(hold).await;

    // 3. Delete: the old ZSK leaves the DNSKEY set.
    zsk1.settime(&["-D", "now"]).await;
    reload().await;
    let two = sorted(vec![ksk.tag, zsk2.tag]);
    assert_eq!(direct_keys().await, two, "the old ZSK is gone");
    let seen = eventually(STEP_LIMIT, async || resolver_keys().await == two).await;
    assert!(seen.is_some(), "Unbound's clients see the old ZSK gone");
    tokio::time::sleep(hold).await;

    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), stream)
        .await
        .expect("the stream stops")
        .expect("the stream ran");
    let insecure = insecure.lock().await;
    assert!(
        insecure.is_empty(),
        "{} of {} answers not validated; first: {}",
        insecure.len(),
        answered.load(Ordering::SeqCst),
        insecure[0]
    );
    assert!(
        answered.load(Ordering::SeqCst) >= 10 * QUESTIONS.len(),
        "the stream kept asking: {} answers",
        answered.load(Ordering::SeqCst)
    );
    let failures = tree.validation_failures();
    assert!(failures.is_empty(), "nothing bogus: {failures:#?}");
    gslb.server.shutdown(WAIT).await;
}
