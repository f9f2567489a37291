//! `clickrec score` with an exported DeepFM / DCNv2 model (`<run>/deepfm`, `<run>/dcnv2`): the
//! input's fields looked up in the exported vocabularies (unseen values through the OOV row),
//! numeric columns scaled with the exported ranges, scored on the CPU.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::ctr::CtrTrained;
use crate::ctr::fields::{FieldKind, FieldRows, fnv1a};
use crate::data::{Columns, TableSpec, read_table};
use crate::error::{Error, Result};
use crate::model::ctr::{FORMAT, FieldJson, ModelJson};
use crate::report::csv_field;
use crate::rundir::write_atomic;

/// Whether `dir` holds an exported CTR model.
pub fn is_ctr_model(dir: &Path) -> bool {
    dir.join("model.json").is_file() && dir.join("model.safetensors").is_file()
}

/// The table row of `text` in field `f` (0: out of vocabulary).
fn row_of(f: &FieldJson, index: &HashMap<&str, u32>, text: &str) -> u32 {
    match f.hash_buckets {
        Some(n) => 1 + (fnv1a(text) % n as u64) as u32,
        None => index.get(text).copied().unwrap_or(0),
    }
}

/// Scores `input` with the model in `dir`; adds `score`, `click` (score ≥ the exported threshold)
/// and `oov_fields` (how many fields went through their OOV row) columns.
pub fn score(dir: &Path, input: &Path, output: Option<&Path>) -> Result<()> {
    let json_path = dir.join("model.json");
    let m: ModelJson = crate::export::read_json(&json_path)?;
    if m.format != FORMAT {
        return Err(Error::Export(format!(
            "{}: format {:?}, this version reads {FORMAT:?}; re-export with this version",
            json_path.display(),
            m.format
        )));
    }
    let st_path = dir.join("model.safetensors");
    let loaded = crate::export::read_safetensors(&st_path)?;
    let rows: Vec<usize> = m.fields.iter().map(|f| f.rows).collect();
    if rows.len() != m.arch.fields {
        return Err(Error::Export(format!(
            "{}: {} fields, the architecture has {}",
            json_path.display(),
            rows.len(),
            m.arch.fields
        )));
    }
    let get = |name: &str| loaded.tensors.get(name).cloned();
    let model = CtrTrained::from_tensors(m.arch.clone(), &rows, &get)
        .map_err(|e| Error::Export(format!("{}: {e}", st_path.display())))?;
    let df = read_table(&TableSpec::with_header(input))?;
    let cols = Columns {
        df: &df,
        path: input,
    };
    let n = df.height();
    let mut enc = FieldRows {
        n,
        ..Default::default()
    };
    let mut oov = vec![0u32; n];
    for f in &m.fields {
        let index: HashMap<&str, u32> = f
            .vocabulary
            .iter()
            .enumerate()
            .map(|(k, v)| (v.as_str(), k as u32 + 1))
            .collect();
        let column = match f.source.as_str() {
            "user" | "user_table" => &m.user_column,
            "item" | "item_table" => &m.item_column,
            _ => &f.name,
        };
        // An empty cell is the level "" (as in training), not an error.
        let (levels, codes) = cols.field(column, "a field column of the model")?;
        let texts: Vec<&str> = codes.iter().map(|&c| levels[c as usize].as_str()).collect();
        match f.kind {
            FieldKind::Categorical => {
                let v: Vec<u32> = texts
                    .iter()
                    .map(|t| match &f.by_id {
                        Some(by_id) => by_id.get(*t).map_or(0, |l| row_of(f, &index, l)),
                        None => row_of(f, &index, t),
                    })
                    .collect();
                v.iter()
                    .zip(&mut oov)
                    .for_each(|(&r, o)| *o += u32::from(r == 0));
                enc.single.push(v);
            }
            FieldKind::Sequence => {
                let (mut offsets, mut vals) = (vec![0u32], Vec::new());
                for (t, o) in texts.iter().zip(&mut oov) {
                    let before = vals.len();
                    for part in t
                        .split(m.sequence_separator.as_str())
                        .filter(|p| !p.is_empty())
                    {
                        vals.push(row_of(f, &index, part));
                    }
                    *o += u32::from(vals[before..].contains(&0));
                    offsets.push(vals.len() as u32);
                }
                enc.multi.push((offsets, vals));
            }
        }
    }
    let spec = &m.dense;
    let numeric: Vec<Vec<String>> = spec
        .numeric
        .iter()
        .map(|c| cols.strings(c, "a numeric feature of the model"))
        .collect::<Result<_, _>>()?;
    for r in 0..n {
        for (k, range) in spec.ranges.iter().enumerate() {
            let text = &numeric[k][r];
            let v: f64 = text.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "{}: row {}: `{}`: {text:?} is not a number",
                    input.display(),
                    r + 1,
                    spec.numeric[k]
                ))
            })?;
            enc.dense.push(range.scale(v));
        }
    }
    let scores = model
        .predict(&enc)
        .map_err(|e| Error::Export(format!("{}: {e}", dir.display())))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    // Every input column passes through, an empty cell as an empty field.
    let all: Vec<Vec<String>> = names
        .iter()
        .map(|c| {
            let (levels, codes) = cols.field(c, "column")?;
            Ok(codes.iter().map(|&k| levels[k as usize].clone()).collect())
        })
        .collect::<Result<_, crate::data::DataError>>()?;
    let mut out = names
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str(",score,click,oov_fields\n");
    for r in 0..n {
        let p = scores[r];
        let click = m
            .threshold
            .map_or(String::new(), |t| u8::from(f64::from(p) >= t).to_string());
        let fields: Vec<String> = all.iter().map(|c| csv_field(&c[r])).collect();
        let _ = writeln!(out, "{},{p},{click},{}", fields.join(","), oov[r]);
    }
    match output {
        Some(o) => {
            write_atomic(o, out.as_bytes())?;
            let with_oov = oov.iter().filter(|&&k| k > 0).count();
            eprintln!(
                "scored {n} rows with {} into {} ({with_oov} rows used an OOV row)",
                m.model,
                o.display()
            );
        }
        None => print!("{out}"),
    }
    Ok(())
}
