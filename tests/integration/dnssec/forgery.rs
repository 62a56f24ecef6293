//! The signatures cover the data: a man in the middle between Unbound and
//! gslb (a UDP proxy on the name servers' addresses) that changes the
//! address in gslb's A answer gets SERVFAIL to the resolver's clients, not
//! its address.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::*;
use crate::support::dns_tree::{Block, Tree};
use crate::support::zone_keys::gslb_ds;

/// The address gslb answers and the one the proxy puts in its place.
const REAL: [u8; 4] = [192, 0, 2, 10];
const FORGED: [u8; 4] = [192, 0, 2, 99];
/// The most datagrams a proxy socket relays before it stops.
const MAX_DATAGRAMS: usize = 10_000;
/// How long the proxy waits for gslb's answer to one query.
const UPSTREAM_WAIT: Duration = Duration::from_secs(2);

/// A UDP proxy relaying queries to gslb and answers back, changing the
/// [`REAL`] address in A records to [`FORGED`] while `forge` is set.
struct Proxy {
    forge: Arc<AtomicBool>,
    /// Answers it changed.
    forged: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on each of `listen` and relays to `upstream`.
    async fn start(listen: &[SocketAddr], upstream: SocketAddr) -> Self {
        let forge = Arc::new(AtomicBool::new(false));
        let forged = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for &addr in listen {
            let socket = Arc::new(UdpSocket::bind(addr).await.expect("bind proxy"));
            let (forge, forged) = (forge.clone(), forged.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65535];
                for _ in 0..MAX_DATAGRAMS {
                    let Ok((n, client)) = socket.recv_from(&mut buf).await else {
                        return;
                    };
                    let query = buf[..n].to_vec();
                    let (socket, forge, forged) = (socket.clone(), forge.clone(), forged.clone());
                    tokio::spawn(async move {
                        let Some(mut answer) = relay(addr, upstream, &query).await else {
                            return;
                        };
                        if forge.load(Ordering::SeqCst) && replace_a(&mut answer, REAL, FORGED) {
                            forged.fetch_add(1, Ordering::SeqCst);
                        }
                        let _ = socket.send_to(&answer, client).await;
                    });
                }
            }));
        }
        Self {
            forge,
            forged,
            tasks,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Sends `query` to `upstream` from the proxy's address; the answer, or
/// `None` after [`UPSTREAM_WAIT`].
async fn relay(from: SocketAddr, upstream: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(SocketAddr::new(from.ip(), 0)).await.ok()?;
    socket.send_to(query, upstream).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(UPSTREAM_WAIT, socket.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Rewrites the RDATA of every A record holding `from` to `to`, found by
/// its fixed fields (type A, class IN, any TTL, RDLENGTH 4, the address);
/// whether anything changed.
fn replace_a(message: &mut [u8], from: [u8; 4], to: [u8; 4]) -> bool {
    let mut changed = false;
    let mut i = 12;
    while i + 14 <= message.len() {
        if message[i..i + 4] == [0, 1, 0, 1]
            && message[i + 8..i + 10] == [0, 4]
            && message[i + 10..i + 14] == from
        {
            message[i + 10..i + 14].copy_from_slice(&to);
            changed = true;
            i += 14;
        } else {
            i += 1;
        }
    }
    changed
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(all(
        has_knotd,
        has_keymgr,
        has_unbound,
        has_unbound_control,
        has_dnssec_keygen,
        can_bind_port_53
    )),
    ignore = "needs knotd, keymgr, unbound, unbound-control, dnssec-keygen and root for port 53 (apt-get install knot unbound bind9-utils)"
)]
async fn an_address_changed_on_the_way_makes_the_answer_bogus() {
    let block = Block::reserve();
    let setup = Setup::new();
    let (_ksk, _zsk, dnssec) = ksk_and_zsk(&setup, 30).await;
    // gslb listens elsewhere; the proxy takes the name servers' addresses
    // the parent's glue points at.
    let listen = [SocketAddr::new(block.ip(20), 0)];
    let records = "records:\n\
                   \x20 - { name: first.global.example.test., sets: [{ id: one, targets: [192.0.2.10] }] }\n\
                   \x20 - { name: second.global.example.test., sets: [{ id: one, targets: [192.0.2.10] }] }\n";
    setup.write_config(&config(
        &block.nameservers_yaml(),
        &listen,
        30,
        &dnssec,
        "",
        records,
    ));
    let ds = gslb_ds(&setup.config_path()).await;
    let gslb = setup.start().await;
    let [ns1, ns2] = block.gslb();
    let name_servers = [SocketAddr::new(ns1, 53), SocketAddr::new(ns2, 53)];
    let proxy = Proxy::start(&name_servers, gslb.addr).await;
    let tree = Tree::start_signed(block, &ds).await;
    let ask = async |name: &str| {
        resolve(
            local(),
            tree.resolver(),
            &secure_query(name, RecordType::A, None),
        )
        .await
    };

    // Relayed as it is, the answer validates.
    let first = ask("first.global.example.test.").await;
    assert_secure(&first, "the relayed answer");
    assert_eq!(addrs(&first), ips(&["192.0.2.10"]));

    // Changed, it does not: the resolver's clients get SERVFAIL.
    proxy.forge.store(true, Ordering::SeqCst);
    let name = "second.global.example.test.";
    let direct = udp(name_servers[0], &query(name, RecordType::A)).await;
    assert_eq!(
        addrs(&direct),
        ips(&["192.0.2.99"]),
        "the proxy forges: {direct}"
    );
    let forged_before = proxy.forged.load(Ordering::SeqCst);
    let second = ask(name).await;
    assert_eq!(
        second.metadata.response_code,
        ResponseCode::ServFail,
        "a forged address is bogus: {second}"
    );
    assert!(addrs(&second).is_empty(), "{second}");
    assert!(
        proxy.forged.load(Ordering::SeqCst) > forged_before,
        "Unbound got forged answers"
    );
    let failures = tree.validation_failures();
    assert!(
        failures.iter().any(|line| line.contains(name)),
        "Unbound logged the validation failure for {name}: {failures:#?}\n{}",
        tree.unbound_log()
    );
    gslb.server.shutdown(WAIT).await;
}
