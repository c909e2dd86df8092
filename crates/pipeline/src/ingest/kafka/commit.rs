//! Which offsets the Kafka ingest may commit: only those of polls whose every record the
//! workers have run through the stages (handed to the writers), in poll order, so that a
//! consumer that dies restarts (or hands its partitions over) at the first record not yet
//! handled, and what it had handled but not committed comes again at most once per commit
//! interval.

use crate::shard::HandledFlag;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;

/// `(topic, partition)`.
pub type Partition = (String, i32);

/// Polls handed on and not committed yet, oldest first.
#[derive(Debug, Default)]
pub struct CommitTracker {
    pending: VecDeque<(HandledFlag, BTreeMap<Partition, i64>)>,
    /// Offsets taken for a commit that failed, waiting for the next attempt.
    retry: BTreeMap<Partition, i64>,
}

impl CommitTracker {
    /// Records one poll: for each partition, the offset after its last record; `handled` turns
    /// true when the workers are done with it.
    pub fn polled(&mut self, handled: HandledFlag, next: BTreeMap<Partition, i64>) {
        if !next.is_empty() {
            self.pending.push_back((handled, next));
        }
    }

    /// The offsets to commit now: those of the longest run of handled polls from the oldest
    /// (a later handled poll waits for an earlier one still running), merged with a failed
    /// commit's. Empty when there is nothing new.
    pub fn take_committable(&mut self) -> BTreeMap<Partition, i64> {
        let mut out = std::mem::take(&mut self.retry);
        while let Some((flag, _)) = self.pending.front() {
            if !flag.load(Ordering::Acquire) {
                break;
            }
            if let Some((_, next)) = self.pending.pop_front() {
                merge(&mut out, next);
            }
        }
        out
    }

    /// Gives back offsets whose commit failed: the next [`Self::take_committable`] tries again.
    pub fn retry(&mut self, offsets: BTreeMap<Partition, i64>) {
        merge(&mut self.retry, offsets);
    }

    /// Polls still being run by the workers.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

fn merge(into: &mut BTreeMap<Partition, i64>, from: BTreeMap<Partition, i64>) {
    for (partition, offset) in from {
        let slot = into.entry(partition).or_insert(offset);
        *slot = (*slot).max(offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Handled;

    fn offsets(list: &[(i32, i64)]) -> BTreeMap<Partition, i64> {
        list.iter()
            .map(|(p, o)| (("t".to_string(), *p), *o))
            .collect()
    }

    #[test]
    fn commits_only_the_handled_prefix_in_poll_order() {
        let mut tracker = CommitTracker::default();
        let (first, first_flag) = Handled::new();
        let (second, second_flag) = Handled::new();
        tracker.polled(first_flag, offsets(&[(0, 10), (1, 5)]));
        tracker.polled(second_flag, offsets(&[(0, 20)]));
        // The second poll is done, the first is not: nothing may be committed.
        drop(second);
        assert!(tracker.take_committable().is_empty());
        // A part of the first poll still runs on another worker.
        let other_part = first.clone();
        drop(first);
        assert!(tracker.take_committable().is_empty());
        drop(other_part);
        assert_eq!(tracker.take_committable(), offsets(&[(0, 20), (1, 5)]));
        assert_eq!(tracker.in_flight(), 0);
        assert!(tracker.take_committable().is_empty());
    }

    #[test]
    fn a_failed_commit_is_retried_with_what_came_after() {
        let mut tracker = CommitTracker::default();
        let (a, a_flag) = Handled::new();
        tracker.polled(a_flag, offsets(&[(0, 10)]));
        drop(a);
        let taken = tracker.take_committable();
        tracker.retry(taken);
        let (b, b_flag) = Handled::new();
        tracker.polled(b_flag, offsets(&[(1, 3)]));
        drop(b);
        assert_eq!(tracker.take_committable(), offsets(&[(0, 10), (1, 3)]));
    }
}
