//! `split.method = "files"`: a given train/test split read from two files with the columns of
//! `[data]` (RecBole's `benchmark_filename`).
//!
//! The two frames are stacked (train rows first) so de-duplication and `[filter]` see both files,
//! as RecBole filters the concatenation; each row remembers its file, and the split keeps that
//! assignment. Errors about a row name the file it came from and its row there.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{DataError, TableSpec, read, read_table};
use crate::config::RunConfig;

/// The resolved paths of a given split.
#[derive(Debug, Clone)]
pub(super) struct Files {
    pub train: PathBuf,
    pub valid: Option<PathBuf>,
    pub test: PathBuf,
}

impl Files {
    /// `train + valid + test`, for messages.
    pub fn describe(&self) -> String {
        let mut s = self.train.display().to_string();
        if let Some(v) = &self.valid {
            s.push_str(&format!(" + {}", v.display()));
        }
        format!("{s} + {}", self.test.display())
    }
}

/// Where the stacked frame's rows came from: `train` rows, then `valid` rows, then test rows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parts {
    pub train: usize,
    pub valid: usize,
}

impl Parts {
    pub fn is_valid(&self, row: usize) -> bool {
        row >= self.train && row < self.train + self.valid
    }
    pub fn is_test(&self, row: usize) -> bool {
        row >= self.train + self.valid
    }
}

/// The resolved paths when the split is given.
pub(super) fn paths(cfg: &RunConfig) -> Option<Files> {
    let s = &cfg.raw.split;
    if s.method != crate::config::SplitMethod::Files {
        return None;
    }
    Some(Files {
        train: cfg.resolve(s.train_path.as_deref()?),
        valid: s.valid_path.as_deref().map(|p| cfg.resolve(p)),
        test: cfg.resolve(s.test_path.as_deref()?),
    })
}

/// Read the given files and stack them: train rows, then validation rows, then test rows.
pub(super) fn read_all(cfg: &RunConfig, files: &Files) -> Result<(DataFrame, Parts), DataError> {
    let (df, n_train) = read_both(cfg, &files.train, &files.test, None)?;
    let Some(valid) = &files.valid else {
        return Ok((
            df,
            Parts {
                train: n_train,
                valid: 0,
            },
        ));
    };
    // Validation rows go between train and test: stack (train + valid) first, then add test.
    let (mut tv, _) = read_both(cfg, &files.train, valid, Some("split.valid_path"))?;
    let test_part = df.slice(n_train as i64, df.height() - n_train);
    let n_valid = tv.height() - n_train;
    let (tv_names, test_names): (Vec<String>, Vec<String>) = (
        tv.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect(),
        test_part
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect(),
    );
    let polars_err = |path: &Path, e: PolarsError| DataError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut test_part = test_part
        .select(tv_names.iter().map(String::as_str))
        .map_err(|e| polars_err(&files.test, e))?;
    debug_assert_eq!(tv_names.len(), test_names.len());
    for n in &tv_names {
        let (a, b) = (
            tv.column(n)
                .map_err(|e| polars_err(valid, e))?
                .dtype()
                .clone(),
            test_part
                .column(n)
                .map_err(|e| polars_err(&files.test, e))?
                .dtype()
                .clone(),
        );
        if a != b {
            let common = if a.is_primitive_numeric() && b.is_primitive_numeric() {
                DataType::Float64
            } else {
                DataType::String
            };
            for (df, path) in [(&mut tv, valid), (&mut test_part, &files.test)] {
                let cast = df
                    .column(n)
                    .and_then(|c| c.cast(&common))
                    .map_err(|e| polars_err(path, e))?;
                df.replace(n, cast).map_err(|e| polars_err(path, e))?;
            }
        }
    }
    tv.vstack_mut(&test_part)
        .map_err(|e| polars_err(&files.test, e))?;
    tv.align_chunks_par();
    Ok((
        tv,
        Parts {
            train: n_train,
            valid: n_valid,
        },
    ))
}

/// Read both files and stack them, train rows first. Returns the frame and the number of train
/// rows. The test file must have every column of the train file (extra columns are ignored); a
/// column typed differently in the two files is cast to a common type (numbers to the wider
/// numeric type, anything else to text).
fn read_both(
    cfg: &RunConfig,
    train: &Path,
    test: &Path,
    key: Option<&str>,
) -> Result<(DataFrame, usize), DataError> {
    let key = key.unwrap_or("split.test_path");
    let d = &cfg.raw.data;
    let spec = |path: &Path| TableSpec {
        path: path.to_path_buf(),
        delimiter: d.delimiter.as_deref().map(read::delimiter_byte),
        has_header: d.has_header,
        columns: d.columns.clone(),
        encoding: d.encoding,
    };
    let mut a = read_table(&spec(train))?;
    let b = read_table(&spec(test))?;
    let names: Vec<String> = a.get_column_names().iter().map(|n| n.to_string()).collect();
    let available = || {
        b.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for n in &names {
        if b.column(n).is_err() {
            return Err(DataError::NoColumn {
                path: test.to_path_buf(),
                column: n.clone(),
                key: key.into(),
                available: available(),
                hint: format!(
                    " (the file of {key} needs every column of {})",
                    train.display()
                ),
            });
        }
    }
    let polars_err = |path: &Path, e: PolarsError| DataError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut b = b
        .select(names.iter().map(String::as_str))
        .map_err(|e| polars_err(test, e))?;
    for n in &names {
        let (ta, tb) = (
            a.column(n)
                .map_err(|e| polars_err(train, e))?
                .dtype()
                .clone(),
            b.column(n)
                .map_err(|e| polars_err(test, e))?
                .dtype()
                .clone(),
        );
        if ta == tb {
            continue;
        }
        let common = if ta.is_primitive_numeric() && tb.is_primitive_numeric() {
            DataType::Float64
        } else {
            DataType::String
        };
        for (df, path) in [(&mut a, train), (&mut b, test)] {
            let cast = df
                .column(n)
                .and_then(|c| c.cast(&common))
                .map_err(|e| polars_err(path, e))?;
            df.replace(n, cast).map_err(|e| polars_err(path, e))?;
        }
    }
    let n_train = a.height();
    a.vstack_mut(&b).map_err(|e| polars_err(test, e))?;
    a.align_chunks_par();
    Ok((a, n_train))
}

/// Point an error about a row of the stacked frame at the file and row it came from.
pub(super) fn relocate(err: DataError, parts: Parts, files: &Files) -> DataError {
    // `row` is 1-based in the stacked frame.
    let place = |row: usize| {
        if row > parts.train + parts.valid {
            (files.test.clone(), row - parts.train - parts.valid)
        } else if row > parts.train {
            let valid = files.valid.clone().unwrap_or_else(|| files.test.clone());
            (valid, row - parts.train)
        } else {
            (files.train.clone(), row)
        }
    };
    match err {
        DataError::BadValue {
            column,
            row,
            problem,
            ..
        } => {
            let (path, row) = place(row);
            DataError::BadValue {
                path,
                column,
                row,
                problem,
            }
        }
        DataError::UnknownEvent {
            event, row, known, ..
        } => {
            let (path, row) = place(row);
            DataError::UnknownEvent {
                path,
                event,
                row,
                known,
            }
        }
        other => other,
    }
}
