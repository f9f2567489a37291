//! `[filter]`: drop sparse users and items (and over-promoted items) before the split.
//!
//! Order, documented in the README: `max_item_interactions`, `min_item_interactions`,
//! `min_item_users`, then `min_user_interactions`; with `repeat = true` the four run again until
//! a round removes nothing. Counts are clicks in CTR mode, summed weights when a weight or event
//! column is set, rows otherwise ([`Interactions::count_weight`]).

use std::collections::HashSet;

use serde::Serialize;

use super::Interactions;
use crate::config::RawFilter;

/// Rows one filter removed in one round.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FilterStep {
    pub filter: &'static str,
    pub round: usize,
    pub rows_removed: usize,
}

fn sums(x: &Interactions, rows: &[usize], by_item: bool) -> Vec<f64> {
    let n = if by_item {
        x.items.len()
    } else {
        x.users.len()
    };
    let mut s = vec![0.0; n];
    for &r in rows {
        let k = if by_item { x.item[r] } else { x.user[r] } as usize;
        s[k] += x.count_weight(r);
    }
    s
}

fn distinct_users_per_item(x: &Interactions, rows: &[usize]) -> Vec<u64> {
    let mut seen = HashSet::with_capacity(rows.len());
    let mut n = vec![0u64; x.items.len()];
    for &r in rows {
        if seen.insert((x.user[r], x.item[r])) {
            n[x.item[r] as usize] += 1;
        }
    }
    n
}

/// Apply the filters to `rows` (positions in `x`); returns the kept rows and what each removed.
pub fn apply(
    x: &Interactions,
    mut rows: Vec<usize>,
    f: &RawFilter,
) -> (Vec<usize>, Vec<FilterStep>) {
    let mut steps = Vec::new();
    for round in 1..=100 {
        let before_round = rows.len();
        let mut step = |name: &'static str, rows: &mut Vec<usize>, keep: &dyn Fn(usize) -> bool| {
            let before = rows.len();
            rows.retain(|&r| keep(r));
            steps.push(FilterStep {
                filter: name,
                round,
                rows_removed: before - rows.len(),
            });
        };
        if let Some(max) = f.max_item_interactions {
            let s = sums(x, &rows, true);
            step("max_item_interactions", &mut rows, &|r| {
                s[x.item[r] as usize] <= max
            });
        }
        if let Some(min) = f.min_item_interactions {
            let s = sums(x, &rows, true);
            step("min_item_interactions", &mut rows, &|r| {
                s[x.item[r] as usize] >= min
            });
        }
        if let Some(min) = f.min_item_users {
            let s = distinct_users_per_item(x, &rows);
            step("min_item_users", &mut rows, &|r| {
                s[x.item[r] as usize] >= min
            });
        }
        if let Some(min) = f.min_user_interactions {
            let s = sums(x, &rows, false);
            step("min_user_interactions", &mut rows, &|r| {
                s[x.user[r] as usize] >= min
            });
        }
        if !f.repeat || rows.len() == before_round {
            break;
        }
    }
    (rows, steps)
}
