//! `clickrec eval`: a saved model evaluated on a config's held-out part, through the same
//! evaluation path as `clickrec train`.

use std::path::Path;

use super::modeldir::{self, Kind};
use super::ncf::Scorer;
use crate::config;
use crate::data::IdMap;
use crate::dataset::Part;
use crate::error::{Error, Result};
use crate::model::{ModelError, Recommender};

/// Map a dataset's indices to a saved model's indices through the raw ids.
fn remap(from: &IdMap, to: &IdMap) -> Vec<Option<u32>> {
    (0..from.len()).map(|i| to.find(&from.label(i))).collect()
}

/// A saved model scored on another dataset's index space.
struct Saved {
    name: &'static str,
    users: Vec<Option<u32>>,
    items: Vec<Option<u32>>,
    inner: SavedModel,
}

enum SavedModel {
    Ncf(Box<Scorer>),
    Als(crate::als::AlsModel),
    /// Item scores and whether they are probabilities.
    Popularity(Vec<f32>, bool),
}

impl Recommender for Saved {
    fn name(&self) -> &str {
        self.name
    }
    fn probabilistic(&self) -> bool {
        match self.inner {
            SavedModel::Ncf(_) => true,
            SavedModel::Als(_) => false,
            SavedModel::Popularity(_, p) => p,
        }
    }
    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError> {
        let fr = part.x.len() / part.len().max(1);
        let mut buf = Vec::new();
        Ok((0..part.len())
            .map(|r| {
                let u = self.users[part.user[r] as usize];
                let i = self.items[part.item[r] as usize];
                match &self.inner {
                    SavedModel::Ncf(s) => s.score(u, i, &part.x[r * fr..(r + 1) * fr], &mut buf),
                    SavedModel::Als(m) => match (u, i) {
                        (Some(u), Some(i)) => m.score(u, i),
                        _ => 0.0,
                    },
                    SavedModel::Popularity(p, _) => i.map_or(0.0, |i| p[i as usize]),
                }
            })
            .collect())
    }
    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), ModelError> {
        let u = self.users[user as usize];
        let mut buf = Vec::new();
        for (o, &i) in out.iter_mut().zip(&self.items) {
            *o = match &self.inner {
                SavedModel::Ncf(s) => s.score(u, i, &s.json.row_feature_means, &mut buf),
                SavedModel::Als(m) => match (u, i) {
                    (Some(u), Some(i)) => m.score(u, i),
                    _ => f32::MIN,
                },
                SavedModel::Popularity(p, _) => i.map_or(f32::MIN, |i| p[i as usize]),
            };
        }
        Ok(())
    }
}

/// `clickrec eval MODEL_DIR CONFIG`: evaluate a saved model on the config's held-out part.
pub fn eval(
    dir: &Path,
    config_path: &Path,
    set: &[String],
    model: Option<Kind>,
    json: bool,
) -> Result<()> {
    let (kind, dir) = modeldir::locate(dir, model)?;
    let cfg = config::load(config_path, set)?;
    let p = crate::pipeline::prepare(&cfg)?;
    let (name, users, items, inner) = match kind {
        Kind::Ncf => {
            let s = Scorer::load(&dir)?;
            if s.json.row_features.names() != p.ds.row_spec.names() {
                return Err(Error::Usage(format!(
                    "{}: the model's row features {:?} differ from the config's {:?}",
                    dir.display(),
                    s.json.row_features.names(),
                    p.ds.row_spec.names()
                )));
            }
            (
                "ncf",
                remap(&p.ds.users, &s.ids.users),
                remap(&p.ds.items, &s.ids.items),
                SavedModel::Ncf(Box::new(s)),
            )
        }
        Kind::Als => {
            let a = super::als::load_als(&dir)?;
            (
                "als",
                remap(&p.ds.users, &a.ids.users),
                remap(&p.ds.items, &a.ids.items),
                SavedModel::Als(a.model),
            )
        }
        Kind::Popularity => {
            let e = super::served::load_popularity(&dir)?;
            (
                "popularity",
                remap(&p.ds.users, &e.ids.users),
                remap(&p.ds.items, &e.ids.items),
                SavedModel::Popularity(e.scores, e.json.probabilistic),
            )
        }
    };
    let saved = Saved {
        name,
        users,
        items,
        inner,
    };
    let settings = crate::pipeline::eval_settings_for(&cfg, &p.ds)?;
    let (m, _) = crate::eval::evaluate(&saved, &p.ds, &settings)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&m).map_err(|e| Error::Export(e.to_string()))?
        );
    } else {
        let f = crate::report::fmt_opt;
        let k = m.k;
        println!(
            "{name} on {}: AUC {}  logloss {}  threshold {}  HR@{k} {:.4}  NDCG@{k} {:.4}  P@{k} {:.4} ({} ranking, {} users)",
            cfg.raw.name,
            f(m.auc),
            f(m.logloss),
            f(m.threshold),
            m.hr_at_k,
            m.ndcg_at_k,
            m.precision_at_k,
            m.ranking,
            m.ranked_users
        );
        // Every cutoff of `eval.k` (the line above is the first one's).
        for (k, a) in &m.at_k {
            println!(
                "  @{k}: HR {:.4}  NDCG {:.4}  P {:.4}  recall {:.4}  MRR {:.4}  MAP {:.4}  coverage {}",
                a.hr,
                a.ndcg,
                a.precision,
                a.recall,
                a.mrr,
                a.map,
                f(a.coverage)
            );
        }
        for n in &m.notes {
            println!("note: {n}");
        }
    }
    Ok(())
}
