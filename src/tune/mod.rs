//! `clickrec tune`: choose model settings on a validation part carved from the train part,
//! then retrain the winner on the whole train part and evaluate it on test once, through the
//! normal `train` path.
//!
//! [`space`] parses and checks `[tune.space]` and enumerates the trials, [`carve`] builds the
//! trials' data (the test part is split off first and never encoded), [`record`] keeps the
//! finished trials (the `--resume` state, rewritten atomically after each trial) and writes
//! `tuning.csv`, [`output`] assembles the run directory.

pub mod carve;
mod output;
pub mod record;
pub mod space;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::{self, ConfigError, RunConfig, TuneModels};
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
}

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
    let root = t.metric.split('.').next().unwrap_or_default();
    let roots = record::metric_roots();
    if !roots.iter().any(|r| r == root) {
        return Err(tune_err(format!(
            "tune.metric = {:?} is not a key of models.<name> in metrics.json; one of {}",
            t.metric,
            roots.join(", ")
        ))
        .into());
    }
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
    let tuning = Tuning {
        method: format!("{:?}", t.method).to_lowercase(),
        trials: done.len(),
        model: t.model.clone(),
        metric: t.metric.clone(),
        best,
        per_model,
        validation: info,
    };
    drop(ds0);
    let keys: Vec<String> = dims.iter().map(|d| d.key.clone()).collect();
    let (dir, metrics) = output::finish(&cfg, &base, path, &state, &done, &keys, &tuning, opts)?;
    let _ = std::fs::remove_dir_all(&state);
    Ok(TuneOutcome {
        dir,
        metrics,
        tuning,
    })
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
