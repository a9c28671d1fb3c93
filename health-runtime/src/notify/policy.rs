//! When a check is notified: once per status entered, restored notices, the least interval
//! between two notifications, and flap damping. Plain state, driven by the observer (each
//! transition) and the scheduler (each due time), on the clock they are given.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::Status;

/// The rules every check of one runtime is notified by.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) on_warning: bool,
    pub(crate) on_critical: bool,
    pub(crate) restored: bool,
    pub(crate) min_interval: Duration,
    pub(crate) flap_window: Duration,
    /// `0`: no flap damping.
    pub(crate) flap_threshold: u32,
}

impl Rules {
    fn is_problem(&self, status: Status) -> bool {
        match status {
            Status::Warning => self.on_warning,
            Status::Critical => self.on_critical,
            Status::Healthy | Status::Unknown => false,
        }
    }
}

/// What to send about a check now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// It entered a problem status.
    Transition,
    /// It left the problem status last notified for one that is not a problem.
    Restored,
    /// It changed too often inside the window.
    Flapping(Flapping),
}

/// The summary of a flapping check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Flapping {
    /// Transitions inside the window.
    pub(crate) transitions: usize,
    /// The statuses it went through, best first.
    pub(crate) statuses: Vec<Status>,
    pub(crate) window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flap {
    /// Not flapping.
    Steady,
    /// Flapping, its summary held back by the interval.
    Pending,
    /// Flapping, summary sent: quiet until it has been stable for a window.
    Quiet,
}

/// One check's notification state.
#[derive(Debug)]
pub(crate) struct CheckPolicy {
    status: Status,
    /// The status of the last notification sent (or of a recovery passed over in silence).
    sent: Option<Status>,
    /// The problem status last notified and not restored since: what a receiver holds open.
    /// A flapping summary sent at a status that is no problem leaves it as it was.
    problem: Option<Status>,
    sent_at: Option<Instant>,
    last_change: Option<Instant>,
    /// The transitions inside the window, oldest first, at most the threshold's worth beyond
    /// it: (when, from, to).
    recent: VecDeque<(Instant, Status, Status)>,
    flap: Flap,
    due: Option<Instant>,
}

impl Default for CheckPolicy {
    fn default() -> Self {
        CheckPolicy {
            status: Status::Unknown,
            sent: None,
            problem: None,
            sent_at: None,
            last_change: None,
            recent: VecDeque::new(),
            flap: Flap::Steady,
            due: None,
        }
    }
}

/// The most transitions one check keeps for its flap count: its summary says "at least" this
/// many beyond it.
pub(crate) const MAX_RECENT: usize = 1_024;

/// What [`CheckPolicy::evaluate`] wants.
enum Want {
    Nothing,
    Send(Kind),
    /// A recovery while restored notices are off: remembered, not sent.
    Silent,
}

impl CheckPolicy {
    /// When [`on_due`](Self::on_due) should be called next.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The check went `from` → `to` at `now`: what to send now, if anything.
    pub(crate) fn on_transition(
        &mut self,
        rules: &Rules,
        from: Status,
        to: Status,
        now: Instant,
    ) -> Option<Kind> {
        if from == to {
            return None;
        }
        self.status = to;
        self.last_change = Some(now);
        if rules.flap_threshold > 0 && from != Status::Unknown {
            if self.recent.len() >= MAX_RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((now, from, to));
            self.prune(rules, now);
            if self.flap == Flap::Steady
                && self.recent.len() >= rules.flap_threshold as usize
                && self.flaps_through_a_problem(rules)
            {
                self.flap = Flap::Pending;
            }
        }
        self.try_send(rules, now)
    }

    /// A due time has come: what to send now, if anything.
    pub(crate) fn on_due(&mut self, rules: &Rules, now: Instant) -> Option<Kind> {
        if self.due.is_none_or(|due| now < due) {
            return None;
        }
        if self.flap == Flap::Quiet
            && self
                .last_change
                .and_then(|change| change.checked_add(rules.flap_window))
                .is_none_or(|end| now >= end)
        {
            self.flap = Flap::Steady;
            self.recent.clear();
        }
        self.try_send(rules, now)
    }

    /// Whether the flapping concerns the receivers: a status of `on` is among the transitions
    /// inside the window, or a problem notified is still open. A check flapping between
    /// statuses that are never notified (healthy and warning with only `critical` on) is left
    /// alone.
    fn flaps_through_a_problem(&self, rules: &Rules) -> bool {
        self.problem.is_some()
            || self
                .recent
                .iter()
                .any(|(_, from, to)| rules.is_problem(*from) || rules.is_problem(*to))
    }

    /// The runtime is shutting down: what the interval or a flap's quiet holds back is to be
    /// sent now (the state a receiver is left with), if anything.
    pub(crate) fn flush(&mut self, rules: &Rules, now: Instant) -> Option<Kind> {
        if self.flap == Flap::Quiet {
            self.flap = Flap::Steady;
            self.recent.clear();
        }
        self.sent_at = None;
        self.try_send(rules, now)
    }

    fn prune(&mut self, rules: &Rules, now: Instant) {
        if let Some(start) = now.checked_sub(rules.flap_window) {
            while self.recent.front().is_some_and(|(at, ..)| *at < start) {
                self.recent.pop_front();
            }
        }
    }

    fn evaluate(&self, rules: &Rules, now: Instant) -> Want {
        match self.flap {
            Flap::Quiet => Want::Nothing,
            Flap::Pending => Want::Send(Kind::Flapping(self.summary(rules, now))),
            Flap::Steady if rules.is_problem(self.status) => {
                if self.sent == Some(self.status) {
                    Want::Nothing
                } else {
                    Want::Send(Kind::Transition)
                }
            }
            // No problem now: a problem notified and not restored since is restored, even when
            // the last notification sent (a flapping summary) already gave the status now.
            Flap::Steady if self.problem.is_some() => {
                if rules.restored {
                    Want::Send(Kind::Restored)
                } else {
                    Want::Silent
                }
            }
            Flap::Steady => Want::Nothing,
        }
    }

    fn summary(&self, rules: &Rules, now: Instant) -> Flapping {
        let start = now.checked_sub(rules.flap_window);
        let inside = self
            .recent
            .iter()
            .filter(|(at, ..)| start.is_none_or(|start| *at >= start));
        let mut seen = [false; 4];
        let mut transitions = 0;
        for (_, from, to) in inside {
            transitions += 1;
            for status in [from, to] {
                if let Some(index) = Status::ALL.iter().position(|s| s == status) {
                    seen[index] = true;
                }
            }
        }
        Flapping {
            transitions,
            statuses: Status::ALL
                .into_iter()
                .zip(seen)
                .filter_map(|(status, seen)| seen.then_some(status))
                .collect(),
            window: rules.flap_window,
        }
    }

    fn try_send(&mut self, rules: &Rules, now: Instant) -> Option<Kind> {
        let sent = match self.evaluate(rules, now) {
            Want::Nothing => None,
            Want::Silent => {
                self.sent = Some(self.status);
                self.problem = None;
                None
            }
            Want::Send(kind) => {
                let free = self
                    .sent_at
                    .and_then(|at| at.checked_add(rules.min_interval))
                    .is_none_or(|end| now >= end);
                free.then(|| {
                    self.sent = Some(self.status);
                    self.sent_at = Some(now);
                    match kind {
                        Kind::Flapping(_) => {
                            self.flap = Flap::Quiet;
                            if rules.is_problem(self.status) {
                                self.problem = Some(self.status);
                            }
                        }
                        Kind::Transition => self.problem = Some(self.status),
                        Kind::Restored => self.problem = None,
                    }
                    kind
                })
            }
        };
        self.due = match self.flap {
            Flap::Quiet => self
                .last_change
                .and_then(|change| change.checked_add(rules.flap_window)),
            _ if matches!(self.evaluate(rules, now), Want::Send(_)) => self
                .sent_at
                .and_then(|at| at.checked_add(rules.min_interval)),
            _ => None,
        };
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::{Critical, Healthy, Unknown, Warning};

    fn rules() -> Rules {
        Rules {
            on_warning: true,
            on_critical: true,
            restored: true,
            min_interval: Duration::from_secs(30),
            flap_window: Duration::from_secs(300),
            flap_threshold: 5,
        }
    }

    /// A check and a clock, stepping through transitions and due times.
    struct Run {
        rules: Rules,
        policy: CheckPolicy,
        now: Instant,
        status: Status,
        sent: Vec<(Duration, Kind, Status)>,
        start: Instant,
    }

    impl Run {
        fn new(rules: Rules) -> Self {
            let now = Instant::now();
            Run {
                rules,
                policy: CheckPolicy::default(),
                now,
                status: Unknown,
                sent: Vec::new(),
                start: now,
            }
        }

        fn to(&mut self, status: Status) -> &mut Self {
            let from = std::mem::replace(&mut self.status, status);
            if let Some(kind) = self
                .policy
                .on_transition(&self.rules, from, status, self.now)
            {
                self.sent.push((self.now - self.start, kind, status));
            }
            self
        }

        /// Moves the clock on by `secs`, firing every due time on the way.
        fn wait(&mut self, secs: u64) -> &mut Self {
            let until = self.now + Duration::from_secs(secs);
            while let Some(due) = self.policy.due().filter(|due| *due <= until) {
                self.now = due.max(self.now);
                if let Some(kind) = self.policy.on_due(&self.rules, self.now) {
                    self.sent.push((self.now - self.start, kind, self.status));
                }
            }
            self.now = until;
            self
        }

        fn kinds(&self) -> Vec<(Kind, Status)> {
            self.sent.iter().map(|(_, k, s)| (k.clone(), *s)).collect()
        }
    }

    #[test]
    fn a_problem_once_then_restored_once() {
        let mut run = Run::new(rules());
        run.to(Healthy).wait(60).to(Warning).wait(60).to(Healthy);
        assert_eq!(
            run.kinds(),
            [(Kind::Transition, Warning), (Kind::Restored, Healthy)]
        );
    }

    #[test]
    fn unknown_to_healthy_is_quiet_and_unknown_to_critical_is_not() {
        let mut run = Run::new(rules());
        run.to(Healthy).wait(600);
        assert!(run.sent.is_empty());
        let mut run = Run::new(rules());
        run.to(Critical);
        assert_eq!(run.kinds(), [(Kind::Transition, Critical)]);
    }

    #[test]
    fn only_critical() {
        let mut run = Run::new(Rules {
            on_warning: false,
            ..rules()
        });
        run.to(Healthy).wait(60).to(Warning).wait(60);
        assert!(run.sent.is_empty());
        run.to(Critical).wait(60).to(Warning).wait(60).to(Healthy);
        // Warning is no problem here: leaving critical for it is the recovery.
        assert_eq!(
            run.kinds(),
            [(Kind::Transition, Critical), (Kind::Restored, Warning)]
        );
    }

    #[test]
    fn changes_inside_the_interval_are_folded_into_the_latest() {
        let mut run = Run::new(rules());
        run.to(Healthy).to(Warning);
        run.wait(5)
            .to(Critical)
            .wait(5)
            .to(Warning)
            .wait(5)
            .to(Critical);
        run.wait(60);
        assert_eq!(
            run.kinds(),
            [(Kind::Transition, Warning), (Kind::Transition, Critical)]
        );
        assert_eq!(run.sent[1].0, Duration::from_secs(30));
    }

    #[test]
    fn a_change_undone_inside_the_interval_sends_nothing() {
        let mut run = Run::new(rules());
        run.to(Healthy)
            .to(Warning)
            .wait(5)
            .to(Healthy)
            .wait(5)
            .to(Warning);
        run.wait(120);
        assert_eq!(run.kinds(), [(Kind::Transition, Warning)]);
    }

    #[test]
    fn ten_flaps_send_the_first_change_and_one_summary() {
        let mut run = Run::new(rules());
        run.to(Healthy);
        for _ in 0..5 {
            run.wait(1).to(Critical).wait(1).to(Healthy);
        }
        run.wait(200);
        let kinds = run.kinds();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert_eq!(kinds[0], (Kind::Transition, Critical));
        let (Kind::Flapping(summary), Healthy) = &kinds[1] else {
            panic!("{kinds:?}");
        };
        assert_eq!(summary.transitions, 10);
        assert_eq!(summary.statuses, [Healthy, Critical]);
        // Stable for a window at healthy: the critical notified first is restored, once.
        run.wait(600);
        let kinds = run.kinds();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert_eq!(kinds[2], (Kind::Restored, Healthy));
        assert_eq!(run.sent[2].0, Duration::from_secs(10 + 300));
        run.wait(600);
        assert_eq!(run.sent.len(), 3);
    }

    #[test]
    fn a_summary_at_a_problem_then_stable_there_sends_nothing_more_until_it_recovers() {
        let mut run = Run::new(rules());
        run.to(Healthy);
        for _ in 0..5 {
            run.wait(1).to(Critical).wait(1).to(Healthy);
        }
        run.wait(1).to(Critical).wait(600);
        let kinds = run.kinds();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert!(
            matches!(kinds[1], (Kind::Flapping(_), Critical)),
            "{kinds:?}"
        );
        run.to(Healthy);
        assert_eq!(run.kinds()[2], (Kind::Restored, Healthy));
        assert_eq!(run.sent.len(), 3);
    }

    #[test]
    fn flapping_between_statuses_never_notified_sends_nothing() {
        let mut run = Run::new(Rules {
            on_warning: false,
            ..rules()
        });
        run.to(Healthy);
        for _ in 0..10 {
            run.wait(1).to(Warning).wait(1).to(Healthy);
        }
        run.wait(600);
        assert!(run.sent.is_empty(), "{:?}", run.kinds());
        // A status of `on` among the flaps: that flapping is notified.
        run.to(Critical);
        for _ in 0..5 {
            run.wait(1).to(Warning).wait(1).to(Critical);
        }
        run.wait(600);
        let kinds = run.kinds();
        assert_eq!(kinds[0], (Kind::Transition, Critical));
        assert!(matches!(kinds[1], (Kind::Flapping(_), _)), "{kinds:?}");
    }

    #[test]
    fn after_flapping_the_state_is_sent_once_if_it_differs() {
        let mut run = Run::new(rules());
        run.to(Healthy);
        for _ in 0..3 {
            run.wait(1).to(Critical).wait(1).to(Healthy);
        }
        run.wait(40); // the summary, at healthy
        run.to(Critical); // still flapping: quiet
        assert_eq!(run.sent.len(), 2);
        run.wait(299);
        assert_eq!(run.sent.len(), 2);
        run.wait(2);
        assert_eq!(run.sent.len(), 3);
        assert_eq!(run.kinds()[2], (Kind::Transition, Critical));
        run.wait(600).to(Healthy);
        assert_eq!(run.kinds()[3], (Kind::Restored, Healthy));
    }

    #[test]
    fn restored_notices_can_be_turned_off() {
        let mut run = Run::new(Rules {
            restored: false,
            ..rules()
        });
        run.to(Healthy)
            .to(Warning)
            .wait(60)
            .to(Healthy)
            .wait(60)
            .to(Warning);
        assert_eq!(
            run.kinds(),
            [(Kind::Transition, Warning), (Kind::Transition, Warning)]
        );
    }

    #[test]
    fn a_flush_sends_what_is_held_back_at_once() {
        let mut run = Run::new(rules());
        run.to(Healthy).to(Critical).wait(5).to(Healthy);
        assert_eq!(run.sent.len(), 1);
        let kind = run.policy.flush(&run.rules, run.now);
        assert_eq!(kind, Some(Kind::Restored));
        // Nothing held back: nothing to flush.
        assert_eq!(run.policy.flush(&run.rules, run.now), None);
        assert_eq!(run.policy.due(), None);
    }

    #[test]
    fn durations_beyond_the_clock_do_not_panic() {
        let mut run = Run::new(Rules {
            min_interval: Duration::MAX,
            flap_window: Duration::MAX,
            ..rules()
        });
        run.to(Healthy).to(Critical).to(Healthy);
        for _ in 0..5 {
            run.to(Critical).to(Healthy);
        }
        assert_eq!(run.kinds()[0], (Kind::Transition, Critical));
    }

    #[test]
    fn no_flap_damping_and_no_interval_sends_every_change() {
        let mut run = Run::new(Rules {
            min_interval: Duration::ZERO,
            flap_threshold: 0,
            ..rules()
        });
        run.to(Healthy);
        for _ in 0..10 {
            run.to(Critical).to(Healthy);
        }
        assert_eq!(run.sent.len(), 20);
    }
}
