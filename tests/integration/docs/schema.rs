//! `gslb config-schema`: the committed `config/gslb.schema.json` (which the
//! example config's yaml-language-server modeline points to) is exactly what
//! the command prints, every example config validates against it, and it
//! rejects what serde rejects, so an editor's red line means a real error.

use std::process::Command;

use crate::support::harness::repo;

/// What `gslb config-schema` prints.
fn printed_schema() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gslb"))
        .arg("config-schema")
        .output()
        .expect("gslb runs");
    assert!(
        output.status.success(),
        "gslb config-schema failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 schema")
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&printed_schema()).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// The errors `yaml` has against the schema, as `path: message` lines.
fn errors(validator: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let value: serde_json::Value = serde_saphyr::from_str(yaml).expect("YAML parses");
    validator
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn committed_schema_is_what_config_schema_prints() {
    let committed = std::fs::read_to_string(repo("config/gslb.schema.json"))
        .expect("config/gslb.schema.json is committed");
    assert!(
        committed == printed_schema(),
        "config/gslb.schema.json is stale: run `cargo run -- config-schema > config/gslb.schema.json`"
    );
}

#[test]
fn every_example_config_validates_against_the_schema() {
    let validator = validator();
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(repo("config")).expect("config/ lists") {
        let path = entry.expect("config/ entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example config reads");
        let errors = errors(&validator, &text);
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            path.display(),
            errors.join("\n")
        );
        checked.push(path);
    }
    assert!(checked.len() >= 2, "too few example configs: {checked:?}");
}

#[test]
fn example_config_points_editors_at_the_committed_schema() {
    let text = std::fs::read_to_string(repo("config/gslb.yaml")).expect("config/gslb.yaml");
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l == "# yaml-language-server: $schema=gslb.schema.json"),
        "config/gslb.yaml's first line is not the schema modeline"
    );
}

#[test]
fn schema_rejects_a_misspelt_key_a_wrong_type_and_a_missing_field() {
    let validator = validator();
    let cases = [
        ("server: { dns_lisen: [\"127.0.0.1:5353\"] }", "dns_lisen"),
        (
            "zones: [{ origin: a.test., ttl: thirty, soa: { mname: a., rname: b. } }]",
            "/zones/0/ttl",
        ),
        ("zones: [{ origin: a.test. }]", "soa"),
        (
            "records: [{ name: www, sets: [{ id: a, weight: [1] }] }]",
            "/records/0/sets/0/weight",
        ),
    ];
    for (yaml, expected) in cases {
        let errors = errors(&validator, yaml);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{yaml}: expected an error naming {expected}, got {errors:?}"
        );
    }
}
