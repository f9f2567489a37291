//! Full-ranking top-K candidates (peer `metrics.py`: `topk_excluding`) and per-group hit rates.
//!
//! Per eval user: candidates = all items minus the user's train items (removed, not pushed
//! down), sorted by score descending with ties by ascending item index; top = first K. The
//! metrics of the top list (HR, NDCG, precision, Recall, MRR, MAP) are in [`super::at_k`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use super::check::{check_k, check_non_empty, check_sorted};
use super::error::{MetricError, Result};

/// A candidate in the bounded heap. `Ord` ranks a WORSE candidate as greater, so the heap's
/// top is the worst kept candidate. Scores are finite (checked), so the order is total.
#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    score: f64,
    item: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .partial_cmp(&self.score)
            .unwrap_or(Ordering::Equal)
            .then(self.item.cmp(&other.item))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` best item indices of `scores`, best first, with `exclude` removed.
///
/// Order: score descending, ties by ascending item index (numpy's stable sort on `-score`).
/// Fewer than `k` items come back only when fewer candidates exist. Runs in
/// O(n log k) with a bounded heap, no full sort. `scores` may be `f32` or `f64`
/// (compared as f64, which keeps the f32 order).
///
/// `exclude` must be sorted ascending (duplicates are tolerated) and hold indices below
/// `scores.len()`. Errors: [`MetricError::InvalidK`], [`MetricError::Empty`] (no scores),
/// [`MetricError::NonFinite`] (NaN/inf scores are rejected rather than ranked, because they
/// mean a broken model), [`MetricError::NotSorted`], [`MetricError::ItemOutOfRange`],
/// [`MetricError::TooManyItems`].
pub fn top_k_excluding<S: Copy + Into<f64>>(
    scores: &[S],
    exclude_sorted: &[u32],
    k: usize,
) -> Result<Vec<u32>> {
    check_k("top_k_excluding", k)?;
    check_non_empty("scores", scores.len())?;
    if u32::try_from(scores.len() - 1).is_err() {
        return Err(MetricError::TooManyItems { n: scores.len() });
    }
    check_sorted("excluded items", exclude_sorted, false)?;
    if let Some(&last) = exclude_sorted.last()
        && last as usize >= scores.len()
    {
        return Err(MetricError::ItemOutOfRange {
            what: "excluded items",
            item: last,
            n_items: scores.len(),
        });
    }

    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k.min(scores.len()) + 1);
    let mut excluded = exclude_sorted.iter().copied().peekable();
    for (index, &score) in scores.iter().enumerate() {
        let score: f64 = score.into();
        if !score.is_finite() {
            return Err(MetricError::NonFinite {
                what: "scores",
                index,
                value: score,
            });
        }
        // Fits: scores.len() - 1 <= u32::MAX was checked above.
        let item = index as u32;
        let mut is_excluded = false;
        while let Some(&e) = excluded.peek() {
            if e > item {
                break;
            }
            is_excluded |= e == item;
            excluded.next();
        }
        if is_excluded {
            continue;
        }
        let candidate = Candidate { score, item };
        if heap.len() < k {
            heap.push(candidate);
        } else if let Some(mut worst) = heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
    }
    Ok(heap.into_sorted_vec().into_iter().map(|c| c.item).collect())
}

/// Hit rate of one group of users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupHitRate<G> {
    /// The group key.
    pub group: G,
    /// Fraction of the group's users with a hit.
    pub hr: f64,
    /// Number of users in the group.
    pub users: usize,
}

/// Hit rate per group, groups ascending; `group_of` maps a user to its group (e.g. an
/// activity bucket). Users are taken as given (a user listed twice counts twice).
pub fn group_hit_rate<G: Ord + Clone>(
    per_user_hits: &[(u32, bool)],
    group_of: impl Fn(u32) -> G,
) -> Vec<GroupHitRate<G>> {
    let mut counts: BTreeMap<G, (usize, usize)> = BTreeMap::new();
    for &(user, hit) in per_user_hits {
        let entry = counts.entry(group_of(user)).or_insert((0, 0));
        entry.0 += usize::from(hit);
        entry.1 += 1;
    }
    counts
        .into_iter()
        .map(|(group, (hits, users))| GroupHitRate {
            group,
            hr: hits as f64 / users as f64,
            users,
        })
        .collect()
}

#[cfg(test)]
mod tests;
