//! DNSSEC end to end (issue 18): gslb signs `global.example.test.` with
//! BIND key files from `dnssec-keygen`; `example.test.` on Knot publishes
//! the DS records `gslb dnssec ds` printed and is signed by Knot, under a
//! root Knot signs too; Unbound validates from that root's trust anchor
//! with ECS on, and `delv` checks the same names itself
//! (`support::dns_tree`'s signed tree). What a validating resolver's
//! clients get:
//!
//! * `chain`: every kind of answer (geo variants per client network,
//!   static records, CNAME chains, dynamic records, denial of existence)
//!   is secure, to Unbound and to `delv`; a failover's new answer too.
//! * `rollover`: a ZSK rolled by its timing metadata (pre-published,
//!   active, retired) with reloads between the steps, Unbound validating
//!   every answer throughout.
//! * `forgery`: an address changed on the way makes the answer bogus.
//! * `keys`: bad key files are config errors naming file and reason, and
//!   a reload with one keeps the signed snapshot serving.
//!
//! Each test fails on a gslb that does not sign: the parent's DS then
//! matches no key of the zone and Unbound finds every answer bogus.

mod chain;
mod forgery;
mod keys;
mod rollover;

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::support::harness::*;
use crate::support::zone_keys::{Key, dnssec_yaml};

/// The zone gslb signs.
const ORIGIN: &str = "global.example.test.";
/// How long a client waits for the resolver, which may walk and validate
/// the whole tree first on a busy machine.
const RESOLVE_WAIT: Duration = Duration::from_secs(8);
/// ECDSA P-256 with SHA-256 and Ed25519, the algorithms gslb signs with.
const P256: u8 = 13;
const ED25519: u8 = 15;

/// gslb's config for the signed zone: listening on `listen` (UDP and TCP),
/// with `nameservers` (YAML entries, `Block::nameservers_yaml`), the zone
/// `ttl` (also the negative TTL: SOA minimum) and `dnssec` (a
/// [`dnssec_yaml`] block), `zone_extra` more zone fields (indented four
/// spaces), then `rest` (records, health checks).
fn config(
    nameservers: &str,
    listen: &[SocketAddr],
    ttl: u32,
    dnssec: &str,
    zone_extra: &str,
    rest: &str,
) -> String {
    let listen: Vec<String> = listen.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "server:\n\
         \x20 dns_listen: [{listen}]\n\
         \x20 admin_listen: \"127.0.0.1:0\"\n\
         \x20 geoip_database: \"{{geoip}}\"\n\
         \x20 udp_workers: 1\n\
         zones:\n\
         \x20 - origin: {ORIGIN}\n\
         \x20   ttl: {ttl}\n\
         \x20   soa: {{ mname: ns1.{ORIGIN}, rname: hostmaster.example.test., minimum: {ttl} }}\n\
         \x20   nameservers:\n{nameservers}{dnssec}{zone_extra}{rest}",
        listen = listen.join(", "),
    )
}

/// Where a test keeps gslb's config and key files.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The key directory.
    fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// A key for gslb's zone: `dnssec-keygen -a ALGORITHM -L TTL EXTRA`.
    async fn key(&self, algorithm: u8, ttl: u32, extra: &[&str]) -> Key {
        Key::generate(&self.keys(), ORIGIN, algorithm, ttl, extra).await
    }

    /// The config file.
    fn config_path(&self) -> PathBuf {
        self.dir.path().join("gslb.yaml")
    }

    /// Writes the config file (placeholders filled).
    fn write_config(&self, yaml: &str) {
        write_config(&self.config_path(), yaml, self.dir.path());
    }

    /// Starts gslb in this process on the config written last.
    async fn start(self) -> Gslb {
        let config = self.config_path();
        Gslb::start_file(self.dir, config, Vec::new()).await
    }
}

/// Writes `yaml` (placeholders filled) to `path` by rename, as an
/// operator's tooling replaces a config.
fn write_config(path: &Path, yaml: &str, dir: &Path) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, render(yaml, dir)).expect("write config");
    std::fs::rename(&tmp, path).expect("replace config");
}

/// The key files of a zone with a KSK and a ZSK (ECDSA P-256), the
/// classic split: `(ksk, zsk, dnssec: block)`.
async fn ksk_and_zsk(setup: &Setup, ttl: u32) -> (Key, Key, String) {
    let ksk = setup.key(P256, ttl, &["-f", "KSK"]).await;
    let zsk = setup.key(P256, ttl, &[]).await;
    let yaml = dnssec_yaml(&[&ksk, &zsk]);
    (ksk, zsk, yaml)
}

/// A query as a validating stub sends it: AD=1 (RFC 6840 §5.7: "tell me
/// whether you validated") and EDNS with DO=1, so RRSIGs come along; with
/// a client subnet when `ecs` is given (`ADDRESS/PREFIX`).
fn secure_query(name: &str, rtype: RecordType, ecs: Option<&str>) -> Message {
    let mut m = query(name, rtype);
    m.metadata.authentic_data = true;
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.set_dnssec_ok(true);
    if let Some(subnet) = ecs {
        let (addr, prefix) = subnet.split_once('/').expect("ADDRESS/PREFIX");
        let addr: IpAddr = addr.parse().expect("subnet address");
        let prefix: u8 = prefix.parse().expect("subnet prefix");
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
    }
    m.set_edns(edns);
    m
}

/// Asks the resolver `to` over UDP from `from`, waiting up to
/// [`RESOLVE_WAIT`].
async fn resolve(from: IpAddr, to: SocketAddr, query: &Message) -> Message {
    let bytes = query.to_vec().expect("encode query");
    let response = raw_udp_from(from, to, &bytes, RESOLVE_WAIT)
        .await
        .unwrap_or_else(|| panic!("{to} answers within {RESOLVE_WAIT:?}"));
    let message = Message::from_vec(&response).expect("response decodes");
    assert_eq!(
        message.metadata.id, query.metadata.id,
        "response id matches"
    );
    message
}

/// 127.0.0.1, a client without GeoIP data.
fn local() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// Whether the resolver validated `response`: AD=1 on an answer that is
/// not an error (NOERROR, or NXDOMAIN for a name that does not exist).
fn is_secure(response: &Message) -> bool {
    response.metadata.authentic_data
        && matches!(
            response.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain
        )
}

/// Panics unless the resolver validated `response` (see [`is_secure`]).
#[track_caller]
fn assert_secure(response: &Message, what: &str) {
    assert!(
        is_secure(response),
        "{what}: not validated (AD={}, rcode {}):\n{response}",
        response.metadata.authentic_data,
        response.metadata.response_code
    );
}

/// The key tags of the RRSIG records among `records` that cover
/// `covered`, read from the RDATA's wire form (RFC 4034 §3.1: type
/// covered, algorithm, labels, original TTL, expiration, inception, key
/// tag, signer, signature), whether hickory parsed it or not.
fn rrsig_tags(records: &[Record], covered: RecordType) -> Vec<u16> {
    records
        .iter()
        .filter(|r| r.record_type() == RecordType::RRSIG)
        .filter_map(|r| {
            let bytes = r.data.to_bytes().expect("RDATA encodes");
            if bytes.len() < 18 || u16::from_be_bytes([bytes[0], bytes[1]]) != u16::from(covered) {
                return None;
            }
            Some(u16::from_be_bytes([bytes[16], bytes[17]]))
        })
        .collect()
}

/// The data of the answer records of type `rtype`, as hickory prints it.
fn answer_data(response: &Message, rtype: RecordType) -> Vec<String> {
    response
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| r.data.to_string())
        .collect()
}

/// The key tags of the DNSKEY records among `records` (RFC 4034
/// appendix B over the RDATA's wire form).
fn dnskey_tags(records: &[Record]) -> Vec<u16> {
    let mut tags: Vec<u16> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY)
        .map(|r| key_tag(&r.data.to_bytes().expect("RDATA encodes")))
        .collect();
    tags.sort_unstable();
    tags
}

/// RFC 4034 appendix B: the key tag of DNSKEY RDATA.
fn key_tag(rdata: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, byte) in rdata.iter().enumerate() {
        sum += if i % 2 == 0 {
            u32::from(*byte) << 8
        } else {
            u32::from(*byte)
        };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

/// Whether `delv`'s output says the answer was validated from the trust
/// anchor: "; fully validated", or "; negative response, fully validated"
/// (followed by "resolution failed: ncache nxdomain" or "nxrrset", which
/// is how delv reports a proven denial).
fn delv_validated(output: &str) -> bool {
    output
        .lines()
        .any(|line| line == "; fully validated" || line == "; negative response, fully validated")
}
