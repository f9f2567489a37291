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
        let w = self.width();
        let mut out = vec![0.0f32; rows.len() * w];
        for (i, &r) in rows.iter().enumerate() {
            let row = &mut out[i * w..(i + 1) * w];
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
        out
    }

    /// [`Self::transform`] of all of `rows`, consuming the columns: each source column is freed
    /// as soon as it is scaled into the output, so at 57 M rows × 11 features the raw columns
    /// and the scaled matrix are not both held whole. Rows are filled in parallel chunks.
    pub fn transform_consuming(
        &self,
        numeric: Vec<Numeric>,
        categorical: Vec<Categorical>,
        rows: &[usize],
    ) -> Vec<f32> {
        use rayon::prelude::*;
        let w = self.width();
        let mut out = vec![0.0f32; rows.len() * w];
        if w == 0 {
            return out;
        }
        const CHUNK: usize = 1 << 16;
        for (j, (c, range)) in numeric.into_iter().zip(&self.ranges).enumerate() {
            out.par_chunks_mut(CHUNK * w)
                .zip(rows.par_chunks(CHUNK))
                .for_each(|(o, rs)| {
                    for (row, &r) in o.chunks_exact_mut(w).zip(rs) {
                        row[j] = range.scale(f64::from(c.values[r]));
                    }
                });
        }
        let mut off = self.numeric.len();
        for (c, levels) in categorical.into_iter().zip(&self.levels) {
            out.par_chunks_mut(CHUNK * w)
                .zip(rows.par_chunks(CHUNK))
                .for_each(|(o, rs)| {
                    for (row, &r) in o.chunks_exact_mut(w).zip(rs) {
                        if let Some(slot) = row.get_mut(off + c.codes[r] as usize) {
                            *slot = 1.0;
                        }
                    }
                });
            off += levels.len();
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_transform_equals_the_borrowing_one() {
        let numeric: Vec<Numeric> = (0..3)
            .map(|k| Numeric {
                name: format!("n{k}"),
                values: (0..200).map(|r| ((r * (k + 3)) % 17) as f32 - 4.0).collect(),
            })
            .collect();
        let categorical = vec![Categorical {
            name: "c".into(),
            levels: vec!["a".into(), "b".into(), "z".into()],
            codes: (0..200).map(|r| (r % 3) as _).collect(),
        }];
        let fit: Vec<usize> = (0..150).collect();
        let rows: Vec<usize> = (0..200).rev().step_by(3).collect();
        let spec = FeatureSpec::fit(&numeric, &categorical, &fit);
        let want = spec.transform(&numeric, &categorical, &rows);
        assert_eq!(spec.transform_consuming(numeric, categorical, &rows), want);
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
