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
use crate::eval::{ModelMetrics, PerUser};
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
    /// The primary cutoff (the flat `*_at_k` keys of each model).
    pub k: usize,
    /// Every cutoff of `[eval] k`, primary first (each model's `at_k` keys).
    pub ks: Vec<usize>,
    pub ranking: String,
    pub cutoff_weight: f64,
    pub data: DataSummary,
    pub split: SplitStats,
    pub models: BTreeMap<String, ModelMetrics>,
    /// `[data.synthetic]`: the generator's own truth scored like a model (the ceiling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle: Option<ModelMetrics>,
    pub training: BTreeMap<String, Curve>,
    pub timings: Timings,
}

/// A metric to 4 decimals, or – when undefined.
pub fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into())
}

/// The human-readable report: comparison table, then each model's classification report.
pub fn markdown(m: &RunMetrics) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# clickrec run `{}`\n", m.name);
    let _ = writeln!(
        s,
        "{} log; split `{}`: {} train rows, {} test rows, {} eval users; seed {}.\n",
        m.mode, m.split.split, m.split.train_rows, m.split.test_rows, m.split.eval_users, m.seed
    );
    s.push_str(&table(m));
    if let Some(l) = lift_captured(m) {
        s.push_str(&l);
    }
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
    let _ = writeln!(
        s,
        "\nTop-K ranking mode: `{}`; Recall@K = hits / the user's test items, MAP@K normalised by min(test items, K), coverage = share of train items in some user's top K.",
        m.ranking
    );
    s
}

/// The table rows: every model, then the generator's truth when known.
fn rows(m: &RunMetrics) -> impl Iterator<Item = (&str, &ModelMetrics)> {
    m.models
        .iter()
        .map(|(n, mm)| (n.as_str(), mm))
        .chain(m.oracle.iter().map(|o| ("oracle (generator truth)", o)))
}

/// Share of the achievable lift over popularity each model captures at the primary K:
/// (model − popularity) / (oracle − popularity), for AUC and HR@K.
fn lift_captured(m: &RunMetrics) -> Option<String> {
    let o = m.oracle.as_ref()?;
    let base = m.models.get("popularity")?;
    let share = |v: f64, b: f64, top: f64| {
        if (top - b).abs() > 1e-12 {
            format!("{:.2}", (v - b) / (top - b))
        } else {
            "–".into()
        }
    };
    let k = m.k;
    let mut s = format!(
        "\nShare of the achievable lift over popularity, (model − popularity) / (oracle − popularity): oracle HR@{k} {:.4}",
        o.hr_at_k
    );
    if let Some(a) = o.auc {
        let _ = write!(s, ", AUC {a:.4}");
    }
    s.push('.');
    for (name, mm) in m.models.iter().filter(|(n, _)| n.as_str() != "popularity") {
        let _ = write!(
            s,
            "\n- {name}: HR@{k} {}",
            share(mm.hr_at_k, base.hr_at_k, o.hr_at_k)
        );
        if let (Some(a), Some(b), Some(t)) = (mm.auc, base.auc, o.auc) {
            let _ = write!(s, ", AUC {}", share(a, b, t));
        }
    }
    s.push('\n');
    Some(s)
}

/// The comparison tables (also printed by `clickrec train`): one row per model at the primary
/// cutoff, then one row per model and cutoff with every top-K metric.
pub fn table(m: &RunMetrics) -> String {
    let k = m.k;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| model | AUC | GAUC | logloss | threshold | HR@{k} | NDCG@{k} | P@{k} | base rate | sampled HR@{k} | fit s |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (name, mm) in rows(m) {
        let fit = m
            .timings
            .models
            .get(name)
            .map(|t| format!("{:.2}", t.fit_seconds))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {fit} |",
            fmt_opt(mm.auc),
            fmt_opt(mm.gauc),
            fmt_opt(mm.logloss),
            fmt_opt(mm.threshold),
            mm.hr_at_k,
            mm.ndcg_at_k,
            mm.precision_at_k,
            fmt_opt(mm.base_rate),
            fmt_opt(mm.sampled.as_ref().map(|x| x.hr)),
        );
    }
    let _ = writeln!(
        s,
        "\n| model | K | HR | NDCG | precision | recall | MRR | MAP | coverage |\n|---|---|---|---|---|---|---|---|---|"
    );
    for (name, mm) in rows(m) {
        for (k, a) in &mm.at_k {
            let _ = writeln!(
                s,
                "| {name} | {k} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} |",
                a.hr,
                a.ndcg,
                a.precision,
                a.recall,
                a.mrr,
                a.map,
                fmt_opt(a.coverage),
            );
        }
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

/// Write `per_user/<model>.csv`: one row per ranked user and cutoff (`user,k,hits,recall,ndcg`,
/// raw user ids, users ascending by train index), for paired significance tests between models.
pub fn write_per_user(
    dir: &Path,
    model: &str,
    ds: &Dataset,
    rows: &PerUser,
) -> Result<(), RunDirError> {
    let nk = rows.ks.len();
    let mut out = String::with_capacity(rows.hits.len() * 40 + 32);
    out.push_str("user,k,hits,recall,ndcg\n");
    for (u_pos, &u) in rows.users.iter().enumerate() {
        let user = csv_field(&ds.users.label(u as usize));
        for (j, k) in rows.ks.iter().enumerate() {
            let r = u_pos * nk + j;
            let _ = writeln!(
                out,
                "{user},{k},{},{},{}",
                rows.hits[r], rows.recall[r], rows.ndcg[r]
            );
        }
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
