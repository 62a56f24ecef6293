//! Who may put endpoints under a name: a pure function of the objects.
//!
//! Without it any namespace allowed to create DNSEndpoints could add a set
//! with a huge weight (or a `recordTTL` of 1) to another team's name and take
//! its traffic. The rules:
//!
//! * A record name belongs to the **namespace** of the oldest object that
//!   claims it (see [`DnsEndpoint::seniority`]). An object claims every name
//!   its endpoints spell, valid or not: an owner's typo in a target must not
//!   hand the name to whoever is next in line.
//! * The owner namespace lets others in with the annotation
//!   `gslb.io/shared-with: "ns1,ns2"` (or `"*"`) on its objects. Every
//!   object of the owner namespace that claims the name counts, and their
//!   lists add up: each of them is written by the owner. An object shares
//!   only the names it claims itself, and annotations of other namespaces'
//!   objects grant nothing.
//! * When the owner namespace's last claim goes, the name passes to the
//!   namespace of the next oldest claim. While the owner keeps one claim,
//!   re-creating its other objects (which makes them younger than a squatter's)
//!   changes nothing.
//!
//! Ownership is by namespace *name*, and the function takes a plain list of
//! objects: objects read from several clusters can be passed together, and
//! `team-a` in one cluster is `team-a` in every other (namespace sameness).

use std::collections::{BTreeMap, BTreeSet};

use super::endpoint::{DnsEndpoint, ObjectKey};

/// The annotation by which an owner namespace shares its names.
pub const SHARED_WITH: &str = "gslb.io/shared-with";

/// The namespaces an object lets in: the parsed `gslb.io/shared-with`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    /// `*`: every namespace.
    all: bool,
    /// Namespace names.
    namespaces: BTreeSet<String>,
}

impl Sharing {
    /// Parses a comma list of namespace names; `*` stands for every
    /// namespace. Blank items are ignored.
    pub fn parse(value: &str) -> Self {
        let mut sharing = Self::default();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                sharing.all = true;
            } else {
                sharing.namespaces.insert(item.to_owned());
            }
        }
        sharing
    }

    /// Whether `namespace` is let in.
    pub fn admits(&self, namespace: &str) -> bool {
        self.all || self.namespaces.contains(namespace)
    }

    /// Adds what `other` lets in.
    fn extend(&mut self, other: &Self) {
        self.all |= other.all;
        self.namespaces.extend(other.namespaces.iter().cloned());
    }
}

/// The owner of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The namespace that owns the name.
    pub namespace: String,
    /// Its oldest object claiming the name: the claim that decided.
    pub object: ObjectKey,
    /// What the owner namespace's claiming objects share, together.
    pub sharing: Sharing,
}

impl Owner {
    /// Whether objects of `namespace` may add endpoints to the name.
    pub fn admits(&self, namespace: &str) -> bool {
        namespace == self.namespace || self.sharing.admits(namespace)
    }
}

/// Record name (lower-cased, trailing dot) → its owner.
pub type Ownership = BTreeMap<String, Owner>;

/// The owner of every name the objects claim.
pub fn owners<'a>(objects: impl IntoIterator<Item = &'a DnsEndpoint>) -> Ownership {
    let mut objects: Vec<&DnsEndpoint> = objects.into_iter().collect();
    objects.sort_by(|a, b| a.seniority().cmp(&b.seniority()));
    let mut owners = Ownership::new();
    for object in objects {
        let claimed: BTreeSet<String> = object
            .endpoints
            .iter()
            .filter_map(|e| e.as_ref().ok()?.record_name())
            .collect();
        for name in claimed {
            let owner = owners.entry(name).or_insert_with(|| Owner {
                namespace: object.key.namespace.clone(),
                object: object.key.clone(),
                sharing: Sharing::default(),
            });
            if owner.namespace == object.key.namespace {
                owner.sharing.extend(&object.shared_with);
            }
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::Sharing;

    #[test]
    fn sharing_is_a_comma_list_or_a_star() {
        let s = Sharing::parse(" team-b, ,team-c ");
        assert!(s.admits("team-b") && s.admits("team-c"));
        assert!(!s.admits("team-d") && !s.admits(""));
        assert!(Sharing::parse("team-b,*").admits("anyone"));
        assert!(!Sharing::parse("").admits("team-b"));
    }
}
