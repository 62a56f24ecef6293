//! `server.instance`, `server.peers` and the keys of the peer group.

use std::{collections::BTreeSet, path::PathBuf};

use super::Checker;
use crate::config::raw::RawServer;
use crate::config::settings as s;
use crate::model::{HealthQuorum, Peer, Peering};

/// Longest instance name: it goes into User-Agent headers and versions.
const MAX_INSTANCE: usize = 63;

pub(super) fn peering(check: &mut Checker<'_>, raw: &RawServer) -> Option<Peering> {
    let errors = check.error_count();
    let instance = match &raw.instance {
        Some(name) => {
            instance_name(check, "server.instance", name);
            name.clone()
        }
        None => default_instance(),
    };
    let mut names = BTreeSet::new();
    let mut peers = Vec::new();
    for (i, peer) in raw.peers.iter().enumerate() {
        let path = format!("server.peers[{i}]");
        instance_name(check, format!("{path}.name"), &peer.name);
        if peer.name == instance {
            check.error(
                format!("{path}.name"),
                format!(
                    "{:?} is this instance's own name (server.instance)",
                    peer.name
                ),
            );
        } else if !names.insert(peer.name.clone()) {
            check.error(
                format!("{path}.name"),
                format!("{:?} is listed twice", peer.name),
            );
        }
        if let Some(url) = base_url(check, format!("{path}.url"), &peer.url) {
            peers.push(Peer {
                name: peer.name.clone(),
                url,
            });
        }
    }
    let health_quorum = match raw.health_quorum.as_deref() {
        None | Some("majority") => Some(HealthQuorum::Majority),
        Some("own") => Some(HealthQuorum::Own),
        Some(other) => {
            check.error(
                "server.health_quorum",
                format!("{other:?} is not a quorum rule: use \"majority\" or \"own\""),
            );
            None
        }
    };
    let view_max_age = check.duration(
        s::PEER_VIEW_MAX_AGE.key,
        raw.peer_view_max_age.as_deref(),
        &s::PEER_VIEW_MAX_AGE,
    );
    if check.error_count() != errors {
        return None;
    }
    Some(Peering {
        instance,
        peers,
        token_file: raw.peer_token_file.as_ref().map(PathBuf::from),
        ca_file: raw.peer_ca_file.as_ref().map(PathBuf::from),
        health_quorum: health_quorum?,
        view_max_age: view_max_age?,
    })
}

/// The host name, which tells instances apart when one runs per host.
fn default_instance() -> String {
    let uname = rustix::system::uname();
    let host = uname.nodename().to_string_lossy();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(MAX_INSTANCE)
        .collect();
    if host.is_empty() { "gslb".into() } else { host }
}

fn instance_name(check: &mut Checker<'_>, path: impl std::fmt::Display, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= MAX_INSTANCE
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !ok {
        check.error(
            path,
            format!(
                "{name:?} is not an instance name: 1 to {MAX_INSTANCE} letters, digits, '-', '.' or '_'"
            ),
        );
    }
}

/// An admin API base URL: `http://` or `https://`, a host, no query; a
/// trailing `/` is dropped.
fn base_url(check: &mut Checker<'_>, path: String, text: &str) -> Option<String> {
    let bad = |why: &str| {
        format!(
            "{text:?} is not a peer's admin URL such as \"https://ns2.example.net:9153\": {why}"
        )
    };
    let url = match reqwest::Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            check.error(path, bad(&e.to_string()));
            return None;
        }
    };
    let problem = if !matches!(url.scheme(), "http" | "https") {
        Some("the scheme must be http or https")
    } else if url.host().is_none() {
        Some("it has no host")
    } else if url.query().is_some() || url.fragment().is_some() {
        Some("it must not have a query or fragment")
    } else if !url.username().is_empty() || url.password().is_some() {
        Some("credentials go in server.peer_token_file, not the URL")
    } else {
        None
    };
    if let Some(why) = problem {
        check.error(path, bad(why));
        return None;
    }
    Some(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use crate::config::load_from_text;

    const ZONE: &str = "zones:
  - origin: global.example.test.
    soa: { mname: ns1.global.example.test., rname: hostmaster.example.test. }
    nameservers: { ns1.global.example.test.: [192.0.2.53] }
";

    fn errors(server: &str) -> String {
        let text = format!("server: {{ dns_listen: [\"127.0.0.1:0\"], {server} }}\n{ZONE}");
        match load_from_text("gslb.yaml", &text, &[]) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn peers_are_checked_with_their_path() {
        assert_eq!(
            errors("instance: ns1, peers: [{ name: ns2, url: \"http://127.0.0.1:9153/\" }]"),
            ""
        );
        for (server, expected) in [
            ("instance: \"ns 1\"", "server.instance"),
            (
                "instance: ns1, peers: [{ name: ns1, url: \"http://a:1\" }]",
                "own name",
            ),
            (
                "peers: [{ name: b, url: \"http://a:1\" }, { name: b, url: \"http://c:1\" }]",
                "listed twice",
            ),
            (
                "peers: [{ name: b, url: \"ftp://a:1\" }]",
                "server.peers[0].url",
            ),
            ("peers: [{ name: b, url: \"http://a:1/?x=1\" }]", "query"),
            (
                "peers: [{ name: b, url: \"http://u:p@a:1\" }]",
                "credentials",
            ),
            ("health_quorum: most", "server.health_quorum"),
            ("peer_view_max_age: 10ms", "server.peer_view_max_age"),
        ] {
            let text = errors(server);
            assert!(text.contains(expected), "{server}: {text}");
        }
    }
}
