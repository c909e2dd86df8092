//! What local mode prints while it runs (plain lines, for a terminal or a log): a summary of the
//! flows seen every so often, and, when nothing has been seen for a while, which interfaces are
//! watched and how to widen the set — a quiet machine whose only traffic is on the excluded
//! loopback otherwise looks broken.

use std::time::{Duration, Instant};

/// Tracks the flow counter between ticks and decides what to say.
pub struct Watch {
    quiet_after: Duration,
    summary_every: Duration,
    last_count: u64,
    last_change: Instant,
    last_summary: Instant,
    last_summary_count: u64,
    hinted: bool,
}

/// What to print at a tick.
#[derive(Debug, PartialEq, Eq)]
pub enum Say {
    /// Flows seen since the last summary.
    Summary {
        /// New flows since the last summary.
        new_flows: u64,
        /// All flows since the start.
        total: u64,
        /// Interfaces hooked now.
        interfaces: usize,
    },
    /// No flow for `quiet_after`.
    Quiet(String),
}

impl Watch {
    /// Starts counting at `now`.
    pub fn new(quiet_after: Duration, summary_every: Duration, now: Instant) -> Self {
        Self {
            quiet_after,
            summary_every,
            last_count: 0,
            last_change: now,
            last_summary: now,
            last_summary_count: 0,
            hinted: false,
        }
    }

    /// One tick with the flow counter `count` and the hooked interfaces; returns the lines to
    /// print.
    pub fn tick(
        &mut self,
        now: Instant,
        count: u64,
        attached: &[String],
        excluded: &[String],
    ) -> Vec<Say> {
        let mut out = Vec::new();
        if count != self.last_count {
            self.last_count = count;
            self.last_change = now;
            self.hinted = false;
        }
        if !self.hinted && now.duration_since(self.last_change) >= self.quiet_after {
            self.hinted = true;
            out.push(Say::Quiet(quiet_hint(
                now.duration_since(self.last_change),
                attached,
                excluded,
            )));
        }
        if now.duration_since(self.last_summary) >= self.summary_every
            && count > self.last_summary_count
        {
            out.push(Say::Summary {
                new_flows: count - self.last_summary_count,
                total: count,
                interfaces: attached.len(),
            });
            self.last_summary = now;
            self.last_summary_count = count;
        }
        out
    }
}

/// The hint: what is watched, what is excluded, how to widen.
pub fn quiet_hint(for_how_long: Duration, attached: &[String], excluded: &[String]) -> String {
    let watched = if attached.is_empty() {
        "no interface is hooked".to_string()
    } else {
        format!("watching {}", attached.join(", "))
    };
    let excluded_text = excluded
        .iter()
        .filter(|e| !e.is_empty())
        .cloned()
        .collect::<Vec<_>>();
    let excluded_text = if excluded_text.is_empty() {
        String::new()
    } else {
        format!(" (excluded: {})", excluded_text.join(", "))
    };
    let widen = if excluded.iter().any(|e| e == "lo") {
        "; traffic on loopback is not watched: add --exclude-interfaces= to include it"
    } else {
        ""
    };
    format!(
        "no flow seen for {}s: {watched}{excluded_text}{widen}; widen with --interfaces / --exclude-interfaces, or --netns-dirs /var/run/netns for containers' namespaces",
        for_how_long.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_machine_is_told_what_is_watched_once_per_quiet_spell() {
        let t0 = Instant::now();
        let mut w = Watch::new(Duration::from_secs(20), Duration::from_secs(10), t0);
        let att = vec!["eth0".to_string()];
        let exc = vec!["lo".to_string()];
        assert!(
            w.tick(t0 + Duration::from_secs(19), 0, &att, &exc)
                .is_empty()
        );
        let said = w.tick(t0 + Duration::from_secs(20), 0, &att, &exc);
        let [Say::Quiet(hint)] = said.as_slice() else {
            panic!("{said:?}")
        };
        assert!(hint.contains("watching eth0"), "{hint}");
        assert!(hint.contains("excluded: lo"), "{hint}");
        assert!(hint.contains("--exclude-interfaces="), "{hint}");
        // Said once, not at every tick.
        assert!(
            w.tick(t0 + Duration::from_secs(25), 0, &att, &exc)
                .is_empty()
        );
        // Flows arrive: a summary; then quiet again: a new hint.
        let said = w.tick(t0 + Duration::from_secs(26), 7, &att, &exc);
        assert_eq!(
            said,
            vec![Say::Summary {
                new_flows: 7,
                total: 7,
                interfaces: 1
            }]
        );
        let said = w.tick(t0 + Duration::from_secs(46), 7, &att, &exc);
        assert!(matches!(said.as_slice(), [Say::Quiet(_)]), "{said:?}");
    }
}
