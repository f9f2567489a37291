//! Ranked rows out: a table file (`user, rank, item, score`; raw ids; CSV or Parquet by
//! extension, written atomically) or lines on stdout.

use std::path::Path;

use polars::prelude::*;

use super::rank::Ranked;
use crate::data::IdMap;
use crate::error::{Error, Result};

/// A column of raw ids: integers when every id is one, else text.
fn id_column(name: &str, ids: Vec<String>, integer: bool) -> Column {
    if integer {
        let parsed: Option<Vec<i64>> = ids.iter().map(|s| s.parse().ok()).collect();
        if let Some(v) = parsed {
            return Column::new(name.into(), v);
        }
    }
    Column::new(name.into(), ids)
}

/// Write ranked rows as `<query column>, rank, <item column>, score` to `path` (`.csv` or
/// `.parquet`). `queries[q]` is the raw id of query q; `queries_are_ints` asks for an integer
/// column when every id parses.
pub fn write_ranked(
    path: &Path,
    columns: [&str; 2],
    queries: &[String],
    queries_are_ints: bool,
    items: &IdMap,
    rows: &[Ranked],
) -> Result<()> {
    let mut rank = Vec::with_capacity(rows.len());
    let mut prev = None;
    let mut r = 0u32;
    for row in rows {
        r = if prev == Some(row.query) { r + 1 } else { 1 };
        prev = Some(row.query);
        rank.push(r);
    }
    let q: Vec<String> = rows
        .iter()
        .map(|r| queries[r.query as usize].clone())
        .collect();
    let it: Vec<String> = rows.iter().map(|r| items.label(r.item as usize)).collect();
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            id_column(columns[0], q, queries_are_ints),
            Column::new("rank".into(), rank),
            id_column(columns[1], it, matches!(items, IdMap::Int(_))),
            Column::new(
                "score".into(),
                rows.iter().map(|r| r.score).collect::<Vec<f32>>(),
            ),
        ],
    )
    .map_err(|e| Error::Export(format!("{}: {e}", path.display())))?;
    crate::synth::write_frame(&mut df, path).map_err(|e| Error::Usage(e.to_string()))
}

/// One printed row.
#[derive(Debug, serde::Serialize)]
struct Line<'a> {
    /// The model that answered.
    model: &'a str,
    #[serde(rename = "user", skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    rank: usize,
    item: String,
    score: f32,
    title: Option<&'a str>,
}

/// Print ranked rows (a table, or JSON lines with the answering `model`); the query column
/// only when `with_query`.
pub fn print_ranked(
    model: &str,
    queries: &[String],
    items: &IdMap,
    titles: Option<&[String]>,
    rows: &[Ranked],
    with_query: bool,
    json: bool,
) {
    let mut rank = 0;
    let mut prev = None;
    for r in rows {
        rank = if prev == Some(r.query) { rank + 1 } else { 1 };
        prev = Some(r.query);
        let line = Line {
            model,
            query: with_query.then(|| queries[r.query as usize].as_str()),
            rank,
            item: items.label(r.item as usize),
            score: r.score,
            title: titles
                .and_then(|t| t.get(r.item as usize))
                .map(String::as_str),
        };
        if json {
            println!("{}", serde_json::to_string(&line).unwrap_or_default());
        } else {
            let q = line.query.map(|q| format!("{q:<12} ")).unwrap_or_default();
            println!(
                "{q}{:>3}  {:<24} {:>10.5}  {}",
                line.rank,
                line.item,
                line.score,
                line.title.unwrap_or("")
            );
        }
    }
}
