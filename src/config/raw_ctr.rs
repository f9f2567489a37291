//! `[deepfm]` and `[dcnv2]`: the CTR models over every field (see `crate::ctr`).
//!
//! The defaults are the reference CTR library's tuned settings for the BARS benchmarks
//! (FuxiCTR 2.3.7 model zoo configs for Frappe and MovieLens), because they are what a CTR
//! practitioner would otherwise run and they generalise across those logs:
//! - `embedding_dim = 10`: BARS fixes 10 for every model so that models compare on equal tables.
//! - `hidden = [400, 400, 400]`, `dropout = 0.2`, `batch_norm = true`: the tuned DNN part of
//!   DeepFM and DCNv2 there; batch norm lets a 3-layer MLP train at lr 1e-3 without warm-up.
//! - `learning_rate = 1e-3`, `batch_size = 4096`: Adam at its usual rate with BARS' batch.
//! - `epochs = 100`, `early_stopping = 2`, `lr_decay_on_plateau = true`: train until the
//!   validation AUC stops improving; each epoch that does not improve multiplies the learning rate
//!   by 0.1, the second in a row stops, and the best epoch is kept (the library's `BaseModel`).
//! - `embedding_l2 = 0.05`: the library's `embedding_regularizer` for these models; with the
//!   dense update (the default for small tables) it is the same penalty (see `crate::ctr`).
//!   Chosen on validation AUC of the ml-100k multi-field log: 0.05 and 0.1 tie (DeepFM 0.7732 /
//!   0.7749, DCNv2 0.7750 / 0.7749), both above 0.01 with lazy updates (0.7684 / 0.7733).
//! - `init_std = 1e-4`: the library's normal initialisation of embedding tables.
//! - `cross_layers = 4` (DCNv2 only): the tuned depth of the cross network.
//! - `calibration = "platt"`: the kept epoch is over-confident (the library has no calibration);
//!   Platt scaling on the validation part lowers log loss and cannot change AUC or any ranking
//!   (see `crate::ctr::calibration`).

use serde::{Deserialize, Serialize};

use super::raw::{CalibrationMethod, LrScaling, NcfBackend, NcfEmbeddingOptimizer, TablePlacement};

/// One CTR model table (`[deepfm]` or `[dcnv2]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCtr {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "d_emb")]
    pub embedding_dim: usize,
    #[serde(default = "d_hidden")]
    pub hidden: Vec<usize>,
    #[serde(default = "d_dropout")]
    pub dropout: f64,
    #[serde(default = "yes")]
    pub batch_norm: bool,
    #[serde(default = "d_l2")]
    pub embedding_l2: f64,
    /// L2 added to the gradient of the dense layers (Adam `weight_decay`).
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default = "d_lr")]
    pub learning_rate: f64,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Patience in epochs on validation AUC; `0` trains every epoch.
    #[serde(default = "d_patience")]
    pub early_stopping: usize,
    #[serde(default = "yes")]
    pub lr_decay_on_plateau: bool,
    /// DCNv2: number of full-rank cross layers (ignored by DeepFM, where it is an error).
    pub cross_layers: Option<usize>,
    #[serde(default = "d_init")]
    pub init_std: f64,
    /// `lazy_adam`: Adam and `embedding_l2` on the rows a batch touches; `adam`: every row every
    /// step (the reference library's rule: whole-table L2, O(table) per step). Absent: `adam`
    /// while all tables together hold at most [`DENSE_TABLE_LIMIT`] values, else `lazy_adam`.
    pub embedding_optimizer: Option<NcfEmbeddingOptimizer>,
    #[serde(default)]
    pub backend: NcfBackend,
    /// Embedding tables on the host or the device (see `crate::ctr::device`).
    #[serde(default)]
    pub tables: TablePlacement,
    /// Probability calibration on the validation part.
    #[serde(default)]
    pub calibration: CalibrationMethod,
    /// Learning rate against batch size; `learning_rate` is the rate at `lr_base_batch`.
    #[serde(default)]
    pub lr_scaling: LrScaling,
    #[serde(default = "d_batch")]
    pub lr_base_batch: usize,
}

impl RawCtr {
    /// The learning rate the trainer uses (after `lr_scaling`).
    pub fn effective_learning_rate(&self) -> f64 {
        self.lr_scaling
            .apply(self.learning_rate, self.batch_size, self.lr_base_batch)
    }
}

fn yes() -> bool {
    true
}
fn d_emb() -> usize {
    10
}
fn d_hidden() -> Vec<usize> {
    vec![400, 400, 400]
}
fn d_dropout() -> f64 {
    0.2
}
fn d_l2() -> f64 {
    0.05
}
fn d_lr() -> f64 {
    1e-3
}
fn d_batch() -> usize {
    4096
}
fn d_epochs() -> usize {
    100
}
fn d_patience() -> usize {
    2
}
fn d_init() -> f64 {
    1e-4
}

/// Up to this many table values (rows × dim over all fields) the default embedding update is
/// dense Adam: a dense step over 4 M values costs less than the 400-400-400 MLP's step at batch
/// 4096, and on the ml-100k multi-field log it validates better than lazy Adam (valid AUC DeepFM
/// 0.7732 vs 0.7684, DCNv2 0.7750 vs 0.7733, seed 42). Larger tables (millions of users) stay
/// row-sparse, where a dense step would cost O(table).
pub const DENSE_TABLE_LIMIT: usize = 4_000_000;

/// The default number of DCNv2 cross layers.
pub const DEFAULT_CROSS_LAYERS: usize = 4;
