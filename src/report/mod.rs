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

impl Timing {
    /// The timing of an epoch-based trainer from each epoch's (training seconds, samples).
    pub fn from_epochs(epochs: impl Iterator<Item = (f64, usize)>) -> Timing {
        let (epoch_seconds, samples): (Vec<f64>, Vec<usize>) = epochs.unzip();
        let secs: f64 = epoch_seconds.iter().sum();
        let samples: usize = samples.iter().sum();
        Timing {
            fit_seconds: secs,
            samples_per_sec: Some(samples as f64 / secs.max(1e-9)),
            seconds_per_iteration: None,
            epoch_seconds,
            checkpoint_seconds: 0.0,
        }
    }
}

/// Per-epoch / per-iteration training curve of one model. In metrics.json it also holds
/// `best_epoch`: the epoch (1-based) with the highest validation AUC, the first of equals (absent
/// without a validation part); with `keep_best` the model of that epoch is the one returned.
#[derive(Debug, Clone, Default)]
pub struct Curve {
    pub loss: Vec<f64>,
    pub valid_auc: Vec<Option<f64>>,
}

impl Serialize for Curve {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let best = self.best_valid_epoch();
        let mut st = s.serialize_struct("Curve", 2 + usize::from(best.is_some()))?;
        st.serialize_field("loss", &self.loss)?;
        st.serialize_field("valid_auc", &self.valid_auc)?;
        if let Some(e) = best {
            st.serialize_field("best_epoch", &e)?;
        }
        st.end()
    }
}

impl Curve {
    /// The 1-based epoch of the highest validation AUC (the first of equals).
    pub fn best_valid_epoch(&self) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (e, a) in self.valid_auc.iter().enumerate() {
            if let Some(a) = a.filter(|a| a.is_finite())
                && best.is_none_or(|(_, b)| a > b)
            {
                best = Some((e + 1, a));
            }
        }
        best.map(|(e, _)| e)
    }

    /// `ncf: best validation AUC 0.7123 at epoch 4 of 10` (none without a validation part).
    pub fn best_line(&self, model: &str) -> Option<String> {
        let e = self.best_valid_epoch()?;
        let auc = self.valid_auc.get(e - 1).copied().flatten()?;
        Some(format!(
            "{model}: best validation AUC {auc:.4} at epoch {e} of {}",
            self.loss.len()
        ))
    }
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
    let _ = writeln!(s, "{}\n", split_line(m));
    s.push_str(&table(m));
    for (name, c) in &m.training {
        if let Some(l) = c.best_line(name) {
            let _ = writeln!(s, "\n{l}.");
        }
    }
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
/// cutoff, then one row per model and cutoff with every top-K metric. A column empty (`–`) for
/// every model is left out.
pub fn table(m: &RunMetrics) -> String {
    let k = m.k;
    let header: Vec<String> = vec![
        "model".into(),
        "AUC".into(),
        "GAUC".into(),
        "logloss".into(),
        "threshold".into(),
        format!("HR@{k}"),
        format!("NDCG@{k}"),
        format!("P@{k}"),
        "base rate".into(),
        format!("sampled HR@{k}"),
        "fit s".into(),
    ];
    let first: Vec<Vec<String>> = rows(m)
        .map(|(name, mm)| {
            let fit = m
                .timings
                .models
                .get(name)
                .map(|t| format!("{:.2}", t.fit_seconds))
                .unwrap_or_else(|| "–".into());
            vec![
                name.to_string(),
                fmt_opt(mm.auc),
                fmt_opt(mm.gauc),
                fmt_opt(mm.logloss),
                fmt_opt(mm.threshold),
                format!("{:.4}", mm.hr_at_k),
                format!("{:.4}", mm.ndcg_at_k),
                format!("{:.4}", mm.precision_at_k),
                fmt_opt(mm.base_rate),
                fmt_opt(mm.sampled.as_ref().map(|x| x.hr)),
                fit,
            ]
        })
        .collect();
    let header2: Vec<String> = [
        "model",
        "K",
        "HR",
        "NDCG",
        "precision",
        "recall",
        "MRR",
        "MAP",
        "coverage",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let mut second = Vec::new();
    for (name, mm) in rows(m) {
        for (k, a) in &mm.at_k {
            second.push(vec![
                name.to_string(),
                k.to_string(),
                format!("{:.4}", a.hr),
                format!("{:.4}", a.ndcg),
                format!("{:.4}", a.precision),
                format!("{:.4}", a.recall),
                format!("{:.4}", a.mrr),
                format!("{:.4}", a.map),
                fmt_opt(a.coverage),
            ]);
        }
    }
    format!(
        "{}\n{}",
        markdown_table(&header, &first),
        markdown_table(&header2, &second)
    )
}

/// A markdown table without the columns that are `–` in every row.
fn markdown_table(header: &[String], rows: &[Vec<String>]) -> String {
    let keep: Vec<usize> = (0..header.len())
        .filter(|&c| rows.is_empty() || rows.iter().any(|r| r[c] != "–"))
        .collect();
    let line = |cells: &[String]| {
        let picked: Vec<&str> = keep.iter().map(|&c| cells[c].as_str()).collect();
        format!("| {} |\n", picked.join(" | "))
    };
    let mut s = line(header);
    s.push_str(&format!("|{}\n", "---|".repeat(keep.len())));
    for r in rows {
        s.push_str(&line(r));
    }
    s
}

/// The split in one line (report.md and the terminal after `train`).
pub fn split_line(m: &RunMetrics) -> String {
    format!(
        "{} log; split `{}`: {} train rows, {} test rows, {} eval users; seed {}.",
        m.mode, m.split.split, m.split.train_rows, m.split.test_rows, m.split.eval_users, m.seed
    )
}

/// A rate readable at a glance: `1.91 M/s`, `12.3 k/s`, `850/s`.
pub fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0}/s")
    }
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

/// Write `predictions/<model>.ranked.csv` (`user,item,rank,label,score`): each ranked user's
/// full-ranking top list in rank order (rank 1…, label 1 for a test positive), then the user's
/// test positives beyond it with an empty rank. `clickrec metrics` on this file gives the run's
/// HR / NDCG / precision / recall / MRR / MAP at every K up to the list's length.
pub fn write_ranked_predictions(
    dir: &Path,
    model: &str,
    ds: &Dataset,
    lists: &[crate::eval::RankedList],
) -> Result<(), RunDirError> {
    let mut out = String::from("user,item,rank,label,score\n");
    for l in lists {
        let user = csv_field(&ds.users.label(l.user as usize));
        for (r, &(i, score, hit)) in l.top.iter().enumerate() {
            let _ = writeln!(
                out,
                "{user},{},{},{},{score}",
                csv_field(&ds.items.label(i as usize)),
                r + 1,
                u8::from(hit)
            );
        }
        for &(i, score) in &l.beyond {
            let _ = writeln!(
                out,
                "{user},{},,1,{score}",
                csv_field(&ds.items.label(i as usize))
            );
        }
    }
    write_atomic(&dir.join(format!("{model}.ranked.csv")), out.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_columns_are_left_out_and_rates_read_at_a_glance() {
        let h: Vec<String> = ["model", "AUC", "HR"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        let rows = vec![
            vec!["als".to_string(), "–".into(), "0.5000".into()],
            vec!["popularity".to_string(), "–".into(), "0.2500".into()],
        ];
        assert_eq!(
            markdown_table(&h, &rows),
            "| model | HR |\n|---|---|\n| als | 0.5000 |\n| popularity | 0.2500 |\n"
        );
        let mut one = rows.clone();
        one[1][1] = "0.7000".into();
        assert!(markdown_table(&h, &one).starts_with("| model | AUC | HR |"));
        assert_eq!(rate(1_908_125.0), "1.91 M/s");
        assert_eq!(rate(12_345.0), "12.3 k/s");
        assert_eq!(rate(850.2), "850/s");
    }

    #[test]
    fn the_best_epoch_is_the_first_highest_validation_auc() {
        let c = Curve {
            loss: vec![0.7, 0.6, 0.5, 0.4],
            valid_auc: vec![Some(0.6), Some(0.7), Some(0.7), Some(0.65)],
        };
        assert_eq!(c.best_valid_epoch(), Some(2));
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(v["best_epoch"], 2);
        assert!(serde_json::to_value(Curve::default()).expect("json")["best_epoch"].is_null());
        assert_eq!(
            c.best_line("ncf").as_deref(),
            Some("ncf: best validation AUC 0.7000 at epoch 2 of 4")
        );
        assert_eq!(Curve::default().best_valid_epoch(), None);
    }
}
