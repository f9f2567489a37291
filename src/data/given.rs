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

/// The resolved train and test paths when the split is given.
pub(super) fn paths(cfg: &RunConfig) -> Option<(PathBuf, PathBuf)> {
    let s = &cfg.raw.split;
    if s.method != crate::config::SplitMethod::Files {
        return None;
    }
    Some((
        cfg.resolve(s.train_path.as_deref()?),
        cfg.resolve(s.test_path.as_deref()?),
    ))
}

/// Read both files and stack them, train rows first. Returns the frame and the number of train
/// rows. The test file must have every column of the train file (extra columns are ignored); a
/// column typed differently in the two files is cast to a common type (numbers to the wider
/// numeric type, anything else to text).
pub(super) fn read_both(
    cfg: &RunConfig,
    train: &Path,
    test: &Path,
) -> Result<(DataFrame, usize), DataError> {
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
                key: "split.test_path".into(),
                available: available(),
                hint: format!(" (the test file needs every column of {})", train.display()),
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
pub(super) fn relocate(err: DataError, n_train: usize, train: &Path, test: &Path) -> DataError {
    let place = |row: usize| {
        if row > n_train {
            (test.to_path_buf(), row - n_train)
        } else {
            (train.to_path_buf(), row)
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
