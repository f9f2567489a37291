//! Commands on an exported model directory: `recommend`, `similar` (and, for NCF, `score`).
//!
//! MODEL_DIR may be a run directory (`artifacts/<name>`, holding `als/` and/or `ncf/`) or one
//! model's folder.

use std::path::{Path, PathBuf};

use crate::data::IdMap;
use crate::error::{Error, Result};
use crate::export::{read_json, read_safetensors};
use crate::model::als::AlsModelJson;

/// Which exported model a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Als,
    Ncf,
}

/// Find the folder of an exported model of `kind` (or the only/first one present).
pub fn locate(dir: &Path, kind: Option<Kind>) -> Result<(Kind, PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::Export(format!(
            "{}: no such model directory",
            dir.display()
        )));
    }
    let candidates = [
        (Kind::Ncf, "ncf", "scorer.json"),
        (Kind::Als, "als", "model.json"),
    ];
    for (k, sub, file) in candidates {
        if kind.is_some_and(|want| want != k) {
            continue;
        }
        if dir.join(file).is_file()
            && (dir.ends_with(sub)
                || dir.join("factors.safetensors").exists()
                || dir.join("model.safetensors").exists())
        {
            return Ok((k, dir.to_path_buf()));
        }
        if dir.join(sub).join(file).is_file() {
            return Ok((k, dir.join(sub)));
        }
    }
    Err(Error::Export(format!(
        "{}: no exported {} model here (expected {}); train with that model enabled first",
        dir.display(),
        match kind {
            Some(Kind::Als) => "ALS",
            Some(Kind::Ncf) => "NCF",
            None => "ALS or NCF",
        },
        match kind {
            Some(Kind::Als) => "als/model.json + als/factors.safetensors",
            Some(Kind::Ncf) => "ncf/scorer.json + ncf/model.safetensors",
            None => "als/ or ncf/",
        }
    )))
}

/// A loaded ALS export.
pub struct AlsExport {
    pub json: AlsModelJson,
    pub model: crate::als::AlsModel,
}

/// Load `als/model.json` + `als/factors.safetensors`, checking shapes against each other.
pub fn load_als(dir: &Path) -> Result<AlsExport> {
    let json: AlsModelJson = read_json(&dir.join("model.json"))?;
    if json.kind != "als" {
        return Err(Error::Export(format!(
            "{}: not an ALS model ({})",
            dir.display(),
            json.kind
        )));
    }
    let path = dir.join("factors.safetensors");
    let l = read_safetensors(&path)?;
    let (us, u) = l.get(&path, "user_factors")?;
    let (is, i) = l.get(&path, "item_factors")?;
    let f = json.factors;
    if us != &vec![json.users.len(), f] || is != &vec![json.items.len(), f] {
        return Err(Error::Export(format!(
            "{}: factor shapes {us:?}/{is:?} do not match model.json ({} users, {} items, {f} factors)",
            path.display(),
            json.users.len(),
            json.items.len()
        )));
    }
    let model = crate::als::AlsModel {
        factors: f,
        user_factors: u.clone(),
        item_factors: i.clone(),
        n_users: json.users.len(),
        n_items: json.items.len(),
    };
    Ok(AlsExport { json, model })
}

/// Index of a raw id, or an error naming it.
pub fn find(ids: &IdMap, id: &str, what: &str) -> Result<u32> {
    ids.find(id).ok_or_else(|| {
        Error::Usage(format!(
            "{what} {id:?} is not in the model (it had no train interactions)"
        ))
    })
}

/// One recommended or similar item, as printed.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub rank: usize,
    pub item: String,
    pub score: f32,
    pub title: Option<String>,
}

/// Render rows as a table (or JSON lines).
pub fn print_rows(rows: &[Row], json: bool) {
    for r in rows {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{:>3}  {:<24} {:>10.5}  {}",
                r.rank,
                r.item,
                r.score,
                r.title.as_deref().unwrap_or("")
            );
        }
    }
}

/// Rows from (item index, score) pairs.
pub fn rows(items: &IdMap, titles: Option<&Vec<String>>, ranked: &[(u32, f32)]) -> Vec<Row> {
    ranked
        .iter()
        .enumerate()
        .map(|(n, &(i, s))| Row {
            rank: n + 1,
            item: items.label(i as usize),
            score: s,
            title: titles.and_then(|t| t.get(i as usize)).cloned(),
        })
        .collect()
}
