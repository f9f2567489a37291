//! Commands that use an exported model without the training data: `score`, NCF `recommend` /
//! `similar`, and `eval` (a saved model on a config's held-out part).

use std::fmt::Write as _;
use std::path::Path;

use crate::config::{self};
use crate::data::{Columns, IdMap, TableSpec, read_table};
use crate::dataset::Part;
use crate::error::{Error, Result};
use crate::model::{ModelError, Recommender};
use crate::modeldir::{self, Kind};
use crate::report::csv_field;
use crate::rundir::write_atomic;
use crate::scorer::Scorer;

/// `clickrec score MODEL_DIR INPUT.csv [-o OUT.csv]`: adds `score`, `click` (score ≥ threshold),
/// `cold_user`, `cold_item` columns to an impression file with the training column names.
pub fn score(dir: &Path, input: &Path, output: Option<&Path>) -> Result<()> {
    let (_, dir) = modeldir::locate(dir, Some(Kind::Ncf))?;
    let s = Scorer::load(&dir)?;
    let j = &s.json;
    let df = read_table(&TableSpec {
        path: input.to_path_buf(),
        delimiter: None,
        has_header: true,
        columns: None,
        encoding: Default::default(),
    })?;
    let cols = Columns {
        df: &df,
        path: input,
    };
    let users = cols.strings(&j.user_column, "the model's user column")?;
    let items = cols.strings(&j.item_column, "the model's item column")?;
    let spec = &j.row_features;
    let mut feature_text = Vec::new();
    for name in spec.numeric.iter().chain(&spec.categorical) {
        feature_text.push((
            name.clone(),
            cols.strings(name, "a feature column of the model")?,
        ));
    }
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let all: Vec<Vec<String>> = names
        .iter()
        .map(|n| cols.strings(n, "column"))
        .collect::<Result<_, _>>()?;
    let threshold = j.threshold;
    let mut out = names
        .iter()
        .map(|n| csv_field(n))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str(",score,click,cold_user,cold_item\n");
    let mut buf = Vec::new();
    let (mut cold_u, mut cold_i) = (0usize, 0usize);
    for row in 0..df.height() {
        let get = |name: &str| {
            feature_text
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v[row].clone())
        };
        let x = spec
            .encode_text(&get)
            .map_err(|m| Error::Usage(format!("{}: row {}: {m}", input.display(), row + 1)))?;
        let u = j.users.find(&users[row]);
        let i = j.items.find(&items[row]);
        cold_u += usize::from(u.is_none());
        cold_i += usize::from(i.is_none());
        let p = s.score(u, i, &x, &mut buf);
        let click = threshold.map_or(String::new(), |t| u8::from(f64::from(p) >= t).to_string());
        let fields: Vec<String> = all.iter().map(|c| csv_field(&c[row])).collect();
        let _ = writeln!(
            out,
            "{},{p},{click},{},{}",
            fields.join(","),
            u8::from(u.is_none()),
            u8::from(i.is_none())
        );
    }
    match output {
        Some(o) => {
            write_atomic(o, out.as_bytes())?;
            eprintln!(
                "scored {} rows into {} ({cold_u} cold users, {cold_i} cold items)",
                df.height(),
                o.display()
            );
        }
        None => print!("{out}"),
    }
    Ok(())
}

/// NCF `recommend`: every unseen item scored with the mean train row features.
pub fn recommend(dir: &Path, user: &str, k: usize, json: bool) -> Result<()> {
    let s = Scorer::load(dir)?;
    let j = &s.json;
    let u = modeldir::find(&j.users, user, "user")?;
    let seen = j
        .seen_ptr
        .get(u as usize..u as usize + 2)
        .map(|w| &j.seen_items[w[0]..w[1]])
        .unwrap_or(&[]);
    let mut buf = Vec::new();
    let scores: Vec<f32> = (0..j.items.len() as u32)
        .map(|i| s.score(Some(u), Some(i), &j.row_feature_means, &mut buf))
        .collect();
    let top = crate::metrics::top_k_excluding(&scores, seen, k)?;
    let ranked: Vec<(u32, f32)> = top.iter().map(|&i| (i, scores[i as usize])).collect();
    modeldir::print_rows(
        &modeldir::rows(&j.items, j.item_titles.as_ref(), &ranked),
        json,
    );
    Ok(())
}

/// NCF `similar`: cosine of item embeddings.
pub fn similar(dir: &Path, item: &str, k: usize, json: bool) -> Result<()> {
    let s = Scorer::load(dir)?;
    let i = modeldir::find(&s.json.items, item, "item")?;
    let ranked = s.similar_items(i, k);
    modeldir::print_rows(
        &modeldir::rows(&s.json.items, s.json.item_titles.as_ref(), &ranked),
        json,
    );
    Ok(())
}

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
    Ncf(Scorer),
    Als(crate::als::AlsModel),
}

impl Recommender for Saved {
    fn name(&self) -> &str {
        self.name
    }
    fn probabilistic(&self) -> bool {
        matches!(self.inner, SavedModel::Ncf(_))
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
                remap(&p.ds.users, &s.json.users),
                remap(&p.ds.items, &s.json.items),
                SavedModel::Ncf(s),
            )
        }
        Kind::Als => {
            let a = modeldir::load_als(&dir)?;
            (
                "als",
                remap(&p.ds.users, &a.json.users),
                remap(&p.ds.items, &a.json.items),
                SavedModel::Als(a.model),
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
        let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into());
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
        for n in &m.notes {
            println!("note: {n}");
        }
    }
    Ok(())
}
