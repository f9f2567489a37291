//! Fit-level tests, part 1: reconstruction, the checkerboard contract and solver agreement.
//! Shared helpers live here; part 2 is `tests_fit.rs`.

use super::cg::{CgScratch, cg_row};
use super::kernels::Plain;
use super::solver::{CholScratch, RowSystem, cholesky_row, regularized_gram};
use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(super) fn fit_all(m: &Csr, p: &AlsParams) -> AlsModel {
    fit(m, p, init(m.n_rows, m.n_cols, p), &mut |_, _| Ok(())).expect("fit succeeds")
}

/// `fit_all` on a rayon pool of `threads` threads.
pub(super) fn fit_with_threads(threads: usize, m: &Csr, p: &AlsParams) -> AlsModel {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(|| fit_all(m, p))
}

pub(super) fn dense(m: &Csr) -> Vec<Vec<f32>> {
    let mut d = vec![vec![0.0; m.n_cols]; m.n_rows];
    for (r, row) in d.iter_mut().enumerate() {
        let (cols, vals) = m.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            row[c as usize] = v;
        }
    }
    d
}

pub(super) fn from_dense(d: &[Vec<f32>]) -> Csr {
    let (mut rows, mut cols, mut vals) = (vec![], vec![], vec![]);
    for (r, row) in d.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            if v != 0.0 {
                rows.push(r as u32);
                cols.push(c as u32);
                vals.push(v);
            }
        }
    }
    Csr::from_triplets(
        d.len(),
        d.first().map_or(0, |r| r.len()),
        &rows,
        &cols,
        &vals,
    )
    .expect("valid matrix")
}

/// A seeded random matrix with about `density · rows · cols` entries of strength 1..=3.
pub(super) fn random_matrix(rows: usize, cols: usize, density: f64, seed: u64) -> Csr {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut rs, mut cs, mut vs) = (vec![], vec![], vec![]);
    for r in 0..rows {
        for c in 0..cols {
            if rng.random::<f64>() < density {
                rs.push(r as u32);
                cs.push(c as u32);
                vs.push(rng.random_range(1..=3) as f32);
            }
        }
    }
    Csr::from_triplets(rows, cols, &rs, &cs, &vs).expect("valid matrix")
}

pub(super) fn predict(m: &AlsModel, u: usize, i: usize) -> f32 {
    m.score(u as u32, i as u32)
}

pub(super) fn params(
    factors: usize,
    regularization: f32,
    iterations: usize,
    solver: Solver,
) -> AlsParams {
    AlsParams {
        factors,
        regularization,
        iterations,
        solver,
        ..AlsParams::default()
    }
}

/// implicit's `als_test.py::test_factorize`: with as many factors as items and no
/// regularization, the fit reproduces the preference matrix P = (counts > 0) exactly.
#[test]
fn rebuilds_small_preference_matrix_exactly() {
    let counts = from_dense(&[
        vec![1., 1., 0., 1., 0., 0.],
        vec![0., 1., 1., 1., 0., 0.],
        vec![1., 0., 1., 0., 0., 0.],
        vec![1., 1., 0., 0., 0., 0.],
        vec![0., 0., 1., 1., 0., 1.],
        vec![0., 1., 0., 0., 0., 1.],
        vec![0., 0., 0., 0., 1., 1.],
    ]);
    let p = dense(&counts);
    for solver in [Solver::Cholesky, Solver::Cg { steps: 3 }] {
        let params = AlsParams {
            alpha: 2.0,
            ..params(6, 0.0, 15, solver)
        };
        let model = fit_all(&counts, &params);
        for (u, row) in p.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                let got = predict(&model, u, i);
                assert!(
                    (got - v).abs() < 1e-4,
                    "{solver:?}: ({u},{i}) = {got}, want {v}"
                );
            }
        }
    }
}

/// implicit's `recommender_base_test`: user u liked every item of its parity except item u,
/// so item u must be its top recommendation once its training items are excluded.
#[test]
fn checkerboard_held_out_diagonal_ranks_first() {
    let n = 50;
    let d: Vec<Vec<f32>> = (0..n)
        .map(|u| {
            (0..n)
                .map(|i| if i % 2 == u % 2 && i != u { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let m = from_dense(&d);
    let model = fit_all(&m, &params(32, 0.0, 15, Solver::Cg { steps: 3 }));
    for u in 0..n {
        let (seen, _) = m.row(u);
        let top = model.recommend(u as u32, 1, seen);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].0, u as u32, "user {u}");
    }
    let (seen, _) = m.row(0);
    assert_eq!(model.recommend(0, 10_000, seen).len(), n - seen.len());
}

#[test]
fn cg_with_enough_steps_matches_the_exact_solve() {
    let (n_items, f) = (40, 8);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let y: Vec<f32> = (0..n_items * f)
        .map(|_| rng.random::<f32>() - 0.5)
        .collect();
    let cols: Vec<u32> = vec![1, 4, 9, 17, 30, 33];
    let conf: Vec<f32> = vec![2.0, 5.0, 1.0, 3.0, 0.5, 8.0];
    let a = regularized_gram(&y, n_items, f, 0.1, 1.0);
    let sys = RowSystem {
        a: &a,
        w0: 1.0,
        reg: 0.0,
    };
    let mut exact = vec![0.0f32; f];
    cholesky_row(&mut exact, &y, &cols, &conf, sys, &mut CholScratch::new(f)).expect("PD");
    let mut x = vec![0.0f32; f];
    x[0] = 1.0; // a warm start away from the solution
    cg_row::<Plain>(
        &mut x,
        &y,
        &cols,
        &conf,
        cols.len(),
        sys,
        3 * f,
        &mut CgScratch::new(f),
    );
    for (c, e) in x.iter().zip(&exact) {
        assert!(
            (c - e).abs() < 1e-4 * (1.0 + e.abs()),
            "cg {c} vs exact {e}"
        );
    }
    // The same row arranged with its c = 1 entry (item 9) last and skipped in the products.
    let (cols2, conf2) = ([1u32, 4, 17, 30, 33, 9], [2.0f32, 5.0, 3.0, 0.5, 8.0, 1.0]);
    let mut x2 = vec![0.0f32; f];
    x2[0] = 1.0;
    cg_row::<Plain>(
        &mut x2,
        &y,
        &cols2,
        &conf2,
        5,
        sys,
        3 * f,
        &mut CgScratch::new(f),
    );
    for (c, e) in x2.iter().zip(&exact) {
        assert!(
            (c - e).abs() < 1e-4 * (1.0 + e.abs()),
            "skipping cg {c} vs exact {e}"
        );
    }
    // And the exact solution really solves A x = b.
    let mut ax = vec![0.0f64; f];
    for j in 0..f {
        for k in 0..f {
            ax[j] += a[j * f + k] as f64 * exact[k] as f64;
        }
    }
    for (&i, &c) in cols.iter().zip(&conf) {
        let yi = &y[i as usize * f..][..f];
        let yx: f64 = yi
            .iter()
            .zip(&exact)
            .map(|(p, q)| *p as f64 * *q as f64)
            .sum();
        for j in 0..f {
            ax[j] += (c as f64 - 1.0) * yx * yi[j] as f64 - c as f64 * yi[j] as f64;
        }
    }
    assert!(ax.iter().all(|r| r.abs() < 1e-4), "residual {ax:?}");
}

#[test]
fn cg_and_cholesky_fits_agree_after_many_iterations() {
    let m = random_matrix(30, 40, 0.2, 11);
    let cg = fit_all(&m, &params(4, 0.1, 60, Solver::Cg { steps: 3 }));
    let ch = fit_all(&m, &params(4, 0.1, 60, Solver::Cholesky));
    let mut worst = 0.0f32;
    for u in 0..30 {
        for i in 0..40 {
            worst = worst.max((predict(&cg, u, i) - predict(&ch, u, i)).abs());
        }
    }
    assert!(worst < 1e-3, "largest score difference {worst}");
}
