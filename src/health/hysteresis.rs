//! Rise/fall hysteresis: turning a stream of probe results into state flips.
//!
//! Pure counting, no I/O or clock, so it is tested alone. The first result
//! decides the state outright (an unprobed target counts as up, and waiting
//! `fall` rounds on a target that was dead before start-up would keep
//! answering it); after that, `rise` consecutive passes turn a down target
//! up and `fall` consecutive failures turn an up target down.

/// Counts for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    /// `None` until the first result.
    up: Option<bool>,
    /// Consecutive results that disagree with the current state.
    streak: u32,
}

impl Hysteresis {
    /// A target not probed yet; `rise` and `fall` are at least 1.
    pub fn new(rise: u32, fall: u32) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            up: None,
            streak: 0,
        }
    }

    /// The current state: `None` before the first result.
    pub fn state(&self) -> Option<bool> {
        self.up
    }

    /// Records one result; returns the new state when it changed (including
    /// the first result).
    pub fn record(&mut self, passed: bool) -> Option<bool> {
        match self.up {
            None => {
                self.up = Some(passed);
                self.streak = 0;
                Some(passed)
            }
            Some(up) if up == passed => {
                self.streak = 0;
                None
            }
            Some(up) => {
                self.streak += 1;
                let needed = if up { self.fall } else { self.rise };
                if self.streak < needed {
                    return None;
                }
                self.up = Some(passed);
                self.streak = 0;
                Some(passed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(h: &mut Hysteresis, results: &[bool]) -> Vec<Option<bool>> {
        results.iter().map(|r| h.record(*r)).collect()
    }

    #[test]
    fn first_result_decides() {
        let mut h = Hysteresis::new(2, 3);
        assert_eq!(h.state(), None);
        assert_eq!(h.record(false), Some(false));
        let mut h = Hysteresis::new(2, 3);
        assert_eq!(h.record(true), Some(true));
    }

    #[test]
    fn falls_after_fall_failures_in_a_row() {
        let mut h = Hysteresis::new(2, 3);
        h.record(true);
        assert_eq!(
            run(&mut h, &[false, false, true, false, false]),
            [None, None, None, None, None]
        );
        assert_eq!(h.record(false), Some(false), "third failure in a row");
        assert_eq!(h.state(), Some(false));
    }

    #[test]
    fn rises_after_rise_passes_in_a_row() {
        let mut h = Hysteresis::new(2, 1);
        h.record(false);
        assert_eq!(run(&mut h, &[true, false, true]), [None, None, None]);
        assert_eq!(h.record(true), Some(true));
        assert_eq!(h.record(false), Some(false), "fall 1 flips at once");
    }

    #[test]
    fn agreeing_results_reset_the_streak() {
        let mut h = Hysteresis::new(3, 3);
        h.record(true);
        for _ in 0..10 {
            assert_eq!(run(&mut h, &[false, false, true]), [None, None, None]);
        }
        assert_eq!(h.state(), Some(true));
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let mut h = Hysteresis::new(0, 0);
        h.record(true);
        assert_eq!(h.record(false), Some(false));
        assert_eq!(h.record(true), Some(true));
    }
}
