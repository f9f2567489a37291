//! Finished trials: their validation metrics, the state file `--resume` continues from
//! (rewritten atomically after every trial), and `tuning.csv`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::eval::ModelMetrics;
use crate::report::csv_field;
use crate::rundir::write_atomic;

/// One finished trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Position in the trial list (0-based).
    pub trial: usize,
    pub model: String,
    /// Searched key → value as TOML text (`128`, `10.0`, `[32, 16]`).
    pub params: BTreeMap<String, String>,
    /// Validation metrics of the trial's model, flattened (`ndcg_at_k`, `sampled.hr`, …);
    /// `None` where the metric is undefined. Kept as exact text in the state file (see
    /// `exact`), so a resumed run compares the same numbers as an uninterrupted one.
    #[serde(with = "exact")]
    pub metrics: BTreeMap<String, Option<f64>>,
    pub fit_seconds: f64,
}

/// Floats in the state file as their shortest round-trip text (`0.9815950920245399`), parsed
/// back by Rust's exact parser: serde_json's default float parser may miss the last bit, which
/// could flip a near-tie between trials after `--resume`.
mod exact {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Option<f64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<&String, Option<String>> = m
            .iter()
            .map(|(k, v)| (k, v.map(|x| format!("{x:?}"))))
            .collect();
        text.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Option<f64>>, D::Error> {
        let text = BTreeMap::<String, Option<String>>::deserialize(d)?;
        text.into_iter()
            .map(|(k, v)| {
                let x = v
                    .map(|t| t.parse::<f64>())
                    .transpose()
                    .map_err(|e| serde::de::Error::custom(format!("metric {k}: {e}")))?;
                Ok((k, x))
            })
            .collect()
    }
}

/// The state file: which config and trial list the records belong to, and the records.
#[derive(Debug, Serialize, Deserialize)]
pub struct State {
    pub fingerprint: String,
    pub trials: Vec<TrialRecord>,
}

/// Nested metrics not worth a column (per-class reports, confusion counts, per-group rates).
const SKIP: [&str; 3] = ["classification", "confusion", "group_hit_rate"];

/// The numeric metrics of one model, flattened with dotted keys.
pub fn flatten(m: &ModelMetrics) -> BTreeMap<String, Option<f64>> {
    let mut out = BTreeMap::new();
    if let Ok(v) = serde_json::to_value(m) {
        walk("", &v, &mut out);
    }
    out
}

fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, Option<f64>>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if prefix.is_empty() && SKIP.contains(&k.as_str()) {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&key, v, out);
            }
        }
        serde_json::Value::Number(n) => {
            out.insert(prefix.to_string(), n.as_f64());
        }
        serde_json::Value::Null if !prefix.is_empty() => {
            out.insert(prefix.to_string(), None);
        }
        _ => {}
    }
}

/// The metric keys an empty [`ModelMetrics`] already has at the top level (the names
/// `tune.metric` may start with).
pub fn metric_roots() -> Vec<String> {
    match serde_json::to_value(ModelMetrics::default()) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(k, v)| !SKIP.contains(&k.as_str()) && !v.is_string() && !v.is_array())
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a smaller value of `metric` is better.
pub fn minimised(metric: &str) -> bool {
    metric == "logloss"
}

/// Read the state file; `None` when absent, unreadable or for another fingerprint.
pub fn load(path: &Path, fingerprint: &str) -> Option<Vec<TrialRecord>> {
    let text = std::fs::read_to_string(path).ok()?;
    let s: State = serde_json::from_str(&text).ok()?;
    (s.fingerprint == fingerprint).then_some(s.trials)
}

/// Rewrite the state file atomically.
pub fn save(path: &Path, fingerprint: &str, trials: &[TrialRecord]) -> Result<()> {
    let s = State {
        fingerprint: fingerprint.to_string(),
        trials: trials.to_vec(),
    };
    let json = serde_json::to_string_pretty(&s).map_err(|e| Error::Export(e.to_string()))?;
    write_atomic(path, json.as_bytes())?;
    Ok(())
}

/// `tuning.csv`: one row per trial in trial order; columns `trial`, `model`, every searched key,
/// every validation metric defined for some trial (sorted), `fit_seconds`.
pub fn csv(trials: &[TrialRecord], keys: &[String]) -> String {
    let metrics: BTreeSet<&String> = trials
        .iter()
        .flat_map(|t| {
            t.metrics
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| k)
        })
        .collect();
    let mut s = String::new();
    let header: Vec<String> = ["trial".to_string(), "model".into()]
        .into_iter()
        .chain(keys.iter().cloned())
        .chain(metrics.iter().map(|m| m.to_string()))
        .chain(["fit_seconds".to_string()])
        .map(|h| csv_field(&h))
        .collect();
    let _ = writeln!(s, "{}", header.join(","));
    for t in trials {
        let mut row = vec![t.trial.to_string(), csv_field(&t.model)];
        row.extend(
            keys.iter()
                .map(|k| t.params.get(k).map(|v| csv_field(v)).unwrap_or_default()),
        );
        row.extend(metrics.iter().map(|m| {
            t.metrics
                .get(*m)
                .copied()
                .flatten()
                .map(|v| v.to_string())
                .unwrap_or_default()
        }));
        row.push(format!("{:.3}", t.fit_seconds));
        let _ = writeln!(s, "{}", row.join(","));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(trial: usize, ndcg: f64) -> TrialRecord {
        TrialRecord {
            trial,
            model: "als".into(),
            params: BTreeMap::from([("als.hidden".into(), "[32, 16]".into())]),
            metrics: BTreeMap::from([("ndcg_at_k".into(), Some(ndcg)), ("auc".into(), None)]),
            fit_seconds: 0.25,
        }
    }

    #[test]
    fn csv_has_one_row_per_trial_with_quoted_lists() {
        let s = csv(&[rec(0, 0.5), rec(1, 0.25)], &["als.hidden".into()]);
        assert_eq!(
            s,
            "trial,model,als.hidden,ndcg_at_k,fit_seconds\n0,als,\"[32, 16]\",0.5,0.250\n1,als,\"[32, 16]\",0.25,0.250\n"
        );
    }

    #[test]
    fn flatten_keeps_nested_numbers_and_skips_reports() {
        let m = ModelMetrics {
            hr_at_k: 0.5,
            auc: Some(0.75),
            ..Default::default()
        };
        let f = flatten(&m);
        assert_eq!(f["hr_at_k"], Some(0.5));
        assert_eq!(f["auc"], Some(0.75));
        assert_eq!(f["logloss"], None);
        assert!(!f.contains_key("confusion") && !f.contains_key("ranking"));
        assert!(metric_roots().contains(&"ndcg_at_k".to_string()));
    }

    #[test]
    fn state_round_trips_and_rejects_other_fingerprints() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("trials.json");
        save(&p, "fp", &[rec(0, 0.5)]).expect("save");
        assert_eq!(load(&p, "fp"), Some(vec![rec(0, 0.5)]));
        assert_eq!(load(&p, "other"), None);
        assert_eq!(load(&dir.path().join("missing"), "fp"), None);
    }

    #[test]
    fn state_keeps_every_bit_of_the_metrics() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("trials.json");
        // Values whose last bit serde_json's default (non-round-trip) float parser can lose.
        let values = [
            0.9815950920245399,
            0.1 + 0.2,
            1.0 / 3.0,
            f64::from_bits(1),
            123456.78901234567,
            f64::INFINITY,
        ];
        let recs: Vec<TrialRecord> = values.iter().enumerate().map(|(i, &v)| rec(i, v)).collect();
        save(&p, "fp", &recs).expect("save");
        let back = load(&p, "fp").expect("load");
        for (a, b) in recs.iter().zip(&back) {
            let (x, y) = (a.metrics["ndcg_at_k"], b.metrics["ndcg_at_k"]);
            assert_eq!(x.map(f64::to_bits), y.map(f64::to_bits), "{x:?} vs {y:?}");
        }
    }
}
