//! The writer's rules, driven through its methods without a runtime: what
//! it publishes, when, and what carries over from one config to the next.

use std::sync::Arc;

use super::*;
use crate::config::{Inputs, load_from_text};

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
    set_override(&mut writer, "us", Override::Up).expect("set exists");
    set_override(&mut writer, "eu", Override::Down).expect("set exists");
    assert_eq!(listed.borrow().len(), 2);
    let without_eu = CONFIG.replace(
        "      - { id: eu, targets: [192.0.2.2], health_check: web }\n",
        "",
    );
    reload(&mut writer, &without_eu);
    let list = listed.borrow().clone();
    assert_eq!(list.len(), 1, "eu's override is dropped: {list:?}");
    assert_eq!(list[0].set, "us");
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
