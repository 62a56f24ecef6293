//! gslb's DNSSEC keys as an operator makes them: BIND key-file pairs from
//! `dnssec-keygen`, their timing changed with `dnssec-settime` (issue 18
//! takes both as they are), and what the `gslb` binary says about them:
//! `gslb dnssec ds` (the DS records for the parent) and
//! `gslb check-config`.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::Duration,
};

/// How long one run of a key tool or of the `gslb` binary may take.
const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// Runs a tool to the end under [`TOOL_LIMIT`], killing it if it takes
/// longer.
pub(crate) async fn run_tool(mut command: tokio::process::Command) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let shown = format!("{command:?}");
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {shown}: {e}"));
    tokio::time::timeout(TOOL_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{shown} took more than {TOOL_LIMIT:?}"))
        .unwrap_or_else(|e| panic!("{shown}: {e}"))
}

/// stdout and stderr of a finished tool, together.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A key-file pair `dnssec-keygen` wrote.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// The pair's base path as `dnssec-keygen` prints it (in the key
    /// directory): `DIR/K<zone>+<alg>+<tag>`, what `key_files` takes.
    pub(crate) base: PathBuf,
    /// The key tag (RFC 4034 appendix B), from the file name.
    pub(crate) tag: u16,
}

impl Key {
    /// Makes a key for `zone` in `dir` with `dnssec-keygen -a ALG -L TTL`
    /// and `extra` arguments (`-f KSK`, timing such as `-A none`).
    pub(crate) async fn generate(
        dir: &Path,
        zone: &str,
        algorithm: u8,
        ttl: u32,
        extra: &[&str],
    ) -> Self {
        std::fs::create_dir_all(dir).expect("key directory");
        let mut command = tokio::process::Command::new("dnssec-keygen");
        command
            .arg("-q")
            .args(["-K", path_str(dir)])
            .args(["-a", &algorithm.to_string()])
            .args(["-L", &ttl.to_string()]);
        if algorithm == 8 {
            command.args(["-b", "2048"]);
        }
        command.args(extra).arg(zone);
        let out = run_tool(command).await;
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && printed.starts_with('K'),
            "dnssec-keygen for {zone}: {}",
            text(&out)
        );
        let tag = printed
            .rsplit('+')
            .next()
            .and_then(|tag| tag.parse().ok())
            .unwrap_or_else(|| panic!("no key tag in {printed:?}"));
        Self {
            base: dir.join(printed),
            tag,
        }
    }

    /// Changes the key's timing with `dnssec-settime ARGS` (`-A now`,
    /// `-I now`, `-D now`...), as an operator rolls keys.
    pub(crate) async fn settime(&self, args: &[&str]) {
        let mut command = tokio::process::Command::new("dnssec-settime");
        command.arg("-f").args(args).arg(self.base_str());
        let out = run_tool(command).await;
        assert!(
            out.status.success(),
            "dnssec-settime {args:?} {}: {}",
            self.base.display(),
            text(&out)
        );
    }

    /// The base path as a string, for configs.
    pub(crate) fn base_str(&self) -> &str {
        path_str(&self.base)
    }

    /// The `.private` file: the private key and the timing.
    pub(crate) fn private_file(&self) -> PathBuf {
        self.with_extension("private")
    }

    fn with_extension(&self, extension: &str) -> PathBuf {
        PathBuf::from(format!("{}.{extension}", self.base.display()))
    }
}

/// A zone's `dnssec:` block, indented for a zone in the `zones:` list:
/// `key_files` lists `keys`' base paths.
pub(crate) fn dnssec_yaml(keys: &[&Key]) -> String {
    let files: Vec<String> = keys
        .iter()
        .map(|k| format!("\"{}\"", k.base_str()))
        .collect();
    format!("    dnssec:\n      key_files: [{}]\n", files.join(", "))
}

/// `gslb dnssec ds --config CONFIG`: the DS records for the parent, in
/// zone-file syntax. Panics with the output when it fails.
pub(crate) async fn gslb_ds(config: &Path) -> String {
    let out = gslb(&["dnssec", "ds", "--config", path_str(config)]).await;
    let printed = text(&out);
    assert!(
        out.status.success(),
        "gslb dnssec ds --config {}: {printed}",
        config.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `gslb check-config --config CONFIG`: whether it passed, and what it said.
pub(crate) async fn check_config(config: &Path) -> (bool, String) {
    let out = gslb(&["check-config", "--config", path_str(config)]).await;
    (out.status.success(), text(&out))
}

/// The `gslb` binary of this build with `args`, without `RUST_LOG`.
async fn gslb(args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gslb"));
    command.args(args).env_remove("RUST_LOG");
    run_tool(command).await
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
