//! The encoded train/test parts every model trains and is evaluated on.
//!
//! Users and items are the train ones, indexed by ascending raw id (the protocol's tie-break
//! order). Features are scaled with parameters fit on the train part only.

use crate::data::side::SideTable;
use crate::data::{DataError, IdMap, Interactions, MAX_LEVELS, Sequence};
use crate::features::FeatureSpec;
use crate::split::Split;

/// One part (train, validation or test), columnar, in train index space.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    pub ts: Vec<i64>,
    pub label: Option<Vec<bool>>,
    pub weight: Vec<f32>,
    /// Row features, row-major [len × fr]: the scaled numeric columns, then (when every
    /// categorical column has at most [`MAX_LEVELS`] levels) their one-hot columns.
    pub x: Vec<f32>,
    /// Per `[data] categorical` column, each row's level code (into [`Dataset::cat_levels`]).
    pub cats: Vec<Vec<u32>>,
    /// Per `[data] sequence` column, each row's level codes.
    pub seqs: Vec<Sequence>,
}

impl Part {
    pub fn len(&self) -> usize {
        self.user.len()
    }
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }
}

/// A per-index feature table (user or item side features), scaled.
#[derive(Debug, Clone, Default)]
pub struct SideMatrix {
    pub spec: FeatureSpec,
    /// Row-major [n × width].
    pub values: Vec<f32>,
    /// The table's categorical columns as fields: name, sorted levels, and the level code of
    /// each user (or item) index.
    pub fields: Vec<(String, Vec<String>, Vec<u32>)>,
    /// A categorical column left out of the one-hot columns (more than [`MAX_LEVELS`] levels).
    pub one_hot_skipped: Option<(String, usize)>,
}

/// Everything the models and the evaluation need.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub ctr: bool,
    pub users: IdMap,
    pub items: IdMap,
    pub train: Part,
    pub test: Part,
    /// The given validation part (`split.valid_path`), in the same index space.
    pub valid: Option<Part>,
    pub row_spec: FeatureSpec,
    /// Names and sorted levels of the categorical fields (levels of the whole log: a field's
    /// vocabulary is fit on train later, see `crate::ctr::fields`).
    pub cat_names: Vec<String>,
    pub cat_levels: Vec<Vec<String>>,
    /// A categorical column left out of the one-hot columns of `x` because it has more than
    /// [`MAX_LEVELS`] levels: (column, levels). `[ncf]` refuses to train then.
    pub one_hot_skipped: Option<(String, usize)>,
    pub user_side: SideMatrix,
    pub item_side: SideMatrix,
    /// Each user's distinct train items, sorted (CSR: `seen_ptr[u]..seen_ptr[u+1]`).
    pub seen_ptr: Vec<usize>,
    pub seen_items: Vec<u32>,
    /// Eval users (ascending) and their distinct test items (sorted).
    pub eval_users: Vec<u32>,
    pub eval_items: Vec<Vec<u32>>,
    pub item_titles: Option<Vec<String>>,
    pub item_groups: Option<Vec<String>>,
}

impl Dataset {
    pub fn n_users(&self) -> usize {
        self.users.len()
    }
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
    /// The sorted distinct train items of user `u`.
    pub fn seen(&self, u: u32) -> &[u32] {
        let u = u as usize;
        &self.seen_items[self.seen_ptr[u]..self.seen_ptr[u + 1]]
    }
}

/// Map from log id index to train index (`u32::MAX` when absent), and the train id map.
fn train_index(ids: &IdMap, used: impl Iterator<Item = u32>) -> (Vec<u32>, IdMap) {
    let mut present = vec![false; ids.len()];
    for i in used {
        present[i as usize] = true;
    }
    let keep: Vec<u32> = (0..ids.len() as u32)
        .filter(|&i| present[i as usize])
        .collect();
    let mut map = vec![u32::MAX; ids.len()];
    for (t, &i) in keep.iter().enumerate() {
        map[i as usize] = t as u32;
    }
    (map, ids.subset(&keep))
}

/// The part's columns other than the features (`x` left empty).
/// The train, test and validation parts of `x` (`sets`: their rows; the validation part only
/// with `with_valid`), built one column at a time. With `release` each column of `x` that
/// nothing reads afterwards is freed as soon as the parts have it (the categorical codes only
/// with `free_cats`: one-hot features read them later otherwise), so the peak holds one column
/// twice instead of the whole log twice (57 M rows: 9.8 → 7 GB).
#[allow(clippy::too_many_arguments)]
fn part_columns(
    x: &mut Interactions,
    sets: [&[usize]; 3],
    with_valid: bool,
    umap: &[u32],
    imap: &[u32],
    release: bool,
    free_cats: bool,
) -> (Part, Part, Option<Part>) {
    let count = if with_valid { 3 } else { 2 };
    let mut parts: Vec<Part> = (0..count).map(|_| Part::default()).collect();
    let each = |parts: &mut Vec<Part>, set: &mut dyn FnMut(&mut Part, &[usize])| {
        for (p, rows) in parts.iter_mut().zip(sets) {
            set(p, rows);
        }
    };
    each(&mut parts, &mut |p, rows| {
        p.user = rows.iter().map(|&r| umap[x.user[r] as usize]).collect();
    });
    each(&mut parts, &mut |p, rows| {
        p.item = rows.iter().map(|&r| imap[x.item[r] as usize]).collect();
    });
    if release {
        x.user = Vec::new();
        x.item = Vec::new();
    }
    each(&mut parts, &mut |p, rows| {
        p.ts = rows.iter().map(|&r| x.ts[r]).collect()
    });
    if release {
        x.ts = Vec::new();
    }
    each(&mut parts, &mut |p, rows| {
        p.label = x
            .label
            .as_ref()
            .map(|l| rows.iter().map(|&r| l[r]).collect());
    });
    if release {
        x.label = None;
    }
    each(&mut parts, &mut |p, rows| {
        p.weight = rows.iter().map(|&r| x.weight[r]).collect();
    });
    if release {
        x.weight = Vec::new();
    }
    for k in 0..x.categorical.len() {
        let codes = &x.categorical[k].codes;
        each(&mut parts, &mut |p, rows| {
            p.cats.push(rows.iter().map(|&r| codes[r]).collect());
        });
        if release && free_cats {
            x.categorical[k].codes = Vec::new();
        }
    }
    each(&mut parts, &mut |p, rows| {
        p.seqs = x.sequences.iter().map(|q| q.take(rows)).collect();
    });
    let mut it = parts.into_iter();
    let train = it.next().unwrap_or_default();
    let test = it.next().unwrap_or_default();
    (train, test, it.next())
}

fn side_matrix(
    table: Option<&SideTable>,
    log_ids: &IdMap,
    index: &[u32],
    n: usize,
    what: &'static str,
) -> Result<SideMatrix, DataError> {
    let Some(t) = table else {
        return Ok(SideMatrix::default());
    };
    // Table row of each train index, in train index order.
    let mut rows = vec![0usize; n];
    for (log_i, &train_i) in index.iter().enumerate() {
        if train_i != u32::MAX {
            rows[train_i as usize] = t.row(log_ids, log_i as u32, what)?;
        }
    }
    let fields = t
        .categorical
        .iter()
        .map(|c| {
            let codes = rows.iter().map(|&r| c.codes[r]).collect();
            (c.name.clone(), c.levels.clone(), codes)
        })
        .collect();
    let one_hot_skipped = t
        .categorical
        .iter()
        .find(|c| c.levels.len() > MAX_LEVELS)
        .map(|c| (c.name.clone(), c.levels.len()));
    let one_hot: &[crate::data::Categorical] = if one_hot_skipped.is_some() {
        &[]
    } else {
        &t.categorical
    };
    let spec = FeatureSpec::fit(&t.features, one_hot, &rows);
    let values = spec.transform(&t.features, one_hot, &rows);
    Ok(SideMatrix {
        spec,
        values,
        fields,
        one_hot_skipped,
    })
}

/// Encode a split into a [`Dataset`]. The raw feature columns of `x` are consumed (scaled into
/// the train part's matrix and freed column by column). With `release`, the per-row columns
/// of `x` (user, item, ts, weight, label, event) are freed too once the parts hold them, before
/// the features are scaled: at 57 M rows that is 1.2 GB less at the run's peak. `x` keeps its
/// id maps either way. Also returns the seconds spent fitting scalers and scaling features.
pub fn build(
    x: &mut Interactions,
    split: &Split,
    user_table: Option<&SideTable>,
    item_table: Option<&SideTable>,
    release: bool,
) -> Result<(Dataset, f64), DataError> {
    if split.train.is_empty() {
        return Err(DataError::NothingLeft {
            what: x.source.display().to_string(),
            stage: "the split (train part)",
        });
    }
    // A given CTR split keeps test rows of users and items unseen in train: they get indices
    // too (the maps stay in ascending raw id order); no model trains their rows.
    let indexed: Vec<usize> = if split.keep_unknown {
        split
            .train
            .iter()
            .chain(&split.test)
            .chain(&split.valid)
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    let rows: &[usize] = if split.keep_unknown {
        &indexed
    } else {
        &split.train
    };
    let (umap, users) = train_index(&x.users, rows.iter().map(|&r| x.user[r]));
    let (imap, items) = train_index(&x.items, rows.iter().map(|&r| x.item[r]));
    let one_hot_skipped = x
        .categorical
        .iter()
        .find(|c| c.levels.len() > MAX_LEVELS)
        .map(|c| (c.name.clone(), c.levels.len()));
    let ctr = x.label.is_some();
    let sets = [&split.train[..], &split.test[..], &split.valid[..]];
    let with_valid = x.given_valid.is_some();
    let free_cats = one_hot_skipped.is_some();
    let (mut train, mut test, mut valid) =
        part_columns(x, sets, with_valid, &umap, &imap, release, free_cats);
    let cat_names: Vec<String> = x.categorical.iter().map(|c| c.name.clone()).collect();
    let cat_levels: Vec<Vec<String>> = x.categorical.iter().map(|c| c.levels.clone()).collect();
    if one_hot_skipped.is_some() {
        x.categorical = Vec::new(); // embedded as fields only (their codes are in the parts)
    }
    x.sequences = Vec::new();
    if release {
        // The other per-row columns went in `part_columns`.
        x.event = None;
    }
    let t_features = std::time::Instant::now();
    let row_spec = FeatureSpec::fit(&x.features, &x.categorical, &split.train);
    test.x = row_spec.transform(&x.features, &x.categorical, &split.test);
    if let Some(v) = valid.as_mut() {
        v.x = row_spec.transform(&x.features, &x.categorical, &split.valid);
    }
    train.x = row_spec.transform_consuming(
        std::mem::take(&mut x.features),
        std::mem::take(&mut x.categorical),
        &split.train,
    );
    let features_seconds = t_features.elapsed().as_secs_f64();
    let x: &Interactions = x;

    let (seen_ptr, seen_items) = crate::split::items_by_user(
        users.len(),
        train.user.iter().copied().zip(train.item.iter().copied()),
    );

    let mut tp: Vec<(u32, u32)> = test
        .user
        .iter()
        .copied()
        .zip(test.item.iter().copied())
        .collect();
    tp.sort_unstable();
    tp.dedup();
    let (mut eval_users, mut eval_items): (Vec<u32>, Vec<Vec<u32>>) = (Vec::new(), Vec::new());
    for (u, i) in tp {
        if eval_users.last() != Some(&u) {
            eval_users.push(u);
            eval_items.push(Vec::new());
        }
        if let Some(last) = eval_items.last_mut() {
            last.push(i);
        }
    }

    let user_side = side_matrix(user_table, &x.users, &umap, users.len(), "user")?;
    let item_side = side_matrix(item_table, &x.items, &imap, items.len(), "item")?;
    let one_hot_skipped = one_hot_skipped
        .or_else(|| user_side.one_hot_skipped.clone())
        .or_else(|| item_side.one_hot_skipped.clone());
    let per_item = |col: Option<&Vec<String>>| -> Option<Vec<String>> {
        let (t, col) = (item_table?, col?);
        Some(
            (0..x.items.len())
                .filter(|&i| imap[i] != u32::MAX)
                .map(|i| {
                    t.row_of[i]
                        .map(|r| col[r as usize].clone())
                        .unwrap_or_default()
                })
                .collect(),
        )
    };
    let item_titles = per_item(item_table.and_then(|t| t.title.as_ref()));
    let item_groups = per_item(item_table.and_then(|t| t.group.as_ref()));
    Ok((
        Dataset {
            ctr,
            users,
            items,
            train,
            test,
            valid,
            row_spec,
            cat_names,
            cat_levels,
            one_hot_skipped,
            user_side,
            item_side,
            seen_ptr,
            seen_items,
            eval_users,
            eval_items,
            item_titles,
            item_groups,
        },
        features_seconds,
    ))
}
