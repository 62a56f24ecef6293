//! The reload task against real files and a real inotify watch: what
//! reaches the writer, what is counted, and what is not retried.

use std::time::Duration;

use super::*;

const VALID: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
records:
  - name: app.global.example.test.
    sets: [{ id: one, targets: [192.0.2.1] }]
"#;

/// Generous: a loaded 2-core machine can take seconds to deliver an
/// inotify event, debounce and load.
const WAIT: Duration = Duration::from_secs(20);

struct Running {
    dir: tempfile::TempDir,
    path: PathBuf,
    handle: ReloadHandle,
    configs: mpsc::Receiver<Reloaded>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
}

impl Running {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gslb.yaml");
        std::fs::write(&path, VALID).expect("write config");
        let loaded = super::super::load(&path).expect("valid config");
        let metrics = Arc::new(Metrics::default());
        let (tx, configs) = mpsc::channel(1);
        let (reloader, handle) = Reloader::new(path.clone(), &loaded, tx, metrics.clone());
        let cancel = CancellationToken::new();
        tokio::spawn(reloader.run(cancel.clone()));
        Self {
            dir,
            path,
            handle,
            configs,
            metrics,
            cancel,
        }
    }

    /// Replaces the config the way editors and crd-sync do: temp file,
    /// then rename.
    fn write(&self, text: &str) {
        let temp = self.dir.path().join(".gslb.yaml.tmp");
        std::fs::write(&temp, text).expect("write temp");
        std::fs::rename(&temp, &self.path).expect("rename");
    }

    async fn next(&mut self) -> Reloaded {
        tokio::time::timeout(WAIT, self.configs.recv())
            .await
            .expect("a config reaches the writer in time")
            .expect("the reload task runs")
    }

    async fn failures_reach(&self, n: u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.metrics.reload_failures.load(Ordering::Relaxed) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} failed reloads counted in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn has_record(reloaded: &Reloaded, name: &str) -> bool {
    reloaded
        .loaded
        .config
        .records
        .iter()
        .any(|r| r.name.to_string() == name)
}

#[tokio::test]
async fn an_edited_file_reaches_the_writer_and_a_broken_one_never_does() {
    let mut run = Running::start().await;
    run.write(&VALID.replace("app.global", "web.global"));
    let reloaded = run.next().await;
    assert_eq!(reloaded.trigger, "file change");
    assert!(has_record(&reloaded, "web.global.example.test."));

    run.write("zones: [ this is not a config");
    run.failures_reach(1).await;
    assert!(
        run.configs.try_recv().is_err(),
        "a rejected config never reaches the writer"
    );

    run.write(&VALID.replace("app.global", "fixed.global"));
    let reloaded = run.next().await;
    assert!(has_record(&reloaded, "fixed.global.example.test."));
    assert_eq!(run.metrics.reload_failures.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_broken_file_is_retried_when_it_changes_or_on_request_only() {
    let mut run = Running::start().await;
    run.write("zones: [ broken");
    run.failures_reach(1).await;
    // The same bytes again and an unrelated file beside it: nothing to
    // reload, so nothing is loaded and nothing more is counted.
    run.write("zones: [ broken");
    std::fs::write(run.dir.path().join("notes.txt"), "x").expect("write");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(run.metrics.reload_failures.load(Ordering::Relaxed), 1);
    // SIGHUP reloads whatever the files say.
    run.handle.reload();
    run.failures_reach(2).await;
    std::fs::write(&run.path, VALID).expect("write");
    run.handle.reload();
    let reloaded = run.next().await;
    assert!(has_record(&reloaded, "app.global.example.test."));
}

#[tokio::test]
async fn a_request_reloads_unchanged_files() {
    let mut run = Running::start().await;
    run.handle.reload();
    let reloaded = run.next().await;
    assert_eq!(reloaded.trigger, "signal");
    assert!(has_record(&reloaded, "app.global.example.test."));
}
