//! Probe slots: how many probes may hold a socket at once, and who waits
//! when that many do.
//!
//! One first-come pool let targets that hang until their timeout hold every
//! slot, so an unrelated target's probes queued behind them and its failover
//! came late, by about hung targets × timeout / slots. Here the probes of
//! targets already down (the ones that hang, and whose only news can be a
//! recovery) hold at most half the slots; the probes of targets that serve
//! (up, or not probed yet), whose failures are what failover waits for,
//! always find the other half free of them. The total stays bounded, so
//! probing never opens more sockets than the budget the process keeps for
//! it.
//!
//! Pure bookkeeping over two tokio semaphores (both FIFO): no I/O, no clock.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Which share of the slots a probe draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotClass {
    /// The target is up or not probed yet: answers depend on it, and its
    /// next failures decide how soon traffic leaves it.
    Serving,
    /// The target is down: its probes only look for a recovery.
    Down,
}

impl SlotClass {
    /// The class of a target in state `up` (`None`: not probed yet).
    pub fn of(up: Option<bool>) -> Self {
        match up {
            Some(false) => Self::Down,
            Some(true) | None => Self::Serving,
        }
    }
}

/// The slots, shared by every probe task.
#[derive(Debug)]
pub struct ProbeSlots {
    /// Every probe in flight holds one: the socket bound.
    all: Semaphore,
    /// Probes of down targets hold one of these too (waiting or in flight),
    /// so they never take more than this many of `all`.
    down: Semaphore,
    capacity: usize,
}

/// A probe's right to run; the slot frees when dropped.
#[derive(Debug)]
pub struct Slot<'a> {
    _all: SemaphorePermit<'a>,
    _down: Option<SemaphorePermit<'a>>,
}

/// What [`ProbeSlots::acquire`] found.
#[derive(Debug)]
pub struct Acquired<'a> {
    /// The slot.
    pub slot: Slot<'a>,
    /// The probe had to wait: every slot it may use was taken.
    pub waited: bool,
}

impl ProbeSlots {
    /// `capacity` slots in all (at least 2), half of them (rounded down)
    /// open to down targets.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2);
        Self {
            all: Semaphore::new(capacity),
            down: Semaphore::new(capacity / 2),
            capacity,
        }
    }

    /// The most probes in flight at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Most probes of down targets in flight at once.
    pub fn down_capacity(&self) -> usize {
        self.capacity / 2
    }

    /// Waits for a slot of `class`. `None` only if the slots were closed,
    /// which they never are.
    pub async fn acquire(&self, class: SlotClass) -> Option<Acquired<'_>> {
        let mut waited = false;
        let down = match class {
            SlotClass::Serving => None,
            SlotClass::Down => Some(match self.down.try_acquire() {
                Ok(permit) => permit,
                Err(_) => {
                    waited = true;
                    self.down.acquire().await.ok()?
                }
            }),
        };
        let all = match self.all.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                waited = true;
                self.all.acquire().await.ok()?
            }
        };
        Some(Acquired {
            slot: Slot {
                _all: all,
                _down: down,
            },
            waited,
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    /// Acquires and keeps `n` slots of `class`, all without waiting.
    async fn hold(slots: &ProbeSlots, class: SlotClass, n: usize) -> Vec<Slot<'_>> {
        let mut held = Vec::new();
        for _ in 0..n {
            let acquired = slots.acquire(class).await.expect("open");
            assert!(
                !acquired.waited,
                "slot {} of {class:?} was free",
                held.len()
            );
            held.push(acquired.slot);
        }
        held
    }

    #[tokio::test]
    async fn down_targets_never_hold_more_than_half() {
        let slots = ProbeSlots::new(8);
        let _down = hold(&slots, SlotClass::Down, 4).await;
        let mut more = std::pin::pin!(slots.acquire(SlotClass::Down));
        assert!(
            more.as_mut().now_or_never().is_none(),
            "a fifth down probe waits"
        );
        let _serving = hold(&slots, SlotClass::Serving, 4).await;
        assert!(
            slots.all.available_permits() == 0,
            "serving probes got the other half"
        );
    }

    #[tokio::test]
    async fn serving_targets_may_use_every_slot_left() {
        let slots = ProbeSlots::new(8);
        let serving = hold(&slots, SlotClass::Serving, 8).await;
        let mut down = std::pin::pin!(slots.acquire(SlotClass::Down));
        assert!(down.as_mut().now_or_never().is_none());
        drop(serving);
        let acquired = down.await.expect("open");
        assert!(acquired.waited, "it had to wait for a serving probe");
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_next_waiter() {
        let slots = ProbeSlots::new(2);
        let mut held = hold(&slots, SlotClass::Serving, 2).await;
        let mut next = std::pin::pin!(slots.acquire(SlotClass::Serving));
        assert!(next.as_mut().now_or_never().is_none());
        held.pop();
        assert!(next.as_mut().now_or_never().is_some());
    }

    #[test]
    fn class_follows_the_state() {
        assert_eq!(SlotClass::of(None), SlotClass::Serving);
        assert_eq!(SlotClass::of(Some(true)), SlotClass::Serving);
        assert_eq!(SlotClass::of(Some(false)), SlotClass::Down);
        assert_eq!(ProbeSlots::new(0).capacity(), 2, "at least two slots");
    }
}
