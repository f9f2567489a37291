//! Neural collaborative filtering (NCF) CTR model and its trainer, in Burn 0.22.
//!
//! The model follows the PyTorch reference peer (`shared/peers/ncf_torch.py`):
//!
//! ```text
//! x     = [user_embedding[u], item_embedding[i], user_side[u], item_side[i], row_features]
//! h     = ReLU(Linear(x)) (+ dropout), once per entry of `hidden`
//! logit = Linear(h)                                         (variant = mlp)
//! logit = Linear([h, gmf_user[u] * gmf_item[i]])            (variant = neumf, the NCF paper)
//! p     = sigmoid(logit)
//! ```
//!
//! Loss: numerically stable binary cross-entropy on the logit, mean over the batch, with an
//! optional weight for positives ([`model::bce_with_logits`]). Optimiser: Adam (burn-optim)
//! with PyTorch's epsilon 1e-8 and optional L2 weight decay; the embedding tables are kept on the
//! host and updated row-sparsely by lazy Adam ([`embeddings`]), so a step costs O(batch).
//!
//! Two modes: CTR mode trains on labelled rows (with per-row features); implicit mode
//! (`TrainSet::implicit`) trains on positives only and draws [`NcfParams::negatives`] negatives
//! per positive anew every epoch ([`data::NegativeSampler`]).
//!
//! Submodules: [`backend`] (device choice), [`model`] (the Burn module and the loss),
//! [`data`] (epoch assembly, negative sampling, AUC), [`embeddings`] (host tables and their
//! row-sparse Adam; `tables`: one run's tables and step count), [`mod@train`] (the epoch loop),
//! [`trained`] (the trained model: predict, full ranking), [`checkpoint`] (resumable
//! checkpoints), [`export`] (safetensors export/load and the plain-loop forward formula).

pub mod backend;
pub mod checkpoint;
pub mod data;
pub mod embeddings;
pub mod export;
pub mod model;
mod params;
mod tables;
pub mod train;
pub mod trained;

#[cfg(test)]
mod tests;

pub use backend::Backend;
pub use data::rank_auc;
pub use embeddings::EmbeddingOptimizer;
pub use params::{NcfParams, Variant};
pub use train::{Validation, train, train_owned};
pub use trained::NcfTrained;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Constant per-user and per-item feature tables (already min-max scaled by the caller),
/// gathered by index and fed to the first layer. Not trained. `fu`/`fi` may be 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SideTables {
    /// Number of users; user indices are `0..n_users`.
    pub n_users: usize,
    /// Number of items; item indices are `0..n_items`.
    pub n_items: usize,
    /// Row-major `[n_users, fu]`.
    pub user_side: Vec<f32>,
    /// Columns of `user_side`.
    pub fu: usize,
    /// Row-major `[n_items, fi]`.
    pub item_side: Vec<f32>,
    /// Columns of `item_side`.
    pub fi: usize,
}

impl SideTables {
    /// Tables without side features.
    pub fn without_features(n_users: usize, n_items: usize) -> Self {
        Self {
            n_users,
            n_items,
            ..Self::default()
        }
    }
}

/// Training rows. CTR mode: labelled impressions with `fr` per-row features.
/// Implicit mode (`implicit = true`): the positives (labels all 1, `fr` must be 0);
/// negatives are sampled by the trainer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainSet {
    /// User index per row.
    pub users: Vec<u32>,
    /// Item index per row.
    pub items: Vec<u32>,
    /// Row-major `[n, fr]`, already scaled.
    pub row_features: Vec<f32>,
    /// Columns of `row_features`.
    pub fr: usize,
    /// 0/1 per row.
    pub labels: Vec<f32>,
    /// Implicit mode: rows are positives, negatives are sampled.
    pub implicit: bool,
}

/// Validation rows (same layout as [`TrainSet`]); early stopping watches their AUC.
/// `implicit` is ignored here: validation rows carry their own labels.
pub type ValidSet = TrainSet;

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's rows.
    pub loss: f64,
    /// Validation AUC after this epoch (None without validation set or with a single class).
    pub valid_auc: Option<f64>,
    /// Wall time of the epoch: sampling, shuffling, forward, backward, Adam (not validation).
    pub seconds: f64,
    /// Rows trained this epoch (positives + negatives in implicit mode).
    pub samples: usize,
}

impl EpochReport {
    /// Training throughput of the epoch.
    pub fn samples_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.samples as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Everything that can go wrong in this module; each variant says what and what to do.
#[derive(Debug, thiserror::Error)]
pub enum NcfError {
    /// A hyper-parameter is out of range.
    #[error("invalid NCF parameter `{name}` = {value}: expected {expected}")]
    InvalidParam {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The requested backend is not compiled in.
    #[error("NCF backend `{backend}` is not available in this build: {hint}")]
    BackendUnavailable {
        backend: &'static str,
        hint: &'static str,
    },
    /// Two inputs that must agree in length do not.
    #[error("{what}: expected {expected} values, got {got}")]
    LengthMismatch {
        what: String,
        expected: usize,
        got: usize,
    },
    /// An index is outside its table.
    #[error("{what}: index {index} is out of range (must be < {bound})")]
    IndexOutOfRange {
        what: &'static str,
        index: u64,
        bound: usize,
    },
    /// A label is neither 0 nor 1 (or a positive-only set has a 0 label).
    #[error("{what}: label at row {row} is {value}, expected {expected}")]
    BadLabel {
        what: &'static str,
        row: usize,
        value: f32,
        expected: &'static str,
    },
    /// The input data cannot be trained on as given.
    #[error("invalid NCF input: {reason}")]
    InvalidInput { reason: String },
    /// Negative sampling is impossible for a user who has every item in train.
    #[error(
        "user {user} has all {n_items} items among its train positives: no negative can be \
         sampled; drop that user or use CTR mode"
    )]
    NoNegatives { user: u32, n_items: usize },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A saved file (export or checkpoint) is malformed or does not fit.
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// A checkpoint belongs to a different run (other parameters or data).
    #[error(
        "checkpoint {path} does not match this run ({reason}); delete it or train without resume"
    )]
    CheckpointMismatch { path: PathBuf, reason: String },
    /// Burn reported an error while computing or reading tensors.
    #[error("tensor backend error: {0}")]
    Tensor(String),
}

impl NcfError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn bad_file(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::BadFile {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
