//! Hand-worked checks of the CTR layers, the pooling, the gradient and the lazy updates.

use super::fields::FieldRows;
use super::fields::LabelledRows;
use super::net::{Arch, CtrNet, Input, Kind, cross_forward, fm_term, gmf_term};
use super::train::train;
use super::{Backend, CtrParams};
use burn::module::{Param, ParamId};
use burn::nn::Linear;
use burn::prelude::*;

fn dev() -> Device {
    Device::flex()
}

fn t2(v: &[f32], shape: [usize; 2], d: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), d)
}

fn vec1(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn fm_term_equals_the_sum_over_field_pairs_of_inner_products() {
    // One row, 3 fields, D = 2: e1 = (1, 2), e2 = (3, -1), e3 = (0.5, 4).
    // <e1,e2> = 3 - 2 = 1; <e1,e3> = 0.5 + 8 = 8.5; <e2,e3> = 1.5 - 4 = -2.5; sum = 7.
    // Second row: all zeros except e1 = (1, 1): no pairs, 0.
    let d = dev();
    let emb = t2(
        &[1.0, 2.0, 3.0, -1.0, 0.5, 4.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        [2, 6],
        &d,
    );
    let got = vec1(fm_term(emb, 3, 2));
    assert!((got[0] - 7.0).abs() < 1e-5, "{got:?}");
    assert!(got[1].abs() < 1e-6, "{got:?}");
}

#[test]
fn gmf_term_is_the_product_of_the_user_and_item_rows() {
    // One row, 3 fields, D = 2: user (1, 2), item (3, -1), a third field (0.5, 4) left out.
    let d = dev();
    let emb = t2(&[1.0, 2.0, 3.0, -1.0, 0.5, 4.0], [1, 6], &d);
    let got = gmf_term(emb, 2).into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(got, vec![3.0, -2.0]);
}

#[test]
fn one_cross_layer_matches_the_hand_computation() {
    // x0 = (1, 2); W = [[1, 0], [2, 1]] as Burn's [in, out]: x·W = (1 + 4, 2) = (5, 2);
    // b = (0.5, -1) → (5.5, 1); x1 = x0 ⊙ (5.5, 1) + x0 = (5.5 + 1, 2 + 2) = (6.5, 4).
    let d = dev();
    let layer = Linear {
        weight: Param::initialized(ParamId::from(1), t2(&[1.0, 0.0, 2.0, 1.0], [2, 2], &d)),
        bias: Some(Param::initialized(
            ParamId::from(2),
            Tensor::<1>::from_data(TensorData::new(vec![0.5f32, -1.0], [2]), &d),
        )),
    };
    let out = cross_forward(&[layer], t2(&[1.0, 2.0], [1, 2], &d));
    let v = out.into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(v, vec![6.5, 4.0]);
}

fn tiny_arch(kind: Kind) -> Arch {
    Arch {
        kind,
        fields: 3,
        dim: 2,
        dense: 1,
        hidden: vec![4],
        batch_norm: false,
        cross_layers: 2,
        neumf: false,
    }
}

/// Loss of a fixed batch as a function of the embedding leaf, for finite differences.
fn loss_of(net: &CtrNet, arch: &Arch, emb: &[f32], first: &[f32], d: &Device) -> (f32, Vec<f32>) {
    let emb_t = t2(emb, [2, 6], d).require_grad();
    let input = Input {
        emb: emb_t.clone(),
        dense: Some(t2(&[0.3, 0.9], [2, 1], d)),
        first: (arch.kind == Kind::DeepFm).then(|| t2(first, [2, 3], d)),
    };
    let y = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 0.0], [2]), d);
    let loss = crate::ncf::model::bce_with_logits(net.forward(arch, input, &[]), y, 1.0);
    let value = vec1(loss.clone())[0];
    let mut grads = loss.backward();
    let g = emb_t
        .grad_remove(&mut grads)
        .unwrap()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    (value, g)
}

#[test]
fn deepfm_dcnv2_and_ncf_gradients_match_finite_differences() {
    let d = dev().autodiff();
    for arch in every_arch() {
        let kind = (arch.kind, arch.neumf);
        let mut rng = crate::ncf::data::epoch_rng(7, 0);
        let net = CtrNet::init(&arch, &mut rng, &d);
        let emb: Vec<f32> = (0..12)
            .map(|k| ((k * 7) % 11) as f32 / 10.0 - 0.5)
            .collect();
        let first = [0.1f32, -0.2, 0.3, 0.05, 0.0, -0.1];
        let (_, g) = loss_of(&net, &arch, &emb, &first, &d);
        let h = 1e-2f32;
        for k in 0..12 {
            let (mut up, mut down) = (emb.clone(), emb.clone());
            up[k] += h;
            down[k] -= h;
            let numeric = (loss_of(&net, &arch, &up, &first, &d).0
                - loss_of(&net, &arch, &down, &first, &d).0)
                / (2.0 * h);
            assert!(
                (numeric - g[k]).abs() < 2e-3 + 2e-2 * g[k].abs(),
                "{kind:?} emb[{k}]: analytic {} numeric {numeric}",
                g[k]
            );
        }
    }
}

/// One tiny architecture of each model: DeepFM, DCNv2, NCF and NCF's NeuMF variant.
fn every_arch() -> [Arch; 4] {
    [
        tiny_arch(Kind::DeepFm),
        tiny_arch(Kind::DcnV2),
        tiny_arch(Kind::Ncf),
        Arch {
            neumf: true,
            ..tiny_arch(Kind::Ncf)
        },
    ]
}

fn rows_fixture() -> (FieldRows, Vec<f32>) {
    // 6 rows, two single fields (4 and 3 table rows) and one sequence field (5 rows).
    let single = vec![vec![1, 2, 1, 3, 2, 1].into(), vec![1, 1, 2, 2, 1, 2].into()];
    let offsets = vec![0, 2, 2, 3, 5, 6, 8];
    let vals = vec![1, 2, 3, 1, 4, 2, 1, 3];
    let rows = FieldRows {
        n: 6,
        single,
        multi: vec![(offsets, vals)],
        dense: vec![0.0, 0.5, 1.0, 0.25, 0.75, 0.1],
        oov_rows: vec![0; 3],
    };
    (rows, vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
}

fn params(epochs: usize, batch: usize) -> CtrParams {
    CtrParams {
        name: "test",
        dropout: 0.0,
        embedding_l2: 0.0,
        weight_decay: 0.0,
        learning_rate: 0.01,
        batch_size: batch,
        epochs,
        early_stopping: 0,
        lr_decay_on_plateau: false,
        calibrate: false,
        init_std: 0.1,
        embedding_optimizer: crate::ncf::EmbeddingOptimizer::LazyAdam,
        backend: Backend::Flex,
        device_tables: false,
        seed: 3,
    }
}

/// Trains `arch` on the fixture with the fixture as validation part too (checkpoints in `ck`).
fn fit_fixture(
    p: &CtrParams,
    arch: &Arch,
    ck: Option<&std::path::Path>,
    resume: bool,
) -> super::CtrTrained {
    let (rows, labels) = rows_fixture();
    let part = || LabelledRows::all(&rows, &labels);
    train(
        p,
        arch.clone(),
        &[4, 3, 5],
        part(),
        Some(part()),
        false,
        ck,
        resume,
    )
    .unwrap()
}

#[test]
fn lazy_updates_touch_only_the_rows_a_batch_reads_in_every_table() {
    // Table rows never referenced: field 0 row 0, field 1 row 0, sequence row 0 (the OOV rows).
    let (rows, labels) = rows_fixture();
    for kind in [Kind::DeepFm, Kind::DcnV2] {
        let arch = Arch {
            kind,
            fields: 3,
            dim: 2,
            dense: 1,
            hidden: vec![4],
            batch_norm: true,
            cross_layers: 1,
            neumf: false,
        };
        let sizes = [4, 3, 5];
        let before = train(
            &params(1, 6),
            arch.clone(),
            &sizes,
            LabelledRows::all(&rows, &labels),
            None,
            false,
            None,
            false,
        )
        .unwrap();
        // The same seed draws the same initial tables; a second run with more steps and another
        // learning rate moves every touched row differently, and leaves row 0 (never read) at
        // its initial value in both runs.
        let mut p = params(2, 6);
        p.learning_rate = 0.05;
        let after = train(
            &p,
            arch,
            &sizes,
            LabelledRows::all(&rows, &labels),
            None,
            false,
            None,
            false,
        )
        .unwrap();
        for (j, (a, b)) in before.emb.iter().zip(&after.emb).enumerate() {
            // Row 0 (OOV) is never read: identical in both runs (same seed, same draw).
            assert_eq!(
                a[..2],
                b[..2],
                "{kind:?} field {j}: the untouched OOV row moved"
            );
            assert_ne!(
                a[2..],
                b[2..],
                "{kind:?} field {j}: touched rows did not move"
            );
        }
        for (j, (a, b)) in before.first.iter().zip(&after.first).enumerate() {
            assert_eq!(a[0], b[0], "{kind:?} first-order table {j}: row 0 moved");
        }
    }
}

#[test]
fn sequence_fields_embed_as_the_mean_of_their_rows_and_empty_cells_as_zero() {
    let (rows, _) = rows_fixture();
    let t = crate::ncf::embeddings::HostTable::new(
        &[0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        2,
    );
    let tables = vec![
        crate::ncf::embeddings::HostTable::new(&[0.0; 8], 2),
        crate::ncf::embeddings::HostTable::new(&[0.0; 6], 2),
        t,
    ];
    let pooled = super::batch::pooled_for_test(&tables, &rows, &[0, 1, 3], 2, 2);
    // Row 0: values 1, 2 → mean of (1, 2) and (3, 4) = (2, 3); row 1: empty → (0, 0);
    // row 3: values 1, 4 → mean of (1, 2) and (7, 8) = (4, 5).
    let seq = |p: usize| pooled[p * 6 + 4..p * 6 + 6].to_vec();
    assert_eq!(seq(0), vec![2.0, 3.0]);
    assert_eq!(seq(1), vec![0.0, 0.0]);
    assert_eq!(seq(2), vec![4.0, 5.0]);
}

#[test]
fn training_is_reproducible_for_a_seed() {
    let (rows, labels) = rows_fixture();
    let arch = tiny_arch(Kind::DcnV2);
    let run = || {
        let mut p = params(3, 4);
        p.dropout = 0.3;
        train(
            &p,
            arch.clone(),
            &[4, 3, 5],
            LabelledRows::all(&rows, &labels),
            None,
            false,
            None,
            false,
        )
        .unwrap()
        .predict(&rows)
        .unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn batch_norm_by_matrix_products_equals_burns_batch_norm() {
    let d = dev().autodiff();
    let mut id = 0;
    let norm = super::norm::Norm::new(3, &mut id, &d);
    let v: Vec<f32> = (0..15)
        .map(|k| ((k * 37) % 11) as f32 / 3.0 - 1.5)
        .collect();
    let x = t2(&v, [5, 3], &d);
    let ours = norm
        .forward(x.clone())
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let ones = Tensor::<1>::ones([3], &d);
    let zeros = Tensor::<1>::zeros([3], &d);
    let burn = burn::tensor::module::batch_norm_train(x, ones, zeros, super::norm::EPSILON);
    let want = burn.output.into_data().try_into_vec::<f32>().unwrap();
    for (a, b) in ours.iter().zip(&want) {
        assert!((a - b).abs() < 1e-5, "{ours:?} vs {want:?}");
    }
    // Running mean moved 0.1 of the way to the batch mean; inference uses it.
    let mean0: f32 = (0..5).map(|r| v[r * 3]).sum::<f32>() / 5.0;
    let rm = norm
        .running_mean
        .value_sync()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    assert!((rm[0] - 0.1 * mean0).abs() < 1e-6, "{rm:?}");
}

#[test]
fn exported_tensors_rebuild_a_model_that_scores_the_same() {
    let (rows, labels) = rows_fixture();
    for arch in every_arch() {
        let arch = Arch {
            batch_norm: true,
            ..arch
        };
        let trained = train(
            &params(2, 4),
            arch.clone(),
            &[4, 3, 5],
            LabelledRows::all(&rows, &labels),
            None,
            false,
            None,
            false,
        )
        .unwrap();
        let mut trained = trained;
        trained.calibration = super::Calibration {
            scale: 0.8,
            shift: 0.2,
        };
        let tensors = trained.tensors().unwrap();
        let get = |name: &str| {
            tensors
                .iter()
                .find(|t| t.0 == name)
                .map(|t| (t.1.clone(), t.2.clone()))
        };
        let back = super::CtrTrained::from_tensors(arch.clone(), &[4, 3, 5], &get).unwrap();
        assert_eq!(
            back.predict(&rows).unwrap(),
            trained.predict(&rows).unwrap(),
            "{:?} neumf {}",
            arch.kind,
            arch.neumf
        );
        // An export from before calibration (no `calibration` tensor) scores with the
        // network's own sigmoid.
        let old = |name: &str| {
            if name == "calibration" {
                None
            } else {
                get(name)
            }
        };
        let uncalibrated = super::CtrTrained::from_tensors(arch.clone(), &[4, 3, 5], &old).unwrap();
        let all: Vec<u32> = (0..rows.n as u32).collect();
        let z = trained.logits(&rows, &all).unwrap();
        let p = uncalibrated.predict(&rows).unwrap();
        for (z, p) in z.iter().zip(&p) {
            assert!((1.0 / (1.0 + (-z).exp()) - p).abs() < 1e-6);
        }
        // A missing or mis-shaped tensor is an error naming it.
        let broken = |name: &str| {
            if name == "output.bias" {
                None
            } else {
                get(name)
            }
        };
        let e = super::CtrTrained::from_tensors(arch, &[4, 3, 5], &broken).unwrap_err();
        assert!(e.to_string().contains("output.bias"), "{e}");
    }
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
    let (rows, labels) = rows_fixture();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let arch = Arch {
        batch_norm: true,
        ..tiny_arch(Kind::DeepFm)
    };
    let mut p = params(4, 4);
    p.dropout = 0.2;
    p.lr_decay_on_plateau = true;
    let run = |p: &CtrParams, ck: Option<&std::path::Path>, resume: bool| {
        train(
            p,
            arch.clone(),
            &[4, 3, 5],
            LabelledRows::all(&rows, &labels),
            Some(LabelledRows::all(&rows, &labels)),
            false,
            ck,
            resume,
        )
        .unwrap()
    };
    let whole = run(&p, None, false);
    // "Killed" after epoch 2: a run with a budget of 2 epochs leaves its checkpoint behind.
    let mut two = p.clone();
    two.epochs = 2;
    run(&two, Some(&ck), false);
    assert!(ck.join("state.json").exists());
    let resumed = run(&p, Some(&ck), true);
    assert_eq!(
        resumed.predict(&rows).unwrap(),
        whole.predict(&rows).unwrap()
    );
    assert_eq!(resumed.reports.len(), whole.reports.len());
    assert_eq!(resumed.best_epoch, whole.best_epoch);
    // A checkpoint of other settings is refused.
    let mut other = p.clone();
    other.learning_rate = 0.5;
    let e = train(
        &other,
        arch.clone(),
        &[4, 3, 5],
        LabelledRows::all(&rows, &labels),
        None,
        false,
        Some(&ck),
        true,
    )
    .unwrap_err();
    assert!(e.to_string().contains("other settings"), "{e}");
}

#[test]
fn device_tables_train_the_model_host_tables_train_and_resume() {
    let (rows, _) = rows_fixture();
    for arch in every_arch() {
        let arch = Arch {
            batch_norm: true,
            ..arch
        };
        let run = |p: &CtrParams, ck: Option<&std::path::Path>, resume: bool| {
            fit_fixture(p, &arch, ck, resume)
        };
        let mut p = params(3, 4);
        p.embedding_l2 = 0.01;
        let host = run(&p, None, false);
        p.device_tables = true;
        let device = run(&p, None, false);
        let (a, b) = (host.predict(&rows).unwrap(), device.predict(&rows).unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() < 1e-5,
                "{:?}: host {a:?} device {b:?}",
                arch.kind
            );
        }
        for (x, y) in host.emb.iter().flatten().zip(device.emb.iter().flatten()) {
            assert!((x - y).abs() < 1e-5, "{:?}: table values", arch.kind);
        }
        // Checkpoints hold the device tables (read back once per epoch); a resumed run ends
        // where the uninterrupted one does.
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let mut two = p.clone();
        two.epochs = 2;
        run(&two, Some(&ck), false);
        let resumed = run(&p, Some(&ck), true);
        assert_eq!(resumed.predict(&rows).unwrap(), b, "{:?}", arch.kind);
    }
}

/// A batch of several gather parts (rows split across threads, a sequence field's values cut at
/// the part boundaries): the same pooled input for one thread and three, and each row the
/// fixture's row pooled alone.
#[test]
fn a_large_batch_pools_the_same_on_any_team() {
    let (rows, _) = rows_fixture();
    let tables: Vec<_> = [4usize, 3, 5]
        .iter()
        .enumerate()
        .map(|(j, &n)| {
            let v: Vec<f32> = (0..n * 2).map(|k| (k * 7 + j) as f32 * 0.1).collect();
            crate::ncf::embeddings::HostTable::new(&v, 2)
        })
        .collect();
    let batch: Vec<u32> = (0..300u32).map(|k| (k * 5) % 6).collect();
    let one = super::batch::pooled_for_test(&tables, &rows, &batch, 2, 1);
    let three = super::batch::pooled_for_test(&tables, &rows, &batch, 2, 3);
    assert_eq!(one, three);
    for (p, &r) in batch.iter().enumerate() {
        let alone = super::batch::pooled_for_test(&tables, &rows, &[r], 2, 1);
        assert_eq!(&one[p * 6..(p + 1) * 6], &alone[..], "batch row {p}");
    }
}

/// The team that splits a step's host work (crate::team) never changes a value: one thread and
/// three give the same model.
#[test]
fn training_is_the_same_whatever_the_thread_count() {
    let (rows, _) = rows_fixture();
    for arch in every_arch() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut p = params(2, 4);
                p.embedding_l2 = 0.01;
                let t = fit_fixture(&p, &arch, None, false);
                (t.predict(&rows).unwrap(), t.emb.clone(), t.first.clone())
            })
        };
        assert_eq!(run(1), run(3), "{:?}", arch.kind);
    }
}

/// Device tables on the GPU backend (lavapipe where no GPU is present) train the model the host
/// tables train on the CPU, to float tolerance.
#[cfg(feature = "wgpu")]
#[test]
fn device_tables_on_wgpu_train_the_model_host_tables_train() {
    let (rows, _) = rows_fixture();
    for arch in every_arch() {
        let run = |p: &CtrParams| fit_fixture(p, &arch, None, false);
        let host = run(&params(2, 4));
        let mut p = params(2, 4);
        p.backend = Backend::Wgpu;
        p.device_tables = true;
        let gpu = run(&p);
        let (a, b) = (host.predict(&rows).unwrap(), gpu.predict(&rows).unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() < 1e-4,
                "{:?}: host {a:?} wgpu {b:?}",
                arch.kind
            );
        }
        for (x, y) in host.emb.iter().flatten().zip(gpu.emb.iter().flatten()) {
            assert!((x - y).abs() < 1e-4, "{:?}: table values", arch.kind);
        }
    }
}

/// 1 000 rows of two fields (60 users, 12 items) whose click rate is set by the user's parity
/// and the item: a signal a small model learns, and with it over-confidence when trained long.
fn calibration_fixture() -> (FieldRows, Vec<f32>) {
    let mut state = 11u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    let (mut users, mut items, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..1000 {
        let (u, i) = (1 + next() % 60, 1 + next() % 12);
        let p = if u % 2 == 0 { 0.6 } else { 0.25 } + 0.02 * (i % 5) as f64;
        users.push(u);
        items.push(i);
        labels.push(f32::from(u8::from(
            f64::from(next() % 10_000) / 10_000.0 < p,
        )));
    }
    let rows = FieldRows {
        n: 1000,
        single: vec![users.into(), items.into()],
        multi: Vec::new(),
        dense: Vec::new(),
        oov_rows: vec![0; 2],
    };
    (rows, labels)
}

#[test]
fn calibration_is_fit_on_validation_and_keeps_the_ranking() {
    let (rows, labels) = calibration_fixture();
    let (train_rows, valid_rows): (Vec<u32>, Vec<u32>) = (0..1000u32).partition(|r| r % 4 != 0);
    let arch = Arch {
        fields: 2,
        dense: 0,
        ..tiny_arch(Kind::DcnV2)
    };
    let fit = |calibrate: bool| {
        let p = CtrParams {
            calibrate,
            learning_rate: 0.05,
            ..params(30, 64)
        };
        let part = |subset| LabelledRows {
            rows: &rows,
            labels: &labels,
            subset: Some(subset),
        };
        train(
            &p,
            arch.clone(),
            &[61, 13],
            part(&train_rows[..]),
            Some(part(&valid_rows[..])),
            false,
            None,
            false,
        )
        .unwrap()
    };
    let plain = fit(false);
    assert_eq!(plain.calibration, super::Calibration::IDENTITY);
    assert_eq!(plain.calibrated_logloss, None);
    let calibrated = fit(true);
    // The same network: calibration is fit after training.
    let z = calibrated.logits(&rows, &valid_rows).unwrap();
    assert_eq!(z, plain.logits(&rows, &valid_rows).unwrap());
    // Trained 30 epochs on 750 rows, the kept model is over-confident: scaled down.
    let c = calibrated.calibration;
    assert!(c.scale > 0.0 && c.scale < 0.9, "{c:?}");
    let (before, after) = calibrated.calibrated_logloss.expect("a fit");
    assert!(after < before, "validation log loss {before} -> {after}");
    // Ranking unchanged: probabilities in the logits' order.
    let p = calibrated.predict(&rows).unwrap();
    let mut order: Vec<usize> = (0..valid_rows.len()).collect();
    order.sort_by(|&a, &b| z[a].total_cmp(&z[b]));
    for w in order.windows(2) {
        let (a, b) = (valid_rows[w[0]] as usize, valid_rows[w[1]] as usize);
        assert!(p[a] <= p[b]);
    }
}
