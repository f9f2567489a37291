//! Group AUC of CTR logs: the ROC AUC of each user's own impressions, averaged with weights.
//!
//! GAUC = Σ_u n_u · AUC_u / Σ_u n_u over users whose impressions hold both a click and a
//! non-click, n_u = the user's impressions (rows). Users with a single class have no AUC; they
//! are skipped and counted. Each AUC_u is exact with ties (a tied positive/negative pair counts
//! one half), as in [`super::roc_auc`].

use serde::Serialize;

use super::check::{check_finite, check_non_empty, check_same_len};
use super::error::Result;
use super::roc::roc_auc;

/// GAUC and the users behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Gauc {
    /// The impression-weighted mean of the per-user AUCs; `None` when no user has both classes.
    pub gauc: Option<f64>,
    /// Users averaged (both classes present).
    pub users: usize,
    /// Users skipped because all their impressions share one label.
    pub single_class_users: usize,
    /// Impressions of the averaged users (the sum of the weights).
    pub rows: usize,
}

/// GAUC over rows given as parallel `users`, `labels`, `scores` (any row order).
///
/// Errors: length mismatch, empty input, a non-finite score.
pub fn gauc(users: &[u32], labels: &[bool], scores: &[f64]) -> Result<Gauc> {
    check_same_len("users vs labels", users.len(), labels.len())?;
    check_same_len("users vs scores", users.len(), scores.len())?;
    check_non_empty("users", users.len())?;
    check_finite("scores", scores)?;
    let mut order: Vec<usize> = (0..users.len()).collect();
    order.sort_by_key(|&i| users[i]);
    let mut out = Gauc {
        gauc: None,
        users: 0,
        single_class_users: 0,
        rows: 0,
    };
    let mut weighted = 0.0;
    let (mut l, mut s) = (Vec::new(), Vec::new());
    for group in order.chunk_by(|&a, &b| users[a] == users[b]) {
        l.clear();
        s.clear();
        l.extend(group.iter().map(|&i| labels[i]));
        s.extend(group.iter().map(|&i| scores[i]));
        let clicks = l.iter().filter(|&&c| c).count();
        if clicks == 0 || clicks == l.len() {
            out.single_class_users += 1;
            continue;
        }
        weighted += group.len() as f64 * roc_auc(&l, &s)?;
        out.users += 1;
        out.rows += group.len();
    }
    if out.rows > 0 {
        out.gauc = Some(weighted / out.rows as f64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricError;
    use approx::assert_abs_diff_eq;

    /// User 1: (0.9, click) (0.2, -) (0.5, -): the click beats both -> AUC 1, weight 3.
    /// User 2: clicks {0.3, 0.1} vs non-clicks {0.6, 0.3}: pairs 0, 1/2 (tie), 0, 0 -> AUC 1/8,
    /// weight 4. User 3 (two non-clicks) and user 4 (one click) are skipped.
    /// GAUC = (3 · 1 + 4 · 1/8) / 7 = 1/2. Rows interleaved to test the grouping.
    #[test]
    fn table_weighted_by_impressions() {
        let users = [2, 1, 3, 2, 1, 4, 2, 1, 3, 2];
        let labels = [
            true, true, false, false, false, true, false, false, false, true,
        ];
        let scores = [0.3, 0.9, 0.4, 0.6, 0.2, 0.8, 0.3, 0.5, 0.7, 0.1];
        let g = gauc(&users, &labels, &scores).unwrap();
        assert_abs_diff_eq!(g.gauc.unwrap(), 0.5, epsilon = 1e-15);
        assert_eq!((g.users, g.single_class_users, g.rows), (2, 2, 7));
    }

    /// Only single-class users: no GAUC, all counted as skipped.
    #[test]
    fn no_user_with_both_classes() {
        let g = gauc(&[1, 1, 2], &[true, true, false], &[0.1, 0.2, 0.3]).unwrap();
        assert_eq!(g.gauc, None);
        assert_eq!((g.users, g.single_class_users, g.rows), (0, 2, 0));
    }

    /// One user: GAUC equals that user's AUC.
    #[test]
    fn one_user_equals_roc_auc() {
        let labels = [true, false, true, false, false];
        let scores = [0.8, 0.7, 0.2, 0.3, 0.1];
        let g = gauc(&[5; 5], &labels, &scores).unwrap();
        assert_eq!(g.gauc, Some(roc_auc(&labels, &scores).unwrap()));
    }

    #[test]
    fn errors() {
        let e = gauc(&[1], &[true, false], &[0.1, 0.2]).unwrap_err();
        assert!(matches!(e, MetricError::LengthMismatch { .. }));
        let e = gauc(&[1, 1], &[true, false], &[0.1]).unwrap_err();
        assert!(matches!(e, MetricError::LengthMismatch { .. }));
        let e = gauc(&[], &[], &[]).unwrap_err();
        assert!(matches!(e, MetricError::Empty { .. }));
        let e = gauc(&[1, 1], &[true, false], &[0.1, f64::NAN]).unwrap_err();
        assert!(matches!(e, MetricError::NonFinite { index: 1, .. }));
    }
}
