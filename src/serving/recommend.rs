//! `clickrec recommend` and `clickrec similar` on an exported ALS or NCF model.

use std::path::Path;

use super::als::load_als;
use super::modeldir::{self, Kind};
use super::ncf::Scorer;
use crate::error::{Error, Result};

/// `clickrec recommend MODEL_DIR --user ID`: the user's top-k items not seen in train.
pub fn recommend(dir: &Path, user: &str, k: usize, model: Option<&str>, json: bool) -> Result<()> {
    if k == 0 {
        return Err(Error::Usage("-k must be at least 1".into()));
    }
    let (kind, dir) = modeldir::locate(dir, Kind::from_arg(model)?)?;
    match kind {
        Kind::Als => {
            let m = load_als(&dir)?;
            let u = modeldir::find(&m.json.users, user, "user")?;
            let seen = m
                .json
                .seen_ptr
                .get(u as usize..u as usize + 2)
                .map(|w| &m.json.seen_items[w[0]..w[1]])
                .unwrap_or(&[]);
            let ranked = m.model.recommend(u, k, seen);
            modeldir::print_rows(
                &modeldir::rows(&m.json.items, m.json.item_titles.as_ref(), &ranked),
                json,
            );
        }
        Kind::Ncf => recommend_ncf(&dir, user, k, json)?,
    }
    Ok(())
}

/// `clickrec similar MODEL_DIR --item ID`: the k most similar items (ALS unless `--model ncf`).
pub fn similar(dir: &Path, item: &str, k: usize, model: Option<&str>, json: bool) -> Result<()> {
    if k == 0 {
        return Err(Error::Usage("-k must be at least 1".into()));
    }
    let (kind, dir) = modeldir::locate(dir, Some(Kind::from_arg(model)?.unwrap_or(Kind::Als)))?;
    match kind {
        Kind::Als => {
            let m = load_als(&dir)?;
            let i = modeldir::find(&m.json.items, item, "item")?;
            let ranked = m.model.similar_items(i, k);
            modeldir::print_rows(
                &modeldir::rows(&m.json.items, m.json.item_titles.as_ref(), &ranked),
                json,
            );
        }
        Kind::Ncf => similar_ncf(&dir, item, k, json)?,
    }
    Ok(())
}

/// NCF `recommend`: every unseen item scored with the mean train row features.
fn recommend_ncf(dir: &Path, user: &str, k: usize, json: bool) -> Result<()> {
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
fn similar_ncf(dir: &Path, item: &str, k: usize, json: bool) -> Result<()> {
    let s = Scorer::load(dir)?;
    let i = modeldir::find(&s.json.items, item, "item")?;
    let ranked = s.similar_items(i, k);
    modeldir::print_rows(
        &modeldir::rows(&s.json.items, s.json.item_titles.as_ref(), &ranked),
        json,
    );
    Ok(())
}
