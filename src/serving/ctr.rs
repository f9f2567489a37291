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

/// Whether a run's `ncf/` folder holds NCF over fields (exported as a CTR model) rather than the
/// seed NCF (`scorer.json`).
pub fn is_ncf_over_fields(ncf_dir: &Path) -> bool {
    is_ctr_model(ncf_dir) && !ncf_dir.join("scorer.json").is_file()
}

/// One exported field's lookup from a value's text to its table row (0: out of vocabulary).
struct Lookup<'a> {
    field: &'a FieldJson,
    index: HashMap<&'a str, u32>,
}

impl<'a> Lookup<'a> {
    fn new(field: &'a FieldJson) -> Self {
        let index = field
            .vocabulary
            .iter()
            .enumerate()
            .map(|(k, v)| (v.as_str(), k as u32 + 1))
            .collect();
        Self { field, index }
    }

    /// The row of a level's text (hashed or from the vocabulary).
    fn level(&self, text: &str) -> u32 {
        match self.field.hash_buckets {
            Some(n) => 1 + (fnv1a(text) % n as u64) as u32,
            None => self.index.get(text).copied().unwrap_or(0),
        }
    }

    /// The row of a value of the field's input column: a side-table field's column holds the
    /// user (item) id, whose level comes from `by_id`; any other column holds the level.
    fn value(&self, text: &str) -> u32 {
        match &self.field.by_id {
            Some(by_id) => by_id.get(text).map_or(0, |l| self.level(l)),
            None => self.level(text),
        }
    }
}

/// An exported CTR model, loaded.
pub struct Loaded {
    pub json: ModelJson,
    pub model: CtrTrained,
}

impl Loaded {
    /// Reads `model.json` and `model.safetensors` of `dir`; another format, a missing file or a
    /// tensor that does not fit is an error naming the file.
    pub fn load(dir: &Path) -> Result<Loaded> {
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
        Ok(Loaded { json: m, model })
    }
}

/// A loaded CTR model scoring a dataset's parts: each field's table row for every level code of
/// that dataset, found through the level's text.
pub struct OnDataset {
    loaded: Loaded,
    /// Per field: the exported row of each of the dataset's codes (users, items, levels).
    rows_of: Vec<Vec<u32>>,
    /// Per field: its column among the dataset's categorical (or sequence) columns.
    column: Vec<usize>,
    /// Columns per row of the parts' `x`.
    fr: usize,
}

impl OnDataset {
    /// Maps the dataset's codes; a field the config does not have, or other dense columns, are
    /// errors naming them.
    pub fn new(loaded: Loaded, ds: &crate::dataset::Dataset) -> Result<Self> {
        let m = &loaded.json;
        if m.dense.numeric != ds.row_spec.numeric {
            return Err(Error::Usage(format!(
                "the model's numeric features {:?} differ from the config's {:?}",
                m.dense.numeric, ds.row_spec.numeric
            )));
        }
        let missing = |f: &FieldJson| {
            Error::Usage(format!(
                "the model's field `{}` ({}) is not in the config",
                f.name, f.source
            ))
        };
        let mut rows_of = Vec::new();
        let mut column = Vec::new();
        for f in &m.fields {
            let mut col = 0;
            let lookup = Lookup::new(f);
            let rows_for = |texts: &mut dyn Iterator<Item = String>| -> Vec<u32> {
                texts.map(|t| lookup.value(&t)).collect()
            };
            let rows = match f.source.as_str() {
                "user" | "user_table" => {
                    rows_for(&mut (0..ds.n_users()).map(|i| ds.users.label(i)))
                }
                "item" | "item_table" => {
                    rows_for(&mut (0..ds.n_items()).map(|i| ds.items.label(i)))
                }
                "row" => {
                    let k = ds
                        .cat_names
                        .iter()
                        .position(|n| *n == f.name)
                        .ok_or_else(|| missing(f))?;
                    col = k;
                    rows_for(&mut ds.cat_levels[k].iter().cloned())
                }
                _ => {
                    let k = ds
                        .test
                        .seqs
                        .iter()
                        .position(|q| q.name == f.name)
                        .ok_or_else(|| missing(f))?;
                    col = k;
                    rows_for(&mut ds.test.seqs[k].levels.iter().cloned())
                }
            };
            rows_of.push(rows);
            column.push(col);
        }
        Ok(Self {
            loaded,
            rows_of,
            column,
            fr: ds.row_spec.width(),
        })
    }

    /// Per dataset user (item) index, whether the model has a row for it (for `eval`'s counts).
    pub fn known_ids(&self) -> (Vec<Option<u32>>, Vec<Option<u32>>) {
        let known = |rows: &[u32]| rows.iter().map(|&r| (r > 0).then_some(r)).collect();
        (known(&self.rows_of[0]), known(&self.rows_of[1]))
    }
}

impl crate::model::Recommender for OnDataset {
    fn name(&self) -> &str {
        &self.loaded.json.model
    }
    fn probabilistic(&self) -> bool {
        true
    }
    fn score_rows(
        &self,
        part: &crate::dataset::Part,
    ) -> std::result::Result<Vec<f32>, crate::model::ModelError> {
        let m = &self.loaded.json;
        let n = part.len();
        let mut enc = FieldRows {
            n,
            ..Default::default()
        };
        for ((f, rows), &k) in m.fields.iter().zip(&self.rows_of).zip(&self.column) {
            let look =
                |codes: &[u32]| -> Vec<u32> { codes.iter().map(|&c| rows[c as usize]).collect() };
            match f.source.as_str() {
                "user" | "user_table" => enc.single.push(look(&part.user).into()),
                "item" | "item_table" => enc.single.push(look(&part.item).into()),
                "row" => enc.single.push(look(&part.cats[k]).into()),
                _ => {
                    let q = &part.seqs[k];
                    enc.multi.push((q.offsets.clone(), look(&q.codes)));
                }
            }
        }
        let d = m.dense.numeric.len();
        if d > 0 {
            for row in part.x.chunks_exact(self.fr.max(1)) {
                enc.dense.extend_from_slice(&row[..d]);
            }
        }
        self.loaded
            .model
            .predict(&enc)
            .map_err(|e| crate::model::ModelError::Scoring {
                model: m.model.clone(),
                message: e.to_string(),
            })
    }
    fn score_items(
        &self,
        _user: u32,
        _out: &mut [f32],
    ) -> std::result::Result<(), crate::model::ModelError> {
        Err(crate::model::ModelError::Scoring {
            model: self.loaded.json.model.clone(),
            message: "a CTR model ranks impressions: use eval.ranking = \"impressions\"".into(),
        })
    }
}

/// Scores `input` with the model in `dir`; adds `score`, `click` (score ≥ the exported threshold)
/// and `oov_fields` (how many fields went through their OOV row) columns.
pub fn score(dir: &Path, input: &Path, output: Option<&Path>) -> Result<()> {
    let Loaded { json: m, model } = Loaded::load(dir)?;
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
        let lookup = Lookup::new(f);
        let column = match f.source.as_str() {
            "user" | "user_table" => &m.user_column,
            "item" | "item_table" => &m.item_column,
            _ => &f.name,
        };
        // An empty cell is the level "" (as in training), not an error.
        let (levels, codes) = cols.field(column, "a field column of the model")?;
        match f.kind {
            FieldKind::Categorical => {
                // One lookup per distinct value, then per row by its code.
                let level_rows: Vec<u32> = levels.iter().map(|l| lookup.value(l)).collect();
                let v: Vec<u32> = codes.iter().map(|&c| level_rows[c as usize]).collect();
                v.iter()
                    .zip(&mut oov)
                    .for_each(|(&r, o)| *o += u32::from(r == 0));
                enc.single.push(v.into());
            }
            FieldKind::Sequence => {
                let (mut offsets, mut vals) = (vec![0u32], Vec::new());
                for (&c, o) in codes.iter().zip(&mut oov) {
                    let before = vals.len();
                    for part in levels[c as usize]
                        .split(m.sequence_separator.as_str())
                        .filter(|p| !p.is_empty())
                    {
                        vals.push(lookup.level(part));
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
    enc.dense = vec![0.0; n * spec.ranges.len()];
    let width = spec.ranges.len();
    for (k, (range, column)) in spec.ranges.iter().zip(&numeric).enumerate() {
        for (r, text) in column.iter().enumerate() {
            let v: f64 = text.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "{}: row {}: `{}`: {text:?} is not a number",
                    input.display(),
                    r + 1,
                    spec.numeric[k]
                ))
            })?;
            enc.dense[r * width + k] = range.scale(v);
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
