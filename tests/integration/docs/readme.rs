//! The README and the book run: every command in a ```` ```sh ```` block of
//! README.md and of every page of the book (`docs/src`, in SUMMARY order)
//! that talks to a running gslb is executed against the real binary serving
//! the example config, so the documentation cannot drift from the product.
//! Each file is its own sequence, in a scratch directory of its own: a page
//! starts the server it talks to.
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
//! * A line that redirects its output into a path (`> config/x`) is
//!   skipped: it would write through the scratch directory's links into the
//!   checkout.
//! * A line that runs gslb without talking to a server (`check-config`,
//!   `config-schema`, a token or certificate) may come before any `gslb
//!   serve` line of its file; one that talks to a server may not.
//!
//! A failure names the file and line (`docs/src/quick-start.md:12`).
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

/// The gslb subcommands a line runs, in any segment of a pipeline or list.
fn gslb_subcommands(command: &str) -> impl Iterator<Item = &str> {
    command
        .split(['|', ';', '&'])
        .filter_map(|segment| gslb_subcommand(split_env(segment.trim()).1))
}

/// The subcommands that talk to a running server's admin API.
const CLIENT_SUBCOMMANDS: [&str; 3] = ["status", "override", "explain"];

/// Whether a line needs the server a `gslb serve` line started: it sends
/// DNS or admin requests to it.
fn needs_server(command: &str) -> bool {
    [
        " -p 5353",
        "127.0.0.1:5353",
        "127.0.0.1:9153",
        "localhost:9153",
    ]
    .iter()
    .any(|needle| command.contains(needle))
        || gslb_subcommands(command).any(|sub| CLIENT_SUBCOMMANDS.contains(&sub))
}

/// Whether a line redirects its output into a path (`> config/x.json`):
/// run in the scratch directory, that would write through its links into
/// the checkout. `/dev/...` is not a file.
fn writes_into_a_path(command: &str) -> bool {
    command.rsplit_once('>').is_some_and(|(_, file)| {
        let file = file.trim();
        file.contains('/') && !file.starts_with("/dev/")
    })
}

fn classify(command: &str) -> Action {
    let command = strip_sleep(command);
    if writes_into_a_path(command) {
        return Action::Skip;
    }
    let (_, rest) = split_env(command);
    match gslb_subcommand(rest) {
        Some("serve") => return Action::Serve,
        Some("crd-sync") => return Action::Skip,
        Some(_) => return Action::Run,
        None => {}
    }
    let talks = needs_server(command) || gslb_subcommands(command).next().is_some();
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

async fn start(file: &str, line: &Line, bin: &Path, work: &Path) -> Served {
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
        "{file}:{}: `{}` did not become ready:\n{}",
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
/// Without a server (a line before the file's first `gslb serve`), the
/// ports are left as written and `GSLB_ADMIN` is not set.
fn run(file: &str, line: &Line, served: Option<&Served>, bin: &Path, work: &Path) {
    let (dns, admin) = served.map_or((5353, 9153), |s| (s.dns, s.admin));
    let command = substitute(&line.command, bin, dns, admin);
    let mut bash = Command::new("timeout");
    bash.args(["60", "bash", "-c"])
        .arg(format!("set -o pipefail; {command}"))
        .current_dir(work);
    match served {
        Some(served) => bash.env("GSLB_ADMIN", format!("http://127.0.0.1:{}", served.admin)),
        None => bash.env_remove("GSLB_ADMIN"),
    };
    let out = bash
        .env_remove("GSLB_ADMIN_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!(
        "{file}:{}: `{}`\nran: {command}\nstdout:\n{stdout}\nstderr:\n{stderr}",
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
        ("cargo run --release -- man > docs/man/gslb.1", Skip),
        (
            "cargo run --release -- config-schema > config/gslb.schema.json",
            Skip,
        ),
        ("cargo run --release -- config-schema > schema.json", Run),
        ("dig @127.0.0.1 -p 5353 +short a.example 2>/dev/null", Run),
        ("cargo test --features kubernetes", Skip),
        ("kubectl apply -k deploy/", Skip),
    ] {
        assert_eq!(classify(line), want, "{line}");
    }
    for (line, needs) in [
        (
            "cargo run --release -- check-config --config config/gslb.yaml",
            false,
        ),
        ("cargo run --release -- config-schema | grep title", false),
        ("head -c 32 /dev/urandom | base64 > admin-token", false),
        (
            "GSLB_ADMIN_TOKEN=$(cat t) cargo run --release -- status | grep x",
            true,
        ),
        ("gslb explain a.example --client 192.0.2.1", true),
        ("cargo run --release -- override a b down", true),
        ("dig @127.0.0.1 -p 5353 +short a.example", true),
        ("curl http://127.0.0.1:9153/metrics", true),
    ] {
        assert_eq!(needs_server(line), needs, "{line}");
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

/// What one file's sequence did.
#[derive(Debug, Default)]
struct Ran {
    serves: usize,
    lines: usize,
}

/// Runs one file's `sh` lines in a scratch directory of its own.
async fn run_file(file: &str, bin: &Path) -> Ran {
    let text = std::fs::read_to_string(repo(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let work = workdir();
    let mut served: Option<Served> = None;
    let mut ran = Ran::default();
    for line in &sh_lines(&text) {
        match classify(&line.command) {
            Action::Skip => {}
            Action::Serve => {
                if let Some(old) = served.take() {
                    tokio::task::block_in_place(|| stop(old));
                }
                served = Some(start(file, line, bin, work.path()).await);
                ran.serves += 1;
            }
            Action::Run => {
                assert!(
                    served.is_some() || !needs_server(&line.command),
                    "{file}:{}: `{}` talks to gslb before any `gslb serve` line of {file}",
                    line.number,
                    line.command
                );
                eprintln!("{file}:{}: {}", line.number, line.command);
                tokio::task::block_in_place(|| run(file, line, served.as_ref(), bin, work.path()));
                ran.lines += 1;
            }
        }
    }
    if let Some(old) = served.take() {
        tokio::task::block_in_place(|| stop(old));
    }
    ran
}

/// Lines run over README.md and the book: a command that stops being run
/// (a page dropped from SUMMARY, a block that is no longer `sh`) fails
/// here. README.md alone ran 39 before the book took its sections; every
/// one of them still runs, in the book.
const LINES_RUN_AT_LEAST: usize = 58;

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(has_dig, has_curl)),
    ignore = "needs dig and curl (apt-get install bind9-dnsutils curl)"
)]
async fn readme_and_book_commands_run_against_a_real_server() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gslb"));
    let (mut lines, mut serves) = (0, 0);
    for file in super::book::documentation_files() {
        let ran = run_file(&file, &bin).await;
        eprintln!("{file}: {} gslb serve, {} lines run", ran.serves, ran.lines);
        if file == "README.md" {
            assert!(ran.serves >= 1, "the README starts gslb");
        }
        lines += ran.lines;
        serves += ran.serves;
    }
    eprintln!("all files: {serves} gslb serve, {lines} lines run");
    assert!(
        lines >= LINES_RUN_AT_LEAST,
        "the README and the book keep their examples: ran {lines} lines, at least {LINES_RUN_AT_LEAST} expected"
    );
}
