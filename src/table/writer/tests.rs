//! The writer's rules, driven through its methods without a runtime: what
//! it publishes, when, and what carries over from one config to the next.

use std::sync::Arc;

use super::*;
use crate::config::{Inputs, load_from_text};
use crate::table::overrides::{OverrideEntry, OverrideSource};

const CONFIG: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: tcp, port: 80 }
records:
  - name: app.global.example.test.
    sets:
      - { id: us, targets: [192.0.2.1], health_check: web }
      - { id: eu, targets: [192.0.2.2], health_check: web }
"#;

fn loaded(text: &str) -> Loaded {
    let config = load_from_text("test.yaml", text, &[])
        .unwrap_or_else(|e| panic!("test config is valid:\n{e}"));
    Loaded {
        config: Arc::new(config),
        geo: None,
        warnings: Vec::new(),
        inputs: Inputs::default(),
        admin_key: None,
    }
}

fn writer(text: &str) -> (Writer, SnapshotCell, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let (writer, _handle, cell) = Writer::new(loaded(text), metrics.clone());
    (writer, cell, metrics)
}

/// Applies `text` as a reload would, once the reload task has loaded it.
fn reload(writer: &mut Writer, text: &str) {
    let loaded = loaded(text);
    let table = compile(&loaded.config);
    writer.reload(loaded, table, "test", tokio::time::Instant::now());
}

fn name(text: &str) -> Name {
    Name::parse(text).expect("test name")
}

fn set_override(writer: &mut Writer, set: &str, state: Override) -> Result<u64, OverrideError> {
    writer
        .set_override(
            name("app.global.example.test."),
            set.into(),
            state,
            OverrideMeta::default(),
        )
        .map(|applied| applied.generation)
}

#[test]
fn a_new_config_is_compiled_into_a_new_snapshot() {
    let (mut writer, cell, metrics) = writer(CONFIG);
    assert_eq!(cell.load().generation, 1);
    assert_eq!(metrics.reloads.load(Ordering::Relaxed), 1);
    let more = CONFIG.replace(
        "records:\n",
        "records:\n  - name: new.global.example.test.\n    sets: [{ id: one, targets: [192.0.2.9] }]\n",
    );
    reload(&mut writer, &more);
    let snapshot = cell.load();
    assert_eq!(snapshot.generation, 2);
    assert!(
        snapshot
            .table
            .record(&name("new.global.example.test."))
            .is_some()
    );
    assert_eq!(metrics.reloads.load(Ordering::Relaxed), 2);
    assert_eq!(metrics.generation.load(Ordering::Relaxed), 2);
}

#[test]
fn a_flip_publishes_once_and_only_for_known_probes() {
    let (mut writer, cell, _) = writer(CONFIG);
    let probe = cell.load().table.probes[0].clone();
    writer.flip(probe.clone(), false);
    let after = cell.load_full();
    assert_eq!(after.generation, 2, "a flip publishes");
    assert!(!after.health.probes.is_up(0));
    writer.flip(probe.clone(), false);
    assert_eq!(
        cell.load().generation,
        2,
        "the same state again publishes nothing"
    );
    let gone = Probe {
        addr: "192.0.2.77".parse().expect("test address"),
        ..probe
    };
    writer.flip(gone, false);
    assert_eq!(cell.load().generation, 2, "a probe no table has is ignored");
}

#[test]
fn a_probe_state_survives_a_reload_that_keeps_the_probe() {
    let (mut writer, cell, _) = writer(CONFIG);
    let probe = cell.load().table.probes[0].clone();
    writer.flip(probe, false);
    reload(&mut writer, CONFIG);
    assert!(
        !cell.load().health.probes.is_up(0),
        "still down after the reload"
    );
}

#[test]
fn an_override_reuses_the_table_and_copies_no_set_array() {
    let (mut writer, cell, _) = writer(CONFIG);
    let before = cell.load_full();
    let generation = set_override(&mut writer, "eu", Override::Down).expect("set exists");
    let after = cell.load_full();
    assert_eq!(after.generation, generation);
    assert!(
        Arc::ptr_eq(&before.table, &after.table),
        "the table is shared"
    );
    let eu = after
        .table
        .record(&name("app.global.example.test."))
        .expect("record")
        .sets[1]
        .index;
    assert_eq!(after.health.overrides.get(eu as usize), Override::Down);
    assert_eq!(
        set_override(&mut writer, "nope", Override::Down),
        Err(OverrideError::NoSet {
            record: "app.global.example.test.".into(),
            set: "nope".into()
        })
    );
    assert_eq!(
        cell.load().generation,
        generation,
        "a refused override publishes nothing"
    );
}

#[test]
fn overrides_go_when_a_reload_removes_their_set_and_stay_otherwise() {
    let (mut writer, cell, _) = writer(CONFIG);
    let listed = writer.subscribe_overrides();
    let document = writer.subscribe_document();
    set_override(&mut writer, "us", Override::Up).expect("set exists");
    set_override(&mut writer, "eu", Override::Down).expect("set exists");
    assert_eq!(listed.borrow().len(), 2);
    let without_eu = CONFIG.replace(
        "      - { id: eu, targets: [192.0.2.2], health_check: web }\n",
        "",
    );
    reload(&mut writer, &without_eu);
    let list = listed.borrow().clone();
    assert_eq!(list.len(), 1, "eu's override is cleared: {list:?}");
    assert_eq!(list[0].set, "us");
    let shared = document.borrow().overrides.items.clone();
    assert!(
        shared
            .iter()
            .any(|e| e.set == "eu" && e.state == Override::Auto),
        "the peers are told with a tombstone: {shared:?}"
    );
    let snapshot = cell.load();
    let us = snapshot
        .table
        .record(&name("app.global.example.test."))
        .expect("record")
        .sets[0]
        .index;
    assert_eq!(snapshot.health.overrides.get(us as usize), Override::Up);
    reload(&mut writer, CONFIG);
    let snapshot = cell.load();
    let eu = snapshot
        .table
        .record(&name("app.global.example.test."))
        .expect("record")
        .sets[1]
        .index;
    assert_eq!(
        snapshot.health.overrides.get(eu as usize),
        Override::Auto,
        "a set that comes back does not get its old override back"
    );
}

#[test]
fn an_override_for_a_set_this_config_lacks_waits_for_it() {
    let (mut a, _, _) = writer(&with_peers("a", &["b"]));
    let without_eu = with_peers("b", &["a"]).replace(
        "      - { id: eu, targets: [192.0.2.2], health_check: web }\n",
        "",
    );
    let (mut b, b_cell, _) = writer(&without_eu);
    set_override(&mut a, "eu", Override::Down).expect("set exists");
    b.peer_document("a".into(), document_of(&a));
    // b reloads while its config still lacks eu: the drain must survive.
    reload(&mut b, &without_eu);
    reload(&mut b, &with_peers("b", &["a"]));
    assert_eq!(
        override_of(&b_cell, 1),
        Override::Down,
        "applies once b has eu"
    );
}

/// CONFIG with two peers, b and c.
fn with_peers(instance: &str, peers: &[&str]) -> String {
    let peers: Vec<String> = peers
        .iter()
        .map(|p| format!("{{ name: {p}, url: \"http://127.0.0.1:1\" }}"))
        .collect();
    CONFIG.replace(
        "server: { dns_listen: [\"127.0.0.1:0\"] }",
        &format!(
            "server: {{ dns_listen: [\"127.0.0.1:0\"], instance: {instance}, peers: [{}] }}",
            peers.join(", ")
        ),
    )
}

fn web_probe(writer: &Writer, addr: &str) -> Probe {
    let addr: std::net::IpAddr = addr.parse().expect("address");
    writer
        .table
        .probes
        .iter()
        .find(|p| p.addr == addr)
        .cloned()
        .expect("probe of the address")
}

/// A peer document whose health view has `web` at 192.0.2.1 `up`.
fn peer_view(instance: &str, up: bool) -> Document {
    Document {
        format: crate::table::shared::document::FORMAT,
        instance: instance.into(),
        epoch: 1,
        version: 1,
        changed_ms: 0,
        health: Some(Section {
            version: 1,
            items: vec![HealthItem {
                check: "web".into(),
                addr: "192.0.2.1".parse().expect("address"),
                up,
                since_ms: 1,
            }],
        }),
        overrides: None,
        dynamic: None,
        seen_macs: None,
    }
}

fn us_state(cell: &SnapshotCell) -> (bool, bool) {
    let snapshot = cell.load();
    let record = snapshot
        .table
        .record(&name("app.global.example.test."))
        .expect("record");
    let target = record.sets[0].targets(crate::table::Family::V4)[0];
    let probe = target.probe as usize;
    (
        snapshot.health.probes.is_up(probe),
        snapshot.health.contested.is_set(probe),
    )
}

#[test]
fn one_instance_that_sees_a_target_down_is_outvoted_and_a_tie_keeps_it_up() {
    let (mut writer, cell, metrics) = writer(&with_peers("a", &["b", "c"]));
    let probe = web_probe(&writer, "192.0.2.1");
    writer.flip(probe.clone(), false);
    assert_eq!(
        us_state(&cell),
        (false, false),
        "no peer view: it decides alone"
    );
    writer.peer_document("b".into(), peer_view("b", true));
    assert_eq!(
        us_state(&cell),
        (true, true),
        "1 down, 1 up: a tie keeps it up"
    );
    writer.peer_document("c".into(), peer_view("c", true));
    assert_eq!(us_state(&cell), (true, true), "1 down, 2 up");
    assert_eq!(metrics.peers.disagreements.load(Ordering::Relaxed), 1);
    writer.peer_document("c".into(), peer_view("c", false));
    assert_eq!(us_state(&cell), (false, true), "2 down, 1 up: down");
    writer.peer_lost("c");
    assert_eq!(
        us_state(&cell),
        (true, true),
        "c's view went stale: a tie again"
    );
    writer.flip(probe, true);
    assert_eq!(us_state(&cell), (true, false), "all agree");
    assert_eq!(metrics.peers.disagreements.load(Ordering::Relaxed), 0);
    assert_eq!(metrics.peers.views_fresh.load(Ordering::Relaxed), 1);
}

#[test]
fn under_own_quorum_peers_are_shown_but_do_not_vote() {
    let text =
        with_peers("a", &["b", "c"]).replace("instance: a,", "instance: a, health_quorum: own,");
    let (mut writer, cell, _) = writer(&text);
    writer.peer_document("b".into(), peer_view("b", false));
    writer.peer_document("c".into(), peer_view("c", false));
    assert_eq!(us_state(&cell), (true, false), "not probed here: up");
    let probe = web_probe(&writer, "192.0.2.1");
    writer.flip(probe, true);
    assert_eq!(us_state(&cell), (true, true));
}

#[test]
fn the_health_section_holds_this_instances_own_results() {
    let (mut writer, _, _) = writer(&with_peers("a", &["b"]));
    let document = writer.subscribe_document();
    let probe = web_probe(&writer, "192.0.2.2");
    writer.peer_document("b".into(), peer_view("b", false));
    assert!(
        document.borrow().health.items.is_empty(),
        "peer views are not relayed"
    );
    writer.flip(probe, false);
    let current = document.borrow().clone();
    assert_eq!(current.instance, "a");
    let items = &current.health.items;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0].check.as_str(),
            items[0].addr.to_string(),
            items[0].up
        ),
        ("web", "192.0.2.2".to_owned(), false)
    );
    assert_eq!(current.health.version, current.version);
}

/// `from`'s document as a peer would receive it from scratch.
fn document_of(from: &Writer) -> Document {
    let published = from.subscribe_document().borrow().clone();
    let text = serde_json::to_string(&published.since(0, 0)).expect("encodes");
    serde_json::from_str(&text).expect("decodes")
}

fn override_of(cell: &SnapshotCell, set: usize) -> Override {
    let snapshot = cell.load();
    let record = snapshot
        .table
        .record(&name("app.global.example.test."))
        .expect("record");
    snapshot
        .health
        .overrides
        .get(record.sets[set].index as usize)
}

#[test]
fn overrides_reach_peers_and_the_latest_change_wins_everywhere() {
    let (mut a, a_cell, _) = writer(&with_peers("a", &["b"]));
    let (mut b, b_cell, _) = writer(&with_peers("b", &["a"]));
    set_override(&mut a, "eu", Override::Down).expect("set exists");
    b.peer_document("a".into(), document_of(&a));
    assert_eq!(
        override_of(&b_cell, 1),
        Override::Down,
        "a's drain is in force on b"
    );
    let listed = b.subscribe_overrides().borrow().clone();
    let version = listed[0].version.as_ref().expect("an admin override");
    assert_eq!(version.by, "a", "b shows who took it: {listed:?}");
    // b clears it: the tombstone reaches a.
    set_override(&mut b, "eu", Override::Auto).expect("set exists");
    a.peer_document("b".into(), document_of(&b));
    assert_eq!(override_of(&a_cell, 1), Override::Auto);
    assert!(a.subscribe_overrides().borrow().is_empty());
    // Both change one set before hearing from each other: whichever change
    // is later wins on both, whatever the order the documents arrive in.
    set_override(&mut a, "us", Override::Down).expect("set exists");
    set_override(&mut b, "us", Override::Up).expect("set exists");
    let (from_a, from_b) = (document_of(&a), document_of(&b));
    a.peer_document("b".into(), from_b);
    b.peer_document("a".into(), from_a);
    assert_eq!(override_of(&a_cell, 0), override_of(&b_cell, 0));
    assert_eq!(
        override_of(&a_cell, 0),
        Override::Up,
        "b's change came later"
    );
}

#[test]
fn a_peer_cannot_override_what_this_instance_does_not_serve() {
    let (mut b, _, _) = writer(&with_peers("b", &["a"]));
    let foreign = OverrideEntry {
        record: "app.other.example.".into(),
        set: "us".into(),
        state: Override::Down,
        reason: None,
        client: None,
        at: "2026-12-07T00:00:00Z".into(),
        version: crate::table::shared::version::Version {
            ms: now_ms(),
            n: 0,
            by: "a".into(),
        },
    };
    let future = OverrideEntry {
        record: "app.global.example.test.".into(),
        version: crate::table::shared::version::Version {
            ms: now_ms() + 3_600_000,
            n: 0,
            by: "a".into(),
        },
        ..foreign.clone()
    };
    let mut document = peer_view("a", true);
    document.overrides = Some(Section {
        version: 1,
        items: vec![foreign, future],
    });
    b.peer_document("a".into(), document);
    assert!(b.subscribe_overrides().borrow().is_empty());
    assert!(b.subscribe_document().borrow().overrides.items.is_empty());
}

#[test]
fn a_changed_rate_limit_replaces_the_limiter_and_others_keep_it() {
    let limited = CONFIG.replace(
        "server: { dns_listen: [\"127.0.0.1:0\"] }",
        "server: { dns_listen: [\"127.0.0.1:0\"], rate_limit: { responses_per_second: 5 } }",
    );
    let (mut writer, cell, _) = writer(&limited);
    let first = cell
        .load()
        .rate_limiter
        .clone()
        .expect("rate limiting is on");
    reload(&mut writer, &limited);
    let kept = cell.load().rate_limiter.clone().expect("still on");
    assert!(
        Arc::ptr_eq(&first, &kept),
        "an unchanged limit keeps its state"
    );
    reload(
        &mut writer,
        &limited.replace("responses_per_second: 5", "responses_per_second: 6"),
    );
    let replaced = cell.load().rate_limiter.clone().expect("still on");
    assert!(!Arc::ptr_eq(&first, &replaced));
    reload(&mut writer, CONFIG);
    assert!(cell.load().rate_limiter.is_none());
}

/// The record file crd-sync would write for GslbOverride `us/gslb/NAME`
/// declaring `state` for set `set` of app.
fn declaring(set: &str, state: &str, name: &str) -> String {
    format!(
        r#"{{"records": [], "overrides": [{{"record": "app.global.example.test.", "set": "{set}",
          "state": "{state}", "reason": "maintenance", "object": "us/gslb/{name}",
          "at": "2025-01-31T12:00:00Z"}}]}}"#
    )
}

/// `config` with the record file `crd.yaml` holding `file`, as a reload
/// would load it.
fn loaded_with(config: &str, file: &str) -> Loaded {
    let config = load_from_text("test.yaml", config, &[("crd.yaml", file)])
        .unwrap_or_else(|e| panic!("test config is valid:\n{e}"));
    Loaded {
        config: Arc::new(config),
        geo: None,
        warnings: Vec::new(),
        inputs: Inputs::default(),
        admin_key: None,
    }
}

fn reload_with(writer: &mut Writer, config: &str, file: &str) {
    let loaded = loaded_with(config, file);
    let table = compile(&loaded.config);
    writer.reload(loaded, table, "test", tokio::time::Instant::now());
}

#[test]
fn a_declared_override_is_in_force_over_the_admin_api_and_answers_conflict() {
    let metrics = Arc::new(Metrics::default());
    let (mut writer, _handle, cell) = Writer::new(
        loaded_with(CONFIG, &declaring("us", "down", "drain-us")),
        metrics.clone(),
    );
    assert_eq!(
        override_of(&cell, 0),
        Override::Down,
        "in force from the start"
    );
    for state in [Override::Up, Override::Down, Override::Auto] {
        let refused = set_override(&mut writer, "us", state).expect_err("declared");
        assert_eq!(
            refused.to_string(),
            "app.global.example.test. set \"us\" is drained by GslbOverride us/gslb/drain-us; delete the object to clear it"
        );
    }
    assert_eq!(override_of(&cell, 0), Override::Down);
    set_override(&mut writer, "eu", Override::Up).expect("eu is not declared");
    let listed = writer.subscribe_overrides().borrow().clone();
    let sources: Vec<_> = listed
        .iter()
        .map(|o| (o.set.as_str(), o.source, o.object.as_deref()))
        .collect();
    assert_eq!(
        sources,
        [
            ("eu", OverrideSource::Admin, None),
            ("us", OverrideSource::Kubernetes, Some("us/gslb/drain-us"))
        ]
    );
    assert_eq!(listed[1].at.as_deref(), Some("2025-01-31T12:00:00Z"));
    assert_eq!(listed[1].reason.as_deref(), Some("maintenance"));
    let count = |source, state| metrics.overrides.get(source, state);
    assert_eq!(
        [
            count("kubernetes", "down"),
            count("kubernetes", "up"),
            count("admin", "up"),
            count("admin", "down")
        ],
        [Some(1), Some(0), Some(1), Some(0)]
    );
    // The object is deleted: the next file has no override.
    reload_with(&mut writer, CONFIG, r#"{"records": []}"#);
    assert_eq!(override_of(&cell, 0), Override::Auto, "cleared");
    assert_eq!(count("kubernetes", "down"), Some(0));
    set_override(&mut writer, "us", Override::Down).expect("the admin API may again");
}

#[test]
fn a_declared_override_wins_over_the_peer_group_whose_override_returns_after_it() {
    let (mut a, _, _) = writer(&with_peers("a", &["b"]));
    let metrics = Arc::new(Metrics::default());
    let (mut b, _handle, b_cell) = Writer::new(
        loaded_with(&with_peers("b", &["a"]), &declaring("us", "up", "force-us")),
        metrics,
    );
    assert!(
        document_of(&b).overrides.is_none_or(|o| o.items.is_empty()),
        "a declared override never enters the peer document"
    );
    set_override(&mut a, "us", Override::Down).expect("not declared on a");
    b.peer_document("a".into(), document_of(&a));
    assert_eq!(
        override_of(&b_cell, 0),
        Override::Up,
        "the declared one wins"
    );
    let shared = document_of(&b).overrides.expect("a's override is shared");
    assert_eq!(shared.items.len(), 1);
    assert_eq!(
        shared.items[0].state,
        Override::Down,
        "a's, not the declared one"
    );
    reload_with(&mut b, &with_peers("b", &["a"]), r#"{"records": []}"#);
    assert_eq!(
        override_of(&b_cell, 0),
        Override::Down,
        "a's drain applies once the declared override is gone"
    );
}

#[test]
fn a_declared_override_of_a_missing_set_is_inactive_until_the_set_is_there() {
    let without_eu = CONFIG.replace(
        "      - { id: eu, targets: [192.0.2.2], health_check: web }\n",
        "",
    );
    let file = declaring("eu", "down", "drain-eu");
    let metrics = Arc::new(Metrics::default());
    let (mut writer, _handle, cell) = Writer::new(loaded_with(&without_eu, &file), metrics);
    assert!(matches!(
        set_override(&mut writer, "eu", Override::Up),
        Err(OverrideError::NoSet { .. })
    ));
    assert_eq!(writer.subscribe_overrides().borrow().len(), 1, "listed");
    reload_with(&mut writer, CONFIG, &file);
    assert_eq!(
        override_of(&cell, 1),
        Override::Down,
        "in force with the set"
    );
}
