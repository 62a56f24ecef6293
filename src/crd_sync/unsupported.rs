//! DNSEndpoint properties gslb reads but does not honour: Route 53 routing
//! keys with no gslb meaning (`aws/region` latency routing,
//! `aws/health-check-id`, ...), other providers' `providerSpecific` keys,
//! and ExternalDNS or unknown `gslb.io/` annotations on the object. None of
//! them rejects an endpoint (the record is still served); each is reported
//! with what gslb does instead, so that a latency record that became a
//! weighted pick does not go unnoticed: a warning, an `UnsupportedProperty`
//! Event on the object ([`super::status`]) and the gauge
//! `gslb_crd_sync_unsupported_properties{property}`.
//!
//! What gslb does honour is in the mapping table of [`super::convert`]'s
//! callers ([`crate::crd_sync`]); this module only words the rest.

use std::fmt;

use super::endpoint::ObjectKey;
use super::ownership::SHARED_WITH;

/// Prefix of ExternalDNS' annotations (read on Services and Ingresses; its
/// DNSEndpoint source reads none).
pub const EXTERNAL_DNS_ANNOTATIONS: &str = "external-dns.alpha.kubernetes.io/";
/// Prefix of gslb's own annotations.
pub const GSLB_ANNOTATIONS: &str = "gslb.io/";

/// Metric label of an annotation.
const ANNOTATION: &str = "annotation";
/// Metric label of a `providerSpecific` key not named in [`LABELS`].
const OTHER: &str = "other";

/// Every `property` label value, so each series exists from the start:
/// the named Route 53 keys, then [`ANNOTATION`] and [`OTHER`] (a label per
/// unknown key would let any object's author add series).
pub const LABELS: [&str; 9] = [
    "aws/region",
    "aws/health-check-id",
    "aws/multi-value-answer",
    "aws/evaluate-target-health",
    "aws/geoproximity-region",
    "aws/geoproximity-local-zone-group",
    "aws/geoproximity-bias",
    ANNOTATION,
    OTHER,
];

/// Where the property is on the object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// `spec.endpoints[i].providerSpecific`.
    Endpoint(usize),
    /// `metadata.annotations`.
    Annotations,
}

/// One property gslb does not honour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unsupported {
    /// The object.
    pub object: ObjectKey,
    /// Where on it.
    pub place: Place,
    /// The key as written, e.g. `aws/region`.
    pub property: String,
    /// What gslb does instead, for the Event and the log.
    pub instead: String,
}

impl Unsupported {
    /// A `providerSpecific` key of endpoint `index` that gslb does not
    /// honour.
    pub fn key(object: &ObjectKey, index: usize, key: &str) -> Self {
        Self {
            object: object.clone(),
            place: Place::Endpoint(index),
            property: key.to_owned(),
            instead: instead_of_key(key),
        }
    }

    /// An annotation of the object, if gslb should say it does not read it:
    /// ExternalDNS' (which look like they route, and do not here) and
    /// unknown `gslb.io/` ones (a typo of `gslb.io/shared-with`, say).
    /// Other annotations are none of gslb's business.
    pub fn annotation(object: &ObjectKey, key: &str) -> Option<Self> {
        let instead = if let Some(name) = key.strip_prefix(EXTERNAL_DNS_ANNOTATIONS) {
            instead_of_annotation(name)
        } else if key.starts_with(GSLB_ANNOTATIONS) && key != SHARED_WITH {
            format!(
                "gslb knows one annotation, {SHARED_WITH}; routing keys go in spec.endpoints[].providerSpecific as gslb/*"
            )
        } else {
            return None;
        };
        Some(Self {
            object: object.clone(),
            place: Place::Annotations,
            property: key.to_owned(),
            instead,
        })
    }

    /// The `property` label of the metric.
    pub fn label(&self) -> &'static str {
        match self.place {
            Place::Annotations => ANNOTATION,
            Place::Endpoint(_) => LABELS
                .iter()
                .find(|l| **l == self.property)
                .copied()
                .unwrap_or(OTHER),
        }
    }

    /// The field the Event points at.
    pub fn field_path(&self) -> String {
        match self.place {
            Place::Endpoint(i) => format!("spec.endpoints[{i}].providerSpecific"),
            Place::Annotations => "metadata.annotations".to_owned(),
        }
    }
}

/// The Event note: where, what, and what gslb does instead.
impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Place::Endpoint(i) => write!(
                f,
                "spec.endpoints[{i}] providerSpecific {} is not supported by gslb: {}",
                self.property, self.instead
            ),
            Place::Annotations => write!(
                f,
                "annotation {} is not read by gslb: {}",
                self.property, self.instead
            ),
        }
    }
}

/// What gslb does for a `providerSpecific` key it does not honour.
fn instead_of_key(key: &str) -> String {
    const NEAREST: &str = "give the set's coordinates with gslb/lat and gslb/lon (or aws/geoproximity-coordinates \"LAT,LON\") and a client no set's geo matches gets the nearest set";
    match key {
        "aws/region" => format!(
            "gslb has no latency-based routing; it picks among the name's sets by health, priority, geo and weight, so without geo keys this is a weighted random pick: {NEAREST}"
        ),
        "aws/health-check-id" => "Route 53 health checks are not consulted; gslb probes the targets itself with the check gslb/health-check names (one of the server config's health_checks), and without one counts them healthy".to_owned(),
        "aws/multi-value-answer" => "there is no separate multi-value mode: gslb answers the healthy targets of the chosen set, rotated, up to the record's answers".to_owned(),
        "aws/evaluate-target-health" => "alias targets are not evaluated; gslb probes the targets itself with the check gslb/health-check names".to_owned(),
        "aws/geoproximity-region" | "aws/geoproximity-local-zone-group" => {
            format!("gslb knows no AWS Region or Local Zone locations: {NEAREST}")
        }
        "aws/geoproximity-bias" => "the nearest set is chosen by distance alone, without a bias".to_owned(),
        "alias" => "gslb answers addresses, never a Route 53 alias; host-name targets are resolved and answered as A and AAAA".to_owned(),
        _ => "gslb does not read it; the set is routed by the gslb/* keys and the Route 53 keys gslb maps (aws/weight, aws/failover, aws/geolocation-*, aws/geoproximity-coordinates)".to_owned(),
    }
}

/// What to write instead of the ExternalDNS annotation `name` (the part
/// after the prefix).
fn instead_of_annotation(name: &str) -> String {
    let field = match name {
        "hostname" => "spec.endpoints[].dnsName".to_owned(),
        "target" => "spec.endpoints[].targets".to_owned(),
        "ttl" => "spec.endpoints[].recordTTL".to_owned(),
        "set-identifier" => "spec.endpoints[].setIdentifier".to_owned(),
        other => match other.strip_prefix("aws-") {
            Some(aws) => format!("spec.endpoints[].providerSpecific as aws/{aws}"),
            None => "spec.endpoints[] (and providerSpecific)".to_owned(),
        },
    };
    format!(
        "ExternalDNS reads its annotations on Services and Ingresses, and neither it nor gslb reads them on a DNSEndpoint; write this as {field}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Unsupported {
        Unsupported::key(&ObjectKey::new("prod", "web"), 2, name)
    }

    #[test]
    fn route53_keys_say_what_gslb_does_instead() {
        let region = key("aws/region");
        assert_eq!(region.label(), "aws/region");
        assert_eq!(region.field_path(), "spec.endpoints[2].providerSpecific");
        let note = region.to_string();
        assert!(
            note.starts_with("spec.endpoints[2] providerSpecific aws/region is not supported by gslb: gslb has no latency-based routing"),
            "{note}"
        );
        assert!(note.contains("gslb/lat and gslb/lon"), "{note}");
        for (name, says) in [
            ("aws/health-check-id", "gslb/health-check"),
            ("aws/multi-value-answer", "up to the record's answers"),
            ("aws/evaluate-target-health", "probes the targets itself"),
            ("aws/geoproximity-region", "no AWS Region"),
            ("aws/geoproximity-local-zone-group", "Local Zone"),
            ("aws/geoproximity-bias", "without a bias"),
        ] {
            let u = key(name);
            assert_eq!(u.label(), name);
            assert!(u.instead.contains(says), "{name}: {}", u.instead);
        }
        let other = key("external-dns.alpha.kubernetes.io/cloudflare-proxied");
        assert_eq!(other.label(), "other", "one series for every other key");
        assert!(other.to_string().contains("cloudflare-proxied"));
    }

    #[test]
    fn only_dns_annotations_are_reported() {
        let object = ObjectKey::new("prod", "web");
        let weight =
            Unsupported::annotation(&object, "external-dns.alpha.kubernetes.io/aws-weight")
                .expect("an ExternalDNS annotation");
        assert_eq!(weight.label(), "annotation");
        assert_eq!(weight.field_path(), "metadata.annotations");
        assert!(
            weight
                .to_string()
                .ends_with("write this as spec.endpoints[].providerSpecific as aws/weight"),
            "{weight}"
        );
        let ttl = Unsupported::annotation(&object, "external-dns.alpha.kubernetes.io/ttl")
            .expect("an ExternalDNS annotation");
        assert!(ttl.instead.ends_with("recordTTL"), "{}", ttl.instead);
        let typo =
            Unsupported::annotation(&object, "gslb.io/shared_with").expect("unknown gslb.io");
        assert!(typo.instead.contains(SHARED_WITH));
        for ignored in [
            SHARED_WITH,
            "kubectl.kubernetes.io/last-applied-configuration",
            "k8gb.absa.oss/dnstype",
        ] {
            assert_eq!(Unsupported::annotation(&object, ignored), None, "{ignored}");
        }
    }
}
