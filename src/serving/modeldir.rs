//! Finding a model in an exported model directory.
//!
//! MODEL_DIR may be a run directory (`artifacts/<name>`, holding `ncf/`, `als/`,
//! `popularity/`) or one model's folder.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Which exported model a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Als,
    Ncf,
    Popularity,
}

/// Each kind: its folder in a run directory, the file that marks it, and what it needs.
const KINDS: [(Kind, &str, &str, &str); 3] = [
    (
        Kind::Ncf,
        "ncf",
        "scorer.json",
        "ncf/scorer.json + ncf/model.safetensors",
    ),
    (
        Kind::Als,
        "als",
        "factors.safetensors",
        "als/model.json + als/factors.safetensors",
    ),
    (
        Kind::Popularity,
        "popularity",
        "scores.safetensors",
        "popularity/model.json + popularity/scores.safetensors",
    ),
];

impl Kind {
    /// `--model als|ncf|popularity` (absent: whichever the directory holds).
    pub fn from_arg(model: Option<&str>) -> Result<Option<Kind>> {
        match model {
            None => Ok(None),
            Some("als") => Ok(Some(Kind::Als)),
            Some("ncf") => Ok(Some(Kind::Ncf)),
            Some("popularity") => Ok(Some(Kind::Popularity)),
            Some(other) => Err(Error::Usage(format!(
                "--model {other:?}: expected als, ncf or popularity"
            ))),
        }
    }

    /// The name used in reports and `--model`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Als => "als",
            Kind::Ncf => "ncf",
            Kind::Popularity => "popularity",
        }
    }
}

/// Find the folder of an exported model of `kind` (or the first present: NCF, ALS, popularity).
/// `dir` is a run directory or one model's folder.
pub fn locate(dir: &Path, kind: Option<Kind>) -> Result<(Kind, PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::Export(format!(
            "{}: no such model directory",
            dir.display()
        )));
    }
    for (k, sub, marker, _) in KINDS {
        if kind.is_some_and(|want| want != k) {
            continue;
        }
        let inner = dir.join(sub);
        let found = if dir.join(marker).is_file()
            || (dir.ends_with(sub) && dir.join("model.json").is_file())
        {
            dir.to_path_buf()
        } else if inner.join(marker).is_file() || inner.join("model.json").is_file() {
            inner
        } else {
            continue;
        };
        if k == Kind::Ncf && super::ctr::is_ncf_over_fields(&found) {
            if kind == Some(Kind::Ncf) {
                return Err(Error::Usage(format!(
                    "{}: this NCF was trained over categorical fields, so it is a CTR model whose fields are per impression: it scores impressions (`clickrec score {} FILE`, `clickrec eval {} CONFIG`) and does not rank every item; choose --model als or popularity to recommend",
                    found.display(),
                    found.display(),
                    found.display()
                )));
            }
            continue;
        }
        return Ok((k, found));
    }
    let (what, expected) = match kind {
        Some(k) => {
            let (_, _, _, expected) = KINDS.iter().find(|e| e.0 == k).copied().unwrap_or(KINDS[0]);
            (k.name(), expected)
        }
        None => ("als, ncf or popularity", "als/, ncf/ or popularity/"),
    };
    Err(Error::Export(format!(
        "{}: no exported {what} model here (expected {expected}); train with that model enabled first",
        dir.display()
    )))
}

/// The model that answers a serving command, its folder, and why it was chosen (printed, and
/// in `--json`). With `--model`, that model. Without it: the only model of the directory, or,
/// when a run directory holds several, the best of them on the run's primary metric in its
/// `metrics.json` (AUC for CTR runs, whose ranking is per impression; HR@K otherwise; ties go
/// to NCF, then ALS, then popularity). Several models and no `metrics.json` is an error asking
/// for `--model`.
pub fn choose(dir: &Path, kind: Option<Kind>) -> Result<(Kind, PathBuf, String)> {
    if let Some(k) = kind {
        let (k, d) = locate(dir, Some(k))?;
        return Ok((k, d, "--model".into()));
    }
    let present: Vec<(Kind, PathBuf)> = KINDS
        .iter()
        .filter_map(|(k, _, _, _)| locate(dir, Some(*k)).ok())
        .collect();
    if present.len() <= 1 {
        let (k, d) = locate(dir, None)?;
        return Ok((k, d, "the only model here".into()));
    }
    let names: Vec<&str> = present.iter().map(|(k, _)| k.name()).collect();
    let ask = |why: String| {
        Error::Usage(format!(
            "{}: holds {} models ({}) and {why}; choose one with --model",
            dir.display(),
            names.len(),
            names.join(", ")
        ))
    };
    let path = dir.join("metrics.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|_| ask("no metrics.json to pick the best from".into()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ask(format!("{} cannot be read ({e})", path.display())))?;
    let models = &v["models"];
    let ctr = present
        .iter()
        .all(|(k, _)| models[k.name()]["ranking"].as_str() == Some("impressions"));
    let metric = if ctr { "auc" } else { "hr_at_k" };
    let mut best: Option<(f64, &(Kind, PathBuf))> = None;
    for p in &present {
        if let Some(x) = models[p.0.name()][metric].as_f64()
            && best.is_none_or(|(b, _)| x > b)
        {
            best = Some((x, p));
        }
    }
    let (x, (k, d)) =
        best.ok_or_else(|| ask(format!("{} holds no {metric} of them", path.display())))?;
    Ok((
        *k,
        d.clone(),
        format!(
            "best of {} on the run's {metric} ({x:.4})",
            names.join(", ")
        ),
    ))
}
