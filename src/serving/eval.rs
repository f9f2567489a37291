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

/// The least share of the test users a saved model must know for `eval` to score it: below
/// half, most users are scored from cold-start rows (mean embeddings) or not at all (ALS,
/// popularity's missing items), and the figure describes the mismatch of model and data rather
/// than the model.
pub const MIN_KNOWN_USERS: f64 = 0.5;

/// How many distinct test users and items the saved model knows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Known {
    users: usize,
    unknown_users: usize,
    items: usize,
    unknown_items: usize,
}

impl Known {
    fn count(
        test_users: &[u32],
        users: &[Option<u32>],
        test_items: &[u32],
        items: &[Option<u32>],
    ) -> Known {
        let distinct = |rows: &[u32], map: &[Option<u32>]| {
            let mut seen = vec![false; map.len()];
            let (mut n, mut unknown) = (0, 0);
            for &r in rows {
                if !std::mem::replace(&mut seen[r as usize], true) {
                    n += 1;
                    unknown += usize::from(map[r as usize].is_none());
                }
            }
            (n, unknown)
        };
        let (users_n, unknown_users) = distinct(test_users, users);
        let (items_n, unknown_items) = distinct(test_items, items);
        Known {
            users: users_n,
            unknown_users,
            items: items_n,
            unknown_items,
        }
    }

    /// Refuse a model that knows fewer than [`MIN_KNOWN_USERS`] of the test users.
    fn check(&self, dir: &Path, run: &str) -> Result<()> {
        let known = self.users - self.unknown_users;
        let no_items = self.items > 0 && self.unknown_items == self.items;
        if (known as f64) < MIN_KNOWN_USERS * self.users as f64 || known == 0 || no_items {
            return Err(Error::Usage(format!(
                "{}: the model knows {known} of the {} test users of {run:?} ({} of {} test items); at least half of the users and some of the items must be known for the figures to describe the model — was it trained on this data set?",
                dir.display(),
                self.users,
                self.items - self.unknown_items,
                self.items
            )));
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
    let ncf = dir.join("ncf");
    if model == Some(Kind::Ncf) && super::ctr::is_ncf_over_fields(&ncf) {
        // NCF over fields is exported as a CTR model.
        return eval_ctr(&ncf, config_path, set, json);
    }
    let (kind, dir, why) = modeldir::choose(dir, model)?;
    eprintln!("model: {} ({why})", kind.name());
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
    let known = Known::count(&p.ds.test.user, &users, &p.ds.test.item, &items);
    known.check(&dir, &cfg.raw.name)?;
    let saved = Saved {
        name,
        users,
        items,
        inner,
    };
    let settings = crate::pipeline::eval_settings_for(&cfg, &p.ds)?;
    let (m, _) = crate::eval::evaluate(&saved, &p.ds, &settings)?;
    print_report(name, &cfg.raw.name, &m, known, json)
}

/// `clickrec eval <run>/deepfm CONFIG`: an exported CTR model on the config's held-out part.
pub fn eval_ctr(dir: &Path, config_path: &Path, set: &[String], json: bool) -> Result<()> {
    let model = super::ctr::Loaded::load(dir)?;
    eprintln!("model: {} ({})", model.json.model, dir.display());
    let cfg = config::load(config_path, set)?;
    let p = crate::pipeline::prepare(&cfg)?;
    let saved = super::ctr::OnDataset::new(model, &p.ds)?;
    let (users, items) = saved.known_ids();
    let known = Known::count(&p.ds.test.user, &users, &p.ds.test.item, &items);
    known.check(dir, &cfg.raw.name)?;
    let settings = crate::pipeline::eval_settings_for(&cfg, &p.ds)?;
    let (m, _) = crate::eval::evaluate(&saved, &p.ds, &settings)?;
    let name = saved.name().to_string();
    print_report(&name, &cfg.raw.name, &m, known, json)
}

fn print_report(
    name: &str,
    run: &str,
    m: &crate::eval::ModelMetrics,
    known: Known,
    json: bool,
) -> Result<()> {
    if json {
        let mut v = serde_json::to_value(m).map_err(|e| Error::Export(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("model".into(), name.into());
            o.insert("test_users".into(), known.users.into());
            o.insert("unknown_test_users".into(), known.unknown_users.into());
            o.insert("test_items".into(), known.items.into());
            o.insert("unknown_test_items".into(), known.unknown_items.into());
        }
        println!("{v}");
    } else {
        println!(
            "test users unknown to the model: {} of {}; test items unknown to the model: {} of {}",
            known.unknown_users, known.users, known.unknown_items, known.items
        );
        let f = crate::report::fmt_opt;
        let k = m.k;
        println!(
            "{name} on {run}: AUC {}  logloss {}  threshold {}  HR@{k} {:.4}  NDCG@{k} {:.4}  P@{k} {:.4} ({} ranking, {} users)",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_unknown_ids_and_refuses_below_half() {
        // Test rows of users 0, 0, 1, 2 (user 2 unknown) and items 0, 1, 1, 2 (item 1 unknown).
        let k = Known::count(
            &[0, 0, 1, 2],
            &[Some(0), Some(1), None],
            &[0, 1, 1, 2],
            &[Some(0), None, Some(1)],
        );
        assert_eq!(
            k,
            Known {
                users: 3,
                unknown_users: 1,
                items: 3,
                unknown_items: 1
            }
        );
        assert!(k.check(Path::new("m"), "r").is_ok());
        let none = Known::count(&[0, 1], &[None, None], &[0], &[Some(0)]);
        let e = none
            .check(Path::new("m"), "r")
            .expect_err("refused")
            .to_string();
        assert!(e.contains("knows 0 of the 2 test users"), "{e}");
        let half = Known::count(&[0, 1], &[Some(0), None], &[0], &[Some(0)]);
        assert!(half.check(Path::new("m"), "r").is_ok());
        let third = Known::count(&[0, 1, 2], &[Some(0), None, None], &[0], &[Some(0)]);
        assert!(third.check(Path::new("m"), "r").is_err());
        let no_items = Known::count(&[0], &[Some(0)], &[0, 1], &[None, None]);
        let e = no_items
            .check(Path::new("m"), "r")
            .expect_err("refused")
            .to_string();
        assert!(e.contains("(0 of 2 test items)"), "{e}");
    }
}
