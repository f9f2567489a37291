//! Hand-worked ROC / AUC tables (values worked by hand; see each comment).

use super::*;
use approx::assert_abs_diff_eq;
use proptest::prelude::*;

const INF: f64 = f64::INFINITY;

/// sklearn docstring example / test_protocol.py: labels [0,0,1,1], scores [0.1,0.4,0.35,0.8].
/// Groups (desc): 0.8 -> (tps,fps) (1,0); 0.4 -> (1,1); 0.35 -> (2,1); 0.1 -> (2,2).
/// Second differences at the two interior groups: fps -1 and 1 -> nothing dropped.
/// sklearn: fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1], thresholds [inf, .8, .4, .35, .1].
#[test]
fn sklearn_docstring_example() {
    let c = roc_curve(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
    assert_eq!(c.fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
    assert_eq!(c.tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
    assert_eq!(c.thresholds, vec![INF, 0.8, 0.4, 0.35, 0.1]);
    // Pairs: 0.8 beats both negatives (2), 0.35 beats 0.1 only (1) -> 3/4.
    assert_eq!(
        roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap(),
        0.75
    );
}

/// Ties where dropping matters. labels [1,1,0,1,1,0,0,0], scores [.9,.8,.8,.7,.6,.5,.4,.3].
/// Groups (tps,fps): .9 (1,0); .8 (2,1); .7 (3,1); .6 (4,1); .5 (4,2); .4 (4,3); .3 (4,4).
/// Interior second differences (fps; tps):
///   .8: 0-2+1=-1 keep;  .7: 1-2+1=0; 2-6+4=0 drop;  .6: 1-2+2=1 keep;
///   .5: 1-4+3=0; 4-8+4=0 drop;  .4: 2-6+4=0; 4-8+4=0 drop.
/// sklearn roc_curve: thresholds [inf,.9,.8,.6,.3], tpr [0,.25,.5,1,1], fpr [0,0,.25,.25,1].
/// AUC pairs (4 pos × 4 neg = 16): .9 beats 4; .8 ties .8 and beats 3 -> 3.5; .7 beats 3;
/// .6 beats 3 -> 13.5/16 = 0.84375 (trapezoid: .25*(.25+.5)/2 + .75*1 = 0.84375).
#[test]
fn drop_intermediate_with_ties() {
    let labels = [true, true, false, true, true, false, false, false];
    let scores = [0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3];
    let c = roc_curve(&labels, &scores).unwrap();
    assert_eq!(c.thresholds, vec![INF, 0.9, 0.8, 0.6, 0.3]);
    assert_eq!(c.tpr, vec![0.0, 0.25, 0.5, 1.0, 1.0]);
    assert_eq!(c.fpr, vec![0.0, 0.0, 0.25, 0.25, 1.0]);
    assert_eq!(c.len(), 5);
    let full = roc_curve_full(&labels, &scores).unwrap();
    assert_eq!(
        full.thresholds,
        vec![INF, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    );
    assert_eq!(full.tpr, vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]);
    assert_eq!(full.fpr, vec![0.0, 0.0, 0.25, 0.25, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(roc_auc(&labels, &scores).unwrap(), 0.84375);
    // Input order must not matter.
    let rev_labels: Vec<bool> = labels.iter().rev().copied().collect();
    let rev_scores: Vec<f64> = scores.iter().rev().copied().collect();
    let c2 = roc_curve(&rev_labels, &rev_scores).unwrap();
    assert_eq!(c, c2);
}

/// labels [0,1,0,1,1], scores [.2,.2,.5,.5,.9]. Groups: .9 (1,0); .5 (2,1); .2 (3,2).
/// Interior .5: fps 0-2+2=0, tps 1-4+3=0 -> dropped: thresholds [inf,.9,.2], tpr [0,1/3,1],
/// fpr [0,0,1]. AUC: 6 pairs; pos .2: tie with .2 (0.5); pos .5: beats .2, ties .5 (1.5);
/// pos .9: 2 -> 4/6 = 2/3.
#[test]
fn auc_with_ties() {
    let labels = [false, true, false, true, true];
    let scores = [0.2, 0.2, 0.5, 0.5, 0.9];
    let c = roc_curve(&labels, &scores).unwrap();
    assert_eq!(c.thresholds, vec![INF, 0.9, 0.2]);
    assert_eq!(c.fpr, vec![0.0, 0.0, 1.0]);
    assert_abs_diff_eq!(c.tpr[1], 1.0 / 3.0, epsilon = 1e-16);
    assert_abs_diff_eq!(
        roc_auc(&labels, &scores).unwrap(),
        2.0 / 3.0,
        epsilon = 1e-15
    );
}

#[test]
fn perfect_inverted_and_constant() {
    let labels = [false, false, true, true, true];
    assert_eq!(roc_auc(&labels, &[0.1, 0.2, 0.3, 0.4, 0.5]).unwrap(), 1.0);
    assert_eq!(roc_auc(&labels, &[0.9, 0.8, 0.3, 0.2, 0.1]).unwrap(), 0.0);
    // Constant scores: one group; every pair is a tie -> 0.5; curve (0,0) -> (1,1).
    assert_eq!(roc_auc(&labels, &[0.5; 5]).unwrap(), 0.5);
    let c = roc_curve(&labels, &[0.5; 5]).unwrap();
    assert_eq!(
        (c.fpr, c.tpr, c.thresholds),
        (vec![0.0, 1.0], vec![0.0, 1.0], vec![INF, 0.5])
    );
}

/// Two groups only (n <= 2 groups): sklearn skips dropping; both points kept.
#[test]
fn two_groups_keep_both() {
    let c = roc_curve(&[true, false, true], &[0.7, 0.2, 0.7]).unwrap();
    assert_eq!(c.thresholds, vec![INF, 0.7, 0.2]);
    assert_eq!(c.tpr, vec![0.0, 1.0, 1.0]);
    assert_eq!(c.fpr, vec![0.0, 0.0, 1.0]);
}

/// -0.0 and 0.0 are one tied group (numpy's diff is 0 between them).
#[test]
fn signed_zero_is_one_group() {
    assert_eq!(roc_auc(&[true, false], &[0.0, -0.0]).unwrap(), 0.5);
}

#[test]
fn errors() {
    let e = roc_curve(&[true, false], &[0.1]).unwrap_err();
    assert_eq!(
        e,
        MetricError::LengthMismatch {
            what: "labels vs scores",
            left: 2,
            right: 1
        }
    );
    assert!(matches!(
        roc_auc(&[], &[]).unwrap_err(),
        MetricError::Empty { .. }
    ));
    let e = roc_auc(&[true, true], &[0.1, 0.2]).unwrap_err();
    assert_eq!(
        e,
        MetricError::SingleClass {
            positives: 2,
            negatives: 0
        }
    );
    assert!(e.to_string().contains("undefined"));
    let e = roc_curve_full(&[false, false], &[0.1, 0.2]).unwrap_err();
    assert_eq!(
        e,
        MetricError::SingleClass {
            positives: 0,
            negatives: 2
        }
    );
    for bad in [f64::NAN, INF, -INF] {
        let e = roc_auc(&[true, false, true], &[0.3, bad, 0.1]).unwrap_err();
        assert!(matches!(
            e,
            MetricError::NonFinite {
                what: "scores",
                index: 1,
                ..
            }
        ));
    }
}

/// Trapezoid area over a curve (what sklearn's `auc` computes).
fn trapezoid(c: &RocCurve) -> f64 {
    (1..c.len())
        .map(|i| (c.fpr[i] - c.fpr[i - 1]) * (c.tpr[i] + c.tpr[i - 1]) / 2.0)
        .sum()
}

/// O(n²) Mann–Whitney: P(pos > neg) + P(pos == neg) / 2.
fn brute_force_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                pairs += 1.0;
                if scores[i] > scores[j] {
                    wins += 1.0;
                } else if scores[i] == scores[j] {
                    wins += 0.5;
                }
            }
        }
    }
    wins / pairs
}

/// Random small inputs with many ties (scores from a handful of levels).
fn tied_input() -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    (2usize..40).prop_flat_map(|n| {
        (
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec((0u8..6).prop_map(|v| f64::from(v) / 5.0), n),
        )
    })
}

proptest! {
    #[test]
    fn auc_matches_pairwise_and_trapezoids((labels, scores) in tied_input()) {
        let p = labels.iter().filter(|&&l| l).count();
        prop_assume!(p > 0 && p < labels.len());
        let auc = roc_auc(&labels, &scores).unwrap();
        prop_assert!((auc - brute_force_auc(&labels, &scores)).abs() < 1e-12);
        let dropped = roc_curve(&labels, &scores).unwrap();
        let full = roc_curve_full(&labels, &scores).unwrap();
        prop_assert!((trapezoid(&dropped) - auc).abs() < 1e-12);
        prop_assert!((trapezoid(&full) - auc).abs() < 1e-12);
        // Dropped curve: a subsequence of the full one keeping both ends.
        prop_assert_eq!(dropped.thresholds[0], INF);
        prop_assert_eq!(dropped.thresholds.last(), full.thresholds.last());
        prop_assert_eq!(dropped.thresholds[1], full.thresholds[1]);
        prop_assert!(dropped.thresholds.iter().all(|t| full.thresholds.contains(t)));
        prop_assert!(dropped.thresholds.windows(2).all(|w| w[0] > w[1]));
    }
}
