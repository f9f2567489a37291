//! Export / load tests, and the documented plain-loop forward pass from the exported tensors.

use super::super::export::{ARCH_FILE, MODEL_FILE};
use super::*;
use safetensors::SafeTensors;
use std::collections::HashMap;

fn trained(variant: Variant, fr: usize, fu: usize, fi: usize) -> (NcfTrained, TrainSet) {
    let (side, set) = toy_ctr(200, fr, fu, fi, 4);
    let p = NcfParams {
        variant,
        ..toy_params(2)
    };
    (fit(&p, &side, &set, None, false), set)
}

#[test]
fn export_then_load_gives_the_same_predictions() {
    for variant in [Variant::Mlp, Variant::Neumf] {
        let (m, set) = trained(variant, 2, 1, 3);
        let dir = tempfile::tempdir().expect("tempdir");
        m.export(dir.path()).expect("export");
        let loaded = NcfTrained::load(dir.path()).expect("load");
        assert_eq!(loaded.arch(), m.arch());
        assert_eq!(predict_all(&loaded, &set), predict_all(&m, &set));
    }
}

/// All tensors of the export as (shape, values), read with nothing but the safetensors crate.
fn read_export(dir: &std::path::Path) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(dir.join(MODEL_FILE)).expect("read");
    let st = SafeTensors::deserialize(&bytes).expect("parse");
    st.tensors()
        .into_iter()
        .map(|(name, t)| {
            let v = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (t.shape().to_vec(), v))
        })
        .collect()
}

/// The forward pass of export.rs' doc comment, in plain loops.
fn manual_forward(
    t: &HashMap<String, (Vec<usize>, Vec<f32>)>,
    arch: &serde_json::Value,
    u: usize,
    i: usize,
    x: &[f32],
) -> f32 {
    let row = |name: &str, r: usize| -> Vec<f32> {
        match t.get(name) {
            Some((shape, v)) => v[r * shape[1]..(r + 1) * shape[1]].to_vec(),
            None => Vec::new(),
        }
    };
    let dense = |h: &[f32], name: &str| -> Vec<f32> {
        let (shape, w) = &t[&format!("{name}.weight")];
        let (_, b) = &t[&format!("{name}.bias")];
        let (out, inp) = (shape[0], shape[1]);
        assert_eq!(inp, h.len(), "{name}");
        (0..out)
            .map(|o| b[o] + (0..inp).map(|k| w[o * inp + k] * h[k]).sum::<f32>())
            .collect()
    };
    let mut h = row("user_embedding", u);
    h.extend(row("item_embedding", i));
    h.extend(row("user_side", u));
    h.extend(row("item_side", i));
    h.extend_from_slice(x);
    let n_hidden = arch["hidden"].as_array().map_or(0, |a| a.len());
    for k in 0..n_hidden {
        h = dense(&h, &format!("mlp.{k}"))
            .into_iter()
            .map(|v| v.max(0.0))
            .collect();
    }
    if arch["variant"] == "neumf" {
        let (gu, gi) = (row("gmf_user_embedding", u), row("gmf_item_embedding", i));
        h.extend(gu.iter().zip(&gi).map(|(a, b)| a * b));
    }
    let logit = dense(&h, "output")[0];
    1.0 / (1.0 + (-logit).exp())
}

#[test]
fn plain_loop_forward_from_the_export_equals_predict() {
    for (variant, fr, fu, fi) in [
        (Variant::Mlp, 2, 1, 3),
        (Variant::Neumf, 0, 2, 0),
        (Variant::Mlp, 0, 0, 0),
    ] {
        let (m, set) = trained(variant, fr, fu, fi);
        let dir = tempfile::tempdir().expect("tempdir");
        m.export(dir.path()).expect("export");
        let tensors = read_export(dir.path());
        let arch: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(ARCH_FILE)).expect("json"))
                .expect("parse");
        assert_eq!(tensors["mlp.0.weight"].0, vec![16, 2 * 4 + fu + fi + fr]);
        assert_eq!(tensors.contains_key("user_side"), fu > 0);
        let p = predict_all(&m, &set);
        for (k, &pk) in p.iter().enumerate() {
            let x = &set.row_features[k * fr..(k + 1) * fr];
            let q = manual_forward(
                &tensors,
                &arch,
                set.users[k] as usize,
                set.items[k] as usize,
                x,
            );
            assert!((pk - q).abs() < 1e-5, "row {k}: predict {pk} vs manual {q}");
        }
    }
}

#[test]
fn predict_rejects_bad_input() {
    let (m, _) = trained(Variant::Mlp, 2, 0, 0);
    assert!(matches!(
        m.predict(&[0, 1], &[0], &[0.0; 4]),
        Err(NcfError::LengthMismatch { .. })
    ));
    assert!(matches!(
        m.predict(&[0], &[0], &[0.0; 3]),
        Err(NcfError::LengthMismatch { .. })
    ));
    assert!(matches!(
        m.predict(&[12], &[0], &[0.0; 2]),
        Err(NcfError::IndexOutOfRange { .. })
    ));
    assert_eq!(m.predict(&[], &[], &[]).expect("empty").len(), 0);
    let mut out = vec![0.0; 10];
    assert!(
        m.score_all_items(0, &mut out).is_err(),
        "row features make full ranking undefined"
    );
}

#[test]
fn loading_a_missing_or_broken_export_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        NcfTrained::load(dir.path()),
        Err(NcfError::Io { .. })
    ));
    let (m, _) = trained(Variant::Mlp, 0, 0, 0);
    m.export(dir.path()).expect("export");
    std::fs::write(dir.path().join(MODEL_FILE), b"not safetensors").expect("write");
    assert!(matches!(
        NcfTrained::load(dir.path()),
        Err(NcfError::BadFile { .. })
    ));
}
