//! A clock the DNS path can read for the price of one atomic load: whole
//! seconds since the server started, advanced by a background task.
//!
//! Answers from hostname targets must not outlive what remains of the
//! upstream TTL, so their TTL depends on the time of the query. Reading
//! the system clock per query costs a call; this clock costs a relaxed
//! load of a word written a few times a second. It is rounded up, so a
//! TTL computed from it errs short, never long; a stalled ticker would
//! err long by the stall, which is why it ticks four times a second.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often [`CoarseClock::run`] advances the clock.
pub const TICK: Duration = Duration::from_millis(250);

/// Seconds since an epoch, rounded up.
#[derive(Debug)]
pub struct CoarseClock {
    epoch: Instant,
    secs: AtomicU32,
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl CoarseClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            secs: AtomicU32::new(0),
        }
    }

    /// The current second, as of the last tick.
    #[inline]
    pub fn now(&self) -> u32 {
        self.secs.load(Ordering::Relaxed)
    }

    /// The second `at` falls in, rounded down: an expiry converted with it
    /// never lies later than the real one.
    pub fn second_of(&self, at: Instant) -> u32 {
        let secs = at.saturating_duration_since(self.epoch).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// Seconds left until `expires` (a value of [`second_of`](Self::second_of)).
    #[inline]
    pub fn left(&self, expires: u32) -> u32 {
        expires.saturating_sub(self.now())
    }

    /// Advances the clock to now, rounded up; it never goes back.
    pub fn tick(&self) {
        let elapsed = self.epoch.elapsed();
        let secs = elapsed.as_secs() + u64::from(elapsed.subsec_nanos() > 0);
        let secs = u32::try_from(secs).unwrap_or(u32::MAX);
        self.secs.fetch_max(secs, Ordering::Relaxed);
    }

    /// Ticks every [`TICK`] until `cancel` fires.
    pub async fn run(self: std::sync::Arc<Self>, cancel: CancellationToken) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = interval.tick() => self.tick(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rounds_up_and_counts_down_to_an_expiry() {
        let clock = CoarseClock::new();
        let expires = clock.second_of(Instant::now() + Duration::from_millis(10_900));
        assert_eq!(expires, 10, "expiries round down");
        clock.tick();
        assert_eq!(clock.left(expires), 10);
        tokio::time::advance(Duration::from_millis(1)).await;
        clock.tick();
        assert_eq!(clock.now(), 1, "now rounds up");
        assert_eq!(clock.left(expires), 9);
        tokio::time::advance(Duration::from_secs(20)).await;
        clock.tick();
        assert_eq!(clock.left(expires), 0, "never negative");
    }

    #[tokio::test(start_paused = true)]
    async fn the_ticker_keeps_it_within_a_tick_of_real_time() {
        let clock = std::sync::Arc::new(CoarseClock::new());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(clock.clone().run(cancel.clone()));
        tokio::time::sleep(Duration::from_millis(7_100)).await;
        assert_eq!(clock.now(), 7, "ticked at 7.0 s: {}", clock.now());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(clock.now(), 8, "ticked at 7.25 s, rounded up");
        cancel.cancel();
        task.await.expect("stops");
    }
}
