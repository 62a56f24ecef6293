//! The `gslb` binary: check-config, and serve with signals.

use std::{
    net::{SocketAddr, TcpListener, UdpSocket},
    process::{Child, Command, Stdio},
    time::Duration,
};

use hickory_proto::rr::RecordType;

use crate::support::harness::*;

/// `gslb check-config` on `path`: (exit code, stderr).
fn check_config(path: &std::path::Path) -> (Option<i32>, String) {
    let out = gslb()
        .arg("check-config")
        .arg("--config")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn gslb() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gslb"));
    command.current_dir(repo("")).env_remove("RUST_LOG");
    command
}

#[test]
fn check_config_summarises_the_example() {
    let out = gslb()
        .args(["check-config", "--config", "config/gslb.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "config/gslb.yaml: ok: 1 zone, 3 records, 8 sets, 11 targets, 1 health check"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("GeoIP: GSLB-Test-City"), "{stdout}");
}

#[test]
fn check_config_lists_every_error_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        r#"
server: { dns_listen: ["127.0.0.1:53"] }
zones:
  - origin: global.example.test.
    ttl: 999999
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
records:
  - name: webapp.global.example.test.
    sets:
      - { id: a, targets: [192.0.2.1], weight: -1, geo: { continents: [XX], countries: [ZZ] } }
      - { id: a, targets: ["10.0.0.300"], health_check: missing }
  - name: www.example.org.
    sets: [{ id: b, targets: [192.0.2.2] }]
"#,
    )
    .unwrap();
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(1));
    let file = path.display().to_string();
    for expected in [
        format!("{file}:5:5: zones[0].ttl: 999999 is out of range (0 to 86400 seconds)"),
        format!("{file}:11:40: records[0].sets[0].weight: -1 is out of range (0 to 1000000)"),
        format!(
            "{file}:11:72: records[0].sets[0].geo.continents[0]: \"XX\" is not a continent code"
        ),
        format!(
            "{file}:11:89: records[0].sets[0].geo.countries[0]: \"ZZ\" is not an ISO 3166-1 alpha-2 country code"
        ),
        format!("{file}:12:11: records[0].sets[1].id: \"a\" is already the id of sets[0]"),
        format!("{file}:12:28: records[0].sets[1].targets[0]: \"10.0.0.300\" is not an IP address"),
        format!(
            "{file}:12:43: records[0].sets[1].health_check: \"missing\" is not defined in health_checks"
        ),
        format!(
            "{file}:13:5: records[1].name: www.example.org. is not inside a served zone (global.example.test.)"
        ),
        "8 errors; config rejected".to_owned(),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_config_reports_hostname_targets_that_loop_through_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loops.yaml");
    let more = dir.path().join("more.yaml");
    std::fs::write(
        &path,
        format!(
            r#"
server: {{ dns_listen: ["127.0.0.1:53"], record_files: ["{more}"] }}
zones:
  - origin: global.example.test.
    soa: {{ mname: ns1.global.example.test., rname: hostmaster.example.test. }}
    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}
records:
  - name: app.global.example.test.
    sets: [{{ id: a, targets: [lb.global.example.test.] }}]
  - name: lb.global.example.test.
    sets:
      - {{ id: b, targets: [192.0.2.1] }}
      - {{ id: c, targets: [App.Global.Example.Test] }}
  - name: self.global.example.test.
    sets: [{{ id: s, targets: [self.global.example.test.] }}]
  - name: into.global.example.test.
    sets: [{{ id: i, targets: [lb.global.example.test., lb.elb.example.test.] }}]
  - name: far.global.example.test.
    sets: [{{ id: f, targets: [near.global.example.test.] }}]
"#,
            more = more.display()
        ),
    )
    .unwrap();
    std::fs::write(
        &more,
        "records:\n  - name: near.global.example.test.\n    sets: [{ id: n, targets: [far.global.example.test.] }]\n",
    )
    .unwrap();
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(1), "{stderr}");
    let (file, more) = (path.display(), more.display());
    let says = "hostname targets loop through records gslb serves:";
    for expected in [
        format!(
            "{file}:13:18: records[1].sets[1].targets: {says} app.global.example.test. → lb.global.example.test. → app.global.example.test."
        ),
        format!(
            "{file}:15:21: records[2].sets[0].targets: {says} self.global.example.test. → self.global.example.test."
        ),
        format!(
            "{more}:3:21: records[0].sets[0].targets: {says} far.global.example.test. → near.global.example.test. → far.global.example.test."
        ),
        "3 errors; config rejected".to_owned(),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("into.global"), "{stderr}");
}

#[test]
fn check_config_names_the_field_of_a_type_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "server: { dns_listen: [\"127.0.0.1:53\"], colour: blue }\n",
    )
    .unwrap();
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("server.colour: unknown key `colour`"),
        "{stderr}"
    );
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub(crate) fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A `gslb serve` child that is killed if the test fails.
pub(crate) struct Serve(pub(crate) Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

pub(crate) async fn answer_within(
    addr: SocketAddr,
    name: &str,
    limit: Duration,
) -> Option<Vec<std::net::IpAddr>> {
    let bytes = query(name, RecordType::A).to_vec().unwrap();
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        let from = "127.0.0.1".parse().unwrap();
        if let Some(raw) = raw_udp_from(from, addr, &bytes, Duration::from_millis(200)).await {
            return Some(addrs(&hickory_proto::op::Message::from_vec(&raw).unwrap()));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gslb.yaml");
    let yaml = |target: &str| {
        format!(
            "{ZONE}records:\n  - name: webapp.global.example.test.\n    sets: [{{ id: a, targets: [{target}] }}]\n"
        )
    };
    std::fs::write(&config, render(&yaml("192.0.2.1"), dir.path())).unwrap();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = gslb()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("GSLB_SERVER__DNS_LISTEN", addr.to_string())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serve = Serve(child);
    let name = "webapp.global.example.test.";
    assert_eq!(
        answer_within(addr, name, Duration::from_secs(10)).await,
        Some(ips(&["192.0.2.1"])),
        "serving on the env-given port"
    );

    // An edit in place that does not change the file's directory entry is
    // still seen by the watcher; SIGHUP forces the reload regardless.
    std::fs::write(&config, render(&yaml("192.0.2.2"), dir.path())).unwrap();
    signal(&serve.0, "HUP");
    let mut reloaded = false;
    for _ in 0..50 {
        if answer_within(addr, name, Duration::from_secs(1)).await == Some(ips(&["192.0.2.2"])) {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reloaded, "SIGHUP reloads");

    signal(&serve.0, "TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = serve.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gslb exits after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_refuses_a_bad_config_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "zones: []\n").unwrap();
    let out = gslb()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.dns_listen: at least one address is required"),
        "{stderr}"
    );
}
