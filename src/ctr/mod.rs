//! The CTR models over fields: DeepFM, DCNv2 and NCF over fields, on one field map, one set of
//! layers and one trainer.
//!
//! - [`fields`]: the field map (user, item, every categorical and sequence column; vocabularies
//!   fit on train, an OOV row per field, hashing) and the encoding of a part into table rows
//!   ([`row_column`]: each field's rows as narrow as its table allows).
//! - [`net`]: the shared layers (MLP block with batch norm and dropout, cross layer, FM term) and
//!   how each model wires them; one short `match` arm per model.
//! - `batch`: the host-side batch assembly (pooling) and the row-sparse table update.
//! - [`train`]: the epoch loop (`step`: one epoch's steps) over host tables (`tables`: every field's table with its Adam
//!   moments) with row-sparse lazy Adam, validation, learning-rate decay on plateau, early
//!   stopping, the best epoch kept; [`checkpoint`]: each epoch saved, and restored on `--resume`.
//! - [`device`]: the same tables and updates as backend tensors (`tables = "device"`).
//! - [`trained`]: the trained model (scoring, tensors by name).
//! - [`calibration`]: Platt scaling of the kept model's logit on the validation part.
//!
//! `embedding_l2 = λ` adds λ·w to the gradient of embedding rows before Adam, the gradient of
//! (λ/2)·‖w‖². With `embedding_optimizer = "adam"` (the default while the tables are small,
//! see `config::DENSE_TABLE_LIMIT`) every row of every table gets it on every step: exactly the
//! reference library's `embedding_regularizer`, which adds (λ/2)·‖W‖² of whole tables to every
//! batch's loss. With `lazy_adam` only the rows a batch touches get it (and move), so a step costs
//! O(batch) instead of O(table); rare rows are then regularised less per epoch, and with Adam's
//! per-row normalisation the whole-table rule pulls untouched rows towards 0 at about the learning
//! rate per step, which the lazy rule does not do.

mod batch;
pub mod calibration;
pub mod checkpoint;
mod clock;
pub mod device;
pub mod fields;
pub mod net;
pub mod norm;
pub mod row_column;
mod step;
mod tables;
pub mod train;
pub mod trained;

pub use calibration::Calibration;
pub use calibration::log_loss;
pub use fields::LabelledRows;
pub use fields::{FieldMap, FieldRows};
pub use net::{Arch, Kind};
pub use row_column::RowColumn;
pub use trained::CtrTrained;

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
    /// Platt scaling on the validation part after training ([`calibration`]).
    pub calibrate: bool,
    pub init_std: f64,
    pub embedding_optimizer: crate::ncf::EmbeddingOptimizer,
    pub backend: Backend,
    /// Tables on the training device ([`device`]) instead of the host.
    pub device_tables: bool,
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

/// Validation AUC and log loss of the kept epoch, and which epoch that was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationFigures {
    pub auc: Option<f64>,
    /// Of the probabilities the model outputs (after its calibration, when fit).
    pub logloss: Option<f64>,
    /// Before the calibration (the kept epoch's own sigmoid), when one was fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logloss_uncalibrated: Option<f64>,
    /// The Platt scaling fit on this part: `p = σ(scale · logit + shift)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// 1-based.
    pub best_epoch: usize,
    /// Rows of the validation part.
    pub rows: usize,
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
