//! Criterion benches of the DNS hot path and the snapshot writer:
//!
//! * `select/{1,10,1000}`: selection alone, over a record with that many sets;
//! * `query/10k`: a whole query (parse, lookup, GeoIP, select, encode) on a
//!   10,000-record snapshot with ECS from several countries;
//! * `query/signed`: the same queries with DO against the same records in a
//!   DNSSEC-signed zone, the RRSIG cache warm (what a signed answer costs
//!   over an unsigned one);
//! * `sign/{p256,ed25519}`: making one RRSIG over a two-address A RRset,
//!   what a cache miss costs (cold signing throughput per core);
//! * `snapshot_build/100k`: compiling a 100,000-record config;
//! * `health_flip/100k`: publishing one probe flip on a 100,000-record table;
//! * `override_put/300k_sets`: one operator override on a 300,000-set table.
//! * `rrl/one_stream`, `rrl/10k_streams`: the response rate limiter's cost
//!   per response, for one client asking one name (a hot word) and for
//!   10,000 client prefixes in the default table (mostly cache misses).
//! * `geo_locate/{struct,decode_path,lookup_network,full_city}`: one GeoIP
//!   lookup on the test City database by `GeoDb::locate` (one borrowed
//!   struct), against the ways it was chosen over: a `decode_path` call per
//!   field, the tree walk alone, and the whole `geoip2::City`.
//!
//! Run `cargo bench --bench dns`; `-- --save-baseline NAME` and
//! `-- --baseline NAME` compare runs.

use std::{hint::black_box, net::IpAddr, path::Path, sync::Arc};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use maxminddb::{MaxMindDbError, Reader, geoip2, path};
use rand::{SeedableRng, rngs::SmallRng};

use gslb::config::{Loaded, load_from_text, raw};
use gslb::dns::answer::{Outcome, Responder, ResponseKind};
use gslb::dns::request::{self, Transport};
use gslb::geo::{Continent, Coordinates, Country, GeoDb, Located, Location, Subdivision};
use gslb::metrics::Metrics;
use gslb::rrl::{RateLimiter, response as rrl};
use gslb::select::{Scratch, select};
use gslb::table::liveness::Liveness;
use gslb::table::liveness::Override;
use gslb::table::{Family, Probe, Snapshot, compile, writer::Writer};

const CONTINENTS: [&str; 6] = ["NA", "EU", "AS", "SA", "OC", "AF"];

/// The zone and health check every bench config has.
const BENCH_YAML: &str = r#"
server: { dns_listen: ["127.0.0.1:0"] }
zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
health_checks:
  web: { kind: tcp, port: 80 }
"#;

/// The signed variant of the bench zone: the unit tests' KSK (P-256) and
/// ZSK (Ed25519).
fn signed_yaml() -> String {
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/src/dnssec/testdata");
    BENCH_YAML.replace(
        "    nameservers: { ns1.global.example.test.: [192.0.2.53] }\n",
        &format!(
            "    nameservers: {{ ns1.global.example.test.: [192.0.2.53] }}\n    dnssec: {{ key_files: [\"{keys}/Kglobal.example.test.+013+46294\", \"{keys}/Kglobal.example.test.+015+43869\"] }}\n"
        ),
    )
}

/// Records per generated record file, well inside the default
/// `server.max_config_bytes`.
const RECORDS_PER_FILE: usize = 10_000;

/// Record `r` of a bench config, with `sets` sets spread over continents,
/// weights and health checks.
fn record(r: usize, sets: usize) -> raw::RawRecord {
    raw::RawRecord {
        name: format!("app{r}.global.example.test."),
        ttl: Some(30),
        answers: Some(2),
        fallback: None,
        sets: (0..sets)
            .map(|s| raw::RawSet {
                id: format!("cluster-{s}"),
                targets: vec![
                    format!("10.{}.{}.{}", (r >> 8) & 0xff, r & 0xff, s % 250 + 1),
                    format!("10.{}.{}.{}", (r >> 8) & 0xff, r & 0xff, s % 250 + 2),
                ],
                weight: Some((s % 5 + 1) as i64),
                priority: None,
                geo: Some(raw::RawGeo {
                    continents: vec![CONTINENTS[s % CONTINENTS.len()].to_owned()],
                    ..raw::RawGeo::default()
                }),
                location: Some(raw::RawLocation {
                    lat: (s as f64 * 7.0) % 170.0 - 85.0,
                    lon: (s as f64 * 13.0) % 350.0 - 175.0,
                }),
                health_check: r.is_multiple_of(2).then(|| "web".to_owned()),
            })
            .collect(),
    }
}

/// A validated config of `records` records of `sets` sets each, read the
/// way the server reads one: by `config::load_from_text`, with the records
/// in JSON record files (what `gslb crd-sync` writes for large tables).
fn validated(records: usize, sets: usize) -> gslb::model::Config {
    validated_with(BENCH_YAML, records, sets)
}

/// [`validated`] with another main config.
fn validated_with(yaml: &str, records: usize, sets: usize) -> gslb::model::Config {
    let files: Vec<(String, String)> = (0..records)
        .step_by(RECORDS_PER_FILE)
        .map(|first| {
            let file = raw::RawRecordFile {
                records: (first..records.min(first + RECORDS_PER_FILE))
                    .map(|r| record(r, sets))
                    .collect(),
                overrides: Vec::new(),
            };
            let text = serde_json::to_string(&file).expect("bench records encode");
            (format!("records-{first}.json"), text)
        })
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    let config = load_from_text("bench.yaml", yaml, &files)
        .unwrap_or_else(|errors| panic!("bench config is valid: {errors}"));
    assert_eq!(config.records.len(), records, "every bench record loads");
    config
}

fn geo() -> Arc<GeoDb> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/test-city.mmdb");
    Arc::new(GeoDb::open(&path).expect("test GeoIP database"))
}

fn bench_select(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    let client = Location {
        continent: Continent::parse("EU"),
        coordinates: Some(Coordinates {
            lat: 50.1,
            lon: 8.7,
        }),
        ..Location::default()
    };
    for sets in [1, 10, 1000] {
        let table = compile(&validated(1, sets));
        let record = &table.records[0];
        let health = Liveness::default();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut scratch = Scratch::default();
        group.bench_with_input(BenchmarkId::from_parameter(sets), &sets, |b, _| {
            b.iter(|| {
                let choice = select(
                    record,
                    Family::V4,
                    &health,
                    black_box(&client),
                    &mut rng,
                    &mut scratch,
                );
                black_box(choice.map(|c| c.set.index))
            })
        });
    }
    group.finish();
}

/// Encoded A queries for random records with ECS subnets of several
/// countries, with DO set when `dnssec_ok`.
fn queries_with(records: usize, n: usize, dnssec_ok: bool) -> Vec<Vec<u8>> {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RecordType};
    let subnets = [
        "198.51.100.64",
        "198.51.100.0",
        "198.51.100.128",
        "198.51.100.192",
        "203.0.113.0",
        "203.0.113.128",
    ];
    (0..n)
        .map(|i| {
            let mut m = Message::new(i as u16, MessageType::Query, OpCode::Query);
            let name = format!("app{}.global.example.test.", (i * 7919) % records);
            m.add_query(Query::query(
                Name::from_ascii(&name).expect("name"),
                RecordType::A,
            ));
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            edns.set_dnssec_ok(dnssec_ok);
            let addr: IpAddr = subnets[i % subnets.len()].parse().expect("subnet");
            edns.options_mut()
                .insert(EdnsOption::Subnet(ClientSubnet::new(addr, 24, 0)));
            m.set_edns(edns);
            m.to_vec().expect("encode")
        })
        .collect()
}

/// A snapshot of `table` with GeoIP, all healthy.
fn bench_snapshot(table: Arc<gslb::table::Table>) -> Snapshot {
    Snapshot {
        generation: 1,
        counters: Arc::new(table.counters(&Metrics::default(), None)),
        health: Liveness::default(),
        table,
        geo: Some(geo()),
        max_udp_payload: 1232,
        rate_limiter: None,
        dynamic: Default::default(),
    }
}

fn bench_query(c: &mut Criterion) {
    let records = 10_000;
    let mut group = c.benchmark_group("query");
    group.throughput(Throughput::Elements(1));
    let client: IpAddr = "127.0.0.1".parse().expect("ip");
    for (name, signed) in [("10k", false), ("signed", true)] {
        let config = match signed {
            false => validated(records, 3),
            true => validated_with(&signed_yaml(), records, 3),
        };
        let snapshot = bench_snapshot(Arc::new(compile(&config)));
        let packets = queries_with(records, 4096, signed);
        let mut responder = Responder::with_seed(1);
        let mut out = Vec::with_capacity(1232);
        // Warm: every variant signed once, as a running server's cache is.
        for _ in 0..4 {
            for packet in &packets {
                request::respond(
                    &mut responder,
                    &snapshot,
                    packet,
                    client,
                    Transport::Udp,
                    &mut out,
                );
            }
        }
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % packets.len();
                let outcome = request::respond(
                    &mut responder,
                    &snapshot,
                    &packets[i],
                    client,
                    Transport::Udp,
                    &mut out,
                )
                .outcome();
                black_box((outcome.rcode, out.len()))
            })
        });
    }
    group.finish();
}

/// One RRSIG made per iteration over a two-address A RRset: a cache miss.
fn bench_sign(c: &mut Criterion) {
    use gslb::dnssec::{CanonicalRrset, Key, signer::rrsig_rdata};
    let zone = gslb::name::Name::parse("global.example.test.").expect("zone");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/dnssec/testdata");
    let mut set = CanonicalRrset::default();
    set.start(1, 30).extend_from_slice(
        gslb::name::Name::parse("app.global.example.test.")
            .expect("name")
            .wire(),
    );
    set.push_rdata(&[192, 0, 2, 10]);
    set.push_rdata(&[192, 0, 2, 11]);
    set.finish();
    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    for (name, file) in [
        ("p256", "Kglobal.example.test.+013+46294"),
        ("ed25519", "Kglobal.example.test.+015+43869"),
    ] {
        let key = Key::read(&dir.join(file), &zone).expect("test key");
        let mut data = Vec::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                let rrsig = rrsig_rdata(&key, &zone, &set, 1_700_000_000, 1_700_604_800, &mut data)
                    .expect("signs");
                black_box(rrsig.len())
            })
        });
    }
    group.finish();
}

fn bench_build(c: &mut Criterion) {
    let config = validated(100_000, 3);
    let mut group = c.benchmark_group("snapshot_build");
    group.sample_size(10);
    group.bench_function("100k", |b| {
        b.iter(|| black_box(compile(&config).records.len()))
    });
    group.finish();
}

fn bench_flip(c: &mut Criterion) {
    let loaded = Loaded {
        config: Arc::new(validated(100_000, 3)),
        geo: None,
        warnings: Vec::new(),
        inputs: Default::default(),
        admin_key: None,
    };
    let metrics = Arc::new(Metrics::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    let (mut writer, _handle, cell) = Writer::new(loaded, metrics);
    let probe: Probe = cell.load().table.probes[12_345].clone();
    let mut up = false;
    let mut group = c.benchmark_group("health_flip");
    group.bench_function("100k", |b| {
        b.iter(|| {
            writer.flip(probe.clone(), up);
            up = !up;
            black_box(cell.load().generation)
        })
    });
    group.finish();
}

/// One operator override on a table of 300,000 sets: what a PUT costs the
/// writer (it used to rebuild an array over every set, 47 ms).
fn bench_override(c: &mut Criterion) {
    let loaded = Loaded {
        config: Arc::new(validated(100_000, 3)),
        geo: None,
        warnings: Vec::new(),
        inputs: Default::default(),
        admin_key: None,
    };
    let metrics = Arc::new(Metrics::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    let (mut writer, _handle, cell) = Writer::new(loaded, metrics);
    let record = gslb::name::Name::parse("app54321.global.example.test.").expect("name");
    let mut down = true;
    let mut group = c.benchmark_group("override_put");
    group.bench_function("300k_sets", |b| {
        b.iter(|| {
            let state = if down { Override::Down } else { Override::Auto };
            down = !down;
            let applied = writer.set_override(
                record.clone(),
                "cluster-1".to_owned(),
                state,
                Default::default(),
            );
            black_box((applied.is_ok(), cell.load().generation))
        })
    });
    group.finish();
}

/// What response rate limiting adds to each UDP answer.
fn bench_rrl(c: &mut Criterion) {
    // A limit no stream reaches, so every response is counted and sent:
    // the cost RRL adds to every UDP answer.
    let limiter = RateLimiter::new(&gslb::model::RateLimit {
        responses_per_second: 1_000_000,
        slip: 2,
        ipv4_prefix: 24,
        ipv6_prefix: 56,
        window_secs: 15,
        table_size: 1 << 18,
    });
    let outcome = Outcome {
        replied: true,
        kind: ResponseKind::Answer,
        qtype: 1,
        name_id: 7,
        ..Outcome::default()
    };
    let clients: Vec<IpAddr> = (0..10_000u32)
        .map(|i| IpAddr::from((0x0A00_0000 | (i << 8)).to_be_bytes()))
        .collect();
    let mut group = c.benchmark_group("rrl");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_stream", |b| {
        b.iter(|| {
            black_box(rrl::check(
                &limiter,
                black_box(clients[0]),
                &outcome.rrl(),
                0,
            ))
        })
    });
    let mut i = 0;
    group.bench_function("10k_streams", |b| {
        b.iter(|| {
            i = (i + 1) % clients.len();
            black_box(rrl::check(&limiter, clients[i], &outcome.rrl(), 0))
        })
    });
    group.finish();
}

/// Addresses with data in the test City database (one per network of
/// geoip/README.md): with a real database nearly every client has some.
const LOCATED: [&str; 12] = [
    "198.51.100.1",
    "198.51.100.70",
    "198.51.100.191",
    "198.51.100.255",
    "203.0.113.5",
    "203.0.113.200",
    "100.64.1.9",
    "100.64.2.9",
    "127.0.4.254",
    "2001:db8:1::1",
    "2001:db8:2::1",
    "2001:db8:4::",
];

/// The fields `GeoDb::locate` reads, with one `decode_path` call each: the
/// alternative to its borrowed struct.
fn locate_by_path(reader: &Reader<Vec<u8>>, ip: IpAddr) -> Result<Located, MaxMindDbError> {
    let result = reader.lookup(ip)?;
    let prefix_len = result.network()?.prefix();
    let continent = result
        .decode_path::<&str>(&path!["continent", "code"])?
        .and_then(Continent::parse);
    let country = result
        .decode_path::<&str>(&path!["country", "iso_code"])?
        .and_then(Country::parse);
    let subdivision = result
        .decode_path::<&str>(&path!["subdivisions", 0, "iso_code"])?
        .zip(country)
        .and_then(|(code, country)| Subdivision::new(country, code));
    let lat = result.decode_path::<f64>(&path!["location", "latitude"])?;
    let lon = result.decode_path::<f64>(&path!["location", "longitude"])?;
    let coordinates = lat
        .zip(lon)
        .and_then(|(lat, lon)| Coordinates::new(lat, lon));
    Ok(Located {
        location: Location {
            continent,
            country,
            subdivision,
            coordinates,
        },
        prefix_len,
    })
}

/// One GeoIP lookup, four ways; each iteration looks up every address of
/// [`LOCATED`] (throughput counts lookups).
fn bench_geo(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/test-city.mmdb");
    let db = GeoDb::open(&path).expect("test GeoIP database");
    let reader = Reader::open_readfile(&path).expect("test GeoIP database");
    let addrs: Vec<IpAddr> = LOCATED
        .iter()
        .map(|a| a.parse().expect("bench address"))
        .collect();
    for &addr in &addrs {
        let by_path = locate_by_path(&reader, addr).expect("lookup");
        assert_eq!(by_path, db.locate(addr), "both ways locate {addr} alike");
        assert!(by_path.location.country.is_some(), "{addr} has data");
    }
    let mut group = c.benchmark_group("geo_locate");
    group.throughput(Throughput::Elements(addrs.len() as u64));
    group.bench_function("struct", |b| {
        b.iter(|| {
            for &addr in &addrs {
                black_box(db.locate(black_box(addr)));
            }
        })
    });
    group.bench_function("decode_path", |b| {
        b.iter(|| {
            for &addr in &addrs {
                let _ = black_box(locate_by_path(&reader, black_box(addr)));
            }
        })
    });
    group.bench_function("lookup_network", |b| {
        b.iter(|| {
            for &addr in &addrs {
                let _ = black_box(reader.lookup(black_box(addr)).map(|r| r.network()));
            }
        })
    });
    group.bench_function("full_city", |b| {
        b.iter(|| {
            for &addr in &addrs {
                let result = reader.lookup(black_box(addr));
                let _ = black_box(result.map(|r| r.decode::<geoip2::City<'_>>()));
            }
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_select,
    bench_query,
    bench_sign,
    bench_build,
    bench_flip,
    bench_override,
    bench_rrl,
    bench_geo
);
criterion_main!(benches);
