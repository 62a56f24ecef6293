//! Hostname targets (alias flattening): a set's `targets` may name a host,
//! such as a cloud load balancer's `lb-1234.eu-west-1.elb.example.test.`,
//! and gslb answers its addresses as ordinary A/AAAA records of the set,
//! never a CNAME, so it works at a zone apex and with geo and weights
//! (Route 53 alias records, PowerDNS ALIAS, gdnsd DYNC).
//!
//! This module owns the background half: [`schedule`] decides when each
//! name is resolved again and how long its addresses stay usable (pure);
//! [`lookup`] asks the upstream resolvers; [`task`] runs the refresher that
//! ties them together and sends changes to the table writer. It does not
//! own what the DNS path reads: the writer folds the addresses into the
//! snapshot, and the prober probes them like any other target.

pub mod lookup;
pub mod schedule;
pub mod task;

#[cfg(test)]
pub(crate) mod responder;

pub use lookup::{Resolvers, Upstream};
pub use schedule::{Answer, Freshness, HostAddrs, HostStatus};
pub use task::{AliasBoard, Refresher, Sink};

use std::sync::Arc;

use tokio::{sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::name::Name;

/// Starts the refresher for `gslb serve`: asks `server.resolvers` (or the
/// system's) for the names `hostnames` lists and reports to `sink`.
/// Fails only when the table has hostname targets and no resolver can be
/// set up; without hostname targets that is a warning (a reload that adds
/// some then leaves them unresolved, and `/status` says so).
pub fn start<S: Sink>(
    server: &crate::model::Server,
    sink: S,
    hostnames: watch::Receiver<Arc<[Name]>>,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> anyhow::Result<Arc<AliasBoard>> {
    match Resolvers::new(&server.resolvers) {
        Ok(resolvers) => {
            info!(resolvers = ?resolvers.servers(), "resolvers for hostname targets");
            let refresher = Refresher::new(resolvers, sink, server.alias);
            let board = refresher.board();
            tasks.spawn(refresher.run(hostnames, cancel.clone()));
            Ok(board)
        }
        Err(error) if hostnames.borrow().is_empty() => {
            warn!(%error, "no resolvers for hostname targets; configs with host names in targets will not resolve until a restart");
            let board = Arc::new(AliasBoard::new(server.alias));
            board.set_ready();
            Ok(board)
        }
        Err(error) => Err(anyhow::anyhow!(error)),
    }
}
