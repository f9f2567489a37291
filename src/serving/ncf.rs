//! Scoring from an exported NCF folder alone (`ncf/model.safetensors`, `ncf/ncf.json`,
//! `ncf/scorer.json`), in plain Rust loops — the same formula a service or numpy uses, so the
//! export is proven self-contained. `score`, `recommend`, `similar` and `eval` use it.
//!
//! Cold start: a user or item id not seen in training gets the mean of the trained embeddings
//! (and the mean side features) and is flagged `cold_user` / `cold_item` in the output.

use std::path::Path;

use crate::error::{Error, Result};
use crate::export::ids::{ModelIds, read_ids};
use crate::export::scorer::{FORMAT, NcfArch as Arch, ScorerJson, mean_row};
use crate::export::{read_json, read_safetensors};

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

    /// The item embeddings (`[n_items × D]`, row-major) and D.
    pub fn item_embeddings(&self) -> (&[f32], usize) {
        (&self.item_emb.data, self.arch.embedding_dim)
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
