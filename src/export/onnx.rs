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

use onnx_rs::ast::{
    Attribute, AttributeType, DataType, Dimension, Graph, Model, Node, OpType, OperatorSetId,
    StringStringEntry, TensorProto, TensorShape, TensorShapeDimension, TensorTypeProto, TypeProto,
    TypeValue, ValueInfo,
};

use super::scorer::{ScorerJson, mean_row};
use super::{Loaded, read_json, read_safetensors};
use crate::error::{Error, Result};
use crate::ncf::Variant;
use crate::ncf::model::Arch as NcfArch;
use crate::rundir::write_atomic;

/// File name inside the `ncf/` folder.
pub const ONNX_FILE: &str = "model.onnx";
/// The opset the graph is written for (every op used exists unchanged since 13).
pub const OPSET: i64 = 13;

/// An initializer: name, dims, little-endian bytes.
struct Init {
    name: String,
    dims: Vec<i64>,
    dtype: DataType,
    bytes: Vec<u8>,
}

fn f32_init(name: &str, dims: &[usize], v: &[f32]) -> Init {
    Init {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        dtype: DataType::Float,
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// A table with its mean row appended (the cold-start row).
fn with_mean_row(v: &[f32], rows: usize, dim: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity((rows + 1) * dim);
    out.extend_from_slice(v);
    out.extend(mean_row(v, rows, dim));
    out
}

/// One graph node of the ops this exporter uses.
struct Op {
    op: OpType<'static>,
    inputs: Vec<String>,
    output: String,
    attrs: Vec<(&'static str, i64)>,
}

fn op(op: OpType<'static>, inputs: &[&str], output: &str) -> Op {
    Op {
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        output: output.into(),
        attrs: Vec::new(),
    }
}

fn value_info<'a>(name: &'a str, dtype: DataType, dims: Vec<Dimension<'a>>) -> ValueInfo<'a> {
    ValueInfo {
        name,
        r#type: Some(TypeProto {
            value: Some(TypeValue::Tensor(TensorTypeProto {
                elem_type: dtype,
                shape: Some(TensorShape {
                    dim: dims
                        .into_iter()
                        .map(|value| TensorShapeDimension {
                            value,
                            denotation: "",
                        })
                        .collect(),
                }),
            })),
            denotation: "",
        }),
        ..Default::default()
    }
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
    let mut concat = op(OpType::Concat, &["u_emb", "i_emb"], "h0");
    if f > 0 {
        concat.inputs.push("features".into());
    }
    concat.attrs.push(("axis", 1));
    ops.push(concat);
    let mut h = "h0".to_string();
    let mut n_in = 2 * d + f;
    for (k, &width) in arch.hidden.iter().enumerate() {
        let (wn, bn) = (format!("mlp.{k}.weight"), format!("mlp.{k}.bias"));
        inits.push(f32_init(&wn, &[width, n_in], tensor(&wn, &[width, n_in])?));
        inits.push(f32_init(&bn, &[width], tensor(&bn, &[width])?));
        let z = format!("z{k}");
        let mut gemm = op(OpType::Gemm, &[&h, &wn, &bn], &z);
        gemm.attrs.push(("transB", 1));
        ops.push(gemm);
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
        let mut c = op(OpType::Concat, &[&h, "gmf"], "h_gmf");
        c.attrs.push(("axis", 1));
        ops.push(c);
        h = "h_gmf".into();
        n_in += d;
    }
    inits.push(f32_init(
        "output.weight",
        &[1, n_in],
        tensor("output.weight", &[1, n_in])?,
    ));
    inits.push(f32_init("output.bias", &[1], tensor("output.bias", &[1])?));
    let mut out = op(OpType::Gemm, &[&h, "output.weight", "output.bias"], "logit");
    out.attrs.push(("transB", 1));
    ops.push(out);
    ops.push(op(OpType::Sigmoid, &["logit"], "p"));
    inits.push(Init {
        name: "flat".into(),
        dims: vec![1],
        dtype: DataType::Int64,
        bytes: (-1i64).to_le_bytes().to_vec(),
    });
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
    let model = Model {
        ir_version: 7,
        opset_import: vec![OperatorSetId {
            domain: "",
            version: OPSET,
        }],
        producer_name: "clickrec",
        producer_version: env!("CARGO_PKG_VERSION"),
        doc_string: "NCF click probability; see the clickrec README (Exported models)",
        graph: Some(Graph {
            name: "ncf",
            node: ops
                .iter()
                .map(|o| Node {
                    input: o.inputs.iter().map(String::as_str).collect(),
                    output: vec![o.output.as_str()],
                    op_type: o.op.clone(),
                    attribute: o
                        .attrs
                        .iter()
                        .map(|&(name, i)| Attribute {
                            name,
                            r#type: AttributeType::Int,
                            i,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            initializer: inits
                .iter()
                .map(|t| TensorProto::from_raw(&t.name, t.dims.clone(), t.dtype, &t.bytes))
                .collect(),
            input: vec![
                value_info("user", DataType::Int64, vec![Dimension::Param("N")]),
                value_info("item", DataType::Int64, vec![Dimension::Param("N")]),
                value_info(
                    "features",
                    DataType::Float,
                    vec![Dimension::Param("N"), Dimension::Value(f)],
                ),
            ],
            output: vec![value_info(
                "probability",
                DataType::Float,
                vec![Dimension::Param("N")],
            )],
            ..Default::default()
        }),
        metadata_props: vec![
            StringStringEntry {
                key: "features",
                value: &features,
            },
            StringStringEntry {
                key: "cold_rows",
                value: &cold,
            },
        ],
        ..Default::default()
    };
    Ok(onnx_rs::encode(&model))
}

/// Write `dir/model.onnx` for the NCF export in `dir`, atomically.
pub fn write_ncf(dir: &Path) -> Result<()> {
    let bytes = ncf_model_bytes(dir)?;
    write_atomic(&dir.join(ONNX_FILE), &bytes)?;
    Ok(())
}
