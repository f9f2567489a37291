//! The sampled protocol of the NCF paper (peer `metrics.sampled_metrics`).
//!
//! Each test pair's positive is scored against m sampled negatives; its 0-based rank is the
//! number of negatives scoring >= the positive (ties count AGAINST the positive, so a
//! constant model does not look perfect). HR@k = rank < k; NDCG@k = 1/log2(rank + 2) when
//! rank < k, else 0; MRR@k = 1/(rank + 1) when rank < k, else 0 (with one relevant item per
//! pair, Recall@k equals HR@k and MAP@k equals MRR@k). Means over pairs.

use serde::Serialize;

use super::check::{check_finite, check_k, check_non_empty};
use super::error::{MetricError, Result};

/// Means of the sampled protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SampledMetrics {
    /// Cutoff.
    pub k: usize,
    /// Mean HR@k over pairs.
    pub hr: f64,
    /// Mean NDCG@k over pairs.
    pub ndcg: f64,
    /// Mean reciprocal rank within k over pairs.
    pub mrr: f64,
    /// Number of (user, positive item) pairs.
    pub pairs: usize,
    /// Negatives scored per pair (m).
    pub negatives_per_pair: usize,
}

/// 0-based rank of a positive: the number of negatives with score >= `pos`.
///
/// Pure counting, no validation: a NaN compares false (a NaN negative never counts, a NaN
/// positive ranks 0). [`sampled_metrics`] rejects non-finite scores before calling it.
pub fn sampled_rank(pos: f64, negs: &[f64]) -> usize {
    negs.iter().filter(|&&n| n >= pos).count()
}

/// HR@k / NDCG@k over pairs. `neg_scores` is row-major n × m (row i = the negatives of pair
/// i), so its length must be a non-zero multiple of `pos_scores.len()`.
///
/// Errors: [`MetricError::InvalidK`], [`MetricError::Empty`] (no pairs or no negatives),
/// [`MetricError::LengthMismatch`] (length not a multiple), [`MetricError::NonFinite`].
pub fn sampled_metrics(pos_scores: &[f64], neg_scores: &[f64], k: usize) -> Result<SampledMetrics> {
    check_k("sampled_metrics", k)?;
    check_non_empty("positive scores", pos_scores.len())?;
    check_non_empty("negative scores", neg_scores.len())?;
    let n = pos_scores.len();
    if !neg_scores.len().is_multiple_of(n) {
        return Err(MetricError::LengthMismatch {
            what: "negative scores (n pairs × m negatives) vs positive scores (n pairs)",
            left: neg_scores.len(),
            right: n,
        });
    }
    check_finite("positive scores", pos_scores)?;
    check_finite("negative scores", neg_scores)?;
    let m = neg_scores.len() / n;
    let ranks: Vec<usize> = pos_scores
        .iter()
        .zip(neg_scores.chunks_exact(m))
        .map(|(&pos, negs)| sampled_rank(pos, negs))
        .collect();
    rank_metrics(&ranks, m, k)
}

/// HR@k / NDCG@k / MRR@k from the 0-based ranks of the positives (one per pair), e.g. when the
/// pairs have candidate lists of different lengths; `negatives_per_pair` is reported as given.
///
/// Errors: [`MetricError::InvalidK`], [`MetricError::Empty`] (no pairs).
pub fn rank_metrics(
    ranks: &[usize],
    negatives_per_pair: usize,
    k: usize,
) -> Result<SampledMetrics> {
    check_k("rank_metrics", k)?;
    check_non_empty("ranks", ranks.len())?;
    let n = ranks.len();
    let (mut hits, mut ndcg_sum, mut rr_sum) = (0usize, 0.0, 0.0);
    for &rank in ranks {
        if rank < k {
            hits += 1;
            ndcg_sum += 1.0 / (rank as f64 + 2.0).log2();
            rr_sum += 1.0 / (rank as f64 + 1.0);
        }
    }
    Ok(SampledMetrics {
        k,
        hr: hits as f64 / n as f64,
        ndcg: ndcg_sum / n as f64,
        mrr: rr_sum / n as f64,
        pairs: n,
        negatives_per_pair,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    /// test_protocol.py::test_sampled_metrics_ties_count_against_positive: negatives 0.6 and
    /// 0.5 are >= 0.5 -> rank 2 -> k = 3: hit, NDCG 1/log2(4) = 0.5; k = 2: miss.
    #[test]
    fn protocol_ties_count_against_positive() {
        assert_eq!(sampled_rank(0.5, &[0.6, 0.5, 0.4]), 2);
        let m = sampled_metrics(&[0.5], &[0.6, 0.5, 0.4], 3).unwrap();
        assert_eq!(m.hr, 1.0);
        assert_abs_diff_eq!(m.ndcg, 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(m.mrr, 1.0 / 3.0, epsilon = 1e-15);
        assert_eq!((m.pairs, m.negatives_per_pair), (1, 3));
        let m = sampled_metrics(&[0.5], &[0.6, 0.5, 0.4], 2).unwrap();
        assert_eq!(m.hr, 0.0);
        assert_eq!(m.ndcg, 0.0);
    }

    /// Two pairs × 2 negatives, k = 1: pair 0 (0.9 vs 0.1, 0.2) rank 0 -> HR 1, NDCG 1;
    /// pair 1 (0.3 vs 0.3, 0.3) rank 2 -> 0. Means 0.5 / 0.5. A constant model: rank m.
    #[test]
    fn means_over_pairs_row_major() {
        let m = sampled_metrics(&[0.9, 0.3], &[0.1, 0.2, 0.3, 0.3], 1).unwrap();
        assert_eq!(
            (m.hr, m.ndcg, m.pairs, m.negatives_per_pair),
            (0.5, 0.5, 2, 2)
        );
        // k = 3 > m: pair 1 rank 2 -> 1/log2(4) = 0.5; mean (1 + 0.5) / 2.
        let m = sampled_metrics(&[0.9, 0.3], &[0.1, 0.2, 0.3, 0.3], 3).unwrap();
        assert_eq!(m.hr, 1.0);
        assert_abs_diff_eq!(m.ndcg, 0.75, epsilon = 1e-15);
        // MRR: pair 0 rank 0 -> 1, pair 1 rank 2 -> 1/3; mean 2/3.
        assert_abs_diff_eq!(m.mrr, 2.0 / 3.0, epsilon = 1e-15);
    }

    /// Ranks [0, 3, 1] at k = 2: hits for ranks 0 and 1 -> HR 2/3, NDCG (1 + 1/log2 3) / 3,
    /// MRR (1 + 1/2) / 3.
    #[test]
    fn rank_metrics_table() {
        let m = rank_metrics(&[0, 3, 1], 7, 2).unwrap();
        assert_abs_diff_eq!(m.hr, 2.0 / 3.0, epsilon = 1e-15);
        assert_abs_diff_eq!(m.ndcg, (1.0 + 1.0 / 3f64.log2()) / 3.0, epsilon = 1e-15);
        assert_abs_diff_eq!(m.mrr, 0.5, epsilon = 1e-15);
        assert_eq!((m.pairs, m.negatives_per_pair), (3, 7));
        assert!(matches!(
            rank_metrics(&[], 1, 1).unwrap_err(),
            MetricError::Empty { .. }
        ));
        assert!(matches!(
            rank_metrics(&[0], 1, 0).unwrap_err(),
            MetricError::InvalidK { .. }
        ));
    }

    #[test]
    fn errors() {
        let e = sampled_metrics(&[0.5], &[0.1], 0).unwrap_err();
        assert!(matches!(e, MetricError::InvalidK { .. }));
        let e = sampled_metrics(&[], &[0.1], 1).unwrap_err();
        assert!(matches!(e, MetricError::Empty { .. }));
        let e = sampled_metrics(&[0.5], &[], 1).unwrap_err();
        assert!(matches!(e, MetricError::Empty { .. }));
        let e = sampled_metrics(&[0.5, 0.4], &[0.1, 0.2, 0.3], 1).unwrap_err();
        assert!(matches!(
            e,
            MetricError::LengthMismatch {
                left: 3,
                right: 2,
                ..
            }
        ));
        let e = sampled_metrics(&[0.5], &[0.1, f64::INFINITY], 1).unwrap_err();
        assert!(matches!(e, MetricError::NonFinite { index: 1, .. }));
    }
}
