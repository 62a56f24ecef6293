//! The table is what validation checks, what the schema has, and what
//! the committed reference page says.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::config::{Secrets, check_text};

/// A config with every section that has numeric keys, valid as it is
/// (TSIG secrets are not read: [`Secrets::Skip`]).
fn full_config() -> Value {
    json!({
        "server": {
            "dns_listen": ["127.0.0.1:0"],
            "rate_limit": { "responses_per_second": 20 },
            "alias": {},
        },
        "zones": [{
            "origin": "global.example.test.",
            "soa": { "mname": "ns1.global.example.test.", "rname": "hostmaster.example.test." },
            "nameservers": { "ns1.global.example.test.": ["192.0.2.53"] },
            "static": [{ "name": "@", "type": "TXT", "data": "\"x\"" }],
            "updates": {
                "keys": [{ "name": "acme.", "secret_file": "/run/secrets/acme" }],
                "allow": [{ "key": "acme.", "names": ["_acme-challenge.*"], "types": ["TXT"] }],
            },
        }],
        "health_checks": { "web": { "kind": "tcp", "port": 80, "interval": "1h" } },
        "records": [{
            "name": "www.global.example.test.",
            "sets": [{ "id": "a", "targets": ["192.0.2.10"], "health_check": "web" }],
        }],
    })
}

/// `key` of the table (`zones[].soa.refresh`) as a path into
/// [`full_config`] (`zones[0].soa.refresh`) and a pointer to set it.
fn path_and_pointer(key: &str) -> (String, String) {
    let path = key.replace("[]", "[0]").replace("<name>", "web");
    let pointer = format!("/{}", path.replace("[0]", ".0").replace('.', "/"));
    (path, pointer)
}

/// The errors `check-config` gives for [`full_config`] with `key` set to
/// `value`, those about `key` only.
fn errors_with(key: &str, value: Value) -> Vec<String> {
    let (path, pointer) = path_and_pointer(key);
    let mut config = full_config();
    if key.starts_with("zones[].dnssec.") {
        // No key files: that error is on `key_files`, and the signature
        // settings are checked before the keys are read.
        config["zones"][0]["dnssec"] = json!({ "key_files": [] });
    }
    let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
    config
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{key}: {parent} is not in the test config"))
        .insert(field.to_owned(), value);
    let text = config.to_string();
    match check_text("gslb.yaml", &text, &[], Secrets::Skip) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .0
            .into_iter()
            .filter(|e| e.path == path)
            .map(|e| e.message)
            .collect(),
    }
}

fn duration_text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[test]
fn the_test_config_is_valid() {
    let text = full_config().to_string();
    if let Err(errors) = check_text("gslb.yaml", &text, &[], Secrets::Skip) {
        panic!("{errors}");
    }
}

/// Validation takes every numeric range from the table: the bounds pass
/// and one past them is rejected with the table's range in the message.
/// A range changed in the table changes the check with it.
#[test]
fn validation_enforces_the_table_s_ranges() {
    let mut checked = 0;
    for setting in ALL {
        match setting {
            Setting::Int(s) => {
                for ok in [s.min, s.max] {
                    let errors = errors_with(s.key, json!(ok));
                    assert!(
                        errors.iter().all(|e| !e.contains("out of range")),
                        "{}: {ok} is in the table's range: {errors:?}",
                        s.key
                    );
                }
                for bad in [s.min - 1, s.max + 1] {
                    assert_eq!(
                        errors_with(s.key, json!(bad)),
                        [format!("{bad} is out of range ({})", s.range_text())],
                        "{}",
                        s.key
                    );
                }
            }
            Setting::Duration(s) => {
                for ok in [s.min, s.max] {
                    let errors = errors_with(s.key, json!(duration_text(ok)));
                    assert!(
                        errors.iter().all(|e| !e.contains("out of range")),
                        "{}: {ok:?} is in the table's range: {errors:?}",
                        s.key
                    );
                }
                let mut bad = vec![s.max + Duration::from_secs(1)];
                if let Some(below) = s.min.checked_sub(Duration::from_millis(1)) {
                    bad.push(below);
                }
                for bad in bad {
                    let text = duration_text(bad);
                    assert_eq!(
                        errors_with(s.key, json!(text)),
                        [format!("{text} is out of range ({})", s.range_text())],
                        "{}",
                        s.key
                    );
                }
            }
            Setting::Float(_) | Setting::Other(_) => continue,
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} numeric keys");
}

#[test]
fn defaults_are_the_table_s() {
    let text = full_config().to_string();
    let config = check_text("gslb.yaml", &text, &[], Secrets::Skip).expect("valid");
    let server = &config.server;
    assert_eq!(
        i64::from(server.max_udp_payload),
        MAX_UDP_PAYLOAD.default_value()
    );
    assert_eq!(server.tcp_idle_timeout, TCP_IDLE_TIMEOUT.default.unwrap());
    assert_eq!(
        server.max_config_bytes as i64,
        MAX_CONFIG_BYTES.default_value()
    );
    let limit = server.rate_limit.as_ref().expect("on");
    assert_eq!(i64::from(limit.slip), RATE_LIMIT_SLIP.default_value());
    assert_eq!(
        server.alias,
        crate::model::AliasPolicy::default(),
        "the model's default is the table's"
    );
    let zone = &config.zones[0];
    assert_eq!(i64::from(zone.ttl), ZONE_TTL.default_value());
    assert_eq!(i64::from(zone.soa.expire), SOA_EXPIRE.default_value());
    let updates = zone.updates.as_ref().expect("on");
    assert_eq!(
        i64::from(updates.max_fudge),
        UPDATES_MAX_FUDGE.default_value()
    );
    assert_eq!(
        i64::from(config.records[0].sets[0].weight),
        SET_WEIGHT.default_value()
    );
}

/// Every key of the config's schema has a row (or rows for its parts), and
/// every row is a key of the schema: a new key cannot go undocumented.
#[test]
fn the_table_covers_every_key_of_the_schema() {
    let schema = crate::config::raw::schema();
    let mut keys = BTreeSet::new();
    walk_schema(&schema, &schema, "", &mut keys);
    let rows: BTreeSet<&str> = ALL.iter().map(Setting::key).collect();
    assert_eq!(rows.len(), ALL.len(), "a key is in the table twice");
    for key in &keys {
        let covered = rows.contains(key.as_str())
            || rows.iter().any(|row| {
                row.starts_with(&format!("{key}.")) || row.starts_with(&format!("{key}[]."))
            });
        assert!(
            covered,
            "{key} is in the schema but not in the settings table"
        );
    }
    for row in rows {
        assert!(
            keys.contains(row) || row == "overrides",
            "{row} is in the settings table but not in the schema"
        );
    }
}

/// Collects the key paths of `node` (resolving `$ref` against `root`).
fn walk_schema(root: &Value, node: &Value, path: &str, keys: &mut BTreeSet<String>) {
    let node = resolve(root, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            keys.insert(child_path.clone());
            walk_schema(root, child, &child_path, keys);
        }
    }
    if let Some(items) = node.get("items") {
        walk_schema(root, items, &format!("{path}[]"), keys);
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        let values = resolve(root, values);
        if values.get("properties").is_some() {
            walk_schema(root, values, &format!("{path}.<name>"), keys);
        }
    }
}

/// `node` with `$ref` and `anyOf: [ref, null]` (an `Option`) followed.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference.trim_start_matches('#');
        return root.pointer(pointer).map_or(node, |n| resolve(root, n));
    }
    if let Some(all) = node.get("allOf").and_then(Value::as_array)
        && let [one] = all.as_slice()
    {
        return resolve(root, one);
    }
    if let Some(options) = node.get("anyOf").and_then(Value::as_array)
        && let Some(one) = options
            .iter()
            .find(|o| o.get("type") != Some(&json!("null")))
        && options.len() == 2
    {
        return resolve(root, one);
    }
    node
}

#[test]
fn table_text_fits_a_markdown_table() {
    for setting in ALL {
        let doc = setting.doc();
        for text in [doc.meaning, doc.default.unwrap_or_default()] {
            assert!(
                !text.contains('|') && !text.contains('\n'),
                "{}: {text}",
                setting.key()
            );
        }
        assert!(!doc.meaning.is_empty(), "{} has no meaning", setting.key());
    }
}

/// The committed page is what the table prints.
#[test]
fn the_committed_reference_page_is_the_table_s() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/src/reference/settings.md"
    );
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == reference_page(),
        "docs/src/reference/settings.md is not what the settings table says: run\n  \
         cargo run -- config-reference > docs/src/reference/settings.md"
    );
}
