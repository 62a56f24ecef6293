//! Headless Chromium driven over the DevTools protocol, for tests of the
//! status page. `--headless --dump-dom` returns before a page's own fetch()
//! calls finish, so the tests talk CDP instead: through
//! `--remote-debugging-pipe` (JSON messages separated by NUL bytes on file
//! descriptors 3 and 4), which needs no port and no WebSocket client. A
//! shell `exec` puts our stdin/stdout pipes on those descriptors.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use base64::Engine;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
};

/// Longest wait for one protocol reply.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running headless Chromium with one page attached.
pub(crate) struct Browser {
    child: Child,
    stdin: ChildStdin,
    /// Messages from the browser, split and parsed by a reader task.
    messages: mpsc::UnboundedReceiver<Value>,
    next_id: u64,
    /// The attached page's session (flat mode).
    session: Option<String>,
    /// Events seen while waiting for replies.
    events: Vec<Value>,
    /// The fresh profile directory, removed on drop.
    _profile: tempfile::TempDir,
}

/// Where tests leave screenshots and logs: `target/test-artifacts/`.
pub(crate) fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

impl Browser {
    /// Starts Chromium with a fresh profile. The tests that call it are
    /// ignored when `build.rs` found no chromium.
    pub(crate) async fn launch(log_name: &str) -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let log = std::fs::File::create(artifacts().join(format!("{log_name}.chromium.log")))
            .expect("chromium log file");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while let Ok(n) = reader.read_until(0, &mut buf).await {
                if n == 0 {
                    break;
                }
                let text = buf.strip_suffix(&[0]).unwrap_or(&buf);
                if let Ok(message) = serde_json::from_slice::<Value>(text)
                    && tx.send(message).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        Self {
            child,
            stdin,
            messages,
            next_id: 0,
            session: None,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends one command (to the page once attached) and waits for its reply.
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("encode");
        bytes.push(0);
        self.stdin
            .write_all(&bytes)
            .await
            .expect("write to chromium");
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.messages.recv())
                .await
                .unwrap_or_else(|_| panic!("no reply to {method} within {CALL_TIMEOUT:?}"))
                .unwrap_or_else(|| panic!("chromium exited during {method}"));
            if message["id"] == json!(id) {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    /// Opens `url` in a new page of `width`×`height` and waits for it to load.
    pub(crate) async fn open(&mut self, url: &str, width: u32, height: u32) {
        let target = self
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        self.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("a session id")
                .to_owned(),
        );
        for domain in ["Page.enable", "Runtime.enable", "Network.enable"] {
            self.call(domain, json!({})).await;
        }
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(15),
        )
        .await;
    }

    /// Reloads the page and waits for it to load.
    pub(crate) async fn reload(&mut self) {
        self.call("Page.reload", json!({})).await;
        // The old document may still report complete for a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(15),
        )
        .await;
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its
    /// JSON value; a thrown exception fails the test.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        let reply = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = reply.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        reply["result"]["value"].clone()
    }

    /// Polls `expression` every 100 ms until it is truthy (not false, null,
    /// 0 or ""), at most `limit`; returns its value, or fails with the last.
    pub(crate) async fn wait_for(&mut self, expression: &str, limit: Duration) -> Value {
        let started = tokio::time::Instant::now();
        loop {
            let value = self.eval(expression).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return value;
            }
            if started.elapsed() > limit {
                panic!("waited {limit:?} for {expression}; last value {value}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the viewport, or of the whole page when `full_page`,
    /// as `target/test-artifacts/NAME`; returns the path.
    pub(crate) async fn screenshot(&mut self, name: &str, full_page: bool) -> PathBuf {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": full_page }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = artifacts().join(name);
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Moves messages that arrived since the last call into `events`.
    fn drain(&mut self) {
        while let Ok(message) = self.messages.try_recv() {
            self.events.push(message);
        }
    }

    /// Uncaught exceptions and console errors the page reported so far.
    pub(crate) fn page_errors(&mut self) -> Vec<String> {
        self.drain();
        self.events
            .iter()
            .filter(|e| {
                e["method"] == "Runtime.exceptionThrown"
                    || (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
            })
            .map(Value::to_string)
            .collect()
    }

    /// The request headers the page sent to URLs containing `needle`.
    pub(crate) fn request_headers(&mut self, needle: &str) -> Vec<Value> {
        self.drain();
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .is_some_and(|u| u.contains(needle))
            })
            .map(|e| e["params"]["request"]["headers"].clone())
            .collect()
    }

    /// Closes the browser; it is killed if it does not exit in time.
    pub(crate) async fn close(mut self) {
        let _ = self
            .stdin
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0")
            .await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
        }
    }
}
