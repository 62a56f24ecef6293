//! `server`: listeners, workers, timeouts and caps.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use super::{Checker, alias, peering, rate_limit};
use crate::config::raw::RawServer;
use crate::config::settings as s;
use crate::model::Server;

pub(super) fn server(check: &mut Checker<'_>, raw: &RawServer) -> Option<Server> {
    let (dns_listen, admin_listen) = listeners(check, raw);
    let default_workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let udp_workers = check.int_or(
        s::UDP_WORKERS.key,
        raw.udp_workers,
        default_workers.min(s::UDP_WORKERS.max),
        &s::UDP_WORKERS,
    );
    let max_udp_payload = check.int(
        s::MAX_UDP_PAYLOAD.key,
        raw.max_udp_payload,
        &s::MAX_UDP_PAYLOAD,
    );
    let tcp = tcp(check, raw);
    let shutdown_grace = check.duration(
        s::SHUTDOWN_GRACE.key,
        raw.shutdown_grace.as_deref(),
        &s::SHUTDOWN_GRACE,
    );
    let max_config_bytes = check.int(
        s::MAX_CONFIG_BYTES.key,
        raw.max_config_bytes,
        &s::MAX_CONFIG_BYTES,
    );
    let max_records = check.int(s::MAX_RECORDS.key, raw.max_records, &s::MAX_RECORDS);
    let admin = admin(check, raw, admin_listen);
    let rate_limit = rate_limit::rate_limit(check, raw.rate_limit.as_ref());
    let resolvers = resolvers(check, raw);
    let alias = alias::alias(check, raw.alias.as_ref());
    let peering = peering::peering(check, raw);
    let admin_tls = admin_tls(check, raw);
    let (tcp, admin) = (tcp?, admin?);
    Some(Server {
        admin_token_file: raw.admin_token_file.as_ref().map(PathBuf::from),
        admin_max_connections: admin.max_connections,
        admin_timeout: admin.timeout,
        admin_max_connections_per_client: admin.max_connections_per_client,
        admin_header_timeout: admin.header_timeout,
        probe_listen: admin.probe_listen,
        state_file: raw.state_file.as_ref().map(PathBuf::from),
        dns_listen,
        admin_listen,
        geoip_database: raw.geoip_database.as_ref().map(PathBuf::from),
        record_files: raw.record_files.iter().map(PathBuf::from).collect(),
        udp_workers: udp_workers?,
        max_udp_payload: max_udp_payload?,
        tcp_idle_timeout: tcp.idle_timeout,
        tcp_max_connections: tcp.max_connections,
        tcp_max_connections_per_ip: tcp.max_connections_per_ip,
        tcp_ipv4_prefix: tcp.ipv4_prefix,
        tcp_ipv6_prefix: tcp.ipv6_prefix,
        shutdown_grace: shutdown_grace?,
        max_config_bytes: max_config_bytes?,
        max_records: max_records?,
        rate_limit: rate_limit?,
        resolvers: resolvers?,
        alias: alias?,
        peering: peering?,
        admin_tls: admin_tls?,
        metrics_per_record: raw
            .metrics
            .as_ref()
            .and_then(|m| m.per_record)
            .unwrap_or(false),
    })
}

/// `server.dns_listen` (at least one) and `server.admin_listen`.
fn listeners(check: &mut Checker<'_>, raw: &RawServer) -> (Vec<SocketAddr>, Option<SocketAddr>) {
    if raw.dns_listen.is_empty() {
        check.error(
            "server.dns_listen",
            "at least one address is required, e.g. \"0.0.0.0:53\"",
        );
    }
    let dns_listen: Vec<SocketAddr> = raw
        .dns_listen
        .iter()
        .enumerate()
        .filter_map(|(i, text)| socket_addr(check, format!("server.dns_listen[{i}]"), text))
        .collect();
    let admin_listen = raw
        .admin_listen
        .as_deref()
        .and_then(|text| socket_addr(check, "server.admin_listen", text));
    (dns_listen, admin_listen)
}

/// `server.resolvers`: `None` when one of them is not an address.
fn resolvers(check: &mut Checker<'_>, raw: &RawServer) -> Option<Vec<SocketAddr>> {
    let resolvers: Vec<SocketAddr> = raw
        .resolvers
        .iter()
        .enumerate()
        .filter_map(|(i, text)| socket_addr(check, format!("server.resolvers[{i}]"), text))
        .collect();
    let resolvers_ok = resolvers.len() == raw.resolvers.len();
    Some(resolvers).filter(|_| resolvers_ok)
}

/// `server.tcp_*`: DNS over TCP's timeout and caps.
struct Tcp {
    idle_timeout: Duration,
    max_connections: usize,
    max_connections_per_ip: usize,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
}

fn tcp(check: &mut Checker<'_>, raw: &RawServer) -> Option<Tcp> {
    let tcp_idle_timeout = check.duration(
        s::TCP_IDLE_TIMEOUT.key,
        raw.tcp_idle_timeout.as_deref(),
        &s::TCP_IDLE_TIMEOUT,
    );
    let tcp_max_connections = check.int(
        s::TCP_MAX_CONNECTIONS.key,
        raw.tcp_max_connections,
        &s::TCP_MAX_CONNECTIONS,
    );
    let tcp_max_connections_per_ip = check.int(
        s::TCP_MAX_CONNECTIONS_PER_IP.key,
        raw.tcp_max_connections_per_ip,
        &s::TCP_MAX_CONNECTIONS_PER_IP,
    );
    let tcp_ipv4_prefix = check.int(
        s::TCP_IPV4_PREFIX.key,
        raw.tcp_ipv4_prefix,
        &s::TCP_IPV4_PREFIX,
    );
    let tcp_ipv6_prefix = check.int(
        s::TCP_IPV6_PREFIX.key,
        raw.tcp_ipv6_prefix,
        &s::TCP_IPV6_PREFIX,
    );
    Some(Tcp {
        idle_timeout: tcp_idle_timeout?,
        max_connections: tcp_max_connections?,
        max_connections_per_ip: tcp_max_connections_per_ip?,
        ipv4_prefix: tcp_ipv4_prefix?,
        ipv6_prefix: tcp_ipv6_prefix?,
    })
}

/// `server.admin_*` and `server.probe_listen`: the admin API's caps and
/// deadlines, and the probes' own port (not the admin API's).
struct Admin {
    max_connections: usize,
    max_connections_per_client: usize,
    header_timeout: Duration,
    probe_listen: Option<SocketAddr>,
    timeout: Duration,
}

fn admin(
    check: &mut Checker<'_>,
    raw: &RawServer,
    admin_listen: Option<SocketAddr>,
) -> Option<Admin> {
    let admin_max_connections = check.int(
        s::ADMIN_MAX_CONNECTIONS.key,
        raw.admin_max_connections,
        &s::ADMIN_MAX_CONNECTIONS,
    );
    let admin_max_connections_per_client = check.int(
        s::ADMIN_MAX_CONNECTIONS_PER_CLIENT.key,
        raw.admin_max_connections_per_client,
        &s::ADMIN_MAX_CONNECTIONS_PER_CLIENT,
    );
    let admin_header_timeout = check.duration(
        s::ADMIN_HEADER_TIMEOUT.key,
        raw.admin_header_timeout.as_deref(),
        &s::ADMIN_HEADER_TIMEOUT,
    );
    let probe_listen = raw
        .probe_listen
        .as_deref()
        .and_then(|text| socket_addr(check, "server.probe_listen", text));
    if let (Some(admin), Some(probe)) = (admin_listen, probe_listen)
        && admin == probe
        && admin.port() != 0
    {
        check.error(
            "server.probe_listen",
            format!("{probe} is also server.admin_listen; give the probe listener its own port"),
        );
    }
    let admin_timeout = check.duration(
        s::ADMIN_TIMEOUT.key,
        raw.admin_timeout.as_deref(),
        &s::ADMIN_TIMEOUT,
    );
    Some(Admin {
        max_connections: admin_max_connections?,
        max_connections_per_client: admin_max_connections_per_client?,
        header_timeout: admin_header_timeout?,
        probe_listen,
        timeout: admin_timeout?,
    })
}

/// `server.admin_tls`: both files named, and an admin listener to serve
/// them on. The files themselves are read with the other secrets
/// (`config::secret`).
fn admin_tls(check: &mut Checker<'_>, raw: &RawServer) -> Option<Option<crate::model::AdminTls>> {
    let Some(tls) = &raw.admin_tls else {
        return Some(None);
    };
    let errors = check.error_count();
    for (field, value) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
        if value.trim().is_empty() {
            check.error(
                format!("server.admin_tls.{field}"),
                "a PEM file is required",
            );
        }
    }
    if raw.admin_listen.is_none() {
        check.error(
            "server.admin_tls",
            "there is no server.admin_listen for it to serve",
        );
    }
    (check.error_count() == errors).then(|| {
        Some(crate::model::AdminTls {
            cert_file: PathBuf::from(&tls.cert_file),
            key_file: PathBuf::from(&tls.key_file),
        })
    })
}

fn socket_addr(check: &mut Checker<'_>, path: impl fmt::Display, text: &str) -> Option<SocketAddr> {
    text.parse()
        .map_err(|_| {
            check.error(
                path,
                format!("{text:?} is not an address with a port, such as \"127.0.0.1:53\" or \"[::1]:53\""),
            )
        })
        .ok()
}
