//! `clickrec score`: an impression file scored with an exported NCF model.

use std::fmt::Write as _;
use std::path::Path;

use super::modeldir::{self, Kind};
use super::ncf::Scorer;
use crate::data::{Columns, TableSpec, read_table};
use crate::error::{Error, Result};
use crate::report::csv_field;
use crate::rundir::write_atomic;

/// `clickrec score MODEL_DIR INPUT.csv [-o OUT.csv]`: adds `score`, `click` (score ≥ threshold),
/// `cold_user`, `cold_item` columns to an impression file with the training column names.
pub fn score(dir: &Path, input: &Path, output: Option<&Path>) -> Result<()> {
    if let Some(o) = output {
        crate::outpath::check("-o", o, &[("INPUT", input)])?;
    }
    if super::ctr::is_ctr_model(dir) {
        return super::ctr::score(dir, input, output);
    }
    // A run directory whose NCF was trained over fields holds it in the CTR format.
    let ncf = dir.join("ncf");
    if super::ctr::is_ncf_over_fields(&ncf) {
        return super::ctr::score(&ncf, input, output);
    }
    let (_, dir) = modeldir::locate(dir, Some(Kind::Ncf))?;
    let s = Scorer::load(&dir)?;
    let j = &s.json;
    let df = read_table(&TableSpec::with_header(input))?;
    let cols = Columns {
        df: &df,
        path: input,
    };
    let users = cols.strings(&j.user_column, "the model's user column")?;
    let items = cols.strings(&j.item_column, "the model's item column")?;
    let spec = &j.row_features;
    let mut feature_text = Vec::new();
    for name in spec.numeric.iter().chain(&spec.categorical) {
        feature_text.push((
            name.clone(),
            cols.strings(name, "a feature column of the model")?,
        ));
    }
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let all: Vec<Vec<String>> = names
        .iter()
        .map(|n| cols.strings(n, "column"))
        .collect::<Result<_, _>>()?;
    let threshold = j.threshold;
    let mut out = names
        .iter()
        .map(|n| csv_field(n))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str(",score,click,cold_user,cold_item\n");
    let mut buf = Vec::new();
    let (mut cold_u, mut cold_i) = (0usize, 0usize);
    for row in 0..df.height() {
        let get = |name: &str| {
            feature_text
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v[row].clone())
        };
        let x = spec
            .encode_text(&get)
            .map_err(|m| Error::Usage(format!("{}: row {}: {m}", input.display(), row + 1)))?;
        let u = s.ids.users.find(&users[row]);
        let i = s.ids.items.find(&items[row]);
        cold_u += usize::from(u.is_none());
        cold_i += usize::from(i.is_none());
        let p = s.score(u, i, &x, &mut buf);
        let click = threshold.map_or(String::new(), |t| u8::from(f64::from(p) >= t).to_string());
        let fields: Vec<String> = all.iter().map(|c| csv_field(&c[row])).collect();
        let _ = writeln!(
            out,
            "{},{p},{click},{},{}",
            fields.join(","),
            u8::from(u.is_none()),
            u8::from(i.is_none())
        );
    }
    match output {
        Some(o) => {
            write_atomic(o, out.as_bytes())?;
            eprintln!(
                "scored {} rows into {} ({cold_u} cold users, {cold_i} cold items)",
                df.height(),
                o.display()
            );
        }
        None => print!("{out}"),
    }
    Ok(())
}
