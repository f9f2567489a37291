//! The error type of every fallible function in [`crate::metrics`].

use thiserror::Error;

/// What went wrong when computing a metric. Every variant names the offending input so the
/// caller can tell which data or setting to fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricError {
    /// Two inputs that must be parallel (one entry per row) have different lengths.
    #[error("length mismatch for {what}: {left} vs {right}; pass one entry per row in every input")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },

    /// An input that must hold at least one element is empty.
    #[error("{what} is empty; the metric needs at least one element")]
    Empty { what: &'static str },

    /// ROC curves, AUC and ROC thresholds need both classes.
    #[error(
        "ROC/AUC is undefined with a single class ({positives} positives, {negatives} negatives); \
         the evaluation rows need at least one clicked and one non-clicked row"
    )]
    SingleClass { positives: usize, negatives: usize },

    /// A score or probability is NaN or infinite (e.g. a diverged model).
    #[error("{what}[{index}] = {value} is not finite; check the model output for NaN/inf")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },

    /// `log_loss` received a probability outside [0, 1] (sklearn raises the same error).
    #[error("probability[{index}] = {value} is outside [0, 1]; pass probabilities, not logits")]
    ProbabilityOutOfRange { index: usize, value: f64 },

    /// The cutoff `k` of a top-k metric is 0.
    #[error("k must be at least 1 for {what}")]
    InvalidK { what: &'static str },

    /// The cutoff weight of [`crate::metrics::ThresholdRule::WeightedCutoff`] is not in [0, 1].
    #[error("cutoff weight {0} must be a finite number in [0, 1]")]
    InvalidCutoffWeight(f64),

    /// The clip bound of `log_loss_clipped` is not in [0, 0.5).
    #[error("log-loss clip bound {0} must be in [0, 0.5)")]
    InvalidClip(f64),

    /// The decision threshold of a classification report is NaN.
    #[error("decision threshold {0} is NaN; pick it with pick_threshold or pass a number")]
    InvalidThreshold(f64),

    /// A list that must be sorted ascending (and, where stated, distinct) is not.
    #[error(
        "{what} must be sorted ascending without duplicates; entry {index} ({value}) breaks the order"
    )]
    NotSorted {
        what: &'static str,
        index: usize,
        value: u32,
    },

    /// An item index is not below the number of scored items.
    #[error("{what} holds item index {item}, but only {n_items} items are scored")]
    ItemOutOfRange {
        what: &'static str,
        item: u32,
        n_items: usize,
    },

    /// More items than a `u32` item index can address.
    #[error("{n} scored items exceed the u32 item index range")]
    TooManyItems { n: usize },

    /// A top list longer than `k` was passed to a @k metric.
    #[error("top list has {len} items but k = {k}; truncate it to k first")]
    TopLongerThanK { len: usize, k: usize },
}

/// Result alias of the metrics module.
pub type Result<T> = std::result::Result<T, MetricError>;
