//! `<model>/model.onnx` of the CTR models, decoded and evaluated by the reference interpreter
//! ([`crate::export::onnx_eval`]) against [`CtrTrained::predict`], on tiny trained models of
//! every kind: three categorical fields (OOV rows used), a sequence field (empty cells, an OOV
//! value, padding), two dense features, batch norm with trained running statistics.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ctr::fields::FieldKind;
use crate::ctr::{Arch, CtrParams, CtrTrained, FieldRows, Kind, LabelledRows};
use crate::export::onnx::ONNX_FILE;
use crate::export::onnx_ctr::write_ctr;
use crate::export::onnx_eval::{V, check_structure, f, run};
use crate::export::{views, write_json, write_safetensors};
use crate::features::{FeatureSpec, Range};
use crate::model::ctr::{FORMAT, FieldJson, ModelJson};

/// Table rows (OOV row included) of the fields user, item, city (categorical) and tags (sequence).
const ROWS: [usize; 4] = [7, 6, 5, 5];
const NAMES: [&str; 4] = ["user", "item", "city", "tags"];
const DENSE: [&str; 2] = ["age", "price"];
const N: usize = 240;

/// Encoded rows with a planted signal; row 0 (OOV) appears in every field, a fifth of the tags
/// cells are empty and some hold the OOV value.
fn fixture() -> (FieldRows, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut single = vec![Vec::new(); 3];
    let (mut offsets, mut vals, mut dense, mut labels) = (vec![0u32], vec![], vec![], vec![]);
    for _ in 0..N {
        for (col, &rows) in single.iter_mut().zip(&ROWS) {
            col.push(rng.random_range(0..rows as u32));
        }
        for _ in 0..[0, 1, 2, 3, 1][rng.random_range(0..5)] {
            vals.push(rng.random_range(0..ROWS[3] as u32));
        }
        offsets.push(vals.len() as u32);
        let (a, b): (f32, f32) = (rng.random_range(0.0..1.0), rng.random_range(-0.2..1.2));
        dense.extend([a, b]);
        let u = *single[0].last().unwrap_or(&0);
        let p = if u % 2 == 0 { 0.7 } else { 0.2 } + 0.2 * a;
        labels.push(f32::from(u8::from(rng.random_range(0.0..1.0) < p)));
    }
    let rows = FieldRows {
        n: N,
        single: single.into_iter().map(Into::into).collect(),
        multi: vec![(offsets, vals)],
        dense,
        oov_rows: Vec::new(),
    };
    (rows, labels)
}

fn train(kind: Kind, neumf: bool, batch_norm: bool, rows: &FieldRows, y: &[f32]) -> CtrTrained {
    let arch = Arch {
        kind,
        fields: ROWS.len(),
        dim: 3,
        dense: DENSE.len(),
        hidden: vec![6, 4],
        batch_norm,
        cross_layers: 2,
        neumf,
    };
    let params = CtrParams {
        name: kind.name(),
        dropout: 0.0,
        embedding_l2: 0.0,
        weight_decay: 0.0,
        learning_rate: 0.03,
        batch_size: 32,
        epochs: 3,
        early_stopping: 0,
        lr_decay_on_plateau: false,
        calibrate: false,
        init_std: 0.3,
        embedding_optimizer: crate::ncf::EmbeddingOptimizer::Adam,
        backend: crate::ncf::Backend::Flex,
        device_tables: false,
        seed: 5,
    };
    let train = LabelledRows::all(rows, y);
    crate::ctr::train::train(&params, arch, &ROWS, train, None, false, None, false).unwrap()
}

/// Writes `model.safetensors` and `model.json` as `model::ctr::export` does.
fn export(dir: &Path, t: &CtrTrained) {
    let tensors = t.tensors().unwrap();
    let meta = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    write_safetensors(&dir.join("model.safetensors"), &views(&tensors), meta).unwrap();
    let fields = NAMES
        .iter()
        .zip(ROWS)
        .map(|(&name, rows)| FieldJson {
            name: name.into(),
            kind: match name {
                "tags" => FieldKind::Sequence,
                _ => FieldKind::Categorical,
            },
            source: match name {
                "user" | "item" => name,
                "tags" => "sequence",
                _ => "row",
            }
            .into(),
            rows,
            hash_buckets: None,
            vocabulary: (1..rows).map(|k| format!("{name}{k}")).collect(),
            by_id: None,
        })
        .collect();
    let json = ModelJson {
        format: FORMAT.into(),
        clickrec_version: "test".into(),
        model: t.arch.kind.name().into(),
        arch: t.arch.clone(),
        user_column: "user".into(),
        item_column: "item".into(),
        sequence_separator: "|".into(),
        fields,
        dense: FeatureSpec {
            numeric: DENSE.iter().map(|s| s.to_string()).collect(),
            ranges: DENSE.iter().map(|_| Range { min: 0.0, max: 1.0 }).collect(),
            categorical: Vec::new(),
            levels: Vec::new(),
        },
        threshold: Some(0.5),
    };
    write_json(&dir.join("model.json"), &json).unwrap();
}

/// The graph's inputs for `rows`: each field's table rows, the tags padded with row 0 and masked.
fn inputs(rows: &FieldRows) -> HashMap<String, V> {
    let n = rows.n;
    let mut out: HashMap<String, V> = NAMES
        .iter()
        .zip(&rows.single)
        .map(|(name, col)| {
            let v = col.iter().map(i64::from).collect();
            (name.to_string(), V::I(v, vec![n]))
        })
        .collect();
    let (off, vals) = &rows.multi[0];
    let len = off.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as usize;
    let (mut idx, mut mask) = (vec![0i64; n * len], vec![0f32; n * len]);
    for r in 0..n {
        for (k, &v) in vals[off[r] as usize..off[r + 1] as usize]
            .iter()
            .enumerate()
        {
            idx[r * len + k] = i64::from(v);
            mask[r * len + k] = 1.0;
        }
    }
    out.insert("tags".into(), V::I(idx, vec![n, len]));
    out.insert("tags_mask".into(), V::F(mask, vec![n, len]));
    out.insert(
        "dense".into(),
        V::F(rows.dense.clone(), vec![n, DENSE.len()]),
    );
    out
}

#[test]
fn ctr_onnx_graphs_equal_the_trained_models_predictions() {
    let (rows, y) = fixture();
    // The fixture exercises what the graph must get right.
    assert!(
        rows.single.iter().all(|c| c.oov_rows() > 0),
        "OOV rows used"
    );
    let (off, vals) = &rows.multi[0];
    assert!(off.windows(2).any(|w| w[0] == w[1]), "an empty tags cell");
    assert!(vals.contains(&0), "an OOV tag");
    let cases = [
        (Kind::DeepFm, false, true),
        (Kind::DcnV2, false, true),
        (Kind::Ncf, false, false),
        (Kind::Ncf, true, true),
    ];
    for (kind, neumf, bn) in cases {
        let what = format!("{kind:?} neumf={neumf} batch_norm={bn}");
        let mut t = train(kind, neumf, bn, &rows, &y);
        // A calibration the graph must apply (the trainer fits one on a validation part).
        t.calibration = crate::ctr::Calibration {
            scale: 0.6,
            shift: -0.3,
        };
        let dir = tempfile::tempdir().unwrap();
        export(dir.path(), &t);
        write_ctr(dir.path()).unwrap();
        let bytes = std::fs::read(dir.path().join(ONNX_FILE)).unwrap();
        let model = onnx_rs::parse(&bytes).expect("a valid ONNX protobuf");
        check_structure(&model).unwrap_or_else(|e| panic!("{what}: {e}"));
        let g = model.graph.as_ref().unwrap();
        let names: Vec<&str> = g.input.iter().map(|i| i.name).collect();
        assert_eq!(
            names,
            ["user", "item", "city", "tags", "tags_mask", "dense"],
            "{what}"
        );
        assert_eq!(g.output[0].name, "probability");
        let meta: HashMap<&str, &str> = model
            .metadata_props
            .iter()
            .map(|e| (e.key, e.value))
            .collect();
        assert_eq!(meta["inputs"], "user,item,city,tags,tags_mask,dense");
        assert!(meta["oov"].contains("row 0"), "{what}");
        assert!(meta["fields"].contains("\"tags\""), "{what}");

        let want = t.predict(&rows).unwrap();
        let out = run(&model, inputs(&rows));
        let (got, shape) = f(&out);
        assert_eq!(shape, &[N], "{what}");
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-5, "{what}: max |onnx - predict| = {max}");
        // A model that learned something: the probabilities really differ between rows.
        let spread = want.iter().fold(0f32, |m, &p| m.max((p - want[0]).abs()));
        assert!(spread > 1e-2, "{what}: spread {spread}");
    }
}

#[test]
fn a_ctr_export_onnx_cannot_represent_is_refused_with_the_file_named() {
    let (rows, y) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let t = train(Kind::DcnV2, false, true, &rows, &y);
    export(dir.path(), &t);
    let json = dir.path().join("model.json");
    let text = std::fs::read_to_string(&json).unwrap();
    let expect = |needles: &[&str]| {
        let e = write_ctr(dir.path()).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains(n), "{e:?} lacks {n:?}");
        }
        assert!(!dir.path().join(ONNX_FILE).exists());
    };
    // Another format.
    std::fs::write(&json, text.replace(FORMAT, "clickrec-ctr-0")).unwrap();
    expect(&["model.json", "clickrec-ctr-0", "re-export"]);
    // A field whose name is a graph input already (`dense`) or a name inside the graph.
    for clash in ["\"dense\"", "\"x_emb\"", "\"tags_mask\""] {
        std::fs::write(&json, text.replace("\"city\"", clash)).unwrap();
        expect(&["model.json", "input name", &clash.replace('"', "`")]);
    }
    // A weight that does not fit the architecture.
    std::fs::write(&json, text.replace("\"dim\": 3", "\"dim\": 4")).unwrap();
    expect(&["model.safetensors", "field.0.embedding"]);
    // Not JSON at all.
    std::fs::write(&json, "{").unwrap();
    expect(&["model.json"]);
    // The intact export writes.
    std::fs::write(&json, &text).unwrap();
    write_ctr(dir.path()).unwrap();
    assert!(dir.path().join(ONNX_FILE).exists());
}
