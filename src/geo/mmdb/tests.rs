//! `GeoDb` against the committed test databases in `geoip/`, and a check that those files
//! are what the generator writes today.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::geoip2;

use super::*;
use crate::geo::LocateCache;

#[path = "../../../geoip/networks.rs"]
mod networks;

fn geoip_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip")
}

fn open(file: &str) -> GeoDb {
    let path = geoip_dir().join(file);
    GeoDb::open(&path).unwrap_or_else(|error| panic!("{error:#?}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// (address, "continent country subdivision" as far as known, coordinates, prefix length).
type Case = (&'static str, &'static str, Option<(f64, f64)>, u8);

/// One address in each network of geoip/README.md, plus addresses with no data.
const CITY_CASES: &[Case] = &[
    ("198.51.100.1", "NA US US-VA", Some((39.04, -77.49)), 26),
    ("198.51.100.70", "EU DE DE-HE", Some((50.11, 8.68)), 26),
    ("198.51.100.191", "AS IN IN-MH", Some((19.08, 72.88)), 26),
    ("198.51.100.255", "SA BR BR-SP", Some((-23.55, -46.63)), 26),
    ("203.0.113.5", "EU FR FR-IDF", Some((48.86, 2.35)), 25),
    ("203.0.113.200", "AS JP JP-13", Some((35.68, 139.69)), 25),
    ("100.64.1.9", "EU GB GB-ENG", Some((51.51, -0.13)), 24),
    ("100.64.2.9", "AF ZA", None, 24),
    ("100.64.3.9", "EU", None, 24),
    ("127.0.1.1", "NA US US-CA", Some((37.77, -122.42)), 24),
    ("127.0.2.1", "EU DE DE-HE", Some((50.11, 8.68)), 24),
    ("127.0.3.1", "AS IN IN-MH", Some((19.08, 72.88)), 24),
    ("127.0.4.254", "OC AU AU-NSW", Some((-33.87, 151.21)), 24),
    ("2001:db8:1::1", "NA US US-VA", Some((39.04, -77.49)), 48),
    ("2001:db8:2::1", "EU DE DE-HE", Some((50.11, 8.68)), 48),
    (
        "2001:db8:3:ffff::1",
        "AS IN IN-MH",
        Some((19.08, 72.88)),
        48,
    ),
    ("2001:db8:4::", "SA BR BR-SP", Some((-23.55, -46.63)), 48),
    // IPv4-mapped: looked up as IPv4, so the prefix is an IPv4 length.
    (
        "::ffff:198.51.100.70",
        "EU DE DE-HE",
        Some((50.11, 8.68)),
        26,
    ),
    (
        "::ffff:127.0.4.1",
        "OC AU AU-NSW",
        Some((-33.87, 151.21)),
        24,
    ),
    // 6to4 for 198.51.100.70: the writer's alias subtree, an IPv6 prefix (16 + 26).
    ("2002:c633:6446::1", "EU DE DE-HE", Some((50.11, 8.68)), 42),
    // No data: the prefix is the empty network around the address.
    ("127.0.0.1", "", None, 24),
    ("127.0.5.1", "", None, 24),
    ("198.51.101.1", "", None, 24),
    ("2001:db8:5::1", "", None, 48),
    ("2001:db8:8::1", "", None, 45),
];

fn check(db: &GeoDb, case: &Case, with_city: bool) {
    let &(addr, place, coordinates, prefix_len) = case;
    let mut codes = place.split_whitespace();
    let want = Location {
        continent: codes.next().and_then(Continent::parse),
        country: codes.next().and_then(Country::parse),
        subdivision: codes
            .next()
            .and_then(Subdivision::parse)
            .filter(|_| with_city),
        coordinates: coordinates
            .and_then(|(lat, lon)| Coordinates::new(lat, lon))
            .filter(|_| with_city),
    };
    let got = db.locate(ip(addr));
    assert_eq!(got.location, want, "{addr}");
    assert_eq!(got.prefix_len, prefix_len, "{addr}");
}

#[test]
fn locate_city() {
    let db = open(networks::CITY_FILE);
    for case in CITY_CASES {
        check(&db, case, true);
    }
}

#[test]
fn locate_country() {
    let db = open(networks::COUNTRY_FILE);
    for case in CITY_CASES {
        check(&db, case, false);
    }
}

#[test]
fn no_data_is_nowhere_with_an_ipv4_prefix() {
    let db = open(networks::CITY_FILE);
    for addr in [
        "127.0.0.1",
        "10.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "8.8.8.8",
    ] {
        let got = db.locate(ip(addr));
        assert_eq!(got.location, Location::default(), "{addr}");
        assert!(got.prefix_len <= 32, "{addr}: {}", got.prefix_len);
    }
}

#[test]
fn metadata() {
    let city = open(networks::CITY_FILE);
    assert_eq!(city.database_type(), "GSLB-Test-City");
    assert_eq!(city.build_epoch(), networks::BUILD_EPOCH);
    let country = open(networks::COUNTRY_FILE);
    assert_eq!(country.database_type(), "GSLB-Test-Country");
    assert!(format!("{country:?}").contains("GSLB-Test-Country"));
}

/// The records must also decode with maxminddb's own GeoIP2 types (u32 geoname ids, u16
/// accuracy radius, f64 coordinates), as real data does.
#[test]
fn records_decode_as_geoip2() -> Result<(), MaxMindDbError> {
    let dir = geoip_dir();
    let city_reader = Reader::open_readfile(dir.join(networks::CITY_FILE))?;
    let country_reader = Reader::open_readfile(dir.join(networks::COUNTRY_FILE))?;
    let city: Option<geoip2::City<'_>> = city_reader.lookup(ip("127.0.4.1"))?.decode()?;
    let city = city.expect("127.0.4.0/24 has data");
    assert_eq!(city.city.names.english, Some("Sydney"));
    assert_eq!(city.city.geoname_id, Some(2_147_714));
    assert_eq!(city.location.accuracy_radius, Some(20));
    assert_eq!(city.location.time_zone, Some("Australia/Sydney"));
    assert_eq!(
        city.subdivisions.first().and_then(|s| s.iso_code),
        Some("NSW")
    );
    assert_eq!(city.registered_country.iso_code, Some("AU"));
    let country: Option<geoip2::Country<'_>> =
        country_reader.lookup(ip("203.0.113.200"))?.decode()?;
    let country = country.expect("203.0.113.128/25 has data");
    assert_eq!(country.continent.code, Some("AS"));
    assert_eq!(country.country.iso_code, Some("JP"));
    assert_eq!(country.country.names.english, Some("Japan"));
    city_reader.verify()?;
    country_reader.verify()
}

#[test]
fn committed_databases_are_current() -> Result<(), Box<dyn std::error::Error>> {
    let fresh = tempfile::tempdir()?;
    networks::write_databases(fresh.path())?;
    for file in [networks::CITY_FILE, networks::COUNTRY_FILE] {
        let committed = std::fs::read(geoip_dir().join(file))?;
        let generated = std::fs::read(fresh.path().join(file))?;
        assert!(
            committed == generated,
            "geoip/{file} is stale: run `cargo run --example geoip-generate`"
        );
        assert!(
            committed.len() < 8 * 1024,
            "{file}: {} bytes",
            committed.len()
        );
    }
    Ok(())
}

#[test]
fn open_errors_name_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.mmdb");
    let error = GeoDb::open(&missing).expect_err("missing file");
    assert!(matches!(error, GeoError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("missing.mmdb"), "{error}");

    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a database").expect("write");
    let error = GeoDb::open(&garbage).expect_err("not a database");
    assert!(matches!(error, GeoError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("garbage.mmdb"), "{error}");
}

fn write_db(dir: &Path, writer: &mmdb_writer::Writer) -> GeoDb {
    let path = dir.join("db.mmdb");
    std::fs::write(&path, writer.to_bytes().expect("serialize")).expect("write");
    GeoDb::open(&path).expect("open")
}

/// Another address family than the database has: location nowhere, scope 0.
#[test]
fn missing_address_family_gives_prefix_zero() {
    use mmdb_writer::{IpVersion, Value, Writer};

    let dir = tempfile::tempdir().expect("tempdir");
    let record = Value::map([("country", Value::map([("iso_code", Value::from("DE"))]))]);
    let mut v4_only = Writer::builder("V4").ip_version(IpVersion::V4).build();
    v4_only
        .insert_value(
            "192.0.2.0/24".parse::<ipnet::IpNet>().expect("net"),
            record.clone(),
        )
        .expect("insert");
    let db = write_db(dir.path(), &v4_only);
    assert_eq!(
        db.locate(ip("192.0.2.1")).location.country,
        Country::parse("DE")
    );
    assert_eq!(db.locate(ip("192.0.2.1")).prefix_len, 24);
    assert_eq!(db.locate(ip("2001:db8::1")), Located::default());

    let mut v6_only = Writer::new("V6");
    v6_only
        .insert_value(
            "2001:db8::/32".parse::<ipnet::IpNet>().expect("net"),
            record,
        )
        .expect("insert");
    let db = write_db(dir.path(), &v6_only);
    assert_eq!(db.locate(ip("2001:db8::1")).prefix_len, 32);
    assert_eq!(db.locate(ip("192.0.2.1")), Located::default());
}

/// Damaged or unusual values drop only the field they are in.
#[test]
fn bad_fields_are_dropped_one_by_one() {
    use mmdb_writer::{Value, Writer};

    let dir = tempfile::tempdir().expect("tempdir");
    let record = Value::map([
        ("continent", Value::map([("code", Value::from("XX"))])),
        ("country", Value::map([("iso_code", Value::from("US"))])),
        (
            "subdivisions",
            Value::array([
                Value::map([("iso_code", Value::from("US-CA"))]),
                Value::map([("iso_code", Value::from("SF"))]),
            ]),
        ),
        (
            "location",
            Value::map([
                ("latitude", Value::from(91.0)),
                ("longitude", Value::from(0.0)),
            ]),
        ),
    ]);
    let mut writer = Writer::new("Odd");
    writer
        .insert_value("192.0.2.0/24".parse::<ipnet::IpNet>().expect("net"), record)
        .expect("insert");
    let got = write_db(dir.path(), &writer).locate(ip("192.0.2.1"));
    assert_eq!(
        got.location,
        Location {
            continent: None,
            country: Country::parse("US"),
            subdivision: Subdivision::parse("US-CA"),
            coordinates: None,
        }
    );

    // A field of the wrong type fails the record, but the scope still holds.
    let record = Value::map([("country", Value::map([("iso_code", Value::from(7_u32))]))]);
    writer
        .insert_value("192.0.2.0/24".parse::<ipnet::IpNet>().expect("net"), record)
        .expect("insert");
    let got = write_db(dir.path(), &writer).locate(ip("192.0.2.1"));
    assert_eq!(
        got,
        Located {
            location: Location::default(),
            prefix_len: 24
        }
    );
}

#[test]
fn the_cache_answers_like_a_fresh_lookup_and_never_across_databases() {
    let city = open(networks::CITY_FILE);
    let country = open(networks::COUNTRY_FILE);
    let mut cache = LocateCache::default();
    let addrs = [
        "198.51.100.70",
        "198.51.100.5",
        "203.0.113.200",
        "127.0.0.1",
        "2001:db8:2::1",
        "100.64.2.9",
    ];
    for _ in 0..3 {
        for a in addrs {
            assert_eq!(
                city.locate_with(ip(a), &mut cache),
                city.locate(ip(a)),
                "{a}"
            );
            // Same cache, other database: its own records, never the city ones.
            assert_eq!(
                country.locate_with(ip(a), &mut cache),
                country.locate(ip(a)),
                "{a}"
            );
        }
    }
}
