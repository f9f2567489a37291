//! Feature preparation: min-max scaling fit on train only, one-hot categorical levels.
//!
//! Scaling follows the peers: (v − lo)/(hi − lo) with lo/hi from the train part; a column
//! constant in train maps to 0 everywhere; test values outside the train range are NOT clipped
//! (a value above the train max scales above 1), so that scores match the reference model.
//! linfa-preprocessing's MinMaxScaler is not used: it is fit through ndarray 0.16 (burn uses 0.17)
//! and these few lines are simpler to export to a service than its fitted parameters.

use serde::{Deserialize, Serialize};

use crate::data::{Categorical, Numeric};

/// Fitted min-max parameters of one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    /// Fit on the values (all finite: the loader rejects NaN/inf).
    pub fn fit(values: impl Iterator<Item = f64>) -> Range {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            min = min.min(v);
            max = max.max(v);
        }
        if min > max {
            Range { min: 0.0, max: 0.0 }
        } else {
            Range { min, max }
        }
    }

    /// Scale one value; a constant column gives 0.
    pub fn scale(&self, v: f64) -> f32 {
        let span = self.max - self.min;
        if span > 0.0 {
            ((v - self.min) / span) as f32
        } else {
            0.0
        }
    }
}

/// How one block of features (row features, or a side table) turns into model inputs:
/// scaled numeric columns first, then one one-hot column per categorical level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub numeric: Vec<String>,
    pub ranges: Vec<Range>,
    pub categorical: Vec<String>,
    pub levels: Vec<Vec<String>>,
}

impl FeatureSpec {
    /// Fit on the rows `fit_rows` of the given columns.
    pub fn fit(
        numeric: &[Numeric],
        categorical: &[Categorical],
        fit_rows: &[usize],
    ) -> FeatureSpec {
        FeatureSpec {
            numeric: numeric.iter().map(|c| c.name.clone()).collect(),
            ranges: numeric
                .iter()
                .map(|c| Range::fit(fit_rows.iter().map(|&r| f64::from(c.values[r]))))
                .collect(),
            categorical: categorical.iter().map(|c| c.name.clone()).collect(),
            levels: categorical.iter().map(|c| c.levels.clone()).collect(),
        }
    }

    /// Number of model inputs.
    pub fn width(&self) -> usize {
        self.numeric.len() + self.levels.iter().map(Vec::len).sum::<usize>()
    }

    /// Input names: numeric names, then `column=level`.
    pub fn names(&self) -> Vec<String> {
        let mut n = self.numeric.clone();
        for (c, levels) in self.categorical.iter().zip(&self.levels) {
            n.extend(levels.iter().map(|l| format!("{c}={l}")));
        }
        n
    }

    /// The row-major matrix [rows.len() × width] for `rows` of the columns.
    pub fn transform(
        &self,
        numeric: &[Numeric],
        categorical: &[Categorical],
        rows: &[usize],
    ) -> Vec<f32> {
        let mut out = vec![0.0f32; rows.len() * self.width()];
        if !out.is_empty() {
            self.fill(&mut out, rows, numeric, categorical);
        }
        out
    }

    /// [`Self::transform`] of all of `rows`, consuming the columns. The output is filled in
    /// blocks of rows (each block in parallel); when `rows` ascend (a split's train rows do), the
    /// memory of the source rows that every later block is past goes back to the OS after each
    /// block, so the raw columns shrink while the scaled matrix grows. At 57 M rows × 11 features
    /// that keeps 2.5 GB of raw columns from sitting beside the 3 GB matrix.
    pub fn transform_consuming(
        &self,
        mut numeric: Vec<Numeric>,
        mut categorical: Vec<Categorical>,
        rows: &[usize],
    ) -> Vec<f32> {
        use rayon::prelude::*;
        let w = self.width();
        let mut out = vec![0.0f32; rows.len() * w];
        if w == 0 {
            return out;
        }
        let ascending = rows.windows(2).all(|p| p[0] < p[1]);
        const BLOCK: usize = 1 << 20;
        const CHUNK: usize = 1 << 14;
        for (b, block) in out.chunks_mut(BLOCK * w).enumerate() {
            let rs = &rows[b * BLOCK..(b * BLOCK + BLOCK).min(rows.len())];
            block
                .par_chunks_mut(CHUNK * w)
                .zip(rs.par_chunks(CHUNK))
                .for_each(|(o, rs)| self.fill(o, rs, &numeric, &categorical));
            let done = b * BLOCK + rs.len();
            if ascending && let Some(&next) = rows.get(done) {
                for c in &mut numeric {
                    release_prefix(&mut c.values, next);
                }
                for c in &mut categorical {
                    release_prefix(&mut c.codes, next);
                }
            }
        }
        out
    }

    /// Scaled rows `rs` into `out` (`rs.len() × width`).
    fn fill(
        &self,
        out: &mut [f32],
        rs: &[usize],
        numeric: &[Numeric],
        categorical: &[Categorical],
    ) {
        let w = self.width();
        for (row, &r) in out.chunks_exact_mut(w).zip(rs) {
            for (j, (c, range)) in numeric.iter().zip(&self.ranges).enumerate() {
                row[j] = range.scale(f64::from(c.values[r]));
            }
            let mut off = self.numeric.len();
            for (c, levels) in categorical.iter().zip(&self.levels) {
                // Levels are encoded against the whole file, so a code is always in range.
                if let Some(slot) = row.get_mut(off + c.codes[r] as usize) {
                    *slot = 1.0;
                }
                off += levels.len();
            }
        }
    }

    /// Encode one raw row given as text per column name (for `clickrec score`). Unknown
    /// categorical levels give all-zero one-hot columns.
    pub fn encode_text(&self, get: &dyn Fn(&str) -> Option<String>) -> Result<Vec<f32>, String> {
        let mut row = vec![0.0f32; self.width()];
        for (j, (name, range)) in self.numeric.iter().zip(&self.ranges).enumerate() {
            let text = get(name).ok_or_else(|| format!("missing feature column `{name}`"))?;
            let v: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("`{name}`: {text:?} is not a number"))?;
            if !v.is_finite() {
                return Err(format!("`{name}`: {v} is not finite"));
            }
            row[j] = range.scale(v);
        }
        let mut off = self.numeric.len();
        for (name, levels) in self.categorical.iter().zip(&self.levels) {
            let text = get(name).ok_or_else(|| format!("missing feature column `{name}`"))?;
            if let Ok(k) = levels.binary_search(&text) {
                row[off + k] = 1.0;
            }
            off += levels.len();
        }
        Ok(row)
    }
}

/// Gives the whole memory pages inside `v[..upto]` back to the OS (`madvise(MADV_DONTNEED)`);
/// those elements read as 0 afterwards. For columns being consumed front to back, whose front
/// will not be read again: the pages are freed now instead of when the whole column is dropped.
fn release_prefix<T: Copy>(v: &mut [T], upto: usize) {
    let page = 4096usize;
    let upto = upto.min(v.len());
    let start = v.as_mut_ptr() as usize;
    let first = start.div_ceil(page) * page;
    let last = (start + upto * std::mem::size_of::<T>()) / page * page;
    if last > first {
        // SAFETY: [first, last) lies inside `v`'s allocation, which we borrow mutably and do not
        // read there again; MADV_DONTNEED on private anonymous memory only replaces those pages'
        // contents by zeros (a valid value of the plain numeric `T`s this is used with).
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_DONTNEED,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_transform_equals_the_borrowing_one() {
        let numeric: Vec<Numeric> = (0..3)
            .map(|k| Numeric {
                name: format!("n{k}"),
                values: (0..200)
                    .map(|r| ((r * (k + 3)) % 17) as f32 - 4.0)
                    .collect(),
            })
            .collect();
        let categorical = vec![Categorical {
            name: "c".into(),
            levels: vec!["a".into(), "b".into(), "z".into()],
            codes: (0..200).map(|r| (r % 3) as _).collect(),
        }];
        let fit: Vec<usize> = (0..150).collect();
        let spec = FeatureSpec::fit(&numeric, &categorical, &fit);
        for rows in [
            (0..200).rev().step_by(3).collect::<Vec<usize>>(),
            (0..200).step_by(2).collect(),
        ] {
            let want = spec.transform(&numeric, &categorical, &rows);
            let got = spec.transform_consuming(numeric.clone(), categorical.clone(), &rows);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn consuming_transform_over_several_blocks_releases_nothing_it_still_reads() {
        // 2.5 M ascending rows: three blocks, the source pages freed between them.
        let n = 2_500_000;
        let numeric = vec![Numeric {
            name: "a".into(),
            values: (0..n).map(|r| (r % 1000) as f32).collect(),
        }];
        let rows: Vec<usize> = (0..n).filter(|r| r % 5 != 0).collect();
        let spec = FeatureSpec::fit(&numeric, &[], &rows);
        let want = spec.transform(&numeric, &[], &rows);
        assert_eq!(spec.transform_consuming(numeric, Vec::new(), &rows), want);
    }

    #[test]
    fn releasing_a_prefix_zeroes_whole_pages_only() {
        let mut v: Vec<u32> = (1..=10_000).collect();
        release_prefix(&mut v, 5_000);
        // Everything from element 5 000 on is intact; released elements read 0.
        assert!(
            v[5_000..]
                .iter()
                .enumerate()
                .all(|(k, &x)| x == 5_001 + k as u32)
        );
        assert!(v[..5_000].iter().all(|&x| x == 0 || x <= 5_000));
        assert!(
            v[..5_000].contains(&0),
            "at least one whole page was released"
        );
    }

    #[test]
    fn constant_column_maps_to_zero_and_test_values_are_not_clipped() {
        // test_protocol.py::test_minmax_constant_column_maps_to_zero
        let cols = vec![
            Numeric {
                name: "a".into(),
                values: vec![1.0, 3.0, 2.0, 5.0],
            },
            Numeric {
                name: "b".into(),
                values: vec![5.0, 5.0, 7.0, 5.0],
            },
        ];
        let spec = FeatureSpec::fit(&cols, &[], &[0, 1]);
        assert_eq!(
            spec.transform(&cols, &[], &[2, 3]),
            vec![0.5, 0.0, 2.0, 0.0]
        );
    }

    #[test]
    fn one_hot_follows_numeric_columns() {
        let num = vec![Numeric {
            name: "x".into(),
            values: vec![0.0, 10.0],
        }];
        let cat = vec![Categorical {
            name: "d".into(),
            levels: vec!["a".into(), "b".into()],
            codes: vec![1, 0],
        }];
        let spec = FeatureSpec::fit(&num, &cat, &[0, 1]);
        assert_eq!(spec.names(), vec!["x", "d=a", "d=b"]);
        assert_eq!(
            spec.transform(&num, &cat, &[0, 1]),
            vec![0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
        );
        let get = |c: &str| {
            Some(if c == "x" {
                "5".to_string()
            } else {
                "zz".to_string()
            })
        };
        assert_eq!(spec.encode_text(&get).unwrap(), vec![0.5, 0.0, 0.0]);
        assert!(spec.encode_text(&|_| None).is_err());
    }
}
