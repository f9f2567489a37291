//! `ncf/model.onnx` decoded and evaluated by the reference interpreter ([`crate::export::onnx_eval`]), against the
//! plain-Rust scorer, on a tiny hand-made NeuMF export with side and row features.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ncf::Scorer;
use crate::data::IdMap;
use crate::export::ids::{ModelIds, write_ids};
use crate::export::onnx::{ONNX_FILE, OPSET, write_ncf};
use crate::export::onnx_eval::{V, check_structure, f, run};
use crate::export::scorer::{FORMAT, ScorerJson, mean_row};
use crate::export::{InputColumns, Tensor, write_json, write_safetensors};
use crate::features::{FeatureSpec, Range};

const D: usize = 3;
const HIDDEN: [usize; 2] = [5, 4];
const NU: usize = 3;
const NI: usize = 4;
const FU: usize = 2;
const FI: usize = 1;
const FR: usize = 2;

fn spec(names: &[&str]) -> FeatureSpec {
    FeatureSpec {
        numeric: names.iter().map(|s| s.to_string()).collect(),
        ranges: names.iter().map(|_| Range { min: 0.0, max: 1.0 }).collect(),
        categorical: Vec::new(),
        levels: Vec::new(),
    }
}

/// A NeuMF export folder with random weights; returns the side tables.
pub(super) fn tiny_export(dir: &Path) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = vec![
        ("user_embedding".into(), vec![NU, D], rand(NU * D)),
        ("item_embedding".into(), vec![NI, D], rand(NI * D)),
        ("gmf_user_embedding".into(), vec![NU, D], rand(NU * D)),
        ("gmf_item_embedding".into(), vec![NI, D], rand(NI * D)),
        ("user_side".into(), vec![NU, FU], rand(NU * FU)),
        ("item_side".into(), vec![NI, FI], rand(NI * FI)),
    ];
    let mut n_in = 2 * D + FU + FI + FR;
    for (k, &h) in HIDDEN.iter().enumerate() {
        tensors.push((format!("mlp.{k}.weight"), vec![h, n_in], rand(h * n_in)));
        tensors.push((format!("mlp.{k}.bias"), vec![h], rand(h)));
        n_in = h;
    }
    tensors.push(("output.weight".into(), vec![1, n_in + D], rand(n_in + D)));
    tensors.push(("output.bias".into(), vec![1], rand(1)));
    let views: Vec<Tensor> = tensors
        .iter()
        .map(|(n, s, v)| Tensor {
            name: n,
            shape: s.clone(),
            data: v,
        })
        .collect();
    write_safetensors(&dir.join("model.safetensors"), &views, HashMap::new()).unwrap();
    std::fs::write(
        dir.join("ncf.json"),
        format!(
            r#"{{"variant":"neumf","embedding_dim":{D},"hidden":[5,4],"n_users":{NU},"n_items":{NI},"fu":{FU},"fi":{FI},"fr":{FR}}}"#
        ),
    )
    .unwrap();
    write_ids(
        dir,
        &ModelIds {
            users: IdMap::Int(vec![10, 20, 30]),
            items: IdMap::Str(vec!["a".into(), "b".into(), "c".into(), "d".into()]),
            seen_ptr: vec![0, 1, 1, 2],
            seen_items: vec![0, 3],
            item_titles: None,
        },
    )
    .unwrap();
    let columns = InputColumns {
        user: "user".into(),
        item: "item".into(),
        label: Some("click".into()),
        event: None,
        weight: None,
        event_weights: Default::default(),
        dedupe: false,
        timestamp: None,
        timestamp_unit: Default::default(),
    };
    write_json(
        &dir.join("scorer.json"),
        &ScorerJson {
            format: FORMAT.into(),
            clickrec_version: "test".into(),
            mode: "ctr".into(),
            user_column: "user".into(),
            item_column: "item".into(),
            columns,
            row_features: spec(&["r1", "r2"]),
            user_features: spec(&["age", "level"]),
            item_features: spec(&["pop"]),
            threshold: Some(0.5),
            cutoff_weight: 0.75,
            row_feature_means: vec![0.5, 0.5],
            cold_start: "mean".into(),
        },
    )
    .unwrap();
    (tensors[4].2.clone(), tensors[5].2.clone())
}

#[test]
fn onnx_graph_decoded_and_evaluated_equals_the_rust_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let (user_side, item_side) = tiny_export(dir.path());
    write_ncf(dir.path()).unwrap();
    let bytes = std::fs::read(dir.path().join(ONNX_FILE)).unwrap();
    let model = onnx_rs::parse(&bytes).expect("a valid ONNX protobuf");
    check_structure(&model).unwrap();
    assert!(
        model
            .opset_import
            .iter()
            .any(|o| o.domain.is_empty() && o.version >= OPSET)
    );
    let g = model.graph.as_ref().unwrap();
    let names: Vec<&str> = g.input.iter().map(|i| i.name).collect();
    assert_eq!(names, ["user", "item", "features"]);
    assert_eq!(g.output[0].name, "probability");
    let batch = g.input[0].tensor_shape().map(|s| s.dim[0].value.clone());
    assert_eq!(batch, Some(onnx_rs::ast::Dimension::Param("N")));

    // Every (user, item) pair including the cold rows n_users / n_items.
    let scorer = Scorer::load(dir.path()).unwrap();
    let (mu, mi) = (mean_row(&user_side, NU, FU), mean_row(&item_side, NI, FI));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut us, mut is, mut feats, mut want) = (vec![], vec![], vec![], vec![]);
    let mut buf = Vec::new();
    for u in 0..=NU {
        for i in 0..=NI {
            let x: Vec<f32> = (0..FR).map(|_| rng.random_range(0.0..1.0)).collect();
            let (uo, io) = ((u < NU).then_some(u as u32), (i < NI).then_some(i as u32));
            want.push(scorer.score(uo, io, &x, &mut buf));
            us.push(u as i64);
            is.push(i as i64);
            feats.extend_from_slice(if u < NU {
                &user_side[u * FU..(u + 1) * FU]
            } else {
                &mu
            });
            feats.extend_from_slice(if i < NI {
                &item_side[i * FI..(i + 1) * FI]
            } else {
                &mi
            });
            feats.extend_from_slice(&x);
        }
    }
    let n = us.len();
    let out = run(
        &model,
        HashMap::from([
            ("user".to_string(), V::I(us, vec![n])),
            ("item".to_string(), V::I(is, vec![n])),
            ("features".to_string(), V::F(feats, vec![n, FU + FI + FR])),
        ]),
    );
    let (got, shape) = f(&out);
    assert_eq!(shape, &[n]);
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max < 1e-6, "max |onnx - scorer| = {max}");
    // Not a constant function: the pairs really differ.
    assert!(want.iter().any(|&p| (p - want[0]).abs() > 1e-3));
}
