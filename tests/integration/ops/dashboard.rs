//! `deploy/grafana/gslb.json` against a running gslb: every metric the
//! dashboard's PromQL selects is one gslb exports, and every metric gslb
//! exports has a panel.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::harness::*;

/// PromQL aggregation operators and keywords: never metric names.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects: its identifiers minus
/// function calls, keywords, label names (in `{}` matchers and `by (…)`
/// lists), durations, numbers, strings and Grafana `$variables`.
fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    // Skips from an opening bracket to its match, past quoted strings.
    let skip_group = |mut i: usize, open: char, close: char| {
        let mut depth = 0;
        while i < chars.len() {
            match chars[i] {
                '"' | '\'' | '`' => i = skip_string(&chars, i),
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i) + 1;
        } else if c == '{' {
            i = skip_group(i, '{', '}');
        } else if c == '[' {
            i = skip_group(i, '[', ']');
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_{}".contains(chars[i])) {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) {
                if call {
                    i = skip_group(next, '(', ')');
                }
            } else if !call && !KEYWORDS.contains(&word.as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index of the quote closing the string that opens at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i
}

/// Every PromQL expression in the dashboard: panel and annotation `expr`s,
/// and the series selector of each `label_values(SELECTOR, label)` query.
fn expressions(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    ("query" | "definition", Value::String(query)) => {
                        if let Some(args) = query
                            .trim()
                            .strip_prefix("label_values(")
                            .and_then(|q| q.strip_suffix(')'))
                        {
                            let selector = args.rsplit_once(',').map_or(args, |(s, _)| s);
                            out.push(selector.to_owned());
                        }
                    }
                    _ => expressions(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

/// Series names gslb exports: `# TYPE` lines, with the sample suffixes of
/// counters (`_total`) and histograms (`_bucket`, `_sum`, `_count`).
fn exported(metrics_text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut families = BTreeSet::new();
    let mut series = BTreeSet::new();
    for line in metrics_text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(name), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        families.insert(name.to_owned());
        series.insert(name.to_owned());
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[],
        };
        for suffix in suffixes {
            series.insert(format!("{}{suffix}", name.trim_end_matches("_total")));
        }
    }
    (families, series)
}

#[test]
fn promql_metric_names_skip_functions_labels_and_durations() {
    let names = metric_names(
        r#"sum by (le, check) (rate(a_bucket{x="}", y=~"$v"}[$__rate_interval])) / on(check) group_left b_total offset 5m > 0.5 or vector(0) * up"#,
    );
    assert_eq!(names, ["a_bucket", "b_total", "up"]);
    assert_eq!(
        metric_names("histogram_quantile(0.95, sum without(instance) (rate(c[1m])))"),
        ["c"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grafana_dashboard_queries_only_metrics_gslb_exports() {
    let text = std::fs::read_to_string(repo("deploy/grafana/gslb.json")).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    expressions(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "{exprs:?}");

    // A peer (unreachable) so that the peer group's families have series;
    // per-record series, which some panels show when they are on.
    let zone = ZONE.replace(
        "  udp_workers: 2\n",
        "  udp_workers: 2\n  instance: ns1\n  peers: [{ name: ns2, url: \"http://127.0.0.1:9\" }]\n  metrics: { per_record: true }\n",
    );
    let gslb = Gslb::start(&format!(
        r#"{zone}health_checks:
  fast: {{ kind: tcp, port: 9, interval: 200ms, timeout: 100ms }}
records:
  - name: webapp.global.example.test.
    sets:
      - {{ id: us-east, targets: [127.0.62.1], health_check: fast }}
"#
    ))
    .await;
    gslb.wait_ready().await;
    gslb.a("webapp.global.example.test.").await;
    let (_, metrics_text) = gslb.get("/metrics").await;
    let (families, mut series) = exported(&metrics_text);
    assert!(families.len() >= 10, "{metrics_text}");
    let sidecar = crd_sync_series();
    let sidecar_built = !sidecar.is_empty();
    series.extend(sidecar);

    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr} selects no metric");
        for name in names {
            if !sidecar_built && name.starts_with("gslb_crd_sync_") {
                continue;
            }
            assert!(
                series.contains(&name),
                "the dashboard queries {name}, which gslb does not export ({expr}); exported: {series:?} \
                 (a family without series is left out: give this scenario one)"
            );
            used.insert(name);
        }
    }
    // Each family has a panel: a new metric gets one.
    for family in &families {
        let base = family.trim_end_matches("_total");
        assert!(
            used.iter().any(|u| u.trim_end_matches("_total") == base
                || u.strip_prefix(base)
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
            "no panel queries {family}: add one to deploy/grafana/gslb.json"
        );
    }
    // What the issue names: queries by rcode, answers per set, fail-open,
    // probe latency and failures, reloads.
    let all = exprs.join("\n");
    for needle in [
        "by (rcode) (rate(gslb_dns_queries_total",
        "by (record, set) (rate(gslb_answers_total",
        "gslb_fail_open_answers_total",
        "gslb_probe_duration_seconds_bucket",
        "gslb_probes_total{instance=~\"$instance\", result=\"fail\"}",
        "gslb_config_reloads_total",
        "gslb_config_reload_failures_total",
    ] {
        assert!(all.contains(needle), "the dashboard queries {needle}");
    }
}

/// The series crd-sync exports (it is scraped as its own target), with a
/// cluster and a file write so that their families have series; none in a
/// build without the sidecar.
fn crd_sync_series() -> BTreeSet<String> {
    #[cfg(feature = "kubernetes")]
    {
        let metrics = gslb::crd_sync::metrics::SyncMetrics::default();
        metrics.add_cluster("local");
        gslb::crd_sync::metrics::SyncMetrics::count(&metrics.file_writes, true);
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        exported(&text).1
    }
    #[cfg(not(feature = "kubernetes"))]
    BTreeSet::new()
}

#[test]
fn grafana_dashboard_panels_are_well_formed() {
    let text = std::fs::read_to_string(repo("deploy/grafana/gslb.json")).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("numeric id")),
            "duplicate id at {title}"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && grid["h"].as_u64().unwrap() > 0,
            "{title} fits the grid"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} queries something");
        let ref_ids: BTreeSet<_> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(ref_ids.len(), targets.len(), "{title}: unique refIds");
    }
    let variables: Vec<_> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "instance", "record"]);
}
