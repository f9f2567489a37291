//! `ncf/scorer.json`: what a service needs besides the NCF weights and the id arrays
//! (`ids.safetensors`): feature scaling, threshold, input columns. Written by the NCF exporter,
//! read by [`crate::serving`].

use serde::{Deserialize, Serialize};

use super::InputColumns;
use crate::features::FeatureSpec;

/// Format tag of `scorer.json`; a folder with another tag is refused. Format 1 held the id maps
/// and seen lists in the JSON; format 2 keeps them in `ids.safetensors`.
pub const FORMAT: &str = "clickrec-ncf-2";

/// `ncf/scorer.json`: everything besides the weights a service needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScorerJson {
    pub format: String,
    pub clickrec_version: String,
    /// `ctr` or `implicit`.
    pub mode: String,
    /// Id columns of an input file (the training config's names).
    pub user_column: String,
    pub item_column: String,
    /// The training config's input columns (for `recommend --history`).
    pub columns: InputColumns,
    /// Row features: input columns in order, min/max per numeric column, categorical levels.
    pub row_features: FeatureSpec,
    pub user_features: FeatureSpec,
    pub item_features: FeatureSpec,
    /// Predicted click when score >= threshold (from the held-out ROC); absent if undefined.
    pub threshold: Option<f64>,
    pub cutoff_weight: f64,
    /// Mean scaled row features of train, used by `recommend` (which has no impression row).
    pub row_feature_means: Vec<f32>,
    pub cold_start: String,
}

/// The cold-start row of a `[rows × dim]` table: the mean of its rows (summed as `v / rows`
/// in row order, so every scorer of the export computes the same f32 values).
pub fn mean_row(data: &[f32], rows: usize, dim: usize) -> Vec<f32> {
    let mut mean = vec![0f32; dim];
    if dim > 0 && rows > 0 {
        for r in data.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v / rows as f32;
            }
        }
    }
    mean
}
