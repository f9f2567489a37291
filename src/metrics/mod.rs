//! Evaluation metrics of clickrec as pure functions over slices.
//!
//! They reproduce the reference peers exactly (`shared/peers/metrics.py`,
//! `ncf_torch.py::roc_threshold` / `hit_rate_per_user`, sklearn 1.9 semantics):
//!
//! * CTR classification: [`roc_curve`] (sklearn `drop_intermediate=True`), [`roc_auc`] (exact
//!   with ties), [`log_loss`] / [`log_loss_clipped`], [`pick_threshold`] on a ROC curve and
//!   the per-class [`classification_report`] at that threshold.
//! * Full-ranking top-K: [`top_k_excluding`]; the metrics of a ranked list at K (HR, NDCG,
//!   precision, Recall, MRR, MAP): [`user_topk_metrics`], [`list_metrics`],
//!   [`RankingAccumulator`]; catalogue [`item_coverage`].
//! * CTR logs ranked per user: [`impression_ranking`] (the list metrics + random base rate) and
//!   the impression-weighted per-user AUC [`gauc`].
//! * NCF paper's sampled protocol: [`sampled_rank`], [`sampled_metrics`].
//!
//! Scores are f64 (models convert from f32; [`top_k_excluding`] takes either); labels are
//! `bool` (true = clicked / positive). Bad input (length mismatch, empty, NaN/inf, k = 0,
//! single class for ROC) is a [`MetricError`], never a panic or a NaN result.

mod at_k;
mod check;
mod classification;
mod error;
mod gauc;
mod impressions;
mod ranking;
mod roc;
mod sampled;
mod threshold;

pub use at_k::{
    RankingAccumulator, RankingSummary, UserRank, item_coverage, list_metrics, user_topk_metrics,
};
/// Errors on the first NaN/inf of `values` (scores a caller ranks itself).
pub fn check_scores_finite(what: &'static str, values: &[f64]) -> Result<()> {
    check::check_finite(what, values)
}

pub use classification::{
    ClassStats, ClassificationReport, classification_report, log_loss, log_loss_clipped,
};
pub use error::{MetricError, Result};
pub use gauc::{Gauc, gauc};
pub use impressions::{ImpressionRanking, impression_ranking, no_click_in_random_top};
pub use ranking::{GroupHitRate, group_hit_rate, top_k_excluding};
pub use roc::{RocCurve, roc_auc, roc_curve, roc_curve_full};
pub use sampled::{SampledMetrics, rank_metrics, sampled_metrics, sampled_rank};
pub use threshold::{Threshold, ThresholdRule, pick_threshold};
