//! The design's DNS behaviour over real UDP and TCP sockets.

use std::net::IpAddr;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::support::harness::*;

fn config() -> String {
    format!(
        "{ZONE}{}",
        r#"
records:
  - name: webapp.global.example.test.
    ttl: 42
    sets:
      - { id: us, targets: [192.0.2.10, "2001:db8::10"] }
  - name: many.global.example.test.
    answers: 30
    sets:
      - id: lots
        targets: ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5",
                  "2001:db8::6", "2001:db8::7", "2001:db8::8", "2001:db8::9", "2001:db8::a",
                  "2001:db8::b", "2001:db8::c", "2001:db8::d", "2001:db8::e", "2001:db8::f",
                  "2001:db8::11", "2001:db8::12", "2001:db8::13", "2001:db8::14", "2001:db8::15",
                  "2001:db8::16", "2001:db8::17", "2001:db8::18", "2001:db8::19", "2001:db8::1a"]
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_and_tcp_answer_alike() {
    let gslb = Gslb::start(&config()).await;
    for response in [
        gslb.udp(&query("WebApp.Global.Example.Test.", RecordType::A))
            .await,
        gslb.tcp(&query("WebApp.Global.Example.Test.", RecordType::A))
            .await,
    ] {
        assert!(response.metadata.authoritative);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addrs(&response), ips(&["192.0.2.10"]));
        assert_eq!(response.answers[0].ttl, 42);
        assert_eq!(
            response.answers[0].name.to_ascii(),
            "WebApp.Global.Example.Test.",
            "case kept"
        );
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hickory_resolver_resolves_over_udp_and_tcp() {
    let gslb = Gslb::start(&config()).await;
    for connection in [ConnectionConfig::udp(), ConnectionConfig::tcp()] {
        let mut connection = connection;
        connection.port = gslb.addr.port();
        let mut resolver_config = ResolverConfig::default();
        resolver_config.add_name_server(NameServerConfig::new(
            gslb.addr.ip(),
            true,
            vec![connection],
        ));
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        let resolver =
            Resolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .expect("resolver");
        let found: Vec<IpAddr> = resolver
            .lookup_ip("webapp.global.example.test.")
            .await
            .expect("lookup")
            .iter()
            .collect();
        assert!(found.contains(&"192.0.2.10".parse().unwrap()), "{found:?}");
        assert!(
            found.contains(&"2001:db8::10".parse().unwrap()),
            "{found:?}"
        );
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn negative_answers_apex_and_refusals() {
    let gslb = Gslb::start(&config()).await;
    for transport in ["udp", "tcp"] {
        let ask = |q| {
            let gslb = &gslb;
            async move {
                if transport == "udp" {
                    gslb.udp(&q).await
                } else {
                    gslb.tcp(&q).await
                }
            }
        };
        let r = ask(query("nope.global.example.test.", RecordType::A)).await;
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NXDomain,
            "{transport}"
        );
        assert!(r.metadata.authoritative);
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(r.authorities[0].ttl, 20);

        let r = ask(query("webapp.global.example.test.", RecordType::MX)).await;
        assert_eq!(
            (r.metadata.response_code, r.answers.len()),
            (ResponseCode::NoError, 0),
            "NODATA {transport}"
        );
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);

        let r = ask(query("global.example.test.", RecordType::NS)).await;
        assert!(
            matches!(&r.answers[0].data, RData::NS(ns) if ns.0.to_ascii() == "ns1.global.example.test.")
        );
        assert_eq!(
            record_addrs(&r.additionals),
            ips(&["192.0.2.53"]),
            "glue {transport}"
        );

        let r = ask(query("global.example.test.", RecordType::SOA)).await;
        assert_eq!(r.answers[0].record_type(), RecordType::SOA);

        let r = ask(query("example.org.", RecordType::A)).await;
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::Refused,
            "{transport}"
        );
        assert!(!r.metadata.authoritative);

        let r = ask(query("global.example.test.", RecordType::AXFR)).await;
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::Refused,
            "AXFR {transport}"
        );

        let r = ask(query("webapp.global.example.test.", RecordType::ANY)).await;
        assert_eq!(r.answers.len(), 1, "minimal ANY {transport}");

        let mut notify = query("global.example.test.", RecordType::SOA);
        notify.metadata.op_code = OpCode::Notify;
        let r = ask(notify).await;
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NotImp,
            "{transport}"
        );

        let mut badvers = with_ecs(
            query("webapp.global.example.test.", RecordType::A),
            "198.51.100.70",
            32,
        );
        badvers.edns.as_mut().unwrap().set_version(1);
        let r = ask(badvers).await;
        assert_eq!(
            u16::from(r.metadata.response_code),
            16,
            "BADVERS {transport}"
        );
    }
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn large_answers_truncate_over_udp_and_complete_over_tcp() {
    let gslb = Gslb::start(&config()).await;
    let q = query("many.global.example.test.", RecordType::AAAA);
    let r = gslb.udp(&q).await;
    assert!(r.metadata.truncation, "TC=1 without EDNS");
    assert!(r.answers.is_empty());
    let r = gslb.tcp(&q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 25);
    let r = gslb.udp(&with_ecs(q.clone(), "198.51.100.70", 32)).await;
    assert!(!r.metadata.truncation, "fits in 1232 bytes with EDNS");
    assert_eq!(r.answers.len(), 25);
    assert_eq!(r.edns.as_ref().map(|e| e.max_payload()), Some(1232));
    gslb.server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_query_types_get_formerr_or_notimp_not_nodata() {
    // TSIG, TKEY and NXNAME are Meta-TYPEs (RFC 6895 §3.1, RFC 9824 §3.5):
    // FORMERR. MAILA and MAILB are obsolete QTYPEs: NOTIMP, as BIND. None
    // is an authoritative NODATA.
    let gslb = Gslb::start(&config()).await;
    let cases = [
        (250, ResponseCode::FormErr, "TSIG"),
        (249, ResponseCode::FormErr, "TKEY"),
        (128, ResponseCode::FormErr, "NXNAME"),
        (200, ResponseCode::FormErr, "an unassigned Meta-TYPE"),
        (254, ResponseCode::NotImp, "MAILA"),
        (253, ResponseCode::NotImp, "MAILB"),
    ];
    for (qtype, rcode, what) in cases {
        for name in [
            "webapp.global.example.test.",
            "nothing.global.example.test.",
        ] {
            let q = query(name, RecordType::from(qtype));
            for (r, transport) in [(gslb.udp(&q).await, "UDP"), (gslb.tcp(&q).await, "TCP")] {
                assert_eq!(
                    r.metadata.response_code, rcode,
                    "{what} for {name} over {transport}"
                );
                assert!(!r.metadata.authoritative, "{what} {transport}");
                assert!(
                    r.answers.is_empty() && r.authorities.is_empty(),
                    "{what} {transport}"
                );
                assert_eq!(r.queries[0].query_type(), RecordType::from(qtype));
            }
        }
    }
    // Data types next to them are still looked up.
    let r = gslb
        .udp(&query("webapp.global.example.test.", RecordType::from(127)))
        .await;
    assert_eq!(
        (r.metadata.response_code, r.metadata.authoritative),
        (ResponseCode::NoError, true)
    );
    gslb.server.shutdown(WAIT).await;
}
