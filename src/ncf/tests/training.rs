//! Training tests: learning, determinism, resume, implicit mode, dropout, backends.

use super::*;

fn train_auc(m: &NcfTrained, set: &TrainSet) -> f64 {
    let p: Vec<f64> = predict_all(m, set).into_iter().map(f64::from).collect();
    let y: Vec<bool> = set.labels.iter().map(|&y| y == 1.0).collect();
    rank_auc(&y, &p).expect("two classes")
}

#[test]
fn training_a_separable_problem_lowers_the_loss_and_raises_auc() {
    let (side, set) = toy_ctr(600, 0, 0, 0, 11);
    let mut reports = Vec::new();
    let valid = Validation {
        set: &set,
        auc: &rank_auc,
    };
    let m = train(
        &toy_params(30),
        &side,
        &set,
        Some(valid),
        None,
        false,
        &mut |r| reports.push(r.clone()),
        false,
    )
    .expect("train");
    assert_eq!(reports.len(), 30);
    assert_eq!(m.reports(), &reports[..]);
    let (first, last) = (&reports[0], &reports[29]);
    assert!(
        last.loss < 0.5 * first.loss,
        "loss {} -> {}",
        first.loss,
        last.loss
    );
    assert!(last.valid_auc.expect("auc") > 0.95, "{:?}", last.valid_auc);
    assert!(train_auc(&m, &set) > 0.95);
    assert!(reports.iter().all(|r| r.samples == 600));
}

#[test]
fn same_seed_gives_identical_predictions() {
    let (side, set) = toy_ctr(300, 2, 2, 3, 5);
    let p = NcfParams {
        variant: Variant::Neumf,
        ..toy_params(3)
    };
    let a = predict_all(&fit(&p, &side, &set, None, false), &set);
    let b = predict_all(&fit(&p, &side, &set, None, false), &set);
    assert_eq!(a, b);
    let c = predict_all(
        &fit(&NcfParams { seed: 8, ..p }, &side, &set, None, false),
        &set,
    );
    assert_ne!(a, c, "another seed should give another model");
}

#[test]
fn flex_and_ndarray_agree() {
    let (side, set) = toy_ctr(300, 2, 0, 0, 5);
    let p = toy_params(3);
    let a = predict_all(&fit(&p, &side, &set, None, false), &set);
    let b = predict_all(
        &fit(
            &NcfParams {
                backend: Backend::Ndarray,
                ..p
            },
            &side,
            &set,
            None,
            false,
        ),
        &set,
    );
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "flex and ndarray differ by {worst}");
}

#[test]
fn resume_after_k_epochs_equals_an_uninterrupted_run() {
    let (side, set) = toy_ctr(300, 2, 1, 1, 9);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = NcfParams {
        dropout: 0.2,
        weight_decay: 1e-4,
        ..toy_params(5)
    };
    let full = fit(&p, &side, &set, None, false);
    // Interrupted after 2 epochs, then resumed to 5.
    let ck = dir.path().join("ck");
    let resumed = interrupted_and_resumed(&p, &side, &set, 2, &ck);
    assert_eq!(resumed.reports().len(), 5);
    let losses = |m: &NcfTrained| m.reports().iter().map(|r| r.loss).collect::<Vec<_>>();
    assert_eq!(losses(&resumed), losses(&full));
    assert_eq!(predict_all(&resumed, &set), predict_all(&full, &set));
    // A checkpoint of another run is refused.
    let other = NcfParams {
        learning_rate: 0.02,
        ..p
    };
    let r = train(
        &other,
        &side,
        &set,
        None,
        Some(&ck),
        true,
        &mut |_| {},
        false,
    );
    assert!(matches!(r, Err(NcfError::CheckpointMismatch { .. })));
}

#[test]
fn implicit_mode_trains_and_ranks_all_items() {
    let (side, mut set) = toy_ctr(200, 0, 2, 2, 3);
    // Keep the positives only.
    let keep: Vec<usize> = (0..set.labels.len())
        .filter(|&k| set.labels[k] == 1.0)
        .collect();
    set.users = keep.iter().map(|&k| set.users[k]).collect();
    set.items = keep.iter().map(|&k| set.items[k]).collect();
    set.labels = vec![1.0; keep.len()];
    set.implicit = true;
    let p = NcfParams {
        negatives: 2,
        ..toy_params(2)
    };
    let mut samples = Vec::new();
    let m = train(
        &p,
        &side,
        &set,
        None,
        None,
        false,
        &mut |r| samples.push(r.samples),
        false,
    )
    .expect("train");
    assert_eq!(samples, vec![keep.len() * 3; 2]);
    let mut all = vec![0.0f32; side.n_items];
    m.score_all_items(3, &mut all).expect("score");
    let items: Vec<u32> = (0..side.n_items as u32).collect();
    let direct = m
        .predict(&vec![3; side.n_items], &items, &[])
        .expect("predict");
    assert_eq!(all, direct);
    let mut short = vec![0.0f32; 3];
    assert!(m.score_all_items(3, &mut short).is_err());
}

#[test]
fn dropout_is_seeded_and_changes_training() {
    let (side, set) = toy_ctr(200, 0, 0, 0, 2);
    let p = NcfParams {
        dropout: 0.3,
        ..toy_params(2)
    };
    let a = predict_all(&fit(&p, &side, &set, None, false), &set);
    let b = predict_all(&fit(&p, &side, &set, None, false), &set);
    let c = predict_all(
        &fit(&NcfParams { dropout: 0.0, ..p }, &side, &set, None, false),
        &set,
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn resume_with_early_stopping_equals_an_uninterrupted_run() {
    let (side, set) = toy_ctr(300, 0, 0, 0, 9);
    let (_, valid_set) = toy_ctr(100, 0, 0, 0, 10);
    let p = NcfParams {
        early_stopping: Some(2),
        ..toy_params(8)
    };
    let run = |p: &NcfParams, ck: Option<&std::path::Path>, resume: bool| {
        let valid = Validation {
            set: &valid_set,
            auc: &rank_auc,
        };
        train(p, &side, &set, Some(valid), ck, resume, &mut |_| {}, false).expect("train")
    };
    let full = run(&p, None, false);
    let dir = tempfile::tempdir().expect("tempdir");
    run(
        &NcfParams {
            epochs: 3,
            ..p.clone()
        },
        Some(dir.path()),
        false,
    );
    let resumed = run(&p, Some(dir.path()), true);
    let strip = |m: &NcfTrained| {
        let r = m.reports().iter();
        r.map(|r| (r.epoch, r.loss, r.valid_auc, r.samples))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&resumed), strip(&full));
    assert!(
        full.reports().len() < 12,
        "early stopping should fire: {:?}",
        strip(&full)
    );
    assert!(
        full.reports().len() > 3,
        "stopping before the interruption tests less: {:?}",
        strip(&full)
    );
    assert_eq!(predict_all(&resumed, &set), predict_all(&full, &set));
    // The kept weights are those of the best epoch: its validation AUC is reproduced.
    let best = full
        .reports()
        .iter()
        .filter_map(|r| r.valid_auc)
        .fold(f64::MIN, f64::max);
    let p_valid: Vec<f64> = predict_all(&full, &valid_set)
        .into_iter()
        .map(f64::from)
        .collect();
    let y: Vec<bool> = valid_set.labels.iter().map(|&y| y == 1.0).collect();
    assert_eq!(rank_auc(&y, &p_valid), Some(best));
}

#[test]
fn dense_and_lazy_adam_train_identically_when_every_row_is_in_every_batch() {
    // One batch per epoch holding all 300 rows: every user and item occurs in every batch.
    let (side, set) = toy_ctr(300, 1, 0, 0, 4);
    for u in 0..side.n_users as u32 {
        assert!(set.users.contains(&u), "user {u} missing from the toy set");
    }
    for i in 0..side.n_items as u32 {
        assert!(set.items.contains(&i), "item {i} missing from the toy set");
    }
    let p = |rule| NcfParams {
        batch_size: 300,
        weight_decay: 1e-3,
        variant: Variant::Neumf,
        embedding_optimizer: rule,
        ..toy_params(6)
    };
    let lazy = fit(&p(EmbeddingOptimizer::LazyAdam), &side, &set, None, false);
    let dense = fit(&p(EmbeddingOptimizer::Adam), &side, &set, None, false);
    assert_eq!(lazy.weights(), dense.weights());
    // With small batches they differ (rows absent from a batch keep moving under dense Adam).
    let small = |rule| NcfParams {
        batch_size: 8,
        ..p(rule)
    };
    let lazy = fit(
        &small(EmbeddingOptimizer::LazyAdam),
        &side,
        &set,
        None,
        false,
    );
    let dense = fit(&small(EmbeddingOptimizer::Adam), &side, &set, None, false);
    assert_ne!(lazy.weights(), dense.weights());
}

#[test]
fn resume_restores_the_embedding_rows_optimizer_state() {
    // NeuMF (four tables), both update rules: an interrupted and resumed run equals an
    // uninterrupted one only if every table's moments and the step count are restored.
    let (side, set) = toy_ctr(200, 1, 1, 0, 21);
    for rule in [EmbeddingOptimizer::LazyAdam, EmbeddingOptimizer::Adam] {
        let dir = tempfile::tempdir().expect("tempdir");
        let ck = dir.path().join("ck");
        let p = NcfParams {
            variant: Variant::Neumf,
            embedding_optimizer: rule,
            ..toy_params(4)
        };
        let full = fit(&p, &side, &set, None, false);
        let resumed = interrupted_and_resumed(&p, &side, &set, 1, &ck);
        assert_eq!(resumed.weights(), full.weights(), "{rule:?}");
    }
}

#[test]
fn keep_best_returns_the_best_validation_epoch_without_early_stopping() {
    let (side, set) = toy_ctr(400, 0, 0, 0, 5);
    // Validation labels are the opposite of the train rule: the more the model learns, the
    // worse its validation AUC, so the best epoch is an early one, not the last.
    let (_, mut valid) = toy_ctr(200, 0, 0, 0, 6);
    valid.labels.iter_mut().for_each(|y| *y = 1.0 - *y);
    let auc = |l: &[bool], s: &[f64]| rank_auc(l, s);
    let run = |keep_best: bool| {
        let p = NcfParams {
            keep_best,
            learning_rate: 0.05,
            ..toy_params(8)
        };
        let v = Validation {
            set: &valid,
            auc: &auc,
        };
        train(&p, &side, &set, Some(v), None, false, &mut |_| {}, false).expect("train")
    };
    let best = run(true);
    let last = run(false);
    assert_eq!(
        best.reports().len(),
        8,
        "keep_best alone does not stop early"
    );
    let aucs: Vec<f64> = best
        .reports()
        .iter()
        .map(|r| r.valid_auc.expect("auc"))
        .collect();
    let best_auc = aucs.iter().copied().fold(f64::MIN, f64::max);
    let scored = |m: &NcfTrained| {
        let s: Vec<f64> = predict_all(m, &valid).into_iter().map(f64::from).collect();
        let l: Vec<bool> = valid.labels.iter().map(|&y| y == 1.0).collect();
        rank_auc(&l, &s).expect("auc")
    };
    assert!(
        (scored(&best) - best_auc).abs() < 1e-9,
        "{} vs {best_auc}",
        scored(&best)
    );
    assert!((scored(&last) - aucs[7]).abs() < 1e-9);
    assert!(
        best_auc > aucs[7],
        "the best epoch should not be the last: {aucs:?}"
    );
}
