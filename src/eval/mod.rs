//! The one evaluation path every model goes through (CTR and implicit logs).
//!
//! CTR logs: AUC, GAUC, log loss (probabilistic models), the ROC threshold and the
//! classification report at it, and top-K over each user's own test impressions with the random
//! base rate. Implicit logs: full-ranking top-K over all train items the user has not seen, and
//! the sampled 1 + N protocol of the NCF paper. Every top-K metric is computed at each cutoff of
//! `[eval] k`; the first cutoff fills the flat `*_at_k` keys. Metric definitions live in
//! [`crate::metrics`].

pub mod candidates;
mod pass;

pub use pass::RankedList;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::config::RankingMode;
use crate::dataset::Dataset;
use crate::metrics::{
    self, ClassStats, MetricError, RankingSummary, RocCurve, SampledMetrics, ThresholdRule,
    UserRank,
};
use crate::model::{ModelError, Recommender};

/// Evaluation settings (from `[eval]`, `auto` resolved).
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// Cutoffs, the primary one first; non-empty, distinct, each >= 1.
    pub ks: Vec<usize>,
    pub rule: ThresholdRule,
    pub ranking: RankingMode,
    pub sampled_negatives: usize,
    pub seed: u64,
    /// Fixed candidate lists of the sampled protocol (`[eval] candidates`) instead of random
    /// draws; loaded against the dataset by `pipeline::eval_settings_for`.
    pub candidates: Option<Arc<candidates::Candidates>>,
}

impl EvalSettings {
    /// The primary cutoff (the flat `*_at_k` keys); 10 if `ks` is empty.
    pub fn k(&self) -> usize {
        self.ks.first().copied().unwrap_or(10)
    }

    /// The largest cutoff: top lists are cut once at this length.
    pub fn k_max(&self) -> usize {
        self.ks.iter().copied().max().unwrap_or(10)
    }

    /// The cutoffs, never empty.
    fn cutoffs(&self) -> Vec<usize> {
        if self.ks.is_empty() {
            vec![10]
        } else {
            self.ks.clone()
        }
    }
}

/// Errors of the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("metrics: {0}")]
    Metric(#[from] MetricError),
    #[error("the test part is empty: no user has held-out rows under this split ({hint})")]
    EmptyTest { hint: &'static str },
    #[error(
        "[eval] ranking = \"sampled\" cannot run: {reason}; fix the data or eval.candidates, or choose ranking = \"full\""
    )]
    SampledImpossible { reason: String },
    #[error("{} line {line}: {problem} (set by eval.candidates)", path.display())]
    Candidates {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// Precision/recall/F1/support of both classes and accuracy, keyed like sklearn's report.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    #[serde(rename = "0")]
    pub class_0: ClassStats,
    #[serde(rename = "1")]
    pub class_1: ClassStats,
    pub accuracy: f64,
}

/// The top-K metrics at one cutoff (`at_k.{K}` in metrics.json).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq)]
pub struct AtK {
    pub hr: f64,
    pub ndcg: f64,
    pub precision: f64,
    /// Hits / |test items of the user| (LightGCN/NGCF).
    pub recall: f64,
    pub mrr: f64,
    pub map: f64,
    /// Share of the train items that reach at least one user's top K (full ranking only).
    pub coverage: Option<f64>,
    /// The sampled 1 + N protocol at this K, when it ran.
    pub sampled_hr: Option<f64>,
    pub sampled_ndcg: Option<f64>,
}

impl AtK {
    fn from_summary(s: &RankingSummary, coverage: Option<f64>) -> AtK {
        AtK {
            hr: s.hr_at_k,
            ndcg: s.ndcg_at_k,
            precision: s.precision_at_k,
            recall: s.recall_at_k,
            mrr: s.mrr_at_k,
            map: s.map_at_k,
            coverage,
            sampled_hr: None,
            sampled_ndcg: None,
        }
    }
}

/// Per-user top-K rows for significance tests (`per_user/<model>.csv`), columnar: entry
/// `u * ks.len() + j` of `hits`/`recall`/`ndcg` belongs to `users[u]` at cutoff `ks[j]`.
#[derive(Debug, Clone, Default)]
pub struct PerUser {
    pub ks: Vec<usize>,
    /// Train user indices, ascending.
    pub users: Vec<u32>,
    pub hits: Vec<u32>,
    pub recall: Vec<f64>,
    pub ndcg: Vec<f64>,
}

impl PerUser {
    /// Rows of users (ascending) with one [`UserRank`] per cutoff each.
    fn from_ranks(ks: &[usize], rows: impl Iterator<Item = (u32, Vec<UserRank>)>) -> PerUser {
        let mut out = PerUser {
            ks: ks.to_vec(),
            ..Default::default()
        };
        for (u, ranks) in rows {
            out.users.push(u);
            for r in ranks {
                out.hits.push(r.hits as u32);
                out.recall.push(r.recall);
                out.ndcg.push(r.ndcg);
            }
        }
        out
    }

    /// Hits of every user at the primary cutoff, for the distribution plot.
    pub fn hits_at_first_k(&self) -> impl Iterator<Item = usize> + '_ {
        let nk = self.ks.len().max(1);
        self.hits.iter().step_by(nk).map(|&h| h as usize)
    }
}

/// Metrics of one model on the held-out part (the `models.<name>` object of metrics.json).
#[derive(Debug, Clone, Serialize, Default)]
pub struct ModelMetrics {
    pub auc: Option<f64>,
    /// Per-user AUC weighted by impressions (CTR logs); users with one class are skipped.
    pub gauc: Option<f64>,
    pub gauc_users: Option<usize>,
    pub gauc_single_class_users: Option<usize>,
    pub logloss: Option<f64>,
    pub threshold: Option<f64>,
    pub tpr: Option<f64>,
    pub fpr: Option<f64>,
    pub classification: Option<Classification>,
    pub confusion: Option<[[u64; 2]; 2]>,
    /// Which protocol the top-K metrics come from.
    pub ranking: String,
    /// The primary cutoff K of the flat `*_at_k` keys below.
    pub k: usize,
    pub hr_at_k: f64,
    pub ndcg_at_k: f64,
    pub precision_at_k: f64,
    pub recall_at_k: f64,
    pub mrr_at_k: f64,
    pub map_at_k: f64,
    pub coverage_at_k: Option<f64>,
    /// Users the top-K means are over.
    pub ranked_users: usize,
    /// Every cutoff of `[eval] k`, the primary one included.
    pub at_k: BTreeMap<usize, AtK>,
    /// HR@K of a random order (impressions mode).
    pub base_rate: Option<f64>,
    /// Users whose every test row is within the top K whatever the model does.
    pub users_with_at_most_k_rows: Option<usize>,
    /// The sampled 1 + N protocol at the primary K (implicit logs, or `ranking = "sampled"`).
    pub sampled: Option<SampledMetrics>,
    /// What loading the fixed candidate lists dropped (`[eval] candidates`).
    pub candidates: Option<candidates::CandidateStats>,
    /// Share of each item group's test items that reached the user's top K.
    pub group_hit_rate: Option<BTreeMap<String, f64>>,
    /// Things a reader must know (e.g. AUC undefined on a single-class test set).
    pub notes: Vec<String>,
    /// The model's figures on its validation part at the kept epoch (CTR models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::ctr::ValidationFigures>,
    /// The ROC curve, for the plot.
    #[serde(skip)]
    pub roc: Option<RocCurve>,
    /// Per-user rows of the top-K protocol (full ranking or impressions).
    #[serde(skip)]
    pub per_user: PerUser,
}

impl ModelMetrics {
    /// Fill the flat keys from `at_k` at the primary cutoff `k`.
    fn set_primary(&mut self, k: usize) {
        self.k = k;
        if let Some(a) = self.at_k.get(&k).copied() {
            self.hr_at_k = a.hr;
            self.ndcg_at_k = a.ndcg;
            self.precision_at_k = a.precision;
            self.recall_at_k = a.recall;
            self.mrr_at_k = a.mrr;
            self.map_at_k = a.map;
            self.coverage_at_k = a.coverage;
        }
    }
}

/// One model's scores on every test row, for `predictions/<model>.csv`.
#[derive(Debug, Clone)]
pub struct Predictions {
    pub scores: Vec<f32>,
    /// Each ranked user's full-ranking top list (when the full ranking ran).
    pub ranked: Option<Vec<pass::RankedList>>,
}

/// Evaluate a fitted model on the dataset's test part.
pub fn evaluate(
    model: &dyn Recommender,
    ds: &Dataset,
    s: &EvalSettings,
) -> Result<(ModelMetrics, Predictions), EvalError> {
    if ds.test.is_empty() {
        return Err(EvalError::EmptyTest {
            hint: "with last_day every user was active on a single day; try split.method = \"global_days\" or \"random\"",
        });
    }
    let scores = model.score_rows(&ds.test)?;
    let s64: Vec<f64> = scores.iter().map(|&x| f64::from(x)).collect();
    let mut m = ModelMetrics::default();
    if let Some(labels) = &ds.test.label {
        classify(model.probabilistic(), labels, &s64, s.rule, &mut m)?;
        group_auc(&ds.test.user, labels, &s64, &mut m)?;
    }
    let ranking = s.ranking;
    let impressions = matches!(ranking, RankingMode::Impressions | RankingMode::Auto);
    let full = !(impressions && ds.test.label.is_some());
    let want_sampled = ranking == RankingMode::Sampled
        || (ds.test.label.is_none() && ranking != RankingMode::Impressions);
    if let (false, Some(labels)) = (full, &ds.test.label) {
        rank_impressions(&ds.test.user, labels, &s64, &s.cutoffs(), &mut m)?;
    }
    let ranked = if full || want_sampled {
        pass::full_and_sampled(model, ds, s, full, want_sampled, &mut m)?
    } else {
        None
    };
    m.set_primary(s.k());
    Ok((m, Predictions { scores, ranked }))
}

/// Impressions-mode top-K (each user's own test rows) at every cutoff `ks` (primary first)
/// into `m`.
pub fn rank_impressions(
    users: &[u32],
    labels: &[bool],
    scores: &[f64],
    ks: &[usize],
    m: &mut ModelMetrics,
) -> Result<(), EvalError> {
    let mut per_k = Vec::with_capacity(ks.len());
    for &k in ks {
        let r = metrics::impression_ranking(users, labels, scores, k)?;
        m.at_k.insert(k, AtK::from_summary(&r.means, None));
        per_k.push(r);
    }
    let Some(first) = per_k.first() else {
        return Ok(());
    };
    m.ranking = "impressions".into();
    m.ranked_users = first.means.users;
    m.base_rate = Some(first.hr_random);
    m.users_with_at_most_k_rows = Some(first.users_with_at_most_k_rows);
    let rows = first
        .per_user
        .iter()
        .enumerate()
        .map(|(i, &(u, _))| (u, per_k.iter().map(|r| r.per_user[i].1).collect()));
    m.per_user = PerUser::from_ranks(ks, rows);
    m.set_primary(ks[0]);
    Ok(())
}

/// GAUC of a labelled part into `m` (a note when no user has both classes).
pub fn group_auc(
    users: &[u32],
    labels: &[bool],
    scores: &[f64],
    m: &mut ModelMetrics,
) -> Result<(), EvalError> {
    let g = metrics::gauc(users, labels, scores)?;
    m.gauc = g.gauc;
    m.gauc_users = Some(g.users);
    m.gauc_single_class_users = Some(g.single_class_users);
    if g.gauc.is_none() {
        m.notes.push(format!(
            "GAUC is undefined: none of the {} test users has both a click and a non-click",
            g.single_class_users
        ));
    }
    Ok(())
}

/// AUC, log loss (when `probabilistic`), the ROC threshold and the classification report at it,
/// into `m`. A single-class input leaves them undefined with a note.
pub fn classify(
    probabilistic: bool,
    labels: &[bool],
    scores: &[f64],
    rule: ThresholdRule,
    m: &mut ModelMetrics,
) -> Result<(), EvalError> {
    match metrics::roc_auc(labels, scores) {
        Ok(auc) => m.auc = Some(auc),
        Err(MetricError::SingleClass {
            positives,
            negatives,
        }) => {
            m.notes.push(format!(
                "AUC and the ROC threshold are undefined: the test part has a single class ({positives} clicked, {negatives} not); ranking metrics are still reported"
            ));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if probabilistic {
        // Clipped at 1e-7 like the reference peer: f32 sigmoids can saturate at exactly 0 or 1.
        m.logloss = Some(metrics::log_loss_clipped(labels, scores, 1e-7)?);
    }
    let curve = metrics::roc_curve(labels, scores)?;
    let t = metrics::pick_threshold(&curve, rule)?;
    let rep = metrics::classification_report(labels, scores, t.threshold)?;
    m.threshold = Some(t.threshold);
    m.tpr = Some(t.tpr);
    m.fpr = Some(t.fpr);
    m.classification = Some(Classification {
        class_0: rep.classes[0],
        class_1: rep.classes[1],
        accuracy: rep.accuracy,
    });
    m.confusion = Some(rep.confusion);
    m.roc = Some(metrics::roc_curve_full(labels, scores)?);
    Ok(())
}
