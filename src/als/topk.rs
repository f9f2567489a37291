//! Partial selection of the k best scores (a size-k heap), ties by ascending index.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate in the top-k heap. Ordered so that the heap's maximum is the *worst* kept
/// candidate: lower score is worse, and among equal scores the larger index is worse.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    key: f32,
    item: u32,
    score: f32,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(self.item.cmp(&other.item))
    }
}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}

/// The `k` best `(index, score)` of `scores`, best first, ties by ascending index, skipping
/// indices in `exclude` (sorted ascending; sorted here if it is not). NaN counts as -inf.
pub fn top_k(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let sorted_copy;
    let exclude = if exclude.is_sorted() {
        exclude
    } else {
        let mut v = exclude.to_vec();
        v.sort_unstable();
        sorted_copy = v;
        &sorted_copy[..]
    };
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    let mut ex = exclude.iter().peekable();
    for (i, &score) in scores.iter().enumerate() {
        let item = i as u32;
        while ex.next_if(|&&e| e < item).is_some() {}
        if ex.peek() == Some(&&item) {
            continue;
        }
        let key = if score.is_nan() {
            f32::NEG_INFINITY
        } else {
            score
        };
        let cand = Candidate { key, item, score };
        if heap.len() < k {
            heap.push(cand);
        } else if let Some(worst) = heap.peek() {
            // Items arrive in ascending index, so only a strictly higher key beats the worst.
            if key > worst.key {
                heap.pop();
                heap.push(cand);
            }
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|c| (c.item, c.score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_handles_nan_and_large_inputs_like_a_full_sort() {
        assert_eq!(
            top_k(&[f32::NAN, 1.0, f32::NEG_INFINITY], 3, &[])
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>(),
            vec![1, 0, 2]
        );
        let scores: Vec<f32> = (0..1000u32).map(|i| ((i * 37) % 101) as f32).collect();
        let exclude: Vec<u32> = (0..1000).step_by(3).collect();
        let mut full: Vec<(u32, f32)> = (0..1000u32)
            .filter(|i| i % 3 != 0)
            .map(|i| (i, scores[i as usize]))
            .collect();
        full.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        full.truncate(25);
        assert_eq!(top_k(&scores, 25, &exclude), full);
    }
}
