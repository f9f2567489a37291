//! Finding a model in an exported model directory, raw ids in its id maps, and printing
//! ranked rows.
//!
//! MODEL_DIR may be a run directory (`artifacts/<name>`, holding `als/` and/or `ncf/`) or one
//! model's folder.

use std::path::{Path, PathBuf};

use crate::data::IdMap;
use crate::error::{Error, Result};

/// Which exported model a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Als,
    Ncf,
}

impl Kind {
    /// `--model als|ncf` (absent: whichever the directory holds).
    pub fn from_arg(model: Option<&str>) -> Result<Option<Kind>> {
        match model {
            None => Ok(None),
            Some("als") => Ok(Some(Kind::Als)),
            Some("ncf") => Ok(Some(Kind::Ncf)),
            Some(other) => Err(Error::Usage(format!(
                "--model {other:?}: expected als or ncf"
            ))),
        }
    }
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
