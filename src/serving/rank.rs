//! Top-k for many queries at once, the three ways the models score:
//!
//! - [`DotIndex`]: inner products (ALS user × item factors, cosine of normalised item vectors
//!   for `similar`). Blocks of queries are multiplied with tiles of items by `matrixmultiply`
//!   (no per-query allocation) and each tile's scores go straight into the per-query top-k
//!   while they are in cache. The items are kept in descending-norm order, so by Cauchy–Schwarz
//!   a block stops as soon as `|q|·max|y|` of the next tile is below every query's current k-th
//!   score: exact, and free, but it only pays when item norms spread widely (on the synthetic
//!   bench model it saved no measurable time).
//! - [`top_k_scored`]: any per-query scorer (NCF's MLP) over the catalogue.
//! - [`ConstantIndex`]: the same scores for every query (popularity): one sort, then a walk
//!   past each query's exclusions.
//!
//! Every path ranks equal scores by ascending item index and returns exactly k rows per query
//! whenever k non-excluded items remain. Queries run in parallel (rayon), results in query
//! order, independent of the thread count.

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::candidates::contains;
use crate::topk::TopK;

/// One ranked row: query number (position in the query list), item row, score; rows of one
/// query are consecutive and best first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub query: u32,
    pub item: u32,
    pub score: f32,
}

/// The rows of query `q` from its sorted (item, score) pairs.
fn rows_of(q: usize, ranked: impl Iterator<Item = (u32, f32)>) -> impl Iterator<Item = Ranked> {
    ranked.map(move |(item, score)| Ranked {
        query: q as u32,
        item,
        score,
    })
}

/// matrixmultiply runs a product on its own threads once `(m + n)·k` reaches 2^15; blocks stay
/// below that, since rayon already runs one block per core.
const SERIAL_GEMM_LIMIT: usize = 1 << 15;
/// Relative slack on the Cauchy–Schwarz bound for f32 rounding of the products.
const BOUND_SLACK: f32 = 1e-4;

/// Queries per block and items per tile for `f` factors.
fn block_shape(f: usize) -> (usize, usize) {
    let total = (SERIAL_GEMM_LIMIT - 1) / f.max(1);
    let queries = (total / 4).clamp(1, 64);
    let tile = total.saturating_sub(queries).max(1);
    (queries, tile)
}

/// Item vectors of a catalogue, in descending-norm order, for inner-product top-k.
pub struct DotIndex {
    f: usize,
    items: Vec<u32>,
    vecs: Vec<f32>,
    norms: Vec<f32>,
}

impl DotIndex {
    /// The catalogue `catalog` (item rows) of `vectors` (`[n_items × f]`, row-major).
    pub fn new(vectors: &[f32], f: usize, catalog: &[u32]) -> DotIndex {
        let norm = |i: u32| {
            let v = &vectors[i as usize * f..(i as usize + 1) * f];
            v.iter().map(|x| x * x).sum::<f32>().sqrt()
        };
        let mut order: Vec<(f32, u32)> = catalog.iter().map(|&i| (norm(i), i)).collect();
        // NaN norms first: they can never be pruned.
        order.sort_by(|a, b| {
            let key = |x: f32| if x.is_nan() { f32::INFINITY } else { x };
            key(b.0).total_cmp(&key(a.0)).then(a.1.cmp(&b.1))
        });
        let mut vecs = Vec::with_capacity(order.len() * f);
        for &(_, i) in &order {
            vecs.extend_from_slice(&vectors[i as usize * f..(i as usize + 1) * f]);
        }
        DotIndex {
            f,
            norms: order.iter().map(|p| p.0).collect(),
            items: order.into_iter().map(|p| p.1).collect(),
            vecs,
        }
    }

    /// The top `k` items of each query `queries[q·f..(q+1)·f]` by inner product, without the
    /// items of `exclude(q)` (ascending item rows).
    pub fn top_k<'e, E>(
        &self,
        queries: &[f32],
        k: usize,
        exclude: E,
        bar: &ProgressBar,
    ) -> Vec<Ranked>
    where
        E: Fn(usize) -> &'e [u32] + Sync,
    {
        let f = self.f;
        let n_queries = queries.len().checked_div(f).unwrap_or(0);
        let (qb, tile) = block_shape(f);
        let blocks: Vec<Vec<Ranked>> = (0..n_queries.div_ceil(qb))
            .into_par_iter()
            .map_init(
                || BlockScratch::new(qb, tile, k),
                |s, b| {
                    let q0 = b * qb;
                    let q1 = (q0 + qb).min(n_queries);
                    let out = self.block(&queries[q0 * f..q1 * f], q0, k, &exclude, s);
                    bar.inc((q1 - q0) as u64);
                    out
                },
            )
            .collect();
        blocks.concat()
    }

    /// One block of queries (`q0` is the number of its first query).
    fn block<'e, E>(
        &self,
        queries: &[f32],
        q0: usize,
        k: usize,
        exclude: &E,
        s: &mut BlockScratch,
    ) -> Vec<Ranked>
    where
        E: Fn(usize) -> &'e [u32] + Sync,
    {
        let f = self.f;
        let nq = queries.len() / f;
        let tile = s.tile;
        for (r, q) in queries.chunks_exact(f).enumerate() {
            s.tops[r].clear();
            s.qnorm[r] = q.iter().map(|x| x * x).sum::<f32>().sqrt() * (1.0 + BOUND_SLACK);
        }
        let n = self.items.len();
        let mut t0 = 0;
        while t0 < n {
            let tl = tile.min(n - t0);
            let max_norm = self.norms[t0];
            // `!(bound < threshold)` also keeps going on NaN.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let open = |r: usize, tops: &[TopK], qnorm: &[f32]| {
                !(qnorm[r] * max_norm < tops[r].threshold())
            };
            if !(0..nq).any(|r| open(r, &s.tops, &s.qnorm)) {
                break;
            }
            let c = &mut s.scores[..nq * tl];
            // SAFETY: A = the block's queries, nq × f row-major (row stride f); B = the tile's
            // vectors transposed, f × tl (element (d, j) at vecs[(t0 + j)·f + d]: row stride 1,
            // column stride f); C = nq × tl row-major. All reads stay inside `queries` and
            // `self.vecs` (t0 + tl ≤ n items), all writes inside `c` (nq·tl values).
            unsafe {
                matrixmultiply::sgemm(
                    nq,
                    f,
                    tl,
                    1.0,
                    queries.as_ptr(),
                    f as isize,
                    1,
                    self.vecs[t0 * f..].as_ptr(),
                    1,
                    f as isize,
                    0.0,
                    c.as_mut_ptr(),
                    tl as isize,
                    1,
                );
            }
            let items = &self.items[t0..t0 + tl];
            for r in 0..nq {
                if !open(r, &s.tops, &s.qnorm) {
                    continue;
                }
                let ex = exclude(q0 + r);
                let top = &mut s.tops[r];
                for (&score, &item) in c[r * tl..(r + 1) * tl].iter().zip(items) {
                    if top.admits(item, score) && !contains(ex, item) {
                        top.push(item, score);
                    }
                }
            }
            t0 += tl;
        }
        let mut out = Vec::with_capacity(nq * k.min(n));
        for r in 0..nq {
            s.drained.clear();
            s.tops[r].drain_sorted(&mut s.drained);
            out.extend(rows_of(q0 + r, s.drained.iter().copied()));
        }
        out
    }
}

/// Per-thread buffers of [`DotIndex::top_k`].
struct BlockScratch {
    tile: usize,
    scores: Vec<f32>,
    tops: Vec<TopK>,
    qnorm: Vec<f32>,
    drained: Vec<(u32, f32)>,
}

impl BlockScratch {
    fn new(qb: usize, tile: usize, k: usize) -> BlockScratch {
        BlockScratch {
            tile,
            scores: vec![0.0; qb * tile],
            tops: (0..qb).map(|_| TopK::new(k)).collect(),
            qnorm: vec![0.0; qb],
            drained: Vec::with_capacity(k),
        }
    }
}

/// Top `k` of each of `n_queries` queries over `catalog` (ascending item rows), where
/// `score(q, catalog, out, scratch)` writes query q's score of every catalogue item into `out`
/// (`scratch` is a per-thread buffer made by `T::default()`).
pub fn top_k_scored<'e, T, S, E>(
    n_queries: usize,
    catalog: &[u32],
    k: usize,
    score: S,
    exclude: E,
    bar: &ProgressBar,
) -> Vec<Ranked>
where
    T: Default,
    S: Fn(usize, &[u32], &mut [f32], &mut T) + Sync,
    E: Fn(usize) -> &'e [u32] + Sync,
{
    let per_query: Vec<Vec<Ranked>> = (0..n_queries)
        .into_par_iter()
        .map_init(
            || {
                (
                    vec![0.0f32; catalog.len()],
                    TopK::new(k),
                    Vec::new(),
                    T::default(),
                )
            },
            |(scores, top, drained, scratch), q| {
                score(q, catalog, scores, scratch);
                let ex = exclude(q);
                top.clear();
                for (&item, &s) in catalog.iter().zip(scores.iter()) {
                    if top.admits(item, s) && !contains(ex, item) {
                        top.push(item, s);
                    }
                }
                drained.clear();
                top.drain_sorted(drained);
                bar.inc(1);
                rows_of(q, drained.iter().copied()).collect()
            },
        )
        .collect();
    per_query.concat()
}

/// A catalogue ranked once by scores that are the same for every query.
pub struct ConstantIndex {
    ranked: Vec<(u32, f32)>,
}

impl ConstantIndex {
    /// The catalogue (item rows) ranked by `scores[item]`, ties by ascending index.
    pub fn new(scores: &[f32], catalog: &[u32]) -> ConstantIndex {
        let mut top = TopK::new(catalog.len());
        for &i in catalog {
            top.push(i, scores[i as usize]);
        }
        let mut ranked = Vec::with_capacity(catalog.len());
        top.drain_sorted(&mut ranked);
        ConstantIndex { ranked }
    }

    /// The top `k` of each of `n_queries` queries, skipping `exclude(q)`.
    pub fn top_k<'e, E>(
        &self,
        n_queries: usize,
        k: usize,
        exclude: E,
        bar: &ProgressBar,
    ) -> Vec<Ranked>
    where
        E: Fn(usize) -> &'e [u32] + Sync,
    {
        let per_query: Vec<Vec<Ranked>> = (0..n_queries)
            .into_par_iter()
            .map(|q| {
                let ex = exclude(q);
                bar.inc(1);
                let kept = self.ranked.iter().filter(|(i, _)| !contains(ex, *i));
                rows_of(q, kept.take(k).copied()).collect()
            })
            .collect();
        per_query.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The full sort: score descending, ties by ascending item, exclusions dropped.
    fn brute(scores: &[f32], catalog: &[u32], exclude: &[u32], k: usize) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = catalog
            .iter()
            .filter(|i| !exclude.contains(i))
            .map(|&i| (i, scores[i as usize]))
            .collect();
        // −0 and +0 are the same score.
        v.sort_by(|a, b| (b.1 + 0.0).total_cmp(&(a.1 + 0.0)).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }

    fn rows_of(r: &[Ranked], q: u32) -> Vec<(u32, f32)> {
        r.iter()
            .filter(|x| x.query == q)
            .map(|x| (x.item, x.score))
            .collect()
    }

    #[test]
    fn blocked_products_with_pruning_equal_the_full_sort() {
        // Small integer vectors: every product is exact in f32, and there are many ties.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (f, n_items, n_queries) = (5, 700, 150);
        let mut items: Vec<f32> = Vec::new();
        for i in 0..n_items {
            // Norms vary a lot, so the Cauchy–Schwarz stop prunes most tiles.
            let scale = if i % 10 == 0 { 3 } else { 1 };
            items.extend((0..f).map(|_| (rng.random_range(-2..=2) * scale) as f32));
        }
        let queries: Vec<f32> = (0..n_queries * f)
            .map(|_| rng.random_range(-2..=2) as f32)
            .collect();
        let catalog: Vec<u32> = (0..n_items as u32).filter(|i| i % 7 != 3).collect();
        let excludes: Vec<Vec<u32>> = (0..n_queries)
            .map(|q| {
                let mut e: Vec<u32> = (0..q % 40)
                    .map(|_| rng.random_range(0..n_items as u32))
                    .collect();
                e.sort_unstable();
                e.dedup();
                e
            })
            .collect();
        let index = DotIndex::new(&items, f, &catalog);
        let bar = ProgressBar::hidden();
        for k in [1, 10, 1000] {
            let got = index.top_k(&queries, k, |q| &excludes[q][..], &bar);
            for q in 0..n_queries {
                let x = &queries[q * f..(q + 1) * f];
                let scores: Vec<f32> = items
                    .chunks_exact(f)
                    .map(|y| y.iter().zip(x).map(|(a, b)| a * b).sum())
                    .collect();
                let want = brute(&scores, &catalog, &excludes[q], k);
                assert_eq!(rows_of(&got, q as u32), want, "query {q}, k {k}");
            }
        }
    }

    #[test]
    fn scored_and_constant_paths_give_exactly_k_rows_when_k_remain() {
        let scores: Vec<f32> = (0..50).map(|i| ((i * 13) % 7) as f32).collect();
        let catalog: Vec<u32> = (0..50).filter(|i| i % 3 != 0).collect();
        let excludes: Vec<Vec<u32>> = vec![vec![], (0..50).collect(), (1..40).collect()];
        let bar = ProgressBar::hidden();
        let constant =
            ConstantIndex::new(&scores, &catalog).top_k(3, 8, |q| &excludes[q][..], &bar);
        let scored = top_k_scored(
            3,
            &catalog,
            8,
            |_, cat, out, _: &mut ()| {
                for (o, &i) in out.iter_mut().zip(cat) {
                    *o = scores[i as usize];
                }
            },
            |q| &excludes[q][..],
            &bar,
        );
        for (q, exclude) in excludes.iter().enumerate().take(3) {
            let want = brute(&scores, &catalog, exclude, 8);
            assert_eq!(rows_of(&constant, q as u32), want);
            assert_eq!(rows_of(&scored, q as u32), want);
        }
        // 8 rows, none, and the 7 catalogue items left in 40..50.
        assert_eq!(rows_of(&constant, 0).len(), 8);
        assert_eq!(rows_of(&constant, 1).len(), 0);
        assert_eq!(rows_of(&constant, 2).len(), 7);
    }
}
