//! The layering of `src/`: which top-level module may use which. Reads the
//! `crate::` paths of every non-test source file, so an import against the
//! grain fails here instead of growing a cycle. `lib.rs` draws the same
//! picture; change both together.
//!
//! Test code (`tests.rs`, `tests/` directories, `#[cfg(test)] mod tests`)
//! may use anything: it is not part of the layering.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module and the modules it may use. Leaves come first.
const ALLOWED: &[(&str, &[&str])] = &[
    // Leaves: plain domain values, counters, helpers.
    ("name", &[]),
    ("geo", &[]),
    ("metrics", &[]),
    ("atomic_file", &[]),
    ("tls", &[]),
    ("fd_limit", &[]),
    ("iana", &[]),
    ("rdata", &["name", "iana"]),
    // DNSSEC's data side: keys, canonical RRsets, signatures; no transport.
    ("dnssec", &["name", "iana"]),
    ("model", &["name", "geo", "rdata", "iana", "dnssec"]),
    ("rrl", &["model", "metrics", "iana"]),
    // Loading, compiling, selecting, answering.
    (
        "config",
        &[
            "model",
            "name",
            "geo",
            "rdata",
            "metrics",
            "atomic_file",
            "tls",
            "dnssec",
        ],
    ),
    (
        "table",
        &[
            "config",
            "model",
            "name",
            "geo",
            "rdata",
            "metrics",
            "rrl",
            "atomic_file",
            "iana",
            "dnssec",
        ],
    ),
    ("select", &["table", "model", "geo", "name", "rdata"]),
    (
        "dns",
        &[
            "select", "table", "model", "geo", "name", "rdata", "metrics", "rrl", "iana", "dnssec",
        ],
    ),
    // Background tasks that feed the table writer.
    ("health", &["table", "model", "name", "metrics", "tls"]),
    ("alias", &["table", "model", "name", "metrics"]),
    // Moves the peer group's documents between instances.
    ("peer", &["table", "model", "config", "metrics", "tls"]),
    // Readers for operators.
    (
        "explain",
        &["select", "table", "health", "model", "name", "geo", "rdata"],
    ),
    (
        "admin",
        &[
            "table", "health", "alias", "explain", "select", "config", "model", "name", "geo",
            "metrics", "tls", "dnssec",
        ],
    ),
    // The sidecar shares the config schema, nothing of the server.
    (
        "crd_sync",
        &["config", "model", "name", "rdata", "atomic_file", "tls"],
    ),
];

/// Inside `dns`: each step of the request path and what it may use. The
/// answer engine knows neither TSIG nor updates nor transports; only the
/// request path (`request`) puts the steps together, and only the
/// listeners know sockets.
const DNS_ALLOWED: &[(&str, &[&str])] = &[
    ("query", &[]),
    ("message", &[]),
    ("tsig", &["message"]),
    ("answer", &["query"]),
    ("update", &["message", "tsig"]),
    ("request", &["answer", "query", "message", "tsig"]),
    ("udp", &["request", "answer", "update"]),
    ("tcp", &["request", "answer", "update"]),
];

/// Wiring: may use every module.
const WIRING: &[&str] = &["app", "main", "lib"];

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(module, uses)| (*module, uses.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        if WIRING.contains(&module.as_str()) {
            continue;
        }
        let Some(may) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "{module}: not in ALLOWED; place it in the layering"
            ));
            continue;
        };
        for (used, file) in uses {
            if !may.contains(used.as_str()) {
                wrong.push(format!("{module} -> {used} ({file})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn dns_steps_use_only_the_steps_below_them() {
    let dns = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/dns");
    let mut files = Vec::new();
    collect_files(&dns, &mut files);
    let allowed: BTreeMap<&str, &[&str]> = DNS_ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&dns).expect("under src/dns");
        let is_test = relative
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("tests.rs"))
            || relative.components().any(|c| c.as_os_str() == "tests");
        if is_test || relative == Path::new("mod.rs") {
            continue;
        }
        let first = relative.components().next().expect("a file");
        let step = first.as_os_str().to_string_lossy();
        let step = step.trim_end_matches(".rs");
        let Some(may) = allowed.get(step) else {
            wrong.push(format!("dns::{step}: not in DNS_ALLOWED; place it"));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        // `super::x` names a sibling step only in the files right under dns/.
        let top_level = relative.components().count() == 1;
        for used in dns_uses_in(&text, top_level) {
            if used != step && allowed.contains_key(used.as_str()) && !may.contains(&used.as_str())
            {
                wrong.push(format!(
                    "dns::{step} -> dns::{used} ({})",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dns steps used against the request path's order:\n  {}",
        wrong.join("\n  ")
    );
}

/// The `dns` steps a file names: `crate::dns::x`, and `super::x` when the
/// file is right under dns/ (outside comments and the inline test module).
fn dns_uses_in(text: &str, top_level: bool) -> Vec<String> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let prefixes: &[&str] = if top_level {
        &["crate::dns::", "super::"]
    } else {
        &["crate::dns::"]
    };
    for prefix in prefixes {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
            rest = after;
        }
    }
    found
}

#[test]
fn the_allowed_layering_has_no_cycle() {
    // Depth-first search over ALLOWED: a module reached again while still
    // on the path closes a cycle.
    fn visit<'a>(
        module: &'a str,
        edges: &BTreeMap<&'a str, &'a [&'a str]>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(module) {
            return;
        }
        assert!(
            !path.contains(&module),
            "cycle: {} -> {module}",
            path.join(" -> ")
        );
        path.push(module);
        for used in edges.get(module).copied().unwrap_or_default() {
            visit(used, edges, path, done);
        }
        path.pop();
        done.insert(module);
    }
    let edges: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_scanner_sees_plain_grouped_and_nested_paths() {
    let text = "use crate::dns::answer::Outcome;\n\
                use crate::{\n    geo::{self, Db},\n    table::{Snapshot, health::Health},\n};\n\
                // crate::admin in a comment is not a use\n\
                fn f() { crate::metrics::count(); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::app;\n}\n";
    let found: BTreeSet<String> = uses_in(text).into_iter().collect();
    let expected: BTreeSet<String> = ["dns", "geo", "table", "metrics"].map(String::from).into();
    assert_eq!(found, expected);
}

/// Top-level module -> (module it uses, first file that does).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut files = Vec::new();
    collect_files(src, &mut files);
    // `crate::x` where x is no module is an item of lib.rs (a helper
    // function), which every module may use.
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(src).ok()?.components().next())
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let is_test = relative
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("tests.rs"))
            || relative.components().any(|c| c.as_os_str() == "tests");
        if is_test {
            continue;
        }
        let first = relative
            .components()
            .next()
            .expect("a file under src")
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        let text = std::fs::read_to_string(&file).expect("read source");
        let entry = graph.entry(module.clone()).or_default();
        for used in uses_in(&text) {
            if used != module && modules.contains(&used) {
                entry
                    .entry(used)
                    .or_insert_with(|| relative.display().to_string());
            }
        }
    }
    graph
}

fn collect_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The top-level modules a source file names through `crate::` paths,
/// outside comments and its inline test module.
fn uses_in(text: &str) -> Vec<String> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::x, b::{c, d}}`: the first segment of each
            // path at the group's top level.
            let mut depth = 1;
            let mut segment_start = true;
            let mut ident = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                if depth != 1 {
                    continue;
                }
                if c.is_alphanumeric() || c == '_' {
                    if segment_start {
                        ident.push(c);
                    }
                } else {
                    if !ident.is_empty() {
                        found.push(std::mem::take(&mut ident));
                    }
                    segment_start = c == ',' || c.is_whitespace() && segment_start;
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                found.push(ident);
            }
        }
    }
    found.retain(|m| m != "self");
    found
}
