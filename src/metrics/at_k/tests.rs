//! Hand-worked tables for Recall@K, MRR@K, MAP@K, NDCG@K with |T| != K, and item coverage.

use super::*;
use approx::assert_abs_diff_eq;

fn l(r: usize) -> f64 {
    1.0 / ((r + 1) as f64).log2()
}

/// Top [4, 1, 2, 3, 9], test items {1, 3, 7} (|T| = 3; item 7 is not in the list).
/// Hits at positions 2 and 4.
/// k = 5: hits 2, P 2/5, Recall 2/3, RR 1/2, AP (1/2 + 2/4) / min(3, 5) = 1/3,
///        NDCG (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4).
/// k = 2: list [4, 1]: hits 1, P 1/2, Recall 1/3, RR 1/2, AP (1/2) / min(3, 2) = 1/4,
///        NDCG (1/log2 3) / (1 + 1/log2 3).
/// k = 1: list [4]: everything 0.
#[test]
fn table_recall_mrr_map_ndcg() {
    let top = [4, 1, 2, 3, 9];
    let test = [1, 3, 7];
    let m5 = user_topk_metrics(&top, &test, 5).unwrap();
    assert_eq!((m5.hits, m5.hit), (2, true));
    assert_abs_diff_eq!(m5.precision, 0.4, epsilon = 1e-15);
    assert_abs_diff_eq!(m5.recall, 2.0 / 3.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m5.rr, 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(m5.ap, 1.0 / 3.0, epsilon = 1e-15);
    assert_abs_diff_eq!(
        m5.ndcg,
        (l(2) + l(4)) / (l(1) + l(2) + l(3)),
        epsilon = 1e-12
    );

    let m2 = user_topk_metrics(&top[..2], &test, 2).unwrap();
    assert_eq!((m2.hits, m2.hit), (1, true));
    assert_abs_diff_eq!(m2.precision, 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(m2.recall, 1.0 / 3.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m2.rr, 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(m2.ap, 0.25, epsilon = 1e-15);
    assert_abs_diff_eq!(m2.ndcg, l(2) / (l(1) + l(2)), epsilon = 1e-12);

    let m1 = user_topk_metrics(&top[..1], &test, 1).unwrap();
    assert_eq!(
        m1,
        UserRank {
            hits: 0,
            hit: false,
            ndcg: 0.0,
            precision: 0.0,
            recall: 0.0,
            rr: 0.0,
            ap: 0.0
        }
    );
}

/// More test items than K: |T| = 4, k = 2, both positions hit. Recall 2/4 (LightGCN's
/// definition does not cap |T| at K) while NDCG, MAP and MRR are 1 (their ideal uses
/// min(|T|, K) = 2 positions) and precision is 1.
#[test]
fn more_test_items_than_k() {
    let m = user_topk_metrics(&[3, 8], &[1, 3, 5, 8], 2).unwrap();
    assert_abs_diff_eq!(m.recall, 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(m.ndcg, 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m.ap, 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m.rr, 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m.precision, 1.0, epsilon = 1e-15);
}

/// A short list (fewer candidates than k = 4): [0, 6] with test {6}: hit at 2, P 1/4,
/// Recall 1, RR 1/2, AP (1/2)/1, NDCG (1/log2 3)/1.
#[test]
fn short_list_divides_precision_by_k() {
    let m = user_topk_metrics(&[0, 6], &[6], 4).unwrap();
    assert_abs_diff_eq!(m.precision, 0.25, epsilon = 1e-15);
    assert_abs_diff_eq!(m.recall, 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m.rr, 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(m.ap, 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(m.ndcg, l(2), epsilon = 1e-15);
}

/// `list_metrics` on flags: the same as the item form; flags past k are ignored.
#[test]
fn flags_form_matches_and_ignores_positions_past_k() {
    let from_flags = list_metrics([false, true, false, true, true], 3, 2).unwrap();
    let from_items = user_topk_metrics(&[4, 1], &[1, 3, 7], 2).unwrap();
    assert_eq!(from_flags, from_items);
}

/// Two users at k = 2: the first table's user (Recall 1/3, RR 1/2, AP 1/4, P 1/2) and the
/// |T| > K user (Recall 1/2, RR 1, AP 1, P 1) -> means 5/12, 3/4, 5/8, 3/4; HR 1.
#[test]
fn accumulator_means_and_merge() {
    let a_user = user_topk_metrics(&[4, 1], &[1, 3, 7], 2).unwrap();
    let b_user = user_topk_metrics(&[3, 8], &[1, 3, 5, 8], 2).unwrap();
    let miss = user_topk_metrics(&[0, 2], &[1], 2).unwrap();
    let mut a = RankingAccumulator::new(2);
    a.add(a_user);
    let mut b = RankingAccumulator::new(2);
    b.add(b_user);
    a.merge(&b);
    let s = a.summary();
    assert_eq!((s.k, s.users, s.hr_at_k), (2, 2, 1.0));
    assert_abs_diff_eq!(s.recall_at_k, 5.0 / 12.0, epsilon = 1e-15);
    assert_abs_diff_eq!(s.mrr_at_k, 0.75, epsilon = 1e-15);
    assert_abs_diff_eq!(s.map_at_k, 0.625, epsilon = 1e-15);
    assert_abs_diff_eq!(s.precision_at_k, 0.75, epsilon = 1e-15);
    a.add(miss);
    let s = a.summary();
    assert_eq!((s.users, s.hr_at_k), (3, 2.0 / 3.0));
    assert_abs_diff_eq!(s.mrr_at_k, 0.5, epsilon = 1e-15);
    let empty = RankingAccumulator::new(10).summary();
    assert_eq!(
        (empty.users, empty.hr_at_k, empty.recall_at_k),
        (0, 0.0, 0.0)
    );
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(json["users"], 3);
    assert!(json["map_at_k"].is_number());
}

/// Lists [0, 2] and [2, 3] over 5 items: items {0, 2, 3} shown -> 3/5.
#[test]
fn coverage_table() {
    let lists: [&[u32]; 2] = [&[0, 2], &[2, 3]];
    assert_abs_diff_eq!(item_coverage(lists, 5).unwrap(), 0.6, epsilon = 1e-15);
    assert_eq!(item_coverage(std::iter::empty(), 4).unwrap(), 0.0);
    let bad: [&[u32]; 1] = [&[5]];
    assert!(matches!(
        item_coverage(bad, 5).unwrap_err(),
        MetricError::ItemOutOfRange { item: 5, .. }
    ));
    assert!(matches!(
        item_coverage(std::iter::empty(), 0).unwrap_err(),
        MetricError::Empty { .. }
    ));
}

#[test]
fn errors() {
    assert!(matches!(
        list_metrics([true], 1, 0).unwrap_err(),
        MetricError::InvalidK { .. }
    ));
    assert!(matches!(
        list_metrics([false], 0, 1).unwrap_err(),
        MetricError::Empty { .. }
    ));
    assert!(matches!(
        list_metrics([true, true], 1, 2).unwrap_err(),
        MetricError::LengthMismatch {
            left: 2,
            right: 1,
            ..
        }
    ));
}

proptest::proptest! {
    /// On any list and test set: every metric in [0, 1], hits <= min(k, |T|), and growing k
    /// never lowers HR, hits or recall (the list only gets longer).
    #[test]
    fn bounds_and_monotone_in_k(
        list in proptest::sample::subsequence((0u32..40).collect::<Vec<_>>(), 0..20),
        test in proptest::collection::btree_set(0u32..40, 1..10),
        order_seed in 0u64..1000,
    ) {
        // A shuffled top list of distinct items.
        let mut top = list;
        let n = top.len();
        for i in 0..n {
            let j = ((order_seed as usize).wrapping_mul(31).wrapping_add(i * 7)) % n;
            top.swap(i, j);
        }
        let test: Vec<u32> = test.into_iter().collect();
        let mut last: Option<UserRank> = None;
        for k in 1..=20 {
            let r = user_topk_metrics(&top[..k.min(top.len())], &test, k).unwrap();
            for v in [r.ndcg, r.precision, r.recall, r.rr, r.ap] {
                proptest::prop_assert!((0.0..=1.0 + 1e-12).contains(&v), "{r:?}");
            }
            proptest::prop_assert!(r.hits <= k.min(test.len()));
            if let Some(p) = last {
                proptest::prop_assert!(r.hits >= p.hits && r.recall >= p.recall && r.rr >= p.rr);
            }
            last = Some(r);
        }
    }
}
