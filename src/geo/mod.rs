//! Client location: GeoIP lookups and the geographic codes config uses.
//!
//! # What this module owns
//!
//! - [`Continent`], [`Country`], [`Subdivision`]: validated, `Copy` codes that config scopes
//!   and database records are both turned into, so matching is a plain `==`.
//! - [`Coordinates`] and the great-circle distance that nearest-site selection ranks by.
//! - [`GeoDb`]: an opened MaxMind (GeoIP2/GeoLite2 City or Country) database, and
//!   [`GeoDb::locate`], which turns a client address into a [`Located`]: the [`Location`]
//!   plus the prefix length the answer is valid for (the ECS scope, RFC 7871).
//!
//! # What it does not
//!
//! It picks no answers (that is `select`), reads no ECS option (that is `dns`), and does not
//! watch or reload database files: whoever owns the file (`config`, whose loads read it and
//! whose reload task watches it) opens a new [`GeoDb`] and swaps it in. Lookups never fail; an address the database knows nothing about is simply located
//! nowhere.
//!
//! The test databases under `geoip/` and their generator are described in
//! `geoip/README.md`.

mod client;
mod code;
mod mmdb;

pub use client::{ClientLocated, locate_client};
pub use code::{Continent, Country, Subdivision};
pub use mmdb::{GeoDb, GeoError, LocateCache};

/// A point on the globe in decimal degrees, as GeoIP databases give it: lets selection pick
/// the nearest site when no region scope matches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coordinates {
    /// Latitude in degrees, -90 (south) to 90 (north).
    pub lat: f64,
    /// Longitude in degrees, -180 (west) to 180 (east).
    pub lon: f64,
}

/// Mean Earth radius (IUGG), the usual constant for haversine distances.
const EARTH_RADIUS_KM: f64 = 6371.0088;

impl Coordinates {
    /// Checked constructor for coordinates from a database or config: rejects NaN and values
    /// outside -90..=90 / -180..=180, which only damaged data holds.
    pub fn new(lat: f64, lon: f64) -> Option<Self> {
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some(Self { lat, lon })
    }

    /// Great-circle (haversine) distance in km, to rank sites by how far they are from the
    /// client. Accurate to about 0.5% (the Earth is not a sphere), which is plenty for that.
    pub fn distance_km(&self, other: &Self) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let half_dlat = (lat2 - lat1) / 2.0;
        let half_dlon = (other.lon - self.lon).to_radians() / 2.0;
        let a = half_dlat.sin().powi(2) + lat1.cos() * lat2.cos() * half_dlon.sin().powi(2);
        // Rounding can push `a` a hair past 1 for antipodes; asin would return NaN.
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// Where a client is, as far as answer selection cares. All fields are optional: a
/// database may know only a continent, or nothing at all.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Location {
    /// Matches continent scopes, and is the fallback when nothing finer matches.
    pub continent: Option<Continent>,
    /// Matches country scopes.
    pub country: Option<Country>,
    /// Matches subdivision scopes (US-CA). Only set together with `country`, and always
    /// inside it.
    pub subdivision: Option<Subdivision>,
    /// Ranks sites by distance when no scope matches.
    pub coordinates: Option<Coordinates>,
}

/// A lookup result: the location and the prefix length of the database network that holds
/// the address. The prefix becomes the EDNS Client Subnet scope prefix (RFC 7871), telling
/// resolvers how widely they may reuse the answer.
///
/// For an IPv4 address (including an IPv4-mapped IPv6 one) the prefix is an IPv4 length
/// (0..=32) even when the database is IPv6-structured. For an address the database has no
/// data for, it is the length of the empty network that contains the address.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Located {
    /// Where the client is; all `None` when the database has no data.
    pub location: Location,
    /// How many leading address bits the location depends on.
    pub prefix_len: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRANKFURT: Coordinates = Coordinates {
        lat: 50.11,
        lon: 8.68,
    };
    const ASHBURN: Coordinates = Coordinates {
        lat: 39.04,
        lon: -77.49,
    };

    #[test]
    fn distance_frankfurt_ashburn() {
        let km = FRANKFURT.distance_km(&ASHBURN);
        assert!((km - 6500.0).abs() < 6500.0 * 0.02, "{km}");
        assert!((km - ASHBURN.distance_km(&FRANKFURT)).abs() < 1e-9);
    }

    #[test]
    fn distance_zero_and_antipodes() {
        assert_eq!(FRANKFURT.distance_km(&FRANKFURT), 0.0);
        let half_circumference = std::f64::consts::PI * EARTH_RADIUS_KM;
        let antipode = Coordinates {
            lat: -FRANKFURT.lat,
            lon: FRANKFURT.lon - 180.0,
        };
        let km = FRANKFURT.distance_km(&antipode);
        // asin is ill-conditioned at 1: allow a metre.
        assert!((km - half_circumference).abs() < 1e-3, "{km}");
        let poles = Coordinates {
            lat: 90.0,
            lon: 0.0,
        }
        .distance_km(&Coordinates {
            lat: -90.0,
            lon: 0.0,
        });
        assert!((poles - half_circumference).abs() < 1e-3, "{poles}");
    }

    #[test]
    fn checked_coordinates() {
        assert_eq!(Coordinates::new(50.11, 8.68), Some(FRANKFURT));
        assert_eq!(Coordinates::new(-90.0, 180.0).map(|c| c.lat), Some(-90.0));
        for (lat, lon) in [
            (90.1, 0.0),
            (0.0, -180.5),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert_eq!(Coordinates::new(lat, lon), None, "{lat} {lon}");
        }
    }
}
