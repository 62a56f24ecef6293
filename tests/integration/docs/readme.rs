//! The README runs: every command in a ```` ```sh ```` block of README.md that
//! talks to a running gslb is executed against the real binary serving the
//! example config, so the README cannot drift from the product.
//!
//! * A line that runs `gslb serve` (as `gslb`, `target/release/gslb` or
//!   `cargo run --release --`) stops the server started so far and starts
//!   the real binary with that line (its environment assignments kept) on
//!   free DNS and admin ports, then waits for `/readyz`.
//! * A line that talks to gslb (`-p 5353`, `127.0.0.1:5353`,
//!   `127.0.0.1:9153`, `localhost:9153`, or gslb with another subcommand)
//!   runs in bash (`pipefail`) with the ports and the binary swapped and
//!   `GSLB_ADMIN` set; it must exit 0 (`curl` gets `--fail-with-body`).
//! * A comment `... → a, b` checks the answer: for `dig +short` the output
//!   lines are exactly {a, b}; otherwise each item appears in the output. A
//!   dig comment naming an RCODE checks the response status.
//! * Lines that write a random token from `/dev/urandom` into a file run
//!   too, so the token examples work, and so do `openssl` lines that write
//!   no file under `/etc/` (the certificates of the HTTPS example). A
//!   served admin API that answers plain HTTP with 400 is waited for over
//!   HTTPS. Everything else (backends, `kill`,
//!   `kubectl`, builds, benches) is skipped, and so is a leading `sleep N;`
//!   (its wait is for backends the runner does not start).
//!
//! Commands run in a scratch directory holding links to `config/` and
//! `geoip/`, so files they create do not land in the checkout.

use std::{
    collections::BTreeSet,
    net::{TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::support::harness::*;

const RCODES: [&str; 6] = [
    "NOERROR", "NXDOMAIN", "REFUSED", "SERVFAIL", "NOTIMP", "FORMERR",
];

/// One command line of a sh block (continuations joined), with where it is.
#[derive(Debug, Clone)]
struct Line {
    number: usize,
    command: String,
    comment: String,
}

/// What the runner does with a line.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Serve,
    Run,
    Skip,
}

fn sh_lines(readme: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, text) in readme.lines().enumerate() {
        let trimmed = text.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (number, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        joined.push_str(trimmed);
        if let Some(head) = joined.strip_suffix('\\') {
            pending = Some((number, format!("{head} ")));
            continue;
        }
        if joined.is_empty() || joined.starts_with('#') {
            continue;
        }
        let (command, comment) = split_comment(&joined);
        lines.push(Line {
            number,
            command,
            comment,
        });
    }
    lines
}

/// Splits a shell line at its comment: a `#` after whitespace, outside quotes.
fn split_comment(line: &str) -> (String, String) {
    let (mut single, mut double) = (false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => {
                return (line[..i].trim().to_owned(), line[i + 1..].trim().to_owned());
            }
            _ => {}
        }
        previous = c;
    }
    (line.trim().to_owned(), String::new())
}

/// Leading `NAME=value` words, and the rest.
fn split_env(command: &str) -> (Vec<&str>, &str) {
    let mut rest = command.trim_start();
    let mut env = Vec::new();
    loop {
        let end = word_end(rest);
        let word = &rest[..end];
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !is_assignment || end == rest.len() {
            return (env, rest);
        }
        env.push(word);
        rest = rest[end..].trim_start();
    }
}

/// Where the first shell word of `text` ends: at whitespace outside
/// quotes and `$(...)`.
fn word_end(text: &str) -> usize {
    let (mut single, mut double, mut depth) = (false, false, 0usize);
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '(' if !single && previous == '$' => depth += 1,
            ')' if !single && depth > 0 => depth -= 1,
            c if c.is_whitespace() && !single && !double && depth == 0 => return i,
            _ => {}
        }
        previous = c;
    }
    text.len()
}

const GSLB_PREFIXES: [&str; 4] = [
    "cargo run --release -- ",
    "cargo run -- ",
    "target/release/gslb ",
    "gslb ",
];

/// The gslb subcommand a (env-stripped) segment runs, if it runs gslb.
fn gslb_subcommand(segment: &str) -> Option<&str> {
    let rest = GSLB_PREFIXES
        .iter()
        .find_map(|prefix| segment.strip_prefix(prefix))?;
    rest.split_whitespace().next()
}

fn strip_sleep(command: &str) -> &str {
    let mut rest = command;
    while let Some(tail) = rest.strip_prefix("sleep ") {
        match tail.split_once(';') {
            Some((seconds, after)) if seconds.trim().parse::<f64>().is_ok() => {
                rest = after.trim_start()
            }
            _ => break,
        }
    }
    rest
}

fn classify(command: &str) -> Action {
    let command = strip_sleep(command);
    let (_, rest) = split_env(command);
    match gslb_subcommand(rest) {
        Some("serve") => return Action::Serve,
        Some("crd-sync") => return Action::Skip,
        Some(_) => return Action::Run,
        None => {}
    }
    let talks = [
        " -p 5353",
        "127.0.0.1:5353",
        "127.0.0.1:9153",
        "localhost:9153",
    ]
    .iter()
    .any(|needle| command.contains(needle))
        || command
            .split(['|', ';', '&'])
            .any(|segment| gslb_subcommand(split_env(segment.trim()).1).is_some());
    let makes_token = command.contains("/dev/urandom")
        && command
            .rsplit_once('>')
            .is_some_and(|(_, file)| !file.trim().contains('/') && !file.trim().is_empty());
    let makes_certificate = command.starts_with("openssl ") && !command.contains("/etc/");
    if talks || makes_token || makes_certificate {
        Action::Run
    } else {
        Action::Skip
    }
}

/// The line with ports and the binary swapped.
fn substitute(command: &str, bin: &Path, dns: u16, admin: u16) -> String {
    let bin = format!("{} ", bin.display());
    let mut out = strip_sleep(command).to_owned();
    for prefix in GSLB_PREFIXES {
        // At the start of a command: the line's start, after env words, or
        // after a shell separator.
        let mut rebuilt = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = &rest[..at];
            let at_command = before.is_empty()
                || before.ends_with("| ")
                || before.ends_with("; ")
                || before.ends_with("&& ")
                || before.ends_with("$(")
                || split_env(&format!("{before}x")).1 == "x";
            rebuilt.push_str(before);
            rebuilt.push_str(if at_command { &bin } else { prefix });
            rest = &rest[at + prefix.len()..];
        }
        rebuilt.push_str(rest);
        out = rebuilt;
    }
    out.replace(" -p 5353", &format!(" -p {dns}"))
        .replace("127.0.0.1:5353", &format!("127.0.0.1:{dns}"))
        .replace("127.0.0.1:9153", &format!("127.0.0.1:{admin}"))
        .replace("localhost:9153", &format!("localhost:{admin}"))
        .replace("curl ", "curl --fail-with-body -sS ")
}

/// A port free for UDP and TCP on 127.0.0.1 right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The `gslb serve` child; killed if the test fails.
struct Served {
    child: Child,
    dns: u16,
    admin: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(line: &Line, bin: &Path, work: &Path) -> Served {
    let (dns, admin) = (free_port(), free_port());
    let command = substitute(&line.command, bin, dns, admin);
    let log = std::fs::File::create(work.join(format!("serve-{}.log", line.number))).unwrap();
    let child = Command::new("bash")
        .arg("-c")
        .arg({
            let (env, rest) = split_env(&command);
            format!("{} exec {rest}", env.join(" "))
        })
        .current_dir(work)
        .env("GSLB_SERVER__DNS_LISTEN", format!("127.0.0.1:{dns}"))
        .env("GSLB_SERVER__ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .env_remove("GSLB_ADMIN_TOKEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("bash runs");
    let served = Served { child, dns, admin };
    // An admin API with server.admin_tls: readiness is all that is asked
    // here, so its certificate is not checked.
    let https = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("HTTPS client");
    let ready = eventually(Duration::from_secs(30), async || {
        let plain = reqwest::get(format!("http://127.0.0.1:{admin}/readyz")).await;
        match plain {
            Ok(r) if r.status() == 200 => true,
            Ok(r) if r.status() == 400 => https
                .get(format!("https://127.0.0.1:{admin}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200),
            _ => false,
        }
    })
    .await;
    let log = std::fs::read_to_string(work.join(format!("serve-{}.log", line.number)));
    assert!(
        ready.is_some(),
        "README.md:{}: `{}` did not become ready:\n{}",
        line.number,
        line.command,
        log.unwrap_or_default()
    );
    served
}

fn stop(mut served: Served) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(served.child.id().to_string())
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = served.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Drop kills it.
}

/// Runs one line and checks it: exit status, then the comment's answers.
fn run(line: &Line, served: &Served, bin: &Path, work: &Path) {
    let command = substitute(&line.command, bin, served.dns, served.admin);
    let out = Command::new("timeout")
        .args(["60", "bash", "-c"])
        .arg(format!("set -o pipefail; {command}"))
        .current_dir(work)
        .env("GSLB_ADMIN", format!("http://127.0.0.1:{}", served.admin))
        .env_remove("GSLB_ADMIN_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!(
        "README.md:{}: `{}`\nran: {command}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        line.number, line.command
    );
    assert!(
        out.status.success(),
        "exit {:?}: {context}",
        out.status.code()
    );
    let dig = line.command.contains("dig ");
    if let Some((_, expected)) = line.comment.split_once('→') {
        let items: Vec<&str> = expected
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let pipeline = line.command.contains('|') || line.command.contains(';');
        if dig && line.command.contains("+short") && !pipeline {
            let answer: BTreeSet<&str> = stdout.lines().map(str::trim).collect();
            let expected: BTreeSet<&str> = items.into_iter().collect();
            assert_eq!(answer, expected, "{context}");
        } else {
            for item in items {
                assert!(stdout.contains(item), "missing {item:?}: {context}");
            }
        }
    } else if dig && let Some(rcode) = RCODES.iter().find(|r| line.comment.contains(*r)) {
        assert!(stdout.contains(&format!("status: {rcode}")), "{context}");
    }
}

/// A scratch directory with links to the repository's `config/` and `geoip/`.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config", "geoip"] {
        std::os::unix::fs::symlink(repo(name), dir.path().join(name)).unwrap();
    }
    dir
}

#[test]
fn readme_lines_are_classified() {
    use Action::*;
    for (line, want) in [
        (
            "cargo run --release -- serve --config config/gslb.yaml",
            Serve,
        ),
        (
            "GSLB_SERVER__ADMIN_TOKEN_FILE=t gslb serve --config c.yaml",
            Serve,
        ),
        ("dig @127.0.0.1 -p 5353 +short a.example", Run),
        (
            "for i in $(seq 20); do dig @127.0.0.1 -p 5353 +short x | head -1; done | sort",
            Run,
        ),
        ("curl -X PUT http://127.0.0.1:9153/overrides/a/b", Run),
        (
            "GSLB_ADMIN_TOKEN=$(cat t) cargo run --release -- status | grep x",
            Run,
        ),
        (
            "target/release/gslb check-config --config config/gslb.yaml",
            Run,
        ),
        ("sleep 3; dig @127.0.0.1 -p 5353 +short x", Run),
        ("head -c 32 /dev/urandom | base64 > admin-token", Run),
        ("head -c 32 /dev/urandom > /etc/token", Skip),
        (
            "openssl req -x509 -newkey ec -nodes -keyout ca.key -out ca.pem",
            Run,
        ),
        ("openssl rand -base64 32 > /etc/gslb/acme-update.key", Skip),
        ("gslb crd-sync --output f --zones c", Skip),
        (
            "python3 -m http.server 8080 --bind 127.0.0.20 >/dev/null 2>&1 &",
            Skip,
        ),
        ("pkill -f 'http.server 8080'", Skip),
        ("cargo test", Skip),
        ("cargo test --features kubernetes", Skip),
        ("kubectl apply -k deploy/", Skip),
    ] {
        assert_eq!(classify(line), want, "{line}");
    }
    let bin = Path::new("/b/gslb");
    assert_eq!(
        substitute(
            "GSLB_ADMIN_TOKEN=$(cat t) cargo run --release -- status | grep gslb ",
            bin,
            1,
            2
        ),
        "GSLB_ADMIN_TOKEN=$(cat t) /b/gslb status | grep gslb "
    );
    assert_eq!(
        substitute(
            "sleep 3; dig @127.0.0.1 -p 5353 x; curl http://127.0.0.1:9153/s",
            bin,
            1,
            2
        ),
        "dig @127.0.0.1 -p 1 x; curl --fail-with-body -sS http://127.0.0.1:2/s"
    );
    assert_eq!(
        split_comment(r##"curl -d '{"a":"# no"}' u   # drain → x, y"##),
        (
            r##"curl -d '{"a":"# no"}' u"##.to_owned(),
            "drain → x, y".to_owned()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_dig, has_curl)),
    ignore = "needs dig and curl (apt-get install bind9-dnsutils curl)"
)]
async fn readme_commands_run_against_a_real_server() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md");
    let lines = sh_lines(&readme);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gslb"));
    let work = workdir();
    let mut served: Option<Served> = None;
    let (mut ran, mut serves) = (0, 0);
    for line in &lines {
        match classify(&line.command) {
            Action::Skip => {}
            Action::Serve => {
                if let Some(old) = served.take() {
                    tokio::task::block_in_place(|| stop(old));
                }
                served = Some(start(line, &bin, work.path()).await);
                serves += 1;
            }
            Action::Run => {
                let Some(server) = &served else {
                    panic!(
                        "README.md:{}: `{}` talks to gslb before any `gslb serve` line",
                        line.number, line.command
                    );
                };
                tokio::task::block_in_place(|| run(line, server, &bin, work.path()));
                ran += 1;
            }
        }
    }
    if let Some(old) = served.take() {
        tokio::task::block_in_place(|| stop(old));
    }
    assert!(serves >= 1, "the README starts gslb");
    assert!(ran >= 20, "the README keeps its examples: ran {ran} lines");
}
