//! Export of a trained model to `model.safetensors` + `ncf.json`, and CPU loading from them.
//!
//! # Files
//! - `ncf.json`: the architecture, `{"variant": "mlp"|"neumf", "embedding_dim": D,
//!   "hidden": [h1, ...], "n_users", "n_items", "fu", "fi", "fr"}`.
//! - `model.safetensors`: every tensor `F32`, row-major, Linear weights in PyTorch layout
//!   `[out, in]`:
//!
//! | name | shape | present |
//! |------|-------|---------|
//! | `user_embedding` | `[n_users, D]` | always |
//! | `item_embedding` | `[n_items, D]` | always |
//! | `user_side` | `[n_users, fu]` | fu > 0 |
//! | `item_side` | `[n_items, fi]` | fi > 0 |
//! | `mlp.{k}.weight` | `[hidden[k], in_k]`, `in_0 = 2D + fu + fi + fr`, `in_k = hidden[k-1]` | per hidden layer |
//! | `mlp.{k}.bias` | `[hidden[k]]` | per hidden layer |
//! | `gmf_user_embedding` | `[n_users, D]` | neumf |
//! | `gmf_item_embedding` | `[n_items, D]` | neumf |
//! | `output.weight` | `[1, last]`, `last` = last hidden width (or `in_0` without hidden layers), `+ D` for neumf | always |
//! | `output.bias` | `[1]` | always |
//!
//! # Forward pass (numpy), for user indices `u`, item indices `i`, row features `x` `[n, fr]`
//! (inputs scaled as at training; the lead's `scorer.json` holds the id maps and scaler):
//! ```text
//! h = concatenate([user_embedding[u], item_embedding[i], user_side[u], item_side[i], x], axis=1)
//! for k in range(len(hidden)):
//!     h = maximum(h @ mlp.{k}.weight.T + mlp.{k}.bias, 0)
//! if variant == "neumf":
//!     h = concatenate([h, gmf_user_embedding[u] * gmf_item_embedding[i]], axis=1)
//! logit = (h @ output.weight.T + output.bias)[:, 0]
//! p = 1 / (1 + exp(-logit))
//! ```
//! (absent side tables and `x` with fr = 0 are simply left out of the concatenation; no dropout
//! at scoring time).

use super::model::{Arch, Weights};
use super::{NcfError, NcfTrained, SideTables, Variant};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// File names inside an export directory.
pub const MODEL_FILE: &str = "model.safetensors";
pub const ARCH_FILE: &str = "ncf.json";

/// A named f32 tensor: name, shape, row-major values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// The weights as named tensors in the exported layout, each name prefixed by `prefix`.
pub fn weight_tensors(arch: &Arch, w: &Weights, prefix: &str) -> Vec<NamedTensor> {
    let d = arch.embedding_dim;
    let name = |s: &str| format!("{prefix}{s}");
    let mut out = vec![
        (
            name("user_embedding"),
            vec![arch.n_users, d],
            w.user_embedding.clone(),
        ),
        (
            name("item_embedding"),
            vec![arch.n_items, d],
            w.item_embedding.clone(),
        ),
    ];
    for (k, ((i, o), (wt, b))) in arch.layer_dims().into_iter().zip(&w.mlp).enumerate() {
        out.push((
            name(&format!("mlp.{k}.weight")),
            vec![o, i],
            transpose(wt, i, o),
        ));
        out.push((name(&format!("mlp.{k}.bias")), vec![o], b.clone()));
    }
    if arch.variant == Variant::Neumf {
        out.push((
            name("gmf_user_embedding"),
            vec![arch.n_users, d],
            w.gmf_user.clone(),
        ));
        out.push((
            name("gmf_item_embedding"),
            vec![arch.n_items, d],
            w.gmf_item.clone(),
        ));
    }
    let k = arch.output_in();
    out.push((name("output.weight"), vec![1, k], w.output_weight.clone()));
    out.push((name("output.bias"), vec![1], w.output_bias.clone()));
    out
}

/// Reads the weights back from `st` (names prefixed by `prefix`), checking every shape.
pub fn read_weights(
    st: &SafeTensors<'_>,
    arch: &Arch,
    prefix: &str,
    path: &Path,
) -> Result<Weights, NcfError> {
    let d = arch.embedding_dim;
    let get = |s: &str, shape: &[usize]| read_f32(st, &format!("{prefix}{s}"), shape, path);
    let mut mlp = Vec::with_capacity(arch.hidden.len());
    for (k, (i, o)) in arch.layer_dims().into_iter().enumerate() {
        let wt = get(&format!("mlp.{k}.weight"), &[o, i])?;
        mlp.push((transpose(&wt, o, i), get(&format!("mlp.{k}.bias"), &[o])?));
    }
    let (gmf_user, gmf_item) = match arch.variant {
        Variant::Mlp => (Vec::new(), Vec::new()),
        Variant::Neumf => (
            get("gmf_user_embedding", &[arch.n_users, d])?,
            get("gmf_item_embedding", &[arch.n_items, d])?,
        ),
    };
    Ok(Weights {
        user_embedding: get("user_embedding", &[arch.n_users, d])?,
        item_embedding: get("item_embedding", &[arch.n_items, d])?,
        gmf_user,
        gmf_item,
        mlp,
        output_weight: get("output.weight", &[1, arch.output_in()])?,
        output_bias: get("output.bias", &[1])?,
    })
}

/// One F32 tensor of the given shape.
pub fn read_f32(
    st: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<Vec<f32>, NcfError> {
    let t = st
        .tensor(name)
        .map_err(|e| NcfError::bad_file(path, format!("tensor `{name}`: {e}")))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(NcfError::bad_file(
            path,
            format!(
                "tensor `{name}` is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    Ok(t.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Serialises named f32 tensors (plus raw byte tensors) with string metadata.
pub fn serialize(
    tensors: &[NamedTensor],
    raw: &[(String, &[u8])],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, String> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len() + raw.len());
    for ((name, shape, _), b) in tensors.iter().zip(&bytes) {
        let view =
            TensorView::new(Dtype::F32, shape.clone(), b).map_err(|e| format!("{name}: {e}"))?;
        views.push((name.clone(), view));
    }
    for (name, b) in raw {
        let view =
            TensorView::new(Dtype::U8, vec![b.len()], b).map_err(|e| format!("{name}: {e}"))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, metadata).map_err(|e| e.to_string())
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NcfError> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| NcfError::io("creating", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| NcfError::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| NcfError::io("syncing", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| NcfError::io("renaming into", path, e))
}

fn read_file(path: &Path) -> Result<Vec<u8>, NcfError> {
    std::fs::read(path).map_err(|e| NcfError::io("reading", path, e))
}

impl NcfTrained {
    /// Writes `model.safetensors` and `ncf.json` into `dir` (created if missing).
    pub fn export(&self, dir: &Path) -> Result<(), NcfError> {
        std::fs::create_dir_all(dir).map_err(|e| NcfError::io("creating", dir, e))?;
        let arch = self.arch();
        let side = self.side();
        let mut tensors = weight_tensors(arch, self.weights(), "");
        if side.fu > 0 {
            tensors.push((
                "user_side".into(),
                vec![side.n_users, side.fu],
                side.user_side.clone(),
            ));
        }
        if side.fi > 0 {
            tensors.push((
                "item_side".into(),
                vec![side.n_items, side.fi],
                side.item_side.clone(),
            ));
        }
        let path = dir.join(MODEL_FILE);
        let meta = HashMap::from([("format".to_string(), "clickrec-ncf-v1".to_string())]);
        let bytes =
            serialize(&tensors, &[], Some(meta)).map_err(|e| NcfError::bad_file(&path, e))?;
        write_atomic(&path, &bytes)?;
        let json_path = dir.join(ARCH_FILE);
        let json = serde_json::to_vec_pretty(arch)
            .map_err(|e| NcfError::bad_file(&json_path, e.to_string()))?;
        write_atomic(&json_path, &json)
    }

    /// Loads a model exported by [`Self::export`] for CPU scoring (no epoch reports).
    pub fn load(dir: &Path) -> Result<NcfTrained, NcfError> {
        let json_path = dir.join(ARCH_FILE);
        let arch: Arch = serde_json::from_slice(&read_file(&json_path)?)
            .map_err(|e| NcfError::bad_file(&json_path, e.to_string()))?;
        if arch.embedding_dim == 0 || arch.hidden.contains(&0) {
            return Err(NcfError::bad_file(
                &json_path,
                "embedding_dim and hidden widths must be >= 1",
            ));
        }
        let path = dir.join(MODEL_FILE);
        let bytes = read_file(&path)?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| NcfError::bad_file(&path, e.to_string()))?;
        let weights = read_weights(&st, &arch, "", &path)?;
        let table = |name: &str, rows: usize, cols: usize| match cols {
            0 => Ok(Vec::new()),
            _ => read_f32(&st, name, &[rows, cols], &path),
        };
        let side = SideTables {
            n_users: arch.n_users,
            n_items: arch.n_items,
            user_side: table("user_side", arch.n_users, arch.fu)?,
            fu: arch.fu,
            item_side: table("item_side", arch.n_items, arch.fi)?,
            fi: arch.fi,
        };
        NcfTrained::new(arch, weights, side, Vec::new())
    }
}
