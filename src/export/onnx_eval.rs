//! Tests only: a small reference interpreter of the ONNX ops clickrec's writers emit (Gather,
//! Concat, Gemm, MatMul, Relu, Sigmoid, Add/Sub/Mul/Div/Max with numpy broadcasting, ReduceSum,
//! Unsqueeze, Reshape), and a structural check of a decoded graph. It follows the ONNX operator
//! definitions at opset 13 (ReduceSum and Unsqueeze take their axes as an input), so a graph
//! that evaluates here and equals the Rust scorer is what onnxruntime runs.

use std::collections::{HashMap, HashSet};

use onnx_rs::ast::{DataType, Node, OpType};

/// A value: f32 or i64 data, row-major, with its shape.
#[derive(Debug, Clone)]
pub enum V {
    F(Vec<f32>, Vec<usize>),
    I(Vec<i64>, Vec<usize>),
}

/// The float data and shape of a value (panics on ints: a test failure).
pub fn f(v: &V) -> (&[f32], &[usize]) {
    match v {
        V::F(d, s) => (d, s),
        V::I(..) => panic!("expected a float tensor"),
    }
}

fn ints(v: &V) -> (&[i64], &[usize]) {
    match v {
        V::I(d, s) => (d, s),
        V::F(..) => panic!("expected an int64 tensor"),
    }
}

/// Every node input is a graph input, an initializer or an earlier node's output; no name is
/// defined twice; every graph output is computed. Returns the first violation.
pub fn check_structure(model: &onnx_rs::Model) -> Result<(), String> {
    let g = model.graph.as_ref().ok_or("no graph")?;
    let mut defined: HashSet<&str> = HashSet::new();
    for name in g
        .input
        .iter()
        .map(|i| i.name)
        .chain(g.initializer.iter().map(|t| t.name()))
    {
        if !defined.insert(name) {
            return Err(format!("`{name}` defined twice"));
        }
    }
    for (k, n) in g.node.iter().enumerate() {
        if let Some(missing) = n.input.iter().find(|i| !defined.contains(*i)) {
            return Err(format!(
                "node {k} ({:?}) reads undefined `{missing}`",
                n.op_type
            ));
        }
        for o in &n.output {
            if !defined.insert(o) {
                return Err(format!("node {k} redefines `{o}`"));
            }
        }
    }
    match g.output.iter().find(|o| !defined.contains(o.name)) {
        Some(o) => Err(format!("output `{}` is never computed", o.name)),
        None => Ok(()),
    }
}

fn attr(n: &Node, name: &str) -> Option<i64> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

/// An element-wise binary op with numpy broadcasting.
fn broadcast(a: &V, b: &V, g: impl Fn(f32, f32) -> f32) -> V {
    let ((x, sa), (y, sb)) = (f(a), f(b));
    let rank = sa.len().max(sb.len());
    let pad = |s: &[usize]| {
        let mut p = vec![1; rank - s.len()];
        p.extend_from_slice(s);
        p
    };
    let (pa, pb) = (pad(sa), pad(sb));
    let out: Vec<usize> = pa
        .iter()
        .zip(&pb)
        .map(|(&p, &q)| {
            assert!(
                p == q || p == 1 || q == 1,
                "shapes {sa:?} and {sb:?} do not broadcast"
            );
            p.max(q)
        })
        .collect();
    let (ta, tb, to) = (strides(&pa), strides(&pb), strides(&out));
    let n: usize = out.iter().product();
    let data = (0..n)
        .map(|flat| {
            let (mut ia, mut ib) = (0, 0);
            for k in 0..rank {
                let i = flat / to[k] % out[k];
                ia += if pa[k] == 1 { 0 } else { i * ta[k] };
                ib += if pb[k] == 1 { 0 } else { i * tb[k] };
            }
            g(x[ia], y[ib])
        })
        .collect();
    V::F(data, out)
}

/// Evaluates the decoded graph on `inputs`; returns the first graph output.
pub fn run(model: &onnx_rs::Model, inputs: HashMap<String, V>) -> V {
    let g = model.graph.as_ref().expect("graph");
    let mut env = inputs;
    for t in &g.initializer {
        let dims: Vec<usize> = t.dims().iter().map(|&d| d as usize).collect();
        let v = match t.data_type() {
            DataType::Float => V::F(t.as_f32().expect("f32").into_owned(), dims),
            DataType::Int64 => V::I(t.as_i64().expect("i64").into_owned(), dims),
            other => panic!("initializer type {other:?}"),
        };
        env.insert(t.name().to_string(), v);
    }
    for n in &g.node {
        let arg = |k: usize| env[n.input[k]].clone();
        let out = match &n.op_type {
            OpType::Gather => {
                assert_eq!(attr(n, "axis").unwrap_or(0), 0);
                let (data, idx) = (arg(0), arg(1));
                let ((d, s), (ix, si)) = (f(&data), ints(&idx));
                let w: usize = s[1..].iter().product();
                let mut o = Vec::with_capacity(ix.len() * w);
                for &i in ix {
                    assert!(i >= 0 && (i as usize) < s[0], "index {i} out of {}", s[0]);
                    o.extend_from_slice(&d[i as usize * w..(i as usize + 1) * w]);
                }
                let shape = si.iter().chain(&s[1..]).copied().collect();
                V::F(o, shape)
            }
            OpType::Concat => {
                let axis = attr(n, "axis").expect("axis") as usize;
                let parts: Vec<V> = (0..n.input.len()).map(arg).collect();
                let s0 = f(&parts[0]).1.to_vec();
                let outer: usize = s0[..axis].iter().product();
                let mut shape = s0.clone();
                shape[axis] = parts.iter().map(|p| f(p).1[axis]).sum();
                let mut o = Vec::new();
                for r in 0..outer {
                    for p in &parts {
                        let (d, s) = f(p);
                        assert_eq!(s.len(), s0.len(), "concat of different ranks");
                        let chunk: usize = s[axis..].iter().product();
                        o.extend_from_slice(&d[r * chunk..(r + 1) * chunk]);
                    }
                }
                V::F(o, shape)
            }
            OpType::Gemm | OpType::MatMul => {
                let trans_b = attr(n, "transB").unwrap_or(0) == 1;
                let (a, b) = (arg(0), arg(1));
                let ((a, sa), (b, sb)) = (f(&a), f(&b));
                assert_eq!((sa.len(), sb.len()), (2, 2), "2-D products only");
                let (rows, k) = (sa[0], sa[1]);
                let m = if trans_b { sb[0] } else { sb[1] };
                assert_eq!(if trans_b { sb[1] } else { sb[0] }, k, "inner dims");
                let c = (n.input.len() > 2).then(|| arg(2));
                let mut o = vec![0f32; rows * m];
                for r in 0..rows {
                    for j in 0..m {
                        let wt = |t: usize| if trans_b { b[j * k + t] } else { b[t * m + j] };
                        let dot: f32 = (0..k).map(|t| a[r * k + t] * wt(t)).sum();
                        let bias = c.as_ref().map_or(0.0, |c| {
                            let (c, _) = f(c);
                            if c.len() == 1 { c[0] } else { c[j] }
                        });
                        o[r * m + j] = dot + bias;
                    }
                }
                V::F(o, vec![rows, m])
            }
            OpType::Relu | OpType::Sigmoid => {
                let x = arg(0);
                let (d, s) = f(&x);
                let g: fn(f32) -> f32 = if n.op_type == OpType::Relu {
                    |v| v.max(0.0)
                } else {
                    |v| 1.0 / (1.0 + (-v).exp())
                };
                V::F(d.iter().map(|&v| g(v)).collect(), s.to_vec())
            }
            OpType::Add => broadcast(&arg(0), &arg(1), |p, q| p + q),
            OpType::Sub => broadcast(&arg(0), &arg(1), |p, q| p - q),
            OpType::Mul => broadcast(&arg(0), &arg(1), |p, q| p * q),
            OpType::Div => broadcast(&arg(0), &arg(1), |p, q| p / q),
            OpType::Max => broadcast(&arg(0), &arg(1), f32::max),
            OpType::ReduceSum => {
                let (x, axes) = (arg(0), arg(1));
                let ((d, s), (axes, _)) = (f(&x), ints(&axes));
                assert_eq!(axes.len(), 1, "one axis");
                let axis = axes[0] as usize;
                let (outer, len) = (s[..axis].iter().product::<usize>(), s[axis]);
                let inner: usize = s[axis + 1..].iter().product();
                let mut o = vec![0f32; outer * inner];
                for a in 0..outer {
                    for t in 0..len {
                        for i in 0..inner {
                            o[a * inner + i] += d[(a * len + t) * inner + i];
                        }
                    }
                }
                let mut shape = s.to_vec();
                if attr(n, "keepdims").unwrap_or(1) == 1 {
                    shape[axis] = 1;
                } else {
                    shape.remove(axis);
                }
                V::F(o, shape)
            }
            OpType::Unsqueeze => {
                let (x, axes) = (arg(0), arg(1));
                let ((d, s), (axes, _)) = (f(&x), ints(&axes));
                let mut shape = s.to_vec();
                for &a in axes {
                    shape.insert(a as usize, 1);
                }
                V::F(d.to_vec(), shape)
            }
            OpType::Reshape => {
                let (x, shape) = (arg(0), arg(1));
                let ((d, s), (want, _)) = (f(&x), ints(&shape));
                let mut dims: Vec<usize> = want
                    .iter()
                    .enumerate()
                    .map(|(k, &w)| match w {
                        0 => s[k],
                        -1 => 1,
                        w => w as usize,
                    })
                    .collect();
                if let Some(k) = want.iter().position(|&w| w == -1) {
                    dims[k] = d.len() / dims.iter().product::<usize>();
                }
                assert_eq!(dims.iter().product::<usize>(), d.len(), "reshape size");
                V::F(d.to_vec(), dims)
            }
            other => panic!("op {other:?} is not one the exporters emit"),
        };
        env.insert(n.output[0].to_string(), out);
    }
    env.remove(g.output[0].name).expect("output computed")
}
