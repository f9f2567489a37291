//! `clickrec metrics`: the metric report of a predictions file, through the same code as a
//! model's evaluation in `clickrec train`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::data::{Columns, TableSpec, read_table};
use crate::error::{Error, Result};
use crate::metrics::ThresholdRule;

/// `clickrec metrics PREDICTIONS.csv`: a plain predictions file (`user,item,label,score`) or a
/// run's ranked lists (a `rank` column).
pub fn metrics_cmd(path: &Path, ks: &[usize], w: f64, youden: bool, json: bool) -> Result<()> {
    if ks.is_empty() || ks.contains(&0) {
        return Err(Error::Usage("--k must be at least 1".into()));
    }
    if (1..ks.len()).any(|i| ks[..i].contains(&ks[i])) {
        return Err(Error::Usage(format!("--k {ks:?}: lists a cut-off twice")));
    }
    let k = ks[0];
    if !(0.0..=1.0).contains(&w) {
        return Err(Error::Usage(format!(
            "--cutoff-weight {w}: must be in [0, 1]"
        )));
    }
    let df = read_table(&TableSpec::with_header(path))?;
    let cols = Columns { df: &df, path };
    let users_raw = cols.strings("user", "user")?;
    cols.get("item", "item")?;
    let labels = cols.labels("label", "label")?;
    let scores = cols.f64s("score", "score")?;
    let ranked = df.column("rank").is_ok();
    if !ranked && !labels.contains(&false) {
        return Err(Error::Usage(format!(
            "{}: every row is a click (label 1): no user has a non-click to rank against, so HR/NDCG/precision would be 1 by construction and AUC is undefined. For an implicit run, score its ranked lists instead: `clickrec metrics predictions/<model>.ranked.csv`",
            path.display()
        )));
    }
    let mut index: HashMap<&str, u32> = HashMap::new();
    let users: Vec<u32> = users_raw
        .iter()
        .map(|u| {
            let n = index.len() as u32;
            *index.entry(u.as_str()).or_insert(n)
        })
        .collect();
    if ranked {
        let m = ranked_metrics(&cols, &users, &labels, ks)?;
        return print_metrics(&m, labels.len(), k, json);
    }
    let rule = if youden {
        ThresholdRule::Youden
    } else {
        ThresholdRule::WeightedCutoff(w)
    };
    let probabilistic = scores.iter().all(|s| (0.0..=1.0).contains(s));
    // The same code as a model's evaluation in `clickrec train`.
    let mut m = crate::eval::ModelMetrics::default();
    crate::eval::classify(probabilistic, &labels, &scores, rule, &mut m)?;
    if !probabilistic {
        m.notes
            .push("log loss skipped: scores are not probabilities in [0, 1]".into());
    }
    crate::eval::group_auc(&users, &labels, &scores, &mut m)?;
    crate::eval::rank_impressions(&users, &labels, &scores, ks, &mut m)?;
    print_metrics(&m, labels.len(), k, json)
}

/// The top-K metrics of a ranked-list file (`predictions/<model>.ranked.csv`: a `rank` column,
/// 1… for each user's top list, empty for the user's positives beyond it): each user's rows
/// ordered by rank, exactly as the run's full ranking ordered them. Every K must be within the
/// lists' length; AUC and the threshold are not defined on a top list.
fn ranked_metrics(
    cols: &Columns,
    users: &[u32],
    labels: &[bool],
    ks: &[usize],
) -> Result<crate::eval::ModelMetrics> {
    let bad = |row: usize, what: String| {
        Error::Usage(format!(
            "{}: column `rank` row {}: {what} is not a rank (1, 2, … or empty beyond the list)",
            cols.path.display(),
            row + 1
        ))
    };
    let column = cols
        .get("rank", "rank")?
        .strict_cast(&polars::prelude::DataType::Int64)
        .map_err(|e| bad(0, format!("a value ({e})")))?;
    let values = column.i64().map_err(|e| bad(0, format!("a value ({e})")))?;
    let mut ranks: Vec<Option<u32>> = Vec::with_capacity(values.len());
    for (row, v) in values.iter().enumerate() {
        ranks.push(match v {
            None => None,
            Some(r) => Some(
                u32::try_from(r)
                    .ok()
                    .filter(|&r| r >= 1)
                    .ok_or_else(|| bad(row, r.to_string()))?,
            ),
        });
    }
    let depth = ranks.iter().flatten().copied().max().unwrap_or(0);
    if let Some(&k) = ks.iter().find(|&&k| k > depth as usize) {
        return Err(Error::Usage(format!(
            "{}: the ranked lists hold each user's top {depth}; --k {k} needs longer lists (raise [eval] k and train again)",
            cols.path.display()
        )));
    }
    // Rank order as scores: every listed row above the positives beyond the list.
    let order: Vec<f64> = ranks
        .iter()
        .map(|r| -f64::from(r.unwrap_or(depth + 1)))
        .collect();
    let mut m = crate::eval::ModelMetrics::default();
    crate::eval::rank_impressions(users, labels, &order, ks, &mut m)?;
    m.ranking = "full".into();
    m.base_rate = None;
    m.users_with_at_most_k_rows = None;
    m.notes.push(format!(
        "ranked lists (top {depth} per user): the top-K figures of the full ranking; AUC, GAUC, log loss and the threshold are not defined on a top list"
    ));
    Ok(m)
}

fn print_metrics(m: &crate::eval::ModelMetrics, rows: usize, k: usize, json: bool) -> Result<()> {
    let labels_len = rows;
    if json {
        let mut v = serde_json::to_value(m).map_err(|e| Error::Export(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("rows".into(), labels_len.into());
            o.insert("k".into(), k.into());
        }
        println!("{v}");
    } else {
        print!("{}", metrics_text(m, labels_len, k));
    }
    Ok(())
}

fn metrics_text(m: &crate::eval::ModelMetrics, rows: usize, k: usize) -> String {
    let f = |v: Option<f64>| {
        v.map(|x| format!("{x:.6}"))
            .unwrap_or_else(|| "undefined".into())
    };
    let mut o = String::new();
    let _ = writeln!(o, "rows: {rows}");
    let _ = writeln!(
        o,
        "AUC: {}   GAUC: {} ({} users, {} with one class skipped)   log loss: {}",
        f(m.auc),
        f(m.gauc),
        m.gauc_users.unwrap_or(0),
        m.gauc_single_class_users.unwrap_or(0),
        f(m.logloss)
    );
    let _ = writeln!(
        o,
        "threshold: {} (tpr {}, fpr {})",
        f(m.threshold),
        f(m.tpr),
        f(m.fpr)
    );
    if let (Some(c), Some(conf)) = (&m.classification, &m.confusion) {
        let _ = writeln!(o, "class        precision  recall     f1         support");
        for (label, s) in [("0", &c.class_0), ("1", &c.class_1)] {
            let _ = writeln!(
                o,
                "{label:<12} {:<10.4} {:<10.4} {:<10.4} {}",
                s.precision, s.recall, s.f1, s.support
            );
        }
        let _ = writeln!(o, "accuracy: {:.4}", c.accuracy);
        let _ = writeln!(o, "confusion [[tn, fp], [fn, tp]]: {:?}", conf);
    }
    let users = match (m.base_rate, m.users_with_at_most_k_rows) {
        (Some(b), Some(n)) => format!(
            "random order {b:.4}; {} users with a click, {n} with at most {k} rows",
            m.ranked_users
        ),
        _ => format!("{} users with a click", m.ranked_users),
    };
    let _ = writeln!(
        o,
        "HR@{k}: {:.4} ({users})   NDCG@{k}: {:.4}   P@{k}: {:.4}   Recall@{k}: {:.4}   MRR@{k}: {:.4}   MAP@{k}: {:.4}",
        m.hr_at_k, m.ndcg_at_k, m.precision_at_k, m.recall_at_k, m.mrr_at_k, m.map_at_k
    );
    for (&other, a) in m.at_k.iter().filter(|(kk, _)| **kk != k) {
        let _ = writeln!(
            o,
            "@{other}: HR {:.4}   NDCG {:.4}   P {:.4}   Recall {:.4}   MRR {:.4}   MAP {:.4}",
            a.hr, a.ndcg, a.precision, a.recall, a.mrr, a.map
        );
    }
    for n in &m.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}
