//! The generated command-line aids and the build's name: the committed man
//! page is what `gslb man` prints, bash completes from `gslb completions
//! bash`, and `--version` and the first log line of `serve` name the git
//! commit the binary was built from.

use std::process::{Command, Output};

use crate::support::harness::repo;

fn gslb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gslb"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("gslb runs")
}

fn stdout(args: &[&str]) -> String {
    let output = gslb(args);
    assert!(
        output.status.success(),
        "gslb {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The checkout's HEAD as build.rs records it (12 hex digits).
fn head() -> String {
    let output = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs");
    assert!(output.status.success(), "not a git checkout");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
#[cfg_attr(
    not(feature = "kubernetes"),
    ignore = "the committed page is the default build's, which has crd-sync"
)]
fn committed_man_page_is_what_gslb_man_prints() {
    let committed =
        std::fs::read_to_string(repo("docs/man/gslb.1")).expect("docs/man/gslb.1 is committed");
    let printed = stdout(&["man"]);
    assert!(
        printed.starts_with(".ie")
            && printed.contains("serve")
            && printed.contains("config\\-schema"),
        "not a man page of gslb's subcommands:\n{printed}"
    );
    assert!(
        committed == printed,
        "docs/man/gslb.1 is stale: run `cargo run --features kubernetes -- man > docs/man/gslb.1`"
    );
}

#[test]
fn bash_completes_subcommands_from_gslb_completions() {
    let script = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(script.path(), stdout(&["completions", "bash"])).expect("write script");
    // What bash does on `gslb c<TAB>`: call the function `complete -p`
    // names with the words so far.
    let complete = r#"source "$1"
complete -p gslb >/dev/null || exit 3
COMP_WORDS=(gslb c); COMP_CWORD=1; COMP_LINE="gslb c"; COMP_POINT=${#COMP_LINE}
_gslb gslb c gslb
printf '%s\n' "${COMPREPLY[@]}""#;
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", complete, "bash"])
        .arg(script.path())
        .output()
        .expect("bash runs");
    let words = String::from_utf8_lossy(&output.stdout);
    let mut words: Vec<&str> = words.lines().collect();
    words.sort_unstable();
    assert_eq!(
        words,
        // `crd-sync` too without the `kubernetes` feature: that build has
        // the subcommand, which says how to get a build that runs it.
        ["check-config", "completions", "config-schema", "crd-sync"],
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn version_names_the_git_commit() {
    let version = stdout(&["--version"]);
    let expected = format!("gslb {} (commit {}", env!("CARGO_PKG_VERSION"), head());
    assert!(
        version.starts_with(&expected) && version.trim_end().ends_with(')'),
        "gslb --version printed {version:?}, expected {expected}...)"
    );
}

#[test]
fn serve_logs_its_version_and_commit_first() {
    let output = gslb(&["serve", "--config", "/nonexistent/gslb.yaml"]);
    assert!(!output.status.success(), "serve ran without a config");
    let log = String::from_utf8_lossy(&output.stderr);
    let first = log.lines().next().unwrap_or_default();
    for part in [
        "gslb starting",
        &format!("version={}", env!("CARGO_PKG_VERSION")),
        &format!("commit={}", head()),
    ] {
        assert!(
            first.contains(part),
            "first log line lacks {part:?}:\n{log}"
        );
    }
}
