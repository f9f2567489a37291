//! The half-iteration (every row of one side against the other side's factors), the exact
//! Cholesky row solve and the training loss; the conjugate-gradient solves are in `cg`.
//!
//! Row u of one half-iteration solves `A x = b` with
//! `A = α0·YᵀY + λ_u I + Σ_i (c_i − α0) y_i y_iᵀ` and `b = Σ_i c_i y_i`, the sums over the
//! row's stored entries i with confidences c_i. `α0·YᵀY` (plus `λI` when λ is not scaled) is
//! shared by all rows; a frequency-scaled λ_u is added per row.

pub(crate) use super::cg::RowSystem;
use super::cg::{
    BLOCK_MIN_FACTORS, BlockScratch, BlockSystem, CG_BLOCK_ROWS, CgScratch, cg_block_dispatch,
    cg_row_dispatch, prefetch_entries,
};
use super::kernels::{Plain, Simd, axpy, dot, gram, symv};
use super::side::Side;
use super::{AlsError, AlsParams, RegScaling, Solver};
use rayon::prelude::*;

/// The unobserved weight and regularisation of one fit: what turns `YᵀY` into each row's
/// matrix besides the row's own entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Weights {
    /// α0, the weight of the unobserved pairs (the Gramian term).
    pub(crate) w0: f32,
    /// λ.
    pub(crate) lambda: f32,
    pub(crate) scaling: RegScaling,
}

impl Weights {
    pub(crate) fn of(p: &AlsParams) -> Weights {
        Weights {
            w0: p.unobserved_weight,
            lambda: p.regularization,
            scaling: p.reg_scaling,
        }
    }

    /// The λ in the shared matrix `α0·YᵀY + λI` (0 when λ is scaled per row).
    pub(crate) fn shared_reg(&self) -> f32 {
        match self.scaling {
            RegScaling::None => self.lambda,
            RegScaling::Frequency => 0.0,
        }
    }

    /// The λ added to one row's diagonal on top of the shared matrix: `λ·(n + α0·n_other)`
    /// for a row with `n` entries under frequency scaling, else 0.
    pub(crate) fn row_reg(&self, n: usize, n_other: usize) -> f32 {
        match self.scaling {
            RegScaling::None => 0.0,
            RegScaling::Frequency => self.lambda * (n as f32 + self.w0 * n_other as f32),
        }
    }

    /// The whole λ of a row (for the loss).
    fn total_reg(&self, n: usize, n_other: usize) -> f32 {
        self.shared_reg() + self.row_reg(n, n_other)
    }
}

/// Solves every row of `x` (`conf.n_rows × f`, row-major, updated in place) against the fixed
/// factors `y` (`conf.n_cols × f`), with confidences `conf`. Rows without entries become 0.
/// Rows are solved in parallel, one at a time or (CG from [`BLOCK_MIN_FACTORS`] factors on) in
/// fixed blocks of [`CG_BLOCK_ROWS`] consecutive rows; each job reads only `y`, `conf` and the
/// shared Gram matrix and writes only its own rows, so the result does not depend on the
/// thread count.
pub(crate) fn solve_side(
    x: &mut [f32],
    y: &[f32],
    f: usize,
    conf: &Side,
    w: Weights,
    solver: Solver,
    side: &'static str,
) -> Result<(), AlsError> {
    assert!(
        x.len() == conf.n_rows * f && y.len() == conf.n_cols * f,
        "solve_side shapes"
    );
    let a = regularized_gram(y, conf.n_cols, f, w.shared_reg(), w.w0);
    let row_reg = |row: usize| w.row_reg(conf.row_len(row), conf.n_cols);
    match solver {
        Solver::Cg { steps } => {
            cg_side(x, y, f, conf, &a, w, steps, f >= BLOCK_MIN_FACTORS);
            Ok(())
        }
        Solver::Cholesky => x.par_chunks_mut(f).enumerate().try_for_each_init(
            || CholScratch::new(f),
            |scratch, (row, xu)| {
                let (cols, c, _) = conf.row(row);
                let sys = RowSystem {
                    a: &a,
                    w0: w.w0,
                    reg: row_reg(row),
                };
                cholesky_row(xu, y, cols, c, sys, scratch)
                    .map_err(|NotPd| AlsError::NotPositiveDefinite { side, row })
            },
        ),
    }
}

/// The conjugate-gradient half-iteration on the shared matrix `a` (from
/// [`regularized_gram`]): in blocks of [`CG_BLOCK_ROWS`] consecutive rows when `blocked`, else
/// one row at a time. Both do the same steps per row; only the summation order of `a`'s
/// products differs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cg_side(
    x: &mut [f32],
    y: &[f32],
    f: usize,
    conf: &Side,
    a: &[f32],
    w: Weights,
    steps: usize,
    blocked: bool,
) {
    let row_reg = |row: usize| w.row_reg(conf.row_len(row), conf.n_cols);
    let simd = Simd::detect();
    if blocked {
        x.par_chunks_mut(CG_BLOCK_ROWS * f)
            .enumerate()
            .for_each_init(
                || BlockScratch::new(f),
                |scratch, (block, xb)| {
                    let sys = BlockSystem {
                        y,
                        side: conf,
                        a,
                        w0: w.w0,
                        row_reg: &row_reg,
                    };
                    cg_block_dispatch(simd, xb, block * CG_BLOCK_ROWS, sys, steps, scratch);
                },
            );
    } else {
        x.par_chunks_mut(f).enumerate().for_each_init(
            || CgScratch::new(f),
            |scratch, (row, xu)| {
                let (cols, c, weighted) = conf.row(row);
                // The next row this thread is likely to solve: warm its first factor rows.
                prefetch_entries(y, conf.row(row + 1).0, f);
                let sys = RowSystem {
                    a,
                    w0: w.w0,
                    reg: row_reg(row),
                };
                cg_row_dispatch(simd, xu, y, cols, c, weighted, sys, steps, scratch);
            },
        );
    }
}

/// `w0·YᵀY + λI` (`YᵀY + λI` bit for bit when `w0 = 1`).
pub(crate) fn regularized_gram(
    y: &[f32],
    n: usize,
    f: usize,
    regularization: f32,
    w0: f32,
) -> Vec<f32> {
    let mut a = gram(y, n, f);
    if w0 != 1.0 {
        a.iter_mut().for_each(|v| *v *= w0);
    }
    for d in 0..f {
        a[d * f + d] += regularization;
    }
    a
}

/// The system was not positive definite.
#[derive(Debug)]
pub(crate) struct NotPd;

/// Per-thread buffers of the exact solve: the f × f system and right-hand side in f64.
pub(crate) struct CholScratch {
    a: Vec<f64>,
    b: Vec<f64>,
    yd: Vec<f64>,
}

impl CholScratch {
    pub(crate) fn new(f: usize) -> Self {
        CholScratch {
            a: vec![0.0; f * f],
            b: vec![0.0; f],
            yd: vec![0.0; f],
        }
    }
}

/// Exact solve of one row: builds the lower triangle of `A` and `b` in f64 and solves by
/// Cholesky. Rows without entries become 0.
pub(crate) fn cholesky_row(
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    sys: RowSystem,
    s: &mut CholScratch,
) -> Result<(), NotPd> {
    let RowSystem {
        a: a_shared,
        w0,
        reg,
    } = sys;
    let f = x.len();
    if cols.is_empty() {
        x.fill(0.0);
        return Ok(());
    }
    let CholScratch { a, b, yd } = s;
    for (dst, &src) in a.iter_mut().zip(a_shared) {
        *dst = src as f64;
    }
    if reg != 0.0 {
        for d in 0..f {
            a[d * f + d] += reg as f64;
        }
    }
    let w0 = w0 as f64;
    b.fill(0.0);
    for (&i, &c) in cols.iter().zip(conf) {
        for (d, &v) in yd.iter_mut().zip(&y[i as usize * f..][..f]) {
            *d = v as f64;
        }
        let c = c as f64;
        for (bv, &v) in b.iter_mut().zip(yd.iter()) {
            *bv += c * v;
        }
        if c == w0 {
            continue; // (c − α0) y yᵀ is zero
        }
        for j in 0..f {
            let w = (c - w0) * yd[j];
            for (av, &v) in a[j * f..j * f + j + 1].iter_mut().zip(yd.iter()) {
                *av += w * v;
            }
        }
    }
    cholesky_solve_lower(a, b, f)?;
    for (xv, &bv) in x.iter_mut().zip(b.iter()) {
        *xv = bv as f32;
    }
    Ok(())
}

/// Solves `A z = b` in place (`b` becomes z) from the lower triangle of the row-major
/// f × f matrix `a`, which is overwritten by its Cholesky factor L (A = L Lᵀ).
pub(crate) fn cholesky_solve_lower(a: &mut [f64], b: &mut [f64], f: usize) -> Result<(), NotPd> {
    for j in 0..f {
        let mut d = a[j * f + j];
        for k in 0..j {
            d -= a[j * f + k] * a[j * f + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return Err(NotPd);
        }
        let ljj = d.sqrt();
        a[j * f + j] = ljj;
        for i in j + 1..f {
            let mut s = a[i * f + j];
            for k in 0..j {
                s -= a[i * f + k] * a[j * f + k];
            }
            a[i * f + j] = s / ljj;
        }
    }
    // Forward: L w = b.
    for i in 0..f {
        let s: f64 = a[i * f..i * f + i]
            .iter()
            .zip(&b[..i])
            .map(|(l, w)| l * w)
            .sum();
        b[i] = (b[i] - s) / a[i * f + i];
    }
    // Backward: Lᵀ z = w.
    for i in (0..f).rev() {
        let s: f64 = (i + 1..f).map(|k| a[k * f + i] * b[k]).sum();
        b[i] = (b[i] - s) / a[i * f + i];
    }
    Ok(())
}

/// `implicit`'s training loss, `[Σ_ui c_ui (p_ui − x_uᵀy_i)² + Σ_u λ_u|x_u|² + Σ_i λ_i|y_i|²]
/// / Σ_ui c_ui`, over all pairs (unobserved c = α0, p = 0), computed in
/// O(nnz·f + (n_users + n_items)·f²). `conf` is the user side, `items` the item side (for the
/// items' λ_i). Per-row terms are summed in row order, so the value does not depend on the
/// thread count.
pub(crate) fn loss(x: &[f32], y: &[f32], f: usize, conf: &Side, items: &Side, w: Weights) -> f64 {
    let mut yty = gram(y, conf.n_cols, f);
    if w.w0 != 1.0 {
        yty.iter_mut().for_each(|v| *v *= w.w0);
    }
    let rows: Vec<(f64, f64)> = x
        .par_chunks(f)
        .enumerate()
        .map_init(
            || vec![0.0f32; f],
            |r, (u, xu)| {
                // (YᵀY x − 2b + Σ (c−1)(y·x) y)·x + Σ c  =  Σ_i c_i (p_i − x·y_i)²
                symv::<Plain>(&yty, xu, r);
                let (cols, cs, _) = conf.row(u);
                let mut total_conf = 0.0f64;
                for (&i, &c) in cols.iter().zip(cs) {
                    let yi = &y[i as usize * f..][..f];
                    let t = -2.0 * c + (c - w.w0) * dot::<Plain>(yi, xu);
                    axpy::<Plain>(t, yi, r);
                    total_conf += c as f64;
                }
                (total_conf + dot::<Plain>(r, xu) as f64, total_conf)
            },
        )
        .collect();
    let (mut sum, mut total_conf) = (0.0f64, 0.0f64);
    for (l, c) in rows {
        sum += l;
        total_conf += c;
    }
    let norm = |m: &[f32]| m.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
    if w.scaling == RegScaling::None {
        sum += w.lambda as f64 * (norm(x) + norm(y));
    } else {
        let scaled = |m: &[f32], side: &Side| -> f64 {
            m.chunks(f)
                .enumerate()
                .map(|(r, v)| w.total_reg(side.row_len(r), side.n_cols) as f64 * norm(v))
                .sum()
        };
        sum += scaled(x, conf) + scaled(y, items);
    }
    let unobserved = (conf.n_rows * conf.n_cols - conf.nnz()) as f64;
    sum / (total_conf + w.w0 as f64 * unobserved)
}
