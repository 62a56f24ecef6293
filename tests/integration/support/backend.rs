//! Probe targets for health tests: tiny HTTP, HTTPS and TCP servers on
//! loopback addresses whose behaviour a test switches at will.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};
use tokio_rustls::{TlsAcceptor, rustls};

/// How a backend answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 200 with body "ok".
    Ok,
    /// This status with body "no".
    Status(u16),
    /// Read the request, then never answer.
    Hang,
    /// Close the connection without reading.
    Close,
    /// 200 with this body.
    Body(String),
    /// 302 to this location.
    Redirect(String),
    /// 503 to requests whose User-Agent contains this text, 200 "ok" to
    /// the others: a network path that fails for one prober only.
    FailAgent(String),
}

/// What the backend saw, for tests of Host and SNI.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) host_headers: Vec<String>,
    pub(crate) sni: Vec<String>,
    pub(crate) user_agents: Vec<String>,
}

/// A running backend.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    pub(crate) seen: Arc<Mutex<Seen>>,
    tls: Option<TlsAcceptor>,
    kind: Kind,
    task: Option<JoinHandle<()>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Tcp,
}

/// A port free on `ip`, to share across backends on other loopback IPs.
pub(crate) async fn free_port(ip: &str) -> u16 {
    let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
        .await
        .unwrap();
    listener.local_addr().unwrap().port()
}

impl Backend {
    /// An HTTP backend on `ip:port`, answering `Mode::Ok`.
    pub(crate) async fn http(ip: &str, port: u16) -> Self {
        Self::start(ip, port, None, Kind::Http).await
    }

    /// An HTTPS backend with a self-signed certificate for `host`.
    pub(crate) async fn https(ip: &str, port: u16, host: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = rcgen::generate_simple_self_signed(vec![host.to_owned()]).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
        Self::start(
            ip,
            port,
            Some(TlsAcceptor::from(Arc::new(config))),
            Kind::Http,
        )
        .await
    }

    /// A TCP backend that accepts and closes connections.
    pub(crate) async fn tcp(ip: &str, port: u16) -> Self {
        Self::start(ip, port, None, Kind::Tcp).await
    }

    async fn start(ip: &str, port: u16, tls: Option<TlsAcceptor>, kind: Kind) -> Self {
        let addr = SocketAddr::new(ip.parse().unwrap(), port);
        let mut backend = Self {
            addr,
            mode: Arc::new(Mutex::new(Mode::Ok)),
            seen: Arc::default(),
            tls,
            kind,
            task: None,
        };
        backend.restart().await;
        backend
    }

    /// Changes how it answers.
    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Stops listening, as if the process died.
    pub(crate) fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same address.
    pub(crate) async fn restart(&mut self) {
        self.stop();
        let listener = bind_retrying(self.addr).await;
        let (mode, seen, tls, kind) = (
            self.mode.clone(),
            self.seen.clone(),
            self.tls.clone(),
            self.kind,
        );
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                if kind == Kind::Tcp {
                    continue; // accepted, then dropped
                }
                let (mode, seen, tls) = (mode.clone(), seen.clone(), tls.clone());
                connections.spawn(async move {
                    match tls {
                        None => serve(stream, mode, seen).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let sni = stream.get_ref().1.server_name().map(str::to_owned);
                                seen.lock().unwrap().sni.extend(sni);
                                serve(stream, mode, seen).await;
                            }
                        }
                    }
                });
            }
        }));
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The port may linger briefly after an abort.
async fn bind_retrying(addr: SocketAddr) -> TcpListener {
    for _ in 0..50 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot bind backend {addr}");
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
) {
    let mode = mode.lock().unwrap().clone();
    if mode == Mode::Close {
        return;
    }
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    if let Some(host) = text.lines().find_map(|l| {
        l.strip_prefix("host: ")
            .or_else(|| l.strip_prefix("Host: "))
    }) {
        seen.lock()
            .unwrap()
            .host_headers
            .push(host.trim().to_owned());
    }
    let agent = header(&text, "user-agent").unwrap_or_default();
    if !agent.is_empty() {
        let mut seen = seen.lock().unwrap();
        if !seen.user_agents.contains(&agent) {
            seen.user_agents.push(agent.clone());
        }
    }
    if let Mode::Redirect(location) = &mode {
        let response = format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let (status, body) = match mode {
        Mode::Ok => (200, "ok".to_owned()),
        Mode::Status(code) => (code, "no".to_owned()),
        Mode::Body(body) => (200, body),
        Mode::FailAgent(text) if agent.contains(&text) => (503, "no".to_owned()),
        Mode::FailAgent(_) => (200, "ok".to_owned()),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Mode::Close | Mode::Redirect(_) => return,
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The value of header `name` (lower case) in a request head.
fn header(request: &str, name: &str) -> Option<String> {
    request.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
