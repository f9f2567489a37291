//! The Burn module of the CTR models: the shared layers (MLP block, cross layer, FM term) and
//! how DeepFM, DCNv2 and NCF over fields wire them.
//!
//! Embedding tables are not part of the module: the trainer keeps them on the host and feeds the
//! batch's rows as leaf tensors (see [`super::train`]), as the NCF trainer does.

use burn::module::{Param, ParamId};
use burn::nn::Linear;

use super::norm::Norm;
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// Which CTR model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// DeepFM (Guo et al., IJCAI 2017): first-order weights + FM second-order term + MLP.
    DeepFm,
    /// DCN-V2 (Wang et al., WWW 2021), parallel: full-rank cross layers beside the MLP.
    DcnV2,
    /// NCF over fields (`[ncf]` on a log with categorical fields): every field's embedding and
    /// the dense features concatenated into the MLP; with `Arch::neumf` the GMF branch
    /// (user row ⊙ item row) joins the last hidden layer before the output layer (He et al. 2017).
    Ncf,
}

impl Kind {
    /// The model's name in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::DeepFm => "deepfm",
            Kind::DcnV2 => "dcnv2",
            Kind::Ncf => "ncf",
        }
    }
}

/// Everything that fixes the network's shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arch {
    pub kind: Kind,
    /// Number of fields F.
    pub fields: usize,
    /// Embedding size D.
    pub dim: usize,
    /// Dense (numeric) inputs.
    pub dense: usize,
    pub hidden: Vec<usize>,
    pub batch_norm: bool,
    /// DCNv2 only.
    pub cross_layers: usize,
    /// NCF only: the NeuMF variant's GMF branch over fields 0 and 1 (user, item). Absent in
    /// exports written before NCF over fields: false.
    #[serde(default)]
    pub neumf: bool,
}

impl Arch {
    /// Width of the embedding input, `F · D`.
    pub fn emb_width(&self) -> usize {
        self.fields * self.dim
    }

    /// Whether the host assembles the numeric features into the embedding leaf's last columns:
    /// NCF and DCNv2 read `[emb, dense]` only as one concatenation, so building it at once
    /// saves the concatenation and the split of its gradient (DeepFM reads the embeddings
    /// alone for the FM term).
    pub fn dense_in_leaf(&self) -> bool {
        self.dense > 0 && self.kind != Kind::DeepFm
    }

    /// Width of the MLP's (and cross network's) input, `F · D + dense`.
    pub fn input_dim(&self) -> usize {
        self.emb_width() + self.dense
    }

    /// Input width of the output layer.
    fn output_in(&self) -> usize {
        let mlp_out = self.hidden.last().copied().unwrap_or(self.input_dim());
        match self.kind {
            Kind::DeepFm => mlp_out,
            Kind::DcnV2 => mlp_out + self.input_dim(),
            Kind::Ncf if self.neumf => mlp_out + self.dim,
            Kind::Ncf => mlp_out,
        }
    }
}

/// A batch's inputs.
#[derive(Debug, Clone)]
pub struct Input {
    /// `[batch, F · D]`: each field's embedding row (mean of the rows for a sequence field);
    /// or `[batch, F · D + dense]` with the scaled numeric features as its last columns and
    /// `dense` None, for the models that read the two only concatenated (see
    /// [`Arch::dense_in_leaf`]).
    pub emb: Tensor<2>,
    /// `[batch, dense]` scaled numeric features, None when there are none (or in `emb`).
    pub dense: Option<Tensor<2>>,
    /// `[batch, F]` first-order weights of each field's level (DeepFM only).
    pub first: Option<Tensor<2>>,
}

/// The dense layers of a CTR model. Parameters get fixed ids (1, 2, ... in creation order).
#[derive(Module, Debug)]
pub struct CtrNet {
    pub mlp: Vec<Linear>,
    pub norms: Vec<Norm>,
    pub cross: Vec<Linear>,
    /// DeepFM: first-order weights of the dense features, `[dense, 1]` without bias.
    pub dense_linear: Option<Linear>,
    pub output: Linear,
}

fn param<const D: usize>(
    id: &mut u64,
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    *id += 1;
    let t = Tensor::<D>::from_data(TensorData::new(values, shape), device);
    let t = if device.is_autodiff() {
        t.require_grad()
    } else {
        t
    };
    Param::initialized(ParamId::from(*id), t)
}

/// Named weight tensors: (name, shape, row-major values).
pub type NamedTensors = Vec<(String, Vec<usize>, Vec<f32>)>;

/// Looks a named tensor up (None when absent).
pub type TensorSource<'a> = &'a dyn Fn(&str) -> Option<(Vec<usize>, Vec<f32>)>;

fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading a weight: {e:?}"))
}

/// A tensor of `src` with the expected shape.
fn fetch(src: TensorSource<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let (s, v) = src(name).ok_or_else(|| format!("no tensor `{name}`"))?;
    if s != shape || v.len() != shape.iter().product::<usize>() {
        return Err(format!(
            "tensor `{name}` has shape {s:?}, expected {shape:?}"
        ));
    }
    Ok(v)
}

/// A Linear layer from `src` (`{name}.weight` `[i, o]`, `{name}.bias` `[o]` when `bias`).
fn linear_from(
    id: &mut u64,
    src: TensorSource<'_>,
    name: &str,
    (i, o): (usize, usize),
    bias: bool,
    device: &Device,
) -> Result<Linear, String> {
    let weight = param(
        id,
        fetch(src, &format!("{name}.weight"), &[i, o])?,
        [i, o],
        device,
    );
    let bias = match bias {
        true => Some(param(
            id,
            fetch(src, &format!("{name}.bias"), &[o])?,
            [o],
            device,
        )),
        false => None,
    };
    Ok(Linear { weight, bias })
}

fn push_linear(out: &mut NamedTensors, name: &str, l: &Linear) -> Result<(), String> {
    let [i, o] = l.weight.val().dims();
    out.push((
        format!("{name}.weight"),
        vec![i, o],
        values(l.weight.val())?,
    ));
    if let Some(b) = &l.bias {
        out.push((format!("{name}.bias"), vec![o], values(b.val())?));
    }
    Ok(())
}

/// A Linear layer `[i, o]` with Xavier-normal weights and zero bias (the reference library's
/// `init_weights`), drawn from `rng` so a seed gives the same start on every backend.
fn linear(
    id: &mut u64,
    i: usize,
    o: usize,
    bias: bool,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Linear {
    let std = (2.0 / (i + o) as f64).sqrt();
    let normal = Normal::new(0.0, std).unwrap_or_else(|_| Normal::new(0.0, 0.01).expect("std"));
    let w: Vec<f32> = (0..i * o).map(|_| normal.sample(rng) as f32).collect();
    let weight = param(id, w, [i, o], device);
    let bias = bias.then(|| param(id, vec![0.0; o], [o], device));
    Linear { weight, bias }
}

impl CtrNet {
    /// A freshly initialised network on `device` (trainable when it has autodiff).
    pub fn init(arch: &Arch, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let mut id = 0u64;
        let mut prev = arch.input_dim();
        let mut mlp = Vec::new();
        let mut norms = Vec::new();
        for &h in &arch.hidden {
            mlp.push(linear(&mut id, prev, h, true, rng, device));
            if arch.batch_norm {
                norms.push(Norm::new(h, &mut id, device));
            }
            prev = h;
        }
        let n = arch.input_dim();
        let cross = match arch.kind {
            Kind::DcnV2 => (0..arch.cross_layers)
                .map(|_| linear(&mut id, n, n, true, rng, device))
                .collect(),
            Kind::DeepFm | Kind::Ncf => Vec::new(),
        };
        let dense_linear = (arch.kind == Kind::DeepFm && arch.dense > 0)
            .then(|| linear(&mut id, arch.dense, 1, false, rng, device));
        let output = linear(&mut id, arch.output_in(), 1, true, rng, device);
        Self {
            mlp,
            norms,
            cross,
            dense_linear,
            output,
        }
    }

    /// The weights as named tensors: `mlp.{k}.weight` `[in, out]` / `.bias`, `norm.{k}.gamma`,
    /// `.beta`, `.running_mean`, `.running_var`, `cross.{k}.weight` / `.bias`,
    /// `dense_linear.weight` `[dense, 1]`, `output.weight` `[in, 1]` / `.bias`.
    pub fn tensors(&self) -> Result<NamedTensors, String> {
        let mut out = Vec::new();
        for (k, l) in self.mlp.iter().enumerate() {
            push_linear(&mut out, &format!("mlp.{k}"), l)?;
        }
        for (k, n) in self.norms.iter().enumerate() {
            let c = n.gamma.val().dims()[0];
            let parts = [
                ("gamma", n.gamma.val()),
                ("beta", n.beta.val()),
                ("running_mean", n.running_mean.value()),
                ("running_var", n.running_var.value()),
            ];
            for (what, t) in parts {
                out.push((format!("norm.{k}.{what}"), vec![c], values(t)?));
            }
        }
        for (k, l) in self.cross.iter().enumerate() {
            push_linear(&mut out, &format!("cross.{k}"), l)?;
        }
        if let Some(l) = &self.dense_linear {
            push_linear(&mut out, "dense_linear", l)?;
        }
        push_linear(&mut out, "output", &self.output)?;
        Ok(out)
    }

    /// The network of `arch` from named tensors (see [`Self::tensors`]), checking every shape.
    pub fn from_tensors(
        arch: &Arch,
        src: TensorSource<'_>,
        device: &Device,
    ) -> Result<Self, String> {
        let mut id = 0u64;
        let mut prev = arch.input_dim();
        let mut mlp = Vec::new();
        let mut norms = Vec::new();
        for (k, &h) in arch.hidden.iter().enumerate() {
            mlp.push(linear_from(
                &mut id,
                src,
                &format!("mlp.{k}"),
                (prev, h),
                true,
                device,
            )?);
            if arch.batch_norm {
                let get = |what: &str| fetch(src, &format!("norm.{k}.{what}"), &[h]);
                norms.push(Norm::from_values(
                    [
                        get("gamma")?,
                        get("beta")?,
                        get("running_mean")?,
                        get("running_var")?,
                    ],
                    &mut id,
                    device,
                ));
            }
            prev = h;
        }
        let n = arch.input_dim();
        let cross = match arch.kind {
            Kind::DcnV2 => (0..arch.cross_layers)
                .map(|k| linear_from(&mut id, src, &format!("cross.{k}"), (n, n), true, device))
                .collect::<Result<_, _>>()?,
            Kind::DeepFm | Kind::Ncf => Vec::new(),
        };
        let dense_linear = match arch.kind == Kind::DeepFm && arch.dense > 0 {
            true => Some(linear_from(
                &mut id,
                src,
                "dense_linear",
                (arch.dense, 1),
                false,
                device,
            )?),
            false => None,
        };
        let output = linear_from(&mut id, src, "output", (arch.output_in(), 1), true, device)?;
        Ok(Self {
            mlp,
            norms,
            cross,
            dense_linear,
            output,
        })
    }

    /// Logits of a batch.
    ///
    /// # Shapes
    /// - `input.emb`: `[batch, F·D]` (NCF: fields 0 and 1 are the user and item); `input.dense`:
    ///   `[batch, dense]`; `input.first`: `[batch, F]` (DeepFM)
    /// - `dropout`: one `[batch, hidden[k]]` mask per hidden layer (0 or 1/(1-p)), or empty
    /// - output: `[batch]` logits
    pub fn forward(&self, arch: &Arch, input: Input, dropout: &[Tensor<2>]) -> Tensor<1> {
        let [batch, _] = input.emb.dims();
        let x = match &input.dense {
            Some(d) => Tensor::cat(vec![input.emb.clone(), d.clone()], 1),
            None => input.emb.clone(),
        };
        let h = self.mlp_forward(x.clone(), dropout);
        match arch.kind {
            Kind::DeepFm => {
                let mut logit = self.output.forward(h).reshape([batch]);
                logit = logit + fm_term(input.emb, arch.fields, arch.dim);
                if let Some(first) = input.first {
                    logit = logit + first.sum_dim(1).reshape([batch]);
                }
                if let (Some(l), Some(d)) = (&self.dense_linear, input.dense) {
                    logit = logit + l.forward(d).reshape([batch]);
                }
                logit
            }
            Kind::DcnV2 => {
                let c = cross_forward(&self.cross, x);
                self.output
                    .forward(Tensor::cat(vec![c, h], 1))
                    .reshape([batch])
            }
            Kind::Ncf => {
                let z = match arch.neumf {
                    true => Tensor::cat(vec![h, gmf_term(input.emb, arch.dim)], 1),
                    false => h,
                };
                self.output.forward(z).reshape([batch])
            }
        }
    }

    /// The MLP block: Linear → BatchNorm (when on) → ReLU → dropout, per hidden layer.
    ///
    /// # Shapes
    /// - `x`: `[batch, in]`; output `[batch, hidden.last()]` (or `x` without hidden layers)
    fn mlp_forward(&self, mut h: Tensor<2>, dropout: &[Tensor<2>]) -> Tensor<2> {
        for (k, layer) in self.mlp.iter().enumerate() {
            h = layer.forward(h);
            if let Some(bn) = self.norms.get(k) {
                h = bn.forward(h);
            }
            h = relu(h);
            if let Some(mask) = dropout.get(k) {
                h = h * mask.clone();
            }
        }
        h
    }
}

/// The FM second-order term over the field embeddings, `½ Σ_d [(Σ_f e_fd)² − Σ_f e_fd²]`
/// (Rendle 2010; the sum over field pairs of `⟨e_f, e_g⟩`).
///
/// # Shapes
/// - `emb`: `[batch, F·D]`; output `[batch]`
pub fn fm_term(emb: Tensor<2>, fields: usize, dim: usize) -> Tensor<1> {
    let [batch, _] = emb.dims();
    let e = emb.reshape([batch, fields, dim]);
    let sum = e.clone().sum_dim(1);
    let square_of_sum = sum.clone() * sum;
    let sum_of_squares = (e.clone() * e).sum_dim(1);
    (square_of_sum - sum_of_squares)
        .sum_dim(2)
        .reshape([batch])
        .mul_scalar(0.5)
}

/// NeuMF's GMF branch over fields: the element-wise product of field 0's and field 1's rows
/// (the user and item embeddings; NCF over fields shares them with the MLP).
///
/// # Shapes
/// - `emb`: `[batch, F·D]` with F ≥ 2; output `[batch, D]`
pub fn gmf_term(emb: Tensor<2>, dim: usize) -> Tensor<2> {
    let [batch, _] = emb.dims();
    emb.clone().slice([0..batch, 0..dim]) * emb.slice([0..batch, dim..2 * dim])
}

/// The DCN-V2 cross network: `x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l`.
///
/// # Shapes
/// - `x0`: `[batch, n]`; each layer `[n, n]`; output `[batch, n]`
pub fn cross_forward(layers: &[Linear], x0: Tensor<2>) -> Tensor<2> {
    let mut x = x0.clone();
    for l in layers {
        x = x0.clone() * l.forward(x.clone()) + x;
    }
    x
}
