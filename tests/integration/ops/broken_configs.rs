//! Broken configs through the real `gslb check-config`, each with the exact
//! lines it prints: `file:line:column: field: reason` for every kind of
//! mistake, parse errors and semantic ones alike, in the config's words
//! (no `i64`, no `DuplicateKeyPolicy`, no `?` in a path), each mistake
//! reported once, and a missing file called a missing file.

use std::process::Command;

/// A valid config; each case edits it. Line numbers in the expectations
/// are this text's.
const BASE: &str = r#"server:
  dns_listen: ["127.0.0.1:0"]
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: http, port: 80 }
records:
  - name: www.global.example.test.
    sets:
      - id: a
        targets: [192.0.2.10]
        health_check: web
"#;

/// One broken config.
struct Case {
    /// What is wrong, for the failure message.
    what: &'static str,
    /// Replacements applied to [`BASE`] (each must match).
    edits: &'static [(&'static str, &'static str)],
    /// Other files in the config's directory.
    files: &'static [(&'static str, &'static str)],
    /// Extra arguments to `check-config`.
    args: &'static [&'static str],
    /// Every line `check-config` prints on stderr, in order; `{dir}`
    /// stands for the directory of the files.
    stderr: &'static [&'static str],
    /// Whether the config is accepted anyway (warnings only).
    ok: bool,
}

const fn case(
    what: &'static str,
    edits: &'static [(&'static str, &'static str)],
    stderr: &'static [&'static str],
) -> Case {
    Case {
        what,
        edits,
        files: &[],
        args: &[],
        stderr,
        ok: false,
    }
}

const CASES: &[Case] = &[
    case(
        "bad IP address in targets",
        &[("[192.0.2.10]", "[192.0.2.300]")],
        &["gslb.yaml:13:19: records[0].sets[0].targets[0]: \"192.0.2.300\" is not an IP address"],
    ),
    case(
        "bad port, and the set using the check is not blamed for it",
        &[("port: 80", "port: 70000")],
        &["gslb.yaml:8:22: health_checks.web.port: 70000 is out of range (1 to 65535)"],
    ),
    case(
        "listen address without a port",
        &[("\"127.0.0.1:0\"", "\"127.0.0.1\"")],
        &[
            "gslb.yaml:2:16: server.dns_listen[0]: \"127.0.0.1\" is not an address with a port, such as \"127.0.0.1:53\" or \"[::1]:53\"",
        ],
    ),
    case(
        "unknown key",
        &[(
            "        health_check: web",
            "        health_check: web\n        wieght: 3",
        )],
        &[
            "gslb.yaml:15:9: records[0].sets[0].wieght: unknown key `wieght`; the keys here are id, targets, weight, priority, geo, location, health_check",
        ],
    ),
    case(
        "wrong type",
        &[("      - id: a", "      - id: a\n        weight: heavy")],
        &["gslb.yaml:13:17: records[0].sets[0].weight: \"heavy\" is not a whole number"],
    ),
    case(
        "list where a value belongs",
        &[("port: 80", "port: [80]")],
        &["gslb.yaml:8:28: health_checks.web.port: expected a single value, not a list or mapping"],
    ),
    case(
        "duplicate key",
        &[(
            "        health_check: web",
            "        health_check: web\n        health_check: web",
        )],
        &[
            "gslb.yaml:15:9: records[0].sets[0].health_check: is given twice in the same mapping; keep one",
        ],
    ),
    case(
        "undefined health check",
        &[("health_check: web", "health_check: website")],
        &[
            "gslb.yaml:14:9: records[0].sets[0].health_check: \"website\" is not defined in health_checks (defined: web)",
        ],
    ),
    case(
        "duration out of range",
        &[("port: 80 }", "port: 80, interval: 2h }")],
        &["gslb.yaml:8:32: health_checks.web.interval: 2h is out of range (100ms to 1h)"],
    ),
    case(
        "duration without a unit",
        &[("port: 80 }", "port: 80, timeout: 5 }")],
        &[
            "gslb.yaml:8:32: health_checks.web.timeout: \"5\" is not a duration such as 5s or 500ms: time unit needed, for example 5sec or 5ms",
        ],
    ),
    case(
        "timeout longer than interval",
        &[("port: 80 }", "port: 80, interval: 1s, timeout: 2s }")],
        &["gslb.yaml:8:46: health_checks.web.timeout: must not be longer than interval"],
    ),
    case(
        "number out of range",
        &[("    soa:", "    ttl: 90000\n    soa:")],
        &["gslb.yaml:5:5: zones[0].ttl: 90000 is out of range (0 to 86400 seconds)"],
    ),
    case(
        "missing required field",
        &[(
            "    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n",
            "",
        )],
        &["gslb.yaml:4:5: zones[0]: `soa` is required"],
    ),
    case(
        "tcp check without a port",
        &[("kind: http, port: 80", "kind: tcp")],
        &["gslb.yaml:8:3: health_checks.web.port: is required for tcp checks"],
    ),
    case(
        "name outside every zone",
        &[("www.global.example.test.", "www.example.org.")],
        &[
            "gslb.yaml:10:5: records[0].name: www.example.org. is not inside a served zone (global.example.test.)",
        ],
    ),
    case(
        "broken zone origin, and its records are not called outside every zone",
        &[(
            "origin: global.example.test.",
            "origin: global..example.test.",
        )],
        &[
            "gslb.yaml:4:5: zones[0].origin: \"global..example.test.\" is not a domain name: it has an empty label",
        ],
    ),
    case(
        "bad continent and country codes",
        &[(
            "        health_check: web",
            "        health_check: web\n        geo: { continents: [EU, XX], countries: [GERMANY] }",
        )],
        &[
            "gslb.yaml:15:33: records[0].sets[0].geo.continents[1]: \"XX\" is not a continent code (AF AN AS EU NA OC SA)",
            "gslb.yaml:15:50: records[0].sets[0].geo.countries[0]: \"GERMANY\" is not an ISO 3166-1 alpha-2 country code",
        ],
    ),
    case(
        "bad weight",
        &[("      - id: a", "      - id: a\n        weight: -1")],
        &["gslb.yaml:13:9: records[0].sets[0].weight: -1 is out of range (0 to 1000000)"],
    ),
    case(
        "bad TTL",
        &[(
            "  - name: www.global.example.test.",
            "  - name: www.global.example.test.\n    ttl: 100000",
        )],
        &["gslb.yaml:11:5: records[0].ttl: 100000 is out of range (0 to 86400 seconds)"],
    ),
    case(
        "bad YAML syntax",
        &[("targets: [192.0.2.10]", "targets: [192.0.2.10")],
        &["gslb.yaml:14:21: records[0].sets[0].targets: illegal placement of ':' indicator"],
    ),
    case(
        "duplicate record",
        &[(
            "        health_check: web\n",
            "        health_check: web\n  - name: WWW.global.example.test.\n    sets: [{ id: b, targets: [192.0.2.11] }]\n",
        )],
        &[
            "gslb.yaml:15:5: records[1].name: www.global.example.test. is already defined in gslb.yaml records[0]",
        ],
    ),
    case(
        "duplicate set id",
        &[(
            "        health_check: web\n",
            "        health_check: web\n      - { id: a, targets: [192.0.2.11] }\n",
        )],
        &["gslb.yaml:15:11: records[0].sets[1].id: \"a\" is already the id of sets[0]"],
    ),
    case(
        "unreachable target address",
        &[("[192.0.2.10]", "[192.0.2.10, 0.0.0.0]")],
        &[
            "gslb.yaml:13:31: records[0].sets[0].targets[1]: 0.0.0.0 is the unspecified address: no client can connect to it",
        ],
    ),
    case(
        "no zone at all",
        &[(
            "zones:\n  - origin: global.example.test.\n    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }\n    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n",
            "",
        )],
        &["gslb.yaml: zones: at least one zone is required"],
    ),
    case(
        "bad expect_status",
        &[("port: 80 }", "port: 80, expect_status: { ok: 200 } }")],
        &[
            "gslb.yaml:8:47: health_checks.web.expect_status: is not a status code (200), a list of codes and ranges, or text such as \"200-399\" or \"200,204\"",
        ],
    ),
    Case {
        what: "missing record file: a warning at start",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  record_files: [crd.json]",
        )],
        files: &[],
        args: &[],
        stderr: &[
            "warning: gslb.yaml: server.record_files[0]: crd.json does not exist yet; serving without it until it appears",
        ],
        ok: true,
    },
    Case {
        what: "bad JSON record file: wrong type",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  record_files: [crd.json]",
        )],
        files: &[(
            "crd.json",
            "{\"records\": [\n  {\"name\": \"api.global.example.test.\", \"sets\": [{\"id\": \"x\", \"targets\": [\"192.0.2.20\"], \"weight\": \"5\"}]}\n]}\n",
        )],
        args: &[],
        stderr: &["crd.json:2:88: records[0].sets[0].weight: the text \"5\" is not a whole number"],
        ok: false,
    },
    Case {
        what: "bad JSON record file: cut short",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  record_files: [crd.json]",
        )],
        files: &[(
            "crd.json",
            "{\"records\": [\n  {\"name\": \"api.global.example.test.\", \"sets\": [{\"id\": \"x\", \"targets\": [\"192.0.2.20\"]}]}\n",
        )],
        args: &[],
        stderr: &[
            "crd.json:3:1: records: the file ends before its JSON does: a `]` or `}` is missing",
        ],
        ok: false,
    },
    Case {
        what: "semantic error in a JSON record file, placed in that file",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  record_files: [crd.json]",
        )],
        files: &[(
            "crd.json",
            "{\"records\": [\n  {\"name\": \"api.global.example.test.\",\n   \"sets\": [{\"id\": \"x\", \"targets\": [\"192.0.2.20\"], \"health_check\": \"db\"}]}\n]}\n",
        )],
        args: &[],
        stderr: &[
            "crd.json:3:52: records[0].sets[0].health_check: \"db\" is not defined in health_checks (defined: web)",
        ],
        ok: false,
    },
    Case {
        what: "missing admin token file",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  admin_token_file: token",
        )],
        files: &[],
        args: &[],
        stderr: &["gslb.yaml:3:3: server.admin_token_file: cannot read token: no such file"],
        ok: false,
    },
    Case {
        what: "missing admin token file, not read under --no-secrets",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  admin_token_file: token",
        )],
        files: &[],
        args: &["--no-secrets"],
        stderr: &["not read (--no-secrets): server.admin_token_file: token"],
        ok: true,
    },
    Case {
        what: "DNSSEC key pair not there, not read under --no-secrets",
        edits: &[(
            "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n",
            "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n    dnssec: { key_files: [Kglobal.example.test.+013+04711] }\n",
        )],
        files: &[],
        args: &["--no-secrets"],
        stderr: &[
            "not read (--no-secrets): zones[0].dnssec.key_files[0]: Kglobal.example.test.+013+04711.private",
        ],
        ok: true,
    },
    Case {
        what: "missing TSIG secret file",
        edits: &[(
            "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n",
            "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n    updates:\n      keys: [{ name: acme., secret_file: acme.key }]\n      allow: [{ key: acme., names: [\"_acme-challenge.*\"], types: [TXT] }]\n",
        )],
        files: &[],
        args: &[],
        stderr: &[
            "gslb.yaml:8:29: zones[0].updates.keys[0].secret_file: cannot read \"acme.key\": no such file",
        ],
        ok: false,
    },
    Case {
        what: "broken TSIG key name, and the rule naming the key is not blamed for it",
        edits: &[(
            "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n",
            "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n    updates:\n      keys: [{ name: acme..example., secret_file: acme.key }]\n      allow: [{ key: acme.example., names: [\"_acme-challenge.*\"], types: [TXT] }]\n",
        )],
        files: &[],
        args: &["--no-secrets"],
        stderr: &[
            "gslb.yaml:8:16: zones[0].updates.keys[0].name: \"acme..example.\" is not a domain name: it has an empty label",
        ],
        ok: false,
    },
    Case {
        what: "missing GeoIP database",
        edits: &[(
            "[\"127.0.0.1:0\"]",
            "[\"127.0.0.1:0\"]\n  geoip_database: GeoLite2-City.mmdb",
        )],
        files: &[],
        args: &[],
        stderr: &[
            "gslb.yaml:3:3: server.geoip_database: cannot read GeoLite2-City.mmdb: no such file",
        ],
        ok: false,
    },
];

/// Runs `check-config` on one case in a temp dir: (success, stderr lines).
fn run(case: &Case) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = BASE.to_owned();
    for (from, to) in case.edits {
        assert!(
            text.contains(from),
            "{}: {from:?} is not in the base config",
            case.what
        );
        text = text.replacen(from, to, 1);
    }
    std::fs::write(dir.path().join("gslb.yaml"), text).expect("write config");
    for (name, body) in case.files {
        std::fs::write(dir.path().join(name), body).expect("write file");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(["check-config", "--config", "gslb.yaml"])
        .args(case.args)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("GSLB_ADMIN_TOKEN")
        .output()
        .expect("gslb runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = stderr
        .lines()
        .filter(|line| !line.ends_with("; config rejected"))
        .map(str::to_owned)
        .collect();
    (out.status.success(), lines)
}

#[test]
fn every_broken_config_gets_its_exact_message() {
    assert!(CASES.len() >= 20);
    let mut failures = Vec::new();
    for case in CASES {
        let (ok, lines) = run(case);
        if ok != case.ok || lines != case.stderr {
            failures.push(format!(
                "{}:\n  expected (ok={}): {:#?}\n  got (ok={ok}): {lines:#?}",
                case.what, case.ok, case.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The words of the libraries that read the file never reach the
/// operator: a loose net over every case's output.
#[test]
fn no_library_words_in_any_message() {
    for case in CASES {
        let (_, lines) = run(case);
        for line in lines {
            for leak in [
                "i64",
                "u16",
                "f64",
                "Raw",
                "struct ",
                "enum ",
                "DuplicateKeyPolicy",
                "Options",
                ".?",
                "os error",
                "entity not found",
                "invalid type",
                "sequence",
                "variant",
            ] {
                assert!(!line.contains(leak), "{}: {leak:?} in {line:?}", case.what);
            }
        }
    }
}
