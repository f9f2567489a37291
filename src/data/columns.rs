//! DataFrame columns → typed, contiguous vectors, with errors that name column, row and value.
//!
//! Rows in errors are 1-based data rows (the header is not counted).

use std::path::Path;

use polars::prelude::*;

use super::{DataError, RawIds, TimestampUnit, time};

/// A column reader bound to one file, for error messages.
pub struct Columns<'a> {
    pub df: &'a DataFrame,
    pub path: &'a Path,
}

fn bad(path: &Path, column: &str, row: usize, problem: String) -> DataError {
    DataError::BadValue {
        path: path.to_path_buf(),
        column: column.to_string(),
        row: row + 1,
        problem,
    }
}

/// The levels of `first` (level → code in order of first appearance) sorted, with `codes`
/// renumbered to the sorted order: a level's code is its position among the sorted levels.
fn sorted_levels(first: std::collections::HashMap<&str, u32>, codes: &mut [u32]) -> Vec<String> {
    let mut levels: Vec<(&str, u32)> = first.into_iter().collect();
    levels.sort_unstable();
    let mut remap = vec![0u32; levels.len()];
    for (sorted, (_, seen)) in levels.iter().enumerate() {
        remap[*seen as usize] = sorted as u32;
    }
    codes.iter_mut().for_each(|c| *c = remap[*c as usize]);
    levels.into_iter().map(|(l, _)| l.to_string()).collect()
}

/// Position of the first null of a column (0 when there is none).
fn first_null(s: &Series) -> usize {
    s.is_null()
        .iter()
        .position(|v| v == Some(true))
        .unwrap_or(0)
}

impl<'a> Columns<'a> {
    /// The column `name` (configured under `key`), or an error listing the columns that exist.
    pub fn get(&self, name: &str, key: &str) -> Result<&'a Series, DataError> {
        match self.df.column(name) {
            Ok(c) => Ok(c.as_materialized_series()),
            Err(_) => {
                let names: Vec<String> = self
                    .df
                    .get_column_names()
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect();
                let hint = if names.len() == 1 {
                    " — only one column was found: is the delimiter right? (set [data].delimiter)"
                        .to_string()
                } else {
                    did_you_mean(name, self.df.get_column_names().iter().map(|s| s.as_str()))
                };
                Err(DataError::NoColumn {
                    path: self.path.to_path_buf(),
                    column: name.to_string(),
                    key: key.to_string(),
                    available: names.join(", "),
                    hint,
                })
            }
        }
    }

    /// An error at the first value that `is_bad`, described by `problem`.
    pub fn reject<T: Copy>(
        &self,
        name: &str,
        values: &[T],
        is_bad: impl Fn(T) -> bool,
        problem: impl Fn(T) -> String,
    ) -> Result<(), DataError> {
        match values.iter().position(|&v| is_bad(v)) {
            Some(row) => Err(bad(self.path, name, row, problem(values[row]))),
            None => Ok(()),
        }
    }

    /// The first null row of a column, as an error.
    fn no_nulls(&self, s: &Series, name: &str) -> Result<(), DataError> {
        if s.null_count() > 0 {
            let row = first_null(s);
            return Err(bad(
                self.path,
                name,
                row,
                "missing value (empty field or truncated line)".into(),
            ));
        }
        Ok(())
    }

    /// Text of row `row` for messages.
    fn show(s: &Series, row: usize) -> String {
        s.get(row)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "?".into())
    }

    /// Numbers as f64; text that is not a number, missing values, NaN and ±inf are errors.
    pub fn f64s(&self, name: &str, key: &str) -> Result<Vec<f64>, DataError> {
        let s = self.get(name, key)?;
        self.no_nulls(s, name)?;
        let cast = s
            .cast(&DataType::Float64)
            .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
        if cast.null_count() > 0 {
            let row = first_null(&cast);
            return Err(bad(
                self.path,
                name,
                row,
                format!("not a number: {}", Self::show(s, row)),
            ));
        }
        let ca = cast
            .f64()
            .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
        let out: Vec<f64> = ca.into_no_null_iter().collect();
        self.reject(
            name,
            &out,
            |v: f64| !v.is_finite(),
            |x| format!("{x} is not a finite number"),
        )?;
        Ok(out)
    }

    /// Numbers as f32 (model inputs); also errors on values beyond the f32 range.
    pub fn f32s(&self, name: &str, key: &str) -> Result<Vec<f32>, DataError> {
        let v = self.f64s(name, key)?;
        self.reject(
            name,
            &v,
            |x: f64| x.abs() > f64::from(f32::MAX),
            |x| format!("{x} is too large for a feature (beyond f32)"),
        )?;
        Ok(v.into_iter().map(|x| x as f32).collect())
    }

    /// The column as text (numbers rendered as text; nulls stay null).
    pub(super) fn text(&self, s: &Series, name: &str) -> Result<StringChunked, DataError> {
        let c = s
            .cast(&DataType::String)
            .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
        Ok(c.str()
            .map_err(|e| bad(self.path, name, 0, e.to_string()))?
            .clone())
    }

    /// Sorted levels of `ca` and each row's level index, without materialising a `String` per
    /// row; a null is the level `""`. More than `max` levels is an error (found as soon as the
    /// `max + 1`-th level appears).
    pub(super) fn levels(
        &self,
        name: &str,
        ca: &StringChunked,
        max: usize,
    ) -> Result<(Vec<String>, Vec<u32>), DataError> {
        let mut first: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut codes = Vec::with_capacity(ca.len());
        for v in ca.iter() {
            let n = first.len() as u32;
            let code = *first.entry(v.unwrap_or_default()).or_insert(n);
            if first.len() > max {
                return Err(DataError::TooManyLevels {
                    path: self.path.to_path_buf(),
                    column: name.to_string(),
                    levels: first.len(),
                    max,
                });
            }
            codes.push(code);
        }
        let levels = sorted_levels(first, &mut codes);
        Ok((levels, codes))
    }

    /// A categorical column: sorted levels and each row's level index. A missing value or more
    /// than `max` levels is an error.
    pub fn categorical(
        &self,
        name: &str,
        key: &str,
        max: usize,
    ) -> Result<(Vec<String>, Vec<u32>), DataError> {
        let s = self.get(name, key)?;
        self.no_nulls(s, name)?;
        self.levels_of(s, name, max)
    }

    /// [`Self::levels`] of the column `s`: integer columns without nulls are factorized as
    /// integers (same levels and codes, no string per row), anything else goes through text.
    fn levels_of(
        &self,
        s: &Series,
        name: &str,
        max: usize,
    ) -> Result<(Vec<String>, Vec<u32>), DataError> {
        match super::int_levels::int_levels(s, max) {
            Some(Ok(found)) => Ok(found),
            Some(Err(levels)) => Err(DataError::TooManyLevels {
                path: self.path.to_path_buf(),
                column: name.to_string(),
                levels,
                max,
            }),
            None => self.levels(name, &self.text(s, name)?, max),
        }
    }

    /// A categorical field: like [`Self::categorical`] without a level limit, and a missing value
    /// (null or empty cell) is the level `""` of its own rather than an error.
    pub fn field(&self, name: &str, key: &str) -> Result<(Vec<String>, Vec<u32>), DataError> {
        let s = self.get(name, key)?;
        self.levels_of(s, name, usize::MAX)
    }

    /// A multi-valued field: each cell split on `sep` (empty parts dropped; a missing or empty
    /// cell has no values).
    pub fn sequence(&self, name: &str, key: &str, sep: &str) -> Result<super::Sequence, DataError> {
        let s = self.get(name, key)?;
        let ca = self.text(s, name)?;
        let mut first: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut offsets = Vec::with_capacity(ca.len() + 1);
        offsets.push(0u32);
        let mut codes = Vec::new();
        for v in ca.iter() {
            for part in v.unwrap_or_default().split(sep).filter(|p| !p.is_empty()) {
                let n = first.len() as u32;
                codes.push(*first.entry(part).or_insert(n));
            }
            let end = u32::try_from(codes.len()).map_err(|_| {
                bad(
                    self.path,
                    name,
                    offsets.len() - 1,
                    "more than 4 G sequence values".into(),
                )
            })?;
            offsets.push(end);
        }
        let levels = sorted_levels(first, &mut codes);
        Ok(super::Sequence {
            name: name.to_string(),
            levels,
            offsets,
            codes,
        })
    }

    /// An id column: integers stay integers (also whole floats), anything else is text.
    pub fn ids(&self, name: &str, key: &str) -> Result<RawIds, DataError> {
        let s = self.get(name, key)?;
        self.no_nulls(s, name)?;
        if s.dtype().is_integer() {
            let c = s
                .cast(&DataType::Int64)
                .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
            let ca = c
                .i64()
                .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
            return Ok(RawIds::Int(ca.into_no_null_iter().collect()));
        }
        if s.dtype().is_float() {
            let v = self.f64s(name, key)?;
            if v.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15) {
                return Ok(RawIds::Int(v.iter().map(|&x| x as i64).collect()));
            }
        }
        Ok(RawIds::Str(self.strings(name, key)?))
    }

    /// Text values (numbers are rendered as text).
    pub fn strings(&self, name: &str, key: &str) -> Result<Vec<String>, DataError> {
        let s = self.get(name, key)?;
        self.no_nulls(s, name)?;
        let ca = self.text(s, name)?;
        Ok(ca
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    }

    /// Unix seconds (UTC). Numeric units are floored to seconds; negative values are errors.
    pub fn timestamps(
        &self,
        name: &str,
        key: &str,
        unit: TimestampUnit,
    ) -> Result<Vec<i64>, DataError> {
        let out: Vec<i64> = match unit {
            TimestampUnit::Datetime => {
                let text = self.strings(name, key)?;
                let mut out = Vec::with_capacity(text.len());
                for (row, t) in text.iter().enumerate() {
                    let v = time::parse_datetime(t).ok_or_else(|| {
                        bad(self.path, name, row, format!("{t:?} is not a date-time (expected ISO 8601, e.g. 2017-02-28 19:21:51)"))
                    })?;
                    out.push(v);
                }
                out
            }
            _ => {
                let s = self.get(name, key)?;
                let div: i64 = match unit {
                    TimestampUnit::Ms => 1_000,
                    TimestampUnit::Us => 1_000_000,
                    _ => 1,
                };
                if s.dtype().is_integer() {
                    self.no_nulls(s, name)?;
                    let c = s
                        .cast(&DataType::Int64)
                        .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
                    let ca = c
                        .i64()
                        .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
                    ca.into_no_null_iter().map(|v| v.div_euclid(div)).collect()
                } else {
                    let v = self.f64s(name, key).map_err(|e| match e {
                        DataError::BadValue { path, column, row, problem } => DataError::BadValue {
                            path,
                            column,
                            row,
                            problem: format!("{problem} (a unix timestamp in {unit:?}; set timestamp_unit = \"datetime\" for date strings)"),
                        },
                        e => e,
                    })?;
                    v.iter().map(|x| (x / div as f64).floor() as i64).collect()
                }
            }
        };
        self.reject(
            name,
            &out,
            |t: i64| t < 0,
            |x| format!("negative timestamp {x}"),
        )?;
        Ok(out)
    }

    /// A 0/1 click label.
    pub fn labels(&self, name: &str, key: &str) -> Result<Vec<bool>, DataError> {
        let s = self.get(name, key)?;
        if s.dtype() == &DataType::Boolean {
            self.no_nulls(s, name)?;
            let ca = s
                .bool()
                .map_err(|e| bad(self.path, name, 0, e.to_string()))?;
            return Ok(ca.iter().map(|v| v.unwrap_or(false)).collect());
        }
        let v = self.f64s(name, key)?;
        self.reject(
            name,
            &v,
            |x: f64| x != 0.0 && x != 1.0,
            |x| format!("label {x} is not 0 or 1"),
        )?;
        Ok(v.iter().map(|&x| x == 1.0).collect())
    }
}

/// ` (did you mean `age`?)` for a column named with another case (`Age`) or a small typo.
fn did_you_mean<'s>(name: &str, columns: impl Iterator<Item = &'s str>) -> String {
    let lower = name.to_lowercase();
    columns
        .map(|c| (strsim::levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}
