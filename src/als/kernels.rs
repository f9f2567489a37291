//! Dense f32 kernels: dot, axpy, the symmetric matrix–vector product and the Gram matrix.
//!
//! The hot kernels are `#[inline(always)]` and generic over [`Arith`], so one source compiles
//! twice: with fused multiply-add inside `#[target_feature(enable = "avx2,fma")]` entry points
//! (chosen at run time by [`Simd::detect`]) and with plain multiply + add for any CPU. Loops run
//! over fixed-size chunks (`as_chunks`) with many independent accumulators so LLVM emits wide
//! vector code without reassociating floating-point sums; results are therefore exactly
//! reproducible for a given CPU path.

/// Multiply-add flavour of a kernel instantiation.
pub(crate) trait Arith {
    /// `a·b + acc`.
    fn madd(a: f32, b: f32, acc: f32) -> f32;
}

/// Fused multiply-add (one rounding); only fast where the `fma` feature is enabled.
pub(crate) struct Fused;
/// Separate multiply and add; fast everywhere.
pub(crate) struct Plain;

impl Arith for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, acc: f32) -> f32 {
        a.mul_add(b, acc)
    }
}

impl Arith for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, acc: f32) -> f32 {
        a * b + acc
    }
}

/// Which compiled variant of the kernels the running CPU can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Simd {
    /// x86-64 with AVX2 and FMA.
    Avx2Fma,
    /// Anything else: baseline target features, no FMA.
    Portable,
}

impl Simd {
    /// Detects the best variant for this CPU (cheap; cached by std).
    pub(crate) fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Simd::Avx2Fma;
            }
        }
        Simd::Portable
    }
}

/// Σ a_k b_k over the common length, with 32 independent lanes.
#[inline(always)]
pub(crate) fn dot<A: Arith>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a32, a_rest) = a[..n].as_chunks::<32>();
    let (b32, b_rest) = b[..n].as_chunks::<32>();
    let mut acc = [0.0f32; 32];
    for (x, y) in a32.iter().zip(b32) {
        for k in 0..32 {
            acc[k] = A::madd(x[k], y[k], acc[k]);
        }
    }
    let (a8, a_tail) = a_rest.as_chunks::<8>();
    let (b8, b_tail) = b_rest.as_chunks::<8>();
    for (x, y) in a8.iter().zip(b8) {
        for k in 0..8 {
            acc[k] = A::madd(x[k], y[k], acc[k]);
        }
    }
    let mut tail = 0.0f32;
    for (&x, &y) in a_tail.iter().zip(b_tail) {
        tail = A::madd(x, y, tail);
    }
    let mut s = [0.0f32; 8];
    for k in 0..8 {
        s[k] = (acc[k] + acc[k + 8]) + (acc[k + 16] + acc[k + 24]);
    }
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])) + tail
}

/// y ← y + alpha·x over the common length.
#[inline(always)]
pub(crate) fn axpy<A: Arith>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = A::madd(alpha, xv, *yv);
    }
}

/// out ← M·p for a symmetric f × f matrix `m` stored in full, row-major (f = `out.len()`).
/// Computed as Σ_j p_j·M[j, :] (row j equals column j), `N` output columns at a time held in
/// registers.
#[inline(always)]
pub(crate) fn symv<A: Arith>(m: &[f32], p: &[f32], out: &mut [f32]) {
    let f = out.len();
    debug_assert!(m.len() >= f * f && p.len() >= f);
    let mut col = symv_block::<A, 64>(m, p, out, 0);
    col = symv_block::<A, 16>(m, p, out, col);
    col = symv_block::<A, 8>(m, p, out, col);
    for c in col..f {
        let mut s = 0.0f32;
        for (row, &pj) in m.chunks_exact(f).zip(p) {
            s = A::madd(pj, row[c], s);
        }
        out[c] = s;
    }
}

/// Fills `out[col..col + N]` blocks of [`symv`] while a whole block fits; returns the next
/// unfilled column.
#[inline(always)]
fn symv_block<A: Arith, const N: usize>(
    m: &[f32],
    p: &[f32],
    out: &mut [f32],
    mut col: usize,
) -> usize {
    let f = out.len();
    while col + N <= f {
        let mut acc = [0.0f32; N];
        for (row, &pj) in m.chunks_exact(f).zip(p) {
            if let Some(block) = row[col..].first_chunk::<N>() {
                for k in 0..N {
                    acc[k] = A::madd(pj, block[k], acc[k]);
                }
            }
        }
        out[col..col + N].copy_from_slice(&acc);
        col += N;
    }
    col
}

/// A strided f32 matrix operand of [`gemm_serial`]: its first element, column stride and row
/// stride (in elements).
pub(crate) type Strided<P> = (P, isize, isize);

/// dst (m × n) ← lhs (m × k) · rhs (k × n), on the calling thread only (the `gemm` crate with
/// `Parallelism::None`; `matrixmultiply` cannot be held to one thread per call, since
/// burn-ndarray turns its threading on), so it is safe inside a rayon task and its summation
/// order is fixed for a given shape and CPU. `read_dst = false`: dst is overwritten.
///
/// # Safety
/// Every element the strides address, `m × k` of lhs, `k × n` of rhs and `m × n` of dst, must
/// lie inside its allocation, and dst must not overlap the inputs.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_serial(
    m: usize,
    n: usize,
    k: usize,
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
) {
    // SAFETY: the caller's contract above is gemm's.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.1,
            dst.2,
            false,
            lhs.0,
            lhs.1,
            lhs.2,
            rhs.0,
            rhs.1,
            rhs.2,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// out ← P·M for a row-major `rows × f` block `p` and a symmetric f × f matrix `m` (row-major),
/// so row b of `out` is M·p_b, what [`symv`] computes for one row. One matrix product reads M
/// once for the whole block where `rows` symv calls read it `rows` times: at large f (M of
/// megabytes) that turns a memory-bound loop into a compute-bound one. Single-threaded
/// ([`gemm_serial`]).
pub(crate) fn symm_rows(m: &[f32], p: &[f32], out: &mut [f32], rows: usize, f: usize) {
    assert!(
        m.len() == f * f && p.len() >= rows * f && out.len() >= rows * f,
        "symm_rows shapes"
    );
    if rows == 0 || f == 0 {
        return;
    }
    // Computed as its transpose, outᵀ = M·Pᵀ (f × rows), with every operand column-major and
    // contiguous, which the gemm crate multiplies without repacking M for every block (2.4x
    // faster at f = 1024 than out = P·M stated row-major). M's column-major view is Mᵀ = M.
    // SAFETY: outᵀ is f × rows column-major over `out` (column stride f, row stride 1); M is
    // f × f read column-major from `m`; Pᵀ is f × rows column-major over `p` (column stride f).
    // Every read stays inside `p` and `m` and every write inside `out`, whose lengths are
    // checked above. `read_dst = false`: out ← 1·M·Pᵀ.
    unsafe {
        gemm_serial(
            f,
            rows,
            f,
            (out.as_mut_ptr(), f as isize, 1),
            (m.as_ptr(), f as isize, 1),
            (p.as_ptr(), f as isize, 1),
        );
    }
}

/// YᵀY (f × f, row-major) of a row-major n × f matrix `y`, via `matrixmultiply::sgemm`.
/// The result does not depend on how many threads sgemm uses: each output element is
/// accumulated by one thread in a fixed order.
pub(crate) fn gram(y: &[f32], n: usize, f: usize) -> Vec<f32> {
    assert!(
        y.len() == n * f,
        "gram: {} values for a {n} x {f} matrix",
        y.len()
    );
    let mut g = vec![0.0f32; f * f];
    if n == 0 || f == 0 {
        return g;
    }
    // SAFETY: A = Yᵀ is f × n with element (i, k) at y[k·f + i] (row stride 1, column stride
    // f); B = Y is n × f (row stride f, column stride 1); C is f × f row-major. All reads stay
    // inside `y` (n·f values) and all writes inside `g` (f·f values), checked above.
    unsafe {
        matrixmultiply::sgemm(
            f,
            n,
            f,
            1.0,
            y.as_ptr(),
            1,
            f as isize,
            y.as_ptr(),
            f as isize,
            1,
            0.0,
            g.as_mut_ptr(),
            f as isize,
            1,
        );
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|k| ((k * 7 + 3) % 11) as f32 * scale - 0.2)
            .collect()
    }

    #[test]
    fn dot_and_axpy_match_naive_for_awkward_lengths() {
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 64, 100] {
            let a = seq(n, 0.1);
            let b = seq(n + 3, 0.05); // longer: only the common length counts
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!(
                (dot::<Plain>(&a, &b) as f64 - naive).abs() < 1e-5,
                "plain n={n}"
            );
            assert!(
                (dot::<Fused>(&a, &b) as f64 - naive).abs() < 1e-5,
                "fused n={n}"
            );
            let mut y = b.clone();
            axpy::<Plain>(2.0, &a, &mut y);
            for k in 0..n {
                assert!((y[k] - (b[k] + 2.0 * a[k])).abs() < 1e-6);
            }
            assert_eq!(y[n..], b[n..]);
        }
    }

    #[test]
    fn symv_matches_naive_for_awkward_sizes() {
        for f in [1, 5, 8, 13, 16, 24, 64, 72, 100] {
            // Symmetric M[i][j] = (i + 2j + 2i·j) mod 5 − 2 + (i + j)/10 is not symmetric, so
            // build M = S + Sᵀ.
            let s = seq(f * f, 0.3);
            let mut m = vec![0.0f32; f * f];
            for i in 0..f {
                for j in 0..f {
                    m[i * f + j] = s[i * f + j] + s[j * f + i];
                }
            }
            let p = seq(f, 0.7);
            let mut out = vec![0.0f32; f];
            symv::<Plain>(&m, &p, &mut out);
            for i in 0..f {
                let naive: f64 = (0..f).map(|j| m[i * f + j] as f64 * p[j] as f64).sum();
                assert!(
                    (out[i] as f64 - naive).abs() < 1e-3 * (1.0 + naive.abs()),
                    "f={f} i={i}"
                );
            }
        }
    }

    #[test]
    fn symm_rows_matches_symv_row_by_row() {
        for (rows, f) in [(1, 1), (3, 5), (7, 37), (64, 100)] {
            let s = seq(f * f, 0.3);
            let mut m = vec![0.0f32; f * f];
            for i in 0..f {
                for j in 0..f {
                    m[i * f + j] = s[i * f + j] + s[j * f + i];
                }
            }
            let p = seq(rows * f, 0.7);
            let mut out = vec![f32::NAN; rows * f];
            symm_rows(&m, &p, &mut out, rows, f);
            let mut one = vec![0.0f32; f];
            for b in 0..rows {
                symv::<Plain>(&m, &p[b * f..(b + 1) * f], &mut one);
                for (k, (&got, &want)) in out[b * f..(b + 1) * f].iter().zip(&one).enumerate() {
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "rows={rows} f={f} row {b} col {k}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn gram_matches_naive() {
        let (n, f) = (37, 6);
        let y = seq(n * f, 0.25);
        let g = gram(&y, n, f);
        for i in 0..f {
            for j in 0..f {
                let naive: f64 = (0..n)
                    .map(|r| y[r * f + i] as f64 * y[r * f + j] as f64)
                    .sum();
                assert!((g[i * f + j] as f64 - naive).abs() < 1e-4 * (1.0 + naive.abs()));
            }
        }
        assert_eq!(gram(&[], 0, 3), vec![0.0; 9]);
    }
}
