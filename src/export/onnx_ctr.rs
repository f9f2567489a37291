//! `<run>/<model>/model.onnx` for the CTR models (DeepFM, DCNv2, NCF over fields): the network
//! of an export folder (`model.json` + `model.safetensors`) as an ONNX graph (opset 13), so a
//! service in any language scores with onnxruntime. The text → table-row lookup stays outside
//! the graph: the caller maps each value with `model.json` (vocabulary, hashing, `by_id`) exactly
//! as `clickrec score` does.
//!
//! # Inputs (dynamic batch N; fields in `model.json` order)
//! - each categorical field: `<field name>` int64 `[N]`, the value's table row. Row 0 is the
//!   field's OOV row: a value outside `vocabulary` (`vocabulary[k]` has row k + 1), or a side-table
//!   id missing from `by_id`; a hashed field's row is 1 + FNV-1a-64(text) mod `hash_buckets`.
//! - each sequence field: `<field name>` int64 `[N, L]`, the rows of a cell's values padded to a
//!   common length L (pad with 0), and `<field name>_mask` float32 `[N, L]`, 1 for a value and 0
//!   for padding. The field's embedding is the mean of its values' rows,
//!   `Σ mask·row / max(Σ mask, 1)`: an empty cell (all mask 0) embeds as zeros, as in training.
//! - `dense` float32 `[N, dense]` when the model has numeric features: min-max scaled with
//!   `model.json`'s ranges (not clipped).
//!
//! Output: `probability` float32 `[N]`. The metadata (`fields`, `inputs`, `oov`, `dense`, `model`,
//! `threshold`) repeats the field order, the input names and the OOV convention.
//!
//! # Graph
//! ```text
//! x = Concat(e_0 .. e_{F-1}[, dense])                   e_j: Gather (mean-pooled for sequences)
//! h = Relu(Gemm(h, W'_k, b'_k))    per hidden layer; batch norm folded into the Gemm:
//!                                  W'_k = W_k·s, b'_k = (b_k − μ)·s + β, s = γ / sqrt(var + 1e-5)
//! DeepFM: logit = Gemm(h, output) + ½ Σ_d[(Σ_f e)² − Σ_f e²] + Σ_f first_f + dense·dense_linear
//! DCNv2:  c_{l+1} = x ⊙ Gemm(c_l, cross.l) + c_l;  logit = Gemm(Concat(c, h), output)
//! NCF:    logit = Gemm(h, output), or Gemm(Concat(h, e_0 ⊙ e_1), output) with NeuMF
//! probability = Reshape(Sigmoid(calibration[0] · logit + calibration[1]), [-1])
//! ```
//! (`calibration`: the Platt scaling fit on the validation part; an export without that tensor
//! has none.)

use std::collections::HashSet;
use std::path::Path;

use onnx_rs::ast::{DataType, OpType};

use super::onnx::ONNX_FILE;
use super::onnx_graph::{Dim, GraphSpec, Init, Io, Op, encode, f32_init, i64_init, op};
use super::{Loaded, read_json, read_safetensors};
use crate::ctr::Kind;
use crate::ctr::fields::FieldKind;
use crate::ctr::norm::EPSILON;
use crate::error::{Error, Result};
use crate::model::ctr::{FORMAT, ModelJson};
use crate::rundir::write_atomic;

/// Suffix of a sequence field's mask input.
pub const MASK_SUFFIX: &str = "_mask";
/// Name of the numeric-features input.
pub const DENSE_INPUT: &str = "dense";

/// What the metadata says about row 0 (repeated in the README).
const OOV_NOTE: &str = "row 0 of every field's table is its out-of-vocabulary row: a value not in \
model.json's vocabulary (vocabulary[k] has row k+1) or a side-table id missing from by_id; hashed \
fields: row = 1 + FNV-1a-64(text) mod hash_buckets. Sequence fields: pad <name> with 0 and set \
<name>_mask to 0 there; an empty cell (mask all 0) embeds as zeros";

/// The nodes and initializers under construction, with the export's weights.
struct Builder<'a> {
    w: &'a Loaded,
    path: &'a Path,
    ops: Vec<Op>,
    inits: Vec<Init>,
}

impl Builder<'_> {
    /// A weight of the export with the shape `model.json` implies, or an error naming the file.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let (s, v) = self.w.get(self.path, name)?;
        if s != shape {
            return Err(Error::Export(format!(
                "{}: tensor {name} has shape {s:?}, model.json implies {shape:?}",
                self.path.display()
            )));
        }
        Ok(v)
    }

    /// Copies a weight into the graph under its own name.
    fn weight(&mut self, name: &str, shape: &[usize]) -> Result<String> {
        let v = self.tensor(name, shape)?.to_vec();
        self.inits.push(f32_init(name, shape, &v));
        Ok(name.to_string())
    }

    /// Adds a node; returns its output's name.
    fn node(&mut self, o: Op) -> String {
        let out = o.output.clone();
        self.ops.push(o);
        out
    }

    /// `op(inputs) → output`.
    fn add(&mut self, kind: OpType<'static>, inputs: &[&str], output: &str) -> String {
        self.node(op(kind, inputs, output))
    }

    /// `ReduceSum(x, axes=[axis])` (axes as an input since opset 13).
    fn reduce_sum(&mut self, x: &str, axis: i64, keepdims: bool, output: &str) -> String {
        let axes = format!("const/axes{axis}");
        self.node(op(OpType::ReduceSum, &[x, &axes], output).attr("keepdims", i64::from(keepdims)))
    }

    /// The `[N, width]` rows of `table` (an initializer `[rows, width]`) at `input`: a Gather,
    /// or for a sequence field (`seq`: its `[N, L, 1]` mask and `[N, 1]` divisor) the masked mean
    /// of the `[N, L, width]` gathered rows.
    fn pool(&mut self, table: &str, input: &str, seq: Option<(&str, &str)>, out: &str) -> String {
        let Some((mask3, den)) = seq else {
            return self.add(OpType::Gather, &[table, input], out);
        };
        let g = self.add(OpType::Gather, &[table, input], &format!("{out}/rows"));
        let m = self.add(OpType::Mul, &[&g, mask3], &format!("{out}/masked"));
        let s = self.reduce_sum(&m, 1, false, &format!("{out}/sum"));
        self.add(OpType::Div, &[&s, den], out)
    }
}

/// Borrowed names, for a node's inputs.
fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Batch norm of hidden layer `k` folded into its `[in, out]` weight and bias (f64 arithmetic).
fn fold_norm(b: &Builder, k: usize, weight: &mut [f32], bias: &mut [f32]) -> Result<()> {
    let c = bias.len();
    let get = |what: &str| b.tensor(&format!("norm.{k}.{what}"), &[c]);
    let (gamma, beta, mean, var) = (
        get("gamma")?,
        get("beta")?,
        get("running_mean")?,
        get("running_var")?,
    );
    for o in 0..c {
        let s = f64::from(gamma[o]) / (f64::from(var[o]) + EPSILON).sqrt();
        for row in weight.chunks_exact_mut(c) {
            row[o] = (f64::from(row[o]) * s) as f32;
        }
        bias[o] = ((f64::from(bias[o]) - f64::from(mean[o])) * s + f64::from(beta[o])) as f32;
    }
    Ok(())
}

/// The graph of the export described by `m`: nodes, initializers, inputs.
fn build(m: &ModelJson, b: &mut Builder) -> Result<Vec<Io>> {
    let a = &m.arch;
    let (f, d) = (a.fields, a.dim);
    let n = || Dim::Named("N".into());
    let mut inputs = Vec::new();
    b.inits.push(i64_init("const/axes1", &[1]));
    b.inits.push(i64_init("const/axes2", &[2]));
    b.inits.push(f32_init("const/one", &[1], &[1.0]));
    let (mut emb, mut first) = (Vec::new(), Vec::new());
    for (j, field) in m.fields.iter().enumerate() {
        let name = field.name.as_str();
        let seq = match field.kind {
            FieldKind::Categorical => {
                inputs.push(Io::new(name, DataType::Int64, vec![n()]));
                None
            }
            FieldKind::Sequence => {
                let len = || Dim::Named(format!("L_{name}"));
                let mask = format!("{name}{MASK_SUFFIX}");
                inputs.push(Io::new(name, DataType::Int64, vec![n(), len()]));
                inputs.push(Io::new(&mask, DataType::Float, vec![n(), len()]));
                let m3 = format!("f{j}/mask3");
                b.node(op(OpType::Unsqueeze, &[&mask, "const/axes2"], &m3));
                let count = b.reduce_sum(&mask, 1, true, &format!("f{j}/count"));
                let den = b.add(OpType::Max, &[&count, "const/one"], &format!("f{j}/den"));
                Some((m3, den))
            }
        };
        let seq = seq.as_ref().map(|(m3, den)| (m3.as_str(), den.as_str()));
        let table = b.weight(&format!("field.{j}.embedding"), &[field.rows, d])?;
        emb.push(b.pool(&table, name, seq, &format!("f{j}/emb")));
        if a.kind == Kind::DeepFm {
            let table = b.weight(&format!("field.{j}.first"), &[field.rows, 1])?;
            first.push(b.pool(&table, name, seq, &format!("f{j}/first")));
        }
    }
    let x_emb = b.node(op(OpType::Concat, &refs(&emb), "x_emb").attr("axis", 1));
    let x = match a.dense {
        0 => x_emb.clone(),
        w => {
            inputs.push(Io::new(
                DENSE_INPUT,
                DataType::Float,
                vec![n(), Dim::Fixed(w as i64)],
            ));
            b.node(op(OpType::Concat, &[&x_emb, DENSE_INPUT], "x").attr("axis", 1))
        }
    };
    let mut h = x.clone();
    let mut width = a.input_dim();
    for (k, &out) in a.hidden.iter().enumerate() {
        let mut wk = b
            .tensor(&format!("mlp.{k}.weight"), &[width, out])?
            .to_vec();
        let mut bk = b.tensor(&format!("mlp.{k}.bias"), &[out])?.to_vec();
        if a.batch_norm {
            fold_norm(b, k, &mut wk, &mut bk)?;
        }
        let (wn, bn) = (format!("mlp.{k}.weight"), format!("mlp.{k}.bias"));
        b.inits.push(f32_init(&wn, &[width, out], &wk));
        b.inits.push(f32_init(&bn, &[out], &bk));
        let z = b.add(OpType::Gemm, &[&h, &wn, &bn], &format!("mlp{k}/z"));
        h = b.add(OpType::Relu, &[&z], &format!("mlp{k}/h"));
        width = out;
    }
    let z = match a.kind {
        Kind::DeepFm => h,
        Kind::DcnV2 => {
            let n_in = a.input_dim();
            let mut c = x.clone();
            for k in 0..a.cross_layers {
                let wn = b.weight(&format!("cross.{k}.weight"), &[n_in, n_in])?;
                let bn = b.weight(&format!("cross.{k}.bias"), &[n_in])?;
                let l = b.add(OpType::Gemm, &[&c, &wn, &bn], &format!("cross{k}/l"));
                let xl = b.add(OpType::Mul, &[&x, &l], &format!("cross{k}/xl"));
                c = b.add(OpType::Add, &[&xl, &c], &format!("cross{k}/c"));
            }
            width += n_in;
            b.node(op(OpType::Concat, &[&c, &h], "cross_mlp").attr("axis", 1))
        }
        Kind::Ncf if a.neumf => {
            let g = b.add(OpType::Mul, &[&emb[0], &emb[1]], "gmf");
            width += d;
            b.node(op(OpType::Concat, &[&h, &g], "mlp_gmf").attr("axis", 1))
        }
        Kind::Ncf => h,
    };
    let ow = b.weight("output.weight", &[width, 1])?;
    let ob = b.weight("output.bias", &[1])?;
    let mut logit = b.add(OpType::Gemm, &[&z, &ow, &ob], "logit/out");
    if a.kind == Kind::DeepFm {
        b.inits
            .push(i64_init("const/fm_shape", &[-1, f as i64, d as i64]));
        b.inits.push(f32_init("const/half", &[1], &[0.5]));
        let e3 = b.add(OpType::Reshape, &[&x_emb, "const/fm_shape"], "fm/e3");
        let s = b.reduce_sum(&e3, 1, false, "fm/sum");
        let ss = b.add(OpType::Mul, &[&s, &s], "fm/square_of_sum");
        let e2 = b.add(OpType::Mul, &[&e3, &e3], "fm/squares");
        let q = b.reduce_sum(&e2, 1, false, "fm/sum_of_squares");
        let diff = b.add(OpType::Sub, &[&ss, &q], "fm/diff");
        let pairs = b.reduce_sum(&diff, 1, true, "fm/pairs");
        let fm = b.add(OpType::Mul, &[&pairs, "const/half"], "fm/term");
        logit = b.add(OpType::Add, &[&logit, &fm], "logit/fm");
        let all = b.node(op(OpType::Concat, &refs(&first), "first/all").attr("axis", 1));
        let s1 = b.reduce_sum(&all, 1, true, "first/sum");
        logit = b.add(OpType::Add, &[&logit, &s1], "logit/first");
        if a.dense > 0 {
            let dw = b.weight("dense_linear.weight", &[a.dense, 1])?;
            let dl = b.add(OpType::MatMul, &[DENSE_INPUT, &dw], "dense/linear");
            logit = b.add(OpType::Add, &[&logit, &dl], "logit/dense");
        }
    }
    // The Platt scaling fit on validation (absent from exports before it: identity).
    if b.w.tensors.contains_key("calibration") {
        let c = b.tensor("calibration", &[2])?.to_vec();
        b.inits.push(f32_init("calibration/scale", &[1], &c[..1]));
        b.inits.push(f32_init("calibration/shift", &[1], &c[1..]));
        let scaled = b.add(OpType::Mul, &[&logit, "calibration/scale"], "logit/scaled");
        logit = b.add(
            OpType::Add,
            &[&scaled, "calibration/shift"],
            "logit/calibrated",
        );
    }
    let p = b.add(OpType::Sigmoid, &[&logit], "p");
    b.inits.push(i64_init("const/flat", &[-1]));
    b.add(OpType::Reshape, &[&p, "const/flat"], "probability");
    Ok(inputs)
}

/// Refuses what the graph cannot represent: another `model.json` format, fields that disagree
/// with the architecture, a sequence field before a categorical one (the trainer's table order),
/// input names that repeat or clash with a name inside the graph.
fn check(m: &ModelJson, json: &Path) -> Result<()> {
    let fail = |why: String| Err(Error::Export(format!("{}: {why}", json.display())));
    if m.format != FORMAT {
        return fail(format!(
            "format {:?}, this version reads {FORMAT:?}; re-export with this version",
            m.format
        ));
    }
    let a = &m.arch;
    if m.fields.len() != a.fields || m.dense.numeric.len() != a.dense {
        return fail(format!(
            "{} fields and {} numeric features, the architecture has {} and {}",
            m.fields.len(),
            m.dense.numeric.len(),
            a.fields,
            a.dense
        ));
    }
    if a.fields == 0 || (a.kind == Kind::Ncf && a.neumf && a.fields < 2) {
        return fail("too few fields for the architecture".into());
    }
    let first_seq = m.fields.iter().position(|f| f.kind == FieldKind::Sequence);
    if first_seq.is_some_and(|s| m.fields[s..].iter().any(|f| f.kind != FieldKind::Sequence)) {
        return fail("a sequence field comes before a categorical one".into());
    }
    Ok(())
}

/// Every graph input name distinct and unused inside the graph (a field called `x` or
/// `mlp.0.weight` would otherwise alias a node's output or a weight).
fn check_names(inputs: &[Io], b: &Builder, json: &Path) -> Result<()> {
    let inner: HashSet<&str> = b
        .ops
        .iter()
        .map(|o| o.output.as_str())
        .chain(b.inits.iter().map(|i| i.name.as_str()))
        .collect();
    let mut seen = HashSet::new();
    for io in inputs {
        if !seen.insert(io.name.as_str()) || inner.contains(io.name.as_str()) {
            return Err(Error::Export(format!(
                "{}: the ONNX input name `{}` is taken (a field or `{DENSE_INPUT}` twice, or a \
                 sequence field's `{MASK_SUFFIX}` input); rename the column to export ONNX",
                json.display(),
                io.name
            )));
        }
    }
    Ok(())
}

/// The ONNX model bytes of the CTR export in `dir` (`model.json` + `model.safetensors`).
pub fn ctr_model_bytes(dir: &Path) -> Result<Vec<u8>> {
    let json = dir.join("model.json");
    let m: ModelJson = read_json(&json)?;
    check(&m, &json)?;
    let path = dir.join("model.safetensors");
    let w = read_safetensors(&path)?;
    let mut b = Builder {
        w: &w,
        path: &path,
        ops: Vec::new(),
        inits: Vec::new(),
    };
    let inputs = build(&m, &mut b)?;
    check_names(&inputs, &b, &json)?;
    let fields: Vec<serde_json::Value> = m
        .fields
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "kind": f.kind, "source": f.source, "rows": f.rows}))
        .collect();
    let input_names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    let mut metadata = vec![
        ("model".to_string(), m.model.clone()),
        ("fields".into(), serde_json::Value::from(fields).to_string()),
        ("inputs".into(), input_names.join(",")),
        (
            "dense".into(),
            serde_json::json!(m.dense.numeric).to_string(),
        ),
        ("oov".into(), OOV_NOTE.into()),
    ];
    if let Some(t) = m.threshold {
        metadata.push(("threshold".into(), t.to_string()));
    }
    let n = Dim::Named("N".into());
    Ok(encode(&GraphSpec {
        name: &m.model,
        doc: "CTR click probability; see the clickrec README (ONNX)",
        ops: b.ops,
        inits: b.inits,
        inputs,
        outputs: vec![Io::new("probability", DataType::Float, vec![n])],
        metadata,
    }))
}

/// Write `dir/model.onnx` for the CTR export in `dir`, atomically.
pub fn write_ctr(dir: &Path) -> Result<()> {
    let bytes = ctr_model_bytes(dir)?;
    write_atomic(&dir.join(ONNX_FILE), &bytes)?;
    Ok(())
}
