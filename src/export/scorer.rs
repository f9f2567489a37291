//! `ncf/scorer.json`: what a service needs besides the NCF weights (id maps, feature scaling,
//! threshold). Written by the NCF exporter, read by [`crate::serving`].

use serde::{Deserialize, Serialize};

use crate::data::IdMap;
use crate::features::FeatureSpec;

/// Format tag of `scorer.json`; a folder with another tag is refused.
pub const FORMAT: &str = "clickrec-ncf-1";

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
    /// Row features: input columns in order, min/max per numeric column, categorical levels.
    pub row_features: FeatureSpec,
    pub user_features: FeatureSpec,
    pub item_features: FeatureSpec,
    /// Raw id → row: the position of the id in the sorted list.
    pub users: IdMap,
    pub items: IdMap,
    /// Predicted click when score >= threshold (from the held-out ROC); absent if undefined.
    pub threshold: Option<f64>,
    pub cutoff_weight: f64,
    /// Mean scaled row features of train, used by `recommend` (which has no impression row).
    pub row_feature_means: Vec<f32>,
    pub item_titles: Option<Vec<String>>,
    /// Each user's train items (CSR), excluded by `recommend`.
    pub seen_ptr: Vec<usize>,
    pub seen_items: Vec<u32>,
    pub cold_start: String,
}
