//! Scoring, top-k recommendation, item similarity and fold-in of new users.

use super::kernels::{Arith, Simd, dot, gemm_serial};
use super::solver::{CholScratch, RowSystem, Weights, cholesky_row, regularized_gram};
use super::topk::top_k;
use super::{AlsError, AlsModel, AlsParams, Csr};
use rayon::prelude::*;

/// Below this many factor values (n_items · f) `score_all` runs on one thread.
const PARALLEL_SCORE_MIN: usize = 1 << 20;
/// Items per parallel task in `score_all`.
const SCORE_CHUNK: usize = 4096;

impl AlsModel {
    fn user_row(&self, user: u32) -> Option<&[f32]> {
        let f = self.factors;
        self.user_factors
            .get(user as usize * f..(user as usize + 1) * f)
    }

    fn item_row(&self, item: u32) -> Option<&[f32]> {
        let f = self.factors;
        self.item_factors
            .get(item as usize * f..(item as usize + 1) * f)
    }

    /// `x_userᵀ y_item`; NaN when either index is out of range.
    pub fn score(&self, user: u32, item: u32) -> f32 {
        match (self.user_row(user), self.item_row(item)) {
            (Some(x), Some(y)) => dot_dispatch(x, y),
            _ => f32::NAN,
        }
    }

    /// Scores of `user` against every item: `out[i] = x_userᵀ y_i` for
    /// `i < min(out.len(), n_items)` (a matrix–vector product, parallel for large catalogues).
    /// When `user` is out of range every entry of `out` is set to NaN.
    pub fn score_all(&self, user: u32, out: &mut [f32]) {
        let Some(x) = self.user_row(user) else {
            out.fill(f32::NAN);
            return;
        };
        self.gemv(x, out);
    }

    /// Scores of several users against every item, user after user: row `r` of `out`
    /// (`users.len() × n_items`, row-major) is `score_all(users[r])`, up to f32 rounding. One
    /// matrix product for the block instead of one pass over the item factors per user: at
    /// 40 k items × 128 factors the item matrix (20 MB) no longer fits in cache, and the per-user
    /// pass is bound by memory bandwidth. Runs on the calling thread (`gemm_serial`); rows of
    /// out-of-range users are NaN.
    pub fn score_block(&self, users: &[u32], out: &mut [f32]) {
        let (f, n) = (self.factors, self.n_items);
        assert_eq!(
            out.len(),
            users.len() * n,
            "score_block: out is users × items"
        );
        if users.is_empty() || n == 0 {
            return;
        }
        if f == 0 {
            out.fill(0.0);
            return;
        }
        if self.item_factors.len() < n * f {
            // An inconsistent model: score_all guards its own bounds.
            for (&u, row) in users.iter().zip(out.chunks_mut(n)) {
                self.score_all(u, row);
            }
            return;
        }
        let mut q = Vec::with_capacity(users.len() * f);
        for &u in users {
            match self.user_row(u) {
                Some(x) => q.extend_from_slice(x),
                None => q.extend(std::iter::repeat_n(f32::NAN, f)),
            }
        }
        let m = users.len();
        // SAFETY: dst (`out`) is m × n row-major (column stride 1, row stride n); lhs (`q`) is
        // m × f row-major; rhs is the item factors transposed, f × n: element (d, j) at
        // item_factors[j·f + d] (column stride f, row stride 1). Reads stay inside `q` (m·f
        // values) and `item_factors` (n·f, checked above), writes inside `out` (m·n, asserted).
        // out ← Q·Yᵀ on this thread: the caller runs one block per core.
        unsafe {
            gemm_serial(
                m,
                n,
                f,
                (out.as_mut_ptr(), 1, n as isize),
                (q.as_ptr(), 1, f as isize),
                (self.item_factors.as_ptr(), f as isize, 1),
            );
        }
    }

    /// `out[i] = xᵀ y_i`, one item per entry of `out` (at most `n_items`).
    fn gemv(&self, x: &[f32], out: &mut [f32]) {
        let f = self.factors;
        if f == 0 {
            out.fill(0.0);
            return;
        }
        let n = out.len().min(self.n_items).min(self.item_factors.len() / f);
        let items = &self.item_factors[..n * f];
        let out = &mut out[..n];
        let simd = Simd::detect();
        if n * f < PARALLEL_SCORE_MIN {
            gemv_dispatch(simd, items, x, out);
        } else {
            out.par_chunks_mut(SCORE_CHUNK)
                .zip(items.par_chunks(SCORE_CHUNK * f))
                .for_each(|(o, y)| gemv_dispatch(simd, y, x, o));
        }
    }

    /// The `k` best items for `user` by score, best first; equal scores rank by ascending item
    /// index; items in `exclude_sorted` (ascending item indices, e.g. the user's training
    /// items; an unsorted list is sorted first) never appear. NaN scores count as -inf. Empty when
    /// `user` is out of range or `k` is 0. Uses a size-k heap, O(n_items · log k).
    pub fn recommend(&self, user: u32, k: usize, exclude_sorted: &[u32]) -> Vec<(u32, f32)> {
        let Some(x) = self.user_row(user) else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        let mut scores = vec![0.0f32; self.n_items];
        self.gemv(x, &mut scores);
        top_k(&scores, k, exclude_sorted)
    }

    /// The `k` items most similar to `item` by cosine of the item factors, best first, without
    /// `item` itself; ties by ascending index. A zero-length factor vector has similarity 0 to
    /// everything. Empty when `item` is out of range.
    pub fn similar_items(&self, item: u32, k: usize) -> Vec<(u32, f32)> {
        let Some(q) = self.item_row(item) else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        let mut scores = vec![0.0f32; self.n_items];
        self.gemv(q, &mut scores);
        let f = self.factors;
        let q_norm = dot_dispatch(q, q).sqrt();
        scores
            .par_iter_mut()
            .zip(self.item_factors.par_chunks(f.max(1)))
            .for_each(|(s, y)| {
                let denom = q_norm * dot_dispatch(y, y).sqrt();
                *s = if denom > 0.0 { *s / denom } else { 0.0 };
            });
        top_k(&scores, k, &[item])
    }

    /// Factors of a new (or updated) user who interacted with `items` with strengths
    /// `weights`, solved exactly (Cholesky, f64) against the current item factors with the
    /// confidence, alpha and regularization of `params` (`implicit`'s `recalculate_user`).
    /// Repeated items are summed. No items gives the zero vector. Costs one YᵀY (O(n_items·f²)).
    pub fn recalculate_user(
        &self,
        items: &[u32],
        weights: &[f32],
        params: &AlsParams,
    ) -> Result<Vec<f32>, AlsError> {
        params.validate()?;
        let f = self.factors;
        if params.factors != f {
            return Err(AlsError::ShapeMismatch {
                what: "params.factors vs model factors",
                expected: f,
                got: params.factors,
            });
        }
        if self.item_factors.len() != self.n_items * f {
            return Err(AlsError::ShapeMismatch {
                what: "item_factors length",
                expected: self.n_items * f,
                got: self.item_factors.len(),
            });
        }
        if items.len() != weights.len() {
            return Err(AlsError::WeightsLengthMismatch {
                items: items.len(),
                weights: weights.len(),
            });
        }
        for (position, (&item, &w)) in items.iter().zip(weights).enumerate() {
            if item as usize >= self.n_items {
                return Err(AlsError::ItemOutOfRange {
                    item,
                    n_items: self.n_items,
                });
            }
            if !(w.is_finite() && w > 0.0) {
                return Err(AlsError::InvalidWeight { position, value: w });
            }
        }
        let rows = vec![0u32; items.len()];
        let row = Csr::from_triplets(1, self.n_items, &rows, items, weights)?;
        self.recalculate_users(&row, params)
    }

    /// Factors of many new (or updated) users at once: row r of `histories` (`n × n_items`,
    /// strengths summed per item) gets exactly what [`Self::recalculate_user`] gives for it,
    /// with `YᵀY` computed once and the rows solved in parallel. Returns `[n × f]`, row-major.
    pub fn recalculate_users(
        &self,
        histories: &Csr,
        params: &AlsParams,
    ) -> Result<Vec<f32>, AlsError> {
        params.validate()?;
        let f = self.factors;
        if params.factors != f || histories.n_cols != self.n_items {
            return Err(AlsError::ShapeMismatch {
                what: "params.factors / history columns vs the model",
                expected: f,
                got: params.factors,
            });
        }
        let w = Weights::of(params);
        let a = regularized_gram(&self.item_factors, self.n_items, f, w.shared_reg(), w.w0);
        let mut x = vec![0.0f32; histories.n_rows * f];
        x.par_chunks_mut(f.max(1)).enumerate().try_for_each_init(
            || (CholScratch::new(f), Vec::new()),
            |(scratch, conf), (r, xr)| {
                let (items, strengths) = histories.row(r);
                conf.clear();
                conf.extend(
                    strengths
                        .iter()
                        .map(|&v| params.confidence.of(params.alpha, v)),
                );
                let sys = RowSystem {
                    a: &a,
                    w0: w.w0,
                    reg: w.row_reg(items.len(), self.n_items),
                };
                cholesky_row(xr, &self.item_factors, items, conf, sys, scratch).map_err(|_| {
                    AlsError::NotPositiveDefinite {
                        side: "new user",
                        row: r,
                    }
                })
            },
        )?;
        Ok(x)
    }
}

fn dot_dispatch(a: &[f32], b: &[f32]) -> f32 {
    match Simd::detect() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::Avx2Fma` is only returned when the CPU has AVX2 and FMA.
        Simd::Avx2Fma => unsafe { dot_avx2(a, b) },
        _ => dot::<super::kernels::Plain>(a, b),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot::<super::kernels::Fused>(a, b)
}

fn gemv_dispatch(simd: Simd, items: &[f32], x: &[f32], out: &mut [f32]) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::Avx2Fma` is only returned when the CPU has AVX2 and FMA.
        Simd::Avx2Fma => unsafe { gemv_avx2(items, x, out) },
        _ => gemv_rows::<super::kernels::Plain>(items, x, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemv_avx2(items: &[f32], x: &[f32], out: &mut [f32]) {
    gemv_rows::<super::kernels::Fused>(items, x, out)
}

#[inline(always)]
fn gemv_rows<A: Arith>(items: &[f32], x: &[f32], out: &mut [f32]) {
    let f = x.len();
    for (o, y) in out.iter_mut().zip(items.chunks_exact(f)) {
        *o = dot::<A>(y, x);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Solver, fit, init};
    use super::*;

    fn model(user_factors: Vec<f32>, item_factors: Vec<f32>, f: usize) -> AlsModel {
        AlsModel {
            factors: f,
            n_users: user_factors.len() / f,
            n_items: item_factors.len() / f,
            user_factors,
            item_factors,
        }
    }

    #[test]
    fn recommend_excludes_and_breaks_ties_by_index() {
        // f = 1, user factor 1: scores are the item factors [0.5, 2, 2, 1, 2].
        let m = model(vec![1.0], vec![0.5, 2.0, 2.0, 1.0, 2.0], 1);
        assert_eq!(m.recommend(0, 3, &[]), vec![(1, 2.0), (2, 2.0), (4, 2.0)]);
        assert_eq!(m.recommend(0, 3, &[2]), vec![(1, 2.0), (4, 2.0), (3, 1.0)]);
        // An unsorted exclusion list works too.
        assert_eq!(
            m.recommend(0, 3, &[4, 1]),
            vec![(2, 2.0), (3, 1.0), (0, 0.5)]
        );
        assert_eq!(m.recommend(0, 10, &[0, 1, 2, 3, 4]), vec![]);
        assert_eq!(m.recommend(0, 10, &[]).len(), 5);
        assert_eq!(m.recommend(0, 0, &[]), vec![]);
        assert_eq!(m.recommend(1, 3, &[]), vec![]); // unknown user
    }

    #[test]
    fn score_block_equals_score_all_per_user() {
        // 300 items × 7 factors: several item tiles, a block of 5 users with one out of range.
        let (nu, ni, f) = (4, 300, 7);
        let val = |k: usize| ((k * 37 + 11) % 23) as f32 / 7.0 - 1.5;
        let m = model(
            (0..nu * f).map(val).collect(),
            (0..ni * f).map(|k| val(k + 5)).collect(),
            f,
        );
        let users = [3, 0, 9, 1, 3];
        let mut block = vec![0f32; users.len() * ni];
        m.score_block(&users, &mut block);
        for (r, &u) in users.iter().enumerate() {
            let mut want = vec![0f32; ni];
            m.score_all(u, &mut want);
            for (got, want) in block[r * ni..(r + 1) * ni].iter().zip(&want) {
                if want.is_nan() {
                    assert!(got.is_nan());
                } else {
                    assert!((got - want).abs() < 1e-4, "user {u}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn score_and_score_all_are_dot_products() {
        let m = model(
            vec![1.0, 2.0, -1.0, 0.5],
            vec![3.0, 1.0, 0.0, 2.0, -1.0, -1.0],
            2,
        );
        assert_eq!(m.score(0, 0), 5.0);
        assert_eq!(m.score(1, 2), 0.5);
        assert!(m.score(2, 0).is_nan() && m.score(0, 3).is_nan());
        let mut out = [9.0f32; 3];
        m.score_all(1, &mut out);
        assert_eq!(out, [-2.5, 1.0, 0.5]);
        m.score_all(5, &mut out);
        assert!(out.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn similar_items_puts_the_twin_first_and_survives_zero_vectors() {
        // Item 3 = 3 · item 0 (cosine 1); item 4 is nearly parallel; item 1 is orthogonal
        // (cosine 0) and item 2 is the zero vector (defined as 0): they tie, index 1 first.
        let items = vec![1.0, 2.0, 2.0, -1.0, 0.0, 0.0, 3.0, 6.0, 1.0, 1.9];
        let m = model(vec![1.0, 1.0], items, 2);
        let sims = m.similar_items(0, 4);
        let ids: Vec<u32> = sims.iter().map(|p| p.0).collect();
        assert_eq!(ids, vec![3, 4, 1, 2]);
        assert!((sims[0].1 - 1.0).abs() < 1e-6);
        let cos4 = (1.0 + 3.8) / (5.0f32.sqrt() * (1.0f32 + 3.61).sqrt());
        assert!((sims[1].1 - cos4).abs() < 1e-6);
        assert_eq!((sims[2].1, sims[3].1), (0.0, 0.0));
        assert!(m.similar_items(2, 4).iter().all(|p| p.1 == 0.0));
        assert_eq!(m.similar_items(9, 4), vec![]);
    }

    #[test]
    fn recalculate_user_reproduces_a_converged_training_user() {
        let d: [&[u32]; 6] = [
            &[0, 1, 2],
            &[1, 2, 3],
            &[3, 4, 5],
            &[0, 5, 6],
            &[2, 4, 6, 7],
            &[1, 7],
        ];
        let (mut rows, mut cols, mut vals) = (vec![], vec![], vec![]);
        for (u, items) in d.iter().enumerate() {
            for (k, &i) in items.iter().enumerate() {
                rows.push(u as u32);
                cols.push(i);
                vals.push(1.0 + k as f32);
            }
        }
        let m = Csr::from_triplets(6, 8, &rows, &cols, &vals).expect("valid");
        let p = AlsParams {
            factors: 3,
            regularization: 0.1,
            alpha: 2.0,
            iterations: 200,
            solver: Solver::Cholesky,
            ..AlsParams::default()
        };
        let fitted = fit(&m, &p, init(6, 8, &p), &mut |_, _| Ok(())).expect("fit");
        for u in 0..6 {
            let (items, weights) = m.row(u);
            let x = fitted.recalculate_user(items, weights, &p).expect("solve");
            let want = &fitted.user_factors[u * 3..u * 3 + 3];
            for (a, b) in x.iter().zip(want) {
                assert!(
                    (a - b).abs() < 1e-3 * (1.0 + b.abs()),
                    "user {u}: {x:?} vs {want:?}"
                );
            }
        }
        // Repeated items are summed: weights 1 + 2 on item 0 equal weight 3.
        let split = fitted
            .recalculate_user(&[0, 4, 0], &[1.0, 1.0, 2.0], &p)
            .expect("solve");
        let merged = fitted
            .recalculate_user(&[0, 4], &[3.0, 1.0], &p)
            .expect("solve");
        assert_eq!(split, merged);
        assert_eq!(
            fitted.recalculate_user(&[], &[], &p).expect("solve"),
            vec![0.0; 3]
        );
    }

    #[test]
    fn recalculate_user_rejects_bad_input() {
        let m = model(vec![0.0; 2], vec![1.0, 0.0, 0.0, 1.0], 2);
        let p = AlsParams {
            factors: 2,
            ..AlsParams::default()
        };
        assert_eq!(
            m.recalculate_user(&[0], &[1.0, 2.0], &p),
            Err(AlsError::WeightsLengthMismatch {
                items: 1,
                weights: 2
            })
        );
        assert_eq!(
            m.recalculate_user(&[2], &[1.0], &p),
            Err(AlsError::ItemOutOfRange {
                item: 2,
                n_items: 2
            })
        );
        assert_eq!(
            m.recalculate_user(&[1], &[0.0], &p),
            Err(AlsError::InvalidWeight {
                position: 0,
                value: 0.0
            })
        );
        let wide = AlsParams { factors: 4, ..p };
        assert!(matches!(
            m.recalculate_user(&[1], &[1.0], &wide),
            Err(AlsError::ShapeMismatch { .. })
        ));
    }
}
