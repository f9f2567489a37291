//! A trained (or loaded) NCF model: CPU scoring on Burn's flex backend.

use super::backend::inference_device;
use super::data::{check_indices, check_side};
use super::model::{Arch, BatchInput, NcfNet, Weights};
use super::{EpochReport, NcfError, SideTables};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

/// Rows scored per forward pass in [`NcfTrained::predict`].
pub const PREDICT_BATCH: usize = 65_536;

/// The trained model: architecture, weights, the constant side tables and the epoch reports.
#[derive(Debug, Clone)]
pub struct NcfTrained {
    arch: Arch,
    weights: Weights,
    side: SideTables,
    reports: Vec<EpochReport>,
    device: Device,
    net: NcfNet,
    tables: Tables,
    user_side: Option<Tensor<2>>,
    item_side: Option<Tensor<2>>,
}

/// The embedding tables as (non-trainable) tensors, `[n_users, D]` / `[n_items, D]`.
#[derive(Debug, Clone)]
struct Tables {
    user: Tensor<2>,
    item: Tensor<2>,
    gmf: Option<(Tensor<2>, Tensor<2>)>,
}

impl Tables {
    fn new(arch: &Arch, w: &Weights, device: &Device) -> Self {
        let d = arch.embedding_dim;
        let up = |v: &[f32], n: usize| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), [n, d]), device)
        };
        let gmf = (!w.gmf_user.is_empty())
            .then(|| (up(&w.gmf_user, arch.n_users), up(&w.gmf_item, arch.n_items)));
        Self {
            user: up(&w.user_embedding, arch.n_users),
            item: up(&w.item_embedding, arch.n_items),
            gmf,
        }
    }

    /// The network input of a batch: embedding rows, then `dense` (side and row features).
    fn input(
        &self,
        users: &Tensor<1, Int>,
        items: &Tensor<1, Int>,
        dense: Option<Tensor<2>>,
    ) -> BatchInput {
        let mut parts = vec![
            self.user.clone().select(0, users.clone()),
            self.item.clone().select(0, items.clone()),
        ];
        parts.extend(dense);
        BatchInput {
            x: Tensor::cat(parts, 1),
            gmf: self.gmf.as_ref().map(|(gu, gi)| {
                (
                    gu.clone().select(0, users.clone()),
                    gi.clone().select(0, items.clone()),
                )
            }),
        }
    }
}

/// Uploads a `[rows, cols]` table, or None when it has no columns.
pub(crate) fn side_tensor(
    values: &[f32],
    rows: usize,
    cols: usize,
    device: &Device,
) -> Option<Tensor<2>> {
    (cols > 0)
        .then(|| Tensor::<2>::from_data(TensorData::new(values.to_vec(), [rows, cols]), device))
}

/// `[batch, fu + fi + fr]` = `[user_side[users], item_side[items], rows]`, or None if empty.
pub(crate) fn dense_input(
    user_side: &Option<Tensor<2>>,
    item_side: &Option<Tensor<2>>,
    users: &Tensor<1, Int>,
    items: &Tensor<1, Int>,
    rows: Option<Tensor<2>>,
) -> Option<Tensor<2>> {
    let mut parts = Vec::with_capacity(3);
    if let Some(t) = user_side {
        parts.push(t.clone().select(0, users.clone()));
    }
    if let Some(t) = item_side {
        parts.push(t.clone().select(0, items.clone()));
    }
    parts.extend(rows);
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Tensor::cat(parts, 1)),
    }
}

pub(crate) fn index_tensor(idx: &[u32], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i32> = idx.iter().map(|&i| i as i32).collect();
    Tensor::<1, Int>::from_data(TensorData::new(v, [idx.len()]), device)
}

impl NcfTrained {
    /// Wraps weights for CPU scoring. Checks that weights and side tables fit `arch`.
    pub fn new(
        arch: Arch,
        weights: Weights,
        side: SideTables,
        reports: Vec<EpochReport>,
    ) -> Result<Self, NcfError> {
        check_side(&side)?;
        check_weights(&arch, &weights)?;
        if (side.n_users, side.n_items, side.fu, side.fi)
            != (arch.n_users, arch.n_items, arch.fu, arch.fi)
        {
            return Err(NcfError::InvalidInput {
                reason: format!(
                    "side tables (n_users {}, n_items {}, fu {}, fi {}) do not fit the model \
                     (n_users {}, n_items {}, fu {}, fi {})",
                    side.n_users,
                    side.n_items,
                    side.fu,
                    side.fi,
                    arch.n_users,
                    arch.n_items,
                    arch.fu,
                    arch.fi
                ),
            });
        }
        let device = inference_device();
        let net = NcfNet::from_weights(&arch, &weights, &device);
        let tables = Tables::new(&arch, &weights, &device);
        let user_side = side_tensor(&side.user_side, side.n_users, side.fu, &device);
        let item_side = side_tensor(&side.item_side, side.n_items, side.fi, &device);
        Ok(Self {
            arch,
            weights,
            side,
            reports,
            device,
            net,
            tables,
            user_side,
            item_side,
        })
    }

    /// Architecture (the content of `ncf.json`).
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// The weights (Burn layout, see [`Weights`]).
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The side tables the model was trained with.
    pub fn side(&self) -> &SideTables {
        &self.side
    }

    /// One report per trained epoch (empty for a loaded model).
    pub fn reports(&self) -> &[EpochReport] {
        &self.reports
    }

    /// Click probabilities of `(users[k], items[k], row_features[k*fr..(k+1)*fr])`,
    /// scored in batches of [`PREDICT_BATCH`].
    pub fn predict(
        &self,
        users: &[u32],
        items: &[u32],
        row_features: &[f32],
    ) -> Result<Vec<f32>, NcfError> {
        let n = users.len();
        let fr = self.arch.fr;
        if items.len() != n || row_features.len() != n * fr {
            return Err(NcfError::LengthMismatch {
                what: format!("predict: items and row_features ({fr} per row) for {n} users"),
                expected: n * (1 + fr),
                got: items.len() + row_features.len(),
            });
        }
        check_indices(users, self.arch.n_users, "user index")?;
        check_indices(items, self.arch.n_items, "item index")?;
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(PREDICT_BATCH) {
            let end = (start + PREDICT_BATCH).min(n);
            let rows = (fr > 0).then(|| {
                Tensor::<2>::from_data(
                    TensorData::new(
                        row_features[start * fr..end * fr].to_vec(),
                        [end - start, fr],
                    ),
                    &self.device,
                )
            });
            out.extend(self.score_batch(&users[start..end], &items[start..end], rows)?);
        }
        Ok(out)
    }

    /// Probabilities of every item for `user` into `out` (length `n_items`), for full-ranking
    /// evaluation in implicit mode. Needs a model without per-row features (`fr == 0`).
    pub fn score_all_items(&self, user: u32, out: &mut [f32]) -> Result<(), NcfError> {
        if self.arch.fr != 0 {
            return Err(NcfError::InvalidInput {
                reason: format!(
                    "score_all_items needs a model without per-row features; this one has fr = {}",
                    self.arch.fr
                ),
            });
        }
        if out.len() != self.arch.n_items {
            return Err(NcfError::LengthMismatch {
                what: "score_all_items output".into(),
                expected: self.arch.n_items,
                got: out.len(),
            });
        }
        check_indices(&[user], self.arch.n_users, "user index")?;
        let users = vec![user; self.arch.n_items];
        let items: Vec<u32> = (0..self.arch.n_items as u32).collect();
        let scores = self.score_batch(&users, &items, None)?;
        out.copy_from_slice(&scores);
        Ok(())
    }

    fn score_batch(
        &self,
        users: &[u32],
        items: &[u32],
        rows: Option<Tensor<2>>,
    ) -> Result<Vec<f32>, NcfError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let u = index_tensor(users, &self.device);
        let i = index_tensor(items, &self.device);
        let dense = dense_input(&self.user_side, &self.item_side, &u, &i, rows);
        let input = self.tables.input(&u, &i, dense);
        let p = sigmoid(self.net.forward(input, &[]));
        p.into_data()
            .try_into_vec::<f32>()
            .map_err(|e| NcfError::Tensor(format!("reading predictions: {e:?}")))
    }
}

/// Checks every weight vector's length against `arch`.
pub(crate) fn check_weights(arch: &Arch, w: &Weights) -> Result<(), NcfError> {
    let d = arch.embedding_dim;
    let gmf = matches!(arch.variant, super::Variant::Neumf);
    let mut checks = vec![
        (
            "user_embedding".to_string(),
            w.user_embedding.len(),
            arch.n_users * d,
        ),
        (
            "item_embedding".to_string(),
            w.item_embedding.len(),
            arch.n_items * d,
        ),
        (
            "gmf_user_embedding".to_string(),
            w.gmf_user.len(),
            if gmf { arch.n_users * d } else { 0 },
        ),
        (
            "gmf_item_embedding".to_string(),
            w.gmf_item.len(),
            if gmf { arch.n_items * d } else { 0 },
        ),
        ("mlp layers".to_string(), w.mlp.len(), arch.hidden.len()),
        (
            "output.weight".to_string(),
            w.output_weight.len(),
            arch.output_in(),
        ),
        ("output.bias".to_string(), w.output_bias.len(), 1),
    ];
    for (k, ((i, o), (wt, b))) in arch.layer_dims().into_iter().zip(&w.mlp).enumerate() {
        checks.push((format!("mlp.{k}.weight"), wt.len(), i * o));
        checks.push((format!("mlp.{k}.bias"), b.len(), o));
    }
    for (what, got, expected) in checks {
        if got != expected {
            return Err(NcfError::LengthMismatch {
                what: format!("weights {what}"),
                expected,
                got,
            });
        }
    }
    Ok(())
}
