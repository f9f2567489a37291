//! Hyper-parameters of the NCF model and trainer, with their checks.

use super::{Backend, EmbeddingOptimizer, NcfError};
use serde::{Deserialize, Serialize};

/// Architecture variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Embeddings + side features through an MLP (the reference peer's model).
    #[default]
    Mlp,
    /// NeuMF (He et al. 2017): the MLP plus a GMF branch, the element-wise product of a second
    /// pair of embeddings, concatenated with the last hidden layer before the output layer.
    Neumf,
}

impl Variant {
    /// Lowercase name, as in configs and `ncf.json`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Mlp => "mlp",
            Variant::Neumf => "neumf",
        }
    }
}

/// NCF hyper-parameters. `Default` gives the reference peer's settings (emb 8, MLP [32, 16],
/// Adam lr 1e-3, batch 512) with 50 epochs, except the embedding initialisation (`init_std`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NcfParams {
    /// `mlp` or `neumf`.
    pub variant: Variant,
    /// Embedding size D (also the GMF embedding size for `neumf`).
    pub embedding_dim: usize,
    /// Hidden layer widths, each > 0; may be empty (a linear model over the inputs).
    pub hidden: Vec<usize>,
    /// Dropout probability after each hidden ReLU, in [0, 1). Masks are drawn from the
    /// per-epoch seeded RNG, not from the backend RNG.
    pub dropout: f64,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Rows per Adam step.
    pub batch_size: usize,
    /// Adam learning rate (> 0).
    pub learning_rate: f64,
    /// L2 penalty added to the gradient (PyTorch Adam `weight_decay`), >= 0.
    pub weight_decay: f64,
    /// Implicit mode: negatives sampled per positive each epoch (>= 1 there).
    pub negatives: usize,
    /// Loss weight of positive rows (PyTorch `pos_weight`), > 0; 1 = plain BCE.
    pub pos_weight: f64,
    /// Stop after this many epochs without a better validation AUC, then keep the best epoch's
    /// weights. Needs a validation set. None = train all epochs.
    pub early_stopping: Option<usize>,
    /// Compute backend for training (inference always runs on the CPU `flex` backend).
    pub backend: Backend,
    /// Seed of every random draw: initialisation, shuffling, negatives, dropout.
    pub seed: u64,
    /// Standard deviation of the normal initialisation of the embeddings. Default 0.01 (the NCF
    /// paper's). PyTorch's `nn.Embedding` and Burn's use 1.0; set 1.0 to reproduce the reference
    /// peer. On the ml-100k CTR log (5 epochs, seeds 1-3, 42) 0.01 gives test AUC 0.759-0.761,
    /// 1.0 gives 0.662-0.699 (the peer: 0.683).
    pub init_std: f64,
    /// Update rule of the embedding tables: lazy Adam (rows in the batch only, the default) or
    /// dense Adam (every row every step). See [`super::embeddings`].
    pub embedding_optimizer: EmbeddingOptimizer,
    /// With a validation set, return the weights of the epoch with the best validation AUC
    /// rather than the last epoch's.
    pub keep_best: bool,
}

impl Default for NcfParams {
    fn default() -> Self {
        Self {
            variant: Variant::Mlp,
            embedding_dim: 8,
            hidden: vec![32, 16],
            dropout: 0.0,
            epochs: 50,
            batch_size: 512,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            negatives: 4,
            pos_weight: 1.0,
            early_stopping: None,
            backend: Backend::Flex,
            seed: 42,
            init_std: 0.01,
            embedding_optimizer: EmbeddingOptimizer::LazyAdam,
            keep_best: true,
        }
    }
}

fn invalid(name: &'static str, value: impl ToString, expected: &'static str) -> NcfError {
    NcfError::InvalidParam {
        name,
        value: value.to_string(),
        expected,
    }
}

impl NcfParams {
    /// Checks every range; the trainer calls it first.
    pub fn validate(&self) -> Result<(), NcfError> {
        if self.embedding_dim == 0 {
            return Err(invalid(
                "embedding_dim",
                self.embedding_dim,
                "an integer >= 1",
            ));
        }
        if let Some(pos) = self.hidden.iter().position(|&h| h == 0) {
            return Err(NcfError::InvalidParam {
                name: "hidden",
                value: format!("{:?} (entry {pos} is 0)", self.hidden),
                expected: "layer widths >= 1",
            });
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(invalid("dropout", self.dropout, "a probability in [0, 1)"));
        }
        if self.epochs == 0 {
            return Err(invalid("epochs", self.epochs, "an integer >= 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", self.batch_size, "an integer >= 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid("learning_rate", self.learning_rate, "a number > 0"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid("weight_decay", self.weight_decay, "a number >= 0"));
        }
        if !(self.pos_weight.is_finite() && self.pos_weight > 0.0) {
            return Err(invalid("pos_weight", self.pos_weight, "a number > 0"));
        }
        if self.early_stopping == Some(0) {
            return Err(invalid(
                "early_stopping",
                0,
                "a patience >= 1 epoch, or none",
            ));
        }
        if !(self.init_std.is_finite() && self.init_std >= 0.0) {
            return Err(invalid("init_std", self.init_std, "a number >= 0"));
        }
        Ok(())
    }
}
