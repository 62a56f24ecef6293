//! `tests/k8s/cluster.sh install-deps` adds a `deb-src` entry for the
//! kubernetes source package. Issue 9, finding 7: it used to hard-code
//! deb.debian.org; it now derives the entry from the machine's own apt
//! sources. These tests point apt at fixture sources (`APT_CONFIG`) with a
//! private mirror and ask real apt which URIs it would fetch, offline
//! (`apt-get update --print-uris`).

use std::{path::Path, process::Command};

use crate::harness::repo;

/// The distribution's release codename, as cluster.sh reads it.
fn codename() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// An apt configuration rooted in `dir`, reading `sources.list` and
/// `sources.list.d/*` from there; returns the `APT_CONFIG` file.
fn apt_root(dir: &Path, sources_list: &str, parts: &[(&str, &str)]) -> std::path::PathBuf {
    let etc = dir.join("etc/apt");
    for sub in [
        "sources.list.d",
        "apt.conf.d",
        "preferences.d",
        "trusted.gpg.d",
    ] {
        std::fs::create_dir_all(etc.join(sub)).expect("fixture dirs");
    }
    for sub in ["state/lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(dir.join(sub)).expect("fixture dirs");
    }
    std::fs::write(etc.join("sources.list"), sources_list).expect("sources.list");
    for (name, text) in parts {
        std::fs::write(etc.join("sources.list.d").join(name), text).expect("source part");
    }
    let conf = dir.join("apt.conf");
    std::fs::write(
        &conf,
        format!(
            "Dir::Etc \"{etc}\";\nDir::State \"{d}/state\";\nDir::Cache \"{d}/cache\";\n\
             Debug::NoLocking \"true\";\n",
            etc = etc.display(),
            d = dir.display()
        ),
    )
    .expect("apt.conf");
    conf
}

/// `cluster.sh debsrc` under `conf`: (success, stdout, stderr).
fn debsrc(conf: &Path) -> (bool, String, String) {
    let out = Command::new(repo("tests/k8s/cluster.sh"))
        .arg("debsrc")
        .env("APT_CONFIG", conf)
        .output()
        .expect("cluster.sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The URIs apt would fetch under `conf`.
fn planned_uris(conf: &Path) -> String {
    let out = Command::new("apt-get")
        .args(["update", "--print-uris"])
        .env("APT_CONFIG", conf)
        .output()
        .expect("apt-get runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "apt-get update --print-uris: {stderr}"
    );
    assert!(!stderr.contains("E:"), "apt-get reports errors: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// deb822 sources with a private mirror and Signed-By (as Debian images set
/// it): the deb-src entry uses that mirror and key, apt accepts it next to
/// the `deb` entry (a differing Signed-By for the same mirror and suite is
/// an apt error), and the Sources index comes from the private mirror.
#[test]
#[cfg_attr(
    not(all(has_apt_get, has_apt_config)),
    ignore = "needs apt-get and apt-config (a Debian system)"
)]
fn issue_9_debsrc_follows_a_deb822_mirror() {
    let code = codename();
    assert!(!code.is_empty(), "VERSION_CODENAME in /etc/os-release");
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = apt_root(
        dir.path(),
        "",
        &[(
            "mirror.sources",
            &format!(
                "Types: deb\nURIs: http://mirror.test.example/debian/\nSuites: {code} {code}-updates\n\
                 Components: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
                 Types: deb\nURIs: http://security.test.example/debian-security\n\
                 Suites: {code}-security\nComponents: main\n\n\
                 Types: deb\nURIs: http://off.test.example/debian\nSuites: {code}\nComponents: main\nEnabled: no\n"
            ),
        )],
    );
    let (ok, entry, stderr) = debsrc(&conf);
    assert!(ok, "cluster.sh debsrc failed: {stderr}");
    assert!(
        entry.contains("Types: deb-src\nURIs: http://mirror.test.example/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"),
        "{entry}"
    );
    for absent in [
        "deb.debian.org",
        "security.test.example",
        "off.test.example",
    ] {
        assert!(!entry.contains(absent), "{absent} in {entry}");
    }
    std::fs::write(
        dir.path()
            .join("etc/apt/sources.list.d/gslb-k8s-src.sources"),
        &entry,
    )
    .expect("write entry");
    let uris = planned_uris(&conf);
    assert!(
        uris.contains("'http://mirror.test.example/debian/dists/bookworm/main/source/Sources"),
        "{uris}"
    );
    assert!(!uris.contains("deb.debian.org"), "{uris}");
}

/// One-line sources.list with options and comments: the same.
#[test]
#[cfg_attr(
    not(all(has_apt_get, has_apt_config)),
    ignore = "needs apt-get and apt-config (a Debian system)"
)]
fn issue_9_debsrc_follows_a_one_line_mirror() {
    let code = codename();
    assert!(!code.is_empty(), "VERSION_CODENAME in /etc/os-release");
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = apt_root(
        dir.path(),
        &format!(
            "# the local mirror\n\
             deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://apt.test.example/debian {code} main # comment\n\
             deb http://apt.test.example/debian {code}-updates main\n\
             # deb http://commented.test.example/debian {code} main\n"
        ),
        &[],
    );
    let (ok, entry, stderr) = debsrc(&conf);
    assert!(ok, "cluster.sh debsrc failed: {stderr}");
    assert!(
        entry.contains("URIs: http://apt.test.example/debian\n")
            && entry.contains("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"),
        "{entry}"
    );
    assert!(!entry.contains("commented"), "{entry}");
    std::fs::write(
        dir.path()
            .join("etc/apt/sources.list.d/gslb-k8s-src.sources"),
        &entry,
    )
    .expect("write entry");
    let uris = planned_uris(&conf);
    assert!(
        uris.contains("'http://apt.test.example/debian/dists/bookworm/main/source/Sources"),
        "{uris}"
    );
}

/// No usable `deb` entry: a clear error, not a guessed mirror.
#[test]
#[cfg_attr(
    not(all(has_apt_get, has_apt_config)),
    ignore = "needs apt-get and apt-config (a Debian system)"
)]
fn debsrc_without_a_debian_entry_says_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = apt_root(
        dir.path(),
        "deb https://packages.test.example/apt cloud-sdk main\n",
        &[],
    );
    let (ok, entry, stderr) = debsrc(&conf);
    assert!(!ok, "{entry}");
    assert!(
        stderr.contains("add a deb-src entry for bookworm main yourself"),
        "{stderr}"
    );
}
