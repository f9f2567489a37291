//! The CTR models over fields: DeepFM and DCNv2, on one field map, one set of layers and one
//! trainer.
//!
//! - [`fields`]: the field map (user, item, every categorical and sequence column; vocabularies
//!   fit on train, an OOV row per field, hashing) and the encoding of a part into table rows.
//! - [`net`]: the shared layers (MLP block with batch norm and dropout, cross layer, FM term) and
//!   how each model wires them; one short `match` arm per model.
//! - [`train`]: host tables with row-sparse lazy Adam, validation, learning-rate decay on plateau,
//!   early stopping, the best epoch kept.
//!
//! `embedding_l2 = λ` adds λ·w to the gradient of every embedding row a batch touches (before
//! Adam), i.e. the gradient of (λ/2)·‖w‖² over those rows. The reference library's
//! `embedding_regularizer` adds the gradient of (λ/2)·‖W‖² over whole tables to every batch, so
//! every row shrinks on every step, also rows the batch does not touch; with Adam that shrinking
//! is normalised per row. The two agree for rows that occur in every batch; for rare rows ours
//! regularises less per epoch, and it costs O(batch) instead of O(table) per step. Its best
//! value therefore differs from the library's: the default (0.01) was chosen on validation AUC of
//! the ml-100k multi-field log (README).

pub mod fields;
pub mod net;
pub mod train;

pub use fields::{FieldMap, FieldRows};
pub use net::{Arch, Kind};
pub use train::{CtrTrained, LabelledRows, log_loss};

use serde::{Deserialize, Serialize};

use crate::ncf::Backend;

/// Trainer settings of one CTR model (the checked `[deepfm]` / `[dcnv2]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct CtrParams {
    pub name: &'static str,
    pub dropout: f64,
    pub embedding_l2: f64,
    pub weight_decay: f64,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Patience in epochs; 0 trains every epoch.
    pub early_stopping: usize,
    pub lr_decay_on_plateau: bool,
    pub init_std: f64,
    pub embedding_optimizer: crate::ncf::EmbeddingOptimizer,
    pub backend: Backend,
    pub seed: u64,
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean training loss over the epoch's rows.
    pub loss: f64,
    pub valid_auc: Option<f64>,
    pub valid_logloss: Option<f64>,
    /// Learning rate the epoch trained with.
    pub learning_rate: f64,
    /// Training wall time (not validation).
    pub seconds: f64,
    pub samples: usize,
}

/// What can go wrong while training or scoring a CTR model.
#[derive(Debug, thiserror::Error)]
pub enum CtrError {
    #[error("invalid input: {0}")]
    Input(String),
    #[error("tensor backend error: {0}")]
    Tensor(String),
}

#[cfg(test)]
mod tests;
