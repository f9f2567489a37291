//! Candidate control for `recommend` and `similar`: which items a query may get.
//!
//! The catalogue is every item of the model, or only `--candidates FILE`, minus
//! `--exclude FILE`; per query, the user's train items are excluded too unless
//! `--include-seen` (for `similar`, the query item itself). A query gets exactly k rows
//! whenever k items remain. Id files are tables with a header (CSV, TSV, Parquet): the column
//! named like the model's id column, else `user` / `item`, else the only column. Ids the model
//! does not know are reported on stderr and skipped.

use std::path::{Path, PathBuf};

use crate::data::{Columns, IdMap, TableSpec, read_table};
use crate::error::{Error, Result};

/// The candidate flags of a command.
#[derive(Debug, Clone, Default)]
pub struct CandidateFlags {
    /// Keep the user's train items (default: excluded).
    pub include_seen: bool,
    /// Only these items.
    pub candidates: Option<PathBuf>,
    /// Never these items.
    pub exclude: Option<PathBuf>,
}

/// The items every query may get (ascending item rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub items: Vec<u32>,
}

impl Catalog {
    /// The catalogue of a model's item map under `flags`; `column` is the model's item column.
    pub fn build(items: &IdMap, column: &str, flags: &CandidateFlags) -> Result<Catalog> {
        let mut keep: Vec<bool> = match &flags.candidates {
            None => vec![true; items.len()],
            Some(path) => {
                let mut keep = vec![false; items.len()];
                for i in read_known(path, items, column, "item", "--candidates")? {
                    keep[i as usize] = true;
                }
                keep
            }
        };
        if let Some(path) = &flags.exclude {
            for i in read_known(path, items, column, "item", "--exclude")? {
                keep[i as usize] = false;
            }
        }
        Ok(Catalog {
            items: (0..items.len() as u32)
                .filter(|&i| keep[i as usize])
                .collect(),
        })
    }
}

/// The raw ids of an id file: the column `preferred`, else `fallback`, else the only column.
pub fn read_id_file(path: &Path, preferred: &str, fallback: &str) -> Result<Vec<String>> {
    let df = read_table(&TableSpec::with_header(path))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let column = if names.iter().any(|n| n == preferred) {
        preferred.to_string()
    } else if names.iter().any(|n| n == fallback) {
        fallback.to_string()
    } else if names.len() == 1 {
        names[0].clone()
    } else {
        return Err(Error::Usage(format!(
            "{}: no column `{preferred}` or `{fallback}` (the file has {}); name the id column",
            path.display(),
            names.join(", ")
        )));
    };
    Ok(Columns { df: &df, path }.strings(&column, "an id column")?)
}

/// Rows of the ids in `path` that `ids` knows (ascending, distinct); unknown ids are reported.
pub fn read_known(
    path: &Path,
    ids: &IdMap,
    preferred: &str,
    fallback: &str,
    flag: &str,
) -> Result<Vec<u32>> {
    let raw = read_id_file(path, preferred, fallback)?;
    let mut rows = Vec::with_capacity(raw.len());
    let mut unknown = Vec::new();
    for r in &raw {
        match ids.find(r) {
            Some(i) => rows.push(i),
            None => unknown.push(r.as_str()),
        }
    }
    if !unknown.is_empty() {
        eprintln!(
            "note: {flag} {}: {} of {} ids are not in the model and were skipped (first: {:?})",
            path.display(),
            unknown.len(),
            raw.len(),
            unknown[0]
        );
    }
    rows.sort_unstable();
    rows.dedup();
    Ok(rows)
}

/// Whether `item` is in the ascending list `sorted`.
#[inline]
pub fn contains(sorted: &[u32], item: u32) -> bool {
    sorted.binary_search(&item).is_ok()
}
