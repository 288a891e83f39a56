//! Envoy's earliest-deadline-first scheduler (`source/common/upstream/edf_scheduler.h`), used by
//! weighted round robin and weighted least request.
//!
//! Each entry's deadline is `current_time + 1/weight`; the smallest deadline is picked, ties go
//! to the entry added first (an insertion counter). `create_with_picks` emulates `P` picks on a
//! fresh scheduler in O(n log n), which is how Envoy starts a worker's rotation at a random
//! point without walking it; floats are computed in Envoy's order so the rotation is Envoy's.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Debug)]
struct Entry {
    deadline: f64,
    order: u64,
    item: usize,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest deadline, then the lowest
    /// insertion order.
    fn cmp(&self, o: &Self) -> Ordering {
        o.deadline
            .total_cmp(&self.deadline)
            .then_with(|| o.order.cmp(&self.order))
    }
}

/// The scheduler over item indices `0..n`.
#[derive(Clone, Debug)]
pub struct EdfScheduler {
    heap: BinaryHeap<Entry>,
    current_time: f64,
    order_counter: u64,
}

impl EdfScheduler {
    /// Envoy's `createWithPicks(entries, weight, picks)`: the state after `picks` picks of a
    /// scheduler that started with every item added in order.
    pub fn create_with_picks(weights: &[f64], picks: u32) -> Self {
        // Envoy adds a tiny epsilon during construction so that no weight is zero.
        let aw: Vec<f64> = weights.iter().map(|w| w + 1e-13).collect();
        let total: f64 = aw.iter().sum();
        let p = picks as f64;
        let mut heap = BinaryHeap::with_capacity(aw.len());
        let mut current_time = 0.0f64;
        let mut floors_sum: u64 = 0;
        for (i, &w) in aw.iter().enumerate() {
            let mut floor = (w * p / total) as u32;
            if floor > 0 && floor as f64 / w >= p / total {
                floor -= 1;
            }
            let pick_time = floor as f64 / w;
            let deadline = (floor as f64 + 1.0) / w;
            current_time = current_time.max(pick_time);
            floors_sum += floor as u64;
            heap.push(Entry {
                deadline,
                order: i as u64,
                item: i,
            });
        }
        let mut s = EdfScheduler {
            heap,
            current_time,
            order_counter: aw.len() as u64,
        };
        for _ in floors_sum..picks as u64 {
            s.pick_and_add(|i| weights[i]);
        }
        s
    }

    /// Picks the earliest deadline and re-adds it with its weight as of now.
    pub fn pick_and_add(&mut self, weight: impl Fn(usize) -> f64) -> Option<usize> {
        let e = self.heap.pop()?;
        self.current_time = e.deadline;
        let w = weight(e.item);
        self.heap.push(Entry {
            deadline: self.current_time + 1.0 / w,
            order: self.order_counter,
            item: e.item,
        });
        self.order_counter += 1;
        Some(e.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(weights: &[f64], seed: u32, n: usize) -> Vec<usize> {
        let mut s = EdfScheduler::create_with_picks(weights, seed);
        (0..n)
            .map(|_| s.pick_and_add(|i| weights[i]).unwrap())
            .collect()
    }

    // Envoy round_robin_lb_test.cc `Weighted` (seed 0; later weights 2,1,3 and 1,4) and
    // `WeightedSeed` (seed 1).
    #[test]
    fn envoy_weighted_round_robin_vectors() {
        assert_eq!(picks(&[1.0, 2.0], 0, 6), [1, 0, 1, 1, 0, 1]);
        assert_eq!(picks(&[1.0, 2.0], 1, 6), [0, 1, 1, 0, 1, 1]);
        assert_eq!(
            picks(&[2.0, 1.0, 3.0], 0, 12),
            [2, 0, 2, 1, 0, 2, 2, 0, 2, 1, 0, 2]
        );
        assert_eq!(picks(&[1.0, 4.0], 0, 10), [1, 1, 1, 0, 1, 1, 1, 1, 0, 1]);
    }

    // `WeightedInitializationPicksAllHosts`: first picks over seeds 0..9 follow the weights.
    #[test]
    fn first_picks_over_seeds_follow_weights() {
        let mut counts = [0; 3];
        for seed in 0..10 {
            counts[picks(&[6.0, 3.0, 1.0], seed, 1)[0]] += 1;
        }
        assert_eq!(counts, [6, 3, 1]);
    }
}
