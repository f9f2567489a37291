//! Log loss and the per-class report at a threshold (sklearn `log_loss`,
//! `precision_recall_fscore_support(labels=[0, 1], zero_division=0)`).
//!
//! The report is written here rather than with linfa 0.8.1's `ConfusionMatrix`: linfa keeps
//! counts in f32 (inexact past 2^24 rows), lays the matrix out predicted × true, derives the
//! classes from the data (a single-class input gives a 1×1 matrix), reports binary precision
//! and recall for one class only, and returns NaN for 0/0 where sklearn's `zero_division=0`
//! gives 0.

use serde::Serialize;

use super::check::{check_finite, check_non_empty, check_same_len};
use super::error::{MetricError, Result};

/// Mean binary cross-entropy with sklearn 1.9 semantics.
///
/// Row `i` loses `-ln(clip(p_i))` when `labels[i]` and `-ln(clip(1 - p_i))` otherwise, with
/// `clip` to `[eps, 1 - eps]`, `eps = f64::EPSILON` (sklearn: `np.finfo(float64).eps`; note
/// `1 - p` is formed before clipping, as sklearn does). A single-class input is fine (the
/// peers pass `labels=[0, 1]`). The mean uses compensated summation.
///
/// Errors: length mismatch, empty input, non-finite probability,
/// [`MetricError::ProbabilityOutOfRange`] (sklearn raises on values outside [0, 1]).
pub fn log_loss(labels: &[bool], probs: &[f64]) -> Result<f64> {
    check_same_len("labels vs probabilities", labels.len(), probs.len())?;
    check_non_empty("labels", labels.len())?;
    check_finite("probabilities", probs)?;
    if let Some(index) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(MetricError::ProbabilityOutOfRange {
            index,
            value: probs[index],
        });
    }
    let eps = f64::EPSILON;
    let mut sum = NeumaierSum::default();
    for (&label, &p) in labels.iter().zip(probs) {
        let q = if label { p } else { 1.0 - p };
        sum.add(-q.clamp(eps, 1.0 - eps).ln());
    }
    Ok(sum.total() / labels.len() as f64)
}

/// The peers' CTR log loss: `log_loss(y, np.clip(p, clip, 1 - clip))` (they use 1e-7).
///
/// Probabilities are clamped to `[clip, 1 - clip]` first, so finite values outside [0, 1]
/// are clamped rather than rejected, exactly as in the peers. Errors as [`log_loss`], plus
/// [`MetricError::InvalidClip`] unless `0 <= clip < 0.5`.
pub fn log_loss_clipped(labels: &[bool], probs: &[f64], clip: f64) -> Result<f64> {
    if !(0.0..0.5).contains(&clip) {
        return Err(MetricError::InvalidClip(clip));
    }
    check_finite("probabilities", probs)?;
    let clipped: Vec<f64> = probs.iter().map(|p| p.clamp(clip, 1.0 - clip)).collect();
    log_loss(labels, &clipped)
}

/// Kahan–Babuška–Neumaier compensated sum.
#[derive(Default)]
struct NeumaierSum {
    sum: f64,
    compensation: f64,
}

impl NeumaierSum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn total(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassStats {
    /// TP / predicted-as-this-class; 0 when nothing is predicted as this class.
    pub precision: f64,
    /// TP / rows of this class; 0 when the class has no rows.
    pub recall: f64,
    /// `2 TP / (rows of this class + predicted as this class)` (sklearn's form); 0 when 0/0.
    pub f1: f64,
    /// Rows whose true class is this class.
    pub support: u64,
}

/// Classification quality at a fixed threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// `classes[0]` = class 0 (not clicked), `classes[1]` = class 1 (clicked).
    pub classes: [ClassStats; 2],
    /// Fraction of rows whose prediction equals the label.
    pub accuracy: f64,
    /// `confusion[true][predicted]` (sklearn `confusion_matrix` layout).
    pub confusion: [[u64; 2]; 2],
    /// The threshold used: predicted 1 when `score >= threshold`.
    pub threshold: f64,
}

/// `a / b`, or 0 when `b == 0` (sklearn `zero_division=0`).
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Per-class report predicting 1 when `score >= threshold` (the peers' rule).
///
/// `threshold` may be `±inf` (e.g. the first ROC point). Errors: length mismatch, empty
/// input, non-finite score, [`MetricError::InvalidThreshold`] for a NaN threshold. A
/// single-class input is allowed (sklearn with `labels=[0, 1]` accepts it).
pub fn classification_report(
    labels: &[bool],
    scores: &[f64],
    threshold: f64,
) -> Result<ClassificationReport> {
    check_same_len("labels vs scores", labels.len(), scores.len())?;
    check_non_empty("labels", labels.len())?;
    check_finite("scores", scores)?;
    if threshold.is_nan() {
        return Err(MetricError::InvalidThreshold(threshold));
    }
    let mut confusion = [[0u64; 2]; 2];
    for (&label, &score) in labels.iter().zip(scores) {
        let predicted = score >= threshold;
        confusion[usize::from(label)][usize::from(predicted)] += 1;
    }
    let stats = |c: usize| {
        let tp = confusion[c][c];
        let true_sum = confusion[c][0] + confusion[c][1];
        let pred_sum = confusion[0][c] + confusion[1][c];
        ClassStats {
            precision: ratio(tp, pred_sum),
            recall: ratio(tp, true_sum),
            f1: ratio(2 * tp, true_sum + pred_sum),
            support: true_sum,
        }
    };
    Ok(ClassificationReport {
        classes: [stats(0), stats(1)],
        accuracy: ratio(confusion[0][0] + confusion[1][1], labels.len() as u64),
        confusion,
        threshold,
    })
}

#[cfg(test)]
mod tests;
