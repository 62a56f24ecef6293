//! The networks of gslb's test GeoIP databases, and the code that writes them.
//!
//! One file, included by the `geoip-generate` example (`mod networks;`) and by the geo unit
//! tests (`#[path]`), so the committed `.mmdb` files, the generator and the test that
//! checks the files are up to date all read the same table. Keep `geoip/README.md` in step
//! with [`NETWORKS`].
//!
//! Records follow the GeoIP2 City and Country layouts (`continent.code`, `country.iso_code`,
//! `subdivisions[].iso_code` without the country prefix, `location.latitude`/`longitude`),
//! with the integer widths `maxminddb::geoip2` insists on: u32 geoname ids, u16 accuracy
//! radius, f64 coordinates. Geoname ids are the real GeoNames ones.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use mmdb_writer::Writer;
use mmdb_writer::ipnet::IpNet;
use serde::Serialize;

/// Fixed build time (2025-01-01T00:00:00Z) so regenerating gives identical bytes.
pub(crate) const BUILD_EPOCH: u64 = 1_735_689_600;
/// File name of the City-layout database.
pub(crate) const CITY_FILE: &str = "test-city.mmdb";
/// File name of the Country-layout database.
pub(crate) const COUNTRY_FILE: &str = "test-country.mmdb";
const CITY_TYPE: &str = "GSLB-Test-City";
const COUNTRY_TYPE: &str = "GSLB-Test-Country";

/// Every network with data. Addresses outside these have none.
const NETWORKS: [(&str, Place); 17] = [
    ("198.51.100.0/26", ASHBURN),
    ("198.51.100.64/26", FRANKFURT),
    ("198.51.100.128/26", MUMBAI),
    ("198.51.100.192/26", SAO_PAULO),
    ("203.0.113.0/25", PARIS),
    ("203.0.113.128/25", TOKYO),
    ("100.64.1.0/24", LONDON),
    ("100.64.2.0/24", SOUTH_AFRICA),
    ("100.64.3.0/24", EUROPE_ONLY),
    // Loopback sources, so tests can query from a bound 127.0.x.y without ECS.
    ("127.0.1.0/24", SAN_FRANCISCO),
    ("127.0.2.0/24", FRANKFURT),
    ("127.0.3.0/24", MUMBAI),
    ("127.0.4.0/24", SYDNEY),
    ("2001:db8:1::/48", ASHBURN),
    ("2001:db8:2::/48", FRANKFURT),
    ("2001:db8:3::/48", MUMBAI),
    ("2001:db8:4::/48", SAO_PAULO),
];

/// What one network's record says.
struct Place {
    continent: Area,
    country: Option<Area>,
    /// MaxMind's form: the code after the dash (`VA` for US-VA).
    subdivision: Option<Area>,
    city: Option<Town>,
}

/// A continent, country or subdivision.
struct Area {
    code: &'static str,
    geoname_id: u32,
    name: &'static str,
}

struct Town {
    geoname_id: u32,
    name: &'static str,
    lat: f64,
    lon: f64,
    time_zone: &'static str,
}

const fn area(code: &'static str, geoname_id: u32, name: &'static str) -> Area {
    Area {
        code,
        geoname_id,
        name,
    }
}

const fn town(geoname_id: u32, name: &'static str, lat: f64, lon: f64, tz: &'static str) -> Town {
    Town {
        geoname_id,
        name,
        lat,
        lon,
        time_zone: tz,
    }
}

const fn city(continent: Area, country: Area, subdivision: Area, town: Town) -> Place {
    Place {
        continent,
        country: Some(country),
        subdivision: Some(subdivision),
        city: Some(town),
    }
}

const AFRICA: Area = area("AF", 6_255_146, "Africa");
const ASIA: Area = area("AS", 6_255_147, "Asia");
const EUROPE: Area = area("EU", 6_255_148, "Europe");
const NORTH_AMERICA: Area = area("NA", 6_255_149, "North America");
const SOUTH_AMERICA: Area = area("SA", 6_255_150, "South America");
const OCEANIA: Area = area("OC", 6_255_151, "Oceania");

const ASHBURN: Place = city(
    NORTH_AMERICA,
    area("US", 6_252_001, "United States"),
    area("VA", 6_254_928, "Virginia"),
    town(4_744_870, "Ashburn", 39.04, -77.49, "America/New_York"),
);
const FRANKFURT: Place = city(
    EUROPE,
    area("DE", 2_921_044, "Germany"),
    area("HE", 2_905_330, "Hesse"),
    town(2_925_533, "Frankfurt am Main", 50.11, 8.68, "Europe/Berlin"),
);
const MUMBAI: Place = city(
    ASIA,
    area("IN", 1_269_750, "India"),
    area("MH", 1_264_418, "Maharashtra"),
    town(1_275_339, "Mumbai", 19.08, 72.88, "Asia/Kolkata"),
);
const SAO_PAULO: Place = city(
    SOUTH_AMERICA,
    area("BR", 3_469_034, "Brazil"),
    area("SP", 3_448_433, "São Paulo"),
    town(3_448_439, "São Paulo", -23.55, -46.63, "America/Sao_Paulo"),
);
const PARIS: Place = city(
    EUROPE,
    area("FR", 3_017_382, "France"),
    area("IDF", 3_012_874, "Île-de-France"),
    town(2_988_507, "Paris", 48.86, 2.35, "Europe/Paris"),
);
const TOKYO: Place = city(
    ASIA,
    area("JP", 1_861_060, "Japan"),
    area("13", 1_850_144, "Tokyo"),
    town(1_850_147, "Tokyo", 35.68, 139.69, "Asia/Tokyo"),
);
const LONDON: Place = city(
    EUROPE,
    area("GB", 2_635_167, "United Kingdom"),
    area("ENG", 6_269_131, "England"),
    town(2_643_743, "London", 51.51, -0.13, "Europe/London"),
);
const SAN_FRANCISCO: Place = city(
    NORTH_AMERICA,
    area("US", 6_252_001, "United States"),
    area("CA", 5_332_921, "California"),
    town(
        5_391_959,
        "San Francisco",
        37.77,
        -122.42,
        "America/Los_Angeles",
    ),
);
const SYDNEY: Place = city(
    OCEANIA,
    area("AU", 2_077_456, "Australia"),
    area("NSW", 2_155_400, "New South Wales"),
    town(2_147_714, "Sydney", -33.87, 151.21, "Australia/Sydney"),
);
/// Country known, nothing finer: selection must cope without coordinates.
const SOUTH_AFRICA: Place = Place {
    continent: AFRICA,
    country: Some(area("ZA", 953_987, "South Africa")),
    subdivision: None,
    city: None,
};
/// Only the continent is known.
const EUROPE_ONLY: Place = Place {
    continent: EUROPE,
    country: None,
    subdivision: None,
    city: None,
};

/// Writes `test-city.mmdb` and `test-country.mmdb` into `dir`, creating it if needed.
pub(crate) fn write_databases(dir: &Path) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(dir)?;
    let mut city = writer(CITY_TYPE, "gslb test database, GeoIP2 City layout");
    let mut country = writer(COUNTRY_TYPE, "gslb test database, GeoIP2 Country layout");
    for (network, place) in &NETWORKS {
        let network: IpNet = network.parse()?;
        city.insert(network, &CityRecord::from(place))?;
        country.insert(network, &CountryRecord::from(place))?;
    }
    std::fs::write(dir.join(CITY_FILE), city.to_bytes()?)?;
    std::fs::write(dir.join(COUNTRY_FILE), country.to_bytes()?)?;
    Ok(())
}

/// An IPv6 tree (IPv4 networks live under ::/96, with the usual aliases) and a fixed
/// build time.
fn writer(database_type: &str, description: &str) -> Writer {
    Writer::builder(database_type)
        .description(&[("en", description)])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(BUILD_EPOCH))
        .build()
}

type Names = BTreeMap<&'static str, &'static str>;

fn names(name: &'static str) -> Names {
    BTreeMap::from([("en", name)])
}

#[derive(Serialize)]
struct CityRecord {
    city: Option<NamedRecord>,
    continent: CodedRecord,
    country: Option<IsoRecord>,
    location: Option<LocationRecord>,
    registered_country: Option<IsoRecord>,
    subdivisions: Option<[IsoRecord; 1]>,
}

#[derive(Serialize)]
struct CountryRecord {
    continent: CodedRecord,
    country: Option<IsoRecord>,
    registered_country: Option<IsoRecord>,
}

#[derive(Serialize)]
struct NamedRecord {
    geoname_id: u32,
    names: Names,
}

#[derive(Serialize)]
struct CodedRecord {
    code: &'static str,
    geoname_id: u32,
    names: Names,
}

#[derive(Serialize)]
struct IsoRecord {
    geoname_id: u32,
    iso_code: &'static str,
    names: Names,
}

#[derive(Serialize)]
struct LocationRecord {
    accuracy_radius: u16,
    latitude: f64,
    longitude: f64,
    time_zone: &'static str,
}

impl From<&Area> for CodedRecord {
    fn from(area: &Area) -> Self {
        Self {
            code: area.code,
            geoname_id: area.geoname_id,
            names: names(area.name),
        }
    }
}

impl From<&Area> for IsoRecord {
    fn from(area: &Area) -> Self {
        Self {
            geoname_id: area.geoname_id,
            iso_code: area.code,
            names: names(area.name),
        }
    }
}

impl From<&Place> for CityRecord {
    fn from(place: &Place) -> Self {
        Self {
            city: place.city.as_ref().map(|town| NamedRecord {
                geoname_id: town.geoname_id,
                names: names(town.name),
            }),
            continent: CodedRecord::from(&place.continent),
            country: place.country.as_ref().map(IsoRecord::from),
            location: place.city.as_ref().map(|town| LocationRecord {
                accuracy_radius: 20,
                latitude: town.lat,
                longitude: town.lon,
                time_zone: town.time_zone,
            }),
            registered_country: place.country.as_ref().map(IsoRecord::from),
            subdivisions: place.subdivision.as_ref().map(|sub| [IsoRecord::from(sub)]),
        }
    }
}

impl From<&Place> for CountryRecord {
    fn from(place: &Place) -> Self {
        Self {
            continent: CodedRecord::from(&place.continent),
            country: place.country.as_ref().map(IsoRecord::from),
            registered_country: place.country.as_ref().map(IsoRecord::from),
        }
    }
}
