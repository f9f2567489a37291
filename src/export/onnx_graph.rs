//! What every ONNX writer of clickrec shares: initializers, nodes with integer attributes, typed
//! graph inputs and outputs, and the encoding of a whole model (opset 13, the `onnx-rs`
//! protobuf types). The writers ([`super::onnx`] for the seed NCF, [`super::onnx_ctr`] for
//! DeepFM, DCNv2 and NCF over fields) only decide which nodes to emit.

use onnx_rs::ast::{
    Attribute, AttributeType, DataType, Dimension, Graph, Model, Node, OpType, OperatorSetId,
    StringStringEntry, TensorProto, TensorShape, TensorShapeDimension, TensorTypeProto, TypeProto,
    TypeValue, ValueInfo,
};

/// The opset the graphs are written for (every op used exists unchanged since 13).
pub const OPSET: i64 = 13;

/// An initializer: name, dims, little-endian bytes.
pub struct Init {
    pub name: String,
    pub dims: Vec<i64>,
    pub dtype: DataType,
    pub bytes: Vec<u8>,
}

/// A float32 initializer of shape `dims` (row-major values).
pub fn f32_init(name: &str, dims: &[usize], v: &[f32]) -> Init {
    Init {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        dtype: DataType::Float,
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// A 1-D int64 initializer (shapes for Reshape, axes for ReduceSum / Unsqueeze).
pub fn i64_init(name: &str, v: &[i64]) -> Init {
    Init {
        name: name.into(),
        dims: vec![v.len() as i64],
        dtype: DataType::Int64,
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// One graph node: an op, its inputs, its one output and integer attributes.
pub struct Op {
    pub op: OpType<'static>,
    pub inputs: Vec<String>,
    pub output: String,
    pub attrs: Vec<(&'static str, i64)>,
}

/// A node without attributes.
pub fn op(op: OpType<'static>, inputs: &[&str], output: &str) -> Op {
    Op {
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        output: output.into(),
        attrs: Vec::new(),
    }
}

impl Op {
    /// The node with an integer attribute added.
    pub fn attr(mut self, name: &'static str, value: i64) -> Op {
        self.attrs.push((name, value));
        self
    }
}

/// One dimension of a graph input or output: named (dynamic, e.g. the batch `N`) or fixed.
pub enum Dim {
    Named(String),
    Fixed(i64),
}

/// A graph input or output: name, element type, shape.
pub struct Io {
    pub name: String,
    pub dtype: DataType,
    pub dims: Vec<Dim>,
}

impl Io {
    pub fn new(name: &str, dtype: DataType, dims: Vec<Dim>) -> Io {
        Io {
            name: name.into(),
            dtype,
            dims,
        }
    }
}

fn value_info(io: &Io) -> ValueInfo<'_> {
    let dim = io
        .dims
        .iter()
        .map(|d| TensorShapeDimension {
            value: match d {
                Dim::Named(n) => Dimension::Param(n),
                Dim::Fixed(v) => Dimension::Value(*v),
            },
            denotation: "",
        })
        .collect();
    ValueInfo {
        name: &io.name,
        r#type: Some(TypeProto {
            value: Some(TypeValue::Tensor(TensorTypeProto {
                elem_type: io.dtype,
                shape: Some(TensorShape { dim }),
            })),
            denotation: "",
        }),
        ..Default::default()
    }
}

/// A whole graph before encoding.
pub struct GraphSpec<'a> {
    pub name: &'a str,
    pub doc: &'a str,
    pub ops: Vec<Op>,
    pub inits: Vec<Init>,
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
    /// The model's `metadata_props` (key, value).
    pub metadata: Vec<(String, String)>,
}

/// The ONNX model bytes (IR version 7, opset [`OPSET`]) of a graph.
pub fn encode(g: &GraphSpec) -> Vec<u8> {
    let model = Model {
        ir_version: 7,
        opset_import: vec![OperatorSetId {
            domain: "",
            version: OPSET,
        }],
        producer_name: "clickrec",
        producer_version: env!("CARGO_PKG_VERSION"),
        doc_string: g.doc,
        graph: Some(Graph {
            name: g.name,
            node: g
                .ops
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
            initializer: g
                .inits
                .iter()
                .map(|t| TensorProto::from_raw(&t.name, t.dims.clone(), t.dtype, &t.bytes))
                .collect(),
            input: g.inputs.iter().map(value_info).collect(),
            output: g.outputs.iter().map(value_info).collect(),
            ..Default::default()
        }),
        metadata_props: g
            .metadata
            .iter()
            .map(|(key, value)| StringStringEntry { key, value })
            .collect(),
        ..Default::default()
    };
    onnx_rs::encode(&model)
}
