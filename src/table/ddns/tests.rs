//! RFC 2136's rules, one test each, over a zone whose config records are
//! a fixed [`FakeZone`].

use crate::iana::{class, rtype};
use std::collections::{BTreeMap, BTreeSet};

use super::saved::SavedRecord;
use super::*;
use crate::model::ddns::{AllowRule, NamePattern, Secret, TsigAlgorithm, TsigKey, UpdatePolicy};
use crate::name::suffix_at;

const A: u16 = 1;
const TXT: u16 = rtype::TXT;

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

fn wire(text: &str) -> Box<[u8]> {
    name(text).wire().into()
}

fn origin() -> Name {
    name("global.example.test")
}

fn acme() -> Name {
    name("acme.")
}

/// The config's side of `global.example.test`: an A record at `webapp`,
/// a TXT record at `verify`, a CNAME at `alias`, a delegation at `sub`,
/// and the zone `child.global.example.test` served on its own.
struct FakeZone {
    rrsets: BTreeMap<Box<[u8]>, Rrsets>,
}

/// RDATA by type at one name.
type Rrsets = BTreeMap<u16, Vec<Vec<u8>>>;

impl FakeZone {
    fn new() -> Self {
        let mut rrsets: BTreeMap<Box<[u8]>, Rrsets> = BTreeMap::new();
        let mut put = |n: &str, t: u16, data: &[u8]| {
            rrsets
                .entry(wire(n))
                .or_default()
                .entry(t)
                .or_default()
                .push(data.to_vec());
        };
        put("global.example.test", 6, b"soa");
        put("webapp.global.example.test", A, &[192, 0, 2, 10]);
        put("webapp.global.example.test", A, &[192, 0, 2, 20]);
        put("verify.global.example.test", TXT, b"\x03yes");
        put("alias.global.example.test", rtype::CNAME, b"\x03www\x00");
        put("sub.global.example.test", 2, b"\x02ns\x00");
        Self { rrsets }
    }
}

impl StaticZone for FakeZone {
    fn contains(&self, n: &[u8]) -> bool {
        suffix_at(n, origin().wire()).is_some()
            && suffix_at(n, name("child.global.example.test").wire()).is_none()
    }

    fn name_in_use(&self, n: &[u8]) -> bool {
        self.rrsets.contains_key(n)
    }

    fn rrset(&self, n: &[u8], rtype: u16) -> Option<Vec<Vec<u8>>> {
        self.rrsets.get(n)?.get(&rtype).cloned()
    }

    fn may_add(&self, n: &[u8], rtype: u16) -> Result<(), Conflict> {
        if suffix_at(n, name("sub.global.example.test").wire()).is_some() {
            return Err(Conflict::BelowDelegation);
        }
        match self.rrsets.get(n) {
            Some(sets) if sets.contains_key(&rtype::CNAME) => Err(Conflict::Cname),
            Some(sets) if sets.contains_key(&rtype) => Err(Conflict::Config),
            _ => Ok(()),
        }
    }
}

fn key(n: &Name) -> TsigKey {
    TsigKey {
        name: n.clone(),
        algorithm: TsigAlgorithm::HmacSha256,
        secret: Secret::new(vec![7; 32]),
    }
}

/// `acme.` may write TXT at `_acme-challenge.*` and at `verify` (where
/// the config has TXT) and `alias` (a CNAME) and below `sub` (delegated),
/// to reach those rules; `wide.` may write TXT anywhere.
fn policy() -> UpdatePolicy {
    let patterns = |list: &[&str]| {
        list.iter()
            .map(|p| NamePattern::parse(p, &origin()).unwrap())
            .collect()
    };
    UpdatePolicy {
        keys: vec![key(&acme()), key(&name("wide."))],
        allow: vec![
            AllowRule {
                key: acme(),
                names: patterns(&["_acme-challenge.*", "verify", "alias", "*.sub"]),
                types: vec![TXT],
            },
            AllowRule {
                key: name("wide."),
                names: patterns(&["*"]),
                types: vec![TXT],
            },
        ],
        max_ttl: 300,
        max_records_per_key: 3,
        max_fudge: 300,
        max_rrset_bytes: 1024,
    }
}

const CHALLENGE: &str = "_acme-challenge.webapp.global.example.test";

fn rr(n: &str, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> UpdateRr {
    UpdateRr {
        name: wire(n),
        rtype,
        class,
        ttl,
        rdata: rdata.into(),
    }
}

fn add(n: &str, text: &[u8]) -> UpdateRr {
    let mut rdata = vec![text.len() as u8];
    rdata.extend_from_slice(text);
    rr(n, TXT, class::IN, 60, &rdata)
}

fn changes(list: Vec<UpdateRr>) -> Update {
    Update {
        prerequisites: Vec::new(),
        changes: list,
    }
}

fn requiring(prerequisites: Vec<UpdateRr>, change: UpdateRr) -> Update {
    Update {
        prerequisites,
        changes: vec![change],
    }
}

/// Applies `update` signed by `key` with [`policy`].
fn apply_as(zone: &mut DynamicZone, key: &Name, update: &Update) -> Result<bool, Refusal> {
    apply_with(zone, key, &policy(), update)
}

fn apply_with(
    zone: &mut DynamicZone,
    key: &Name,
    policy: &UpdatePolicy,
    update: &Update,
) -> Result<bool, Refusal> {
    let (o, statics) = (origin(), FakeZone::new());
    let ctx = Context {
        origin: &o,
        policy,
        statics: &statics,
        key,
    };
    zone.apply(&ctx, update)
}

fn apply(zone: &mut DynamicZone, update: &Update) -> Result<bool, Refusal> {
    apply_as(zone, &acme(), update)
}

/// A zone holding one challenge record, "t1".
fn with_challenge() -> DynamicZone {
    let mut zone = DynamicZone::default();
    assert_eq!(
        apply(&mut zone, &changes(vec![add(CHALLENGE, b"t1")])),
        Ok(true)
    );
    zone
}

fn texts(zone: &DynamicZone, n: &str) -> BTreeSet<Vec<u8>> {
    zone.rrset(&wire(n), TXT)
        .map(|set| set.records.iter().map(|r| r.rdata[1..].to_vec()).collect())
        .unwrap_or_default()
}

// §3.2 prerequisites.

#[test]
fn prerequisite_with_a_ttl_is_formerr() {
    let update = requiring(
        vec![rr(CHALLENGE, rtype::ANY, class::ANY, 1, b"")],
        add(CHALLENGE, b"x"),
    );
    assert!(matches!(
        apply(&mut with_challenge(), &update),
        Err(Refusal::FormErr(_))
    ));
}

#[test]
fn prerequisite_outside_the_zone_is_notzone() {
    for outside in ["www.example.test", "a.child.global.example.test"] {
        let update = requiring(
            vec![rr(outside, rtype::ANY, class::ANY, 0, b"")],
            add(CHALLENGE, b"x"),
        );
        assert_eq!(apply(&mut with_challenge(), &update), Err(Refusal::NotZone));
    }
}

#[test]
fn name_in_use_prerequisite() {
    // Config names, dynamic names: in use. Free names and empty
    // non-terminals: not.
    for used in [
        "webapp.global.example.test",
        CHALLENGE,
        "global.example.test",
    ] {
        let update = requiring(
            vec![rr(used, rtype::ANY, class::ANY, 0, b"")],
            add(CHALLENGE, b"x"),
        );
        assert_eq!(apply(&mut with_challenge(), &update), Ok(true), "{used}");
    }
    for free in [
        "_acme-challenge.missing.global.example.test",
        "_acme-challenge.global.example.test",
    ] {
        let update = requiring(
            vec![rr(free, rtype::ANY, class::ANY, 0, b"")],
            add(CHALLENGE, b"x"),
        );
        assert_eq!(
            apply(&mut with_challenge(), &update),
            Err(Refusal::NxDomain),
            "{free}"
        );
    }
}

#[test]
fn name_not_in_use_prerequisite() {
    let update = requiring(
        vec![rr(CHALLENGE, rtype::ANY, class::NONE, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(
        apply(&mut with_challenge(), &update),
        Err(Refusal::YxDomain)
    );
    let update = requiring(
        vec![rr(
            "webapp.global.example.test",
            rtype::ANY,
            class::NONE,
            0,
            b"",
        )],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(
        apply(&mut with_challenge(), &update),
        Err(Refusal::YxDomain)
    );
    let free = "_acme-challenge.free.global.example.test";
    let update = requiring(
        vec![rr(free, rtype::ANY, class::NONE, 0, b"")],
        add(free, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &update), Ok(true));
}

#[test]
fn rrset_exists_prerequisite() {
    let update = requiring(
        vec![rr(CHALLENGE, TXT, class::ANY, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &update), Ok(true));
    let update = requiring(
        vec![rr(CHALLENGE, A, class::ANY, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &update), Err(Refusal::NxRrset));
    let update = requiring(
        vec![rr("webapp.global.example.test", A, class::ANY, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(
        apply(&mut with_challenge(), &update),
        Ok(true),
        "a config RRset"
    );
}

#[test]
fn rrset_does_not_exist_prerequisite() {
    let update = requiring(
        vec![rr(CHALLENGE, TXT, class::NONE, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &update), Err(Refusal::YxRrset));
    let update = requiring(
        vec![rr("verify.global.example.test", TXT, class::NONE, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &update), Err(Refusal::YxRrset));
    let update = requiring(
        vec![rr(CHALLENGE, A, class::NONE, 0, b"")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &update), Ok(true));
}

#[test]
fn existence_prerequisites_with_data_are_formerr() {
    for class in [class::ANY, class::NONE] {
        let update = requiring(
            vec![rr(CHALLENGE, TXT, class, 0, b"\x01x")],
            add(CHALLENGE, b"x"),
        );
        assert!(matches!(
            apply(&mut with_challenge(), &update),
            Err(Refusal::FormErr(_))
        ));
    }
}

#[test]
fn value_dependent_prerequisite_compares_whole_rrsets() {
    // The dynamic RRset {t1}.
    let same = requiring(
        vec![rr(CHALLENGE, TXT, class::IN, 0, b"\x02t1")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &same), Ok(true));
    let other = requiring(
        vec![rr(CHALLENGE, TXT, class::IN, 0, b"\x02t2")],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &other), Err(Refusal::NxRrset));
    let superset = requiring(
        vec![
            rr(CHALLENGE, TXT, class::IN, 0, b"\x02t1"),
            rr(CHALLENGE, TXT, class::IN, 0, b"\x02t2"),
        ],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(
        apply(&mut with_challenge(), &superset),
        Err(Refusal::NxRrset)
    );
    // A GSLB record's addresses, in any order, duplicates collapsing.
    let webapp = "webapp.global.example.test";
    let gslb = requiring(
        vec![
            rr(webapp, A, class::IN, 0, &[192, 0, 2, 20]),
            rr(webapp, A, class::IN, 0, &[192, 0, 2, 10]),
            rr(webapp, A, class::IN, 0, &[192, 0, 2, 20]),
        ],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(apply(&mut with_challenge(), &gslb), Ok(true));
    let missing = requiring(
        vec![rr(CHALLENGE, A, class::IN, 0, &[1, 2, 3, 4])],
        add(CHALLENGE, b"x"),
    );
    assert_eq!(
        apply(&mut with_challenge(), &missing),
        Err(Refusal::NxRrset)
    );
}

#[test]
fn prerequisite_with_another_class_is_formerr() {
    let update = requiring(vec![rr(CHALLENGE, TXT, 3, 0, b"")], add(CHALLENGE, b"x"));
    assert!(matches!(
        apply(&mut with_challenge(), &update),
        Err(Refusal::FormErr(_))
    ));
}

#[test]
fn prerequisites_see_the_zone_before_the_update() {
    let fresh = "_acme-challenge.fresh.global.example.test";
    let update = Update {
        prerequisites: vec![rr(fresh, rtype::ANY, class::NONE, 0, b"")],
        changes: vec![add(fresh, b"a"), add(fresh, b"b")],
    };
    let mut zone = DynamicZone::default();
    assert_eq!(apply(&mut zone, &update), Ok(true));
    assert_eq!(
        apply(&mut zone, &update),
        Err(Refusal::YxDomain),
        "now in use"
    );
}

// §3.3 permission.

#[test]
fn changes_outside_the_keys_rules_are_refused() {
    let mut zone = with_challenge();
    for change in [
        add("www.global.example.test", b"x"),
        rr(CHALLENGE, A, class::IN, 60, &[192, 0, 2, 1]),
        rr("www.global.example.test", TXT, class::ANY, 0, b""),
        rr("www.global.example.test", rtype::ANY, class::ANY, 0, b""),
    ] {
        let result = apply(&mut zone, &changes(vec![change.clone()]));
        assert!(
            matches!(result, Err(Refusal::Refused(_))),
            "{change:?}: {result:?}"
        );
    }
    let stranger = name("stranger.");
    assert!(matches!(
        apply_as(&mut zone, &stranger, &changes(vec![add(CHALLENGE, b"x")])),
        Err(Refusal::Refused(_))
    ));
    assert_eq!(texts(&zone, CHALLENGE), BTreeSet::from([b"t1".to_vec()]));
}

#[test]
fn one_forbidden_change_refuses_the_whole_update() {
    let mut zone = with_challenge();
    let update = changes(vec![
        add(CHALLENGE, b"t2"),
        add("www.global.example.test", b"x"),
    ]);
    assert!(matches!(
        apply(&mut zone, &update),
        Err(Refusal::Refused(_))
    ));
    assert_eq!(texts(&zone, CHALLENGE), BTreeSet::from([b"t1".to_vec()]));
}

// §3.4.1 prescan.

#[test]
fn prescan_rejects_bad_classes_types_ttls_and_data() {
    let wide = name("wide.");
    for change in [
        rr(CHALLENGE, TXT, 3, 60, b"\x01x"),           // class CHAOS
        rr(CHALLENGE, rtype::ANY, class::IN, 60, b""), // add of type ANY (allowed: no)
        rr(CHALLENGE, TXT, class::ANY, 60, b""),       // RRset delete with a TTL
        rr(CHALLENGE, TXT, class::ANY, 0, b"\x01x"),   // RRset delete with data
        rr(CHALLENGE, TXT, class::NONE, 60, b"\x01x"), // RR delete with a TTL
        rr(CHALLENGE, TXT, class::IN, 60, b"\x05ab"),  // TXT data cut short
        rr(CHALLENGE, TXT, class::IN, 60, b""),        // no TXT data
    ] {
        let result = apply_as(&mut with_challenge(), &wide, &changes(vec![change.clone()]));
        assert!(
            matches!(result, Err(Refusal::FormErr(_) | Refusal::Refused(_))),
            "{change:?}: {result:?}"
        );
    }
    let mut zone = with_challenge();
    let result = apply_as(
        &mut zone,
        &wide,
        &changes(vec![rr(CHALLENGE, TXT, 3, 60, b"\x01x")]),
    );
    assert!(matches!(result, Err(Refusal::FormErr(_))), "{result:?}");
    let result = apply_as(
        &mut zone,
        &wide,
        &changes(vec![rr(CHALLENGE, TXT, class::IN, 60, b"\x05ab")]),
    );
    assert!(matches!(result, Err(Refusal::FormErr(_))), "{result:?}");
}

#[test]
fn prescan_puts_names_of_a_zone_below_outside() {
    let wide = name("wide.");
    let update = changes(vec![add("x.child.global.example.test", b"x")]);
    assert_eq!(
        apply_as(&mut DynamicZone::default(), &wide, &update),
        Err(Refusal::NotZone)
    );
}

#[test]
fn oversized_data_is_refused() {
    let big: Vec<u8> = std::iter::repeat_n(&[255u8][..], 17)
        .flat_map(|len| std::iter::once(len[0]).chain(std::iter::repeat_n(b'a', 255)))
        .collect();
    assert!(big.len() > MAX_RDATA);
    let update = changes(vec![rr(CHALLENGE, TXT, class::IN, 60, &big)]);
    assert!(matches!(
        apply(&mut DynamicZone::default(), &update),
        Err(Refusal::Refused(_))
    ));
}

// §3.4.2 changes.

#[test]
fn adds_records_and_an_equal_add_only_renews_the_ttl() {
    let mut zone = with_challenge();
    assert_eq!(
        apply(&mut zone, &changes(vec![add(CHALLENGE, b"t2")])),
        Ok(true)
    );
    assert_eq!(
        texts(&zone, CHALLENGE),
        BTreeSet::from([b"t1".to_vec(), b"t2".to_vec()])
    );
    assert_eq!(
        apply(&mut zone, &changes(vec![add(CHALLENGE, b"t2")])),
        Ok(false)
    );
    let mut longer = add(CHALLENGE, b"t2");
    longer.ttl = 120;
    assert_eq!(apply(&mut zone, &changes(vec![longer])), Ok(true));
    let set = zone.rrset(&wire(CHALLENGE), TXT).unwrap();
    assert_eq!(
        (set.ttl, set.records.len()),
        (120, 2),
        "the whole RRset's TTL"
    );
}

#[test]
fn ttls_are_capped_at_max_ttl() {
    let mut zone = DynamicZone::default();
    let mut long = add(CHALLENGE, b"t1");
    long.ttl = 86_400;
    assert_eq!(apply(&mut zone, &changes(vec![long])), Ok(true));
    assert_eq!(zone.rrset(&wire(CHALLENGE), TXT).unwrap().ttl, 300);
}

#[test]
fn an_add_at_a_cname_is_ignored() {
    let mut zone = DynamicZone::default();
    let update = changes(vec![add("alias.global.example.test", b"x")]);
    assert_eq!(apply(&mut zone, &update), Ok(false));
    assert!(zone.is_empty());
}

#[test]
fn adds_to_config_rrsets_or_below_delegations_are_refused() {
    for owner in ["verify.global.example.test", "a.sub.global.example.test"] {
        let result = apply(
            &mut DynamicZone::default(),
            &changes(vec![add(owner, b"x")]),
        );
        assert!(
            matches!(result, Err(Refusal::Refused(_))),
            "{owner}: {result:?}"
        );
    }
}

#[test]
fn deletes_one_record_an_rrset_or_a_name() {
    let mut zone = with_challenge();
    apply(
        &mut zone,
        &changes(vec![add(CHALLENGE, b"t2"), add(CHALLENGE, b"t3")]),
    )
    .unwrap();
    // Class NONE: one record.
    let one = rr(CHALLENGE, TXT, class::NONE, 0, b"\x02t2");
    assert_eq!(apply(&mut zone, &changes(vec![one.clone()])), Ok(true));
    assert_eq!(
        texts(&zone, CHALLENGE),
        BTreeSet::from([b"t1".to_vec(), b"t3".to_vec()])
    );
    assert_eq!(
        apply(&mut zone, &changes(vec![one])),
        Ok(false),
        "already gone"
    );
    // Class ANY: the RRset.
    assert_eq!(
        apply(
            &mut zone,
            &changes(vec![rr(CHALLENGE, TXT, class::ANY, 0, b"")])
        ),
        Ok(true)
    );
    assert!(zone.is_empty());
    // Class ANY, type ANY: every RRset the key may write at the name.
    let mut zone = with_challenge();
    assert_eq!(
        apply(
            &mut zone,
            &changes(vec![rr(CHALLENGE, rtype::ANY, class::ANY, 0, b"")])
        ),
        Ok(true)
    );
    assert!(zone.is_empty());
}

#[test]
fn deletes_of_config_records_are_refused() {
    let wide = name("wide.");
    let mut zone = with_challenge();
    let before = zone.clone();
    for delete in [
        rr("verify.global.example.test", TXT, class::ANY, 0, b""),
        rr(
            "verify.global.example.test",
            TXT,
            class::NONE,
            0,
            b"\x03yes",
        ),
        rr("verify.global.example.test", rtype::ANY, class::ANY, 0, b""),
    ] {
        let update = changes(vec![rr(CHALLENGE, TXT, class::ANY, 0, b""), delete]);
        assert_eq!(
            apply_as(&mut zone, &wide, &update),
            Err(Refusal::Refused("the config's records are read-only"))
        );
    }
    assert_eq!(zone, before, "nothing applied, not even the other delete");
}

#[test]
fn the_records_at_one_name_are_capped_in_bytes() {
    // 1024 bytes: three records of 250 bytes of RDATA (262 with the
    // overhead) fit, a fourth does not.
    let mut zone = DynamicZone::default();
    let wide = name("wide.");
    let roomy = UpdatePolicy {
        max_records_per_key: 100,
        ..policy()
    };
    let data = |c: u8| {
        let mut d = vec![249u8];
        d.extend(std::iter::repeat_n(c, 249));
        d
    };
    let at = "big.global.example.test";
    for c in b'a'..b'd' {
        let update = changes(vec![rr(at, TXT, class::IN, 60, &data(c))]);
        assert_eq!(apply_with(&mut zone, &wide, &roomy, &update), Ok(true));
    }
    assert_eq!(zone.bytes_at(&wire(at)), 3 * 262);
    let update = changes(vec![rr(at, TXT, class::IN, 60, &data(b'd'))]);
    assert_eq!(
        apply_with(&mut zone, &wide, &roomy, &update),
        Err(Refusal::Refused(
            "the records at the name would be over max_rrset_bytes"
        ))
    );
    // Another name has its own budget; replacing within the cap is fine.
    let other = changes(vec![rr(
        "other.global.example.test",
        TXT,
        class::IN,
        60,
        &data(b'd'),
    )]);
    assert_eq!(apply_with(&mut zone, &wide, &roomy, &other), Ok(true));
    let swap = changes(vec![
        rr(at, TXT, class::NONE, 0, &data(b'a')),
        rr(at, TXT, class::IN, 60, &data(b'd')),
    ]);
    assert_eq!(apply_with(&mut zone, &wide, &roomy, &swap), Ok(true));
}

#[test]
fn names_whose_text_reads_back_as_other_labels_are_refused() {
    let mut zone = DynamicZone::default();
    let wide = name("wide.");
    let refused = Err(Refusal::Refused(
        "a name has a label gslb cannot hold: only letters, digits, '-' and '_' (no '.' inside a label)",
    ));
    let mut dotted = b"\x03a.b".to_vec();
    dotted.extend_from_slice(origin().wire());
    let mut spaced = b"\x03a b".to_vec();
    spaced.extend_from_slice(origin().wire());
    for owner in [dotted.clone(), spaced] {
        let mut change = add("x.global.example.test", b"t");
        change.name = owner.into();
        assert_eq!(apply_as(&mut zone, &wide, &changes(vec![change])), refused);
    }
    // In a prerequisite's RDATA too: a CNAME target with a dotted label.
    let prerequisite = rr(
        "alias.global.example.test",
        rtype::CNAME,
        class::IN,
        0,
        &dotted,
    );
    let update = requiring(vec![prerequisite], add("x.global.example.test", b"t"));
    assert_eq!(apply_as(&mut zone, &wide, &update), refused);
    assert!(zone.is_empty());
}

#[test]
fn the_per_key_cap_refuses_updates_that_would_pass_it() {
    let mut zone = with_challenge();
    apply(
        &mut zone,
        &changes(vec![add(CHALLENGE, b"t2"), add(CHALLENGE, b"t3")]),
    )
    .unwrap();
    assert_eq!(zone.records_of(&acme()), 3);
    let result = apply(&mut zone, &changes(vec![add(CHALLENGE, b"t4")]));
    assert!(matches!(result, Err(Refusal::Refused(_))), "{result:?}");
    assert_eq!(zone.len(), 3, "nothing applied");
    // Replacing within the cap is fine, as is another key's add.
    let swap = changes(vec![
        rr(CHALLENGE, TXT, class::NONE, 0, b"\x02t1"),
        add(CHALLENGE, b"t4"),
    ]);
    assert_eq!(apply(&mut zone, &swap), Ok(true));
    let wide = name("wide.");
    assert_eq!(
        apply_as(&mut zone, &wide, &changes(vec![add(CHALLENGE, b"t5")])),
        Ok(true)
    );
    // A key over a lowered cap may still delete.
    let strict = UpdatePolicy {
        max_records_per_key: 1,
        ..policy()
    };
    let delete = changes(vec![rr(CHALLENGE, TXT, class::NONE, 0, b"\x02t2")]);
    assert_eq!(apply_with(&mut zone, &acme(), &strict, &delete), Ok(true));
}

// Reloads and restarts.

#[test]
fn a_reload_drops_what_the_new_policy_does_not_allow() {
    let mut zone = with_challenge();
    let wide = name("wide.");
    apply_as(
        &mut zone,
        &wide,
        &changes(vec![add("w.global.example.test", b"w")]),
    )
    .unwrap();
    let (o, statics) = (origin(), FakeZone::new());
    // The same policy keeps everything; a lower max_ttl lowers TTLs.
    let lower = UpdatePolicy {
        max_ttl: 30,
        ..policy()
    };
    assert_eq!(zone.retain_allowed(&o, Some(&lower), &statics), Vec::new());
    assert_eq!(zone.rrset(&wire(CHALLENGE), TXT).unwrap().ttl, 30);
    // Without the `wide.` key, its record goes.
    let narrow = UpdatePolicy {
        keys: vec![key(&acme())],
        allow: policy().allow[..1].to_vec(),
        ..policy()
    };
    let dropped = zone.retain_allowed(&o, Some(&narrow), &statics);
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        (
            dropped[0].name.as_str(),
            dropped[0].key.clone(),
            dropped[0].why
        ),
        ("w.global.example.test.", wide, "its key is gone")
    );
    assert_eq!(zone.len(), 1);
    // Without updates, all go.
    let dropped = zone.retain_allowed(&o, None, &statics);
    assert_eq!(dropped[0].why, "the zone no longer takes updates");
    assert!(zone.is_empty());
}

#[test]
fn saved_records_come_back_through_the_policy() {
    let mut zone = with_challenge();
    apply(
        &mut zone,
        &changes(vec![add(CHALLENGE, b"with \"quotes\"")]),
    )
    .unwrap();
    let saved = zone.save();
    assert_eq!(saved.len(), 2);
    assert_eq!(
        saved[0],
        SavedRecord {
            name: format!("{CHALLENGE}."),
            rtype: "TXT".into(),
            ttl: 60,
            data: "\"t1\"".into(),
            key: "acme.".into(),
            present: true,
            version: crate::table::shared::version::Version::ancient(),
        }
    );
    let (o, statics, p) = (origin(), FakeZone::new(), policy());
    let ctx = Context {
        origin: &o,
        policy: &p,
        statics: &statics,
        key: &acme(),
    };
    let mut restored = DynamicZone::default();
    let mut bad = saved.clone();
    bad.push(SavedRecord {
        name: "www.global.example.test.".into(),
        ..saved[0].clone()
    });
    bad.push(SavedRecord {
        rtype: "A".into(),
        ..saved[0].clone()
    });
    bad.push(SavedRecord {
        data: "\"unclosed".into(),
        ..saved[0].clone()
    });
    let rejected = restored.restore(&ctx, &bad);
    assert_eq!(restored, zone);
    assert_eq!(rejected.len(), 3, "{rejected:?}");
}

// The query view.
