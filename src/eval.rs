//! The one evaluation path every model goes through (CTR and implicit logs).
//!
//! CTR logs: AUC, log loss (probabilistic models), the ROC threshold and the classification
//! report at it, and top-K over each user's own test impressions with the random base rate.
//! Implicit logs: full-ranking top-K over all train items the user has not seen, and the
//! sampled 1 + N protocol of the NCF paper. Metric definitions live in [`crate::metrics`].

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::RankingMode;
use crate::dataset::Dataset;
use crate::metrics::{
    self, ClassStats, MetricError, RankingAccumulator, RocCurve, SampledMetrics, ThresholdRule,
};
use crate::model::{ModelError, Recommender};

/// Evaluation settings (from `[eval]`, `auto` resolved).
#[derive(Debug, Clone, Copy)]
pub struct EvalSettings {
    pub k: usize,
    pub rule: ThresholdRule,
    pub ranking: RankingMode,
    pub sampled_negatives: usize,
    pub seed: u64,
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

/// Metrics of one model on the held-out part (the `models.<name>` object of metrics.json).
#[derive(Debug, Clone, Serialize, Default)]
pub struct ModelMetrics {
    pub auc: Option<f64>,
    pub logloss: Option<f64>,
    pub threshold: Option<f64>,
    pub tpr: Option<f64>,
    pub fpr: Option<f64>,
    pub classification: Option<Classification>,
    pub confusion: Option<[[u64; 2]; 2]>,
    /// Which protocol `hr_at_k`/`ndcg_at_k`/`precision_at_k` come from.
    pub ranking: String,
    pub hr_at_k: f64,
    pub ndcg_at_k: f64,
    pub precision_at_k: f64,
    /// Users the top-K means are over.
    pub ranked_users: usize,
    /// HR@K of a random order (impressions mode).
    pub base_rate: Option<f64>,
    /// Users whose every test row is within the top K whatever the model does.
    pub users_with_at_most_k_rows: Option<usize>,
    /// The sampled 1 + N protocol (implicit logs, or `ranking = "sampled"`).
    pub sampled: Option<SampledMetrics>,
    /// Share of each item group's test items that reached the user's top K.
    pub group_hit_rate: Option<BTreeMap<String, f64>>,
    /// Things a reader must know (e.g. AUC undefined on a single-class test set).
    pub notes: Vec<String>,
    /// The ROC curve, for the plot.
    #[serde(skip)]
    pub roc: Option<RocCurve>,
    /// Hits in the top K per ranked user, for the distribution plot.
    #[serde(skip)]
    pub hits_per_user: Vec<usize>,
}

/// One model's scores on every test row, for `predictions/<model>.csv`.
#[derive(Debug, Clone)]
pub struct Predictions {
    pub scores: Vec<f32>,
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
    }
    let ranking = s.ranking;
    let impressions = matches!(ranking, RankingMode::Impressions | RankingMode::Auto);
    let full = !(impressions && ds.test.label.is_some());
    let want_sampled = ranking == RankingMode::Sampled
        || (ds.test.label.is_none() && ranking != RankingMode::Impressions);
    if let (false, Some(labels)) = (full, &ds.test.label) {
        rank_impressions(&ds.test.user, labels, &s64, s.k, &mut m)?;
    }
    if full || want_sampled {
        let (users, items) = positives(ds);
        let pass = user_pass(model, ds, &users, &items, s, full, want_sampled)?;
        if full {
            let (acc, hits, group) = full_ranking(ds, &pass, &items, s.k);
            let sum = acc.summary();
            m.ranking = "full".into();
            m.hr_at_k = sum.hr_at_k;
            m.ndcg_at_k = sum.ndcg_at_k;
            m.precision_at_k = sum.precision_at_k;
            m.ranked_users = sum.users;
            m.hits_per_user = hits;
            m.group_hit_rate = group;
        }
        if want_sampled {
            match sampled(&pass, s)? {
                (Some(sm), skipped) => {
                    if skipped > 0 {
                        m.notes.push(format!(
                            "{skipped} test pairs skipped in the sampled protocol: fewer than {} unseen items",
                            s.sampled_negatives
                        ));
                    }
                    if ranking == RankingMode::Sampled {
                        m.ranking = "sampled".into();
                        m.hr_at_k = sm.hr;
                        m.ndcg_at_k = sm.ndcg;
                        m.precision_at_k = 0.0;
                        m.notes.push(
                            "precision@K is not defined in the sampled protocol (reported as 0)"
                                .into(),
                        );
                    }
                    m.sampled = Some(sm);
                }
                (None, _) => m.notes.push(format!(
                    "sampled protocol skipped: no user has {} unseen items to sample",
                    s.sampled_negatives
                )),
            }
        }
    }
    Ok((m, Predictions { scores }))
}

/// AUC, log loss, threshold and the classification report (CTR logs).
/// Impressions-mode top-K (each user's own test rows) into `m`.
pub fn rank_impressions(
    users: &[u32],
    labels: &[bool],
    scores: &[f64],
    k: usize,
    m: &mut ModelMetrics,
) -> Result<(), EvalError> {
    let r = metrics::impression_ranking(users, labels, scores, k)?;
    m.ranking = "impressions".into();
    m.hr_at_k = r.hr_at_k;
    m.ndcg_at_k = r.ndcg_at_k;
    m.precision_at_k = r.precision_at_k;
    m.ranked_users = r.users_with_click;
    m.base_rate = Some(r.hr_random);
    m.users_with_at_most_k_rows = Some(r.users_with_at_most_k_rows);
    m.hits_per_user = r.per_user.iter().map(|&(_, h)| usize::from(h)).collect();
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

/// Eval users and their distinct positive test items (CTR: clicked rows only).
fn positives(ds: &Dataset) -> (Vec<u32>, Vec<Vec<u32>>) {
    match &ds.test.label {
        None => (ds.eval_users.clone(), ds.eval_items.clone()),
        Some(labels) => {
            let mut by_user: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for ((&u, &i), &l) in ds.test.user.iter().zip(&ds.test.item).zip(labels) {
                if l {
                    by_user.entry(u).or_default().push(i);
                }
            }
            by_user.values_mut().for_each(|v| {
                v.sort_unstable();
                v.dedup();
            });
            by_user.into_iter().unzip()
        }
    }
}

type FullRanking = (
    RankingAccumulator,
    Vec<usize>,
    Option<BTreeMap<String, f64>>,
);

/// What one user contributes: their top K (full ranking) and their sampled-protocol scores
/// (positives, negatives row-major, pairs skipped).
struct UserPass {
    top: Option<(metrics::UserRank, Vec<u32>)>,
    sampled: (Vec<f64>, Vec<f64>, usize),
}

/// Score every item once per eval user (in parallel) and derive what is asked: the full-ranking
/// top K (candidates are all train items minus the user's train items) and/or the sampled 1 + N
/// draw (each positive against N distinct unseen items; one RNG stream per user, so the draw does
/// not depend on the thread count).
fn user_pass(
    model: &dyn Recommender,
    ds: &Dataset,
    users: &[u32],
    items: &[Vec<u32>],
    s: &EvalSettings,
    full: bool,
    want_sampled: bool,
) -> Result<Vec<UserPass>, EvalError> {
    let n = ds.n_items();
    let m = s.sampled_negatives;
    users
        .par_iter()
        .zip(items.par_iter())
        .map_init(
            || (vec![0f32; n], vec![false; n]),
            |(buf, taken), (&u, test)| -> Result<UserPass, EvalError> {
                model.score_items(u, buf)?;
                let seen = ds.seen(u);
                let top = if full {
                    let top = metrics::top_k_excluding(buf, seen, s.k)?;
                    Some((metrics::user_topk_metrics(&top, test, s.k)?, top))
                } else {
                    None
                };
                let unseen = n
                    - seen.len()
                    - test
                        .iter()
                        .filter(|i| seen.binary_search(i).is_err())
                        .count();
                let sampled = if !want_sampled {
                    (Vec::new(), Vec::new(), 0)
                } else if unseen < m {
                    (Vec::new(), Vec::new(), test.len())
                } else {
                    let blocked =
                        |i: u32| seen.binary_search(&i).is_ok() || test.binary_search(&i).is_ok();
                    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x5A3D_1E5);
                    rng.set_stream(u64::from(u));
                    let (mut pos, mut neg) = (
                        Vec::with_capacity(test.len()),
                        Vec::with_capacity(test.len() * m),
                    );
                    let mut drawn = Vec::with_capacity(m);
                    for &i in test {
                        pos.push(f64::from(buf[i as usize]));
                        drawn.clear();
                        while drawn.len() < m {
                            let j = rng.random_range(0..n as u32);
                            if !taken[j as usize] && !blocked(j) {
                                taken[j as usize] = true;
                                drawn.push(j);
                            }
                        }
                        for &j in &drawn {
                            taken[j as usize] = false;
                            neg.push(f64::from(buf[j as usize]));
                        }
                    }
                    (pos, neg, 0)
                };
                Ok(UserPass { top, sampled })
            },
        )
        .collect()
}

/// Full-ranking means, the hits per user and the per-group hit rate, in user order.
fn full_ranking(ds: &Dataset, pass: &[UserPass], items: &[Vec<u32>], k: usize) -> FullRanking {
    let mut acc = RankingAccumulator::new(k);
    let mut hits = Vec::with_capacity(pass.len());
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (p, test) in pass.iter().zip(items) {
        let Some((rank, top)) = &p.top else { continue };
        hits.push(top.iter().filter(|i| test.binary_search(i).is_ok()).count());
        acc.add(*rank);
        if let Some(g) = &ds.item_groups {
            for &i in test {
                let e = groups.entry(g[i as usize].clone()).or_default();
                e.0 += usize::from(top.contains(&i));
                e.1 += 1;
            }
        }
    }
    let group = ds.item_groups.as_ref().map(|_| {
        groups
            .into_iter()
            .map(|(g, (h, n))| (g, h as f64 / n as f64))
            .collect()
    });
    (acc, hits, group)
}

/// The sampled-protocol metrics over all users' draws, and the pairs skipped.
fn sampled(
    pass: &[UserPass],
    s: &EvalSettings,
) -> Result<(Option<SampledMetrics>, usize), EvalError> {
    let (mut pos, mut neg, mut skipped) = (Vec::new(), Vec::new(), 0usize);
    for p in pass {
        pos.extend_from_slice(&p.sampled.0);
        neg.extend_from_slice(&p.sampled.1);
        skipped += p.sampled.2;
    }
    if pos.is_empty() {
        return Ok((None, skipped));
    }
    Ok((Some(metrics::sampled_metrics(&pos, &neg, s.k)?), skipped))
}
