//! Input checks and small shared helpers of the metrics module.

use super::error::{MetricError, Result};

/// Errors on the first non-finite value of `values`.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Errors unless `left == right`.
pub(crate) fn check_same_len(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(MetricError::LengthMismatch { what, left, right })
    }
}

/// Errors when `len == 0`.
pub(crate) fn check_non_empty(what: &'static str, len: usize) -> Result<()> {
    if len == 0 {
        Err(MetricError::Empty { what })
    } else {
        Ok(())
    }
}

/// Errors when `k == 0`.
pub(crate) fn check_k(what: &'static str, k: usize) -> Result<()> {
    if k == 0 {
        Err(MetricError::InvalidK { what })
    } else {
        Ok(())
    }
}

/// Errors unless `items` is strictly ascending (`distinct`) or non-decreasing (`!distinct`).
pub(crate) fn check_sorted(what: &'static str, items: &[u32], distinct: bool) -> Result<()> {
    for (i, w) in items.windows(2).enumerate() {
        let ok = if distinct { w[0] < w[1] } else { w[0] <= w[1] };
        if !ok {
            return Err(MetricError::NotSorted {
                what,
                index: i + 1,
                value: w[1],
            });
        }
    }
    Ok(())
}

/// Position discount of a 1-based rank `r`: `1 / log2(r + 1)`.
pub(crate) fn discount(rank_1based: usize) -> f64 {
    1.0 / ((rank_1based + 1) as f64).log2()
}

/// Ideal DCG with `relevant` binary-relevant items and cutoff `k`: `sum_{r=1}^{min(relevant,k)}`.
pub(crate) fn ideal_dcg(relevant: usize, k: usize) -> f64 {
    (1..=relevant.min(k)).map(discount).sum()
}
