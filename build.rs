//! Finds the external tools the integration tests drive (dig, Knot,
//! Unbound, Chromium, pebble, certbot, a kube-apiserver...) and tells the
//! compiler which are present, as `has_<tool>` cfgs. A test that needs a
//! missing tool is then compiled with `#[ignore = "needs <tool> ..."]`, so
//! `cargo test` reports it as ignored with the reason instead of passing it.
//!
//! It also records the git commit the binary is built from, as the
//! `GSLB_GIT_COMMIT` compile-time variable (`--version`, the first log line,
//! `gslb_build_info`): 12 hex digits, with `-dirty` when tracked files
//! differ from it. A build outside a git checkout (the container image's
//! context has no `.git`) takes `GSLB_GIT_COMMIT` from its environment, or
//! records none. Cargo reruns this script when HEAD, the branch it points
//! to or the index changes, or a file of `src/` (which recompiles the crate
//! anyway): never for a commit elsewhere, a tool or a test file.
//!
//! The test tools are looked up, never run: this script stays a few dozen
//! `stat` calls, and cargo reruns it (and so rebuilds the crate) only when
//! `PATH` or the kube-apiserver location changes, a found tool's file
//! changes, or, while a tool is missing, a directory of `PATH` changes (as
//! when a package installs the tool).
//!
//! Release builds (`--release`, and every profile that inherits from it)
//! look for nothing: the server's optimized binary must not be rebuilt
//! because a package was installed. Their tests see every tool missing.
//!
//! Under `GSLB_REQUIRE_TOOLS=1` (set by `.ci/run`) a missing tool fails the
//! tests, not the build: every test binary has a `required_tools_are_installed`
//! test that reads the list this script leaves in `GSLB_MISSING_TOOLS`. A
//! production build never depends on test tools.

use std::{
    env,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

/// Every tool a test may need: (cfg suffix, executable). The cfg is
/// `has_<suffix>`.
const TOOLS: &[(&str, &str)] = &[
    ("dig", "dig"),
    ("nsupdate", "nsupdate"),
    ("curl", "curl"),
    ("prlimit", "prlimit"),
    ("knotd", "knotd"),
    ("knotc", "knotc"),
    ("keymgr", "keymgr"),
    ("delv", "delv"),
    ("dnssec_keygen", "dnssec-keygen"),
    ("dnssec_settime", "dnssec-settime"),
    ("unbound", "unbound"),
    ("unbound_control", "unbound-control"),
    ("chromium", "chromium"),
    ("pebble", "pebble"),
    ("certbot", "certbot"),
    ("etcd", "etcd"),
    ("kubectl", "kubectl"),
    ("apt_get", "apt-get"),
    ("apt_config", "apt-config"),
];

/// Directories searched after `PATH`: daemons live in sbin, which a
/// non-root `PATH` often lacks (the tests look there too).
const SBIN: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// `CAP_NET_BIND_SERVICE`: binding port 53, which the DNS tree tests do.
const CAP_NET_BIND_SERVICE: u32 = 10;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    record_git_commit();
    for &(cfg, _) in TOOLS {
        println!("cargo::rustc-check-cfg=cfg(has_{cfg})");
    }
    println!("cargo::rustc-check-cfg=cfg(has_kube_apiserver)");
    println!("cargo::rustc-check-cfg=cfg(can_bind_port_53)");
    if env::var("PROFILE").is_ok_and(|profile| profile == "release") {
        let all: Vec<&str> = TOOLS.iter().map(|&(_, tool)| tool).collect();
        println!(
            "cargo::rustc-env=GSLB_MISSING_TOOLS={} kube-apiserver port-53",
            all.join(" ")
        );
        return;
    }
    println!("cargo::rerun-if-env-changed=PATH");
    let path = env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = env::split_paths(&path)
        .chain(SBIN.map(PathBuf::from))
        .collect();

    let mut missing = Vec::new();
    for &(cfg, tool) in TOOLS {
        match find(tool, &dirs) {
            Some(file) => {
                println!("cargo::rustc-cfg=has_{cfg}");
                println!("cargo::rerun-if-changed={}", file.display());
            }
            None => missing.push(tool.to_owned()),
        }
    }

    match kube_apiserver() {
        Some(file) => {
            println!("cargo::rustc-cfg=has_kube_apiserver");
            println!("cargo::rerun-if-changed={}", file.display());
        }
        None => missing.push("kube-apiserver".to_owned()),
    }

    if can_bind_port_53() {
        println!("cargo::rustc-cfg=can_bind_port_53");
    } else {
        missing.push("port-53".to_owned());
    }

    if !missing.is_empty() {
        // A tool installed later lands in one of these directories and
        // changes its modification time. Watched only while something is
        // missing, so a complete machine never rebuilds for a package
        // upgrade.
        let mut watched: Vec<PathBuf> = dirs.iter().filter_map(|d| d.canonicalize().ok()).collect();
        watched.sort();
        watched.dedup();
        for dir in watched.iter().filter(|d| d.is_dir()) {
            println!("cargo::rerun-if-changed={}", dir.display());
        }
    }
    println!("cargo::rustc-env=GSLB_MISSING_TOOLS={}", missing.join(" "));
}

/// Exports `GSLB_GIT_COMMIT` and watches the files that change it.
fn record_git_commit() {
    println!("cargo::rerun-if-env-changed=GSLB_GIT_COMMIT");
    if let Some(given) = env::var_os("GSLB_GIT_COMMIT").filter(|v| !v.is_empty()) {
        println!(
            "cargo::rustc-env=GSLB_GIT_COMMIT={}",
            given.to_string_lossy()
        );
        return;
    }
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return;
    };
    // HEAD moves on checkout, the branch's ref on commit (a loose ref, or
    // packed-refs once packed), the index on add. A worktree keeps HEAD
    // and its index in its own git dir and the refs in the common one.
    let git_dir = git(&["rev-parse", "--path-format=absolute", "--git-dir"]);
    let common_dir = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]);
    let mut watched: Vec<PathBuf> = Vec::new();
    if let Some(dir) = git_dir.map(PathBuf::from) {
        watched.extend([dir.join("HEAD"), dir.join("index")]);
    }
    if let Some(dir) = common_dir.map(PathBuf::from) {
        watched.push(dir.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(dir.join(branch));
        }
    }
    for file in watched.iter().filter(|f| f.exists()) {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    // An edit to what goes into the binary makes it dirty; the crate is
    // recompiled for such an edit anyway.
    for path in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo::rerun-if-changed={path}");
    }
    // --no-optional-locks: a status that refreshed the index would touch
    // the watched index and make every later build rerun this script.
    let dirty = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])
    .is_some_and(|changes| !changes.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo::rustc-env=GSLB_GIT_COMMIT={commit}{suffix}");
}

/// `git ARGS` run in the package directory: its trimmed output, or `None`
/// when git is missing, this is no checkout, or the command fails.
fn git(args: &[&str]) -> Option<String> {
    let dir = env::var_os("CARGO_MANIFEST_DIR")?;
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The executable `tool` in one of `dirs`.
fn find(tool: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(tool))
        .find(|file| executable(file))
}

fn executable(file: &Path) -> bool {
    file.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The kube-apiserver `tests/k8s/cluster.sh` would use: `GSLB_KUBE_APISERVER`,
/// or one it built into its cache (`GSLB_K8S_CACHE`, by default
/// `~/.cache/gslb-k8s/kube-apiserver-VERSION`). The script also checks
/// that the binary runs; that is left to the tests.
fn kube_apiserver() -> Option<PathBuf> {
    for var in ["GSLB_KUBE_APISERVER", "GSLB_K8S_CACHE", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if let Some(file) = env::var_os("GSLB_KUBE_APISERVER").filter(|v| !v.is_empty()) {
        let file = PathBuf::from(file);
        return executable(&file).then_some(file);
    }
    let cache = match env::var_os("GSLB_K8S_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = env::var_os("HOME").filter(|v| !v.is_empty());
            PathBuf::from(home.unwrap_or_else(|| "/root".into())).join(".cache/gslb-k8s")
        }
    };
    let entries = std::fs::read_dir(cache).ok()?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|file| {
            file.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("kube-apiserver-") && !n.ends_with(".tmp"))
        })
        .filter(|file| executable(file))
        .collect();
    found.sort();
    found.pop()
}

/// Whether this user may bind port 53: root (or `CAP_NET_BIND_SERVICE`),
/// or a kernel that lets anyone bind it. Read from /proc, without binding.
fn can_bind_port_53() -> bool {
    let unprivileged_start =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
    if unprivileged_start.is_some_and(|start| start <= 53) {
        return true;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|caps| u64::from_str_radix(caps.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_NET_BIND_SERVICE) != 0)
}
