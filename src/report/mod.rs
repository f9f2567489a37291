//! What a run writes: `metrics.json`, `report.md`, predictions CSVs and plots.
//!
//! `metrics.json` keeps every timing under `timings`, so two runs with the same config and seed
//! give byte-identical files once `timings` is removed.

pub mod plots;
pub mod timings;

pub use timings::{Stages, Timings};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::data::LoadReport;
use crate::dataset::Dataset;
use crate::eval::ModelMetrics;
use crate::rundir::{RunDirError, write_atomic};
use crate::split::SplitStats;

/// Dataset statistics (`clickrec data` and the `data` object of metrics.json).
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    #[serde(flatten)]
    pub load: LoadReport,
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    /// Share of the user × item matrix with no interaction, in percent.
    pub sparsity: f64,
    pub click_rate: Option<f64>,
}

/// Training timings of one model (excluded from reproducibility comparisons).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Timing {
    pub fit_seconds: f64,
    pub samples_per_sec: Option<f64>,
    pub seconds_per_iteration: Option<f64>,
    /// Per epoch (NCF) or iteration (ALS) of this run.
    pub epoch_seconds: Vec<f64>,
    /// Time spent writing `--resume` checkpoints (not in `fit_seconds`).
    pub checkpoint_seconds: f64,
}

/// Per-epoch / per-iteration training curve of one model.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Curve {
    pub loss: Vec<f64>,
    pub valid_auc: Vec<Option<f64>>,
}

/// The whole metrics.json.
#[derive(Debug, Clone, Serialize)]
pub struct RunMetrics {
    pub name: String,
    pub clickrec_version: &'static str,
    pub seed: u64,
    pub mode: &'static str,
    pub k: usize,
    pub ranking: String,
    pub cutoff_weight: f64,
    pub data: DataSummary,
    pub split: SplitStats,
    pub models: BTreeMap<String, ModelMetrics>,
    pub training: BTreeMap<String, Curve>,
    pub timings: Timings,
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into())
}

/// The human-readable report: comparison table, then each model's classification report.
pub fn markdown(m: &RunMetrics) -> String {
    let k = m.k;
    let mut s = String::new();
    let _ = writeln!(s, "# clickrec run `{}`\n", m.name);
    let _ = writeln!(
        s,
        "{} log; split `{}`: {} train rows, {} test rows, {} eval users; seed {}.\n",
        m.mode, m.split.split, m.split.train_rows, m.split.test_rows, m.split.eval_users, m.seed
    );
    s.push_str(&table(m));
    for (name, mm) in &m.models {
        if let (Some(c), Some(conf), Some(t)) = (&mm.classification, &mm.confusion, mm.threshold) {
            let _ = writeln!(
                s,
                "\n## {name}: classification at threshold {t:.4} (cutoff weight {})\n",
                m.cutoff_weight
            );
            let _ = writeln!(
                s,
                "| class | precision | recall | f1 | support |\n|---|---|---|---|---|"
            );
            for (label, cs) in [("0 (no click)", &c.class_0), ("1 (click)", &c.class_1)] {
                let _ = writeln!(
                    s,
                    "| {label} | {:.4} | {:.4} | {:.4} | {} |",
                    cs.precision, cs.recall, cs.f1, cs.support
                );
            }
            let _ = writeln!(
                s,
                "\naccuracy {:.4}; confusion (rows true 0/1, columns predicted 0/1): {:?}",
                c.accuracy, conf
            );
        }
        for n in &mm.notes {
            let _ = writeln!(s, "\n> {name}: {n}");
        }
    }
    if let Some(sm) = m.models.values().find_map(|mm| mm.sampled.as_ref()) {
        let _ = writeln!(
            s,
            "\nSampled protocol: each test pair against {} sampled unseen items.",
            sm.negatives_per_pair
        );
    }
    let _ = writeln!(s, "\nHR@{k}/NDCG@{k}/P@{k} ranking mode: `{}`.", m.ranking);
    s
}

/// The comparison table (also printed by `clickrec train`).
pub fn table(m: &RunMetrics) -> String {
    let k = m.k;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| model | AUC | logloss | threshold | HR@{k} | NDCG@{k} | P@{k} | base rate | sampled HR@{k} | fit s |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for (name, mm) in &m.models {
        let fit = m
            .timings
            .models
            .get(name)
            .map(|t| format!("{:.2}", t.fit_seconds))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {fit} |",
            fmt_opt(mm.auc),
            fmt_opt(mm.logloss),
            fmt_opt(mm.threshold),
            mm.hr_at_k,
            mm.ndcg_at_k,
            mm.precision_at_k,
            fmt_opt(mm.base_rate),
            fmt_opt(mm.sampled.as_ref().map(|x| x.hr)),
        );
    }
    s
}

/// Write `predictions/<model>.csv`: raw user and item ids, label, score for every test row.
pub fn write_predictions(
    dir: &Path,
    model: &str,
    ds: &Dataset,
    scores: &[f32],
) -> Result<(), RunDirError> {
    let mut out = String::with_capacity(ds.test.len() * 32);
    out.push_str("user,item,label,score\n");
    for (r, score) in scores.iter().enumerate() {
        let label = ds.test.label.as_ref().map_or(1, |l| u8::from(l[r]));
        let _ = writeln!(
            out,
            "{},{},{label},{score}",
            csv_field(&ds.users.label(ds.test.user[r] as usize)),
            csv_field(&ds.items.label(ds.test.item[r] as usize))
        );
    }
    write_atomic(&dir.join(format!("{model}.csv")), out.as_bytes())
}

/// Quote a CSV field when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
