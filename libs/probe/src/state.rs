//! Up and down with thresholds: a probe goes down after `failure-threshold`
//! failures in a row and comes back after `success-threshold` successes in a row,
//! so one blip pages nobody. Pure: no clock, no I/O.

/// The verdict and a change of it are shared vocabulary (`claudeops_core::probe`).
pub use claudeops_core::probe::{Health, Transition};

/// The verdict of one probe and the streak that leads to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streak {
    health: Health,
    failures: u32,
    successes: u32,
    failure_threshold: u32,
    success_threshold: u32,
}

impl Streak {
    /// Thresholds below 1 count as 1.
    pub fn new(failure_threshold: u32, success_threshold: u32) -> Streak {
        Streak {
            health: Health::Unknown,
            failures: 0,
            successes: 0,
            failure_threshold: failure_threshold.max(1),
            success_threshold: success_threshold.max(1),
        }
    }

    /// With the spec's thresholds (or the defaults: 3 failures, 2 successes).
    pub fn for_spec(spec: &crate::spec::ProbeSpec) -> Streak {
        Streak::new(spec.failure_threshold(), spec.success_threshold())
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Failures in a row so far.
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures
    }

    /// Counts one attempt's outcome. From `Unknown` the first success is `Up` (there
    /// is nothing to recover from) and `failure-threshold` failures are `Down`.
    pub fn observe(&mut self, ok: bool) -> Option<Transition> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
        }
        let next = match (self.health, ok) {
            (Health::Unknown, true) => Health::Up,
            (Health::Down, true) if self.successes >= self.success_threshold => Health::Up,
            (Health::Unknown | Health::Up, false) if self.failures >= self.failure_threshold => {
                Health::Down
            }
            (current, _) => current,
        };
        if next == self.health {
            return None;
        }
        let transition = Transition {
            from: self.health,
            to: next,
        };
        self.health = next;
        Some(transition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::{Down, Unknown, Up};

    fn t(from: Health, to: Health) -> Option<Transition> {
        Some(Transition { from, to })
    }

    /// (thresholds, outcomes, expected transition after each outcome, final health)
    #[test]
    fn follows_the_thresholds() {
        type Case = ((u32, u32), &'static str, Vec<Option<Transition>>, Health);
        let cases: Vec<Case> = vec![
            ((3, 2), "+", vec![t(Unknown, Up)], Up),
            ((3, 2), "--", vec![None, None], Unknown),
            ((3, 2), "---", vec![None, None, t(Unknown, Down)], Down),
            // one blip pages nobody
            ((3, 2), "+-+", vec![t(Unknown, Up), None, None], Up),
            (
                (3, 2),
                "+--+--",
                vec![t(Unknown, Up), None, None, None, None, None],
                Up,
            ),
            (
                (3, 2),
                "+---",
                vec![t(Unknown, Up), None, None, t(Up, Down)],
                Down,
            ),
            // one success is not enough to come back, two are
            (
                (3, 2),
                "---+-++",
                vec![None, None, t(Unknown, Down), None, None, None, t(Down, Up)],
                Up,
            ),
            ((1, 1), "-+", vec![t(Unknown, Down), t(Down, Up)], Up),
            ((0, 0), "-", vec![t(Unknown, Down)], Down),
            ((2, 1), "--", vec![None, t(Unknown, Down)], Down),
        ];
        for ((fail, succeed), outcomes, want, end) in cases {
            let mut state = Streak::new(fail, succeed);
            let got: Vec<Option<Transition>> =
                outcomes.chars().map(|c| state.observe(c == '+')).collect();
            assert_eq!(got, want, "{outcomes} with ({fail}, {succeed})");
            assert_eq!(state.health(), end, "{outcomes}");
        }
    }

    #[test]
    fn takes_thresholds_from_the_spec() {
        let mut spec = crate::spec::ProbeSpec::default();
        assert_eq!(Streak::for_spec(&spec), Streak::new(3, 2));
        spec.failure_threshold = Some(1);
        let mut state = Streak::for_spec(&spec);
        assert_eq!(state.observe(false), t(Unknown, Down));
    }

    #[test]
    fn counts_failures_in_a_row() {
        let mut state = Streak::new(3, 2);
        state.observe(false);
        state.observe(false);
        assert_eq!(state.failures_in_a_row(), 2);
        state.observe(true);
        assert_eq!(state.failures_in_a_row(), 0);
    }
}
