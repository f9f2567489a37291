//! Scoring from an exported NCF folder alone (`ncf/model.safetensors`, `ncf/ncf.json`,
//! `ncf/scorer.json`), in plain Rust loops — the same formula a service or numpy uses, so the
//! export is proven self-contained. `score`, `recommend`, `similar` and `eval` use it.
//!
//! Cold start: a user or item id not seen in training gets the mean of the trained embeddings
//! (and the mean side features) and is flagged `cold_user` / `cold_item` in the output.

use std::path::Path;

use crate::error::{Error, Result};
use crate::export::ids::{ModelIds, read_ids};
use crate::export::scorer::{FORMAT, ScorerJson, mean_row};
use crate::export::{read_json, read_safetensors};
use crate::ncf::Variant;
use crate::ncf::model::Arch;

/// A dense layer, PyTorch layout `[out, in]`.
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    n_in: usize,
    n_out: usize,
}

/// Rows of a table plus a mean row for cold ids.
struct Table {
    data: Vec<f32>,
    mean: Vec<f32>,
    dim: usize,
}

impl Table {
    fn new(data: Vec<f32>, rows: usize, dim: usize) -> Table {
        let mean = mean_row(&data, rows, dim);
        Table { data, mean, dim }
    }
    fn row(&self, i: Option<u32>) -> &[f32] {
        match i {
            Some(i) if self.dim > 0 => {
                &self.data[i as usize * self.dim..(i as usize + 1) * self.dim]
            }
            _ => &self.mean,
        }
    }
}

/// A loaded NCF export.
pub struct Scorer {
    pub json: ScorerJson,
    pub ids: ModelIds,
    arch: Arch,
    user_emb: Table,
    item_emb: Table,
    user_side: Table,
    item_side: Table,
    gmf: Option<(Table, Table)>,
    layers: Vec<Dense>,
    output: Dense,
}

fn bad(dir: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Export(format!("{}: {msg}", dir.display()))
}

impl Scorer {
    /// Load and check an NCF export folder.
    pub fn load(dir: &Path) -> Result<Scorer> {
        let json: ScorerJson = read_json(&dir.join("scorer.json"))?;
        if json.format != FORMAT {
            return Err(bad(
                dir,
                format!(
                    "scorer.json has format {:?}; this clickrec reads {FORMAT:?} (format 1 kept the id maps inside scorer.json; re-export with this version)",
                    json.format
                ),
            ));
        }
        let ids = read_ids(dir)?;
        let arch: Arch = read_json(&dir.join("ncf.json"))?;
        let path = dir.join("model.safetensors");
        let l = read_safetensors(&path)?;
        let take = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let (s, v) = l.get(&path, name)?;
            if s != shape {
                return Err(bad(
                    &path,
                    format!("tensor {name} has shape {s:?}, ncf.json says {shape:?}"),
                ));
            }
            Ok(v.clone())
        };
        let d = arch.embedding_dim;
        if arch.n_users != ids.users.len()
            || arch.n_items != ids.items.len()
            || arch.fr != json.row_features.width()
        {
            return Err(bad(
                dir,
                "ncf.json disagrees with scorer.json or ids.safetensors (users, items or feature count): files from different runs?",
            ));
        }
        let user_emb = Table::new(take("user_embedding", &[arch.n_users, d])?, arch.n_users, d);
        let item_emb = Table::new(take("item_embedding", &[arch.n_items, d])?, arch.n_items, d);
        let side = |name: &str, n: usize, f: usize| -> Result<Table> {
            Ok(if f == 0 {
                Table::new(vec![], n, 0)
            } else {
                Table::new(take(name, &[n, f])?, n, f)
            })
        };
        let user_side = side("user_side", arch.n_users, arch.fu)?;
        let item_side = side("item_side", arch.n_items, arch.fi)?;
        let neumf = arch.variant == Variant::Neumf;
        let gmf = if neumf {
            Some((
                Table::new(
                    take("gmf_user_embedding", &[arch.n_users, d])?,
                    arch.n_users,
                    d,
                ),
                Table::new(
                    take("gmf_item_embedding", &[arch.n_items, d])?,
                    arch.n_items,
                    d,
                ),
            ))
        } else {
            None
        };
        let mut n_in = 2 * d + arch.fu + arch.fi + arch.fr;
        let mut layers = Vec::new();
        for (k, &h) in arch.hidden.iter().enumerate() {
            layers.push(Dense {
                w: take(&format!("mlp.{k}.weight"), &[h, n_in])?,
                b: take(&format!("mlp.{k}.bias"), &[h])?,
                n_in,
                n_out: h,
            });
            n_in = h;
        }
        let out_in = n_in + if neumf { d } else { 0 };
        let output = Dense {
            w: take("output.weight", &[1, out_in])?,
            b: take("output.bias", &[1])?,
            n_in: out_in,
            n_out: 1,
        };
        Ok(Scorer {
            json,
            ids,
            arch,
            user_emb,
            item_emb,
            user_side,
            item_side,
            gmf,
            layers,
            output,
        })
    }

    /// Number of row features an input row must have.
    pub fn fr(&self) -> usize {
        self.arch.fr
    }

    /// Click probability of one row; `None` ids are cold (mean embedding).
    pub fn score(
        &self,
        user: Option<u32>,
        item: Option<u32>,
        x: &[f32],
        buf: &mut Vec<f32>,
    ) -> f32 {
        buf.clear();
        buf.extend_from_slice(self.user_emb.row(user));
        buf.extend_from_slice(self.item_emb.row(item));
        buf.extend_from_slice(self.user_side.row(user));
        buf.extend_from_slice(self.item_side.row(item));
        buf.extend_from_slice(x);
        let mut h = std::mem::take(buf);
        for l in &self.layers {
            h = dense(l, &h, true);
        }
        if let Some((gu, gi)) = &self.gmf {
            h.extend(gu.row(user).iter().zip(gi.row(item)).map(|(a, b)| a * b));
        }
        let logit = dense(&self.output, &h, false)[0];
        *buf = h;
        1.0 / (1.0 + (-logit).exp())
    }

    /// Click probabilities of one user against `items`, all with the row features `x`: blocks
    /// of items go through each layer as one matrix product (`matrixmultiply`), with buffers
    /// reused from `s`. Equals [`Self::score`] per pair up to f32 summation order.
    pub fn score_items(
        &self,
        user: Option<u32>,
        items: &[u32],
        x: &[f32],
        out: &mut [f32],
        s: &mut BatchScratch,
    ) {
        let (ue, us) = (self.user_emb.row(user), self.user_side.row(user));
        let width0 = ue.len() + self.item_emb.dim + us.len() + self.item_side.dim + x.len();
        for (block, out) in items.chunks(SCORE_BLOCK).zip(out.chunks_mut(SCORE_BLOCK)) {
            let n = block.len();
            s.h.clear();
            for &i in block {
                s.h.extend_from_slice(ue);
                s.h.extend_from_slice(self.item_emb.row(Some(i)));
                s.h.extend_from_slice(us);
                s.h.extend_from_slice(self.item_side.row(Some(i)));
                s.h.extend_from_slice(x);
            }
            let mut width = width0;
            for l in &self.layers {
                s.next.clear();
                s.next.resize(n * l.n_out, 0.0);
                // SAFETY: A = h, n × n_in row-major (n·n_in values); B = Wᵀ, n_in × n_out with
                // element (k, j) at w[j·n_in + k] (row stride 1, column stride n_in; n_out·n_in
                // values); C = next, n × n_out row-major, sized just above.
                unsafe {
                    matrixmultiply::sgemm(
                        n,
                        l.n_in,
                        l.n_out,
                        1.0,
                        s.h.as_ptr(),
                        l.n_in as isize,
                        1,
                        l.w.as_ptr(),
                        1,
                        l.n_in as isize,
                        0.0,
                        s.next.as_mut_ptr(),
                        l.n_out as isize,
                        1,
                    );
                }
                for row in s.next.chunks_exact_mut(l.n_out) {
                    for (v, b) in row.iter_mut().zip(&l.b) {
                        *v = (*v + b).max(0.0);
                    }
                }
                std::mem::swap(&mut s.h, &mut s.next);
                width = l.n_out;
            }
            for (r, (o, &i)) in out.iter_mut().zip(block).enumerate() {
                let h = &s.h[r * width..(r + 1) * width];
                let w = &self.output.w;
                let mut logit = h.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
                if let Some((gu, gi)) = &self.gmf {
                    let g = gu.row(user).iter().zip(gi.row(Some(i))).map(|(a, b)| a * b);
                    logit += g.zip(&w[width..]).map(|(a, b)| a * b).sum::<f32>();
                }
                *o = 1.0 / (1.0 + (-(logit + self.output.b[0])).exp());
            }
        }
    }

    /// The item embeddings (`[n_items × D]`, row-major) and D.
    pub fn item_embeddings(&self) -> (&[f32], usize) {
        (&self.item_emb.data, self.arch.embedding_dim)
    }
}

/// Items per block of [`Scorer::score_items`].
const SCORE_BLOCK: usize = 256;

/// Buffers of [`Scorer::score_items`], one per thread.
#[derive(Debug, Default)]
pub struct BatchScratch {
    h: Vec<f32>,
    next: Vec<f32>,
}

fn dense(l: &Dense, x: &[f32], relu: bool) -> Vec<f32> {
    (0..l.n_out)
        .map(|o| {
            let w = &l.w[o * l.n_in..(o + 1) * l.n_in];
            let v = w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + l.b[o];
            if relu { v.max(0.0) } else { v }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// The batched scorer equals the per-pair one (exported tiny model of the ONNX test).
    #[test]
    fn batched_scores_equal_per_pair_scores() {
        let dir = tempfile::tempdir().unwrap();
        super::super::tests_onnx::tiny_export(dir.path());
        let s = super::Scorer::load(dir.path()).unwrap();
        let items: Vec<u32> = (0..4).chain((0..600).map(|i| i % 4)).collect();
        let x = [0.3, 0.8];
        let mut scratch = super::BatchScratch::default();
        let mut buf = Vec::new();
        for user in [Some(0), Some(2), None] {
            let mut out = vec![0.0; items.len()];
            s.score_items(user, &items, &x, &mut out, &mut scratch);
            for (&i, &got) in items.iter().zip(&out) {
                let want = s.score(user, Some(i), &x, &mut buf);
                assert!(
                    (got - want).abs() < 1e-6,
                    "user {user:?} item {i}: {got} vs {want}"
                );
            }
        }
    }
}
