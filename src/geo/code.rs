//! The geographic codes config and GeoIP databases share: continents, countries and
//! country subdivisions.
//!
//! Each code is a small `Copy` value (2 to 5 bytes, no heap) so a [`Location`] can be built
//! per query and compared against config without allocating. Parsing accepts any case and
//! only real codes; `Display` gives the canonical uppercase form. This module knows nothing
//! about databases or selection.
//!
//! [`Location`]: super::Location

use std::fmt;

/// ISO continent code as MaxMind uses it: AF AN AS EU NA OC SA.
///
/// Continents are the coarsest geo scope config can name, and the one every GeoIP record
/// carries, so a fallback from country to continent is always possible.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Continent([u8; 2]);

/// The seven continent codes of GeoNames, which MaxMind databases use.
const CONTINENTS: [[u8; 2]; 7] = [*b"AF", *b"AN", *b"AS", *b"EU", *b"NA", *b"OC", *b"SA"];

impl Continent {
    /// Parses a continent code such as `eu` or `EU`; `None` for anything else, so a typo in
    /// config is an error rather than a scope no client ever matches.
    pub fn parse(s: &str) -> Option<Self> {
        let code = upper_pair(s)?;
        CONTINENTS.contains(&code).then_some(Self(code))
    }

    /// The canonical uppercase code, e.g. for metric labels.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }
}

/// ISO 3166-1 alpha-2 country code: one of the 249 officially assigned codes, or XK
/// (Kosovo, a user-assigned code that MaxMind databases use).
///
/// Only assigned codes parse, so config cannot name a country no database will return.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a country code such as `de` or `DE`; `None` unless the code is assigned
    /// (or XK).
    pub fn parse(s: &str) -> Option<Self> {
        let code = upper_pair(s)?;
        COUNTRIES.binary_search(&code).ok().map(|_| Self(code))
    }

    /// The canonical uppercase code, e.g. for metric labels.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }
}

/// ISO 3166-2 subdivision such as `US-CA` or `JP-13`: a [`Country`], `-`, then 1 to 3 ASCII
/// letters or digits.
///
/// Config can steer clients by state or province. The part after the dash is checked for
/// shape only: the full ISO 3166-2 list changes too often to embed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subdivision {
    /// The country the subdivision belongs to, so a subdivision scope implies its country.
    country: Country,
    /// The uppercase code after the dash, padded with NUL bytes (which sort first, so
    /// `US-C` orders before `US-CA`).
    code: [u8; 3],
}

impl Subdivision {
    /// Parses a full code such as `us-ca` or `US-CA`.
    pub fn parse(s: &str) -> Option<Self> {
        let (country, code) = s.split_once('-')?;
        Self::new(Country::parse(country)?, code)
    }

    /// Builds a subdivision from its country and the code after the dash (`CA` for
    /// `US-CA`), which is how MaxMind databases store it.
    pub fn new(country: Country, code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        if bytes.is_empty() || bytes.len() > 3 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let mut packed = [0; 3];
        for (slot, byte) in packed.iter_mut().zip(bytes) {
            *slot = byte.to_ascii_uppercase();
        }
        Some(Self {
            country,
            code: packed,
        })
    }

    /// The country the subdivision is in, for matching a country scope.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The uppercase code after the dash (`CA` for `US-CA`).
    pub fn code(&self) -> &str {
        let len = self.code.iter().take_while(|&&b| b != 0).count();
        ascii_str(&self.code[..len])
    }
}

/// Uppercases a two-letter code; `None` unless `s` is exactly two ASCII letters.
fn upper_pair(s: &str) -> Option<[u8; 2]> {
    match s.as_bytes() {
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// Views code bytes as text.
fn ascii_str(bytes: &[u8]) -> &str {
    // Every constructor in this module stores ASCII letters and digits only, so the bytes
    // are always valid UTF-8.
    std::str::from_utf8(bytes).expect("codes hold ASCII only")
}

impl fmt::Display for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Display for Subdivision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.country, self.code())
    }
}

impl fmt::Debug for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Continent({self})")
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({self})")
    }
}

impl fmt::Debug for Subdivision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subdivision({self})")
    }
}

/// ISO 3166-1 alpha-2: the 249 officially assigned codes plus XK, sorted for binary search.
/// Source: the ISO 3166 table shipped with tzdata (iso3166.tab), which matches the
/// iso-codes package.
const COUNTRIES: [[u8; 2]; 250] = [
    *b"AD", *b"AE", *b"AF", *b"AG", *b"AI", *b"AL", *b"AM", *b"AO", *b"AQ", *b"AR", *b"AS", *b"AT",
    *b"AU", *b"AW", *b"AX", *b"AZ", *b"BA", *b"BB", *b"BD", *b"BE", *b"BF", *b"BG", *b"BH", *b"BI",
    *b"BJ", *b"BL", *b"BM", *b"BN", *b"BO", *b"BQ", *b"BR", *b"BS", *b"BT", *b"BV", *b"BW", *b"BY",
    *b"BZ", *b"CA", *b"CC", *b"CD", *b"CF", *b"CG", *b"CH", *b"CI", *b"CK", *b"CL", *b"CM", *b"CN",
    *b"CO", *b"CR", *b"CU", *b"CV", *b"CW", *b"CX", *b"CY", *b"CZ", *b"DE", *b"DJ", *b"DK", *b"DM",
    *b"DO", *b"DZ", *b"EC", *b"EE", *b"EG", *b"EH", *b"ER", *b"ES", *b"ET", *b"FI", *b"FJ", *b"FK",
    *b"FM", *b"FO", *b"FR", *b"GA", *b"GB", *b"GD", *b"GE", *b"GF", *b"GG", *b"GH", *b"GI", *b"GL",
    *b"GM", *b"GN", *b"GP", *b"GQ", *b"GR", *b"GS", *b"GT", *b"GU", *b"GW", *b"GY", *b"HK", *b"HM",
    *b"HN", *b"HR", *b"HT", *b"HU", *b"ID", *b"IE", *b"IL", *b"IM", *b"IN", *b"IO", *b"IQ", *b"IR",
    *b"IS", *b"IT", *b"JE", *b"JM", *b"JO", *b"JP", *b"KE", *b"KG", *b"KH", *b"KI", *b"KM", *b"KN",
    *b"KP", *b"KR", *b"KW", *b"KY", *b"KZ", *b"LA", *b"LB", *b"LC", *b"LI", *b"LK", *b"LR", *b"LS",
    *b"LT", *b"LU", *b"LV", *b"LY", *b"MA", *b"MC", *b"MD", *b"ME", *b"MF", *b"MG", *b"MH", *b"MK",
    *b"ML", *b"MM", *b"MN", *b"MO", *b"MP", *b"MQ", *b"MR", *b"MS", *b"MT", *b"MU", *b"MV", *b"MW",
    *b"MX", *b"MY", *b"MZ", *b"NA", *b"NC", *b"NE", *b"NF", *b"NG", *b"NI", *b"NL", *b"NO", *b"NP",
    *b"NR", *b"NU", *b"NZ", *b"OM", *b"PA", *b"PE", *b"PF", *b"PG", *b"PH", *b"PK", *b"PL", *b"PM",
    *b"PN", *b"PR", *b"PS", *b"PT", *b"PW", *b"PY", *b"QA", *b"RE", *b"RO", *b"RS", *b"RU", *b"RW",
    *b"SA", *b"SB", *b"SC", *b"SD", *b"SE", *b"SG", *b"SH", *b"SI", *b"SJ", *b"SK", *b"SL", *b"SM",
    *b"SN", *b"SO", *b"SR", *b"SS", *b"ST", *b"SV", *b"SX", *b"SY", *b"SZ", *b"TC", *b"TD", *b"TF",
    *b"TG", *b"TH", *b"TJ", *b"TK", *b"TL", *b"TM", *b"TN", *b"TO", *b"TR", *b"TT", *b"TV", *b"TW",
    *b"TZ", *b"UA", *b"UG", *b"UM", *b"US", *b"UY", *b"UZ", *b"VA", *b"VC", *b"VE", *b"VG", *b"VI",
    *b"VN", *b"VU", *b"WF", *b"WS", *b"XK", *b"YE", *b"YT", *b"ZA", *b"ZM", *b"ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_table_is_sorted_and_complete() {
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(COUNTRIES.len(), 249 + 1);
    }

    #[test]
    fn continents() {
        for code in ["AF", "AN", "AS", "EU", "NA", "OC", "SA"] {
            let continent = Continent::parse(code);
            assert_eq!(continent.map(|c| c.to_string()), Some(code.to_owned()));
        }
        assert_eq!(Continent::parse("eu"), Continent::parse("EU"));
        assert_eq!(
            Continent::parse("Oc").map(|c| c.to_string()).as_deref(),
            Some("OC")
        );
        for bad in ["", "E", "EUR", "AP", "ZZ", "E1", "é", "EU "] {
            assert_eq!(Continent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn countries() {
        for code in ["DE", "US", "JP", "XK", "AQ", "ZW", "AD"] {
            let country = Country::parse(code);
            assert_eq!(country.map(|c| c.to_string()), Some(code.to_owned()));
        }
        assert_eq!(Country::parse("de"), Country::parse("DE"));
        for bad in ["", "D", "DEU", "ZZ", "UK", "EU", "AA", "D1", "ÄÖ", "-D"] {
            assert_eq!(Country::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn subdivisions() {
        for code in [
            "US-CA", "JP-13", "FR-IDF", "GB-ENG", "AU-NSW", "DE-HE", "XK-1",
        ] {
            let sub = Subdivision::parse(code);
            assert_eq!(sub.map(|s| s.to_string()), Some(code.to_owned()));
        }
        let ca = Subdivision::parse("us-ca");
        assert_eq!(ca.map(|s| s.to_string()).as_deref(), Some("US-CA"));
        assert_eq!(ca.map(|s| s.country()), Country::parse("US"));
        assert_eq!(ca.map(|s| s.code().to_owned()).as_deref(), Some("CA"));
        for bad in [
            "US", "US-", "US-CALI", "ZZ-CA", "US-C A", "US_CA", "-CA", "US-CA-X",
        ] {
            assert_eq!(Subdivision::parse(bad), None, "{bad:?}");
        }
        let us = Country::parse("US");
        assert_eq!(us.and_then(|us| Subdivision::new(us, "ca")), ca);
        assert_eq!(us.and_then(|us| Subdivision::new(us, "")), None);
    }

    #[test]
    fn display_round_trip_and_order() {
        let sub = Subdivision::parse("US-C");
        let longer = Subdivision::parse("US-CA");
        assert!(sub < longer);
        for code in ["US-C", "US-CA", "JP-13"] {
            let parsed = Subdivision::parse(code);
            let again = parsed.and_then(|s| Subdivision::parse(&s.to_string()));
            assert_eq!(parsed, again);
        }
        assert_eq!(format!("{:?}", Country::parse("de")), "Some(Country(DE))");
        let eu = Continent::parse("eu").expect("EU is a continent");
        assert_eq!(format!("{eu:>4}|{eu:?}"), "  EU|Continent(EU)");
    }
}
