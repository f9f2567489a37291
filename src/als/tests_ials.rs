//! Tests of the iALS settings (Rendle et al. 2022): the unobserved weight α0, frequency-scaled
//! regularisation and the normal initialisation. With α0 = 1 and no scaling the fit must be
//! bit for bit the one before these settings existed: a verbatim reference of that solver is
//! kept here to compare against.

use super::cg::{CgScratch, cg_row};
use super::kernels::{Arith, Fused, Plain, Simd, axpy, dot, gram, symv};
use super::side::Side;
use super::solver::{
    CholScratch, RowSystem, Weights, cholesky_row, cholesky_solve_lower, loss, regularized_gram,
};
use super::tests::{dense, fit_all, params, predict, random_matrix};
use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The conjugate-gradient row solve as it was before α0 and per-row λ (prefetching dropped:
/// it never changes results).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn old_cg_row<A: Arith>(
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    weighted: usize,
    a: &[f32],
    steps: usize,
) {
    let f = x.len();
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    let (w_cols, plain_cols) = cols.split_at(weighted);
    let w_conf = &conf[..weighted];
    let (mut r, mut p, mut ap) = (vec![0.0; f], vec![0.0; f], vec![0.0; f]);
    symv::<A>(a, x, &mut r);
    for v in r.iter_mut() {
        *v = -*v;
    }
    for (&i, &c) in w_cols.iter().zip(w_conf) {
        let yi = &y[i as usize * f..][..f];
        let t = c - (c - 1.0) * dot::<A>(yi, x);
        axpy::<A>(t, yi, &mut r);
    }
    for &i in plain_cols {
        for (rv, &yv) in r.iter_mut().zip(&y[i as usize * f..][..f]) {
            *rv += yv;
        }
    }
    p.copy_from_slice(&r);
    let mut rs_old = dot::<A>(&r, &r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..steps {
        symv::<A>(a, &p, &mut ap);
        for (&i, &c) in w_cols.iter().zip(w_conf) {
            let yi = &y[i as usize * f..][..f];
            let t = (c - 1.0) * dot::<A>(yi, &p);
            axpy::<A>(t, yi, &mut ap);
        }
        let alpha = rs_old / dot::<A>(&p, &ap);
        axpy::<A>(alpha, &p, x);
        axpy::<A>(-alpha, &ap, &mut r);
        let rs_new = dot::<A>(&r, &r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (pv, &rv) in p.iter_mut().zip(r.iter()) {
            *pv = A::madd(beta, *pv, rv);
        }
        rs_old = rs_new;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn old_cg_row_fused(x: &mut [f32], y: &[f32], row: &OldRow, a: &[f32], steps: usize) {
    old_cg_row::<Fused>(x, y, &row.0, &row.1, row.2, a, steps)
}

/// One row in the old layout: columns and confidences with `c ≠ 1` first, and their count.
type OldRow = (Vec<u32>, Vec<f32>, usize);

fn old_rows(m: &Csr, p: &AlsParams) -> Vec<OldRow> {
    (0..m.n_rows)
        .map(|r| {
            let (cols, vals) = m.row(r);
            let c: Vec<f32> = vals.iter().map(|&v| p.confidence.of(p.alpha, v)).collect();
            let mut row: OldRow = (vec![], vec![], 0);
            for pass in [true, false] {
                for (&i, &ci) in cols.iter().zip(&c) {
                    if (ci != 1.0) == pass {
                        row.0.push(i);
                        row.1.push(ci);
                    }
                }
                if pass {
                    row.2 = row.0.len();
                }
            }
            row
        })
        .collect()
}

/// The old exact row solve: `YᵀY + λI + Σ (c − 1) y yᵀ` in f64, Cholesky.
fn old_cholesky_row(x: &mut [f32], y: &[f32], row: &OldRow, a_shared: &[f32]) {
    let f = x.len();
    if row.0.is_empty() {
        x.fill(0.0);
        return;
    }
    let mut a: Vec<f64> = a_shared.iter().map(|&v| v as f64).collect();
    let mut b = vec![0.0f64; f];
    for (&i, &c) in row.0.iter().zip(&row.1) {
        let yd: Vec<f64> = y[i as usize * f..][..f].iter().map(|&v| v as f64).collect();
        let c = c as f64;
        for (bv, &v) in b.iter_mut().zip(&yd) {
            *bv += c * v;
        }
        if c == 1.0 {
            continue;
        }
        for j in 0..f {
            let w = (c - 1.0) * yd[j];
            for (av, &v) in a[j * f..j * f + j + 1].iter_mut().zip(&yd) {
                *av += w * v;
            }
        }
    }
    cholesky_solve_lower(&mut a, &mut b, f).expect("positive definite");
    for (xv, &bv) in x.iter_mut().zip(&b) {
        *xv = bv as f32;
    }
}

/// The whole fit as it was: uniform[0, 0.01) init, then users and items in turn.
fn old_fit(m: &Csr, p: &AlsParams) -> AlsModel {
    let f = p.factors;
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n * f).map(|_| rng.random::<f32>() * 0.01).collect() };
    let mut xu = draw(m.n_rows);
    let mut yi = draw(m.n_cols);
    let t = m.transpose();
    let (urows, irows) = (old_rows(m, p), old_rows(&t, p));
    let simd = Simd::detect();
    let half = |x: &mut [f32], y: &[f32], rows: &[OldRow], n_y: usize| {
        let mut a = gram(y, n_y, f);
        for d in 0..f {
            a[d * f + d] += p.regularization;
        }
        for (row, xr) in rows.iter().zip(x.chunks_mut(f)) {
            match p.solver {
                Solver::Cholesky => old_cholesky_row(xr, y, row, &a),
                Solver::Cg { steps } => match simd {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `Avx2Fma` is only detected on CPUs with AVX2 and FMA.
                    Simd::Avx2Fma => unsafe { old_cg_row_fused(xr, y, row, &a, steps) },
                    _ => old_cg_row::<Plain>(xr, y, &row.0, &row.1, row.2, &a, steps),
                },
            }
        }
    };
    for _ in 0..p.iterations {
        half(&mut xu, &yi, &urows, m.n_cols);
        half(&mut yi, &xu, &irows, m.n_rows);
    }
    AlsModel {
        factors: f,
        user_factors: xu,
        item_factors: yi,
        n_users: m.n_rows,
        n_items: m.n_cols,
    }
}

#[test]
fn unobserved_weight_1_and_no_scaling_equal_the_old_fit_bit_for_bit() {
    let m = random_matrix(70, 50, 0.15, 31);
    for (confidence, alpha) in [(Confidence::Linear, 1.0), (Confidence::Hu, 2.0)] {
        for solver in [Solver::Cg { steps: 3 }, Solver::Cholesky] {
            let p = AlsParams {
                confidence,
                alpha,
                unobserved_weight: 1.0,
                reg_scaling: RegScaling::None,
                ..params(12, 0.05, 4, solver)
            };
            let new = fit_all(&m, &p);
            assert_eq!(new, old_fit(&m, &p), "{confidence:?} {solver:?}");
            // The new settings really change the fit.
            let scaled = AlsParams {
                unobserved_weight: 0.5,
                ..p.clone()
            };
            assert_ne!(fit_all(&m, &scaled), new);
        }
    }
}

/// The hand-worked case: one factor, item factors y = (1, 2, 3), a user with items 0 and 2 of
/// strength 2 and 1 (linear confidence, alpha 1: c = 2 and 1), α0 = 0.5, λ = 0.1, frequency
/// scaling: λ_u = 0.1·(2 + 0.5·3) = 0.35,
/// A = 0.5·(1 + 4 + 9) + 0.35 + (2 − 0.5)·1² + (1 − 0.5)·3² = 7 + 0.35 + 1.5 + 4.5 = 13.35,
/// b = 2·1 + 1·3 = 5, so x = 5 / 13.35.
#[test]
fn frequency_scaled_normal_equations_match_a_hand_worked_row() {
    let expected = 5.0 / 13.35;
    let p = AlsParams {
        factors: 1,
        regularization: 0.1,
        alpha: 1.0,
        confidence: Confidence::Linear,
        unobserved_weight: 0.5,
        reg_scaling: RegScaling::Frequency,
        iterations: 1,
        solver: Solver::Cholesky,
        ..AlsParams::default()
    };
    let w = Weights::of(&p);
    let y = [1.0f32, 2.0, 3.0];
    let a = regularized_gram(&y, 3, 1, w.shared_reg(), w.w0);
    assert_eq!(a, vec![7.0]);
    let sys = RowSystem {
        a: &a,
        w0: w.w0,
        reg: w.row_reg(2, 3),
    };
    assert!((sys.reg - 0.35).abs() < 1e-6);
    let (cols, conf) = ([0u32, 2], [2.0f32, 1.0]);
    let mut x = [0.0f32];
    cholesky_row(&mut x, &y, &cols, &conf, sys, &mut CholScratch::new(1)).expect("PD");
    assert!((x[0] - expected as f32).abs() < 1e-6, "{}", x[0]);
    // One CG step solves a 1 × 1 system exactly.
    let mut xc = [0.3f32];
    cg_row::<Plain>(&mut xc, &y, &cols, &conf, 2, sys, 1, &mut CgScratch::new(1));
    assert!((xc[0] - expected as f32).abs() < 1e-6, "{}", xc[0]);

    // The same row through the whole fit: the user half-step uses the item factors of the
    // state, so after one iteration user 0 holds x. User 1 (item 1 only, c = 1):
    // λ_1 = 0.1·(1 + 1.5) = 0.25, A = 7 + 0.25 + 0.5·4 = 9.25, b = 2, x = 2 / 9.25.
    let m = Csr::from_triplets(2, 3, &[0, 0, 1], &[0, 2, 1], &[2.0, 1.0, 1.0]).expect("valid");
    let mut state = init(2, 3, &p);
    state.model.item_factors = y.to_vec();
    let fitted = fit(&m, &p, state, &mut |_, _| Ok(())).expect("fit");
    let u = &fitted.user_factors;
    assert!((u[0] - expected as f32).abs() < 1e-6, "{u:?}");
    assert!((u[1] - 2.0 / 9.25).abs() < 1e-6, "{u:?}");
    // Items then solve against those users with λ_i = 0.1·(|U_i| + 0.5·2):
    // item 0 (user 0, c = 2): A = 0.5·|u|² + 0.1·2 + 1.5·u0², b = 2·u0.
    let uu = (u[0] * u[0] + u[1] * u[1]) as f64;
    let u0 = u[0] as f64;
    let item0 = 2.0 * u0 / (0.5 * uu + 0.2 + 1.5 * u0 * u0);
    assert!(
        (fitted.item_factors[0] as f64 - item0).abs() < 1e-5,
        "{} vs {item0}",
        fitted.item_factors[0]
    );
}

#[test]
fn loss_with_unobserved_weight_and_scaling_matches_brute_force() {
    let m = random_matrix(10, 8, 0.3, 5);
    let p = AlsParams {
        alpha: 3.0,
        confidence: Confidence::Hu,
        unobserved_weight: 0.25,
        reg_scaling: RegScaling::Frequency,
        ..params(3, 0.02, 3, Solver::Cholesky)
    };
    let model = fit_all(&m, &p);
    let r = dense(&m);
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (u, row) in r.iter().enumerate() {
        for (i, &rui) in row.iter().enumerate() {
            let (c, pref) = if rui > 0.0 {
                (1.0 + 3.0 * rui as f64, 1.0)
            } else {
                (0.25, 0.0)
            };
            let e = pref - predict(&model, u, i) as f64;
            num += c * e * e;
            den += c;
        }
    }
    let sq = |v: &[f32]| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>();
    for (u, row) in r.iter().enumerate() {
        let n = row.iter().filter(|&&v| v > 0.0).count() as f64;
        num += 0.02 * (n + 0.25 * 8.0) * sq(&model.user_factors[u * 3..][..3]);
    }
    for i in 0..8 {
        let n = r.iter().filter(|row| row[i] > 0.0).count() as f64;
        num += 0.02 * (n + 0.25 * 10.0) * sq(&model.item_factors[i * 3..][..3]);
    }
    let users = Side::new(&m, p.confidence, p.alpha, 0.25).expect("positive");
    let items = Side::new(&m.transpose(), p.confidence, p.alpha, 0.25).expect("positive");
    let got = loss(
        &model.user_factors,
        &model.item_factors,
        3,
        &users,
        &items,
        Weights::of(&p),
    );
    assert!((got - num / den).abs() < 1e-5, "{got} vs {}", num / den);
}

#[test]
fn cg_with_unobserved_weight_and_scaling_converges_to_the_exact_solve() {
    let m = random_matrix(30, 40, 0.2, 12);
    for w0 in [0.1f32, 3.0] {
        let p = |solver| AlsParams {
            unobserved_weight: w0,
            reg_scaling: RegScaling::Frequency,
            ..params(4, 0.01, 60, solver)
        };
        let cg = fit_all(&m, &p(Solver::Cg { steps: 3 }));
        let ch = fit_all(&m, &p(Solver::Cholesky));
        let mut worst = 0.0f32;
        for u in 0..30 {
            for i in 0..40 {
                worst = worst.max((predict(&cg, u, i) - predict(&ch, u, i)).abs());
            }
        }
        assert!(worst < 2e-3, "w0 {w0}: largest score difference {worst}");
    }
}

#[test]
fn normal_init_has_the_requested_spread_and_is_seeded() {
    let p = AlsParams {
        init_std: Some(0.1 / (64f32).sqrt()),
        factors: 64,
        ..AlsParams::default()
    };
    let s = init(200, 100, &p);
    let v = &s.model.user_factors;
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let sd = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 0.001, "mean {mean}");
    assert!((sd - 0.0125).abs() < 0.0005, "sd {sd}");
    assert!(v.iter().any(|&x| x < 0.0));
    assert_eq!(init(200, 100, &p), s);
    // Absent: the uniform[0, 0.01) draw.
    let u = init(200, 100, &AlsParams::default());
    assert!(
        u.model
            .user_factors
            .iter()
            .all(|&x| (0.0..0.01).contains(&x))
    );
}
