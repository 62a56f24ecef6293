//! Installing a test tool does not rebuild the release server: build.rs
//! looks for test tools only in the dev and test profiles, so a release
//! build (here `release-check`, which inherits from `release` but compiles
//! in minutes) stays fresh when a tool appears on `PATH` or `PATH` itself
//! changes.
//!
//! The build is of the default features, as the README's `cargo run
//! --release` builds it: without `kubernetes`, whose `gslb crd-sync` it
//! must then refuse with directions.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the `release-check` build is kept between runs: outside the
/// checkout, like `.ci/run`'s other caches.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GSLB_RELEASE_CHECK_TARGET") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache/gslb-target-release-check")
}

/// Builds the server with `path` as `PATH`; returns whether every artifact
/// of the gslb package was fresh (nothing of it recompiled).
fn build(path: &std::ffi::OsStr) -> bool {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--profile",
            "release-check",
            "--bin",
            "gslb",
            "--message-format=json",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .env("PATH", path)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ours: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["package_id"]
                .as_str()
                .is_some_and(|id| id.contains("/gslb#") || id.contains("gslb@"))
                && m["target"]["name"] == "gslb"
        })
        .collect();
    assert!(
        !ours.is_empty(),
        "no gslb artifact in cargo's output:\n{stdout}"
    );
    ours.iter().all(|m| m["fresh"] == true)
}

#[test]
fn a_tool_appearing_on_path_does_not_rebuild_the_release_server() {
    let tools = tempfile::tempdir().expect("tempdir");
    let more = tempfile::tempdir().expect("tempdir");
    let system = std::env::var_os("PATH").unwrap_or_default();
    let path = |dirs: &[&Path]| {
        std::env::join_paths(
            dirs.iter()
                .map(|d| d.to_path_buf())
                .chain(std::env::split_paths(&system)),
        )
        .expect("PATH joins")
    };
    build(&path(&[tools.path()]));
    assert!(
        build(&path(&[tools.path()])),
        "a second build with nothing changed recompiled gslb"
    );

    // A tool appears in a directory of PATH, and PATH grows.
    let dig = tools.path().join("dig");
    std::fs::write(&dig, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&dig, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    assert!(
        build(&path(&[tools.path(), more.path()])),
        "installing a tool rebuilt the release server"
    );
}

#[test]
fn a_build_without_kubernetes_says_how_to_get_crd_sync() {
    build(&std::env::var_os("PATH").unwrap_or_default());
    let gslb = target_dir().join("release-check/gslb");
    let output = Command::new(&gslb)
        .args(["crd-sync", "--output", "/tmp/x.yaml", "--zones", "z.test."])
        .output()
        .expect("the release-check gslb runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("built without Kubernetes support; build with --features kubernetes"),
        "{stderr}"
    );
    // The help names the subcommand and why it is not there.
    let help = Command::new(&gslb)
        .arg("--help")
        .output()
        .expect("gslb --help runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.lines()
            .any(|l| l.contains("crd-sync") && l.contains("not in this build")),
        "{help}"
    );
}
