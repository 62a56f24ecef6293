//! The health vote: a target is down when more than half of the fresh
//! views that have an opinion say so. A tie keeps it up, because wrongly
//! sending clients away from a healthy cluster (and piling them onto the
//! others) is the worse mistake for a GSLB, and because a single instance
//! whose own network path is broken must not drain a cluster that the
//! others reach.

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use super::document::HealthItem;
pub use crate::model::HealthQuorum;

/// The outcome of one target's vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the target counts as up.
    pub up: bool,
    /// Whether the views that voted disagree.
    pub contested: bool,
}

/// Decides one target from this instance's state (`None`: not probed
/// yet) and the fresh peer views' states (`None`: that peer does not
/// probe it, or has no result yet). A target nobody has a result for is
/// up, as a target counts as up until probed.
pub fn decide(
    mode: HealthQuorum,
    own: Option<bool>,
    peers: impl IntoIterator<Item = Option<bool>>,
) -> Verdict {
    let (mut up, mut down) = (0u32, 0u32);
    for vote in std::iter::once(own).chain(peers).flatten() {
        if vote {
            up += 1;
        } else {
            down += 1;
        }
    }
    let contested = up > 0 && down > 0;
    let verdict_up = match mode {
        HealthQuorum::Own => own.unwrap_or(true),
        HealthQuorum::Majority => down <= up,
    };
    Verdict {
        up: verdict_up,
        contested,
    }
}

/// One peer's health view: (check name, address) → (up, since in ms).
#[derive(Debug, Clone, Default)]
pub struct HealthView {
    by_addr: HashMap<IpAddr, Vec<(Arc<str>, bool, u64)>>,
}

impl HealthView {
    /// The view a peer's document describes.
    pub fn from_items(items: &[HealthItem]) -> Self {
        let mut by_addr: HashMap<IpAddr, Vec<(Arc<str>, bool, u64)>> = HashMap::new();
        for item in items {
            let checks = by_addr.entry(item.addr).or_default();
            match checks.iter_mut().find(|(c, ..)| **c == *item.check) {
                Some(slot) => *slot = (slot.0.clone(), item.up, item.since_ms),
                None => checks.push((Arc::from(item.check.as_str()), item.up, item.since_ms)),
            }
        }
        Self { by_addr }
    }

    /// The peer's state of the target `addr` under check `check`, and
    /// since when (ms).
    pub fn get(&self, check: &str, addr: IpAddr) -> Option<(bool, u64)> {
        self.by_addr
            .get(&addr)?
            .iter()
            .find(|(c, ..)| **c == *check)
            .map(|&(_, up, since)| (up, since))
    }

    /// Number of targets in the view.
    pub fn len(&self) -> usize {
        self.by_addr.values().map(Vec::len).sum()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthQuorum::{Majority, Own};

    #[test]
    fn one_instance_that_sees_down_is_outvoted() {
        let v = decide(Majority, Some(false), [Some(true), Some(true)]);
        assert_eq!(
            v,
            Verdict {
                up: true,
                contested: true
            }
        );
    }

    #[test]
    fn a_majority_that_sees_down_takes_the_target_down() {
        let v = decide(Majority, Some(true), [Some(false), Some(false)]);
        assert_eq!(
            v,
            Verdict {
                up: false,
                contested: true
            }
        );
        assert!(!decide(Majority, Some(false), [Some(false)]).up);
    }

    #[test]
    fn a_tie_keeps_the_target_up() {
        assert!(decide(Majority, Some(false), [Some(true)]).up);
        assert!(decide(Majority, Some(true), [Some(false)]).up);
        assert!(decide(Majority, Some(false), [Some(true), Some(false), Some(true)]).up);
    }

    #[test]
    fn views_without_a_result_do_not_vote() {
        // Alone with its own result: it decides.
        assert!(!decide(Majority, Some(false), [None, None]).up);
        // Not probed here yet: the peers decide.
        assert!(!decide(Majority, None, [Some(false)]).up);
        // Nobody knows: up until probed.
        assert_eq!(
            decide(Majority, None, [None]),
            Verdict {
                up: true,
                contested: false
            }
        );
    }

    #[test]
    fn own_mode_ignores_the_peers_but_reports_disagreement() {
        let v = decide(Own, Some(true), [Some(false), Some(false)]);
        assert_eq!(
            v,
            Verdict {
                up: true,
                contested: true
            }
        );
        assert!(decide(Own, None, [Some(false)]).up);
    }

    #[test]
    fn a_view_is_looked_up_by_check_and_address() {
        let addr: IpAddr = "192.0.2.1".parse().unwrap();
        let item = |check: &str, up| HealthItem {
            check: check.into(),
            addr,
            up,
            since_ms: 5,
        };
        let view = HealthView::from_items(&[item("web", false), item("tcp", true)]);
        assert_eq!(view.get("web", addr), Some((false, 5)));
        assert_eq!(view.get("tcp", addr), Some((true, 5)));
        assert_eq!(view.get("other", addr), None);
        assert_eq!(view.len(), 2);
    }
}
