//! The addresses of hostname targets, as the DNS path sees them.
//!
//! A set with hostname targets is compiled with an alias slot
//! ([`AliasSlot`], `Set::alias`); its answerable targets (its IP targets
//! and the current addresses of its hostnames) live in the snapshot's
//! [`Resolved`], not in the compiled table. A resolution that changes
//! addresses therefore rebuilds only the slots of that hostname and
//! publishes, like a probe flip: the table (and its 100,000 records) is
//! shared, and the DNS path reads the slot with one extra index.
//!
//! Each resolved address is probed like an IP target. Its probe is the
//! set's check with the Host header and SNI defaulting to the record name
//! (an ingress behind a load balancer name routes by the served name, not
//! by the balancer's address); those probes get indexes after the table's
//! own ([`AliasBook`] hands them out and takes them back), and one more
//! index, [`AliasBook::expired_probe`], is always down: addresses whose
//! resolution failed for longer than `max_stale` carry it.

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use tokio::time::Instant;

use super::{Family, NO_PROBE, Probe, Table, Target, clock::CoarseClock};
use crate::model::HealthCheck;
use crate::name::Name;

/// `Set::alias` of a set without hostname targets.
pub const NO_ALIAS: u32 = u32::MAX;
/// `SlotTargets::origins` entry of an IP target.
pub const STATIC_ORIGIN: u16 = u16::MAX;

/// A compiled set with hostname targets.
#[derive(Debug)]
pub struct AliasSlot {
    /// Index of its record in `Table::records`.
    pub record: u32,
    /// Position of the set in its record.
    pub set: u32,
    /// Its hostname targets, in config order.
    pub hostnames: Box<[Name]>,
    /// The check its resolved addresses are probed with: the set's check,
    /// its Host and SNI defaulting to the record name.
    pub check: Option<Arc<HealthCheck>>,
}

/// What the writer last heard about a hostname: its addresses, until when
/// their upstream TTL runs, and whether they may still be answered (the
/// alias refresher's report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddrs {
    /// Current addresses, sorted.
    pub addrs: Arc<[IpAddr]>,
    /// When their upstream TTL runs out; `None` before the first answer.
    pub expires: Option<Instant>,
    /// False once resolution failed for longer than `max_stale`.
    pub usable: bool,
}

/// One alias set's targets now.
#[derive(Debug, Default)]
pub struct SlotTargets {
    /// By [`Family`], IP targets first, then each hostname's addresses.
    pub targets: [Box<[Target]>; 2],
    /// For `/status`: which hostname (index in `AliasSlot::hostnames`)
    /// each target came from, or [`STATIC_ORIGIN`].
    pub origins: [Box<[u16]>; 2],
    /// [`CoarseClock`] second at which the smallest upstream TTL of its
    /// usable hostnames runs out; `u32::MAX` when none has addresses.
    pub expires: u32,
}

/// The alias slots of one snapshot. Cloning shares everything.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    slots: Arc<[Arc<SlotTargets>]>,
    clock: Arc<CoarseClock>,
}

impl Resolved {
    /// The targets of slot `slot` of `family`; none for a slot that does
    /// not exist.
    #[inline]
    pub fn targets(&self, slot: u32, family: Family) -> &[Target] {
        match self.slots.get(slot as usize) {
            Some(slot) => &slot.targets[family as usize],
            None => &[],
        }
    }

    /// `ttl`, lowered to what remains of the upstream TTL of slot `slot`.
    #[inline]
    pub fn ttl(&self, slot: u32, ttl: u32) -> u32 {
        match self.slots.get(slot as usize) {
            Some(slot) if slot.expires != u32::MAX => ttl.min(self.clock.left(slot.expires)),
            _ => ttl,
        }
    }

    /// Slot `slot`, for status.
    pub fn slot(&self, slot: u32) -> Option<&SlotTargets> {
        self.slots.get(slot as usize).map(|s| &**s)
    }
}

/// The writer's bookkeeping for hostname targets: the last word on every
/// hostname, the slots built from it, and the probes of resolved addresses.
#[derive(Debug)]
pub struct AliasBook {
    clock: Arc<CoarseClock>,
    hosts: HashMap<Name, HostAddrs>,
    /// Slots that use each hostname.
    users: HashMap<Name, Vec<u32>>,
    slots: Vec<Arc<SlotTargets>>,
    /// The table's probe count: resolved-address probes come after it,
    /// the first being the always-down one.
    base: usize,
    probes: DynamicProbes,
}

/// Probe indexes handed out to resolved addresses, counted by use.
#[derive(Debug, Default)]
struct DynamicProbes {
    index: HashMap<Probe, (u32, u32)>,
    by_index: Vec<Option<Probe>>,
    free: Vec<u32>,
}

/// What [`AliasBook::apply`] changed about probes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProbeChanges {
    /// Probes that got an index: their bit starts at their last known
    /// state, or up.
    pub added: Vec<(usize, Probe)>,
    /// Probes no longer used by any slot.
    pub removed: Vec<Probe>,
}

impl ProbeChanges {
    /// Whether the prober's probe list changed.
    pub fn any(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

impl AliasBook {
    /// The book for `table`, starting from what is known of its hostnames
    /// (`known`: the previous book's, across a reload).
    pub fn new(
        table: &Table,
        clock: Arc<CoarseClock>,
        mut known: HashMap<Name, HostAddrs>,
    ) -> Self {
        let mut users: HashMap<Name, Vec<u32>> = HashMap::new();
        for (i, slot) in table.aliases.iter().enumerate() {
            for host in &slot.hostnames {
                let list = users.entry(host.clone()).or_default();
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        known.retain(|host, _| users.contains_key(host));
        let mut book = Self {
            clock,
            hosts: known,
            users,
            slots: Vec::with_capacity(table.aliases.len()),
            base: table.probes.len(),
            probes: DynamicProbes::default(),
        };
        let mut changes = ProbeChanges::default();
        for i in 0..table.aliases.len() {
            let built = book.build(table, i, &mut changes);
            book.slots.push(Arc::new(built));
        }
        book
    }

    /// The hostnames the table needs resolved, sorted.
    pub fn hostnames(&self) -> Arc<[Name]> {
        let mut names: Vec<Name> = self.users.keys().cloned().collect();
        names.sort();
        names.into()
    }

    /// What is known of each hostname, to carry across a reload.
    pub fn take_hosts(&mut self) -> HashMap<Name, HostAddrs> {
        std::mem::take(&mut self.hosts)
    }

    /// The slots for a snapshot.
    pub fn resolved(&self) -> Resolved {
        Resolved {
            slots: self.slots.iter().cloned().collect(),
            clock: self.clock.clone(),
        }
    }

    /// Records news about hostnames and rebuilds the slots that use them.
    /// News about hostnames the table does not use is ignored.
    pub fn apply(&mut self, table: &Table, news: Vec<(Name, HostAddrs)>) -> ProbeChanges {
        let mut touched: Vec<u32> = Vec::new();
        for (host, addrs) in news {
            let Some(users) = self.users.get(&host) else {
                continue;
            };
            touched.extend(users);
            self.hosts.insert(host, addrs);
        }
        touched.sort_unstable();
        touched.dedup();
        let mut changes = ProbeChanges::default();
        for i in touched {
            let i = i as usize;
            if i >= self.slots.len() {
                continue;
            }
            // Build before releasing: an address that stays keeps its
            // probe index, and so its probe state.
            let built = Arc::new(self.build(table, i, &mut changes));
            let old = std::mem::replace(&mut self.slots[i], built);
            self.release(&old, &mut changes);
        }
        // A probe one slot dropped and another took up in the same batch
        // is neither added nor removed.
        let probes = &self.probes;
        changes.removed.retain(|p| !probes.index.contains_key(p));
        changes
    }

    /// The always-down probe index of expired addresses.
    pub fn expired_probe(&self) -> usize {
        self.base
    }

    /// How many probe bits the snapshot needs: the table's, the expired
    /// one, and every index handed out.
    pub fn probe_bits(&self) -> usize {
        self.base + 1 + self.probes.by_index.len()
    }

    /// The bit index of a resolved address's probe.
    pub fn probe_index(&self, probe: &Probe) -> Option<usize> {
        self.probes
            .index
            .get(probe)
            .map(|(i, _)| self.base + 1 + *i as usize)
    }

    /// Every resolved-address probe (the prober's list beyond the table's).
    pub fn probes(&self) -> impl Iterator<Item = &Probe> {
        self.probes.by_index.iter().flatten()
    }

    /// Drops the probe uses of a slot about to be rebuilt.
    fn release(&mut self, slot: &SlotTargets, changes: &mut ProbeChanges) {
        let first = self.base + 1;
        for target in slot.targets.iter().flatten() {
            let probe = target.probe as usize;
            if target.probe == NO_PROBE || probe < first {
                continue;
            }
            if let Some(gone) = self.probes.release((probe - first) as u32) {
                changes.removed.push(gone);
            }
        }
    }

    /// Builds slot `i` from the table and the current news.
    fn build(&mut self, table: &Table, i: usize, changes: &mut ProbeChanges) -> SlotTargets {
        let slot = &table.aliases[i];
        let Some(set) = table
            .records
            .get(slot.record as usize)
            .and_then(|r| r.sets.get(slot.set as usize))
        else {
            return SlotTargets::default();
        };
        let mut targets: [Vec<Target>; 2] = [
            set.targets(Family::V4).to_vec(),
            set.targets(Family::V6).to_vec(),
        ];
        let mut origins: [Vec<u16>; 2] = [
            vec![STATIC_ORIGIN; targets[0].len()],
            vec![STATIC_ORIGIN; targets[1].len()],
        ];
        let mut expires = u32::MAX;
        for (h, host) in slot.hostnames.iter().enumerate() {
            let Some(news) = self.hosts.get(host) else {
                continue; // not resolved yet
            };
            if news.usable
                && let Some(at) = news.expires
            {
                expires = expires.min(self.clock.second_of(at));
            }
            for addr in news.addrs.iter() {
                let family = Family::of(addr) as usize;
                if targets[family].iter().any(|t| t.addr == *addr) {
                    continue;
                }
                let probe = if !news.usable {
                    u32::try_from(self.base).unwrap_or(NO_PROBE)
                } else {
                    match &slot.check {
                        None => NO_PROBE,
                        Some(check) => {
                            let probe = Probe {
                                check: check.clone(),
                                addr: *addr,
                            };
                            let (index, new) = self.probes.take(probe.clone());
                            let bit = self.base + 1 + index as usize;
                            if new {
                                changes.added.push((bit, probe));
                            }
                            u32::try_from(bit).unwrap_or(NO_PROBE)
                        }
                    }
                };
                targets[family].push(Target { addr: *addr, probe });
                origins[family].push(u16::try_from(h).unwrap_or(STATIC_ORIGIN));
            }
        }
        // Only expired hostnames and no IP target: what is answered (only
        // when failing open) must not be cached.
        if expires == u32::MAX
            && set.all_targets().is_empty()
            && slot.hostnames.iter().any(|h| {
                self.hosts
                    .get(h)
                    .is_some_and(|n| !n.usable && !n.addrs.is_empty())
            })
        {
            expires = 0;
        }
        let [v4, v6] = targets;
        let [o4, o6] = origins;
        SlotTargets {
            targets: [v4.into(), v6.into()],
            origins: [o4.into(), o6.into()],
            expires,
        }
    }
}

impl DynamicProbes {
    /// One more use of `probe`: its index, and whether it is new.
    fn take(&mut self, probe: Probe) -> (u32, bool) {
        if let Some((index, uses)) = self.index.get_mut(&probe) {
            *uses += 1;
            return (*index, false);
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.by_index.push(None);
                u32::try_from(self.by_index.len() - 1).unwrap_or(u32::MAX)
            }
        };
        if let Some(entry) = self.by_index.get_mut(index as usize) {
            *entry = Some(probe.clone());
        }
        self.index.insert(probe, (index, 1));
        (index, true)
    }

    /// One use less of the probe at `index`; returns it when unused now.
    fn release(&mut self, index: u32) -> Option<Probe> {
        let probe = self.by_index.get(index as usize)?.clone()?;
        let (_, uses) = self.index.get_mut(&probe)?;
        *uses -= 1;
        if *uses > 0 {
            return None;
        }
        self.index.remove(&probe);
        self.by_index[index as usize] = None;
        self.free.push(index);
        Some(probe)
    }
}

#[cfg(test)]
mod tests;
