//! Known vectors: keys made by `dnssec-keygen`, a zone signed by
//! `dnssec-signzone` with a fixed window (`testdata/signed.db`, made by
//! `dnssec-signzone -P -O full -s 20240101000000 -e 20240201000000 -x`),
//! and the DS `dnssec-dsfromkey -2` printed (`testdata/ds.txt`).
//! Ed25519 signatures are deterministic, so ours must equal BIND's byte
//! for byte; ECDSA's are not, so BIND's must verify over our canonical
//! data.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::canonical::CanonicalRrset;
use super::key::Key;
use super::signer::rrsig_rdata;
use super::timing::parse_timestamp;
use crate::name::Name;

const SIGNED: &str = include_str!("testdata/signed.db");
const DS: &str = include_str!("testdata/ds.txt");

fn testdata(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/dnssec/testdata")
        .join(file)
}

fn zone() -> Name {
    Name::parse("global.example.test.").unwrap()
}

fn ksk() -> Key {
    Key::read(&testdata("Kglobal.example.test.+013+46294"), &zone()).unwrap()
}

fn zsk() -> Key {
    Key::read(
        &testdata("Kglobal.example.test.+015+43869.private"),
        &zone(),
    )
    .unwrap()
}

/// BIND's RRSIG over `covered` at `owner` by the key of `algorithm`: its
/// signature bytes.
fn bind_signature(owner: &str, covered: &str, algorithm: u8) -> Vec<u8> {
    let line = SIGNED
        .lines()
        .find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 7
                && f[0] == owner
                && f[3] == "RRSIG"
                && f[4] == covered
                && f[5] == algorithm.to_string()
        })
        .unwrap_or_else(|| panic!("no RRSIG {covered} {algorithm} at {owner}"));
    let b64: String = line.split_whitespace().skip(12).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn window() -> (u64, u64) {
    (
        parse_timestamp("20240101000000").unwrap(),
        parse_timestamp("20240201000000").unwrap(),
    )
}

fn set(owner: &str, rtype: u16, ttl: u32, rdatas: &[&[u8]]) -> CanonicalRrset {
    let mut set = CanonicalRrset::default();
    set.start(rtype, ttl)
        .extend_from_slice(Name::parse(owner).unwrap().wire());
    for rdata in rdatas {
        set.push_rdata(rdata);
    }
    set.finish();
    set
}

#[test]
fn keys_read_with_their_tags_flags_and_timing() {
    let (ksk, zsk) = (ksk(), zsk());
    assert_eq!((ksk.tag, ksk.flags, ksk.is_sep()), (46294, 257, true));
    assert_eq!((zsk.tag, zsk.flags, zsk.is_sep()), (43869, 256, false));
    assert_eq!(ksk.timing.activate, parse_timestamp("20240101000000"));
    assert_eq!(&ksk.public_key()[1..], &ksk.dnskey[4..]);
}

#[test]
fn ds_matches_dnssec_dsfromkey() {
    assert_eq!(ksk().ds_text(&zone()), DS.trim());
}

#[test]
fn ed25519_rrsig_equals_dnssec_signzone_byte_for_byte() {
    let (inception, expiration) = window();
    let zsk = zsk();
    /// Owner, type, TTL, the records' data, the type's mnemonic.
    type Case<'a> = (&'a str, u16, u32, &'a [&'a [u8]], &'a str);
    let cases: [Case<'_>; 3] = [
        (
            "www.global.example.test.",
            1,
            30,
            // Unsorted on purpose: canonical order is by RDATA.
            &[&[198, 51, 100, 1], &[192, 0, 2, 3], &[192, 0, 2, 20]],
            "A",
        ),
        (
            "mail.global.example.test.",
            15,
            300,
            // The zone file says MX1.Global.Example.Test.: names in MX
            // data are lower-cased in canonical form (RFC 4034 §6.2).
            &[b"\x00\x0a\x03mx1\x06global\x07example\x04test\x00"],
            "MX",
        ),
        (
            "txt.global.example.test.",
            16,
            30,
            &[b"\x05hello\x05world"],
            "TXT",
        ),
    ];
    for (owner, rtype, ttl, rdatas, mnemonic) in cases {
        let set = set(owner, rtype, ttl, rdatas);
        let rdata =
            rrsig_rdata(&zsk, &zone(), &set, inception, expiration, &mut Vec::new()).unwrap();
        let signature = &rdata[rdata.len() - 64..];
        assert_eq!(
            signature,
            bind_signature(owner, mnemonic, 15),
            "{owner} {mnemonic}"
        );
        // The fields before the signer name: type, algorithm, labels,
        // original TTL, expiration, inception, key tag.
        assert_eq!(&rdata[..2], &rtype.to_be_bytes());
        assert_eq!((rdata[2], rdata[3]), (15, 4));
        assert_eq!(&rdata[16..18], &43869u16.to_be_bytes());
    }
}

#[test]
fn bind_ecdsa_rrsig_verifies_over_our_canonical_dnskey_rrset() {
    let (inception, expiration) = window();
    let (ksk, zsk) = (ksk(), zsk());
    let set = set("global.example.test.", 48, 30, &[&ksk.dnskey, &zsk.dnskey]);
    let mut data = Vec::new();
    let ours = rrsig_rdata(&ksk, &zone(), &set, inception, expiration, &mut data).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        ksk.public_key(),
    );
    public
        .verify(&data, &bind_signature("global.example.test.", "DNSKEY", 13))
        .expect("BIND's signature verifies over our signed data");
    public
        .verify(&data, &ours[ours.len() - 64..])
        .expect("ours verifies too");
}

#[test]
fn key_files_for_another_zone_are_refused() {
    let other = Name::parse("other.test.").unwrap();
    let error = Key::read(&testdata("Kglobal.example.test.+013+46294"), &other).unwrap_err();
    assert!(
        error
            .reason
            .contains("the DNSKEY is for global.example.test., not for the zone other.test."),
        "{error}"
    );
    assert!(error.file.ends_with(".key"), "{error}");
}

#[test]
fn a_private_key_of_another_pair_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("Kglobal.example.test.+015+43869");
    let file = |ext: &str| {
        dir.path()
            .join(format!("Kglobal.example.test.+015+43869.{ext}"))
    };
    std::fs::copy(testdata("Kglobal.example.test.+015+43869.key"), file("key")).unwrap();
    let private =
        std::fs::read_to_string(testdata("Kglobal.example.test.+015+43869.private")).unwrap();
    let other = private
        .lines()
        .map(|l| {
            if l.starts_with("PrivateKey:") {
                "PrivateKey: kqryCnQOIutE6KWY2Rk07WthQ04ICxI8e5XG18Weejc=".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(file("private"), other).unwrap();
    let error = Key::read(&base, &zone()).unwrap_err();
    assert!(
        error
            .reason
            .starts_with("PrivateKey: does not match the public key"),
        "{error}"
    );
}
