//! One probe of one target: the I/O half of health checking.
//!
//! Every probe dials the target's own IP, the address gslb would answer,
//! never a name. HTTP(S) probes go through one shared reqwest client per TLS
//! mode; its resolver returns the IP of the probe being run (a task-local),
//! so the URL, the Host header and TLS SNI keep the check's `host` while the
//! socket goes to the target. Connection pooling is off, so each probe
//! really opens a connection and no connection is reused across targets.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::{net::TcpStream, sync::watch, time::Instant};

use crate::model::{HealthCheck, Peering, ProbeKind};

/// Most body bytes read when looking for `body_contains`.
const BODY_CAP: usize = 64 * 1024;

tokio::task_local! {
    /// The address the current probe dials.
    static DIAL: IpAddr;
}

/// Resolves every name to the address of the probe running in this task.
#[derive(Debug)]
struct DialResolver;

impl Resolve for DialResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let target = DIAL
            .try_with(|ip| *ip)
            .map_err(|_| name.as_str().to_owned());
        Box::pin(async move {
            let ip =
                target.map_err(|name| format!("no probe target set while resolving {name}"))?;
            Ok(Box::new(std::iter::once(SocketAddr::new(ip, 0))) as Addrs)
        })
    }
}

/// Why the HTTP clients could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP probe client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// The shared HTTP clients: one verifying certificates, one not (for
/// checks with `insecure_skip_verify`).
#[derive(Debug, Clone)]
pub struct Clients {
    verified: reqwest::Client,
    insecure: reqwest::Client,
    /// This instance's name (`server.instance`, reloadable): every HTTP
    /// probe sends `User-Agent: gslb/VERSION (instance NAME)`, so a
    /// backend's logs show which instance of a peer group probed.
    instance: watch::Receiver<Arc<Peering>>,
}

impl Clients {
    /// Builds both clients; `instance` names this instance.
    pub fn new(instance: watch::Receiver<Arc<Peering>>) -> Result<Self, ClientError> {
        crate::tls::install_crypto_provider();
        let build = |insecure: bool| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(DialResolver))
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .no_proxy()
                .tls_danger_accept_invalid_certs(insecure)
                .build()
        };
        Ok(Self {
            verified: build(false)?,
            insecure: build(true)?,
            instance,
        })
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The target passed.
    pub passed: bool,
    /// Time from start to verdict.
    pub latency: Duration,
    /// Why it failed.
    pub error: Option<String>,
}

/// Probes `addr` with `check`, bounded by the check's timeout.
pub async fn probe(clients: &Clients, check: &HealthCheck, addr: IpAddr) -> Finding {
    let started = Instant::now();
    let work = async {
        match check.kind {
            ProbeKind::Tcp => tcp(addr, check.port).await,
            ProbeKind::Http | ProbeKind::Https => {
                DIAL.scope(addr, http(clients, check, addr)).await
            }
        }
    };
    let verdict = match tokio::time::timeout(check.timeout, work).await {
        Ok(verdict) => verdict,
        Err(_) => Err(format!(
            "timed out after {}",
            humantime::format_duration(check.timeout)
        )),
    };
    Finding {
        passed: verdict.is_ok(),
        latency: started.elapsed(),
        error: verdict.err(),
    }
}

async fn tcp(addr: IpAddr, port: u16) -> Result<(), String> {
    TcpStream::connect(SocketAddr::new(addr, port))
        .await
        .map(drop)
        .map_err(|e| format!("connect: {e}"))
}

async fn http(clients: &Clients, check: &HealthCheck, addr: IpAddr) -> Result<(), String> {
    let scheme = if check.kind == ProbeKind::Https {
        "https"
    } else {
        "http"
    };
    let host = match &check.host {
        Some(host) => host.clone(),
        None => SocketAddr::new(addr, 0)
            .to_string()
            .trim_end_matches(":0")
            .to_owned(),
    };
    let url = format!("{scheme}://{host}:{}{}", check.port, check.path);
    let client = if check.insecure_skip_verify {
        &clients.insecure
    } else {
        &clients.verified
    };
    let agent = clients.instance.borrow().user_agent();
    // No reqwest timeout: `probe` bounds the whole exchange, body included.
    let mut response = client
        .get(&url)
        .header(reqwest::header::USER_AGENT, agent)
        .send()
        .await
        .map_err(|e| crate::error_chain(&e))?;
    let status = response.status().as_u16();
    if !check
        .expect_status
        .iter()
        .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    {
        return Err(format!("status {status}"));
    }
    let Some(needle) = &check.body_contains else {
        return Ok(());
    };
    let mut body = Vec::new();
    while body.len() < BODY_CAP {
        match response.chunk().await.map_err(|e| crate::error_chain(&e))? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    body.truncate(BODY_CAP);
    let found = body
        .windows(needle.len().max(1))
        .any(|w| w == needle.as_bytes());
    if found {
        Ok(())
    } else {
        Err(format!("body does not contain {needle:?}"))
    }
}
