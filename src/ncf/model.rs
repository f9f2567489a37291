//! The Burn module of the NCF model, its plain-`Vec` weights, initialisation and the loss.

use super::{NcfError, Variant};
use burn::module::{Param, ParamId};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, relu};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// Architecture: everything needed to rebuild the model around its weights (`ncf.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    pub variant: Variant,
    pub embedding_dim: usize,
    pub hidden: Vec<usize>,
    pub n_users: usize,
    pub n_items: usize,
    /// Columns of the user side table.
    pub fu: usize,
    /// Columns of the item side table.
    pub fi: usize,
    /// Per-row features.
    pub fr: usize,
}

impl Arch {
    /// Width of the first layer's input: `2 D + fu + fi + fr`.
    pub fn input_dim(&self) -> usize {
        2 * self.embedding_dim + self.fu + self.fi + self.fr
    }

    /// Width of the non-embedding input `[user_side, item_side, row_features]`.
    pub fn dense_dim(&self) -> usize {
        self.fu + self.fi + self.fr
    }

    /// Input width of the output layer: last hidden width (or the input width without hidden
    /// layers), plus D for the GMF branch of `neumf`.
    pub fn output_in(&self) -> usize {
        let mlp_out = self.hidden.last().copied().unwrap_or(self.input_dim());
        match self.variant {
            Variant::Mlp => mlp_out,
            Variant::Neumf => mlp_out + self.embedding_dim,
        }
    }

    /// `(in, out)` of every hidden layer.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        let mut prev = self.input_dim();
        self.hidden
            .iter()
            .map(|&h| {
                let d = (prev, h);
                prev = h;
                d
            })
            .collect()
    }
}

/// Trainable weights as plain row-major `f32` vectors, in Burn's layout (Linear weights
/// `[in, out]`). GMF vectors are empty for `mlp`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub user_embedding: Vec<f32>,
    pub item_embedding: Vec<f32>,
    pub gmf_user: Vec<f32>,
    pub gmf_item: Vec<f32>,
    /// Per hidden layer: weight `[in, out]`, bias `[out]`.
    pub mlp: Vec<(Vec<f32>, Vec<f32>)>,
    /// Output layer weight `[output_in, 1]`.
    pub output_weight: Vec<f32>,
    /// Output bias `[1]`.
    pub output_bias: Vec<f32>,
}

impl Weights {
    /// Draws initial weights from `rng`: embeddings N(0, `init_std`), Linear weights and biases
    /// U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's defaults. Drawn here rather than by the backend
    /// so that a seed gives the same start on every backend, whatever else runs in the process.
    pub fn init(arch: &Arch, init_std: f64, rng: &mut ChaCha8Rng) -> Result<Self, NcfError> {
        let normal = Normal::new(0.0f64, init_std).map_err(|e| NcfError::InvalidParam {
            name: "init_std",
            value: init_std.to_string(),
            expected: match e {
                rand_distr::NormalError::MeanTooSmall => "a finite number",
                rand_distr::NormalError::BadVariance => "a finite number >= 0",
            },
        })?;
        let d = arch.embedding_dim;
        let mut emb =
            |n: usize| -> Vec<f32> { (0..n * d).map(|_| normal.sample(rng) as f32).collect() };
        let user_embedding = emb(arch.n_users);
        let item_embedding = emb(arch.n_items);
        let (gmf_user, gmf_item) = match arch.variant {
            Variant::Mlp => (Vec::new(), Vec::new()),
            Variant::Neumf => (emb(arch.n_users), emb(arch.n_items)),
        };
        let mut uniform = |fan_in: usize, n: usize| -> Vec<f32> {
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            (0..n)
                .map(|_| rng.random_range(-bound..=bound) as f32)
                .collect()
        };
        let mlp = arch
            .layer_dims()
            .into_iter()
            .map(|(i, o)| (uniform(i, i * o), uniform(i, o)))
            .collect();
        let k = arch.output_in();
        let output_weight = uniform(k, k);
        let output_bias = uniform(k, 1);
        Ok(Self {
            user_embedding,
            item_embedding,
            gmf_user,
            gmf_item,
            mlp,
            output_weight,
            output_bias,
        })
    }
}

/// The dense part of the NCF network as a Burn module: the MLP and the output layer. The
/// embedding tables are not parameters of this module: training keeps them on the host and
/// feeds the batch's rows as leaf tensors ([`super::embeddings`]), inference gathers them from
/// [`super::trained::NcfTrained`]'s tensors. Parameters carry fixed [`ParamId`]s (1, 2, ... in
/// declaration order) so that a saved optimizer state finds its parameters again on resume.
#[derive(Module, Debug)]
pub struct NcfNet {
    pub mlp: Vec<Linear>,
    pub output: Linear,
}

/// What a batch feeds the network: the first layer's input and, for `neumf`, the GMF rows.
#[derive(Debug, Clone)]
pub struct BatchInput {
    /// `[batch, 2D + fu + fi + fr]` =
    /// `[user_embedding[u], item_embedding[i], user_side[u], item_side[i], row_features]`.
    pub x: Tensor<2>,
    /// `(gmf_user[u], gmf_item[i])`, each `[batch, D]` (`neumf` only).
    pub gmf: Option<(Tensor<2>, Tensor<2>)>,
}

fn param<const D: usize>(
    id: &mut u64,
    values: &[f32],
    shape: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    *id += 1;
    let tensor = Tensor::<D>::from_data(TensorData::new(values.to_vec(), shape), device);
    let tensor = if device.is_autodiff() {
        tensor.require_grad()
    } else {
        tensor
    };
    Param::initialized(ParamId::from(*id), tensor)
}

fn read_param<const D: usize>(p: &Param<Tensor<D>>) -> Result<Vec<f32>, NcfError> {
    p.val()
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| NcfError::Tensor(format!("reading a parameter: {e:?}")))
}

impl NcfNet {
    /// Builds the MLP and output layer of `w` on `device` (trainable when the device has
    /// autodiff). `weights` must fit `arch` (checked by [`Weights`]' producers).
    pub fn from_weights(arch: &Arch, w: &Weights, device: &Device) -> Self {
        let mut id = 0u64;
        let mlp = arch
            .layer_dims()
            .into_iter()
            .zip(&w.mlp)
            .map(|((i, o), (wt, b))| Linear {
                weight: param(&mut id, wt, [i, o], device),
                bias: Some(param(&mut id, b, [o], device)),
            })
            .collect();
        let k = arch.output_in();
        let output = Linear {
            weight: param(&mut id, &w.output_weight, [k, 1], device),
            bias: Some(param(&mut id, &w.output_bias, [1], device)),
        };
        Self { mlp, output }
    }

    /// Copies the MLP and output parameters into `w` (the embeddings are left as they are).
    pub fn read_into(&self, w: &mut Weights) -> Result<(), NcfError> {
        let bias = |l: &Linear| match &l.bias {
            Some(b) => read_param(b),
            None => Ok(Vec::new()),
        };
        w.mlp = self
            .mlp
            .iter()
            .map(|l| Ok((read_param(&l.weight)?, bias(l)?)))
            .collect::<Result<_, NcfError>>()?;
        w.output_weight = read_param(&self.output.weight)?;
        w.output_bias = bias(&self.output)?;
        Ok(())
    }

    /// Logits of a batch.
    ///
    /// # Shapes
    /// - `input.x`: `[batch, 2D + fu + fi + fr]`; `input.gmf`: two `[batch, D]` (`neumf` only)
    /// - `dropout`: one `[batch, hidden[k]]` mask per hidden layer (entries 0 or 1/(1-p)),
    ///   or empty for no dropout
    /// - output: `[batch]` logits
    pub fn forward(&self, input: BatchInput, dropout: &[Tensor<2>]) -> Tensor<1> {
        let mut h = input.x;
        for (k, layer) in self.mlp.iter().enumerate() {
            h = relu(layer.forward(h));
            if let Some(mask) = dropout.get(k) {
                h = h * mask.clone();
            }
        }
        if let Some((gu, gi)) = input.gmf {
            h = Tensor::cat(vec![h, gu * gi], 1);
        }
        let [batch, _] = h.dims();
        self.output.forward(h).reshape([batch])
    }
}

/// Inverted-dropout masks, one `[batch, h]` per hidden layer: entries 0 where `dropped()` (called
/// once per entry, layer after layer, row-major) says so, else 1/(1 − p); none when p ≤ 0. The
/// draw is the caller's, so each trainer keeps its own seeded stream.
pub fn dropout_masks(
    p: f64,
    hidden: &[usize],
    batch: usize,
    device: &Device,
    mut dropped: impl FnMut() -> bool,
) -> Vec<Tensor<2>> {
    if p <= 0.0 {
        return Vec::new();
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    hidden
        .iter()
        .map(|&h| {
            let v: Vec<f32> = (0..batch * h)
                .map(|_| if dropped() { 0.0 } else { keep })
                .collect();
            Tensor::<2>::from_data(TensorData::new(v, [batch, h]), device)
        })
        .collect()
}

/// Binary cross-entropy on logits, mean over the batch:
/// `-[y log σ(x) + (1 - y) log(1 - σ(x))] = (1 - y) x - log σ(x)`, computed with the backend's
/// fused, numerically stable `log_sigmoid` (equal to `max(x, 0) - x y + log(1 + exp(-|x|))`).
/// With `pos_weight` w (PyTorch's `BCEWithLogitsLoss(pos_weight=w)`) positives weigh w:
/// `(1 - y) x - (1 + (w - 1) y) log σ(x)`.
///
/// # Shapes
/// - `logits`, `labels`: `[batch]`; output `[1]`
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>, pos_weight: f64) -> Tensor<1> {
    let not_y = labels.clone().neg().add_scalar(1.0);
    let log_p = log_sigmoid(logits.clone());
    let log_p = if pos_weight == 1.0 {
        log_p
    } else {
        log_p * labels.mul_scalar(pos_weight - 1.0).add_scalar(1.0)
    };
    (logits * not_y - log_p).mean()
}
