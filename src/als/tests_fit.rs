//! Fit-level tests, part 2: determinism, resume, confidence, the loss and input errors.

use super::side::Side;
use super::solver::{Weights, loss};
use super::tests::{dense, fit_all, fit_with_threads, params, predict, random_matrix};
use super::*;

#[test]
fn same_seed_gives_identical_factors_for_any_thread_count() {
    let m = random_matrix(300, 200, 0.05, 3);
    let p = params(16, 0.01, 4, Solver::Cg { steps: 3 });
    let run = |threads: usize| fit_with_threads(threads, &m, &p);
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
    assert_eq!(run(3), one);
    let other_seed = fit_all(
        &m,
        &AlsParams {
            seed: 7,
            ..p.clone()
        },
    );
    assert_ne!(other_seed, one);
    let chol = AlsParams {
        solver: Solver::Cholesky,
        ..p
    };
    assert_eq!(
        fit_with_threads(1, &m, &chol),
        fit_with_threads(2, &m, &chol)
    );
}

#[test]
fn resuming_from_a_saved_state_equals_an_uninterrupted_fit() {
    let m = random_matrix(60, 50, 0.1, 4);
    let p = AlsParams {
        compute_loss: true,
        ..params(8, 0.05, 7, Solver::Cg { steps: 3 })
    };
    let full = fit_all(&m, &p);
    let mut saved = None;
    let mut reports = vec![];
    let stopped = fit(&m, &p, init(60, 50, &p), &mut |report, state| {
        reports.push(report);
        if report.iteration == 3 {
            saved = Some(state.clone());
            return Err(AlsError::Stopped {
                reason: "checkpoint test".into(),
            });
        }
        Ok(())
    });
    assert_eq!(
        stopped,
        Err(AlsError::Stopped {
            reason: "checkpoint test".into()
        })
    );
    assert_eq!(
        reports.iter().map(|r| r.iteration).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(reports.iter().all(|r| r.loss.is_some() && r.seconds >= 0.0));
    let state = saved.expect("state saved at iteration 3");
    assert_eq!(state.iterations_done, 3);
    let mut later = vec![];
    let resumed = fit(&m, &p, state, &mut |r, _| {
        later.push(r.iteration);
        Ok(())
    })
    .expect("resumed fit");
    assert_eq!(later, vec![4, 5, 6, 7]);
    assert_eq!(resumed, full);
}

#[test]
fn hu_confidence_equals_linear_on_shifted_strengths() {
    // Hu with alpha 1 on r is c = 1 + r, which is Linear with alpha 1 on r + 1.
    let m = random_matrix(20, 15, 0.3, 8);
    let mut shifted = m.clone();
    shifted.data.iter_mut().for_each(|v| *v += 1.0);
    let hu = AlsParams {
        confidence: Confidence::Hu,
        ..params(4, 0.1, 5, Solver::Cg { steps: 3 })
    };
    let lin = AlsParams {
        confidence: Confidence::Linear,
        ..hu.clone()
    };
    assert_eq!(fit_all(&m, &hu), fit_all(&shifted, &lin));
    assert_ne!(fit_all(&m, &hu), fit_all(&m, &lin));
}

#[test]
fn loss_matches_brute_force_and_never_rises_with_exact_solves() {
    let m = random_matrix(12, 9, 0.3, 21);
    let p = AlsParams {
        alpha: 2.0,
        compute_loss: true,
        ..params(3, 0.2, 6, Solver::Cholesky)
    };
    let mut losses = vec![];
    let model = fit(&m, &p, init(12, 9, &p), &mut |r, _| {
        losses.push(r.loss.expect("loss requested"));
        Ok(())
    })
    .expect("fit");
    for w in losses.windows(2) {
        assert!(w[1] <= w[0] * (1.0 + 1e-6), "loss rose: {losses:?}");
    }
    // Brute force over all 12 × 9 pairs.
    // Linear confidence with alpha 2: c = 2·r observed (preference 1), c = 1 missing.
    let r = dense(&m);
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (u, row) in r.iter().enumerate() {
        for (i, &rui) in row.iter().enumerate() {
            let (conf, pref) = if rui > 0.0 {
                (2.0 * rui as f64, 1.0)
            } else {
                (1.0, 0.0)
            };
            let e = pref - predict(&model, u, i) as f64;
            num += conf * e * e;
            den += conf;
        }
    }
    let sq = |v: &[f32]| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>();
    num += 0.2 * (sq(&model.user_factors) + sq(&model.item_factors));
    let got = loss(
        &model.user_factors,
        &model.item_factors,
        3,
        &Side::new(&m, p.confidence, p.alpha, 1.0).expect("positive values"),
        &Side::new(&m.transpose(), p.confidence, p.alpha, 1.0).expect("positive values"),
        Weights::of(&p),
    );
    assert!(
        (got - num / den).abs() < 1e-5,
        "loss {got} vs brute force {}",
        num / den
    );
    assert!((losses[5] - got).abs() < 1e-12);
}

#[test]
fn empty_rows_get_zero_factors() {
    let m = Csr::from_triplets(3, 3, &[0, 0, 2], &[0, 2, 2], &[1.0, 1.0, 1.0]).expect("valid");
    for solver in [Solver::Cg { steps: 3 }, Solver::Cholesky] {
        let model = fit_all(&m, &params(2, 0.1, 3, solver));
        assert_eq!(&model.user_factors[2..4], &[0.0, 0.0]); // user 1 has no items
        assert_eq!(&model.item_factors[2..4], &[0.0, 0.0]); // item 1 has no users
    }
}

#[test]
fn fit_rejects_bad_input() {
    let p = params(2, 0.1, 2, Solver::Cg { steps: 3 });
    let m = Csr::from_triplets(2, 2, &[0, 1], &[0, 1], &[1.0, -1.0]).expect("finite");
    let state = init(2, 2, &p);
    assert_eq!(
        fit(&m, &p, state.clone(), &mut |_, _| Ok(())),
        Err(AlsError::NonPositiveValue {
            row: 1,
            col: 1,
            value: -1.0
        })
    );
    let good = Csr::from_triplets(2, 2, &[0, 1], &[0, 1], &[1.0, 1.0]).expect("valid");
    let wrong_shape = init(3, 2, &p);
    assert!(matches!(
        fit(&good, &p, wrong_shape, &mut |_, _| Ok(())),
        Err(AlsError::ShapeMismatch {
            expected: 2,
            got: 3,
            ..
        })
    ));
    let wider = AlsParams {
        factors: 5,
        ..p.clone()
    };
    assert!(matches!(
        fit(&good, &wider, state.clone(), &mut |_, _| Ok(())),
        Err(AlsError::ShapeMismatch {
            expected: 5,
            got: 2,
            ..
        })
    ));
    let bad = AlsParams { iterations: 0, ..p };
    assert_eq!(
        fit(&good, &bad, state, &mut |_, _| Ok(())),
        Err(AlsError::ZeroIterations { iterations: 0 })
    );
}

#[test]
fn cholesky_without_regularization_reports_singular_rows() {
    // Both items have factors (1, 0), so YᵀY = [[2, 0], [0, 0]] is singular when λ = 0.
    let m = Csr::from_triplets(1, 2, &[0, 0], &[0, 1], &[1.0, 1.0]).expect("valid");
    let mut state = init(1, 2, &params(2, 0.0, 1, Solver::Cholesky));
    state.model.item_factors = vec![1.0, 0.0, 1.0, 0.0];
    let p = params(2, 0.0, 1, Solver::Cholesky);
    assert_eq!(
        fit(&m, &p, state, &mut |_, _| Ok(())),
        Err(AlsError::NotPositiveDefinite {
            side: "user",
            row: 0
        })
    );
}
