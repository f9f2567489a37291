//! Scoring from an exported NCF folder alone (`ncf/model.safetensors`, `ncf/ncf.json`,
//! `ncf/scorer.json`), in plain Rust loops — the same formula a service or numpy uses, so the
//! export is proven self-contained. `score`, `recommend`, `similar` and `eval` use it.
//!
//! Cold start: a user or item id not seen in training gets the mean of the trained embeddings
//! (and the mean side features) and is flagged `cold_user` / `cold_item` in the output.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::export::scorer::{FORMAT, ScorerJson};
use crate::export::{read_json, read_safetensors};

/// `ncf/ncf.json`.
#[derive(Debug, Clone, Deserialize)]
struct Arch {
    variant: String,
    embedding_dim: usize,
    hidden: Vec<usize>,
    n_users: usize,
    n_items: usize,
    fu: usize,
    fi: usize,
    fr: usize,
}

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
        let mut mean = vec![0f32; dim];
        if dim > 0 && rows > 0 {
            for r in data.chunks_exact(dim) {
                for (m, v) in mean.iter_mut().zip(r) {
                    *m += v / rows as f32;
                }
            }
        }
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
                    "scorer.json has format {:?}; this clickrec reads {FORMAT:?} (re-export with this version)",
                    json.format
                ),
            ));
        }
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
        if arch.n_users != json.users.len()
            || arch.n_items != json.items.len()
            || arch.fr != json.row_features.width()
        {
            return Err(bad(
                dir,
                "ncf.json and scorer.json disagree (users, items or feature count): files from different runs?",
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
        let neumf = arch.variant == "neumf";
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

    /// Cosine-similar items by item embedding.
    pub fn similar_items(&self, item: u32, k: usize) -> Vec<(u32, f32)> {
        let d = self.arch.embedding_dim;
        let e = &self.item_emb.data;
        let q = &e[item as usize * d..(item as usize + 1) * d];
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let qn = norm(q);
        let mut sims: Vec<(u32, f32)> = (0..self.arch.n_items as u32)
            .filter(|&j| j != item)
            .map(|j| {
                let v = &e[j as usize * d..(j as usize + 1) * d];
                let dot: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
                let den = qn * norm(v);
                (j, if den > 0.0 { dot / den } else { 0.0 })
            })
            .collect();
        sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        sims.truncate(k);
        sims
    }
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
