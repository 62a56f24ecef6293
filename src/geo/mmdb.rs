//! [`GeoDb`]: client location from a MaxMind DB file (GeoIP2/GeoLite2 City or Country, or
//! anything with the same field names).
//!
//! The whole file is read into memory at open, so a later change to the file cannot affect
//! an open database: reload by opening the new file and swapping the `GeoDb`. A lookup walks
//! the search tree and decodes only the fields selection uses, borrowed from the file
//! buffer, with no allocation.

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader};
use serde::Deserialize;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use tracing::debug;

use super::{Continent, Coordinates, Country, Located, Location, Subdivision};

/// An opened GeoIP2/GeoLite2 City or Country database. Country databases have no
/// subdivisions or coordinates, so those stay `None`; other layouts are accepted and
/// whatever of the fields they have is read.
pub struct GeoDb {
    /// The file's bytes and parsed metadata. `Reader` is `Send + Sync` and lookups take
    /// `&self`, so one `GeoDb` serves every query thread.
    reader: Reader<Vec<u8>>,
    /// Unique per opened database, so a [`LocateCache`] never serves a record of an
    /// older file after a reload.
    id: u64,
}

/// Slots of each table of a [`LocateCache`] (a power of two).
const CACHE_SLOTS: usize = 1024;

/// A per-thread memo of lookups, in two direct-mapped tables: by client address (ECS
/// addresses are truncated to their /24 or /56, so resolvers repeat them: a hit skips
/// the search-tree walk and the decode) and by record offset (a record many networks
/// share, every address of a city, is decoded once). Fixed size: no allocation after
/// creation, no lock; a miss overwrites its slot. Entries carry the database's id, so
/// a reload never serves a record of the old file.
#[derive(Debug)]
pub struct LocateCache {
    by_addr: Box<[Option<(u64, IpAddr, Located)>; CACHE_SLOTS]>,
    by_record: Box<[Option<(u64, usize, Location)>; CACHE_SLOTS]>,
}

impl Default for LocateCache {
    fn default() -> Self {
        Self {
            by_addr: Box::new([None; CACHE_SLOTS]),
            by_record: Box::new([None; CACHE_SLOTS]),
        }
    }
}

/// A slot for `value`: multiplicative hashing, high bits.
fn slot(value: u64) -> usize {
    (value.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_SLOTS.trailing_zeros())) as usize
}

fn addr_key(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            (bits >> 64) as u64 ^ (bits as u64).rotate_left(29)
        }
    }
}

/// Source of [`GeoDb::id`].
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why a GeoIP database could not be opened. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read (missing, permissions, I/O).
    #[error("cannot read GeoIP database {}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid MaxMind DB (truncated, wrong format, bad metadata).
    #[error("invalid GeoIP database {}", path.display())]
    Invalid {
        /// The file that was read.
        path: PathBuf,
        /// What the MaxMind DB reader rejected.
        #[source]
        source: MaxMindDbError,
    },
}

impl GeoDb {
    /// Reads the database at `path` into memory and checks its metadata and layout.
    ///
    /// # Errors
    ///
    /// [`GeoError::Read`] if the file cannot be read, [`GeoError::Invalid`] if it is not a
    /// MaxMind DB. Both name the path.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let bytes = std::fs::read(path).map_err(|source| GeoError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(path, bytes)
    }

    /// A database from the bytes of the file at `path` (read by the caller,
    /// which keeps what it read for change detection).
    ///
    /// # Errors
    ///
    /// [`GeoError::Invalid`], naming `path`, if the bytes are not a MaxMind DB.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Invalid {
            path: path.to_owned(),
            source,
        })?;
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Self { reader, id })
    }

    /// The database's own name for its layout (`GeoLite2-City`, `GeoIP2-Country`, ...), for
    /// logs and `/status`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// When the database was built (Unix seconds), so operators can see how stale it is.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// Locates a client address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up
    /// as IPv4.
    ///
    /// Never fails: a lookup error, or an address family the database lacks, gives
    /// `Location::default()` with prefix length 0. A record that does not decode gives
    /// `Location::default()` with the network's prefix length.
    pub fn locate(&self, ip: IpAddr) -> Located {
        self.locate_cached(ip, None)
    }

    /// [`locate`](Self::locate), reusing records decoded earlier on this thread.
    pub fn locate_with(&self, ip: IpAddr, cache: &mut LocateCache) -> Located {
        self.locate_cached(ip, Some(cache))
    }

    fn locate_cached(&self, ip: IpAddr, mut cache: Option<&mut LocateCache>) -> Located {
        let ip = ip.to_canonical();
        let at = slot(addr_key(ip));
        if let Some(cache) = cache.as_deref()
            && let Some((id, cached_ip, located)) = cache.by_addr[at]
            && id == self.id
            && cached_ip == ip
        {
            return located;
        }
        let located = self
            .try_locate(ip, cache.as_deref_mut())
            .unwrap_or_else(|error| {
                debug!(%error, client = %ip, "GeoIP lookup failed");
                Located::default()
            });
        if let Some(cache) = cache {
            cache.by_addr[at] = Some((self.id, ip, located));
        }
        located
    }

    fn try_locate(
        &self,
        ip: IpAddr,
        cache: Option<&mut LocateCache>,
    ) -> Result<Located, MaxMindDbError> {
        let result = self.reader.lookup(ip)?;
        let network = result.network()?;
        // An IPv4 address can only get an IPv6 network when the database has no IPv4
        // subtree: one record then covers all of IPv4.
        let prefix_len = if ip.is_ipv4() && network.is_ipv6() {
            0
        } else {
            network.prefix()
        };
        let decode = || match result.decode::<Record<'_>>() {
            Ok(record) => record.map(Record::location).unwrap_or_default(),
            Err(error) => {
                debug!(%error, client = %ip, "GeoIP record does not decode");
                Location::default()
            }
        };
        let location = match (cache, result.offset()) {
            (Some(cache), Some(offset)) => {
                let at = slot(offset as u64);
                match cache.by_record[at] {
                    Some((id, cached, location)) if id == self.id && cached == offset => location,
                    _ => {
                        let location = decode();
                        cache.by_record[at] = Some((self.id, offset, location));
                        location
                    }
                }
            }
            _ => decode(),
        };
        Ok(Located {
            location,
            prefix_len,
        })
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metadata = self.reader.metadata();
        f.debug_struct("GeoDb")
            .field("database_type", &metadata.database_type)
            .field("build_epoch", &metadata.build_epoch)
            .field("ip_version", &metadata.ip_version)
            .field("node_count", &metadata.node_count)
            .finish()
    }
}

/// The part of a GeoIP2 City/Country record that selection uses. Strings borrow from the
/// database buffer; every other field is skipped without decoding it.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    continent: Option<ContinentField<'a>>,
    #[serde(borrow)]
    country: Option<IsoField<'a>>,
    #[serde(borrow)]
    subdivisions: Option<First<IsoField<'a>>>,
    location: Option<LocationField>,
}

#[derive(Deserialize)]
struct ContinentField<'a> {
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoField<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct LocationField {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl Record<'_> {
    /// Keeps what parses: an unknown code drops that one field, not the whole location.
    fn location(self) -> Location {
        let continent = self
            .continent
            .and_then(|c| c.code)
            .and_then(Continent::parse);
        let country = self
            .country
            .and_then(|c| c.iso_code)
            .and_then(Country::parse);
        let subdivision = self
            .subdivisions
            .and_then(|First(first)| first)
            .and_then(|s| s.iso_code)
            .zip(country)
            .and_then(|(code, country)| subdivision(country, code));
        let coordinates = self
            .location
            .and_then(|l| Coordinates::new(l.latitude?, l.longitude?));
        Location {
            continent,
            country,
            subdivision,
            coordinates,
        }
    }
}

/// MaxMind stores `CA` for US-CA; accept the full `US-CA` form too, if its country agrees.
fn subdivision(country: Country, code: &str) -> Option<Subdivision> {
    match Subdivision::new(country, code) {
        Some(sub) => Some(sub),
        None => Subdivision::parse(code).filter(|sub| sub.country() == country),
    }
}

/// The first element of an array, skipping the rest without a `Vec`: MaxMind lists
/// subdivisions largest first, and selection uses only the largest.
struct First<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(FirstVisitor(PhantomData))
    }
}

struct FirstVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
    type Value = First<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(First(first))
    }
}

#[cfg(test)]
mod tests;
