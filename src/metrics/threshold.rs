//! Choosing a decision threshold on a ROC curve (peer `ncf_torch.roc_threshold`).

use serde::{Deserialize, Serialize};

use super::check::{check_finite, check_non_empty, check_same_len};
use super::error::{MetricError, Result};
use super::roc::RocCurve;

/// How to pick the operating point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    /// The point whose `w * tpr - (1 - w) * (1 - fpr)` is closest to 0 (first on ties, as
    /// `np.argmin`); `w` in [0, 1]. The peers use `w = 0.75`, i.e. `tpr ≈ (1 - fpr) / 3`.
    WeightedCutoff(f64),
    /// The point maximising Youden's J = `tpr - fpr` (first on ties, as `np.argmax`).
    Youden,
}

/// The chosen operating point. Predict 1 when `score >= threshold`.
///
/// `threshold` is `+inf` when the rule picks the curve's first point (nothing predicted
/// positive); serde_json writes that as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// Score threshold of the chosen point.
    pub threshold: f64,
    /// True positive rate at that point.
    pub tpr: f64,
    /// False positive rate at that point.
    pub fpr: f64,
    /// The rule's objective at that point: the signed weighted difference for
    /// [`ThresholdRule::WeightedCutoff`] (as the peers report it), `tpr - fpr` for Youden.
    pub objective: f64,
    /// Number of points of the curve searched (the peers' `roc_points`).
    pub roc_points: usize,
}

/// Picks the point of `curve` selected by `rule` (see [`ThresholdRule`]).
///
/// Errors: [`MetricError::InvalidCutoffWeight`] for a weight outside [0, 1] or NaN;
/// [`MetricError::Empty`] / [`MetricError::LengthMismatch`] / [`MetricError::NonFinite`]
/// for a malformed hand-built curve (rates must be finite; thresholds may be `+inf`).
pub fn pick_threshold(curve: &RocCurve, rule: ThresholdRule) -> Result<Threshold> {
    let n = curve.thresholds.len();
    check_non_empty("ROC curve", n)?;
    check_same_len("ROC fpr vs thresholds", curve.fpr.len(), n)?;
    check_same_len("ROC tpr vs thresholds", curve.tpr.len(), n)?;
    check_finite("ROC fpr", &curve.fpr)?;
    check_finite("ROC tpr", &curve.tpr)?;
    if let Some(index) = curve.thresholds.iter().position(|t| t.is_nan()) {
        return Err(MetricError::NonFinite {
            what: "ROC thresholds",
            index,
            value: f64::NAN,
        });
    }

    let points = curve.fpr.iter().zip(&curve.tpr);
    let objectives: Vec<f64> = match rule {
        ThresholdRule::WeightedCutoff(w) => {
            if !(0.0..=1.0).contains(&w) {
                return Err(MetricError::InvalidCutoffWeight(w));
            }
            points
                .map(|(fpr, tpr)| w * tpr - (1.0 - w) * (1.0 - fpr))
                .collect()
        }
        ThresholdRule::Youden => points.map(|(fpr, tpr)| tpr - fpr).collect(),
    };
    // First index that is strictly better than every earlier one (numpy argmin/argmax).
    let mut best = 0;
    for (i, &obj) in objectives.iter().enumerate().skip(1) {
        let better = match rule {
            ThresholdRule::WeightedCutoff(_) => obj.abs() < objectives[best].abs(),
            ThresholdRule::Youden => obj > objectives[best],
        };
        if better {
            best = i;
        }
    }
    Ok(Threshold {
        threshold: curve.thresholds[best],
        tpr: curve.tpr[best],
        fpr: curve.fpr[best],
        objective: objectives[best],
        roc_points: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc::roc_curve;
    use approx::assert_abs_diff_eq;

    /// test_protocol.py::test_ctr_threshold_and_base_rate (threshold part). Points (tpr, fpr):
    /// (0,0) (0.5,0) (0.5,0.5) (1,0.5) (1,1); 0.75*tpr - 0.25*(1-fpr) = -0.25, 0.125, 0.25,
    /// 0.625, 0.75 -> closest to 0 is the threshold 0.8.
    #[test]
    fn protocol_weighted_cutoff() {
        let curve = roc_curve(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        let t = pick_threshold(&curve, ThresholdRule::WeightedCutoff(0.75)).unwrap();
        assert_eq!(t.threshold, 0.8);
        assert_eq!(t.tpr, 0.5);
        assert_eq!(t.fpr, 0.0);
        assert_abs_diff_eq!(t.objective, 0.125, epsilon = 1e-15);
        assert_eq!(t.roc_points, 5);
    }

    /// Same curve, Youden: J = 0, 0.5, 0, 0.5, 0 -> tie between 0.8 and 0.35, first wins.
    #[test]
    fn youden_first_on_ties() {
        let curve = roc_curve(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        let t = pick_threshold(&curve, ThresholdRule::Youden).unwrap();
        assert_eq!(
            (t.threshold, t.tpr, t.fpr, t.objective),
            (0.8, 0.5, 0.0, 0.5)
        );
    }

    /// Youden on a curve with a unique maximum: J = 0, 0.25, 0.25, 0.75, 0 -> threshold 0.6.
    #[test]
    fn youden_unique_max() {
        let curve = RocCurve {
            fpr: vec![0.0, 0.0, 0.25, 0.25, 1.0],
            tpr: vec![0.0, 0.25, 0.5, 1.0, 1.0],
            thresholds: vec![f64::INFINITY, 0.9, 0.8, 0.6, 0.3],
        };
        let t = pick_threshold(&curve, ThresholdRule::Youden).unwrap();
        assert_eq!(
            (t.threshold, t.tpr, t.fpr, t.objective),
            (0.6, 1.0, 0.25, 0.75)
        );
    }

    /// w = 0.5 on (fpr, tpr) = (0,0) (0,0.5) (0.5,1) (1,1): objectives -0.5, -0.25, 0.25, 0.5;
    /// |-0.25| == |0.25| exactly -> the first (threshold 3).
    #[test]
    fn weighted_cutoff_first_on_abs_ties() {
        let curve = RocCurve {
            fpr: vec![0.0, 0.0, 0.5, 1.0],
            tpr: vec![0.0, 0.5, 1.0, 1.0],
            thresholds: vec![f64::INFINITY, 3.0, 2.0, 1.0],
        };
        let t = pick_threshold(&curve, ThresholdRule::WeightedCutoff(0.5)).unwrap();
        assert_eq!((t.threshold, t.objective), (3.0, -0.25));
    }

    /// w = 1: objective = tpr, closest to 0 at the prepended point -> threshold +inf.
    #[test]
    fn weight_one_picks_infinite_threshold() {
        let curve = roc_curve(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        let t = pick_threshold(&curve, ThresholdRule::WeightedCutoff(1.0)).unwrap();
        assert_eq!(t.threshold, f64::INFINITY);
        assert_eq!((t.tpr, t.fpr), (0.0, 0.0));
    }

    #[test]
    fn invalid_weight_and_malformed_curve_error() {
        let curve = roc_curve(&[false, true], &[0.1, 0.8]).unwrap();
        for w in [-0.1, 1.5, f64::NAN] {
            let err = pick_threshold(&curve, ThresholdRule::WeightedCutoff(w)).unwrap_err();
            assert!(matches!(err, MetricError::InvalidCutoffWeight(_)));
        }
        let empty = RocCurve {
            fpr: vec![],
            tpr: vec![],
            thresholds: vec![],
        };
        let err = pick_threshold(&empty, ThresholdRule::Youden).unwrap_err();
        assert!(matches!(err, MetricError::Empty { .. }));
        let ragged = RocCurve {
            fpr: vec![0.0],
            tpr: vec![0.0, 1.0],
            thresholds: vec![f64::INFINITY, 1.0],
        };
        let err = pick_threshold(&ragged, ThresholdRule::Youden).unwrap_err();
        assert!(matches!(err, MetricError::LengthMismatch { .. }));
        let nan = RocCurve {
            fpr: vec![0.0, f64::NAN],
            tpr: vec![0.0, 1.0],
            thresholds: vec![f64::INFINITY, 1.0],
        };
        let err = pick_threshold(&nan, ThresholdRule::Youden).unwrap_err();
        assert!(matches!(err, MetricError::NonFinite { index: 1, .. }));
    }

    #[test]
    fn rule_serde_roundtrip_names() {
        let json = serde_json::to_string(&ThresholdRule::WeightedCutoff(0.75)).unwrap();
        assert_eq!(json, r#"{"weighted_cutoff":0.75}"#);
        assert_eq!(
            serde_json::to_string(&ThresholdRule::Youden).unwrap(),
            r#""youden""#
        );
    }
}
