//! ROC curve and ROC AUC with sklearn semantics (`sklearn.metrics.roc_curve`, `roc_auc_score`).
//!
//! Rows are sorted by score, descending; rows with equal scores form one group and give one
//! curve point (the cumulative true/false positives after the whole group). sklearn's
//! `drop_intermediate=True` then removes points that are collinear with both neighbours, and
//! the point (0, 0) with threshold `+inf` is prepended (sklearn >= 1.3).

use serde::Serialize;

use super::check::{check_finite, check_non_empty, check_same_len};
use super::error::{MetricError, Result};

/// Points of a ROC curve; the three vectors are parallel.
///
/// `thresholds[0]` is `+inf` (the point (0, 0): nothing predicted positive); the other
/// thresholds are distinct scores, descending. Predicting 1 when `score >= thresholds[i]`
/// gives false/true positive rates `fpr[i]`/`tpr[i]`. serde_json writes `+inf` as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocCurve {
    /// False positive rate of each point, non-decreasing from 0 to 1.
    pub fpr: Vec<f64>,
    /// True positive rate of each point, non-decreasing from 0 to 1.
    pub tpr: Vec<f64>,
    /// Score threshold of each point, decreasing from `+inf`.
    pub thresholds: Vec<f64>,
}

impl RocCurve {
    /// Number of points (including the prepended (0, 0) point).
    pub fn len(&self) -> usize {
        self.thresholds.len()
    }

    /// True when the curve has no points (never the case for curves built here).
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }
}

/// Cumulative counts after each distinct-score group, scores descending.
struct Groups {
    /// Cumulative true positives after each group.
    tps: Vec<u64>,
    /// Cumulative false positives after each group.
    fps: Vec<u64>,
    /// The group's score.
    thresholds: Vec<f64>,
}

/// Validates the inputs and groups tied scores (sklearn's `_binary_clf_curve`).
///
/// Errors: length mismatch, empty input, non-finite score, a single class.
fn groups(labels: &[bool], scores: &[f64]) -> Result<Groups> {
    check_same_len("labels vs scores", labels.len(), scores.len())?;
    check_non_empty("labels", labels.len())?;
    check_finite("scores", scores)?;
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(MetricError::SingleClass {
            positives,
            negatives,
        });
    }

    let mut rows: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    // Scores are finite, so partial_cmp never fails; -0.0 and 0.0 compare equal and share a
    // group, as in numpy (`np.diff` is 0 between them).
    rows.sort_unstable_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));

    let mut out = Groups {
        tps: Vec::new(),
        fps: Vec::new(),
        thresholds: Vec::new(),
    };
    let (mut tp, mut fp) = (0u64, 0u64);
    for (i, &(score, label)) in rows.iter().enumerate() {
        if label {
            tp += 1;
        } else {
            fp += 1;
        }
        let group_ends = rows.get(i + 1).is_none_or(|next| next.0 != score);
        if group_ends {
            out.tps.push(tp);
            out.fps.push(fp);
            out.thresholds.push(score);
        }
    }
    Ok(out)
}

/// Builds the curve from the kept group indices, prepending (0, 0) at `+inf`.
fn build(g: &Groups, keep: impl Iterator<Item = usize>) -> RocCurve {
    // Groups are non-empty and contain both classes (checked in `groups`).
    let total_p = g.tps.last().copied().unwrap_or(1).max(1) as f64;
    let total_n = g.fps.last().copied().unwrap_or(1).max(1) as f64;
    let mut curve = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for i in keep {
        curve.fpr.push(g.fps[i] as f64 / total_n);
        curve.tpr.push(g.tps[i] as f64 / total_p);
        curve.thresholds.push(g.thresholds[i]);
    }
    curve
}

/// `sklearn.metrics.roc_curve(labels, scores)` with the default `drop_intermediate=True`.
///
/// A group point `i` (not the first or last) is dropped when both second differences
/// `fps[i-1] - 2 fps[i] + fps[i+1]` and the same for `tps` are 0, i.e. sklearn's
/// `np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])`; this runs
/// only when there are more than 2 groups. Counts are integers, so the test is exact.
///
/// Errors: [`MetricError::LengthMismatch`], [`MetricError::Empty`],
/// [`MetricError::NonFinite`] (sklearn rejects NaN/inf too), [`MetricError::SingleClass`]
/// (sklearn would return NaN rates).
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Result<RocCurve> {
    let g = groups(labels, scores)?;
    let n = g.tps.len();
    if n <= 2 {
        return Ok(build(&g, 0..n));
    }
    let second_diff = |v: &[u64], i: usize| v[i - 1] as i128 - 2 * v[i] as i128 + v[i + 1] as i128;
    let keep = (0..n).filter(|&i| {
        i == 0 || i == n - 1 || second_diff(&g.fps, i) != 0 || second_diff(&g.tps, i) != 0
    });
    Ok(build(&g, keep))
}

/// Like [`roc_curve`] but keeps one point per distinct score (`drop_intermediate=False`);
/// meant for plotting and checks. Same errors.
pub fn roc_curve_full(labels: &[bool], scores: &[f64]) -> Result<RocCurve> {
    let g = groups(labels, scores)?;
    let n = g.tps.len();
    Ok(build(&g, 0..n))
}

/// Area under the ROC curve, exact with ties (`sklearn.metrics.roc_auc_score`).
///
/// Equals the trapezoid area over the distinct-score curve, i.e. the Mann–Whitney statistic
/// P(score of a positive > score of a negative) with ties counting 1/2. The numerator
/// `2 * sum_groups fp_g * (tp_before + tp_g / 2)` is accumulated in integers, so the only
/// rounding is the final division. Same errors as [`roc_curve`].
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    let g = groups(labels, scores)?;
    let (mut twice_area, mut tp_before, mut fp_before) = (0u128, 0u128, 0u128);
    for (&tp, &fp) in g.tps.iter().zip(&g.fps) {
        let (tp, fp) = (tp as u128, fp as u128);
        let (tp_group, fp_group) = (tp - tp_before, fp - fp_before);
        twice_area += fp_group * (2 * tp_before + tp_group);
        tp_before = tp;
        fp_before = fp;
    }
    let pairs = tp_before * fp_before;
    Ok(twice_area as f64 / (2 * pairs) as f64)
}

#[cfg(test)]
mod tests;
