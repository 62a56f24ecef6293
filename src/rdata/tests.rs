//! Record data rules, one test per rule; wire output is read back with
//! hickory-proto's decoder (an independent implementation of the formats).

use hickory_proto::rr::{RData, RecordType as HickoryType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::*;

fn origin() -> Name {
    Name::parse("global.example.test.").unwrap()
}

fn ok(rtype: RecordType, text: &str) -> Rdata {
    parse(rtype, text, &origin()).unwrap_or_else(|e| panic!("{text:?} parses: {e}"))
}

fn err(rtype: RecordType, text: &str) -> RdataError {
    match parse(rtype, text, &origin()) {
        Ok(rdata) => panic!("{text:?} was accepted as {:?}", rdata.wire()),
        Err(e) => e,
    }
}

/// The record data decoded by hickory, in its presentation form.
fn decoded(rtype: RecordType, rdata: &Rdata) -> String {
    let hickory = HickoryType::from(rtype.code());
    let mut decoder = BinDecoder::new(rdata.wire());
    let len = Restrict::new(rdata.wire().len() as u16);
    let data = RData::read(&mut decoder, hickory, len).expect("hickory decodes the rdata");
    data.to_string()
}

/// TXT strings as hickory reads them.
fn txt_strings(rdata: &Rdata) -> Vec<Vec<u8>> {
    let len = Restrict::new(rdata.wire().len() as u16);
    match RData::read(&mut BinDecoder::new(rdata.wire()), HickoryType::TXT, len) {
        Ok(RData::TXT(txt)) => txt.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("not TXT: {other:?}"),
    }
}

#[test]
fn type_mnemonics_in_any_case_and_codes_round_trip() {
    assert_eq!(RecordType::from_mnemonic("caa"), Some(RecordType::Caa));
    assert_eq!(RecordType::from_mnemonic("Aaaa"), Some(RecordType::Aaaa));
    assert_eq!(RecordType::from_mnemonic("SOA"), None);
    assert_eq!(RecordType::from_mnemonic("PTR"), None);
    for t in RecordType::ALL {
        assert_eq!(RecordType::from_code(t.code()), Some(t));
        assert_eq!(RecordType::from_mnemonic(t.mnemonic()), Some(t));
        assert_eq!(HickoryType::from(t.code()).to_string(), t.mnemonic());
    }
}

#[test]
fn owner_names_relative_absolute_and_apex() {
    let o = origin();
    let name = |text| owner_name(text, &o).unwrap().to_string();
    assert_eq!(name("@"), "global.example.test.");
    assert_eq!(name("www"), "www.global.example.test.");
    assert_eq!(
        name("_acme-challenge.WebApp"),
        "_acme-challenge.webapp.global.example.test."
    );
    assert_eq!(name("www.global.example.test"), "www.global.example.test.");
    assert_eq!(name("global.example.test"), "global.example.test.");
    assert_eq!(name("other.test."), "other.test.");
    assert_eq!(
        name("mail.other.test"),
        "mail.other.test.global.example.test."
    );
    assert!(owner_name("a..b", &o).is_err());
    assert!(owner_name("", &o).is_err());
    let long = vec!["abcdefghi"; 24].join(".");
    assert_eq!(
        owner_name(&long, &o),
        Err(NameError::TooLong),
        "too long once completed"
    );
}

#[test]
fn a_and_aaaa_take_one_address_of_their_family() {
    assert_eq!(ok(RecordType::A, "192.0.2.1").wire(), [192, 0, 2, 1]);
    assert_eq!(
        decoded(RecordType::Aaaa, &ok(RecordType::Aaaa, "2001:db8::1")),
        "2001:db8::1"
    );
    assert!(matches!(
        err(RecordType::A, "2001:db8::1"),
        RdataError::Address { .. }
    ));
    assert!(matches!(
        err(RecordType::Aaaa, "192.0.2.1"),
        RdataError::Address { .. }
    ));
    assert!(matches!(
        err(RecordType::A, "192.0.2.300"),
        RdataError::Address { .. }
    ));
    assert!(matches!(
        err(RecordType::A, "010.0.0.1"),
        RdataError::Address { .. }
    ));
    assert_eq!(
        err(RecordType::A, "192.0.2.1 192.0.2.2"),
        RdataError::Fields {
            expected: "one IPv4 address",
            found: 2
        }
    );
}

#[test]
fn cname_and_ns_take_one_name_relative_to_the_origin() {
    let cname = ok(RecordType::Cname, "_acme-challenge.certs.example.org.");
    assert_eq!(
        decoded(RecordType::Cname, &cname),
        "_acme-challenge.certs.example.org."
    );
    assert_eq!(
        cname.target().unwrap().to_string(),
        "_acme-challenge.certs.example.org."
    );
    assert_eq!(cname.wire(), cname.target().unwrap().wire(), "uncompressed");
    let ns = ok(RecordType::Ns, "NS1.Sub");
    assert_eq!(decoded(RecordType::Ns, &ns), "ns1.sub.global.example.test.");
    assert_eq!(ok(RecordType::Cname, "@").target(), Some(&origin()));
    assert_eq!(
        err(RecordType::Cname, "."),
        RdataError::Root { field: "target" }
    );
    assert!(matches!(
        err(RecordType::Ns, "a b"),
        RdataError::Fields { found: 2, .. }
    ));
    assert!(matches!(
        err(RecordType::Cname, "bad!name."),
        RdataError::Name { .. }
    ));
    assert!(matches!(
        err(RecordType::Cname, "\"quoted.name.\""),
        RdataError::QuotedName { .. }
    ));
}

#[test]
fn mx_preference_and_exchange_with_null_mx() {
    let mx = ok(RecordType::Mx, "10 mail");
    assert_eq!(decoded(RecordType::Mx, &mx), "10 mail.global.example.test.");
    assert_eq!(
        mx.target().unwrap().to_string(),
        "mail.global.example.test."
    );
    let null = ok(RecordType::Mx, "0 .");
    assert_eq!(null.wire(), [0, 0, 0], "RFC 7505 null MX");
    assert_eq!(null.target(), None);
    assert_eq!(
        err(RecordType::Mx, "65536 mail"),
        RdataError::Number {
            field: "preference",
            text: "65536".into(),
            max: 65535
        }
    );
    assert!(matches!(
        err(RecordType::Mx, "-1 mail"),
        RdataError::Number { .. }
    ));
    assert!(matches!(
        err(RecordType::Mx, "+1 mail"),
        RdataError::Number { .. }
    ));
    assert!(matches!(
        err(RecordType::Mx, "mail"),
        RdataError::Fields { found: 1, .. }
    ));
}

#[test]
fn srv_priority_weight_port_target() {
    let srv = ok(RecordType::Srv, "10 60 5060 sip.example.org.");
    assert_eq!(
        decoded(RecordType::Srv, &srv),
        "10 60 5060 sip.example.org."
    );
    assert_eq!(&srv.wire()[..6], [0, 10, 0, 60, 0x13, 0xC4]);
    assert_eq!(ok(RecordType::Srv, "0 0 0 .").target(), None, "no service");
    assert!(matches!(
        err(RecordType::Srv, "1 2 70000 x"),
        RdataError::Number { field: "port", .. }
    ));
    assert!(matches!(
        err(RecordType::Srv, "1 2 3"),
        RdataError::Fields { found: 3, .. }
    ));
}

#[test]
fn txt_quoted_unquoted_and_escaped_strings() {
    let txt = ok(RecordType::Txt, r#""v=spf1 -all" plain "a\"b\\c" \065\066"#);
    assert_eq!(
        txt_strings(&txt),
        [
            b"v=spf1 -all".to_vec(),
            b"plain".to_vec(),
            b"a\"b\\c".to_vec(),
            b"AB".to_vec()
        ]
    );
    assert_eq!(
        txt_strings(&ok(RecordType::Txt, r#""""#)),
        [Vec::<u8>::new()]
    );
    assert_eq!(ok(RecordType::Txt, r#""""#).wire(), [0]);
    let utf8 = ok(RecordType::Txt, "\"h\u{e9}llo\"");
    assert_eq!(txt_strings(&utf8), ["h\u{e9}llo".as_bytes().to_vec()]);
    assert_eq!(
        txt_strings(&ok(RecordType::Txt, "\"\\\u{e9}\"")),
        ["\u{e9}".as_bytes().to_vec()]
    );
}

#[test]
fn txt_longer_than_255_bytes_is_split_into_strings() {
    let key = "k".repeat(600);
    let txt = ok(RecordType::Txt, &format!("\"v=DKIM1; p={key}\""));
    let strings = txt_strings(&txt);
    assert_eq!(
        strings.iter().map(Vec::len).collect::<Vec<_>>(),
        [255, 255, 101]
    );
    assert_eq!(strings.concat(), format!("v=DKIM1; p={key}").into_bytes());
    let exact = ok(RecordType::Txt, &"x".repeat(255));
    assert_eq!(txt_strings(&exact).len(), 1);
}

#[test]
fn txt_grouping_parentheses_span_lines() {
    let txt = ok(RecordType::Txt, "( \"part one\"\n  \"part two\" )");
    assert_eq!(
        txt_strings(&txt),
        [b"part one".to_vec(), b"part two".to_vec()]
    );
    assert_eq!(err(RecordType::Txt, "( \"a\""), RdataError::Parentheses);
    assert_eq!(err(RecordType::Txt, "\"a\" )"), RdataError::Parentheses);
}

#[test]
fn txt_syntax_errors() {
    assert_eq!(err(RecordType::Txt, ""), RdataError::Empty);
    assert_eq!(err(RecordType::Txt, "   "), RdataError::Empty);
    assert_eq!(
        err(RecordType::Txt, "\"open"),
        RdataError::UnterminatedQuote
    );
    assert_eq!(err(RecordType::Txt, "ab\"c\""), RdataError::StrayQuote);
    assert_eq!(err(RecordType::Txt, "v=DKIM1; k=rsa"), RdataError::Comment);
    assert_eq!(err(RecordType::Txt, "\"ends\\"), RdataError::BadEscape);
    assert_eq!(err(RecordType::Txt, "ends\\"), RdataError::BadEscape);
    assert_eq!(err(RecordType::Txt, "\\256"), RdataError::BadEscape);
    assert_eq!(err(RecordType::Txt, "\\12x"), RdataError::BadEscape);
    assert_eq!(
        txt_strings(&ok(RecordType::Txt, "\"a;b\"")),
        [b"a;b".to_vec()]
    );
}

#[test]
fn txt_larger_than_rdlength_is_rejected() {
    let huge = format!("\"{}\"", "x".repeat(65_535));
    assert_eq!(err(RecordType::Txt, &huge), RdataError::TooLong);
}

#[test]
fn caa_flags_tag_and_value() {
    let caa = ok(RecordType::Caa, r#"0 issue "letsencrypt.org""#);
    assert_eq!(caa.wire(), b"\x00\x05issueletsencrypt.org");
    assert_eq!(
        decoded(RecordType::Caa, &caa),
        "0 issue \"letsencrypt.org\""
    );
    let critical = ok(RecordType::Caa, "128 issuewild \";\"");
    assert_eq!(critical.wire(), b"\x80\x09issuewild;");
    let params = ok(
        RecordType::Caa,
        r#"0 issue "ca.example.net; account=230123; policy=ev""#,
    );
    assert_eq!(
        &params.wire()[7..],
        b"ca.example.net; account=230123; policy=ev"
    );
    let iodef = ok(RecordType::Caa, r#"0 iodef "mailto:security@example.test""#);
    assert_eq!(
        decoded(RecordType::Caa, &iodef),
        "0 iodef \"mailto:security@example.test\""
    );
    let custom = ok(RecordType::Caa, r#"0 tbs "Unknown tag, any value; really""#);
    assert_eq!(&custom.wire()[..5], b"\x00\x03tbs");
    let long = format!("0 issue \"ca.example.net; token={}\"", "t".repeat(300));
    assert!(
        ok(RecordType::Caa, &long).wire().len() > 300,
        "the value is not a 255-byte string"
    );
}

#[test]
fn caa_rejects_bad_flags_tags_and_values() {
    assert!(matches!(
        err(RecordType::Caa, "256 issue x"),
        RdataError::Number { field: "flags", .. }
    ));
    assert!(matches!(
        err(RecordType::Caa, "0 issue"),
        RdataError::Fields { found: 2, .. }
    ));
    assert_eq!(
        err(RecordType::Caa, "0 is-sue x"),
        RdataError::CaaTag("is-sue".into())
    );
    assert!(matches!(
        err(RecordType::Caa, "0 \"\" x"),
        RdataError::CaaTag(_)
    ));
    assert!(matches!(
        err(RecordType::Caa, &format!("0 {} x", "t".repeat(16))),
        RdataError::CaaTag(_)
    ));
    for bad in [
        r#"0 issue "letsencrypt..org""#,
        r#"0 issue "-ca.example""#,
        r#"0 issue "ca.example; account""#,
        r#"0 issue "ca.example; ac count=1""#,
        r#"0 ISSUEWILD "ca example""#,
        r#"0 iodef "security@example.test""#,
        r#"0 iodef "https://""#,
    ] {
        assert!(
            matches!(err(RecordType::Caa, bad), RdataError::CaaValue { .. }),
            "{bad}"
        );
    }
}

#[test]
fn messages_name_the_field_and_the_text() {
    let e = err(RecordType::Mx, "ten mail");
    assert_eq!(
        e.to_string(),
        r#"preference "ten" is not a number from 0 to 65535"#
    );
    let e = err(RecordType::Caa, r#"0 issue "ca..example""#);
    assert_eq!(
        e.to_string(),
        r#"CAA issue value "ca..example" has an issuer that is not a domain name (RFC 8659 §4.2)"#
    );
    let e = err(RecordType::Srv, "1 2");
    assert_eq!(
        e.to_string(),
        "needs 4 fields (priority weight port target), found 2 field(s)"
    );
}

#[test]
fn ds_tag_algorithm_digest_type_and_hex_digest() {
    let ds = ok(
        RecordType::Ds,
        "46294 13 2 36F0BC752CAB174D0A98548E23FBC282 54066F8330899BD81C8AF2C7D9840433",
    );
    assert_eq!(&ds.wire()[..4], &[0xB4, 0xD6, 13, 2]);
    assert_eq!(ds.wire().len(), 4 + 32);
    assert_eq!(&ds.wire()[4..6], &[0x36, 0xF0]);
    assert_eq!(&ds.wire()[34..], &[0x04, 0x33]);
    assert_eq!(
        err(RecordType::Ds, "1 13 2 ABC"),
        RdataError::Digest("ABC".into())
    );
    assert!(matches!(
        err(RecordType::Ds, "1 256 2 AB"),
        RdataError::Number {
            field: "algorithm",
            ..
        }
    ));
    assert!(matches!(
        err(RecordType::Ds, "1 13 2"),
        RdataError::Fields { .. }
    ));
}
