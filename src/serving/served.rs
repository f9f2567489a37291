//! An exported model loaded for serving, whichever kind it is: its ids, its input columns, and
//! top-k for a list of queries through the fastest path of [`super::rank`].

use std::path::Path;

use indicatif::ProgressBar;

use super::als::{AlsExport, load_als};
use super::modeldir::{self, Kind};
use super::ncf::{BatchScratch, Scorer};
use super::queries::Queries;
use super::rank::{ConstantIndex, DotIndex, Ranked, top_k_scored};
use crate::error::{Error, Result};
use crate::export::ids::{ModelIds, read_ids};
use crate::export::{InputColumns, read_json, read_safetensors};
use crate::model::popularity::{FORMAT as POPULARITY_FORMAT, PopularityJson};

/// A loaded popularity export.
pub struct PopularityExport {
    pub json: PopularityJson,
    pub ids: ModelIds,
    pub scores: Vec<f32>,
}

/// Load `popularity/model.json`, `scores.safetensors`, `ids.safetensors`.
pub fn load_popularity(dir: &Path) -> Result<PopularityExport> {
    let json: PopularityJson = read_json(&dir.join("model.json"))?;
    if json.format != POPULARITY_FORMAT {
        return Err(Error::Export(format!(
            "{}: model.json has format {:?}; this clickrec reads {POPULARITY_FORMAT:?} (re-export with this version)",
            dir.display(),
            json.format
        )));
    }
    let ids = read_ids(dir)?;
    let path = dir.join("scores.safetensors");
    let mut l = read_safetensors(&path)?;
    let (shape, _) = l.get(&path, "scores")?;
    if shape != &vec![ids.items.len()] {
        return Err(Error::Export(format!(
            "{}: scores has shape {shape:?} for {} items",
            path.display(),
            ids.items.len()
        )));
    }
    let scores = l.tensors.remove("scores").map(|t| t.1).unwrap_or_default();
    Ok(PopularityExport { json, ids, scores })
}

/// A loaded exported model.
pub enum Served {
    Als(AlsExport),
    Ncf(Box<Scorer>),
    Popularity(PopularityExport),
}

impl Served {
    /// Locate and load the model of `kind` (or the first present) in `dir`.
    pub fn load(dir: &Path, kind: Option<Kind>) -> Result<Served> {
        let (kind, dir) = modeldir::locate(dir, kind)?;
        Ok(match kind {
            Kind::Als => Served::Als(load_als(&dir)?),
            Kind::Ncf => Served::Ncf(Box::new(Scorer::load(&dir)?)),
            Kind::Popularity => Served::Popularity(load_popularity(&dir)?),
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Served::Als(_) => Kind::Als,
            Served::Ncf(_) => Kind::Ncf,
            Served::Popularity(_) => Kind::Popularity,
        }
    }

    /// Id maps, seen lists and titles.
    pub fn ids(&self) -> &ModelIds {
        match self {
            Served::Als(m) => &m.ids,
            Served::Ncf(s) => &s.ids,
            Served::Popularity(p) => &p.ids,
        }
    }

    /// The training config's input columns.
    pub fn columns(&self) -> &InputColumns {
        match self {
            Served::Als(m) => &m.json.columns,
            Served::Ncf(s) => &s.json.columns,
            Served::Popularity(p) => &p.json.columns,
        }
    }

    /// The top `k` of every query among `catalog` (ascending item rows).
    pub fn recommend(
        &self,
        q: &Queries,
        catalog: &[u32],
        k: usize,
        bar: &ProgressBar,
    ) -> Result<Vec<Ranked>> {
        let exclude = |i: usize| q.exclude(i);
        Ok(match self {
            Served::Als(m) => {
                let f = m.model.factors;
                let vectors = q
                    .vectors
                    .as_deref()
                    .ok_or_else(|| Error::Usage("internal: ALS queries carry no factors".into()))?;
                if vectors.len() != q.len() * f {
                    return Err(Error::Usage(format!(
                        "internal: {} query factors for {} queries of {f} factors",
                        vectors.len(),
                        q.len()
                    )));
                }
                DotIndex::new(&m.model.item_factors, f, catalog).top_k(vectors, k, exclude, bar)
            }
            Served::Ncf(s) => {
                let means = &s.json.row_feature_means;
                let score = |i: usize, cat: &[u32], out: &mut [f32], b: &mut BatchScratch| {
                    s.score_items(q.rows[i], cat, means, out, b)
                };
                top_k_scored(q.len(), catalog, k, score, exclude, bar)
            }
            Served::Popularity(p) => {
                ConstantIndex::new(&p.scores, catalog).top_k(q.len(), k, exclude, bar)
            }
        })
    }

    /// The `k` items most similar to each item of `queries` (item rows) among `catalog`, by
    /// cosine of the ALS item factors or NCF item embeddings; an item is never its own neighbour.
    pub fn similar(
        &self,
        queries: &[u32],
        catalog: &[u32],
        k: usize,
        bar: &ProgressBar,
    ) -> Result<Vec<Ranked>> {
        let (vectors, f) = match self {
            Served::Als(m) => (&m.model.item_factors[..], m.model.factors),
            Served::Ncf(s) => s.item_embeddings(),
            Served::Popularity(_) => {
                return Err(Error::Usage(
                    "similar needs item vectors: use --model als or --model ncf".into(),
                ));
            }
        };
        let unit = normalized(vectors, f);
        let mut q = Vec::with_capacity(queries.len() * f);
        for &i in queries {
            q.extend_from_slice(&unit[i as usize * f..(i as usize + 1) * f]);
        }
        let own: Vec<[u32; 1]> = queries.iter().map(|&i| [i]).collect();
        Ok(DotIndex::new(&unit, f, catalog).top_k(&q, k, |i| &own[i][..], bar))
    }
}

/// Rows scaled to unit length (a zero row stays zero: similarity 0 to everything).
fn normalized(v: &[f32], f: usize) -> Vec<f32> {
    let mut out = v.to_vec();
    if f == 0 {
        return out;
    }
    for row in out.chunks_exact_mut(f) {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x /= n);
        }
    }
    out
}
