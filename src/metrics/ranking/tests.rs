//! Full-ranking tables (test_protocol.py) and a proptest against a full stable sort.

use super::*;
use crate::metrics::{RankingAccumulator, user_topk_metrics};
use approx::assert_abs_diff_eq;
use proptest::prelude::*;

/// test_protocol.py::test_full_ranking_metrics_with_ties_and_exclusion.
/// Scores [.9,.5,.5,.1,.7], item 0 excluded -> candidates 4 (.7), 1 (.5), 2 (.5, tie ->
/// smaller index first), 3 (.1). Test items {2, 3}.
#[test]
fn protocol_ties_and_exclusion() {
    let scores = [0.9, 0.5, 0.5, 0.1, 0.7];
    assert_eq!(top_k_excluding(&scores, &[0], 3).unwrap(), vec![4, 1, 2]);
    // k = 2: top [4, 1] -> no hit.
    let top2 = top_k_excluding(&scores, &[0], 2).unwrap();
    let m2 = user_topk_metrics(&top2, &[2, 3], 2).unwrap();
    assert_eq!(
        (m2.hit, m2.hits, m2.ndcg, m2.precision, m2.recall),
        (false, 0, 0.0, 0.0, 0.0)
    );
    // k = 3: hit at position 3 -> DCG 1/log2(4) = 0.5, IDCG 1 + 1/log2(3).
    let top3 = top_k_excluding(&scores, &[0], 3).unwrap();
    let m3 = user_topk_metrics(&top3, &[2, 3], 3).unwrap();
    assert!(m3.hit);
    assert_abs_diff_eq!(m3.ndcg, 0.5 / (1.0 + 1.0 / 3f64.log2()), epsilon = 1e-12);
    assert_abs_diff_eq!(m3.precision, 1.0 / 3.0, epsilon = 1e-12);
    // Means over one user (full_ranking_metrics) equal the user's values.
    let mut acc = RankingAccumulator::new(3);
    acc.add(m3);
    let s = acc.summary();
    assert_eq!((s.k, s.users, s.hr_at_k, s.ndcg_at_k), (3, 1, 1.0, m3.ndcg));
}

/// k larger than the candidates: all 4 candidates come back; both test items hit at
/// positions 3 and 4 -> DCG 1/log2 4 + 1/log2 5, IDCG 1 + 1/log2 3, precision 2/10.
#[test]
fn k_larger_than_candidates() {
    let scores = [0.9f32, 0.5, 0.5, 0.1, 0.7];
    let top = top_k_excluding(&scores, &[0], 10).unwrap();
    assert_eq!(top, vec![4, 1, 2, 3]);
    let m = user_topk_metrics(&top, &[2, 3], 10).unwrap();
    let expected = (0.5 + 1.0 / 5f64.log2()) / (1.0 + 1.0 / 3f64.log2());
    assert_abs_diff_eq!(m.ndcg, expected, epsilon = 1e-12);
    assert_abs_diff_eq!(m.precision, 0.2, epsilon = 1e-15);
    // Every item excluded (duplicates tolerated): no candidates.
    assert_eq!(
        top_k_excluding(&scores, &[0, 1, 1, 2, 3, 4], 3).unwrap(),
        Vec::<u32>::new()
    );
}

/// Perfect top list: hits at 1 and 2 with |T| = 2, k = 3 -> NDCG 1; precision 2/3.
#[test]
fn perfect_ndcg_is_one() {
    let m = user_topk_metrics(&[5, 7, 1], &[5, 7], 3).unwrap();
    assert_abs_diff_eq!(m.ndcg, 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(m.precision, 2.0 / 3.0, epsilon = 1e-15);
}

/// Users 1..=5, groups by parity: odd {1: hit, 3: miss, 5: hit} -> 2/3; even {2: hit, 4: miss}.
#[test]
fn group_hit_rate_by_key() {
    let per_user = [(1, true), (2, true), (3, false), (4, false), (5, true)];
    let g = group_hit_rate(&per_user, |u| u % 2);
    assert_eq!(g.len(), 2);
    assert_eq!((g[0].group, g[0].hr, g[0].users), (0, 0.5, 2));
    assert_eq!(g[1].group, 1);
    assert_abs_diff_eq!(g[1].hr, 2.0 / 3.0, epsilon = 1e-15);
    assert_eq!(g[1].users, 3);
}

#[test]
fn errors() {
    let s = [0.1, 0.2, 0.3];
    assert!(matches!(
        top_k_excluding(&s, &[], 0).unwrap_err(),
        MetricError::InvalidK { .. }
    ));
    assert!(matches!(
        top_k_excluding::<f64>(&[], &[], 1).unwrap_err(),
        MetricError::Empty { .. }
    ));
    let e = top_k_excluding(&s, &[2, 1], 1).unwrap_err();
    assert_eq!(
        e,
        MetricError::NotSorted {
            what: "excluded items",
            index: 1,
            value: 1
        }
    );
    let e = top_k_excluding(&s, &[3], 1).unwrap_err();
    assert!(matches!(
        e,
        MetricError::ItemOutOfRange {
            item: 3,
            n_items: 3,
            ..
        }
    ));
    let e = top_k_excluding(&[0.1, f64::NAN], &[], 1).unwrap_err();
    assert!(matches!(e, MetricError::NonFinite { index: 1, .. }));
    let e = top_k_excluding(&[0.1f32, f32::INFINITY], &[], 1).unwrap_err();
    assert!(matches!(e, MetricError::NonFinite { index: 1, .. }));
    assert!(matches!(
        user_topk_metrics(&[1], &[1], 0).unwrap_err(),
        MetricError::InvalidK { .. }
    ));
    let e = user_topk_metrics(&[1, 2, 3], &[1], 2).unwrap_err();
    assert_eq!(e, MetricError::TopLongerThanK { len: 3, k: 2 });
    assert!(matches!(
        user_topk_metrics(&[1], &[], 2).unwrap_err(),
        MetricError::Empty { .. }
    ));
    let e = user_topk_metrics(&[1], &[4, 4], 2).unwrap_err();
    assert!(matches!(
        e,
        MetricError::NotSorted {
            what: "test items",
            ..
        }
    ));
}

/// Reference: full stable sort on -score (numpy `argsort(-row, kind="stable")`).
fn reference_top_k(scores: &[f64], exclude: &[u32], k: usize) -> Vec<u32> {
    let mut items: Vec<u32> = (0..scores.len() as u32)
        .filter(|i| !exclude.contains(i))
        .collect();
    items.sort_by(|&a, &b| scores[b as usize].partial_cmp(&scores[a as usize]).unwrap());
    items.truncate(k);
    items
}

proptest! {
    #[test]
    fn top_k_matches_stable_sort(
        scores in proptest::collection::vec((0u8..8).prop_map(|v| f64::from(v) / 7.0), 1..60),
        exclude_raw in proptest::collection::vec(0u32..60, 0..20),
        k in 1usize..70,
    ) {
        let mut exclude: Vec<u32> =
            exclude_raw.into_iter().filter(|&e| (e as usize) < scores.len()).collect();
        exclude.sort_unstable();
        let got = top_k_excluding(&scores, &exclude, k).unwrap();
        prop_assert_eq!(got, reference_top_k(&scores, &exclude, k));
    }
}

/// 100k items, k = 10: checked against the full sort; prints the time of the heap version.
#[test]
fn top_k_100k_items_matches_full_sort() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    // Coarse levels so there are many ties at the cut.
    let scores: Vec<f64> = (0..100_000)
        .map(|_| f64::from(rng.random_range(0u32..500)))
        .collect();
    let exclude: Vec<u32> = (0..100_000).step_by(7).collect();
    let start = std::time::Instant::now();
    let got = top_k_excluding(&scores, &exclude, 10).unwrap();
    let heap_time = start.elapsed();
    let start = std::time::Instant::now();
    let expected = reference_top_k_sorted_exclude(&scores, &exclude, 10);
    let sort_time = start.elapsed();
    println!("top_k_excluding 100k items, k=10: heap {heap_time:?}, full sort {sort_time:?}");
    assert_eq!(got, expected);
}

/// Like [`reference_top_k`] but with a binary-searched exclusion list (fast enough for 100k).
fn reference_top_k_sorted_exclude(scores: &[f64], exclude: &[u32], k: usize) -> Vec<u32> {
    let mut items: Vec<u32> = (0..scores.len() as u32)
        .filter(|i| exclude.binary_search(i).is_err())
        .collect();
    items.sort_by(|&a, &b| scores[b as usize].partial_cmp(&scores[a as usize]).unwrap());
    items.truncate(k);
    items
}
