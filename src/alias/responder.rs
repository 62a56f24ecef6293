//! A tiny DNS server on loopback UDP for the resolver's unit tests: it
//! answers from a table the test edits, can stop answering, and counts
//! the queries it received.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use hickory_proto::{
    op::{Message, MessageType, ResponseCode},
    rr::{
        RData, Record, RecordType,
        rdata::{A, AAAA, CNAME},
    },
};
use tokio::net::UdpSocket;

/// What the responder holds for a name.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// Addresses with one TTL.
    Addrs(Vec<IpAddr>, u32),
    /// An alias to another name in the table, with its TTL.
    Cname(String, u32),
    /// The name does not exist.
    NxDomain,
    /// SERVFAIL.
    ServFail,
}

/// A running responder; stops when dropped.
pub(crate) struct Responder {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    table: Arc<Mutex<HashMap<String, Entry>>>,
    silent: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Responder {
    /// Starts answering on 127.0.0.1, port chosen by the system.
    pub(crate) async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind responder");
        let addr = socket.local_addr().expect("responder address");
        let table: Arc<Mutex<HashMap<String, Entry>>> = Arc::default();
        let silent = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(
            socket,
            table.clone(),
            silent.clone(),
            queries.clone(),
        ));
        Self {
            addr,
            table,
            silent,
            queries,
            task,
        }
    }

    /// Sets what `name` (with its trailing dot) answers.
    pub(crate) fn set(&self, name: &str, entry: Entry) {
        let mut table = self.table.lock().expect("responder table");
        table.insert(name.to_ascii_lowercase(), entry);
    }

    /// Stops (or resumes) answering, as a dead server would.
    pub(crate) fn silence(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    /// Queries received so far.
    pub(crate) fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

async fn serve(
    socket: UdpSocket,
    table: Arc<Mutex<HashMap<String, Entry>>>,
    silent: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        queries.fetch_add(1, Ordering::SeqCst);
        if silent.load(Ordering::SeqCst) {
            continue;
        }
        let Ok(query) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let response = {
            let table = table.lock().expect("responder table");
            answer(&query, &table)
        };
        if let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, from).await;
        }
    }
}

fn answer(query: &Message, table: &HashMap<String, Entry>) -> Message {
    let mut response = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(query.queries.iter().cloned());
    let Some(question) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    let mut name = question.name().to_ascii().to_ascii_lowercase();
    let rtype = question.query_type();
    // Follow CNAMEs inside the table, as a recursive resolver would.
    for _ in 0..8 {
        let owner = hickory_proto::rr::Name::from_ascii(&name).expect("table names parse");
        match table.get(&name) {
            None | Some(Entry::NxDomain) => {
                if response.answers.is_empty() {
                    response.metadata.response_code = ResponseCode::NXDomain;
                }
                return response;
            }
            Some(Entry::ServFail) => {
                response.answers.clear();
                response.metadata.response_code = ResponseCode::ServFail;
                return response;
            }
            Some(Entry::Cname(target, ttl)) => {
                let target_name =
                    hickory_proto::rr::Name::from_ascii(target).expect("table names parse");
                response.add_answer(Record::from_rdata(
                    owner,
                    *ttl,
                    RData::CNAME(CNAME(target_name)),
                ));
                name = target.to_ascii_lowercase();
            }
            Some(Entry::Addrs(addrs, ttl)) => {
                for addr in addrs {
                    let data = match (addr, rtype) {
                        (IpAddr::V4(a), RecordType::A) => RData::A(A(*a)),
                        (IpAddr::V6(a), RecordType::AAAA) => RData::AAAA(AAAA(*a)),
                        _ => continue,
                    };
                    response.add_answer(Record::from_rdata(owner.clone(), *ttl, data));
                }
                return response;
            }
        }
    }
    response
}
