//! `recommend --history FILE`: users described by their interactions rather than by a model
//! row — new users, or known users whose history changed.
//!
//! The file has the training config's columns (the user and item columns, else `user` and
//! `item`; the weight, event and label columns when the config had them): each row adds the
//! same strength as in training — the event weight × the weight column, or 1 per clicked
//! impression for CTR logs — and with `dedupe` an exact repeat of a (user, item, event) row
//! counts once. Items the model does not know are reported and skipped.
//!
//! - **ALS**: the user's factors are solved exactly from the exported item factors with the
//!   model's confidence rule, alpha and regularization (one Cholesky solve of the user's normal
//!   equations, as a user half-step of the fit) — `implicit`'s `recalculate_user`, but exact.
//! - **NCF**: embeddings cannot be solved from a history. A user the model knows keeps its
//!   trained embedding and side features; any other user gets the cold-start row (the mean
//!   trained embedding and mean side features), as `clickrec score` does.
//! - **Popularity**: the same ranking for everyone.
//!
//! An ALS model fit with `als.half_life_days` weights each history row by its recency factor
//! against the model's reference time (the newest train interaction), as training did, when the
//! file has the timestamp column; without it every row counts as recent (factor 1).
//!
//! In every case the history's items are what the user must not get (unless `--include-seen`).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::queries::Queries;
use super::served::Served;
use crate::als::Csr;
use crate::data::{Columns, TableSpec, read_table};
use crate::error::{Error, Result};
use crate::export::InputColumns;

/// Histories read from a file: per user (in order of first appearance), item rows and
/// strengths (summed later per item).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histories {
    pub users: Vec<String>,
    pub ptr: Vec<usize>,
    pub items: Vec<u32>,
    pub strengths: Vec<f32>,
}

/// The column `preferred` if the file has it, else `fallback` if it has that.
fn pick(names: &[String], preferred: &str, fallback: &str) -> Option<String> {
    [preferred, fallback]
        .into_iter()
        .find(|c| names.iter().any(|n| n == c))
        .map(str::to_string)
}

/// Read a history file the way training read the log (see the module doc).
pub fn read_histories(path: &Path, cols: &InputColumns, model: &Served) -> Result<Histories> {
    let df = read_table(&TableSpec::with_header(path))?;
    let c = Columns { df: &df, path };
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let missing = |what: &str, want: &str| {
        Error::Usage(format!(
            "{}: no {what} column (`{want}` as in the training config, or `{what}`); the file has {}",
            path.display(),
            names.join(", ")
        ))
    };
    let user_col = pick(&names, &cols.user, "user").ok_or_else(|| missing("user", &cols.user))?;
    let item_col = pick(&names, &cols.item, "item").ok_or_else(|| missing("item", &cols.item))?;
    let users = c.strings(&user_col, "the history's user column")?;
    let items = c.strings(&item_col, "the history's item column")?;
    let n = users.len();
    let mut strength = vec![1.0f32; n];
    let weight_col = cols
        .weight
        .as_deref()
        .and_then(|w| pick(&names, w, "weight"))
        .or_else(|| pick(&names, "weight", "weight"));
    if let Some(w) = &weight_col {
        let v = c.f64s(w, "the history's weight column")?;
        c.reject(w, &v, |x: f64| x < 0.0, |x| format!("negative weight {x}"))?;
        strength = v.iter().map(|&x| x as f32).collect();
    }
    let events = match cols
        .event
        .as_deref()
        .filter(|e| names.iter().any(|n| n == e))
    {
        Some(e) => Some((e, c.strings(e, "the history's event column")?)),
        None => None,
    };
    if let Some((e, ev)) = &events {
        for (row, name) in ev.iter().enumerate() {
            let w = cols.event_weights.get(name).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: column `{e}` row {}: event type {name:?} has no weight in the model's event_weights (known: {})",
                    path.display(),
                    row + 1,
                    cols.event_weights.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            strength[row] *= *w as f32;
        }
    }
    if let Some(l) = cols
        .label
        .as_deref()
        .filter(|l| names.iter().any(|n| n == l))
    {
        // CTR logs: every clicked impression counts 1, non-clicks are not interactions.
        let labels = c.labels(l, "the history's label column")?;
        for (s, clicked) in strength.iter_mut().zip(labels) {
            *s = if clicked { 1.0 } else { 0.0 };
        }
    }
    let decay = match model {
        Served::Als(m) => m.json.decay,
        _ => None,
    };
    if let (Some(d), Some(ts_col)) = (decay, cols.timestamp.as_deref())
        && names.iter().any(|n| n == ts_col)
    {
        let ts = c.timestamps(
            ts_col,
            "the history's timestamp column",
            cols.timestamp_unit,
        )?;
        for (s, t) in strength.iter_mut().zip(ts) {
            *s *= d.factor(t);
        }
    }
    let model_items = &model.ids().items;
    let mut seen_rows = HashSet::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut per_user: Vec<Vec<(u32, f32)>> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let (mut unknown, mut first_unknown) = (0usize, None);
    for row in 0..n {
        let u = *index.entry(users[row].as_str()).or_insert_with(|| {
            order.push(users[row].clone());
            per_user.push(Vec::new());
            order.len() - 1
        });
        let Some(i) = model_items.find(&items[row]) else {
            unknown += 1;
            first_unknown.get_or_insert(items[row].clone());
            continue;
        };
        let event = events.as_ref().map_or("", |(_, e)| e[row].as_str());
        if cols.dedupe && !seen_rows.insert((u, i, event)) {
            continue;
        }
        if strength[row] > 0.0 {
            per_user[u].push((i, strength[row]));
        }
    }
    if unknown > 0 {
        eprintln!(
            "note: --history {}: {unknown} rows name items the model does not know and were skipped (first: {:?})",
            path.display(),
            first_unknown.unwrap_or_default()
        );
    }
    let mut h = Histories {
        users: order,
        ptr: vec![0],
        ..Default::default()
    };
    for list in per_user {
        for (i, s) in list {
            h.items.push(i);
            h.strengths.push(s);
        }
        h.ptr.push(h.items.len());
    }
    Ok(h)
}

/// The queries of the histories for `model` (see the module doc).
pub fn queries(h: &Histories, model: &Served, include_seen: bool) -> Result<Queries> {
    let ids = model.ids();
    let mut q = Queries {
        labels: h.users.clone(),
        rows: h.users.iter().map(|u| ids.users.find(u)).collect(),
        ex_ptr: vec![0],
        ..Default::default()
    };
    for w in h.ptr.windows(2) {
        if !include_seen {
            let mut ex = h.items[w[0]..w[1]].to_vec();
            ex.sort_unstable();
            ex.dedup();
            q.ex_items.extend(ex);
        }
        q.ex_ptr.push(q.ex_items.len());
    }
    if let Served::Als(m) = model {
        let rows: Vec<u32> = (0..h.users.len())
            .flat_map(|u| std::iter::repeat_n(u as u32, h.ptr[u + 1] - h.ptr[u]))
            .collect();
        let csr = Csr::from_triplets(
            h.users.len(),
            m.model.n_items,
            &rows,
            &h.items,
            &h.strengths,
        )
        .map_err(|e| Error::Usage(format!("history: {e}")))?;
        let params = m.params()?;
        q.vectors = Some(
            m.model
                .recalculate_users(&csr, &params)
                .map_err(|e| Error::Usage(format!("fold-in: {e}")))?,
        );
    }
    Ok(q)
}

/// `--factors-out FILE`: the folded-in ALS factors as safetensors (`user_factors`,
/// `[n, f]`, users in the order of the history file; the metadata `users` is their raw ids as
/// a JSON list).
pub fn write_factors(path: &Path, q: &Queries, model: &Served) -> Result<()> {
    let (Served::Als(m), Some(v)) = (model, q.vectors.as_deref()) else {
        return Err(Error::Usage(
            "--factors-out: only ALS folds histories into factors".into(),
        ));
    };
    let users = serde_json::to_string(&q.labels).map_err(|e| Error::Export(e.to_string()))?;
    crate::export::write_safetensors(
        path,
        &[crate::export::Tensor {
            name: "user_factors",
            shape: vec![q.len(), m.model.factors],
            data: v,
        }],
        HashMap::from([("users".to_string(), users)]),
    )
}
