//! Train/test split rules (the protocol of `shared/peers/split.py`).
//!
//! * `last_day`: a user active on at least 2 distinct UTC days has all interactions of their
//!   latest active day in test; users active on one day stay train-only.
//! * `global_days`: the last `days` calendar days of the log are test.
//! * `leave_last_out`: per user with >= 2 interactions, the latest one (ties: the later row).
//! * `random`: per user with >= 2 interactions, a seeded `test_fraction` (at least 1, at most
//!   n − 1 rows).
//! * `files`: the rows read from `split.test_path` are test (the split is given); carving a part
//!   out of the train rows by this rule gives no rows.
//!
//! Test rows are then filtered, in order: (1) rows whose item never occurs in train, (1b) rows
//! whose user never occurs in train (only `global_days`/`random` can produce them), (2) in
//! implicit mode, rows whose (user, item) pair is already in that user's train rows. The train
//! part is never filtered.

use std::collections::HashSet;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::SplitMethod;
use crate::data::Interactions;
use crate::data::time::day_of;

/// Which rows are train and which are test, plus every count of the protocol.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
    /// The given validation rows (`split.valid_path`), filtered like the test rows.
    pub valid: Vec<usize>,
    /// Test and validation rows whose user or item is not in train were kept (see
    /// [`SplitRule::keep_unknown`]): the id maps must then cover them too.
    pub keep_unknown: bool,
    pub stats: SplitStats,
}

/// Split counts, named as `split.py` prints them.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SplitStats {
    pub split: String,
    pub drop_seen_test_pairs: bool,
    pub input_rows: usize,
    pub input_users: usize,
    pub input_items: usize,
    pub train_rows: usize,
    pub train_users: usize,
    pub train_items: usize,
    pub train_pairs: usize,
    pub train_only_users: usize,
    pub test_rows_before_filters: usize,
    pub test_rows_dropped_unknown_item: usize,
    pub test_rows_dropped_unknown_user: usize,
    pub test_rows_dropped_seen_in_train: usize,
    /// Test rows kept although their user or item is not in train (a given CTR split: scored
    /// through the models' cold-start / OOV rows).
    #[serde(skip_serializing_if = "is_zero")]
    pub test_rows_unknown_kept: usize,
    pub test_rows: usize,
    pub test_pairs: usize,
    pub eval_users: usize,
    /// Rows of `split.valid_path` kept (after the test filters), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_rows: Option<usize>,
}

/// Rule parameters.
#[derive(Debug, Clone, Copy)]
pub struct SplitRule {
    pub method: SplitMethod,
    pub days: u32,
    pub test_fraction: f64,
    pub seed: u64,
    /// Drop test pairs already seen in train (implicit mode); CTR mode keeps them.
    pub drop_seen: bool,
    /// Keep test (and validation) rows whose user or item is not in train instead of dropping
    /// them: a given CTR split (`files`), where every test row is scored, as the reference CTR
    /// library does.
    pub keep_unknown: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn distinct(v: impl Iterator<Item = u64>) -> usize {
    v.collect::<HashSet<_>>().len()
}

/// Which of the `n` dense codes occur in `codes` (a bitmap, not a hash set: at 57 M rows this
/// is one linear pass instead of 57 M hash inserts).
fn present(n: usize, codes: impl Iterator<Item = u32>) -> Vec<bool> {
    let mut seen = vec![false; n];
    codes.for_each(|c| seen[c as usize] = true);
    seen
}

fn count(seen: &[bool]) -> usize {
    seen.iter().filter(|&&s| s).count()
}

/// Each user's distinct items, sorted, as CSR (`items[ptr[u]..ptr[u + 1]]`), from `(user, item)`
/// pairs (users below `n_users`; the iterator is walked twice). A counting sort by user, then a
/// sort of each user's short list: at 52 M pairs half the memory of sorting them as u64 keys
/// (0.2 instead of 0.4 GB at the run's peak), and no global sort.
pub fn items_by_user<I>(n_users: usize, pairs: I) -> (Vec<usize>, Vec<u32>)
where
    I: Iterator<Item = (u32, u32)> + Clone,
{
    let mut ptr = vec![0usize; n_users + 1];
    for (u, _) in pairs.clone() {
        ptr[u as usize + 1] += 1;
    }
    for u in 0..n_users {
        ptr[u + 1] += ptr[u];
    }
    let mut items = vec![0u32; ptr[n_users]];
    let mut next = ptr.clone();
    for (u, i) in pairs {
        items[next[u as usize]] = i;
        next[u as usize] += 1;
    }
    drop(next);
    // Sort and dedup each user's list, compacting towards the front.
    let mut write = 0;
    for u in 0..n_users {
        let (a, b) = (ptr[u], ptr[u + 1]);
        items[a..b].sort_unstable();
        ptr[u] = write;
        let mut last = None;
        for k in a..b {
            if last != Some(items[k]) {
                last = Some(items[k]);
                items[write] = items[k];
                write += 1;
            }
        }
    }
    ptr[n_users] = write;
    items.truncate(write);
    items.shrink_to_fit();
    (ptr, items)
}

fn pair(x: &Interactions, r: usize) -> u64 {
    (u64::from(x.user[r]) << 32) | u64::from(x.item[r])
}

/// The per-user last-day rule over `n` rows given by accessors: row `i` is marked when its user
/// is active on at least 2 distinct UTC days and `i` falls on the user's latest one. Used for the
/// test split and to carve NCF's validation day out of the train part.
pub fn last_day_mask(
    n: usize,
    n_users: usize,
    user: impl Fn(usize) -> u32,
    ts: impl Fn(usize) -> i64,
) -> Vec<bool> {
    let mut lo = vec![i64::MAX; n_users];
    let mut hi = vec![i64::MIN; n_users];
    for i in 0..n {
        let (u, d) = (user(i) as usize, day_of(ts(i)));
        lo[u] = lo[u].min(d);
        hi[u] = hi[u].max(d);
    }
    (0..n)
        .map(|i| {
            let u = user(i) as usize;
            lo[u] < hi[u] && day_of(ts(i)) == hi[u]
        })
        .collect()
}

/// Mark test rows among `rows` by the rule (before the test filters).
fn test_mask(x: &Interactions, rows: &[usize], rule: &SplitRule) -> Vec<bool> {
    let n_users = x.users.len();
    match rule.method {
        SplitMethod::LastDay => {
            last_day_mask(rows.len(), n_users, |i| x.user[rows[i]], |i| x.ts[rows[i]])
        }
        SplitMethod::GlobalDays => {
            let last = rows.iter().map(|&r| day_of(x.ts[r])).max().unwrap_or(0);
            let first_test = last - i64::from(rule.days) + 1;
            rows.iter()
                .map(|&r| day_of(x.ts[r]) >= first_test)
                .collect()
        }
        SplitMethod::LeaveLastOut => {
            // The latest (timestamp, position) per user with >= 2 rows.
            let mut best: Vec<Option<usize>> = vec![None; n_users];
            let mut count = vec![0usize; n_users];
            for (pos, &r) in rows.iter().enumerate() {
                let u = x.user[r] as usize;
                count[u] += 1;
                if best[u].is_none_or(|b| x.ts[r] >= x.ts[rows[b]]) {
                    best[u] = Some(pos);
                }
            }
            let mut mask = vec![false; rows.len()];
            for u in 0..n_users {
                if let (Some(b), true) = (best[u], count[u] >= 2) {
                    mask[b] = true;
                }
            }
            mask
        }
        SplitMethod::Random => {
            let mut by_user: Vec<Vec<usize>> = vec![Vec::new(); n_users];
            for (pos, &r) in rows.iter().enumerate() {
                by_user[x.user[r] as usize].push(pos);
            }
            let mut rng = ChaCha8Rng::seed_from_u64(rule.seed);
            let mut mask = vec![false; rows.len()];
            for positions in by_user.iter_mut().filter(|p| p.len() >= 2) {
                let n = positions.len();
                let take = ((n as f64 * rule.test_fraction).round() as usize).clamp(1, n - 1);
                positions.shuffle(&mut rng);
                for &p in &positions[..take] {
                    mask[p] = true;
                }
            }
            mask
        }
        SplitMethod::Files => rows
            .iter()
            .map(|&r| x.given_test.as_ref().is_some_and(|g| g[r]))
            .collect(),
    }
}

/// Split `rows` (positions in `x`, e.g. all rows, or the train rows to carve a validation part).
/// `rows` becomes the train list in place: at 57 M rows a second list was 0.5 GB at the run's
/// peak.
pub fn split(x: &Interactions, mut rows: Vec<usize>, rule: &SplitRule) -> Split {
    // Given validation rows stay out of train and test.
    let given_valid: Vec<usize> = match &x.given_valid {
        Some(g) => {
            let valid = rows.iter().copied().filter(|&r| g[r]).collect();
            rows.retain(|&r| !g[r]);
            valid
        }
        None => Vec::new(),
    };
    let mask = test_mask(x, &rows, rule);
    let (n_users, n_items) = (x.users.len(), x.items.len());
    let input_rows = rows.len();
    let input_users = count(&present(n_users, rows.iter().map(|&r| x.user[r])));
    let input_items = count(&present(n_items, rows.iter().map(|&r| x.item[r])));
    let raw_test: Vec<usize> = rows
        .iter()
        .zip(&mask)
        .filter_map(|(&r, &t)| t.then_some(r))
        .collect();
    let mut marked = mask.into_iter();
    rows.retain(|_| !marked.next().unwrap_or(false));
    let mut train = rows;
    let train_items = present(n_items, train.iter().map(|&r| x.item[r]));
    let train_users = present(n_users, train.iter().map(|&r| x.user[r]));
    let (seen_ptr, seen) = items_by_user(n_users, train.iter().map(|&r| (x.user[r], x.item[r])));
    let seen_in_train = |r: usize| {
        let u = x.user[r] as usize;
        seen[seen_ptr[u]..seen_ptr[u + 1]]
            .binary_search(&x.item[r])
            .is_ok()
    };

    let mut stats = SplitStats {
        split: rule.method.name().to_string(),
        drop_seen_test_pairs: rule.drop_seen,
        input_rows,
        input_users,
        input_items,
        train_rows: train.len(),
        train_users: count(&train_users),
        train_items: count(&train_items),
        train_pairs: seen.len(),
        test_rows_before_filters: raw_test.len(),
        ..Default::default()
    };
    stats.train_only_users =
        stats.input_users - count(&present(n_users, raw_test.iter().map(|&r| x.user[r])));
    let mut test = Vec::with_capacity(raw_test.len());
    for &r in &raw_test {
        let known = train_items[x.item[r] as usize] && train_users[x.user[r] as usize];
        if rule.keep_unknown && !known {
            stats.test_rows_unknown_kept += 1;
            test.push(r);
        } else if !train_items[x.item[r] as usize] {
            stats.test_rows_dropped_unknown_item += 1;
        } else if !train_users[x.user[r] as usize] {
            stats.test_rows_dropped_unknown_user += 1;
        } else if rule.drop_seen && seen_in_train(r) {
            stats.test_rows_dropped_seen_in_train += 1;
        } else {
            test.push(r);
        }
    }
    stats.test_rows = test.len();
    stats.test_pairs = distinct(test.iter().map(|&r| pair(x, r)));
    stats.eval_users = count(&present(n_users, test.iter().map(|&r| x.user[r])));
    let valid: Vec<usize> = given_valid
        .into_iter()
        .filter(|&r| {
            rule.keep_unknown
                || (train_items[x.item[r] as usize] && train_users[x.user[r] as usize])
        })
        .filter(|&r| !(rule.drop_seen && seen_in_train(r)))
        .collect();
    if x.given_valid.is_some() {
        stats.valid_rows = Some(valid.len());
    }
    train.shrink_to_fit();
    Split {
        train,
        test,
        valid,
        keep_unknown: rule.keep_unknown,
        stats,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{IdMap, RawIds};

    const DAY: i64 = 86_400;

    /// Interactions from (user, item, timestamp) rows, weight 1, implicit mode.
    pub(crate) fn frame(rows: &[(i64, i64, i64)]) -> Interactions {
        let (users, user) = IdMap::encode(&RawIds::Int(rows.iter().map(|r| r.0).collect()));
        let (items, item) = IdMap::encode(&RawIds::Int(rows.iter().map(|r| r.1).collect()));
        Interactions {
            source: "test".into(),
            users,
            items,
            user,
            item,
            ts: rows.iter().map(|r| r.2).collect(),
            label: None,
            weight: vec![1.0; rows.len()],
            weighted: false,
            event: None,
            event_names: vec![],
            features: vec![],
            categorical: vec![],
            sequences: vec![],
            given_test: None,
            given_valid: None,
        }
    }

    /// The dataset of (user, item, timestamp) rows split leave-last-out (the latest row of
    /// each user with at least 2 rows is test), for tests of the models and metrics.
    pub(crate) fn leave_last_out_dataset(rows: &[(i64, i64, i64)]) -> crate::dataset::Dataset {
        let mut x = frame(rows);
        let all: Vec<usize> = (0..x.len()).collect();
        let s = split(&x, all.clone(), &rule(SplitMethod::LeaveLastOut, true));
        crate::dataset::build(&mut x, &s, None, None, false)
            .expect("a dataset of plain rows")
            .0
    }

    fn rule(method: SplitMethod, drop_seen: bool) -> SplitRule {
        SplitRule {
            method,
            days: 1,
            test_fraction: 0.5,
            seed: 7,
            drop_seen,
            keep_unknown: false,
        }
    }

    fn pairs(x: &Interactions, rows: &[usize]) -> Vec<(String, String)> {
        let mut v: Vec<_> = rows
            .iter()
            .map(|&r| {
                (
                    x.users.label(x.user[r] as usize),
                    x.items.label(x.item[r] as usize),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn p(a: &[(i64, i64)]) -> Vec<(String, String)> {
        a.iter()
            .map(|(u, i)| (u.to_string(), i.to_string()))
            .collect()
    }

    #[test]
    fn last_day_split_matches_test_protocol() {
        // test_protocol.py::test_last_day_split
        let x = frame(&[
            (1, 10, 5),
            (1, 20, 9),
            (1, 30, DAY + 1),
            (1, 40, DAY + 2),
            (2, 10, 1),
            (2, 30, 7),
            (3, 20, 3),
            (3, 30, 2 * DAY + 1),
            (3, 20, 2 * DAY + 5),
        ]);
        let all: Vec<usize> = (0..x.len()).collect();
        let s = split(&x, all.clone(), &rule(SplitMethod::LastDay, true));
        assert_eq!(
            pairs(&x, &s.train),
            p(&[(1, 10), (1, 20), (2, 10), (2, 30), (3, 20)])
        );
        assert_eq!(pairs(&x, &s.test), p(&[(1, 30), (3, 30)]));
        let st = &s.stats;
        assert_eq!(
            (
                st.test_rows_before_filters,
                st.test_rows_dropped_unknown_item,
                st.test_rows_dropped_seen_in_train,
                st.eval_users,
                st.train_only_users
            ),
            (4, 1, 1, 2, 1)
        );
        let kept = split(&x, all.clone(), &rule(SplitMethod::LastDay, false));
        assert_eq!(pairs(&x, &kept.test), p(&[(1, 30), (3, 20), (3, 30)]));
    }

    #[test]
    fn day_boundary_is_utc_midnight() {
        let x = frame(&[(1, 10, DAY - 1), (1, 20, DAY), (2, 20, 5)]);
        let s = split(&x, vec![0, 1, 2], &rule(SplitMethod::LastDay, true));
        assert_eq!(pairs(&x, &s.test), p(&[(1, 20)]));
    }

    #[test]
    fn leave_last_out_ties_go_to_the_later_row() {
        let x = frame(&[
            (1, 10, 100),
            (1, 20, 200),
            (1, 30, 200),
            (2, 10, 50),
            (3, 20, 10),
            (3, 10, 5),
            (4, 30, 1),
        ]);
        let all: Vec<usize> = (0..x.len()).collect();
        let s = split(&x, all.clone(), &rule(SplitMethod::LeaveLastOut, true));
        assert_eq!(pairs(&x, &s.test), p(&[(1, 30), (3, 20)]));
        assert_eq!((s.stats.eval_users, s.stats.train_only_users), (2, 2));
    }

    #[test]
    fn global_days_takes_the_last_calendar_days_of_the_log() {
        let x = frame(&[
            (1, 10, 0),
            (1, 20, 3 * DAY),
            (2, 10, DAY),
            (2, 20, 2 * DAY + 5),
            (3, 20, DAY),
            (4, 10, 3 * DAY + 2),
        ]);
        let all: Vec<usize> = (0..x.len()).collect();
        let mut r = rule(SplitMethod::GlobalDays, true);
        r.days = 2;
        let s = split(&x, all.clone(), &r);
        // days 2 and 3 are test; user 4 has no train rows -> dropped as unknown user
        assert_eq!(pairs(&x, &s.test), p(&[(1, 20), (2, 20)]));
        assert_eq!(s.stats.test_rows_dropped_unknown_user, 1);
    }

    #[test]
    fn random_split_is_seeded_and_partitions_the_rows() {
        let rows: Vec<(i64, i64, i64)> = (0..200).map(|r| (r % 10, r % 37, r)).collect();
        let x = frame(&rows);
        let all: Vec<usize> = (0..x.len()).collect();
        let a = split(&x, all.clone(), &rule(SplitMethod::Random, false));
        let b = split(&x, all.clone(), &rule(SplitMethod::Random, false));
        assert_eq!(a.test, b.test);
        assert_eq!(a.train.len() + a.stats.test_rows_before_filters, 200);
        // half of each user's 20 rows
        assert_eq!(a.stats.test_rows_before_filters, 100);
        let mut other = rule(SplitMethod::Random, false);
        other.seed = 8;
        assert_ne!(split(&x, all.clone(), &other).test, a.test);
    }

    #[test]
    fn items_by_user_is_each_users_distinct_items_sorted() {
        // User 0: items 5, 2, 5; user 1: none; user 2: 7, 1, 7, 7.
        let pairs = [(2, 7), (0, 5), (2, 1), (0, 2), (2, 7), (0, 5), (2, 7)];
        let (ptr, items) = items_by_user(3, pairs.iter().copied());
        assert_eq!(ptr, vec![0, 2, 2, 4]);
        assert_eq!(items, vec![2, 5, 1, 7]);
        let (ptr, items) = items_by_user(2, std::iter::empty());
        assert_eq!((ptr, items), (vec![0, 0, 0], vec![]));
    }
}
