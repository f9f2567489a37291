//! The users a `recommend` call ranks for: one user, every user (optionally a `--users` list
//! and a `--shard I/N`), or folded-in histories — each with the items it must not get.

use std::path::Path;

use super::candidates::read_known;
use crate::data::IdMap;
use crate::error::{Error, Result};
use crate::export::ids::ModelIds;

/// Queries: a label (raw user id), the model row when the user is known, the excluded items
/// (CSR, ascending per query) and, for ALS, the user factors (`[len × f]`).
#[derive(Debug, Clone, Default)]
pub struct Queries {
    pub labels: Vec<String>,
    pub rows: Vec<Option<u32>>,
    pub ex_ptr: Vec<usize>,
    pub ex_items: Vec<u32>,
    pub vectors: Option<Vec<f32>>,
}

impl Queries {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The excluded items of query `q` (ascending).
    pub fn exclude(&self, q: usize) -> &[u32] {
        &self.ex_items[self.ex_ptr[q]..self.ex_ptr[q + 1]]
    }

    /// Known users (model rows), each excluding its train items unless `include_seen`; ALS
    /// factors are taken from `user_factors` (`f` per user) when given.
    pub fn known(
        rows: &[u32],
        ids: &ModelIds,
        include_seen: bool,
        user_factors: Option<(&[f32], usize)>,
    ) -> Queries {
        let mut q = Queries {
            ex_ptr: Vec::with_capacity(rows.len() + 1),
            ..Default::default()
        };
        q.ex_ptr.push(0);
        for &u in rows {
            q.labels.push(ids.users.label(u as usize));
            q.rows.push(Some(u));
            if !include_seen {
                q.ex_items.extend_from_slice(ids.seen(u));
            }
            q.ex_ptr.push(q.ex_items.len());
        }
        q.vectors = user_factors.map(|(x, f)| {
            let mut v = Vec::with_capacity(rows.len() * f);
            for &u in rows {
                v.extend_from_slice(&x[u as usize * f..(u as usize + 1) * f]);
            }
            v
        });
        q
    }
}

/// `--shard I/N`: every N-th user starting at I (0 ≤ I < N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The user rows of `--all`: every user, or those listed in `users_file` (in the model's
/// order), then every `shard.count`-th of them starting at `shard.index`.
pub fn select_users(
    users: &IdMap,
    user_column: &str,
    users_file: Option<&Path>,
    shard: Option<Shard>,
) -> Result<Vec<u32>> {
    let rows: Vec<u32> = match users_file {
        None => (0..users.len() as u32).collect(),
        Some(path) => read_known(path, users, user_column, "user", "--users")?,
    };
    if rows.is_empty() {
        return Err(Error::Usage(match users_file {
            Some(path) => format!(
                "--users {}: none of its ids is a user of the model (`recommend --history FILE` folds in new users); nothing was written",
                path.display()
            ),
            None => "the model has no users; nothing was written".into(),
        }));
    }
    let n = rows.len();
    let rows: Vec<u32> = match shard {
        None => rows,
        Some(s) => rows
            .into_iter()
            .enumerate()
            .filter(|(n, _)| n % s.count == s.index)
            .map(|(_, u)| u)
            .collect(),
    };
    if let (Some(s), true) = (shard, rows.is_empty()) {
        return Err(Error::Usage(format!(
            "--shard {}/{}: selects none of the {n} users (more shards than users); nothing was written",
            s.index, s.count
        )));
    }
    Ok(rows)
}

/// The model row of one `--user`, or an error naming it.
pub fn one_user(ids: &ModelIds, user: &str) -> Result<u32> {
    ids.users.find(user).ok_or_else(|| {
        Error::Usage(format!(
            "user {user:?} is not in the model (it had no train interactions; `recommend --history FILE` folds in new users)"
        ))
    })
}
