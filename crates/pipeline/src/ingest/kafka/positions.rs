//! Guard against records a client hands on out of sequence: for each partition, the offset the
//! next record should have. A poll whose records jump past it (a fetch answer lost with a
//! broken connection while the client's position moved on) is cut at the jump, and the
//! partition is read again from the expected offset. A jump seen again at the same place after
//! re-reading is a real hole in the log (compaction, transaction markers) and is accepted.

use super::commit::Partition;
use std::collections::{BTreeMap, BTreeSet};

/// One record's place: its partition and offset.
pub type Place = (Partition, i64);

/// Expected next offsets and the holes already re-read once.
#[derive(Debug, Default)]
pub struct Positions {
    next: BTreeMap<Partition, i64>,
    reread: BTreeMap<Partition, (i64, i64)>,
}

/// What to do with one poll.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Indexes (into the poll) of the records to hand on, in poll order.
    pub keep: Vec<usize>,
    /// Partitions to read again from the given offset (their later records were dropped).
    pub seek: Vec<(Partition, i64)>,
}

impl Positions {
    /// Checks a poll's records (in the order the client gave them) and moves the expected
    /// offsets past what is kept.
    pub fn check(&mut self, places: &[Place]) -> Verdict {
        let mut verdict = Verdict::default();
        let mut cut: BTreeSet<&Partition> = BTreeSet::new();
        for (i, (partition, offset)) in places.iter().enumerate() {
            if cut.contains(partition) {
                continue;
            }
            match self.next.get(partition).copied() {
                Some(expected) if *offset > expected => {
                    let hole = (expected, *offset);
                    if self.reread.get(partition) == Some(&hole) {
                        // Read again and still there: the log has a hole here.
                        self.reread.remove(partition);
                    } else {
                        self.reread.insert(partition.clone(), hole);
                        cut.insert(partition);
                        verdict.seek.push((partition.clone(), expected));
                        continue;
                    }
                }
                _ => {}
            }
            self.next.insert(partition.clone(), offset + 1);
            verdict.keep.push(i);
        }
        verdict
    }

    /// Forgets partitions that are not assigned any more: when one comes back, it starts from
    /// its committed offset, which another member may have moved.
    pub fn keep_only(&mut self, assigned: &BTreeSet<Partition>) {
        self.next.retain(|p, _| assigned.contains(p));
        self.reread.retain(|p, _| assigned.contains(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(list: &[(i32, i64)]) -> Vec<Place> {
        list.iter()
            .map(|(p, o)| (("t".to_string(), *p), *o))
            .collect()
    }

    fn part(p: i32) -> Partition {
        ("t".to_string(), p)
    }

    #[test]
    fn in_sequence_records_pass() {
        let mut positions = Positions::default();
        let v = positions.check(&places(&[(0, 0), (1, 7), (0, 1), (1, 8)]));
        assert_eq!(v.keep, vec![0, 1, 2, 3]);
        assert!(v.seek.is_empty());
        // A rewind (after a rebalance or a seek) is accepted as it is.
        let v = positions.check(&places(&[(0, 0), (0, 1)]));
        assert_eq!(v.keep, vec![0, 1]);
    }

    #[test]
    fn a_jump_is_read_again_once_then_accepted() {
        let mut positions = Positions::default();
        positions.check(&places(&[(0, 0), (0, 1), (1, 0)]));
        // Partition 0 jumps from 2 to 5: its records are dropped and it is read again from 2;
        // partition 1 is unaffected.
        let v = positions.check(&places(&[(0, 5), (1, 1), (0, 6)]));
        assert_eq!(v.keep, vec![1]);
        assert_eq!(v.seek, vec![(part(0), 2)]);
        // Read again: the records come in sequence now.
        let v = positions.check(&places(&[(0, 2), (0, 3)]));
        assert_eq!(v.keep, vec![0, 1]);
        // A real hole: the same jump again after the re-read is accepted.
        let v = positions.check(&places(&[(0, 9)]));
        assert_eq!(v.seek, vec![(part(0), 4)]);
        let v = positions.check(&places(&[(0, 9), (0, 10)]));
        assert_eq!(v.keep, vec![0, 1]);
        assert!(v.seek.is_empty());
    }

    #[test]
    fn revoked_partitions_are_forgotten() {
        let mut positions = Positions::default();
        positions.check(&places(&[(0, 3), (1, 3)]));
        positions.keep_only(&[part(1)].into_iter().collect());
        // Partition 0 comes back further on (another member committed): no jump.
        let v = positions.check(&places(&[(0, 40), (1, 4)]));
        assert_eq!(v.keep, vec![0, 1]);
    }
}
