//! Overrides a record file declares (what `gslb crd-sync` writes from
//! GslbOverride objects): in force from the start, over the admin API's,
//! which answers 409 naming the object; listed with their source; counted
//! in `gslb_overrides`; gone with the next file that lacks them.

use std::time::Duration;

use crate::support::harness::*;

/// `api` with two sets, us-east serving first, and the record file
/// `crd-records.yaml`.
const CONFIG: &str = r#"records:
  - name: api.global.example.test.
    sets:
      - { id: us-east, targets: [192.0.2.1] }
      - { id: eu-west, targets: [192.0.2.2], priority: 1 }
"#;

/// What crd-sync writes for GslbOverride `us/gslb/drain-us-east`.
const DRAIN: &str = r#"# Written by gslb crd-sync from DNSEndpoint objects; edits are overwritten.
{
  "records": [],
  "overrides": [
    {
      "record": "api.global.example.test.",
      "set": "us-east",
      "state": "down",
      "reason": "kernel upgrade",
      "object": "us/gslb/drain-us-east",
      "at": "2025-01-31T12:00:00Z"
    }
  ]
}
"#;

const US_EAST: &str = "/overrides/api.global.example.test./us-east";

async fn delete(gslb: &Gslb, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .delete(format!("{}{path}", gslb.admin()))
        .send()
        .await
        .expect("admin API answers");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_override_is_in_force_and_the_admin_api_answers_409_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let records = dir.path().join("crd-records.yaml");
    std::fs::write(&records, DRAIN).expect("write the record file");
    let yaml = format!(
        "{}{CONFIG}",
        ZONE.replace(
            "  udp_workers: 2\n",
            &format!(
                "  udp_workers: 2\n  record_files: [\"{}\"]\n",
                records.display()
            ),
        )
    );
    let gslb = Gslb::start(&yaml).await;
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.2"]),
        "us-east is drained from the start"
    );

    let conflict = "api.global.example.test. set \\\"us-east\\\" is drained by GslbOverride us/gslb/drain-us-east; delete the object to clear it";
    for state in ["up", "down", "auto"] {
        let (code, body) = gslb
            .put(US_EAST, &format!(r#"{{"state":"{state}"}}"#))
            .await;
        assert_eq!(code, 409, "{body}");
        assert_eq!(body, format!(r#"{{"error":"{conflict}"}}"#));
    }
    let (code, body) = delete(&gslb, US_EAST).await;
    assert_eq!((code, body.contains(conflict)), (409, true), "{body}");
    assert_eq!(
        gslb.a("api.global.example.test.").await,
        ips(&["192.0.2.2"]),
        "still drained"
    );
    let (code, body) = gslb
        .put(
            "/overrides/api.global.example.test./eu-west",
            r#"{"state":"up"}"#,
        )
        .await;
    assert_eq!(code, 200, "other sets stay the admin API's: {body}");

    let (_, listed) = gslb.get("/overrides").await;
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    let listed = listed["overrides"].as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        (
            listed[0]["set"].as_str(),
            listed[0]["source"].as_str(),
            listed[0]["object"].as_str()
        ),
        (Some("eu-west"), Some("admin"), None)
    );
    assert_eq!(
        (
            listed[1]["set"].as_str(),
            listed[1]["source"].as_str(),
            listed[1]["object"].as_str(),
            listed[1]["reason"].as_str(),
            listed[1]["at"].as_str()
        ),
        (
            Some("us-east"),
            Some("kubernetes"),
            Some("us/gslb/drain-us-east"),
            Some("kernel upgrade"),
            Some("2025-01-31T12:00:00Z")
        )
    );
    for (series, want) in [
        ("gslb_overrides{state=\"down\",source=\"kubernetes\"}", 1.0),
        ("gslb_overrides{state=\"up\",source=\"kubernetes\"}", 0.0),
        ("gslb_overrides{state=\"down\",source=\"admin\"}", 0.0),
        ("gslb_overrides{state=\"up\",source=\"admin\"}", 1.0),
    ] {
        assert_eq!(gslb.metric(series).await, Some(want), "{series}");
    }

    // The object is deleted: crd-sync writes the file without it.
    let tmp = dir.path().join("crd-records.tmp");
    std::fs::write(&tmp, "{\"records\": []}\n").expect("write");
    std::fs::rename(&tmp, &records).expect("replace");
    let cleared = eventually(Duration::from_secs(5), async || {
        gslb.a("api.global.example.test.").await == ips(&["192.0.2.1"])
    })
    .await;
    assert!(cleared.is_some(), "us-east answers again");
    assert_eq!(
        gslb.metric("gslb_overrides{state=\"down\",source=\"kubernetes\"}")
            .await,
        Some(0.0)
    );
    let (code, body) = delete(&gslb, US_EAST).await;
    assert_eq!(code, 404, "nothing left to clear: {body}");
    gslb.server.shutdown(WAIT).await;
}
