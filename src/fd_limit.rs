//! The process's file descriptor budget.
//!
//! Every TCP client, health probe, admin request, config read and GeoIP
//! reload needs a descriptor. Distributions often start services with a
//! soft `RLIMIT_NOFILE` of 1,024 under a much higher hard limit, and a
//! server that runs out answers nothing new: its probes fail and the table
//! fails open. So at start gslb raises the soft limit to the hard one, and
//! keeps a reserve that DNS-over-TCP clients cannot take: the effective TCP
//! connection cap is at most the soft limit less [`reserve`].
//!
//! This module owns the limit arithmetic and the `setrlimit` call; it does
//! not know about sockets.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tracing::{debug, info};

/// Most descriptors held back from TCP clients: room for the prober's
/// concurrent probes (512), the admin API, the listeners, config and
/// record files, and the runtime's own.
pub const RESERVE_MAX: u64 = 1_024;

/// The open-file limit after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit in force; `None` when unlimited.
    pub soft: Option<u64>,
}

/// Raises the soft open-file limit to the hard limit, as far as the kernel
/// allows, and returns the limit in force. Failure is not fatal: gslb then
/// works within the limit it was given, and [`tcp_cap`] sizes TCP to fit.
pub fn raise() -> FdLimit {
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
        return FdLimit {
            soft: limit.current,
        };
    };
    if soft >= hard {
        return FdLimit { soft: Some(soft) };
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: Some(hard),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            info!(from = soft, to = hard, "raised the open file limit");
            FdLimit { soft: Some(hard) }
        }
        Err(error) => {
            debug!(%error, soft, hard, "cannot raise the open file limit");
            FdLimit { soft: Some(soft) }
        }
    }
}

/// Descriptors kept from TCP clients under a soft limit of `soft`: half of
/// it, at most [`RESERVE_MAX`].
pub fn reserve(soft: u64) -> u64 {
    (soft / 2).min(RESERVE_MAX)
}

/// The TCP connection cap that fits `limit`: the configured cap, lowered to
/// the soft limit less the reserve (at least 1, so TCP never goes dark).
pub fn tcp_cap(configured: usize, limit: FdLimit) -> usize {
    let Some(soft) = limit.soft else {
        return configured;
    };
    let available = soft.saturating_sub(reserve(soft)).max(1);
    configured.min(usize::try_from(available).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soft(n: u64) -> FdLimit {
        FdLimit { soft: Some(n) }
    }

    #[test]
    fn the_configured_cap_stands_when_the_limit_is_high() {
        assert_eq!(tcp_cap(1_000, soft(1_048_576)), 1_000);
        assert_eq!(tcp_cap(1_000, soft(4_096)), 1_000);
        assert_eq!(tcp_cap(1_000, FdLimit { soft: None }), 1_000);
    }

    #[test]
    fn a_low_limit_shrinks_the_cap_and_keeps_a_reserve() {
        assert_eq!(tcp_cap(1_000, soft(1_024)), 512);
        assert_eq!(tcp_cap(1_000, soft(100)), 50);
        assert_eq!(tcp_cap(1_000, soft(2_000)), 1_000);
        assert_eq!(tcp_cap(5_000, soft(4_096)), 3_072);
    }

    #[test]
    fn the_cap_never_reaches_zero() {
        assert_eq!(tcp_cap(1_000, soft(1)), 1);
        assert_eq!(tcp_cap(1_000, soft(0)), 1);
    }
}
