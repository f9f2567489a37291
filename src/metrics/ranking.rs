//! Full-ranking top-K evaluation (peer `metrics.py`: `topk_excluding`, `user_metrics`,
//! `full_ranking_metrics`).
//!
//! Per eval user: candidates = all items minus the user's train items (removed, not pushed
//! down), sorted by score descending with ties by ascending item index; top = first K.
//! HR@K = hits > 0, precision@K = hits / K (always divided by K), NDCG@K = DCG / IDCG with
//! binary relevance, DCG = Σ 1/log2(r+1) over hit positions r (1-based),
//! IDCG = Σ_{r=1}^{min(|T|, K)} 1/log2(r+1). Reported values are means over users.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use super::check::{check_k, check_non_empty, check_sorted, discount, ideal_dcg};
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

/// HR / NDCG / precision of one user at cutoff `k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UserRank {
    /// At least one test item in the top list.
    pub hit: bool,
    /// DCG / IDCG with binary relevance.
    pub ndcg: f64,
    /// Hits / k.
    pub precision: f64,
}

/// Metrics of one user's `top` list (at most `k` items, best first) against the user's
/// test items, which must be sorted ascending and distinct.
///
/// Errors: [`MetricError::InvalidK`], [`MetricError::TopLongerThanK`],
/// [`MetricError::Empty`] (no test items: such a user is not an eval user),
/// [`MetricError::NotSorted`].
pub fn user_topk_metrics(top: &[u32], test_items_sorted: &[u32], k: usize) -> Result<UserRank> {
    check_k("user_topk_metrics", k)?;
    if top.len() > k {
        return Err(MetricError::TopLongerThanK { len: top.len(), k });
    }
    check_non_empty("test items", test_items_sorted.len())?;
    check_sorted("test items", test_items_sorted, true)?;
    let mut hits = 0usize;
    let mut dcg = 0.0;
    for (position, item) in top.iter().enumerate() {
        if test_items_sorted.binary_search(item).is_ok() {
            hits += 1;
            dcg += discount(position + 1);
        }
    }
    Ok(UserRank {
        hit: hits > 0,
        ndcg: dcg / ideal_dcg(test_items_sorted.len(), k),
        precision: hits as f64 / k as f64,
    })
}

/// Mean ranking metrics over users (each user counts once).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingSummary {
    /// Cutoff the metrics were computed at.
    pub k: usize,
    /// Mean HR@k.
    pub hr_at_k: f64,
    /// Mean NDCG@k.
    pub ndcg_at_k: f64,
    /// Mean precision@k.
    pub precision_at_k: f64,
    /// Number of users averaged.
    pub users: usize,
}

/// Accumulates [`UserRank`]s user by user into a [`RankingSummary`].
///
/// Sums are plain f64 in the order users are added; to keep results independent of the
/// thread count, merge per-chunk accumulators in a fixed chunk order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingAccumulator {
    k: usize,
    hits: usize,
    ndcg_sum: f64,
    precision_sum: f64,
    users: usize,
}

impl RankingAccumulator {
    /// An empty accumulator for cutoff `k`.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            hits: 0,
            ndcg_sum: 0.0,
            precision_sum: 0.0,
            users: 0,
        }
    }

    /// Adds one user's metrics.
    pub fn add(&mut self, user: UserRank) {
        self.hits += usize::from(user.hit);
        self.ndcg_sum += user.ndcg;
        self.precision_sum += user.precision;
        self.users += 1;
    }

    /// Adds every user of `other` (same `k` expected; `self.k` is kept).
    pub fn merge(&mut self, other: &RankingAccumulator) {
        self.hits += other.hits;
        self.ndcg_sum += other.ndcg_sum;
        self.precision_sum += other.precision_sum;
        self.users += other.users;
    }

    /// The means; all 0 when no user was added (as the peers report).
    pub fn summary(&self) -> RankingSummary {
        let mean = |sum: f64| {
            if self.users == 0 {
                0.0
            } else {
                sum / self.users as f64
            }
        };
        RankingSummary {
            k: self.k,
            hr_at_k: mean(self.hits as f64),
            ndcg_at_k: mean(self.ndcg_sum),
            precision_at_k: mean(self.precision_sum),
            users: self.users,
        }
    }
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
