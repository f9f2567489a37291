//! Unit tests: loss, forward shape, parameter checks, AUC, negative sampling, backends.

use super::super::data::{EpochRows, NegativeSampler, build_epoch, epoch_rng};
use super::super::model::{Arch, BatchInput, NcfNet, Weights, bce_with_logits};
use super::super::train::Run;
use super::*;
use approx::assert_abs_diff_eq;
use burn::prelude::*;

fn loss_of(x: &[f32], y: &[f32], pos_weight: f64) -> f32 {
    let device = Device::flex();
    let x = Tensor::<1>::from_data(TensorData::new(x.to_vec(), [x.len()]), &device);
    let y = Tensor::<1>::from_data(TensorData::new(y.to_vec(), [y.len()]), &device);
    bce_with_logits(x, y, pos_weight).into_scalar::<f32>()
}

#[test]
fn loss_matches_hand_worked_values() {
    // Per row: log 2 = 0.693147, log(1 + e^-2) = 0.126928, log(1 + e^-1) = 0.313262,
    // 3 + log(1 + e^-3) = 3.048587; mean 1.045481.
    let (x, y) = ([0.0, 2.0, -1.0, 3.0], [1.0, 1.0, 0.0, 0.0]);
    assert_abs_diff_eq!(loss_of(&x, &y, 1.0), 1.045481, epsilon = 1e-5);
    // pos_weight 3 triples the positive rows: (3 (0.693147 + 0.126928) + 0.313262 + 3.048587) / 4.
    assert_abs_diff_eq!(loss_of(&x, &y, 3.0), 1.455519, epsilon = 1e-5);
}

#[test]
fn loss_is_stable_for_large_logits() {
    // Wrong by 1000 costs 1000, right by 1000 costs 0; no inf or NaN.
    let l = loss_of(
        &[1000.0, -1000.0, 1000.0, -1000.0],
        &[0.0, 1.0, 1.0, 0.0],
        1.0,
    );
    assert_abs_diff_eq!(l, 500.0, epsilon = 1e-3);
    let l = loss_of(&[-1000.0], &[1.0], 2.0);
    assert_abs_diff_eq!(l, 2000.0, epsilon = 1e-2);
}

#[test]
fn forward_maps_a_batch_to_one_logit_per_row() {
    let arch = Arch {
        variant: Variant::Neumf,
        embedding_dim: 3,
        hidden: vec![5, 2],
        n_users: 4,
        n_items: 6,
        fu: 0,
        fi: 0,
        fr: 2,
    };
    let w = Weights::init(&arch, 0.1, &mut epoch_rng(1, 0)).expect("init");
    let device = Device::flex();
    let net = NcfNet::from_weights(&arch, &w, &device);
    let gmf = || Tensor::<2>::ones([5, 3], &device);
    let input = BatchInput {
        x: Tensor::<2>::ones([5, arch.input_dim()], &device),
        gmf: Some((gmf(), gmf())),
    };
    assert_eq!(net.forward(input, &[]).dims(), [5]);
}

#[test]
fn invalid_params_are_errors() {
    let cases: Vec<(&str, NcfParams)> = vec![
        (
            "batch_size",
            NcfParams {
                batch_size: 0,
                ..NcfParams::default()
            },
        ),
        (
            "learning_rate",
            NcfParams {
                learning_rate: 0.0,
                ..NcfParams::default()
            },
        ),
        (
            "learning_rate",
            NcfParams {
                learning_rate: -1e-3,
                ..NcfParams::default()
            },
        ),
        (
            "learning_rate",
            NcfParams {
                learning_rate: f64::NAN,
                ..NcfParams::default()
            },
        ),
        (
            "hidden",
            NcfParams {
                hidden: vec![32, 0],
                ..NcfParams::default()
            },
        ),
        (
            "dropout",
            NcfParams {
                dropout: 1.0,
                ..NcfParams::default()
            },
        ),
        (
            "dropout",
            NcfParams {
                dropout: -0.1,
                ..NcfParams::default()
            },
        ),
        (
            "embedding_dim",
            NcfParams {
                embedding_dim: 0,
                ..NcfParams::default()
            },
        ),
        (
            "epochs",
            NcfParams {
                epochs: 0,
                ..NcfParams::default()
            },
        ),
        (
            "pos_weight",
            NcfParams {
                pos_weight: 0.0,
                ..NcfParams::default()
            },
        ),
        (
            "early_stopping",
            NcfParams {
                early_stopping: Some(0),
                ..NcfParams::default()
            },
        ),
    ];
    for (name, p) in cases {
        match p.validate() {
            Err(NcfError::InvalidParam { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: expected InvalidParam, got {other:?}"),
        }
    }
    assert!(NcfParams::default().validate().is_ok());
    assert!(
        NcfParams {
            hidden: vec![],
            dropout: 0.5,
            ..NcfParams::default()
        }
        .validate()
        .is_ok()
    );
}

#[test]
fn implicit_mode_without_negatives_is_an_error() {
    let (side, mut set) = toy_ctr(20, 0, 0, 0, 1);
    set.labels.iter_mut().for_each(|y| *y = 1.0);
    set.implicit = true;
    let p = NcfParams {
        negatives: 0,
        ..toy_params(1)
    };
    let r = train(&p, &side, &set, None, None, false, &mut |_| {}, false);
    assert!(matches!(
        r,
        Err(NcfError::InvalidParam {
            name: "negatives",
            ..
        })
    ));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (side, mut set) = toy_ctr(20, 1, 0, 0, 1);
    set.items[3] = 10; // n_items = 10
    let r = train(
        &toy_params(1),
        &side,
        &set,
        None,
        None,
        false,
        &mut |_| {},
        false,
    );
    assert!(matches!(
        r,
        Err(NcfError::IndexOutOfRange {
            index: 10,
            bound: 10,
            ..
        })
    ));
    let (side, mut set) = toy_ctr(20, 1, 0, 0, 1);
    set.labels[0] = 0.5;
    let r = train(
        &toy_params(1),
        &side,
        &set,
        None,
        None,
        false,
        &mut |_| {},
        false,
    );
    assert!(matches!(r, Err(NcfError::BadLabel { row: 0, .. })));
    set.labels[0] = 1.0;
    set.row_features.pop();
    let r = train(
        &toy_params(1),
        &side,
        &set,
        None,
        None,
        false,
        &mut |_| {},
        false,
    );
    assert!(matches!(r, Err(NcfError::LengthMismatch { .. })));
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_without_the_feature_is_an_error() {
    let (side, set) = toy_ctr(20, 0, 0, 0, 1);
    let p = NcfParams {
        backend: Backend::Wgpu,
        ..toy_params(1)
    };
    match train(&p, &side, &set, None, None, false, &mut |_| {}, false) {
        Err(
            e @ NcfError::BackendUnavailable {
                backend: "wgpu", ..
            },
        ) => {
            assert!(e.to_string().contains("--features wgpu"), "{e}");
        }
        other => panic!("expected BackendUnavailable, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn rank_auc_matches_hand_worked_values() {
    // Pairs (pos, neg): (0.9, 0.1) 1, (0.9, 0.4) 1, (0.4, 0.1) 1, (0.4, 0.4) tie 0.5 → 3.5 / 4.
    let auc = rank_auc(&[true, false, true, false], &[0.9, 0.1, 0.4, 0.4]);
    assert_abs_diff_eq!(auc.expect("defined"), 0.875, epsilon = 1e-12);
    assert_eq!(rank_auc(&[true, true], &[0.1, 0.2]), None);
    assert_eq!(rank_auc(&[true, false], &[0.1]), None);
    assert_eq!(rank_auc(&[false, true, true], &[0.3, 0.2, 0.1]), Some(0.0));
}

#[test]
fn negatives_are_never_train_positives() {
    // User 0 has every item but one: its negatives must all be item 4.
    let users = [0u32, 0, 0, 0, 1, 1, 2, 0];
    let items = [0u32, 1, 2, 3, 0, 4, 2, 1];
    let s = NegativeSampler::new(3, 5, &users, &items).expect("sampler");
    let mut rng = epoch_rng(3, 1);
    for _ in 0..200 {
        assert_eq!(s.sample(0, &mut rng), 4);
        let i = s.sample(1, &mut rng);
        assert!(i != 0 && i != 4, "user 1 got positive {i}");
    }
    let set = TrainSet {
        users: users.to_vec(),
        items: items.to_vec(),
        labels: vec![1.0; users.len()],
        implicit: true,
        ..TrainSet::default()
    };
    let (mut order, mut rows) = (Vec::new(), EpochRows::default());
    build_epoch(&set, Some(&s), 3, &mut rng, &mut order, &mut rows);
    assert_eq!(rows.len(), 8 * 4);
    assert_eq!(rows.labels.iter().filter(|&&y| y == 0.0).count(), 8 * 3);
    for k in 0..rows.len() {
        let (u, i) = (rows.users[k] as u32, rows.items[k] as u32);
        assert_eq!(
            rows.labels[k] == 1.0,
            s.is_positive(u, i),
            "row {k}: ({u}, {i})"
        );
    }
    // A user with every item cannot get negatives.
    let r = NegativeSampler::new(2, 2, &[1, 1], &[0, 1]);
    assert!(matches!(
        r,
        Err(NcfError::NoNegatives {
            user: 1,
            n_items: 2
        })
    ));
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let arch = Arch {
        variant: Variant::Mlp,
        embedding_dim: 1,
        hidden: vec![],
        n_users: 1,
        n_items: 1,
        fu: 0,
        fi: 0,
        fr: 0,
    };
    let mut run = Run::default();
    for (epoch, auc) in [(1, 0.6), (2, 0.7), (3, 0.65), (4, 0.69)] {
        assert!(!run.state.stopped, "stopped before epoch {epoch}");
        let mut w = Weights::init(&arch, 1.0, &mut epoch_rng(0, 0)).expect("init");
        w.output_bias = vec![epoch as f32];
        let report = EpochReport {
            epoch,
            loss: 0.5,
            valid_auc: Some(auc),
            seconds: 1.0,
            samples: 1,
        };
        run.record(&report, &w, Some(2), false);
    }
    assert!(run.state.stopped);
    assert_eq!(run.state.best_epoch, 2);
    assert_eq!(run.best_weights.map(|w| w.output_bias), Some(vec![2.0]));
}
