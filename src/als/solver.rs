//! Per-row least-squares solves (conjugate gradient and Cholesky) and the training loss.
//!
//! Row u of one half-iteration solves `A x = b` with
//! `A = YᵀY + λI + Σ_i (c_i − 1) y_i y_iᵀ` and `b = Σ_i c_i y_i`, the sums over the row's
//! stored entries i with confidences c_i. `YᵀY + λI` is shared by all rows.

use super::kernels::{Arith, Plain, Simd, axpy, dot, gram, symv};
use super::side::Side;
use super::{AlsError, Solver};
use rayon::prelude::*;

/// CG stops early once the squared residual norm falls below this (as `implicit` does).
const CG_EPS: f32 = 1e-20;
/// How many entries ahead the first pass over a row prefetches factor rows. On large inputs
/// the factor matrix does not fit in cache and that first pass is bound by memory latency.
const PREFETCH_AHEAD: usize = 8;

/// Hints the CPU to load factor row `i` (`f` values) into cache; no effect on results.
#[inline(always)]
fn prefetch_row(y: &[f32], i: u32, f: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let base = y.as_ptr().wrapping_add(i as usize * f);
        let mut off = 0;
        while off < f {
            // SAFETY: a prefetch never faults and has no architectural effect; the address is
            // computed with wrapping arithmetic and never dereferenced.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(off) as *const i8) };
            off += 16;
        }
        // A row that is not 64-byte aligned spills into one more cache line.
        // SAFETY: as above.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(f.saturating_sub(1)) as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (y, i, f);
}

/// Solves every row of `x` (`conf.n_rows × f`, row-major, updated in place) against the fixed
/// factors `y` (`conf.n_cols × f`), with confidences `conf`. Rows without entries become 0.
/// Rows are solved in parallel; each reads only `y`, `conf` and the shared Gram matrix and
/// writes only its own row, so the result does not depend on the thread count.
pub(crate) fn solve_side(
    x: &mut [f32],
    y: &[f32],
    f: usize,
    conf: &Side,
    regularization: f32,
    solver: Solver,
    side: &'static str,
) -> Result<(), AlsError> {
    assert!(
        x.len() == conf.n_rows * f && y.len() == conf.n_cols * f,
        "solve_side shapes"
    );
    let a = regularized_gram(y, conf.n_cols, f, regularization);
    match solver {
        Solver::Cg { steps } => {
            let simd = Simd::detect();
            x.par_chunks_mut(f).enumerate().for_each_init(
                || CgScratch::new(f),
                |scratch, (row, xu)| {
                    let (cols, c, weighted) = conf.row(row);
                    // The next row this thread is likely to solve: warm its first factor rows.
                    let (next, _, _) = conf.row(row + 1);
                    for &i in next.iter().take(PREFETCH_AHEAD) {
                        prefetch_row(y, i, f);
                    }
                    cg_row_dispatch(simd, xu, y, cols, c, weighted, &a, steps, scratch);
                },
            );
            Ok(())
        }
        Solver::Cholesky => x.par_chunks_mut(f).enumerate().try_for_each_init(
            || CholScratch::new(f),
            |scratch, (row, xu)| {
                let (cols, c, _) = conf.row(row);
                cholesky_row(xu, y, cols, c, &a, scratch)
                    .map_err(|NotPd| AlsError::NotPositiveDefinite { side, row })
            },
        ),
    }
}

/// `YᵀY + λI`.
pub(crate) fn regularized_gram(y: &[f32], n: usize, f: usize, regularization: f32) -> Vec<f32> {
    let mut a = gram(y, n, f);
    for d in 0..f {
        a[d * f + d] += regularization;
    }
    a
}

/// Per-thread buffers of the conjugate-gradient solve (allocated once per rayon job).
pub(crate) struct CgScratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl CgScratch {
    pub(crate) fn new(f: usize) -> Self {
        CgScratch {
            r: vec![0.0; f],
            p: vec![0.0; f],
            ap: vec![0.0; f],
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cg_row_dispatch(
    simd: Simd,
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    weighted: usize,
    a: &[f32],
    steps: usize,
    s: &mut CgScratch,
) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::Avx2Fma` is only returned by `Simd::detect` when the CPU has both.
        Simd::Avx2Fma => unsafe { cg_row_avx2(x, y, cols, conf, weighted, a, steps, s) },
        _ => cg_row::<Plain>(x, y, cols, conf, weighted, a, steps, s),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn cg_row_avx2(
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    weighted: usize,
    a: &[f32],
    steps: usize,
    s: &mut CgScratch,
) {
    cg_row::<super::kernels::Fused>(x, y, cols, conf, weighted, a, steps, s)
}

/// `steps` conjugate-gradient steps on one row, warm-started from `x` (its previous factors),
/// as `implicit`'s `_least_squares_cg`: the residual `r = b − A x` is formed without building
/// `A`, and the loop stops early when `|r|² < 1e-20`. The first `weighted` entries may have any
/// confidence; the rest must have `c = 1` (their `(c − 1)` terms are zero and are skipped).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn cg_row<A: Arith>(
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    weighted: usize,
    a: &[f32],
    steps: usize,
    s: &mut CgScratch,
) {
    let f = x.len();
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    for &i in cols.iter().take(PREFETCH_AHEAD) {
        prefetch_row(y, i, f);
    }
    let weighted = weighted.min(cols.len());
    let (w_cols, plain_cols) = cols.split_at(weighted);
    let w_conf = &conf[..weighted.min(conf.len())];
    let CgScratch { r, p, ap } = s;
    // r = b − A x = Σ_i (c_i − (c_i − 1) y_iᵀx) y_i − (YᵀY + λI) x
    symv::<A>(a, x, r);
    for v in r.iter_mut() {
        *v = -*v;
    }
    for (k, (&i, &c)) in w_cols.iter().zip(w_conf).enumerate() {
        if let Some(&ahead) = cols.get(k + PREFETCH_AHEAD) {
            prefetch_row(y, ahead, f);
        }
        let yi = &y[i as usize * f..][..f];
        let t = c - (c - 1.0) * dot::<A>(yi, x);
        axpy::<A>(t, yi, r);
    }
    for (k, &i) in plain_cols.iter().enumerate() {
        if let Some(&ahead) = cols.get(weighted + k + PREFETCH_AHEAD) {
            prefetch_row(y, ahead, f);
        }
        // c = 1: the term is exactly 1·y_i.
        for (rv, &yv) in r.iter_mut().zip(&y[i as usize * f..][..f]) {
            *rv += yv;
        }
    }
    p.copy_from_slice(r);
    let mut rs_old = dot::<A>(r, r);
    if rs_old < CG_EPS {
        return;
    }
    for _ in 0..steps {
        // ap = A p = (YᵀY + λI) p + Σ_i (c_i − 1)(y_iᵀp) y_i
        symv::<A>(a, p, ap);
        for (&i, &c) in w_cols.iter().zip(w_conf) {
            let yi = &y[i as usize * f..][..f];
            let t = (c - 1.0) * dot::<A>(yi, p);
            axpy::<A>(t, yi, ap);
        }
        let alpha = rs_old / dot::<A>(p, ap);
        axpy::<A>(alpha, p, x);
        axpy::<A>(-alpha, ap, r);
        let rs_new = dot::<A>(r, r);
        if rs_new < CG_EPS {
            break;
        }
        let beta = rs_new / rs_old;
        for (pv, &rv) in p.iter_mut().zip(r.iter()) {
            *pv = A::madd(beta, *pv, rv);
        }
        rs_old = rs_new;
    }
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
/// Cholesky. `a_shared` is `YᵀY + λI`. Rows without entries become 0.
pub(crate) fn cholesky_row(
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    a_shared: &[f32],
    s: &mut CholScratch,
) -> Result<(), NotPd> {
    let f = x.len();
    if cols.is_empty() {
        x.fill(0.0);
        return Ok(());
    }
    let CholScratch { a, b, yd } = s;
    for (dst, &src) in a.iter_mut().zip(a_shared) {
        *dst = src as f64;
    }
    b.fill(0.0);
    for (&i, &c) in cols.iter().zip(conf) {
        for (d, &v) in yd.iter_mut().zip(&y[i as usize * f..][..f]) {
            *d = v as f64;
        }
        let c = c as f64;
        for (bv, &v) in b.iter_mut().zip(yd.iter()) {
            *bv += c * v;
        }
        if c == 1.0 {
            continue; // (c − 1) y yᵀ is zero
        }
        for j in 0..f {
            let w = (c - 1.0) * yd[j];
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

/// `implicit`'s training loss: `[Σ_ui c_ui (p_ui − x_uᵀy_i)² + λ(|X|² + |Y|²)] / Σ_ui c_ui`,
/// over all pairs (unobserved c = 1, p = 0), computed in O(nnz·f + (n_users + n_items)·f²).
/// Per-row terms are summed in row order, so the value does not depend on the thread count.
pub(crate) fn loss(x: &[f32], y: &[f32], f: usize, conf: &Side, regularization: f32) -> f64 {
    let yty = gram(y, conf.n_cols, f);
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
                    let t = -2.0 * c + (c - 1.0) * dot::<Plain>(yi, xu);
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
    sum += regularization as f64 * (norm(x) + norm(y));
    let unobserved = (conf.n_rows * conf.n_cols - conf.nnz()) as f64;
    sum / (total_conf + unobserved)
}
