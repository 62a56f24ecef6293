//! Asking upstream resolvers for a hostname target's addresses: the I/O
//! half of hostname targets.
//!
//! [`Resolvers`] wraps hickory-resolver (random source ports and IDs, TCP
//! when a UDP answer is truncated, failover between servers, CNAME chains)
//! pointed at `server.resolvers`, or at the servers of `/etc/resolv.conf`
//! when that list is empty. Every resolution asks the network: the
//! resolver's own cache entry for the name is dropped first, so a refresh
//! that `max_refresh` brings forward of the TTL sees upstream changes.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts},
    net::{DnsError, NetError, runtime::TokioRuntimeProvider},
    proto::{op::ResponseCode, rr::RData, rr::RecordType},
};

use super::schedule::Answer;
use crate::name::Name;

/// Bound on one resolution (both families, every server and retry).
pub const RESOLVE_LIMIT: Duration = Duration::from_secs(10);
/// Bound on one query to one server.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Where addresses come from: the network, or a stand-in in tests.
pub trait Upstream: Send + Sync + 'static {
    /// Resolves `host` to its A and AAAA addresses. An error says why no
    /// usable answer came (the caller keeps the last addresses).
    fn resolve(&self, host: &Name) -> impl Future<Output = Result<Answer, String>> + Send;
}

/// Why the resolvers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ResolversError {
    /// `/etc/resolv.conf` could not be read or names no server.
    #[error("cannot use the system resolvers (/etc/resolv.conf): {0}; set server.resolvers")]
    System(String),
    /// The resolver did not build.
    #[error("cannot build the resolver: {0}")]
    Build(String),
}

/// The upstream resolvers gslb asks.
#[derive(Clone)]
pub struct Resolvers {
    resolver: TokioResolver,
    /// The servers, for logs and errors.
    servers: Vec<SocketAddr>,
}

impl std::fmt::Debug for Resolvers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolvers")
            .field("servers", &self.servers)
            .finish()
    }
}

impl Resolvers {
    /// Resolvers at `servers`, or the system's when `servers` is empty.
    pub fn new(servers: &[SocketAddr]) -> Result<Self, ResolversError> {
        let (config, mut options) = if servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ResolversError::System(crate::error_chain(&e)))?
        } else {
            (configured(servers), ResolverOpts::default())
        };
        let servers: Vec<SocketAddr> = config
            .name_servers()
            .iter()
            .flat_map(|ns| {
                ns.connections
                    .iter()
                    .map(|c| SocketAddr::new(ns.ip, c.port))
            })
            .fold(Vec::new(), |mut list, addr| {
                if !list.contains(&addr) {
                    list.push(addr);
                }
                list
            });
        if servers.is_empty() {
            return Err(ResolversError::System("no nameserver lines".into()));
        }
        options.timeout = QUERY_TIMEOUT;
        options.attempts = 2;
        options.try_tcp_on_error = true;
        options.recursion_desired = true;
        options.preserve_intermediates = true;
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = options;
        let resolver = builder
            .build()
            .map_err(|e| ResolversError::Build(crate::error_chain(&e)))?;
        Ok(Self { resolver, servers })
    }

    /// The servers asked, in order.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// One family: `Ok(Some(..))` addresses and their smallest TTL,
    /// `Ok(None)` an answer without addresses, `Err` no answer.
    async fn family(
        &self,
        host: &hickory_resolver::proto::rr::Name,
        rtype: RecordType,
    ) -> Result<Option<(Vec<IpAddr>, u32)>, String> {
        self.resolver.clear_lookup_cache(host.clone(), rtype);
        match self.resolver.lookup(host.clone(), rtype).await {
            Ok(lookup) => {
                let mut ttl = u32::MAX;
                let mut addrs = Vec::new();
                for record in lookup.answers() {
                    let addr = match &record.data {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(a) => IpAddr::V6(a.0),
                        RData::CNAME(_) => {
                            ttl = ttl.min(record.ttl);
                            continue;
                        }
                        _ => continue,
                    };
                    ttl = ttl.min(record.ttl);
                    addrs.push(addr);
                }
                Ok((!addrs.is_empty()).then_some((addrs, ttl)))
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(none)))
                if matches!(
                    none.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) =>
            {
                if none.response_code == ResponseCode::NXDomain {
                    Err("NXDOMAIN".into())
                } else {
                    Ok(None)
                }
            }
            Err(error) => Err(crate::error_chain(&error)),
        }
    }
}

/// A config asking `servers` over UDP, and TCP for truncated answers.
fn configured(servers: &[SocketAddr]) -> ResolverConfig {
    let name_servers = servers
        .iter()
        .map(|addr| {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
        })
        .collect();
    ResolverConfig::from_parts(None, Vec::new(), name_servers)
}

impl Upstream for Resolvers {
    async fn resolve(&self, host: &Name) -> Result<Answer, String> {
        let name = hickory_resolver::proto::rr::Name::from_ascii(host.to_string())
            .map_err(|e| format!("bad name: {e}"))?;
        let both = async {
            tokio::join!(
                self.family(&name, RecordType::A),
                self.family(&name, RecordType::AAAA)
            )
        };
        let (v4, v6) = tokio::time::timeout(RESOLVE_LIMIT, both)
            .await
            .map_err(|_| format!("no answer within {}s", RESOLVE_LIMIT.as_secs()))?;
        combine(v4, v6)
    }
}

/// One answer from the two families: an error in either is an error (a
/// half answer would drop the other family's addresses); an answer needs
/// at least one address.
fn combine(
    v4: Result<Option<(Vec<IpAddr>, u32)>, String>,
    v6: Result<Option<(Vec<IpAddr>, u32)>, String>,
) -> Result<Answer, String> {
    match (v4, v6) {
        (Err(a), Err(aaaa)) if a == aaaa => Err(a),
        (Err(a), Err(aaaa)) => Err(format!("A: {a}; AAAA: {aaaa}")),
        (Err(a), Ok(_)) => Err(format!("A: {a}")),
        (Ok(_), Err(aaaa)) => Err(format!("AAAA: {aaaa}")),
        (Ok(None), Ok(None)) => Err("no A or AAAA records".into()),
        (Ok(v4), Ok(v6)) => {
            let mut addrs = Vec::new();
            let mut ttl = u32::MAX;
            for (found, family_ttl) in [v4, v6].into_iter().flatten() {
                addrs.extend(found);
                ttl = ttl.min(family_ttl);
            }
            Ok(Answer {
                addrs,
                ttl: Duration::from_secs(u64::from(ttl)),
            })
        }
    }
}

#[cfg(test)]
mod tests;
