//! `clickrec tune`: choose model settings on a validation part carved from the train part,
//! then retrain the winner on the whole train part and evaluate it on test once, through the
//! normal `train` path.
//!
//! [`space`] parses and checks `[tune.space]` and enumerates the trials, [`carve`] builds the
//! trials' data (the test part is split off first and never encoded), [`record`] keeps the
//! finished trials (the `--resume` state, rewritten atomically after each trial) and writes
//! `tuning.csv`, `output` assembles the run directory.

pub mod carve;
mod output;
pub mod record;
pub mod space;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::{self, ConfigError, RankingMode, RunConfig, TuneModels};
use crate::dataset::Dataset;
use crate::error::Result;
use crate::eval;
use crate::fitted::{TrainOptions, checkpoint_dir};
use crate::report::RunMetrics;
use crate::rundir::RunDirError;
use crate::{models, pipeline};
use record::TrialRecord;
use space::Trial;

/// Options of `clickrec tune`.
#[derive(Debug, Clone, Default)]
pub struct TuneOptions {
    /// Replace an existing run directory.
    pub force: bool,
    /// Continue after the trials a killed run finished.
    pub resume: bool,
    pub quiet: bool,
}

/// The best trial of one model (or of all).
#[derive(Debug, Clone, Serialize)]
pub struct Best {
    pub trial: usize,
    pub model: String,
    /// Searched key → value.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The validation value of `tune.metric`.
    pub value: f64,
}

/// `metrics.json.tuning`.
#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    pub method: String,
    /// Number of trials run.
    pub trials: usize,
    pub model: TuneModels,
    pub metric: String,
    /// The winner over all trials, with the best trial of each tuned model in `per_model`.
    pub best: Best,
    pub per_model: BTreeMap<String, Best>,
    pub validation: carve::ValidationInfo,
    /// The half-life of the recent-popularity reference row, chosen on validation by
    /// `tune.metric` among [`RECENT_HALF_LIVES`] (none when the row is not fitted).
    pub recent_half_life_days: Option<f64>,
}

/// The half-lives (days) `tune` tries for the recent-popularity reference row.
pub const RECENT_HALF_LIVES: [f64; 6] = [1.0, 3.0, 7.0, 14.0, 30.0, 90.0];

/// What `clickrec tune` produced.
pub struct TuneOutcome {
    pub dir: PathBuf,
    pub metrics: RunMetrics,
    pub tuning: Tuning,
}

/// Where the trials of a run are kept until it completes: beside the run directory.
pub fn state_dir(cfg: &RunConfig) -> PathBuf {
    let name = cfg
        .output_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    cfg.output_dir.with_file_name(format!(".{name}.tune"))
}

fn tune_err(message: String) -> ConfigError {
    ConfigError::Tune { message }
}

/// The whole `clickrec tune` job.
pub fn run(path: &Path, overrides: &[String], opts: &TuneOptions) -> Result<TuneOutcome> {
    let (tree, base_dir) = config::load_tree(path, overrides)?;
    let cfg = config::from_tree(tree.clone(), path, base_dir)?;
    let t = cfg.raw.tune.clone().ok_or_else(|| {
        tune_err(
            "the config has no [tune] table; add one, e.g. [tune] model = \"als\" and [tune.space] \"als.factors\" = [64, 128]".into(),
        )
    })?;
    let models = t.model.names();
    for m in &models {
        if !space::model_enabled(&cfg, m) {
            return Err(tune_err(format!(
                "tune.model names {m:?}, but [{m}] is not enabled in this config"
            ))
            .into());
        }
    }
    check_metric(&t.metric, &cfg)?;
    let dims = space::parse(&t.space, t.method)?;
    let mut base = tree;
    base.remove("tune");
    space::check(&dims, &models, &cfg, &base, path)?;
    let list = space::trials(
        &dims,
        &models,
        t.method,
        t.trials.unwrap_or(1),
        cfg.raw.seed,
    );

    if cfg.output_dir.exists() && !opts.force {
        return Err(RunDirError::Exists {
            path: cfg.output_dir.clone(),
        }
        .into());
    }
    let state = state_dir(&cfg);
    if !opts.resume {
        let _ = std::fs::remove_dir_all(&state);
    }
    std::fs::create_dir_all(&state).map_err(|source| RunDirError::Io {
        path: state.clone(),
        source,
    })?;
    let mut guard = StateGuard {
        path: &state,
        done: false,
    };
    let state_file = state.join("trials.json");
    let fingerprint = format!(
        "{}|{:?}|{:?}|{}",
        toml::to_string(&base).unwrap_or_default(),
        list,
        t.validation,
        t.validation_fraction
    );
    let mut done = if opts.resume {
        record::load(&state_file, &fingerprint).unwrap_or_default()
    } else {
        Vec::new()
    };

    let (ds0, info) = carve::prepare(&cfg, t.validation, t.validation_fraction)?;
    let bar = crate::progress::bar(list.len() as u64, "tune", opts.quiet);
    bar.set_position(done.len() as u64);
    let lower = record::minimised(&t.metric);
    let show_best = |done: &[TrialRecord]| {
        best_of(done.iter(), &t.metric, lower)
            .map(|(r, v)| format!("best {} {v:.4} ({} trial {})", t.metric, r.model, r.trial))
            .unwrap_or_default()
    };
    bar.set_message(show_best(&done));
    for (i, trial) in list.iter().enumerate() {
        if done.iter().any(|r| r.trial == i) {
            continue;
        }
        let ctx = TrialContext {
            cfg: &cfg,
            base: &base,
            origin: path,
            state: &state,
            ds0: &ds0,
        };
        let rec = run_trial(&ctx, i, trial)?;
        if !matches!(rec.metrics.get(&t.metric), Some(Some(_))) {
            let available: Vec<&String> = rec
                .metrics
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| k)
                .collect();
            return Err(tune_err(format!(
                "tune.metric = {:?} is not defined for {} on this data; defined: {available:?}",
                t.metric, rec.model
            ))
            .into());
        }
        done.push(rec);
        record::save(&state_file, &fingerprint, &done)?;
        bar.inc(1);
        bar.set_message(show_best(&done));
    }
    bar.finish_and_clear();
    done.sort_by_key(|r| r.trial);

    let as_best = |(r, v): (&TrialRecord, f64)| Best {
        trial: r.trial,
        model: r.model.clone(),
        params: r
            .params
            .iter()
            .map(|(k, text)| (k.clone(), toml_text_to_json(text)))
            .collect(),
        value: v,
    };
    let per_model: BTreeMap<String, Best> = models
        .iter()
        .filter_map(|m| {
            best_of(done.iter().filter(|r| &r.model == m), &t.metric, lower)
                .map(|b| (m.clone(), as_best(b)))
        })
        .collect();
    let best = best_of(done.iter(), &t.metric, lower)
        .map(as_best)
        .ok_or_else(|| tune_err("no trial finished".into()))?;
    let recent_half_life_days = if crate::reference::fits_recent_popularity(&cfg, &ds0) {
        choose_recent_half_life(&cfg, &ds0, &t.metric, lower)?
    } else {
        None
    };
    let tuning = Tuning {
        method: format!("{:?}", t.method).to_lowercase(),
        trials: done.len(),
        model: t.model.clone(),
        metric: t.metric.clone(),
        best,
        per_model,
        validation: info,
        recent_half_life_days,
    };
    drop(ds0);
    let keys: Vec<String> = dims.iter().map(|d| d.key.clone()).collect();
    let (dir, metrics) = output::finish(&cfg, &base, path, &state, &done, &keys, &tuning, opts)?;
    guard.done = true;
    drop(guard);
    let _ = std::fs::remove_dir_all(&state);
    Ok(TuneOutcome {
        dir,
        metrics,
        tuning,
    })
}

/// Removes the state folder of a failed run unless it holds finished trials (kept for
/// `--resume`, and said so).
struct StateGuard<'a> {
    path: &'a Path,
    /// Set when the run completed (it removes the folder itself).
    done: bool,
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.path.join("trials.json").is_file() {
            eprintln!(
                "note: the finished trials are kept in {}; `clickrec tune ... --resume` continues after them",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(self.path);
        }
    }
}

/// Every rule on `tune.metric` that needs no data, checked before the first trial: a key of
/// `models.<name>` in metrics.json; `at_k.{K}.{name}` with K a cut-off of `eval.k` and a name of
/// the per-cut-off metrics; `sampled.*` only where the sampled protocol runs; the
/// classification metrics only on click logs.
fn check_metric(metric: &str, cfg: &RunConfig) -> Result<(), ConfigError> {
    let parts: Vec<&str> = metric.split('.').collect();
    let root = parts[0];
    let roots = record::metric_roots();
    if !roots.iter().any(|r| r == root) {
        return Err(tune_err(format!(
            "tune.metric = {metric:?} is not a key of models.<name> in metrics.json; one of {}",
            roots.join(", ")
        )));
    }
    let ks = if cfg.raw.eval.k.is_empty() {
        vec![10]
    } else {
        cfg.raw.eval.k.clone()
    };
    let ks_text = ks
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let ctr = cfg.is_ctr();
    let ranking = cfg.ranking();
    match root {
        "at_k" => {
            let fields: Vec<String> = match serde_json::to_value(eval::AtK::default()) {
                Ok(serde_json::Value::Object(m)) => m.into_iter().map(|(k, _)| k).collect(),
                _ => Vec::new(),
            };
            let k = parts.get(1).and_then(|k| k.parse::<usize>().ok());
            let ok_field = parts.len() == 3 && fields.iter().any(|f| f == parts[2]);
            if !ok_field || k.is_none() {
                return Err(tune_err(format!(
                    "tune.metric = {metric:?}: expected at_k.<K>.<name> with K one of eval.k ({ks_text}) and name one of {}",
                    fields.join(", ")
                )));
            }
            if let Some(k) = k.filter(|k| !ks.contains(k)) {
                return Err(tune_err(format!(
                    "tune.metric = {metric:?}: {k} is not a cut-off of eval.k ({ks_text}); add it to eval.k, e.g. k = [{ks_text}, {k}]"
                )));
            }
        }
        "sampled" => {
            let sampled =
                ranking == RankingMode::Sampled || (!ctr && ranking != RankingMode::Impressions);
            if !sampled {
                return Err(tune_err(format!(
                    "tune.metric = {metric:?}: the sampled protocol does not run with this config (eval.ranking resolves to {ranking:?}); set [eval] ranking = \"sampled\" or tune another metric"
                )));
            }
        }
        "auc" | "gauc" | "logloss" if !ctr => {
            return Err(tune_err(format!(
                "tune.metric = {metric:?} needs a click label (data.label); this implicit log has none: tune a ranking metric such as ndcg_at_k"
            )));
        }
        _ => {}
    }
    Ok(())
}

/// The chosen model against both baselines on test, by the tuning metric: `chosen als on test:
/// ndcg_at_k 0.1432; popularity 0.0241 (+0.1191); recent popularity (30 d) 0.1661 (-0.0229)`
/// (printed by `clickrec tune` and in report.md).
pub fn against_baselines(t: &Tuning, m: &RunMetrics) -> Option<String> {
    let test_value = |name: &str| {
        m.models
            .get(name)
            .and_then(|mm| record::flatten(mm).get(&t.metric).copied().flatten())
    };
    let v = test_value(&t.best.model)?;
    let mut line = format!("chosen {} on test: {} {v:.4}", t.best.model, t.metric);
    let recent = format!(
        "recent popularity ({} d)",
        t.recent_half_life_days
            .unwrap_or(crate::reference::RECENT_HALF_LIFE_DAYS)
    );
    for (base, label) in [
        ("popularity", "popularity"),
        (crate::reference::RECENT_POPULARITY, recent.as_str()),
    ] {
        if let Some(b) = test_value(base).filter(|_| base != t.best.model) {
            line.push_str(&format!("; {label} {b:.4} ({:+.4})", v - b));
        }
    }
    Some(line)
}

/// The half-life of the recent-popularity reference row that scores best on validation by
/// `metric` (the first of equals); `None` when the metric is undefined for popularity.
fn choose_recent_half_life(
    cfg: &RunConfig,
    ds: &Dataset,
    metric: &str,
    lower: bool,
) -> Result<Option<f64>> {
    let settings = pipeline::eval_settings(cfg);
    let mut best: Option<(f64, f64)> = None;
    for h in RECENT_HALF_LIVES {
        let model = crate::model::popularity::Popularity::fit(ds, Some(h));
        let (m, _) = eval::evaluate(&model, ds, &settings)?;
        let Some(Some(v)) = record::flatten(&m).get(metric).copied() else {
            continue;
        };
        let better = best.is_none_or(|(_, b)| if lower { v < b } else { v > b });
        if better {
            best = Some((h, v));
        }
    }
    Ok(best.map(|(h, _)| h))
}

/// The best record by `metric` (the first of equals), with its value.
fn best_of<'a>(
    records: impl Iterator<Item = &'a TrialRecord>,
    metric: &str,
    lower: bool,
) -> Option<(&'a TrialRecord, f64)> {
    let mut best: Option<(&TrialRecord, f64)> = None;
    for r in records {
        let Some(Some(v)) = r.metrics.get(metric).copied() else {
            continue;
        };
        let better = match best {
            None => true,
            Some((_, b)) => {
                if lower {
                    v < b
                } else {
                    v > b
                }
            }
        };
        if better {
            best = Some((r, v));
        }
    }
    best
}

/// A searched value as JSON; a non-finite float (`inf`: no recency decay) becomes its TOML text
/// as a string, since JSON has no infinity (serde would write `null`, which reads back as unset).
fn toml_text_to_json(text: &str) -> serde_json::Value {
    match config::parse_value(text) {
        toml::Value::Float(f) if !f.is_finite() => None,
        v => serde_json::to_value(v).ok(),
    }
    .unwrap_or_else(|| serde_json::Value::String(text.to_string()))
}

/// What every trial shares.
struct TrialContext<'a> {
    cfg: &'a RunConfig,
    base: &'a toml::Table,
    origin: &'a Path,
    state: &'a Path,
    /// The trials' dataset as encoded (NCF takes the row features out of the one it fits on).
    ds0: &'a Dataset,
}

/// Fit the trial's model on train-minus-validation and score it on validation through the
/// normal evaluation path.
fn run_trial(c: &TrialContext, index: usize, trial: &Trial) -> Result<TrialRecord> {
    let mut tree = space::trial_tree(c.base, &trial.model, &trial.params);
    if trial.model == "als" {
        // A trial is redone whole after a kill: no ALS checkpoints inside it.
        let _ = config::set_key(
            &mut tree,
            &["als", "checkpoint_seconds"],
            toml::Value::Float(1e9),
        );
    }
    let mut tcfg = config::from_tree(tree, c.origin, c.cfg.base_dir.clone())?;
    tcfg.output_dir = c.state.join("trial");
    let mut ds = c.ds0.clone();
    let opts = TrainOptions {
        force: false,
        resume: false,
        quiet: true,
        recent_half_life: None,
    };
    let start = Instant::now();
    let fitted = models::fit_models(&tcfg, &mut ds, &opts);
    let _ = std::fs::remove_dir_all(checkpoint_dir(&tcfg));
    let fitted = fitted?;
    let f = fitted
        .iter()
        .find(|f| f.model.name() == trial.model)
        .ok_or_else(|| tune_err(format!("trial {index}: {} was not fitted", trial.model)))?;
    let fit_seconds = if f.timing.fit_seconds > 0.0 {
        f.timing.fit_seconds
    } else {
        start.elapsed().as_secs_f64()
    };
    let (m, _) = eval::evaluate(f.model.as_ref(), &ds, &pipeline::eval_settings(&tcfg))?;
    Ok(TrialRecord {
        trial: index,
        model: trial.model.clone(),
        params: trial
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        metrics: record::flatten(&m),
        fit_seconds,
    })
}
