//! Side tables (`[data.user_table]`, `[data.item_table]`): per-id features joined on the id.

use std::path::PathBuf;

use super::{Categorical, Columns, DataError, IdMap, Numeric, RawIds, TableSpec, read, read_table};
use crate::config::{RawConfig, RawTable};

/// A side table aligned to the log's id map: `row_of[id index]` is the table row, if any.
#[derive(Debug, Clone)]
pub struct SideTable {
    pub path: PathBuf,
    pub key: String,
    pub row_of: Vec<Option<u32>>,
    pub features: Vec<Numeric>,
    pub categorical: Vec<Categorical>,
    pub title: Option<Vec<String>>,
    pub group: Option<Vec<String>>,
}

impl SideTable {
    /// The table row of id index `i`, or an error naming the id.
    pub fn row(&self, ids: &IdMap, i: u32, what: &'static str) -> Result<usize, DataError> {
        self.row_of
            .get(i as usize)
            .copied()
            .flatten()
            .map(|r| r as usize)
            .ok_or_else(|| DataError::MissingSideRow {
                path: self.path.clone(),
                column: self.key.clone(),
                what,
                id: ids.label(i as usize),
            })
    }
}

/// Load a side table and align it to `ids` (the log's user or item ids).
pub fn load(
    cfg: &crate::config::RunConfig,
    t: &RawTable,
    ids: &IdMap,
    what: &'static str,
) -> Result<SideTable, DataError> {
    let path = cfg.resolve(&t.path);
    let spec = TableSpec {
        path: path.clone(),
        delimiter: t.delimiter.as_deref().map(read::delimiter_byte),
        has_header: t.has_header,
        columns: t.columns.clone(),
        encoding: t.encoding,
    };
    let df = read_table(&spec)?;
    let cols = Columns {
        df: &df,
        path: &path,
    };
    let keys = cols.ids(&t.key, "key")?;
    let mismatch = |found: &'static str, expected: &'static str| DataError::IdTypeMismatch {
        path: path.clone(),
        column: t.key.clone(),
        what,
        found,
        expected,
    };
    // Integer ids written as text in one file and as numbers in the other are the same ids;
    // text that is not a number cannot match numeric log ids.
    let keys: Vec<Option<u32>> = match (&keys, ids) {
        (RawIds::Int(v), IdMap::Int(_)) => v.iter().map(|k| ids.find(&k.to_string())).collect(),
        (RawIds::Str(v), IdMap::Str(_)) => v.iter().map(|k| ids.find(k)).collect(),
        (RawIds::Int(v), IdMap::Str(_)) => v.iter().map(|k| ids.find(&k.to_string())).collect(),
        (RawIds::Str(v), IdMap::Int(_)) => {
            if v.iter().any(|k| k.trim().parse::<i64>().is_err()) {
                return Err(mismatch("text", "integers"));
            }
            v.iter().map(|k| ids.find(k)).collect()
        }
    };
    let mut row_of = vec![None; ids.len()];
    for (row, k) in keys.iter().enumerate() {
        if let Some(i) = *k {
            if row_of[i as usize].is_some() {
                return Err(DataError::DuplicateKey {
                    path,
                    column: t.key.clone(),
                    what,
                    id: ids.label(i as usize),
                });
            }
            row_of[i as usize] = Some(row as u32);
        }
    }
    let key = |k: &str| format!("data.{what}_table.{k}");
    let mut features = Vec::new();
    for f in &t.features {
        features.push(Numeric {
            name: f.clone(),
            values: cols.f32s(f, &key("features"))?,
        });
    }
    let mut categorical = Vec::new();
    for c in &t.categorical {
        let (levels, codes) = cols.field(c, &key("categorical"))?;
        categorical.push(Categorical {
            name: c.clone(),
            levels,
            codes,
        });
    }
    let title = t
        .title
        .as_ref()
        .map(|c| cols.strings(c, &key("title")))
        .transpose()?;
    let group = t
        .group
        .as_ref()
        .map(|c| cols.strings(c, &key("group")))
        .transpose()?;
    Ok(SideTable {
        path,
        key: t.key.clone(),
        row_of,
        features,
        categorical,
        title,
        group,
    })
}

/// Load both configured side tables.
pub fn load_all(
    cfg: &crate::config::RunConfig,
    x: &super::Interactions,
) -> Result<(Option<SideTable>, Option<SideTable>), DataError> {
    let d: &RawConfig = &cfg.raw;
    let u = d
        .data
        .user_table
        .as_ref()
        .map(|t| load(cfg, t, &x.users, "user"))
        .transpose()?;
    let i = d
        .data
        .item_table
        .as_ref()
        .map(|t| load(cfg, t, &x.items, "item"))
        .transpose()?;
    Ok((u, i))
}
