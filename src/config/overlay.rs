//! Overlays: a config given as several files (`--config base.yaml
//! --config site.yaml`), each later file merged onto the ones before it,
//! so a deployment changes only the keys it must (a second name server,
//! the peers, the certificate files) and keeps every other key of the
//! base as the base has it.
//!
//! The rules, applied to the parsed YAML:
//!
//! * mappings merge key by key, recursively: a key the overlay does not
//!   name keeps the base's value; a key it names takes the overlay's value
//!   (`null` sets an optional setting back to its default);
//! * `zones` entries are matched by `origin` (case and a final dot aside):
//!   a matching entry is merged like a mapping, so an overlay can add one
//!   name server to a zone; an entry for another origin is added;
//! * `records` entries are added to the base's (a name in both is the
//!   duplicate it would be in one file);
//! * every other list is replaced whole.
//!
//! The first file is read straight into its typed shape, as a single file
//! is; only the overlays, which are small, go through a value tree.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::raw::RawConfig;

/// The config files of one server, in merge order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles(Vec<PathBuf>);

impl ConfigFiles {
    /// `files` in merge order; `None` when empty.
    pub fn new(files: Vec<PathBuf>) -> Option<Self> {
        (!files.is_empty()).then_some(Self(files))
    }

    /// The base, read first.
    pub fn base(&self) -> &Path {
        &self.0[0]
    }

    /// The files merged onto the base, in order.
    pub fn overlays(&self) -> &[PathBuf] {
        &self.0[1..]
    }

    /// Every file, the base first.
    pub fn all(&self) -> &[PathBuf] {
        &self.0
    }

    /// How errors and summaries name the config: `base.yaml` or
    /// `base.yaml + site.yaml`.
    pub fn label(&self) -> String {
        self.0
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

impl From<PathBuf> for ConfigFiles {
    fn from(path: PathBuf) -> Self {
        Self(vec![path])
    }
}

impl From<&Path> for ConfigFiles {
    fn from(path: &Path) -> Self {
        Self(vec![path.to_path_buf()])
    }
}

impl From<&PathBuf> for ConfigFiles {
    fn from(path: &PathBuf) -> Self {
        Self(vec![path.clone()])
    }
}

/// Merges `overlays` (parsed YAML, in order) onto `base`; the merged tree
/// is what the caller deserializes. `base`'s records are left in it: the
/// caller takes them out first when they are many.
pub(super) fn merge(base: &RawConfig, overlays: Vec<Value>) -> Result<Value, String> {
    let mut merged = serde_json::to_value(base).map_err(|e| e.to_string())?;
    for overlay in overlays {
        merge_onto(&mut merged, overlay);
    }
    Ok(merged)
}

/// Merges one overlay (a config file's parsed YAML) onto `base` by the
/// rules above: what `--config` given twice does, for tools and tests that
/// look at the merged keys.
pub fn merge_onto(base: &mut Value, overlay: Value) {
    merge_value(base, overlay, "");
}

/// Merges `overlay` onto `base` at `path` (dotted, from the top).
fn merge_value(base: &mut Value, overlay: Value, path: &str) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => merge_map(base, overlay, path),
        (Value::Array(base), Value::Array(overlay)) if path == "zones" => {
            merge_zones(base, overlay);
        }
        (Value::Array(base), Value::Array(overlay)) if path == "records" => {
            base.extend(overlay);
        }
        (base, overlay) => *base = overlay,
    }
}

fn merge_map(base: &mut Map<String, Value>, overlay: Map<String, Value>, path: &str) {
    for (key, value) in overlay {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match base.get_mut(&key) {
            Some(existing) => merge_value(existing, value, &child),
            None => {
                base.insert(key, value);
            }
        }
    }
}

/// Zones matched by origin; entries for new origins are added.
fn merge_zones(base: &mut Vec<Value>, overlay: Vec<Value>) {
    for zone in overlay {
        let position = origin(&zone).and_then(|wanted| {
            base.iter()
                .position(|existing| origin(existing).as_deref() == Some(&wanted))
        });
        match position {
            Some(i) => merge_value(&mut base[i], zone, "zones[]"),
            None => base.push(zone),
        }
    }
}

/// A zone entry's origin as zones are compared: lower case, no final dot.
fn origin(zone: &Value) -> Option<String> {
    let origin = zone.get("origin")?.as_str()?;
    Some(origin.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> RawConfig {
        let text = "server: { dns_listen: [\"0.0.0.0:53\"], admin_token_file: /t, state_file: /s }
zones:
  - origin: global.example.test.
    ttl: 30
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: http, port: 80 }
";
        let limits = crate::config::Limits::default();
        crate::config::parse_yaml(&"base.yaml".into(), text, limits).unwrap()
    }

    #[test]
    fn an_overlay_changes_only_the_keys_it_names() {
        let overlay = json!({
            "server": { "instance": "us-east", "peers": [{"name": "eu-west", "url": "https://b:9153"}] },
            "zones": [{ "origin": "GLOBAL.example.test", "nameservers": { "ns2.global.example.test.": ["198.51.100.53"] } }],
        });
        let merged = merge(&base(), vec![overlay]).unwrap();
        assert_eq!(merged["server"]["admin_token_file"], "/t");
        assert_eq!(merged["server"]["state_file"], "/s");
        assert_eq!(merged["server"]["instance"], "us-east");
        assert_eq!(merged["server"]["dns_listen"], json!(["0.0.0.0:53"]));
        let zones = merged["zones"].as_array().unwrap();
        assert_eq!(zones.len(), 1, "matched by origin: {zones:?}");
        assert_eq!(zones[0]["ttl"], 30);
        assert_eq!(
            zones[0]["nameservers"],
            json!({
                "ns1.global.example.test.": ["192.0.2.53"],
                "ns2.global.example.test.": ["198.51.100.53"],
            })
        );
        assert_eq!(merged["health_checks"]["web"]["port"], 80);
    }

    #[test]
    fn lists_are_replaced_records_and_new_zones_added_null_resets() {
        let overlay = json!({
            "server": { "dns_listen": ["127.0.0.1:53"], "state_file": null },
            "zones": [{ "origin": "other.test.", "soa": { "mname": "a.", "rname": "b." } }],
            "records": [{ "name": "x.global.example.test.", "sets": [] }],
        });
        let merged = merge(
            &base(),
            vec![overlay, json!({ "records": [{ "name": "y" }] })],
        )
        .unwrap();
        assert_eq!(merged["server"]["dns_listen"], json!(["127.0.0.1:53"]));
        assert_eq!(merged["server"]["state_file"], Value::Null);
        assert_eq!(merged["zones"].as_array().unwrap().len(), 2);
        let names: Vec<&str> = merged["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["x.global.example.test.", "y"]);
    }
}
