//! Conjugate-gradient row solves, `implicit`'s `_least_squares_cg`: one row at a time
//! ([`cg_row`]), or a block of consecutive rows advanced together ([`cg_block`]).
//!
//! Row u solves `(a + λ_u I + Σ_i (c_i − α0) y_i y_iᵀ) x = Σ_i c_i y_i` with the shared f × f
//! matrix `a = α0·YᵀY (+ λI)`. Each step needs the product of `a` with the row's search
//! direction. One row at a time that is a matrix–vector product ([`symv`]) that streams all of
//! `a` per row and step: at f = 1024 that is 4 MB each time, and the solve is bound by memory
//! bandwidth. The blocked form computes the products of a whole block of rows as one matrix
//! product ([`symm_rows`]), which reads `a` once per block and is bound by arithmetic instead.
//! Everything else (the sparse terms, α, β, the early stop) stays per row, so both forms do the
//! same steps and differ only in the summation order of that product.

use super::kernels::{Arith, Plain, Simd, axpy, dot, symm_rows, symv};
use super::side::Side;

/// CG stops early once the squared residual norm falls below this (as `implicit` does).
const CG_EPS: f32 = 1e-20;
/// How many entries ahead the first pass over a row prefetches factor rows. On large inputs
/// the factor matrix does not fit in cache and that first pass is bound by memory latency.
const PREFETCH_AHEAD: usize = 8;

/// Hints the CPU to load factor row `i` (`f` values) into cache; no effect on results.
#[inline(always)]
pub(crate) fn prefetch_row(y: &[f32], i: u32, f: usize) {
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

/// Prefetches the first factor rows of a row's entries (the row about to be solved).
#[inline(always)]
pub(crate) fn prefetch_entries(y: &[f32], cols: &[u32], f: usize) {
    for &i in cols.iter().take(PREFETCH_AHEAD) {
        prefetch_row(y, i, f);
    }
}

/// What one row's system shares with the others and what is its own: the matrix
/// `a = α0·YᵀY (+ λI)`, α0, and the row's extra diagonal `reg` (0 unless λ is scaled).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowSystem<'a> {
    pub(crate) a: &'a [f32],
    pub(crate) w0: f32,
    pub(crate) reg: f32,
}

/// A row's entries split as [`Side::row`] orders them: the weighted ones (`c ≠ α0`) with their
/// confidences, and all of them (for the right-hand side).
#[derive(Clone, Copy)]
struct Entries<'a> {
    cols: &'a [u32],
    w_cols: &'a [u32],
    w_conf: &'a [f32],
    weighted: usize,
}

impl<'a> Entries<'a> {
    #[inline(always)]
    fn new(cols: &'a [u32], conf: &'a [f32], weighted: usize) -> Self {
        let weighted = weighted.min(cols.len());
        Entries {
            cols,
            w_cols: &cols[..weighted],
            w_conf: &conf[..weighted.min(conf.len())],
            weighted,
        }
    }
}

/// Turns `r = a·x` into the residual `r = b − A x = Σ_i (c_i − (c_i − α0) y_iᵀx) y_i − (a + λ_u I) x`.
/// Entries past the weighted ones have `c = α0`: their term is exactly α0·y_i.
#[inline(always)]
fn residual<A: Arith>(r: &mut [f32], x: &[f32], y: &[f32], e: Entries, w0: f32, reg: f32) {
    let f = x.len();
    for v in r.iter_mut() {
        *v = -*v;
    }
    if reg != 0.0 {
        axpy::<A>(-reg, x, r);
    }
    for (k, (&i, &c)) in e.w_cols.iter().zip(e.w_conf).enumerate() {
        if let Some(&ahead) = e.cols.get(k + PREFETCH_AHEAD) {
            prefetch_row(y, ahead, f);
        }
        let yi = &y[i as usize * f..][..f];
        let t = c - (c - w0) * dot::<A>(yi, x);
        axpy::<A>(t, yi, r);
    }
    for (k, &i) in e.cols[e.weighted..].iter().enumerate() {
        if let Some(&ahead) = e.cols.get(e.weighted + k + PREFETCH_AHEAD) {
            prefetch_row(y, ahead, f);
        }
        // c = α0: the term is exactly α0·y_i (exactly y_i + r when α0 = 1).
        for (rv, &yv) in r.iter_mut().zip(&y[i as usize * f..][..f]) {
            *rv = A::madd(w0, yv, *rv);
        }
    }
}

/// Turns `ap = a·p` into `A p = (a + λ_u I) p + Σ_i (c_i − α0)(y_iᵀp) y_i`.
#[inline(always)]
fn add_row_terms<A: Arith>(ap: &mut [f32], p: &[f32], y: &[f32], e: Entries, w0: f32, reg: f32) {
    let f = p.len();
    if reg != 0.0 {
        axpy::<A>(reg, p, ap);
    }
    for (&i, &c) in e.w_cols.iter().zip(e.w_conf) {
        let yi = &y[i as usize * f..][..f];
        let t = (c - w0) * dot::<A>(yi, p);
        axpy::<A>(t, yi, ap);
    }
}

/// One CG update from `ap = A p`: moves `x` and `r` along `p`, then `p` to the next direction.
/// Returns the new `|r|²`, or `None` when it fell below [`CG_EPS`] (`p` is then left as is).
#[inline(always)]
fn advance<A: Arith>(
    x: &mut [f32],
    r: &mut [f32],
    p: &mut [f32],
    ap: &[f32],
    rs_old: f32,
) -> Option<f32> {
    let alpha = rs_old / dot::<A>(p, ap);
    axpy::<A>(alpha, p, x);
    axpy::<A>(-alpha, ap, r);
    let rs_new = dot::<A>(r, r);
    if rs_new < CG_EPS {
        return None;
    }
    let beta = rs_new / rs_old;
    for (pv, &rv) in p.iter_mut().zip(r.iter()) {
        *pv = A::madd(beta, *pv, rv);
    }
    Some(rs_new)
}

/// Per-thread buffers of the one-row solve (allocated once per rayon job).
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
pub(crate) fn cg_row_dispatch(
    simd: Simd,
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    weighted: usize,
    sys: RowSystem,
    steps: usize,
    s: &mut CgScratch,
) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::Avx2Fma` is only returned by `Simd::detect` when the CPU has both.
        Simd::Avx2Fma => unsafe { cg_row_avx2(x, y, cols, conf, weighted, sys, steps, s) },
        _ => cg_row::<Plain>(x, y, cols, conf, weighted, sys, steps, s),
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
    sys: RowSystem,
    steps: usize,
    s: &mut CgScratch,
) {
    cg_row::<super::kernels::Fused>(x, y, cols, conf, weighted, sys, steps, s)
}

/// `steps` conjugate-gradient steps on one row, warm-started from `x` (its previous factors):
/// the residual `r = b − A x` is formed without building `A`, and the loop stops early when
/// `|r|² < 1e-20`. The first `weighted` entries may have any confidence; the rest must have
/// `c = α0` (their `(c − α0)` terms are zero and are skipped). A row without entries becomes 0.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn cg_row<A: Arith>(
    x: &mut [f32],
    y: &[f32],
    cols: &[u32],
    conf: &[f32],
    weighted: usize,
    sys: RowSystem,
    steps: usize,
    s: &mut CgScratch,
) {
    let RowSystem { a, w0, reg } = sys;
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    prefetch_entries(y, cols, x.len());
    let e = Entries::new(cols, conf, weighted);
    let CgScratch { r, p, ap } = s;
    symv::<A>(a, x, r);
    residual::<A>(r, x, y, e, w0, reg);
    p.copy_from_slice(r);
    let mut rs_old = dot::<A>(r, r);
    if rs_old < CG_EPS {
        return;
    }
    for _ in 0..steps {
        symv::<A>(a, p, ap);
        add_row_terms::<A>(ap, p, y, e, w0, reg);
        match advance::<A>(x, r, p, ap, rs_old) {
            Some(rs) => rs_old = rs,
            None => break,
        }
    }
}

/// Rows per block of the blocked solve: enough that the block product is bound by arithmetic
/// rather than by reading the f × f matrix. On the 1 M-interaction bench (benches/peers.sh)
/// 256 beat 128 and 64 at 1024 factors (2.3 vs 2.5 and 2.9 s/it) and tied at 256 factors; a
/// block's buffers are 3 · 256 · f floats (3 MB at f = 1024).
pub(crate) const CG_BLOCK_ROWS: usize = 256;

/// From this many factors on, rows are solved in blocks ([`cg_block`]); below, one at a time
/// ([`cg_row`]). Measured on the 1 M-interaction bench with 2 threads: at 64 factors the two
/// take the same time (the 16 KB matrix stays in L1, so symv is not bound by memory); from 96
/// on the blocked form is faster. Keeping 64 (the default and the peers' setting) on the
/// one-row path keeps those fits bit for bit what they were.
pub(crate) const BLOCK_MIN_FACTORS: usize = 96;

/// Per-thread buffers of the blocked solve: residuals, directions and products of up to
/// [`CG_BLOCK_ROWS`] rows, each row's `|r|²`, and which rows are still iterating.
pub(crate) struct BlockScratch {
    f: usize,
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    rs: Vec<f32>,
    live: Vec<bool>,
}

impl BlockScratch {
    pub(crate) fn new(f: usize) -> Self {
        let n = CG_BLOCK_ROWS * f;
        BlockScratch {
            f,
            r: vec![0.0; n],
            p: vec![0.0; n],
            ap: vec![0.0; n],
            rs: vec![0.0; CG_BLOCK_ROWS],
            live: vec![false; CG_BLOCK_ROWS],
        }
    }
}

/// The shared inputs of a blocked solve: the fixed factors `y`, the side's entries, the shared
/// matrix `a`, α0, and each row's extra diagonal λ_u.
#[derive(Clone, Copy)]
pub(crate) struct BlockSystem<'a, R: Fn(usize) -> f32> {
    pub(crate) y: &'a [f32],
    pub(crate) side: &'a Side,
    pub(crate) a: &'a [f32],
    pub(crate) w0: f32,
    pub(crate) row_reg: &'a R,
}

#[inline(always)]
pub(crate) fn cg_block_dispatch<R: Fn(usize) -> f32>(
    simd: Simd,
    x: &mut [f32],
    row0: usize,
    sys: BlockSystem<R>,
    steps: usize,
    s: &mut BlockScratch,
) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::Avx2Fma` is only returned by `Simd::detect` when the CPU has both.
        Simd::Avx2Fma => unsafe { cg_block_avx2(x, row0, sys, steps, s) },
        _ => cg_block::<Plain, R>(x, row0, sys, steps, s),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn cg_block_avx2<R: Fn(usize) -> f32>(
    x: &mut [f32],
    row0: usize,
    sys: BlockSystem<R>,
    steps: usize,
    s: &mut BlockScratch,
) {
    cg_block::<super::kernels::Fused, R>(x, row0, sys, steps, s)
}

/// [`cg_row`] on the consecutive rows `row0..` of `sys.side` whose factors are `x` (at most
/// [`CG_BLOCK_ROWS`] rows of `s.f` values), advanced together: the products of `a` with all
/// rows' iterates are one [`symm_rows`] per step, the rest is per row. A row that converges
/// (`|r|² < 1e-20`) is frozen for the remaining steps, as `cg_row` stops; rows without entries
/// become 0.
#[inline(always)]
pub(crate) fn cg_block<A: Arith, R: Fn(usize) -> f32>(
    x: &mut [f32],
    row0: usize,
    sys: BlockSystem<R>,
    steps: usize,
    s: &mut BlockScratch,
) {
    let BlockSystem {
        y,
        side,
        a,
        w0,
        row_reg,
    } = sys;
    let f = s.f;
    let rows = x.len() / f;
    assert!(
        rows <= CG_BLOCK_ROWS && x.len() == rows * f,
        "cg_block shapes"
    );
    let n = rows * f;
    let (r, p, ap) = (&mut s.r[..n], &mut s.p[..n], &mut s.ap[..n]);
    let (rs, live) = (&mut s.rs[..rows], &mut s.live[..rows]);
    // r = a·x for every row at once, then each row's own terms.
    symm_rows(a, x, r, rows, f);
    let mut n_live = 0;
    for b in 0..rows {
        let row = row0 + b;
        let (cols, conf, weighted) = side.row(row);
        prefetch_entries(y, side.row(row + 1).0, f);
        let (xb, rb, pb) = (
            &mut x[b * f..][..f],
            &mut r[b * f..][..f],
            &mut p[b * f..][..f],
        );
        live[b] = false;
        if cols.is_empty() {
            xb.fill(0.0);
            pb.fill(0.0);
            continue;
        }
        residual::<A>(
            rb,
            xb,
            y,
            Entries::new(cols, conf, weighted),
            w0,
            row_reg(row),
        );
        pb.copy_from_slice(rb);
        rs[b] = dot::<A>(rb, rb);
        if rs[b] >= CG_EPS {
            live[b] = true;
            n_live += 1;
        }
    }
    for _ in 0..steps {
        if n_live == 0 {
            break;
        }
        // Frozen rows ride along in the product (their results are not used).
        symm_rows(a, p, ap, rows, f);
        for b in 0..rows {
            if !live[b] {
                continue;
            }
            let row = row0 + b;
            let (cols, conf, weighted) = side.row(row);
            let e = Entries::new(cols, conf, weighted);
            let (xb, rb, pb, apb) = (
                &mut x[b * f..][..f],
                &mut r[b * f..][..f],
                &mut p[b * f..][..f],
                &mut ap[b * f..][..f],
            );
            add_row_terms::<A>(apb, pb, y, e, w0, row_reg(row));
            match advance::<A>(xb, rb, pb, apb, rs[b]) {
                Some(v) => rs[b] = v,
                None => {
                    live[b] = false;
                    n_live -= 1;
                }
            }
        }
    }
}
