//! The blocked conjugate gradient (`cg::cg_block`) against the one-row solve it replaces at
//! large f: same steps per row, so the same factors up to the summation order of the shared
//! matrix product; and a fit through the blocked path does not depend on the thread count.

use super::cg::{BLOCK_MIN_FACTORS, BlockScratch, BlockSystem, CG_BLOCK_ROWS, CgScratch};
use super::cg::{RowSystem, cg_block, cg_row};
use super::kernels::Plain;
use super::side::Side;
use super::solver::{Weights, cg_side, regularized_gram};
use super::tests::{fit_with_threads, params, random_matrix};
use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An awkward problem: `f` factors, two full blocks plus 13 rows, 50 items with strengths 1..=3.
/// Rows 5 and 70 have no entries. Row 20 holds only item 0, whose factors are 0: its right-hand
/// side is 0, so from x = 0 its residual is 0 before the first step. Row 100 holds only items 1
/// and 2, whose factors point along coordinate 0, which no other item uses: from x = 0 its
/// residual is an eigenvector of its matrix, so CG solves it in one step (|r|² drops below
/// 1e-20) and must freeze it for the remaining steps.
struct Problem {
    side: Side,
    y: Vec<f32>,
    x0: Vec<f32>,
}

fn problem(f: usize, w0: f32, seed: u64) -> Problem {
    let (n_rows, n_items) = (2 * CG_BLOCK_ROWS + 13, 50);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut rs, mut cs, mut vs) = (vec![], vec![], vec![]);
    for r in 0..n_rows {
        let items: Vec<u32> = match r {
            5 | 70 => vec![],
            20 => vec![0],
            100 => vec![1, 2],
            _ => (3..n_items as u32)
                .filter(|_| rng.random::<f64>() < 0.2)
                .collect(),
        };
        for c in items {
            rs.push(r as u32);
            cs.push(c);
            vs.push(rng.random_range(1..=3) as f32);
        }
    }
    let m = Csr::from_triplets(n_rows, n_items, &rs, &cs, &vs).expect("valid matrix");
    let side = Side::new(&m, Confidence::Linear, 1.0, w0).expect("positive strengths");
    let mut y: Vec<f32> = (0..n_items * f)
        .map(|k| {
            if k % f == 0 {
                0.0
            } else {
                rng.random::<f32>() - 0.5
            }
        })
        .collect();
    y[..f].fill(0.0);
    for i in [1, 2] {
        y[i * f..(i + 1) * f].fill(0.0);
        y[i * f] = 1e-5 * i as f32; // small, so the one-step residual is below 1e-10
    }
    let mut x0: Vec<f32> = (0..n_rows * f).map(|_| rng.random::<f32>() * 0.1).collect();
    for r in [20, 100] {
        x0[r * f..(r + 1) * f].fill(0.0);
    }
    Problem { side, y, x0 }
}

/// `|a − b| ≤ 1e-4 · |b|` per row (Euclidean norms); rows that are 0 in `b` must be 0 in `a`.
fn assert_rows_close(a: &[f32], b: &[f32], f: usize, what: &str) {
    for (r, (ra, rb)) in a.chunks(f).zip(b.chunks(f)).enumerate() {
        let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|t| t as f64 * t as f64).sum::<f64>();
        let diff = norm(&mut ra.iter().zip(rb).map(|(p, q)| p - q)).sqrt();
        let size = norm(&mut rb.iter().copied()).sqrt();
        assert!(
            ra.iter().all(|v| v.is_finite()),
            "{what}: row {r} not finite"
        );
        assert!(
            diff <= 1e-4 * size,
            "{what}: row {r} differs by {diff} (norm {size})"
        );
    }
}

#[test]
fn blocked_cg_equals_the_one_row_solve() {
    let settings = [
        (1.0, RegScaling::None),      // c = 1 entries skipped, c = 2, 3 weighted
        (0.5, RegScaling::Frequency), // every entry weighted, λ scaled per row
        (2.0, RegScaling::None),      // c = 2 entries skipped
    ];
    for f in [37, 101] {
        for (w0, scaling) in settings {
            let pr = problem(f, w0, 11 + f as u64);
            let w = Weights {
                w0,
                lambda: 0.1,
                scaling,
            };
            let a = regularized_gram(&pr.y, pr.side.n_cols, f, w.shared_reg(), w.w0);
            let what = format!("f={f} w0={w0} {scaling:?}");
            let mut one_step = vec![];
            for steps in [1, 3] {
                let (mut rowwise, mut blocked) = (pr.x0.clone(), pr.x0.clone());
                cg_side(&mut rowwise, &pr.y, f, &pr.side, &a, w, steps, false);
                cg_side(&mut blocked, &pr.y, f, &pr.side, &a, w, steps, true);
                assert_rows_close(&blocked, &rowwise, f, &format!("{what} steps={steps}"));
                assert_ne!(rowwise, pr.x0, "{what}: the solve moved the factors");
                for r in [5, 70, 20] {
                    assert!(blocked[r * f..(r + 1) * f].iter().all(|&v| v == 0.0));
                }
                // Row 100 is solved after one step (x = b / μ along coordinate 0), then frozen:
                // more steps leave it exactly as it was.
                let x100 = blocked[100 * f..101 * f].to_vec();
                assert!(
                    x100[0] > 0.0 && x100[1..].iter().all(|&v| v == 0.0),
                    "{what}"
                );
                assert_eq!(x100, rowwise[100 * f..101 * f], "{what}: row 100");
                if steps == 1 {
                    // Its residual is below the early stop: b_0 − μ·x_0 with μ = A_00.
                    let (cols, conf, _) = pr.side.row(100);
                    let mut b0 = 0.0f64;
                    let mut mu = a[0] as f64 + w.row_reg(2, pr.side.n_cols) as f64;
                    for (&i, &c) in cols.iter().zip(conf) {
                        let yi = pr.y[i as usize * f] as f64;
                        b0 += c as f64 * yi;
                        mu += (c - w0) as f64 * yi * yi;
                    }
                    let r0 = b0 - mu * x100[0] as f64;
                    assert!(r0 * r0 < 1e-20, "{what}: residual {r0}");
                    one_step = x100;
                } else {
                    assert_eq!(x100, one_step, "{what}: row 100 moved after converging");
                }
            }
            // The plain (no FMA) instantiation, one block at a time.
            let row_reg = |row: usize| w.row_reg(pr.side.row_len(row), pr.side.n_cols);
            let (mut rowwise, mut blocked) = (pr.x0.clone(), pr.x0.clone());
            let mut cs = CgScratch::new(f);
            for (row, xr) in rowwise.chunks_mut(f).enumerate() {
                let (cols, conf, weighted) = pr.side.row(row);
                let sys = RowSystem {
                    a: &a,
                    w0,
                    reg: row_reg(row),
                };
                cg_row::<Plain>(xr, &pr.y, cols, conf, weighted, sys, 3, &mut cs);
            }
            let mut bs = BlockScratch::new(f);
            for (block, xb) in blocked.chunks_mut(CG_BLOCK_ROWS * f).enumerate() {
                let sys = BlockSystem {
                    y: &pr.y,
                    side: &pr.side,
                    a: &a,
                    w0,
                    row_reg: &row_reg,
                };
                cg_block::<Plain, _>(xb, block * CG_BLOCK_ROWS, sys, 3, &mut bs);
            }
            assert_rows_close(&blocked, &rowwise, f, &format!("{what} plain"));
        }
    }
}

#[test]
fn a_fit_through_the_blocked_path_is_the_same_for_any_thread_count() {
    let f = BLOCK_MIN_FACTORS + 5; // blocked, and not a multiple of the SIMD width
    let m = random_matrix(150, 90, 0.08, 5); // neither side a multiple of the block
    for p in [
        params(f, 0.05, 3, Solver::Cg { steps: 3 }),
        AlsParams {
            unobserved_weight: 0.3,
            reg_scaling: RegScaling::Frequency,
            ..params(f, 0.01, 3, Solver::Cg { steps: 2 })
        },
    ] {
        let one = fit_with_threads(1, &m, &p);
        assert_eq!(fit_with_threads(2, &m, &p), one);
        assert!(one.user_factors.iter().all(|v| v.is_finite()));
        // It is a fit: observed pairs score higher than unobserved ones on average.
        let (mut obs, mut n_obs, mut all) = (0.0f64, 0usize, 0.0f64);
        for u in 0..m.n_rows {
            let xu = &one.user_factors[u * f..(u + 1) * f];
            let (cols, _) = m.row(u);
            for i in 0..m.n_cols {
                let yi = &one.item_factors[i * f..(i + 1) * f];
                let s: f32 = xu.iter().zip(yi).map(|(a, b)| a * b).sum();
                all += s as f64;
                if cols.contains(&(i as u32)) {
                    obs += s as f64;
                    n_obs += 1;
                }
            }
        }
        let mean_all = all / (m.n_rows * m.n_cols) as f64;
        assert!(obs / n_obs as f64 > mean_all + 0.1, "{p:?}");
    }
}
