//! The k best (item, score) pairs of one query, reused across queries without allocating:
//! the one selection behind ALS `recommend`/`similar` ([`crate::als::top_k`]) and the serving
//! commands' blocked top-k.
//!
//! Order: higher score first, equal scores by ascending item index (the protocol's tie-break);
//! NaN ranks as −∞ but still counts (−0 equals +0), so a query gets exactly k rows whenever k items remain.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A kept candidate; the heap's maximum is the worst one kept.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: f32,
    item: u32,
    score: f32,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // "Greater" = worse: lower key, or equal key and larger item index.
        other
            .key
            .total_cmp(&self.key)
            .then(self.item.cmp(&other.item))
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}

/// A size-k selection; items may arrive in any order.
#[derive(Debug, Default)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    /// An empty selection of at most `k` items.
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Forget the kept items (the capacity stays).
    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// The score an item must beat (or tie with a lower index) to enter; −∞ while not full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |e| e.key)
        }
    }

    /// Whether `push(item, score)` could change the selection: a cheap test before looking up
    /// exclusions.
    #[inline]
    pub fn admits(&self, item: u32, score: f32) -> bool {
        if self.k == 0 {
            return false;
        }
        if self.heap.len() < self.k {
            return true;
        }
        let key = key(score);
        self.heap
            .peek()
            .is_some_and(|w| key > w.key || (key == w.key && item < w.item))
    }

    /// Offer one item.
    #[inline]
    pub fn push(&mut self, item: u32, score: f32) {
        if !self.admits(item, score) {
            return;
        }
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap.push(Entry {
            key: key(score),
            item,
            score,
        });
    }

    /// The kept items, best first, appended to `out`; the selection is left empty.
    pub fn drain_sorted(&mut self, out: &mut Vec<(u32, f32)>) {
        let start = out.len();
        out.extend(self.heap.drain().map(|e| (e.item, e.score)));
        out[start..].sort_by(|a, b| key(b.1).total_cmp(&key(a.1)).then(a.0.cmp(&b.0)));
    }
}

/// The ranking key: NaN as −∞, and −0 as +0 (they are equal scores and tie by index).
#[inline]
fn key(score: f32) -> f32 {
    if score.is_nan() {
        f32::NEG_INFINITY
    } else {
        score + 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_arrival_order_gives_the_full_sort_with_ties_by_index() {
        let scores: Vec<f32> = (0..500u32).map(|i| ((i * 37) % 11) as f32).collect();
        let mut want: Vec<(u32, f32)> = (0..500u32).map(|i| (i, scores[i as usize])).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        want.truncate(17);
        let mut t = TopK::new(17);
        // Descending index order: ties must still prefer the lower index.
        for i in (0..500u32).rev() {
            t.push(i, scores[i as usize]);
        }
        let mut got = Vec::new();
        t.drain_sorted(&mut got);
        assert_eq!(got, want);
        assert_eq!(t.threshold(), f32::NEG_INFINITY);
    }

    #[test]
    fn nan_and_infinite_scores_still_fill_k_rows() {
        let mut t = TopK::new(3);
        t.push(4, f32::NAN);
        t.push(2, f32::NEG_INFINITY);
        t.push(9, 1.0);
        let mut got = Vec::new();
        t.drain_sorted(&mut got);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (9, 1.0));
        // NaN and -inf tie as -inf: by index.
        assert_eq!(got[1].0, 2);
        assert_eq!(got[2].0, 4);
        let mut none = TopK::new(0);
        none.push(1, 1.0);
        none.drain_sorted(&mut got);
        assert_eq!(got.len(), 3);
    }
}
