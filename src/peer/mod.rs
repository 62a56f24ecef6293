//! The peer group's exchange: this instance follows each peer's document
//! (`GET /peer/v1/document` on the peer's admin API, a long poll) and
//! hands what arrives to the table writer, which merges it and counts the
//! peer's health view in the vote while it is fresh.
//!
//! What this instance shows its peers is the writer's
//! ([`crate::table::shared::document`]); the admin API serves it. Nothing
//! here decides anything: a peer that cannot be reached, answers garbage
//! or stalls simply stops counting, and this instance keeps answering on
//! what it knows.

pub mod client;
pub mod follow;

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::model::{Peer, Peering};
use crate::table::writer::WriterHandle;
use client::PeerClient;
use follow::Follower;

/// Runs a follower per configured peer until `cancel` fires, restarting
/// them as reloads change `server.peers` or how peers are reached.
/// The admin token (`admin_token_file`, else `GSLB_ADMIN_TOKEN`) is sent
/// when `server.peer_token_file` is not set.
pub async fn run(
    mut peering: watch::Receiver<Arc<Peering>>,
    admin_token_file: Option<PathBuf>,
    writer: WriterHandle,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let mut running: HashMap<String, (Peer, CancellationToken)> = HashMap::new();
    let mut current: Option<Arc<Peering>> = None;
    let mut client: Option<Arc<PeerClient>> = None;
    loop {
        let wanted = peering.borrow_and_update().clone();
        let client_changed = current.as_ref().is_none_or(|c| {
            (&c.token_file, &c.ca_file, c.view_max_age)
                != (&wanted.token_file, &wanted.ca_file, wanted.view_max_age)
        });
        if client_changed {
            client = match PeerClient::new(&wanted, admin_token_file.as_deref()) {
                Ok(client) => Some(Arc::new(client)),
                Err(error) => {
                    warn!(%error, "cannot follow peers: their HTTP client cannot be built");
                    None
                }
            };
        }
        metrics
            .peers
            .configure(wanted.peers.iter().map(|p| p.name.as_str()));
        running.retain(|name, (peer, stop)| {
            let keep = !client_changed && wanted.peers.contains(peer);
            if !keep {
                stop.cancel();
                let (writer, name) = (writer.clone(), name.clone());
                tokio::spawn(async move { writer.peer_lost(name).await });
            }
            keep
        });
        if let Some(client) = &client {
            for peer in &wanted.peers {
                if running.contains_key(&peer.name) {
                    continue;
                }
                let stop = cancel.child_token();
                let follower = Follower::new(
                    peer.clone(),
                    client.clone(),
                    writer.clone(),
                    metrics.clone(),
                    wanted.view_max_age,
                );
                tokio::spawn(follower.run(stop.clone()));
                info!(peer = %peer.name, url = %peer.url, "following peer");
                running.insert(peer.name.clone(), (peer.clone(), stop));
            }
        }
        current = Some(wanted);
        tokio::select! {
            _ = cancel.cancelled() => break,
            changed = peering.changed() => if changed.is_err() { break },
        }
    }
    for (_, (_, stop)) in running {
        stop.cancel();
    }
}
