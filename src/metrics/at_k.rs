//! Metrics of one ranked list at a cutoff K, their means over users, and item coverage.
//!
//! Binary relevance; `hits` = relevant items among the first K positions; |T| = the number of
//! relevant items of the user (distinct test items, or clicked impressions). Per user:
//!
//! * HR@K = 1 if hits > 0; precision@K = hits / K (always divided by K);
//! * Recall@K = hits / |T| (the LightGCN/NGCF definition: not capped at K, so a user with more
//!   test items than K cannot reach 1);
//! * NDCG@K = DCG / IDCG, DCG = Σ 1/log2(r + 1) over hit positions r (1-based),
//!   IDCG = Σ_{r=1}^{min(|T|, K)} 1/log2(r + 1);
//! * MRR@K = 1 / r of the first hit (0 without a hit);
//! * MAP@K = AP@K = Σ_{hit positions r} (hits in the first r / r) / min(|T|, K) (RecBole's
//!   normalisation, so a perfect list scores 1).
//!
//! Reported values are plain means over users (each user counts once). Item coverage@K is a
//! property of the whole run: the share of the catalogue that reaches at least one user's
//! top K.

use serde::Serialize;

use super::check::{check_k, check_non_empty, check_sorted, discount, ideal_dcg};
use super::error::{MetricError, Result};

/// The metrics of one user's ranked list at cutoff `k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UserRank {
    /// Relevant items among the first `k` positions.
    pub hits: usize,
    /// At least one relevant item in the top list.
    pub hit: bool,
    /// DCG / IDCG with binary relevance.
    pub ndcg: f64,
    /// Hits / k.
    pub precision: f64,
    /// Hits / |T|.
    pub recall: f64,
    /// 1 / position of the first hit, 0 without one.
    pub rr: f64,
    /// Average precision at k, normalised by min(|T|, k).
    pub ap: f64,
}

/// Metrics of a ranked list given as relevance flags, best position first, with `relevant`
/// relevant items in all (|T|, counting those outside the list). Positions past `k` are
/// ignored.
///
/// Errors: [`MetricError::InvalidK`], [`MetricError::Empty`] when `relevant` is 0 (such a user
/// has nothing to find and is not averaged), [`MetricError::LengthMismatch`] when the flags
/// mark more relevant positions than `relevant`.
pub fn list_metrics(
    flags: impl IntoIterator<Item = bool>,
    relevant: usize,
    k: usize,
) -> Result<UserRank> {
    check_k("list_metrics", k)?;
    check_non_empty("relevant items", relevant)?;
    let (mut hits, mut dcg, mut rr, mut ap_sum) = (0usize, 0.0, 0.0, 0.0);
    for (position, is_hit) in flags.into_iter().take(k).enumerate() {
        if !is_hit {
            continue;
        }
        hits += 1;
        let r = position + 1;
        dcg += discount(r);
        if hits == 1 {
            rr = 1.0 / r as f64;
        }
        ap_sum += hits as f64 / r as f64;
    }
    if hits > relevant {
        return Err(MetricError::LengthMismatch {
            what: "hits in the list vs relevant items",
            left: hits,
            right: relevant,
        });
    }
    Ok(UserRank {
        hits,
        hit: hits > 0,
        ndcg: dcg / ideal_dcg(relevant, k),
        precision: hits as f64 / k as f64,
        recall: hits as f64 / relevant as f64,
        rr,
        ap: ap_sum / relevant.min(k) as f64,
    })
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
    list_metrics(
        top.iter()
            .map(|i| test_items_sorted.binary_search(i).is_ok()),
        test_items_sorted.len(),
        k,
    )
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
    /// Mean Recall@k (hits / |T|).
    pub recall_at_k: f64,
    /// Mean reciprocal rank of the first hit within k.
    pub mrr_at_k: f64,
    /// Mean average precision at k.
    pub map_at_k: f64,
    /// Number of users averaged.
    pub users: usize,
}

/// Accumulates [`UserRank`]s user by user into a [`RankingSummary`].
///
/// Sums are plain f64 in the order users are added; to keep results independent of the
/// thread count, add users (or merge per-chunk accumulators) in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingAccumulator {
    k: usize,
    hits: usize,
    ndcg_sum: f64,
    precision_sum: f64,
    recall_sum: f64,
    rr_sum: f64,
    ap_sum: f64,
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
            recall_sum: 0.0,
            rr_sum: 0.0,
            ap_sum: 0.0,
            users: 0,
        }
    }

    /// Adds one user's metrics.
    pub fn add(&mut self, user: UserRank) {
        self.hits += usize::from(user.hit);
        self.ndcg_sum += user.ndcg;
        self.precision_sum += user.precision;
        self.recall_sum += user.recall;
        self.rr_sum += user.rr;
        self.ap_sum += user.ap;
        self.users += 1;
    }

    /// Adds every user of `other` (same `k` expected; `self.k` is kept).
    pub fn merge(&mut self, other: &RankingAccumulator) {
        self.hits += other.hits;
        self.ndcg_sum += other.ndcg_sum;
        self.precision_sum += other.precision_sum;
        self.recall_sum += other.recall_sum;
        self.rr_sum += other.rr_sum;
        self.ap_sum += other.ap_sum;
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
            recall_at_k: mean(self.recall_sum),
            mrr_at_k: mean(self.rr_sum),
            map_at_k: mean(self.ap_sum),
            users: self.users,
        }
    }
}

/// Item coverage: the share of the `n_items` catalogue that occurs in at least one of the
/// `lists` (each user's top K). Items are indices below `n_items`.
///
/// Errors: [`MetricError::Empty`] when `n_items` is 0, [`MetricError::ItemOutOfRange`].
pub fn item_coverage<'a>(
    lists: impl IntoIterator<Item = &'a [u32]>,
    n_items: usize,
) -> Result<f64> {
    check_non_empty("catalogue", n_items)?;
    let mut shown = vec![false; n_items];
    for list in lists {
        for &i in list {
            let slot = shown
                .get_mut(i as usize)
                .ok_or(MetricError::ItemOutOfRange {
                    what: "top list",
                    item: i,
                    n_items,
                })?;
            *slot = true;
        }
    }
    Ok(shown.iter().filter(|&&s| s).count() as f64 / n_items as f64)
}

#[cfg(test)]
mod tests;
