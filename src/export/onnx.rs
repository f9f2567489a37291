//! `ncf/model.onnx`: the NCF scorer as an ONNX graph (opset 13), so a service in any language
//! scores with onnxruntime instead of re-implementing the network. Built from the exported
//! files (`ncf.json`, `model.safetensors`, `scorer.json`) with the `onnx-rs` protobuf types.
//!
//! # Graph
//! Inputs (dynamic batch N):
//! - `user` int64 `[N]`: the user's row (its position in `ids.safetensors` `users`); row
//!   `n_users` is the cold-start row (mean trained embedding) for users not seen in training.
//! - `item` int64 `[N]`: likewise, row `n_items` for cold items.
//! - `features` float32 `[N, F]`: the scaled user side features, item side features and row
//!   features, in that order and in `scorer.json`'s order within each (`user_features`,
//!   `item_features`, `row_features`; the model's `features` metadata lists the names). A cold
//!   user or item takes the mean side row, as `clickrec score` does.
//!
//! Output: `probability` float32 `[N]`, the click probability.
//!
//! ```text
//! h = Concat(Gather(user_embedding, user), Gather(item_embedding, item), features)
//! h = Relu(Gemm(h, mlp.k.weight, mlp.k.bias, transB=1))      for each hidden layer
//! h = Concat(h, Gather(gmf_user_embedding, user) * Gather(gmf_item_embedding, item))   (neumf)
//! probability = Reshape(Sigmoid(Gemm(h, output.weight, output.bias, transB=1)), [-1])
//! ```

use std::path::Path;

use onnx_rs::ast::{DataType, OpType};

use super::onnx_graph::{Dim, GraphSpec, Init, Io, Op, encode, f32_init, i64_init, op};
use super::scorer::{ScorerJson, mean_row};
use super::{Loaded, read_json, read_safetensors};
use crate::error::{Error, Result};
use crate::ncf::Variant;
use crate::ncf::model::Arch as NcfArch;
use crate::rundir::write_atomic;

pub use super::onnx_graph::OPSET;

/// File name inside the `ncf/` folder (and inside each CTR model's folder).
pub const ONNX_FILE: &str = "model.onnx";

/// A table with its mean row appended (the cold-start row).
fn with_mean_row(v: &[f32], rows: usize, dim: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity((rows + 1) * dim);
    out.extend_from_slice(v);
    out.extend(mean_row(v, rows, dim));
    out
}

/// The graph's nodes and initializers from an NCF export folder's weights.
fn build(arch: &NcfArch, w: &Loaded, path: &Path) -> Result<(Vec<Op>, Vec<Init>)> {
    let tensor = |name: &str, shape: &[usize]| -> Result<&[f32]> {
        let (s, v) = w.get(path, name)?;
        if s != shape {
            return Err(Error::Export(format!(
                "{}: tensor {name} has shape {s:?}, ncf.json says {shape:?}",
                path.display()
            )));
        }
        Ok(v)
    };
    let d = arch.embedding_dim;
    let (nu, ni) = (arch.n_users, arch.n_items);
    let mut inits = Vec::new();
    let mut ops = Vec::new();
    for (name, n) in [("user_embedding", nu), ("item_embedding", ni)] {
        inits.push(f32_init(
            name,
            &[n + 1, d],
            &with_mean_row(tensor(name, &[n, d])?, n, d),
        ));
    }
    ops.push(op(OpType::Gather, &["user_embedding", "user"], "u_emb"));
    ops.push(op(OpType::Gather, &["item_embedding", "item"], "i_emb"));
    let f = arch.fu + arch.fi + arch.fr;
    let mut concat = op(OpType::Concat, &["u_emb", "i_emb"], "h0").attr("axis", 1);
    if f > 0 {
        concat.inputs.push("features".into());
    }
    ops.push(concat);
    let mut h = "h0".to_string();
    let mut n_in = 2 * d + f;
    for (k, &width) in arch.hidden.iter().enumerate() {
        let (wn, bn) = (format!("mlp.{k}.weight"), format!("mlp.{k}.bias"));
        inits.push(f32_init(&wn, &[width, n_in], tensor(&wn, &[width, n_in])?));
        inits.push(f32_init(&bn, &[width], tensor(&bn, &[width])?));
        let z = format!("z{k}");
        ops.push(op(OpType::Gemm, &[&h, &wn, &bn], &z).attr("transB", 1));
        h = format!("h{}", k + 1);
        ops.push(op(OpType::Relu, &[&z], &h));
        n_in = width;
    }
    if arch.variant == Variant::Neumf {
        for (name, n) in [("gmf_user_embedding", nu), ("gmf_item_embedding", ni)] {
            inits.push(f32_init(
                name,
                &[n + 1, d],
                &with_mean_row(tensor(name, &[n, d])?, n, d),
            ));
        }
        ops.push(op(OpType::Gather, &["gmf_user_embedding", "user"], "g_u"));
        ops.push(op(OpType::Gather, &["gmf_item_embedding", "item"], "g_i"));
        ops.push(op(OpType::Mul, &["g_u", "g_i"], "gmf"));
        ops.push(op(OpType::Concat, &[&h, "gmf"], "h_gmf").attr("axis", 1));
        h = "h_gmf".into();
        n_in += d;
    }
    inits.push(f32_init(
        "output.weight",
        &[1, n_in],
        tensor("output.weight", &[1, n_in])?,
    ));
    inits.push(f32_init("output.bias", &[1], tensor("output.bias", &[1])?));
    ops.push(op(OpType::Gemm, &[&h, "output.weight", "output.bias"], "logit").attr("transB", 1));
    ops.push(op(OpType::Sigmoid, &["logit"], "p"));
    inits.push(i64_init("flat", &[-1]));
    ops.push(op(OpType::Reshape, &["p", "flat"], "probability"));
    Ok((ops, inits))
}

/// The side features' cold rows must be what `clickrec score` uses: the graph takes the side
/// features as input, so this only checks that the tables exist with the right shapes.
fn check_side(arch: &NcfArch, w: &Loaded, path: &Path) -> Result<()> {
    for (name, n, width) in [
        ("user_side", arch.n_users, arch.fu),
        ("item_side", arch.n_items, arch.fi),
    ] {
        if width > 0 {
            let (s, _) = w.get(path, name)?;
            if s != &vec![n, width] {
                return Err(Error::Export(format!(
                    "{}: tensor {name} has shape {s:?}, ncf.json says [{n}, {width}]",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// The ONNX model bytes of the NCF export in `dir`.
pub fn ncf_model_bytes(dir: &Path) -> Result<Vec<u8>> {
    let arch: NcfArch = read_json(&dir.join("ncf.json"))?;
    let sc: ScorerJson = read_json(&dir.join("scorer.json"))?;
    if sc.row_features.width() != arch.fr
        || sc.user_features.width() != arch.fu
        || sc.item_features.width() != arch.fi
    {
        return Err(Error::Export(format!(
            "{}: ncf.json and scorer.json disagree on the feature widths: files from different runs?",
            dir.display()
        )));
    }
    let path = dir.join("model.safetensors");
    let w = read_safetensors(&path)?;
    check_side(&arch, &w, &path)?;
    let (ops, inits) = build(&arch, &w, &path)?;
    let features: Vec<String> = sc
        .user_features
        .names()
        .into_iter()
        .map(|n| format!("user:{n}"))
        .chain(
            sc.item_features
                .names()
                .into_iter()
                .map(|n| format!("item:{n}")),
        )
        .chain(
            sc.row_features
                .names()
                .into_iter()
                .map(|n| format!("row:{n}")),
        )
        .collect();
    let features = features.join(",");
    let cold = format!("{},{}", arch.n_users, arch.n_items);
    let f = (arch.fu + arch.fi + arch.fr) as i64;
    let n = || Dim::Named("N".into());
    Ok(encode(&GraphSpec {
        name: "ncf",
        doc: "NCF click probability; see the clickrec README (Exported models)",
        ops,
        inits,
        inputs: vec![
            Io::new("user", DataType::Int64, vec![n()]),
            Io::new("item", DataType::Int64, vec![n()]),
            Io::new("features", DataType::Float, vec![n(), Dim::Fixed(f)]),
        ],
        outputs: vec![Io::new("probability", DataType::Float, vec![n()])],
        metadata: vec![("features".into(), features), ("cold_rows".into(), cold)],
    }))
}

/// Write `dir/model.onnx` for the NCF export in `dir`, atomically.
pub fn write_ncf(dir: &Path) -> Result<()> {
    let bytes = ncf_model_bytes(dir)?;
    write_atomic(&dir.join(ONNX_FILE), &bytes)?;
    Ok(())
}
