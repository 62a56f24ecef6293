//! The answer table: everything a DNS query needs, compiled from a validated
//! config into flat, immutable, lower-cased structures, and the [`Snapshot`]
//! that pairs it with the current health.
//!
//! The table writer task ([`writer`]) is the only writer: it publishes a
//! whole new `Snapshot` with one `ArcSwap::store`. A health flip or an
//! override shares the compiled [`Table`] (`Arc`) and replaces only the
//! health part, so it costs the same for 10 records or 100,000.

pub mod clock;
pub(crate) mod compile;
pub mod ddns;
pub mod declared;
pub mod keyring;
pub mod liveness;
pub mod overrides;
pub mod replay;
pub mod resolved;
pub mod rrset;
pub mod shared;
pub mod state_file;
mod statics;
/// The snapshot writer task.
pub mod writer;

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
};

use arc_swap::ArcSwap;

use crate::geo::{Coordinates, GeoDb};
use crate::metrics::{Metrics, TableCounters};
use crate::model::{Fallback, GeoScope, HealthCheck};
use crate::name::Name;
use crate::rrl::RateLimiter;
use liveness::Liveness;

pub use compile::compile;
use rrset::{RrSet, RrSets};

/// Address family of a query and of targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// A records.
    V4 = 0,
    /// AAAA records.
    V6 = 1,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }
}

/// Marks a target that has no health check.
pub const NO_PROBE: u32 = u32::MAX;

/// One answerable address.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// The address answered.
    pub addr: IpAddr,
    /// Index of its probe in [`Table::probes`], or [`NO_PROBE`].
    pub probe: u32,
}

/// A compiled target set: one cluster's addresses for one record.
///
/// Kept small, since a table holds one per cluster of every record (3
/// million at a million records): the id, geo scope and health check are
/// shared between the sets that have the same ones, and the targets of
/// both families sit in one slice.
#[derive(Debug)]
pub struct Set {
    /// Id from the config, unique within the record; one allocation for
    /// every set of that id.
    pub id: Arc<str>,
    /// Index across all sets of the table: overrides and counters use it.
    pub index: u32,
    /// Relative share of answers.
    pub weight: u32,
    /// Failover tier, lower first.
    pub priority: u32,
    /// Clients the set is for; one allocation for every set of that scope.
    pub geo: Arc<GeoScope>,
    /// Where the cluster is.
    pub location: Option<Coordinates>,
    /// Targets, IPv4 first, then IPv6 from `v6_from`: see [`Set::targets`].
    targets: Box<[Target]>,
    /// Where the IPv6 targets start in `targets`.
    v6_from: u32,
    /// Name of its health check, for status output.
    pub health_check: Option<Arc<HealthCheck>>,
    /// Its slot in [`Table::aliases`] when it has hostname targets, else
    /// [`resolved::NO_ALIAS`]: its answerable targets are then in the
    /// snapshot's [`resolved::Resolved`], not in `targets`.
    pub alias: u32,
}

/// A compiled record.
#[derive(Debug)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// Index of its zone in [`Table::zones`].
    pub zone: u16,
    /// Answer TTL.
    pub ttl: u32,
    /// Most addresses per answer.
    pub answers: u16,
    /// Residency rule.
    pub fallback: Fallback,
    /// Its sets.
    pub sets: Box<[Set]>,
    /// Whether some set has `geo` or `location`: only then does the answer
    /// depend on the client's location (ECS scope, GeoIP lookups).
    pub geo_sensitive: bool,
}

impl Set {
    /// Its compiled targets of `family` (a set with hostname targets
    /// answers those of its alias slot: see `Liveness::targets`).
    #[inline]
    pub fn targets(&self, family: Family) -> &[Target] {
        let (v4, v6) = self.targets.split_at(self.v6_from as usize);
        match family {
            Family::V4 => v4,
            Family::V6 => v6,
        }
    }

    /// Its compiled targets of both families, IPv4 first.
    pub fn all_targets(&self) -> &[Target] {
        &self.targets
    }
}

impl Record {
    /// Whether any set has targets of `family`.
    pub fn has_family(&self, family: Family) -> bool {
        self.sets.iter().any(|s| !s.targets(family).is_empty())
    }
}

/// A name server of a zone, as written into NS answers.
#[derive(Debug)]
pub struct NameServer {
    /// Its name.
    pub name: Name,
    /// Length of its wire labels in front of the zone apex when it is
    /// inside the zone, so the NS data can point at the apex instead.
    pub labels_before_apex: Option<usize>,
    /// Index into [`Table::glue`] when gslb serves its addresses.
    pub glue: Option<u32>,
}

/// Addresses of a name server name that lies inside a served zone.
#[derive(Debug)]
pub struct Glue {
    /// Name server name.
    pub name: Name,
    /// Its IPv4 addresses.
    pub v4: Box<[Ipv4Addr]>,
    /// Its IPv6 addresses.
    pub v6: Box<[Ipv6Addr]>,
}

/// A compiled zone apex.
#[derive(Debug)]
pub struct Zone {
    /// Apex.
    pub origin: Name,
    /// TTL of SOA and NS.
    pub ttl: u32,
    /// Most TTL of answers that involve trouble (`zones[].degraded_ttl`).
    pub degraded_ttl: u32,
    /// SOA RDATA, names uncompressed.
    pub soa_rdata: Box<[u8]>,
    /// TTL of the SOA in negative answers: min(SOA TTL, minimum) (RFC 2308 §5).
    pub negative_ttl: u32,
    /// Apex NS.
    pub nameservers: Box<[NameServer]>,
    /// The zone's DNSSEC signer (keys and RRSIG cache) when it is signed.
    /// Kept across reloads that leave its keys and settings alone, so the
    /// cache stays warm ([`Table::keep_signers`]).
    pub signer: Option<Arc<crate::dnssec::Signer>>,
}

/// What exists at a name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameEntry {
    /// Zone the name is in.
    pub zone: u16,
    /// Whether the name is the zone apex.
    pub apex: bool,
    /// Record at the name.
    pub record: Option<u32>,
    /// Name server addresses at the name.
    pub glue: Option<u32>,
    /// Static RRsets at the name: index into [`Table::statics`].
    pub statics: Option<u32>,
    /// The delegation the name is at or below: index into [`Table::cuts`].
    /// gslb is not authoritative there and answers with a referral.
    pub cut: Option<u32>,
}

/// A delegation: static NS records below a zone apex. Queries at or below
/// it get a referral to the child zone's servers.
#[derive(Debug)]
pub struct Cut {
    /// The delegated name.
    pub name: Name,
    /// Its zone.
    pub zone: u16,
    /// The NS RRset.
    pub ns: RrSet,
    /// Addresses of the name servers that gslb holds (glue below the cut,
    /// static hosts and apex name servers elsewhere), in NS order: the
    /// index of the NS record whose target they belong to, and the A or
    /// AAAA RRset.
    pub glue: Box<[(u16, RrSet)]>,
    /// The child's DS RRset, when the config holds one: a signed zone
    /// answers it (signed) instead of proving there is none.
    pub ds: Option<RrSet>,
}

/// Where a query name falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The name exists (possibly as an empty non-terminal).
    Found(NameEntry),
    /// Inside zone `0`, but no such name.
    NxDomain(u16),
    /// No such name, but it lies below a delegation: the child zone's
    /// servers know.
    Referral {
        /// The zone holding the delegation.
        zone: u16,
        /// Index into [`Table::cuts`].
        cut: u32,
    },
    /// Outside every zone.
    Refused,
}

/// A health-checked address: what the prober dials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Probe {
    /// The check.
    pub check: Arc<HealthCheck>,
    /// The target address dialled.
    pub addr: IpAddr,
}

/// Everything compiled from one config.
#[derive(Debug)]
pub struct Table {
    /// Zones.
    pub zones: Box<[Zone]>,
    /// Records.
    pub records: Box<[Record]>,
    /// Name server addresses served.
    pub glue: Box<[Glue]>,
    /// Distinct (check, address) pairs; `Target::probe` indexes this.
    pub probes: Box<[Probe]>,
    /// Number of sets across all records.
    pub set_count: u32,
    /// Static RRsets, one entry per name that has any; [`NameEntry::statics`]
    /// indexes this.
    pub statics: Box<[RrSets]>,
    /// Delegations (static NS below an apex); [`NameEntry::cut`] indexes this.
    pub cuts: Box<[Cut]>,
    /// The sets with hostname targets.
    pub aliases: Box<[resolved::AliasSlot]>,
    /// Every existing name (records, apexes, glue and the empty
    /// non-terminals between them), keyed by lower-cased wire name.
    names: HashMap<Box<[u8]>, NameEntry, foldhash::fast::FixedState>,
    /// The TSIG keys of every zone's `updates`, for signed updates and
    /// signed queries.
    pub keyring: Arc<keyring::Keyring>,
    /// Whether some zone is signed: only then does a query with DO read
    /// the clock.
    pub signed: bool,
}

impl Table {
    /// Finds where a lower-cased wire name falls.
    pub fn lookup(&self, name: &[u8]) -> Lookup {
        if let Some(entry) = self.names.get(name) {
            return Lookup::Found(*entry);
        }
        // The closest existing ancestor tells the zone of an NXDOMAIN, or
        // the delegation the name lies below.
        let mut at = 0;
        while let Some(&len) = name.get(at) {
            if len == 0 {
                break;
            }
            at += 1 + usize::from(len);
            if let Some(entry) = self.names.get(&name[at..]) {
                return match entry.cut {
                    Some(cut) => Lookup::Referral {
                        zone: entry.zone,
                        cut,
                    },
                    None => Lookup::NxDomain(entry.zone),
                };
            }
        }
        Lookup::Refused
    }

    /// The hot-path counters of this table's zones and sets: a zone's are
    /// shared with the tables before that had it, and a set that `before`
    /// (the table being replaced and its counters) had by record name and
    /// set id carries its counts over. Answers counted on the old table
    /// between this copy and the publish of the new one are not carried: a
    /// reload misses the few answers of that moment.
    pub fn counters(
        &self,
        metrics: &Metrics,
        before: Option<(&Self, &TableCounters)>,
    ) -> TableCounters {
        let counters = metrics.counters_for(
            self.zones.iter().map(|z| z.origin.to_string()),
            self.set_count as usize,
        );
        let Some((old, old_counters)) = before else {
            return counters;
        };
        for record in self.records.iter() {
            let Some(was) = old.record(&record.name) else {
                continue;
            };
            for set in record.sets.iter() {
                let kept = was.sets.iter().find(|s| s.id == set.id);
                let from = kept.and_then(|s| old_counters.sets.get(s.index as usize));
                if let (Some(from), Some(to)) = (from, counters.sets.get(set.index as usize)) {
                    to.carry(from);
                }
            }
        }
        counters
    }

    /// Iterates every (record, set) with their indexes.
    pub fn sets(&self) -> impl Iterator<Item = (&Record, &Set)> {
        self.records
            .iter()
            .flat_map(|r| r.sets.iter().map(move |s| (r, s)))
    }

    /// The static RRsets at a lower-cased wire name.
    pub fn statics_at(&self, name: &[u8]) -> Option<&RrSets> {
        let index = self.names.get(name)?.statics?;
        self.statics.get(index as usize)
    }

    /// Finds a record by name.
    pub fn record(&self, name: &Name) -> Option<&Record> {
        let entry = self.names.get(name.wire())?;
        self.records.get(entry.record? as usize)
    }

    /// Takes over the signers of `previous` (the table being replaced)
    /// for zones whose keys and settings did not change, so their RRSIG
    /// caches stay warm across a reload.
    pub fn keep_signers(&mut self, previous: &Self) {
        for zone in self.zones.iter_mut() {
            let Some(signer) = &zone.signer else {
                continue;
            };
            if let Some(old) = previous
                .zones
                .iter()
                .filter_map(|z| z.signer.as_ref())
                .find(|old| old.same_as(&signer.zone, &signer.policy))
            {
                zone.signer = Some(old.clone());
            }
        }
    }
}

/// One consistent view for answering queries: a table, its health, and the
/// GeoIP database. Never mutated; replaced whole.
pub struct Snapshot {
    /// Increases with every publish.
    pub generation: u64,
    /// Compiled records; shared between snapshots of the same config.
    pub table: Arc<Table>,
    /// Where this table's query counters are.
    pub counters: Arc<TableCounters>,
    /// Probe results and overrides.
    pub health: Liveness,
    /// GeoIP database, if configured.
    pub geo: Option<Arc<GeoDb>>,
    /// Largest UDP response to EDNS clients.
    pub max_udp_payload: u16,
    /// Response rate limiting for UDP, when configured; the same limiter
    /// for as long as `server.rate_limit` does not change.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// Records added by dynamic updates, over `table`; shared between
    /// snapshots until an update changes them.
    pub dynamic: Arc<ddns::published::Dynamic>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("generation", &self.generation)
            .field("records", &self.table.records.len())
            .field("geo", &self.geo.is_some())
            .finish()
    }
}

/// The shared, lock-free handle readers load snapshots from. It can only
/// load: the table writer keeps the one handle that stores, so no reader
/// can publish a snapshot by mistake.
#[derive(Debug, Clone)]
pub struct SnapshotCell(Arc<ArcSwap<Snapshot>>);

impl SnapshotCell {
    /// A cell that holds `snapshot` for good, for tests, benches and the
    /// fuzzer: nothing can store into it.
    pub fn fixed(snapshot: Snapshot) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The snapshot being served: one atomic load, no reference count
    /// change (the hot path's way).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.0.load()
    }

    /// The snapshot being served, to keep past the current task step.
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }
}
