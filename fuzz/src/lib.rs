//! Shared parts of gslb's fuzz targets: snapshots like the server's, and
//! the checks every response must pass.
//!
//! The checks read responses with hickory-proto, an independent DNS
//! implementation, so a response gslb writes but a resolver could not read
//! is a crash, not a silent success.

use gslb::iana::{opcode, rcode};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use gslb::dns::answer::{Outcome, Responder};
use gslb::dns::request::{self, Handled, Transport};
use gslb::geo::GeoDb;
use gslb::metrics::Metrics;
use gslb::model::Config;
use gslb::table::liveness::{Liveness, Override, ProbeBits, SetOverrides};
use gslb::table::{Snapshot, compile};
use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::{DNSClass, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Plain DNS over UDP.
const UDP_MIN: usize = 512;

/// How the health of a snapshot's targets is set, to reach every
/// selection rule: all healthy, all down (fail open), and a mix with
/// operator overrides.
#[derive(Clone, Copy, Debug)]
pub enum HealthState {
    /// No probe down, no override.
    AllUp,
    /// Every probe down: answers fail open.
    AllDown,
    /// Every other probe down; sets forced down, up or auto in turn.
    Mixed,
}

/// The test GeoIP City database of the repository (`geoip/README.md`).
pub fn geo() -> Arc<GeoDb> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../geoip/test-city.mmdb");
    match GeoDb::open(&path) {
        Ok(db) => Arc::new(db),
        Err(error) => panic!("fuzz set-up: {error}"),
    }
}

/// A snapshot of `config` as the server would publish it.
pub fn snapshot(
    config: &Config,
    health: HealthState,
    geo: Option<Arc<GeoDb>>,
    max_udp_payload: u16,
) -> Snapshot {
    let table = Arc::new(compile(config));
    let probes = table.probes.len();
    let sets = table.set_count as usize;
    let health = match health {
        HealthState::AllUp => Liveness::default(),
        HealthState::AllDown => Liveness {
            probes: ProbeBits::from_fn(probes, |_| false),
            overrides: SetOverrides::none(sets),
            ..Liveness::default()
        },
        HealthState::Mixed => Liveness {
            probes: ProbeBits::from_fn(probes, |i| i % 2 == 0),
            overrides: (0..sets).fold(SetOverrides::none(sets), |overrides, i| {
                let state = match i % 3 {
                    0 => Override::Down,
                    1 => Override::Up,
                    _ => Override::Auto,
                };
                overrides.with(i, state)
            }),
            ..Liveness::default()
        },
    };
    Snapshot {
        generation: 1,
        counters: Arc::new(table.counters(&Metrics::default(), None)),
        table,
        health,
        geo,
        max_udp_payload,
        rate_limiter: None,
        dynamic: Default::default(),
    }
}

/// Answers `packet` over both transports and checks both responses (see
/// [`check_response`]), and that they agree when UDP was not truncated.
/// Each transport gets a fresh responder with the same seed, so both make
/// the same choices.
pub fn respond_and_check(snap: &Snapshot, packet: &[u8], client: IpAddr, seed: u64) {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    let udp_outcome = match request::respond(
        &mut Responder::with_seed(seed),
        snap,
        packet,
        client,
        Transport::Udp,
        &mut udp,
    ) {
        Handled::Reply(outcome) => outcome,
        Handled::Update => {
            assert_eq!(
                (packet[2] >> 3) & 0xF,
                opcode::UPDATE,
                "only UPDATEs are queued"
            );
            assert!(udp.is_empty(), "a queued UPDATE is not answered here");
            return;
        }
    };
    check_response(snap, packet, Transport::Udp, &udp_outcome, &udp);
    let tcp_outcome = match request::respond(
        &mut Responder::with_seed(seed),
        snap,
        packet,
        client,
        Transport::Tcp,
        &mut tcp,
    ) {
        Handled::Reply(outcome) => outcome,
        Handled::Update => {
            assert_eq!(
                (packet[2] >> 3) & 0xF,
                opcode::UPDATE,
                "only UPDATEs are queued"
            );
            assert!(tcp.is_empty(), "a queued UPDATE is not answered here");
            return;
        }
    };
    check_response(snap, packet, Transport::Tcp, &tcp_outcome, &tcp);
    assert_eq!(udp_outcome.replied, tcp_outcome.replied);
    if udp_outcome.replied && !udp_outcome.truncated {
        assert_eq!(
            udp, tcp,
            "UDP and TCP answer alike when UDP is not truncated"
        );
    }
}

/// The response to `packet` must be dropped only for a short packet or a
/// response; otherwise it must parse (hickory-proto), be a response with
/// the query's id and opcode, fit the transport, echo the query's question
/// (or be a FORMERR without one), hold no records when truncated, answer
/// only for the question's name, and (TCP) encode again with hickory-proto
/// as the TCP listener does.
pub fn check_response(
    snap: &Snapshot,
    packet: &[u8],
    transport: Transport,
    outcome: &Outcome,
    out: &[u8],
) {
    assert_eq!(
        outcome.replied,
        !out.is_empty(),
        "replied iff bytes written"
    );
    if !outcome.replied {
        assert!(
            packet.len() < 12 || packet[2] & 0x80 != 0,
            "only short packets and responses are dropped"
        );
        return;
    }
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => UDP_MIN.max(usize::from(snap.max_udp_payload)),
    };
    assert!(out.len() <= limit, "{} bytes over {transport:?}", out.len());
    let response = match Message::from_vec(out) {
        Ok(response) => response,
        Err(error) => panic!("response does not parse: {error}\n{out:02x?}"),
    };
    if transport == Transport::Tcp {
        // The TCP listener hands hickory-server the decoded response, which
        // encodes it again: that must work too.
        if let Err(error) = response.to_vec() {
            panic!("response does not re-encode: {error}");
        }
    }
    if response.edns.is_none() {
        assert!(
            transport == Transport::Tcp || out.len() <= UDP_MIN,
            "UDP without OPT stays within 512 bytes"
        );
    }
    let meta = &response.metadata;
    assert_eq!(meta.message_type, MessageType::Response);
    assert_eq!(meta.id, u16::from_be_bytes([packet[0], packet[1]]));
    assert_eq!(
        u8::from(meta.op_code),
        (packet[2] >> 3) & 0xF,
        "opcode echoed"
    );
    let rcode = u16::from(meta.response_code);
    match (question_of(packet), response.queries.as_slice()) {
        (Some(asked), [echoed]) => {
            assert_eq!(echoed.name(), asked.name(), "question name echoed");
            assert_eq!(echoed.query_type(), asked.query_type());
            assert_eq!(echoed.query_class(), asked.query_class());
        }
        (_, []) => assert_eq!(rcode, rcode::FORMERR, "only FORMERR leaves out the question"),
        (None, echoed) => panic!("echoed {echoed:?}, but the query had no readable question"),
        (Some(_), echoed) => panic!("{} questions echoed", echoed.len()),
    }
    if meta.truncation {
        assert!(
            response.answers.is_empty()
                && response.authorities.is_empty()
                && response.additionals.is_empty(),
            "a truncated response carries no records"
        );
    }
    if let [question] = response.queries.as_slice() {
        // The question name, then each CNAME's target in turn (RFC 1034
        // §4.3.2: gslb follows aliases inside its zones).
        // An RRSIG follows the RRset it covers, so one after a CNAME is
        // owned by the CNAME's name, not by its target.
        let mut owner = question.name().clone();
        let mut covered = owner.clone();
        for answer in &response.answers {
            if answer.record_type() == RecordType::RRSIG {
                assert_eq!(
                    answer.name, covered,
                    "an RRSIG is owned by the RRset it follows"
                );
                continue;
            }
            assert_eq!(
                answer.name, owner,
                "answers are for the question name or the CNAME chain from it"
            );
            covered = owner.clone();
            if let RData::CNAME(target) = &answer.data {
                owner = target.0.clone();
            }
        }
    }
}

/// The question of a query that has exactly one, read by hickory-proto
/// (which follows compression pointers), ignoring everything after it.
fn question_of(packet: &[u8]) -> Option<Query> {
    if packet.len() < 12 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return None;
    }
    let mut decoder = BinDecoder::new(packet);
    decoder.read_slice(12).ok()?;
    Query::read(&mut decoder).ok()
}

/// A query for the wire name `name` (lower-case wire form, as
/// `gslb::name::Name::wire` gives it) with optional EDNS and client
/// subnet (family, source prefix, address bytes).
pub fn query(
    id: u16,
    name: &[u8],
    rtype: RecordType,
    edns: Option<u16>,
    subnet: Option<(u16, u8, &[u8])>,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + name.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    p.extend_from_slice(name);
    p.extend_from_slice(&u16::from(rtype).to_be_bytes());
    p.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    if let Some(payload) = edns {
        p.extend_from_slice(&[0, 0, 41]);
        p.extend_from_slice(&payload.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        match subnet {
            None => p.extend_from_slice(&[0, 0]),
            Some((family, source, addr)) => {
                let len = 4 + addr.len() as u16;
                p.extend_from_slice(&(4 + len).to_be_bytes());
                p.extend_from_slice(&[0, 8]);
                p.extend_from_slice(&len.to_be_bytes());
                p.extend_from_slice(&family.to_be_bytes());
                p.extend_from_slice(&[source, 0]);
                p.extend_from_slice(addr);
            }
        }
    }
    p
}

/// Compiles a config that loaded and asks every apex and record name the
/// questions a resolver would (SOA, NS, A, AAAA, ANY; plain, with EDNS and
/// with a client subnet), checking every response. A config that
/// validation accepts must never make the answer path panic or write a
/// response that does not parse.
pub fn answer_every_name(config: &Config) {
    let geo = geo();
    let states = [HealthState::AllUp, HealthState::AllDown, HealthState::Mixed];
    let names = config
        .zones
        .iter()
        .flat_map(|z| std::iter::once(&z.origin).chain(z.nameservers.iter().map(|(ns, _)| ns)))
        .chain(config.records.iter().map(|r| &r.name))
        .chain(
            config
                .zones
                .iter()
                .flat_map(|z| z.statics.iter().map(|s| &s.name)),
        )
        .take(64);
    let names: Vec<_> = names.collect();
    let subnets: [(u16, u8, &[u8]); 2] = [
        (1, 24, &[198, 51, 100]),
        (2, 48, &[0x20, 0x01, 0x0d, 0xb8, 0, 2]),
    ];
    for (i, state) in states.into_iter().enumerate() {
        let snap = snapshot(config, state, (i != 1).then(|| geo.clone()), 1232);
        for name in &names {
            for rtype in [
                RecordType::SOA,
                RecordType::NS,
                RecordType::A,
                RecordType::AAAA,
                RecordType::ANY,
                RecordType::CNAME,
                RecordType::TXT,
                RecordType::MX,
                RecordType::DS,
            ] {
                let client: IpAddr = [127, 0, 2, 1].into();
                let plain = query(1, name.wire(), rtype, None, None);
                respond_and_check(&snap, &plain, client, 1);
                for subnet in subnets {
                    let ecs = query(2, name.wire(), rtype, Some(4096), Some(subnet));
                    respond_and_check(&snap, &ecs, client, 2);
                }
            }
        }
    }
}
