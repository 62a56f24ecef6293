//! A peer group of real gslb processes on loopback: health decided by the
//! majority of their views, overrides that reach every instance and survive
//! restarts, and peers that misbehave dropped from the vote.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use hickory_proto::rr::RecordType;
use tokio::time::Instant;

use crate::support::backend::{Backend, Mode, free_port};
use crate::support::harness::{addrs, eventually, ips, query, udp};
use crate::support::process::{Process, config_text, free_admin_addr, free_dns_port};

const NAME: &str = "app.global.example.test.";
const US: &str = "127.0.40.1";
const EU: &str = "127.0.40.2";

/// One instance of a group: its addresses, its directory and, once
/// started, its process.
struct Member {
    name: String,
    dns: SocketAddr,
    admin: SocketAddr,
    dir: Option<tempfile::TempDir>,
    config: PathBuf,
    process: Option<Process>,
    running: bool,
}

/// Instances that list each other as peers.
struct Group {
    members: Vec<Member>,
}

impl Group {
    /// Writes the configs of `names`, each with `server_extra` (lines
    /// indented two spaces, after the peer keys) and `rest`, and a state
    /// file in its directory. `extra_peers` are listed by every member.
    fn new(names: &[&str], server_extra: &str, rest: &str, extra_peers: &[(&str, String)]) -> Self {
        let mut members: Vec<Member> = names
            .iter()
            .map(|name| {
                let dir = tempfile::tempdir().expect("temp dir");
                let config = dir.path().join("gslb.yaml");
                Member {
                    name: (*name).to_owned(),
                    dns: ([127, 0, 0, 1], free_dns_port()).into(),
                    admin: free_admin_addr(),
                    dir: Some(dir),
                    config,
                    process: None,
                    running: false,
                }
            })
            .collect();
        let urls: Vec<(String, String)> = members
            .iter()
            .map(|m| (m.name.clone(), format!("http://{}", m.admin)))
            .chain(
                extra_peers
                    .iter()
                    .map(|(n, u)| ((*n).to_owned(), u.clone())),
            )
            .collect();
        for member in &mut members {
            let peers: Vec<String> = urls
                .iter()
                .filter(|(name, _)| *name != member.name)
                .map(|(name, url)| format!("{{ name: {name}, url: \"{url}\" }}"))
                .collect();
            let state = member.config.with_file_name("state.json");
            let server = format!(
                "  instance: {}\n  peers: [{}]\n  state_file: \"{}\"\n{server_extra}",
                member.name,
                peers.join(", "),
                state.display()
            );
            let text = config_text(member.dns, member.admin, &server, rest);
            std::fs::write(&member.config, text).expect("write config");
        }
        Self { members }
    }

    fn start(&mut self, i: usize) {
        let m = &mut self.members[i];
        match (&mut m.process, m.dir.take()) {
            (Some(process), _) => process.relaunch(),
            (None, Some(dir)) => {
                let process = Process::start(dir, m.config.clone(), m.dns, m.admin, &[], None);
                m.process = Some(process);
            }
            (None, None) => unreachable!("a member has its directory until it starts"),
        }
        m.running = true;
    }

    async fn start_all(&mut self) {
        for i in 0..self.members.len() {
            self.start(i);
        }
        for m in &self.members {
            m.process().wait_ready().await;
        }
    }

    /// SIGKILL; its directory (state file included) stays for a restart.
    fn kill(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.process.as_mut().expect("member started").kill();
        m.running = false;
    }

    fn logs(&self) -> String {
        self.members
            .iter()
            .filter_map(|m| Some(format!("--- {}:\n{}", m.name, m.process.as_ref()?.log())))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until every running member counts `views` fresh peer views.
    async fn wait_views(&self, views: u32) {
        for m in self.members.iter().filter(|m| m.running) {
            let fresh = eventually(Duration::from_secs(15), async || {
                m.process().metric("gslb_peer_views_fresh").await == Some(f64::from(views))
            })
            .await;
            assert!(
                fresh.is_some(),
                "{} sees {views} peer views; logs:\n{}",
                m.name,
                self.logs()
            );
        }
    }
}

impl Member {
    fn process(&self) -> &Process {
        self.process.as_ref().expect("member running")
    }

    async fn answer(&self) -> Vec<std::net::IpAddr> {
        addrs(&udp(self.dns, &query(NAME, RecordType::A)).await)
    }

    /// The member's own state of `target` in its peer document.
    async fn own_view(&self, target: &str) -> Option<bool> {
        let (_, body) = self.process().get("/peer/v1/document").await?;
        let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
        doc["health"]["items"]
            .as_array()?
            .iter()
            .find(|item| item["addr"] == target)
            .and_then(|item| item["up"].as_bool())
    }

    async fn put(&self, path: &str, body: &str) -> u16 {
        let client = reqwest::Client::new();
        let url = format!("http://{}{path}", self.admin);
        let response = client
            .put(url)
            .body(body.to_owned())
            .send()
            .await
            .expect("PUT");
        response.status().as_u16()
    }

    async fn delete(&self, path: &str) -> u16 {
        let client = reqwest::Client::new();
        let url = format!("http://{}{path}", self.admin);
        client
            .delete(url)
            .send()
            .await
            .expect("DELETE")
            .status()
            .as_u16()
    }
}

fn records(check_port: u16) -> String {
    format!(
        r#"health_checks:
  web: {{ kind: http, port: {check_port}, path: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2 }}
records:
  - name: {NAME}
    sets:
      - {{ id: us, targets: [{US}], priority: 0, health_check: web }}
      - {{ id: eu, targets: [{EU}], priority: 1, health_check: web }}
"#
    )
}

/// Starts the two backends of `records`: us in `us_mode`, eu healthy.
async fn backends(us_mode: Mode) -> (Backend, Backend, u16) {
    let port = free_port(US).await;
    let us = Backend::http(US, port).await;
    us.set(us_mode);
    let eu = Backend::http(EU, port).await;
    (us, eu, port)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_outvote_one_that_sees_a_target_down_then_fail_over_together() {
    let (us, _eu, port) = backends(Mode::FailAgent("(instance c)".into())).await;
    let mut group = Group::new(&["a", "b", "c"], "", &records(port), &[]);
    group.start_all().await;
    group.wait_views(2).await;
    let c = &group.members[2];
    let c_sees_down = eventually(Duration::from_secs(10), async || {
        c.own_view(US).await == Some(false)
    })
    .await;
    assert!(
        c_sees_down.is_some(),
        "c's probes fail; logs:\n{}",
        group.logs()
    );
    let agents = us.seen.lock().unwrap().user_agents.clone();
    for name in ["a", "b", "c"] {
        let agent = format!("gslb/{} (instance {name})", env!("CARGO_PKG_VERSION"));
        assert!(agents.contains(&agent), "{agent} probed: {agents:?}");
    }
    // c alone sees us down: outvoted, every instance keeps answering it.
    for _ in 0..10 {
        for m in &group.members {
            assert_eq!(
                m.answer().await,
                ips(&[US]),
                "{} answers us; logs:\n{}",
                m.name,
                group.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let disagreements = c.process().metric("gslb_health_disagreements").await;
    assert_eq!(disagreements, Some(1.0));
    // c's /explain says the vote overrode its own probe; the answer, which
    // involves a contested target, has the degraded TTL.
    let (_, explain) = c
        .process()
        .get(&format!("/explain?name={NAME}&type=A"))
        .await
        .expect("GET /explain");
    assert!(
        explain.contains("this instance's probe says down, the peer group's vote says up"),
        "{explain}"
    );
    let answer = udp(c.dns, &query(NAME, RecordType::A)).await;
    assert_eq!(
        answer.answers[0].ttl, 10,
        "degraded TTL while the views disagree"
    );
    let (_, status) = c.process().get("/status").await.expect("GET /status");
    let status: serde_json::Value = serde_json::from_str(&status).expect("JSON");
    let target = &status["records"][0]["sets"][0]["targets"][0];
    let votes: Vec<String> = target["votes"]
        .as_array()
        .expect("votes")
        .iter()
        .map(|v| format!("{}:{}", v["instance"].as_str().unwrap_or(""), v["up"]))
        .collect();
    assert_eq!(votes, ["c:false", "a:true", "b:true"], "{target}");
    assert_eq!(target["contested"], true);

    // Now us fails for everyone: interval × fall + timeout + 1 s.
    us.set(Mode::Status(503));
    let started = Instant::now();
    let bound = Duration::from_secs(2 + 1 + 1);
    for m in &group.members {
        let failed_over = eventually(bound * 2, async || m.answer().await == ips(&[EU])).await;
        let took = started.elapsed();
        assert!(
            failed_over.is_some(),
            "{} fails over; logs:\n{}",
            m.name,
            group.logs()
        );
        eprintln!("{} failed over {took:?} after the backend failed", m.name);
        assert!(
            took <= bound,
            "{} failed over after {took:?} (bound {bound:?})",
            m.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_that_disagree_keep_the_target_up() {
    let (_us, _eu, port) = backends(Mode::FailAgent("(instance b)".into())).await;
    let mut group = Group::new(&["a", "b"], "", &records(port), &[]);
    group.start_all().await;
    group.wait_views(1).await;
    let (a, b) = (&group.members[0], &group.members[1]);
    let b_sees_down = eventually(Duration::from_secs(10), async || {
        b.own_view(US).await == Some(false)
    })
    .await;
    assert!(
        b_sees_down.is_some(),
        "b's probes fail; logs:\n{}",
        group.logs()
    );
    assert_eq!(a.own_view(US).await, Some(true));
    for _ in 0..5 {
        assert_eq!(a.answer().await, ips(&[US]));
        assert_eq!(
            b.answer().await,
            ips(&[US]),
            "one down, one up: a tie keeps it up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const NO_CHECKS: &str = "records:
  - name: app.global.example.test.
    sets:
      - { id: us, targets: [127.0.40.1], priority: 0 }
      - { id: eu, targets: [127.0.40.2], priority: 1 }
";

const US_SET: &str = "/overrides/app.global.example.test./us";

#[tokio::test(flavor = "multi_thread")]
async fn an_override_reaches_every_instance_and_survives_restarts() {
    let mut group = Group::new(&["a", "b", "c"], "", NO_CHECKS, &[]);
    group.start_all().await;
    group.wait_views(2).await;
    let drain = r#"{"state": "down", "reason": "maintenance"}"#;
    assert_eq!(group.members[0].put(US_SET, drain).await, 200);
    let started = Instant::now();
    for m in &group.members[1..] {
        let drained = eventually(Duration::from_secs(3), async || {
            m.answer().await == ips(&[EU])
        })
        .await;
        assert!(
            drained.is_some(),
            "{} drains us; logs:\n{}",
            m.name,
            group.logs()
        );
        let took = started.elapsed();
        eprintln!("{} drained {took:?} after the PUT on a", m.name);
        assert!(took <= Duration::from_secs(1), "{} took {took:?}", m.name);
    }
    let (_, listed) = group.members[2]
        .process()
        .get("/overrides")
        .await
        .expect("GET /overrides");
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    let entry = &listed["overrides"][0];
    assert_eq!(
        (entry["state"].as_str(), entry["reason"].as_str()),
        (Some("down"), Some("maintenance"))
    );
    assert_eq!(entry["version"]["by"], "a", "c shows who took it: {listed}");

    // c is stopped; the drain is lifted on b meanwhile: c catches up on
    // start although its own state file still says drained.
    group.kill(2);
    assert_eq!(group.members[1].delete(US_SET).await, 200);
    let a = &group.members[0];
    let lifted = eventually(Duration::from_secs(3), async || {
        a.answer().await == ips(&[US])
    })
    .await;
    assert!(
        lifted.is_some(),
        "the deletion reaches a; logs:\n{}",
        group.logs()
    );
    group.start(2);
    group.members[2].process().wait_ready().await;
    let c = &group.members[2];
    let caught_up = eventually(Duration::from_secs(5), async || {
        c.answer().await == ips(&[US])
    })
    .await;
    assert!(caught_up.is_some(), "c catches up; logs:\n{}", group.logs());

    // A drain taken on c survives a SIGKILL of every instance.
    assert_eq!(c.put(US_SET, drain).await, 200);
    for m in &group.members[..2] {
        let drained = eventually(Duration::from_secs(3), async || {
            m.answer().await == ips(&[EU])
        })
        .await;
        assert!(
            drained.is_some(),
            "{} drains us; logs:\n{}",
            m.name,
            group.logs()
        );
    }
    // Taken from a peer, a change is saved in the background: wait until
    // every state file has it.
    for m in &group.members {
        let state = m.config.with_file_name("state.json");
        let saved = eventually(Duration::from_secs(3), async || {
            let text = std::fs::read_to_string(&state).unwrap_or_default();
            let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            state["overrides"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|e| e["state"] == "down" && e["version"]["by"] == "c")
            })
        })
        .await;
        assert!(saved.is_some(), "{}'s state file has c's drain", m.name);
    }
    for i in 0..3 {
        group.kill(i);
    }
    for i in 0..3 {
        group.start(i);
    }
    for m in &group.members {
        m.process().wait_ready().await;
        assert_eq!(
            m.answer().await,
            ips(&[EU]),
            "{} keeps the drain; logs:\n{}",
            m.name,
            group.logs()
        );
    }
}

/// A document as the fake peer `x` would send it.
fn fake_document(body: &str) -> String {
    format!(
        r#"{{"format": 1, "instance": "x", "epoch": 1, "version": 1, "changed_ms": 0, {body}}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_misbehaves_is_dropped_and_can_change_nothing_beyond_its_vote() {
    let (_us, _eu, port) = backends(Mode::Ok).await;
    let fake_port = free_port("127.0.40.3").await;
    let fake = Backend::http("127.0.40.3", fake_port).await;
    fake.set(Mode::Body("this is not a document".into()));
    let fake_url = format!("http://127.0.40.3:{fake_port}");
    let mut group = Group::new(
        &["a", "b"],
        "  peer_view_max_age: 3s\n",
        &records(port),
        &[("x", fake_url)],
    );
    group.start_all().await;
    group.wait_views(1).await;
    let a = &group.members[0];
    let dropped_line =
        |text: &str| {
            group.members[0].process().log().lines().any(|l| {
                l.contains("peer exchange failed") && l.contains("peer=x") && l.contains(text)
            })
        };
    let logged = eventually(Duration::from_secs(5), async || dropped_line("unusable")).await;
    assert!(
        logged.is_some(),
        "garbage is logged; logs:\n{}",
        group.logs()
    );
    assert_eq!(
        a.process().metric("gslb_peer_up{peer=\"x\"}").await,
        Some(0.0)
    );

    // Far over size: refused without reading it all.
    fake.set(Mode::Body("x".repeat(40 << 20)));
    let logged = eventually(Duration::from_secs(10), async || {
        dropped_line("larger than")
    })
    .await;
    assert!(
        logged.is_some(),
        "an oversized document is logged; logs:\n{}",
        group.logs()
    );

    // A well-formed document: x votes us down, drains us in a zone a does
    // not serve, and drains it here with a clock an hour ahead. Its one
    // vote of three cannot take us down and neither override is taken.
    let hour_ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3_600_000;
    fake.set(Mode::Body(fake_document(&format!(
        r#""health": {{"version": 1, "items": [{{"check": "web", "addr": "{US}", "up": false, "since_ms": 1}}]}},
           "overrides": {{"version": 1, "items": [
             {{"record": "app.other.example.", "set": "us", "state": "down", "at": "2026-12-07T00:00:00Z",
               "version": {{"ms": 1, "n": 0, "by": "x"}}}},
             {{"record": "{NAME}", "set": "us", "state": "down", "at": "2026-12-07T00:00:00Z",
               "version": {{"ms": {hour_ahead}, "n": 0, "by": "x"}}}}]}}"#
    ))));
    group.wait_views(2).await;
    for m in &group.members {
        assert_eq!(
            m.answer().await,
            ips(&[US]),
            "{}: x's vote alone changes nothing",
            m.name
        );
        let (_, listed) = m.process().get("/overrides").await.expect("GET /overrides");
        assert!(
            listed.contains("[]"),
            "{} took no override from x: {listed}",
            m.name
        );
    }
    let refused = a
        .process()
        .log()
        .lines()
        .filter(|l| l.contains("override from a peer ignored"))
        .count();
    assert!(
        refused >= 2,
        "both refusals are logged; log:\n{}",
        a.process().log()
    );

    // A peer that stalls stops counting after peer_view_max_age.
    fake.set(Mode::Hang);
    group.wait_views(1).await;
    assert!(
        a.process()
            .log()
            .contains("peer view dropped from the vote")
    );
}
