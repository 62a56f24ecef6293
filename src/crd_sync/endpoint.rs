//! The parts of an ExternalDNS `DNSEndpoint` object that the mapping reads,
//! decoded leniently from the API server's JSON.
//!
//! Decoding is per endpoint: one endpoint that does not decode (a CRD
//! installed without a schema lets anything in) is a rejection of that
//! endpoint, never a failure of the whole object or of the whole list. This
//! module knows nothing about zones or gslb records; `convert` does.

use std::fmt;

use kube::api::DynamicObject;

use super::ownership::{SHARED_WITH, Sharing};
use serde::Deserialize;
use serde_json::Value;

/// Cluster, namespace and name: how operators and logs name an object.
/// The cluster is empty when the sidecar watches one cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The cluster's name when several are watched; empty otherwise.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of an object of the one watched cluster.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self::in_cluster("", namespace, name)
    }

    /// The key of an object of `cluster` (empty: the one watched cluster).
    pub fn in_cluster(cluster: &str, namespace: &str, name: &str) -> Self {
        Self {
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The key of an object watched in `cluster`.
    pub fn of(cluster: &str, object: &DynamicObject) -> Self {
        Self::in_cluster(
            cluster,
            object.metadata.namespace.as_deref().unwrap_or_default(),
            object.metadata.name.as_deref().unwrap_or_default(),
        )
    }
}

/// `NAMESPACE/NAME`, or `CLUSTER/NAMESPACE/NAME` with several clusters: also
/// the default set id of the object's endpoints.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.cluster.is_empty() {
            write!(f, "{}/", self.cluster)?;
        }
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One `DNSEndpoint` as the conversion sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsEndpoint {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `metadata.uid`: tells a re-created object from the old one, so its
    /// rejections are reported again.
    pub uid: String,
    /// `metadata.generation`: bumped by the API server on every spec change.
    pub generation: Option<i64>,
    /// `status.observedGeneration` as last written (by gslb or another
    /// controller); the status is only patched when it differs.
    pub observed_generation: Option<i64>,
    /// `metadata.creationTimestamp` in Unix seconds: the older object owns
    /// a name (for its namespace) and wins a conflict over a set id.
    pub created_secs: Option<i64>,
    /// The `gslb.io/shared-with` annotation: other namespaces this object's
    /// namespace lets add endpoints to the names it owns.
    pub shared_with: Sharing,
    /// The keys of `metadata.annotations`, sorted: the conversion reports
    /// those meant for a DNS controller that gslb does not read.
    pub annotation_keys: Vec<String>,
    /// `spec.endpoints`, each decoded on its own.
    pub endpoints: Vec<Result<Endpoint, String>>,
}

/// One entry of `spec.endpoints` (ExternalDNS `endpoint.Endpoint`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The hostname.
    #[serde(default)]
    pub dns_name: String,
    /// Addresses (or, for other record types, names or text).
    #[serde(default)]
    pub targets: Vec<String>,
    /// `A`, `AAAA`, `CNAME`, `TXT`, ...
    #[serde(default)]
    pub record_type: String,
    /// TTL in seconds; 0 or absent means "not set" in ExternalDNS. Named
    /// explicitly: `camelCase` would look for `recordTtl`.
    #[serde(rename = "recordTTL", default)]
    pub record_ttl: Option<i64>,
    /// Tells apart the endpoints of one name from several clusters.
    #[serde(default)]
    pub set_identifier: String,
    /// Routing keys such as `aws/weight` or `gslb/priority`.
    #[serde(default)]
    pub provider_specific: Vec<ProviderSpecific>,
}

/// One `providerSpecific` property.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProviderSpecific {
    /// Key, e.g. `aws/failover`.
    #[serde(default)]
    pub name: String,
    /// Value, always a string in the CRD.
    #[serde(default)]
    pub value: String,
}

impl ProviderSpecific {
    /// A property from its parts (fixtures and tests).
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }
}

impl DnsEndpoint {
    /// Reads the fields the mapping needs from an object of the one
    /// watched cluster.
    pub fn from_dynamic(object: &DynamicObject) -> Self {
        Self::from_cluster("", object)
    }

    /// Reads the fields the mapping needs from an object watched in
    /// `cluster` (empty: the one watched cluster). An object without a name
    /// is given an empty one; the API server never sends one.
    pub fn from_cluster(cluster: &str, object: &DynamicObject) -> Self {
        let meta = &object.metadata;
        let key = ObjectKey::of(cluster, object);
        let observed_generation = object
            .data
            .get("status")
            .and_then(|s| s.get("observedGeneration"))
            .and_then(Value::as_i64);
        let endpoints = match object.data.get("spec").and_then(|s| s.get("endpoints")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(decode_endpoint).collect(),
            Some(_) => vec![Err("spec.endpoints is not a list".to_owned())],
        };
        Self {
            key,
            uid: meta.uid.clone().unwrap_or_default(),
            generation: meta.generation,
            observed_generation,
            created_secs: meta.creation_timestamp.as_ref().map(|t| t.0.as_second()),
            shared_with: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(SHARED_WITH))
                .map(|value| Sharing::parse(value))
                .unwrap_or_default(),
            annotation_keys: meta
                .annotations
                .iter()
                .flat_map(|a| a.keys().cloned())
                .collect(),
            endpoints,
        }
    }

    /// Sort key of "older first": `creationTimestamp`, then namespace,
    /// name and cluster, so equal timestamps still give one order whichever
    /// cluster answered first; objects without a creation time (never from
    /// an API server) come last.
    pub fn seniority(&self) -> (i64, &str, &str, &str) {
        (
            self.created_secs.unwrap_or(i64::MAX),
            &self.key.namespace,
            &self.key.name,
            &self.key.cluster,
        )
    }
}

impl Endpoint {
    /// The record name `dnsName` stands for: lower-cased with a trailing
    /// dot, so `WebApp.x.test` and `webapp.x.test.` from two objects are one
    /// record (and one claim). `None` when it is empty.
    pub fn record_name(&self) -> Option<String> {
        let trimmed = self.dns_name.trim().trim_end_matches('.');
        (!trimmed.is_empty()).then(|| format!("{}.", trimmed.to_ascii_lowercase()))
    }
}

/// Decodes one endpoint, naming the field that is wrong.
fn decode_endpoint(value: &Value) -> Result<Endpoint, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            format!("does not decode: {}", e.inner())
        } else {
            format!("{path} does not decode: {}", e.inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: Value) -> DynamicObject {
        serde_json::from_value(json).expect("fixture object")
    }

    #[test]
    fn reads_metadata_status_and_endpoints() {
        let o = DnsEndpoint::from_dynamic(&object(serde_json::json!({
            "apiVersion": "externaldns.k8s.io/v1alpha1",
            "kind": "DNSEndpoint",
            "metadata": {"name": "web", "namespace": "prod", "uid": "u1", "generation": 3,
                         "creationTimestamp": "2024-01-01T00:00:10Z"},
            "spec": {"endpoints": [
                {"dnsName": "a.example.test", "recordTTL": 60, "recordType": "A",
                 "targets": ["192.0.2.1"], "setIdentifier": "x",
                 "providerSpecific": [{"name": "aws/weight", "value": "5"}],
                 "labels": {"ignored": "yes"}},
                {"dnsName": "b.example.test", "recordTTL": "sixty"}
            ]},
            "status": {"observedGeneration": 2}
        })));
        assert_eq!(o.key.to_string(), "prod/web");
        assert_eq!(
            (o.generation, o.observed_generation, o.uid.as_str()),
            (Some(3), Some(2), "u1")
        );
        assert_eq!(o.created_secs, Some(1_704_067_210));
        let first = o.endpoints[0].as_ref().expect("first decodes");
        assert_eq!(first.record_ttl, Some(60));
        assert_eq!(
            first.provider_specific,
            [ProviderSpecific::new("aws/weight", "5")]
        );
        let second = o.endpoints[1].as_ref().expect_err("second does not");
        assert!(second.contains("recordTTL"), "{second}");
    }

    #[test]
    fn an_object_without_spec_has_no_endpoints() {
        let o = DnsEndpoint::from_dynamic(&object(serde_json::json!({
            "apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
            "metadata": {"name": "empty", "namespace": "default"}
        })));
        assert!(o.endpoints.is_empty());
        assert_eq!(o.observed_generation, None);
    }
}
