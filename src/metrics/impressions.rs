//! Per-user ranking of CTR impression logs (peer `ncf_torch.hit_rate_per_user`).
//!
//! Rows are grouped by user; only users with at least one clicked row count. A user's rows
//! are ranked by score descending, ties in input order; hit = a clicked row among the first
//! k; the per-user metrics are those of [`super::at_k`] with the user's clicks as relevant
//! items (Recall@k = clicks in the first k / clicks). The random-order base rate of a user with n rows and c clicks is
//! `1 - C(n - c, kk) / C(n, kk)`, kk = min(k, n).

use serde::Serialize;

use super::at_k::{RankingAccumulator, RankingSummary, UserRank, list_metrics};
use super::check::{check_finite, check_k, check_non_empty, check_same_len};
use super::error::Result;

/// Impression-mode ranking metrics at cutoff `k`; means over users with a click.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpressionRanking {
    /// HR/NDCG/precision/Recall/MRR/MAP@k over the users with >= 1 click (`means.users`).
    #[serde(flatten)]
    pub means: RankingSummary,
    /// Mean HR@k of a uniformly random order (exact, see the module doc).
    pub hr_random: f64,
    /// Of the users with a click, those with at most k rows (a hit whatever the model does).
    pub users_with_at_most_k_rows: usize,
    /// Distinct users in the input.
    pub test_users: usize,
    /// (user, metrics) of every user with a click, users ascending; for per-user rows and the
    /// hit distribution plot. Not serialized (metrics.json gets the means only).
    #[serde(skip)]
    pub per_user: Vec<(u32, UserRank)>,
}

/// `C(n - c, kk) / C(n, kk)` = Π_{i<kk} (n - c - i) / (n - i): the chance that a random
/// order puts no click among the first kk = min(k, n) rows. A product of ratios in f64, so
/// no overflow for any n; exactly 0 once a factor is 0 (fewer than kk non-clicked rows).
pub fn no_click_in_random_top(n: usize, c: usize, k: usize) -> f64 {
    let kk = k.min(n);
    let negatives = n.saturating_sub(c);
    if negatives < kk {
        return 0.0;
    }
    (0..kk)
        .map(|i| (negatives - i) as f64 / (n - i) as f64)
        .product()
}

/// HR/NDCG/precision@k of impression logs grouped by user, plus the random base rate.
///
/// Errors: length mismatch, empty input, non-finite score, [`super::MetricError::InvalidK`].
/// With no clicked row at all the means are 0 (as the peers report).
pub fn impression_ranking(
    users: &[u32],
    labels: &[bool],
    scores: &[f64],
    k: usize,
) -> Result<ImpressionRanking> {
    check_same_len("users vs labels", users.len(), labels.len())?;
    check_same_len("users vs scores", users.len(), scores.len())?;
    check_non_empty("users", users.len())?;
    check_finite("scores", scores)?;
    check_k("impression_ranking", k)?;

    // Rows grouped by user (ascending), input order inside a group (stable sort).
    let mut order: Vec<usize> = (0..users.len()).collect();
    order.sort_by_key(|&i| users[i]);

    let mut acc = RankingAccumulator::new(k);
    let mut out = ImpressionRanking {
        means: acc.summary(),
        hr_random: 0.0,
        users_with_at_most_k_rows: 0,
        test_users: 0,
        per_user: Vec::new(),
    };
    let mut random_sum = 0.0;
    for group in order.chunk_by_mut(|&a, &b| users[a] == users[b]) {
        out.test_users += 1;
        let clicks = group.iter().filter(|&&i| labels[i]).count();
        if clicks == 0 {
            continue;
        }
        let n = group.len();
        // Stable: equal scores keep input order (the group is in input order here).
        group.sort_by(|&a, &b| {
            scores[b]
                .partial_cmp(&scores[a])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let rank = list_metrics(group.iter().map(|&row| labels[row]), clicks, k)?;
        acc.add(rank);
        out.users_with_at_most_k_rows += usize::from(n <= k);
        out.per_user.push((users[group[0]], rank));
        random_sum += 1.0 - no_click_in_random_top(n, clicks, k);
    }
    out.means = acc.summary();
    if out.means.users > 0 {
        out.hr_random = random_sum / out.means.users as f64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricError;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;

    /// test_protocol.py::test_ctr_threshold_and_base_rate (hit-rate part).
    /// User 1: 12 rows, clicks scored 0.1 rank 11th/12th -> miss. User 2: 3 rows at 0.5,
    /// input order [0, 0, 1] -> hit at position 3. User 3: no click -> not counted.
    #[test]
    fn protocol_hit_rate_and_base_rate() {
        let mut users = vec![1u32; 12];
        users.extend([2, 2, 2, 3, 3]);
        let mut labels = vec![false; 10];
        labels.extend([true, true, false, false, true, false, false]);
        let mut scores = vec![0.9; 10];
        scores.extend([0.1, 0.1, 0.5, 0.5, 0.5, 0.2, 0.3]);
        let h = impression_ranking(&users, &labels, &scores, 10).unwrap();
        assert_eq!(h.means.hr_at_k, 0.5);
        assert_eq!(h.means.users, 2);
        assert_eq!(h.users_with_at_most_k_rows, 1);
        assert_eq!(h.test_users, 3);
        // C(12, 10) = 66; user 2 (3 rows <= 10) has base rate 1.
        assert_abs_diff_eq!(
            h.hr_random,
            ((1.0 - 1.0 / 66.0) + 1.0) / 2.0,
            epsilon = 1e-12
        );
        // NDCG: user 1 -> 0; user 2 -> (1/log2 4) / 1 = 0.5. Precision: 0 and 1/10.
        assert_abs_diff_eq!(h.means.ndcg_at_k, 0.25, epsilon = 1e-12);
        assert_abs_diff_eq!(h.means.precision_at_k, 0.05, epsilon = 1e-12);
        // Recall: user 1 0/2, user 2 1/1; MRR: 0 and 1/3; MAP: 0 and (1/3)/min(1, 10).
        assert_abs_diff_eq!(h.means.recall_at_k, 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(h.means.mrr_at_k, 1.0 / 6.0, epsilon = 1e-12);
        assert_abs_diff_eq!(h.means.map_at_k, 1.0 / 6.0, epsilon = 1e-12);
        let hits: Vec<(u32, usize)> = h.per_user.iter().map(|(u, r)| (*u, r.hits)).collect();
        assert_eq!(hits, vec![(1, 0), (2, 1)]);
    }

    /// Interleaved users, two clicks, k = 2: user 7 rows (score, label) in input order
    /// (0.3,1) (0.8,0) (0.3,0) (0.5,1) -> ranked 0.8:0, 0.5:1, 0.3:1 (earlier row), 0.3:0.
    /// Top 2 = [0, 1]: hit, DCG = 1/log2 3, IDCG = 1 + 1/log2 3, precision 1/2.
    /// Base rate: n = 4, c = 2, kk = 2: 1 - C(2,2)/C(4,2) = 1 - 1/6.
    #[test]
    fn interleaved_users_and_ties_in_input_order() {
        let users = [7, 9, 7, 7, 9, 7];
        let labels = [true, false, false, false, false, true];
        let scores = [0.3, 0.1, 0.8, 0.3, 0.2, 0.5];
        let h = impression_ranking(&users, &labels, &scores, 2).unwrap();
        let l3 = 1.0 / 3f64.log2();
        assert_eq!(
            (h.means.users, h.test_users, h.users_with_at_most_k_rows),
            (1, 2, 0)
        );
        assert_eq!(h.means.hr_at_k, 1.0);
        assert_abs_diff_eq!(h.means.ndcg_at_k, l3 / (1.0 + l3), epsilon = 1e-12);
        assert_abs_diff_eq!(h.means.precision_at_k, 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(h.hr_random, 5.0 / 6.0, epsilon = 1e-15);
        // Clicks at positions 2 and 3 of 4: Recall@2 1/2, RR 1/2, AP (1/2)/min(2, 2).
        assert_abs_diff_eq!(h.means.recall_at_k, 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(h.means.mrr_at_k, 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(h.means.map_at_k, 0.25, epsilon = 1e-15);
        // k = 1: the first row (0.8) is not clicked -> miss; ties: row 0 (click) before row 3.
        let h1 = impression_ranking(&users, &labels, &scores, 1).unwrap();
        assert_eq!(h1.means.hr_at_k, 0.0);
    }

    /// n = 10^6 rows, 1 click, k = 10: 1 - (n - 10)/n = 1e-5, no overflow.
    #[test]
    fn base_rate_large_n_is_stable() {
        let p = 1.0 - no_click_in_random_top(1_000_000, 1, 10);
        assert_abs_diff_eq!(p, 1e-5, epsilon = 1e-15);
        assert_eq!(no_click_in_random_top(12, 3, 10), 0.0); // only 9 non-clicked rows
        assert_eq!(no_click_in_random_top(5, 5, 10), 0.0);
    }

    #[test]
    fn no_clicks_gives_zero_means() {
        let h = impression_ranking(&[1, 2], &[false, false], &[0.1, 0.2], 3).unwrap();
        assert_eq!(
            (h.means.hr_at_k, h.hr_random, h.means.users, h.test_users),
            (0.0, 0.0, 0, 2)
        );
    }

    #[test]
    fn errors() {
        let e = impression_ranking(&[1], &[true, false], &[0.1, 0.2], 3).unwrap_err();
        assert!(matches!(e, MetricError::LengthMismatch { .. }));
        let e = impression_ranking(&[1, 1], &[true, false], &[0.1], 3).unwrap_err();
        assert!(matches!(e, MetricError::LengthMismatch { .. }));
        let e = impression_ranking(&[], &[], &[], 3).unwrap_err();
        assert!(matches!(e, MetricError::Empty { .. }));
        let e = impression_ranking(&[1], &[true], &[f64::NAN], 3).unwrap_err();
        assert!(matches!(e, MetricError::NonFinite { index: 0, .. }));
        let e = impression_ranking(&[1], &[true], &[0.5], 0).unwrap_err();
        assert!(matches!(e, MetricError::InvalidK { .. }));
    }

    /// Exact binomial coefficient for the cross-check (small n only).
    fn comb(n: u64, r: u64) -> u128 {
        if r > n {
            return 0;
        }
        (0..r).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
    }

    proptest! {
        #[test]
        fn base_rate_matches_exact_binomials(n in 1usize..40, c_frac in 0.0f64..=1.0, k in 1usize..50) {
            let c = ((n as f64) * c_frac).round() as usize;
            let kk = k.min(n) as u64;
            let exact = comb((n - c) as u64, kk) as f64 / comb(n as u64, kk) as f64;
            let got = no_click_in_random_top(n, c, k);
            prop_assert!((got - exact).abs() <= 1e-13, "n={n} c={c} k={k}: {got} vs {exact}");
        }
    }
}
