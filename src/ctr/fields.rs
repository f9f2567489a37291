//! The field map: every field of a CTR model described once, fit on the train part, and the
//! encoding of a part's rows into table rows.
//!
//! Fields, in this order: the user column, the item column, each `[data] categorical` column,
//! each categorical column of `[data.user_table]` and of `[data.item_table]` (a row takes the
//! level of its user or item), each `[data] sequence` column. Each field has one embedding table; row 0 is the field's
//! out-of-vocabulary (OOV) row, shared by levels seen fewer than `min_count` times in train and by
//! levels never seen in train; the levels kept get rows 1.. in ascending level order. A field in
//! `hash_buckets` has no vocabulary: a level's row is 1 + (FNV-1a hash of its text mod N), and
//! row 0 is never used. An empty cell of a categorical field is the level `""`; an empty sequence
//! cell has no values and embeds as a zero vector.

use serde::Serialize;

use super::row_column::RowColumn;
use crate::data::Sequence;
use crate::dataset::{Dataset, Part};

/// Single-valued or multi-valued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Categorical,
    Sequence,
}

/// Where a field's level of a data row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    User,
    Item,
    /// `[data] categorical` column k.
    Row(usize),
    /// Categorical column k of the user table (by the row's user).
    UserTable(usize),
    /// Categorical column k of the item table (by the row's item).
    ItemTable(usize),
    /// `[data] sequence` column k.
    Sequence(usize),
}

/// One field: its name, kind and the table row of every level of the log.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    pub source: Source,
    /// Rows of the field's table, the OOV row included.
    pub rows: usize,
    /// Levels that kept a row of their own (0 when hashed).
    pub vocabulary: usize,
    /// Train rows whose value is empty (a categorical field's `""` level, a sequence cell with
    /// no values).
    pub empty_train_rows: usize,
    /// `hash_buckets` of the field, when hashed.
    pub hash_buckets: Option<usize>,
    /// Table row of each level code of the log (0 = OOV).
    #[serde(skip)]
    pub row_of: Vec<u32>,
    /// Side-table fields: the level code of each user (or item) index.
    #[serde(skip)]
    pub index_codes: Vec<u32>,
}

/// Every field of the model plus the width of the dense (numeric) input.
#[derive(Debug, Clone, Serialize)]
pub struct FieldMap {
    pub fields: Vec<Field>,
    /// Numeric columns (min-max scaled) fed beside the embeddings.
    pub dense: usize,
    pub min_count: usize,
}

/// A part's rows as table rows, ready for the trainer and the scorer.
#[derive(Debug, Clone, Default)]
pub struct FieldRows {
    pub n: usize,
    /// Per categorical field (in field order), the table row of each data row, as narrow as
    /// the field's table allows.
    pub single: Vec<RowColumn>,
    /// Per sequence field, CSR offsets and table rows.
    pub multi: Vec<(Vec<u32>, Vec<u32>)>,
    /// Row-major `[n, dense]` scaled numeric features.
    pub dense: Vec<f32>,
    /// Per field, rows that went through the OOV row (a sequence row counts once).
    pub oov_rows: Vec<usize>,
}

/// A labelled part encoded for the trainer: all of `rows`, or the rows `subset` names (the train
/// and validation parts carved from one encoding share it instead of copying it).
pub struct LabelledRows<'a> {
    pub rows: &'a FieldRows,
    /// 0/1 per row of `rows`.
    pub labels: &'a [f32],
    /// The rows of `rows` this part holds; None: every row.
    pub subset: Option<&'a [u32]>,
}

impl<'a> LabelledRows<'a> {
    /// Every row of `rows`.
    pub fn all(rows: &'a FieldRows, labels: &'a [f32]) -> Self {
        Self {
            rows,
            labels,
            subset: None,
        }
    }

    /// The part's row indices into `rows`.
    pub(crate) fn indices(&self) -> Vec<u32> {
        match self.subset {
            Some(s) => s.to_vec(),
            None => (0..self.rows.n as u32).collect(),
        }
    }
}

/// 64-bit FNV-1a: stable across runs and platforms (std's hasher is seeded per process).
pub fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fits one field: counts of each level code over the train rows → table rows. The kind
/// follows from the source; a categorical field's empty train values are the train count of its
/// `""` level (a sequence's empty cells are counted by the caller).
fn fit_field(
    name: &str,
    source: Source,
    levels: &dyn Fn(usize) -> String,
    n_levels: usize,
    train_codes: &mut dyn Iterator<Item = u32>,
    min_count: usize,
    hash_buckets: Option<usize>,
) -> Field {
    let mut count = vec![0usize; n_levels];
    for c in train_codes {
        count[c as usize] += 1;
    }
    let (kind, empty_train_rows) = match source {
        Source::Sequence(_) => (FieldKind::Sequence, 0),
        Source::User | Source::Item => (FieldKind::Categorical, 0),
        _ => {
            let empty = (0..n_levels).find(|&c| levels(c).is_empty());
            (FieldKind::Categorical, empty.map_or(0, |e| count[e]))
        }
    };
    let (row_of, rows, vocabulary) = match hash_buckets {
        Some(n) => {
            let row_of = (0..n_levels)
                .map(|c| 1 + (fnv1a(&levels(c)) % n as u64) as u32)
                .collect();
            (row_of, n + 1, 0)
        }
        None => {
            let mut row_of = vec![0u32; n_levels];
            let mut next = 1u32;
            for (c, &k) in count.iter().enumerate() {
                if k >= min_count {
                    row_of[c] = next;
                    next += 1;
                }
            }
            (row_of, next as usize, next as usize - 1)
        }
    };
    Field {
        name: name.to_string(),
        kind,
        source,
        rows,
        vocabulary,
        empty_train_rows,
        hash_buckets,
        row_of,
        index_codes: Vec::new(),
    }
}

impl FieldMap {
    /// Fits every field's vocabulary on `ds.train`. `dense` numeric columns come first in the
    /// parts' `x` (the one-hot columns after them are not used: categoricals are fields here).
    pub fn fit(
        ds: &Dataset,
        user_name: &str,
        item_name: &str,
        min_count: usize,
        hash_buckets: &std::collections::BTreeMap<String, usize>,
    ) -> FieldMap {
        let t = &ds.train;
        let hb = |n: &str| hash_buckets.get(n).copied();
        let mut fields: Vec<Field> = vec![
            fit_field(
                user_name,
                Source::User,
                &|c| ds.users.label(c),
                ds.n_users(),
                &mut t.user.iter().copied(),
                min_count,
                hb(user_name),
            ),
            fit_field(
                item_name,
                Source::Item,
                &|c| ds.items.label(c),
                ds.n_items(),
                &mut t.item.iter().copied(),
                min_count,
                hb(item_name),
            ),
        ];
        for (k, name) in ds.cat_names.iter().enumerate() {
            let levels = &ds.cat_levels[k];
            fields.push(fit_field(
                name,
                Source::Row(k),
                &|c| levels[c].clone(),
                levels.len(),
                &mut t.cats[k].iter().copied(),
                min_count,
                hb(name),
            ));
        }
        for (side, ids, make) in [
            (
                &ds.user_side,
                &t.user,
                Source::UserTable as fn(usize) -> Source,
            ),
            (
                &ds.item_side,
                &t.item,
                Source::ItemTable as fn(usize) -> Source,
            ),
        ] {
            for (k, (name, levels, codes)) in side.fields.iter().enumerate() {
                let mut f = fit_field(
                    name,
                    make(k),
                    &|c| levels[c].clone(),
                    levels.len(),
                    &mut ids.iter().map(|&i| codes[i as usize]),
                    min_count,
                    hb(name),
                );
                f.index_codes = codes.clone();
                fields.push(f);
            }
        }
        for (k, q) in t.seqs.iter().enumerate() {
            let mut f = fit_field(
                &q.name,
                Source::Sequence(k),
                &|c| q.levels[c].clone(),
                q.levels.len(),
                &mut q.codes.iter().copied(),
                min_count,
                hb(&q.name),
            );
            f.empty_train_rows = q.offsets.windows(2).filter(|w| w[0] == w[1]).count();
            fields.push(f);
        }
        FieldMap {
            fields,
            dense: ds.row_spec.numeric.len(),
            min_count,
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields (never: user and item are always fields).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// [`Self::encode`] that moves `part.x` into the encoding (keeping its first `dense`
    /// columns, compacted in place) instead of copying it, and frees the part's level codes of
    /// categorical and sequence columns once encoded (the levels' text stays in the dataset):
    /// `part.x`, `part.cats` and the sequences' codes are empty afterwards. At 57 M rows with
    /// ten fields the codes alone are 2.3 GB.
    pub fn encode_owned(&self, part: &mut Part, fr: usize) -> FieldRows {
        let mut x = std::mem::take(&mut part.x);
        let mut out = self.no_rows(part.len());
        for j in 0..self.fields.len() {
            self.encode_field(j, part, &mut out);
            // Each column is freed once its last field is encoded: at 57 M rows a field's
            // codes are 0.2 GB, and holding all ten beside their table rows was the peak.
            let later = |s: Source| self.fields[j + 1..].iter().any(|f| f.source == s);
            match self.fields[j].source {
                Source::Row(k) if !later(Source::Row(k)) => part.cats[k] = Vec::new(),
                Source::Sequence(k) if !later(Source::Sequence(k)) => {
                    part.seqs[k].codes = Vec::new();
                    part.seqs[k].offsets = Vec::new();
                }
                _ => {}
            }
        }
        part.cats = Vec::new();
        part.seqs.iter_mut().for_each(|q| {
            q.codes = Vec::new();
            q.offsets = Vec::new();
        });
        let d = self.dense;
        if d > 0 && d < fr {
            for r in 0..x.len() / fr {
                x.copy_within(r * fr..r * fr + d, r * d);
            }
            x.truncate(out.n * d);
            x.shrink_to_fit();
        } else if d == 0 {
            x = Vec::new();
        }
        out.dense = x;
        out
    }

    /// The rows of `part` as table rows. `part.x` must hold at least the dense columns first
    /// (`fr` columns per row; with `fr = 0` no dense values are read).
    pub fn encode(&self, part: &Part, fr: usize) -> FieldRows {
        let mut out = self.no_rows(part.len());
        for j in 0..self.fields.len() {
            self.encode_field(j, part, &mut out);
        }
        let d = self.dense;
        out.dense = if d == 0 || fr == 0 {
            Vec::new()
        } else if d == fr {
            part.x.clone()
        } else {
            part.x
                .chunks_exact(fr.max(1))
                .flat_map(|row| row[..d].iter().copied())
                .collect()
        };
        out
    }

    /// Per field, the rows of `part` that would go through its OOV row (a sequence row counts
    /// once when any of its values does): [`Self::encode`]'s `oov_rows` without building the
    /// encoding (at 57 M rows the test part's was 0.4 GB only to be counted).
    pub fn oov_rows(&self, part: &Part) -> Vec<usize> {
        self.fields
            .iter()
            .map(|f| match f.levels(part) {
                Levels::Single { codes, by_index } => codes
                    .iter()
                    .filter(|&&c| f.single_row(c, by_index) == 0)
                    .count(),
                Levels::Sequence(q) => f.sequence_oov_rows(q),
            })
            .collect()
    }

    /// An encoding of `n` rows with no field encoded yet.
    fn no_rows(&self, n: usize) -> FieldRows {
        FieldRows {
            n,
            oov_rows: vec![0; self.fields.len()],
            ..Default::default()
        }
    }

    /// Encodes field `j` of `part` into `out` (a single field's column or a sequence field's
    /// CSR rows, and its OOV count); fields are encoded in field order.
    fn encode_field(&self, j: usize, part: &Part, out: &mut FieldRows) {
        let f = &self.fields[j];
        match f.levels(part) {
            Levels::Single { codes, by_index } => {
                let rows = codes.iter().map(|&c| f.single_row(c, by_index));
                let col = RowColumn::collect(f.rows, part.len(), rows);
                out.oov_rows[j] = col.oov_rows();
                out.single.push(col);
            }
            Levels::Sequence(q) => {
                let rows: Vec<u32> = q.codes.iter().map(|&c| f.row_of[c as usize]).collect();
                out.oov_rows[j] = f.sequence_oov_rows(q);
                out.multi.push((q.offsets.clone(), rows));
            }
        }
    }
}

/// Where a field's level codes stand in a part.
enum Levels<'a> {
    /// One code per row: the level code itself, or with `by_index` (side-table fields) the
    /// row's user (item) index, whose level code is the field's `index_codes[index]`.
    Single { codes: &'a [u32], by_index: bool },
    /// A sequence column: each row's level codes.
    Sequence(&'a Sequence),
}

impl Field {
    /// The field's codes in `part`.
    fn levels<'a>(&self, part: &'a Part) -> Levels<'a> {
        let single = |codes: &'a [u32], by_index| Levels::Single { codes, by_index };
        match self.source {
            Source::User => single(&part.user, false),
            Source::Item => single(&part.item, false),
            Source::Row(k) => single(&part.cats[k], false),
            Source::UserTable(_) => single(&part.user, true),
            Source::ItemTable(_) => single(&part.item, true),
            Source::Sequence(k) => Levels::Sequence(&part.seqs[k]),
        }
    }

    /// The table row of one code of [`Levels::Single`].
    #[inline]
    fn single_row(&self, code: u32, by_index: bool) -> u32 {
        let level = if by_index {
            self.index_codes[code as usize]
        } else {
            code
        };
        self.row_of[level as usize]
    }

    /// Rows of a sequence column with at least one value on the OOV row.
    fn sequence_oov_rows(&self, q: &Sequence) -> usize {
        q.offsets
            .windows(2)
            .filter(|w| {
                q.codes[w[0] as usize..w[1] as usize]
                    .iter()
                    .any(|&c| self.row_of[c as usize] == 0)
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_and_unseen_levels_share_the_oov_row() {
        // Levels a, b, c, d; train counts a 3, b 1, c 2, d 0 (only in test).
        let levels = ["a", "b", "c", "d"];
        let train = [0u32, 0, 0, 1, 2, 2];
        let f = fit_field(
            "f",
            Source::User,
            &|c| levels[c].to_string(),
            4,
            &mut train.iter().copied(),
            2,
            None,
        );
        assert_eq!(f.row_of, vec![1, 0, 2, 0]);
        assert_eq!((f.rows, f.vocabulary), (3, 2));
        let all = fit_field(
            "f",
            Source::User,
            &|c| levels[c].to_string(),
            4,
            &mut train.iter().copied(),
            1,
            None,
        );
        assert_eq!(all.row_of, vec![1, 2, 3, 0]);
    }

    #[test]
    fn hashed_fields_use_rows_one_to_n_and_are_stable() {
        let levels = ["x", "y", "z"];
        let f = fit_field(
            "h",
            Source::User,
            &|c| levels[c].to_string(),
            3,
            &mut std::iter::empty(),
            1,
            Some(2),
        );
        assert_eq!(f.rows, 3);
        assert!(f.row_of.iter().all(|&r| r == 1 || r == 2));
        assert_eq!(f.row_of[0], 1 + (fnv1a("x") % 2) as u32);
        // FNV-1a of "a" (published test vector).
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
