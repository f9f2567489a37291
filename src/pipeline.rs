//! The `train` job: load → filter → split → encode → fit every enabled model → evaluate each
//! through the same path → write the run directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{RunConfig, ThresholdRuleName};
use crate::data::{self, Interactions, LoadReport, side::SideTable};
use crate::dataset::{self, Dataset};
use crate::error::{Error, Result};
use crate::eval::{self, EvalSettings, ModelMetrics};
use crate::export::ExportContext;
use crate::fitted::{TrainOptions, checkpoint_dir};
use crate::metrics::ThresholdRule;
use crate::report::timings::{Lap, peak_rss_bytes};
use crate::report::{self, DataSummary, RunMetrics, Stages, Timings};
use crate::rundir::{RunDir, write_atomic};
use crate::split::{self, Split, SplitRule};

/// Loaded, filtered and split data, ready for models.
pub struct Prepared {
    pub x: Interactions,
    pub split: Split,
    pub ds: Dataset,
    pub summary: DataSummary,
    pub user_table: Option<SideTable>,
    pub item_table: Option<SideTable>,
    /// Seconds of the stages so far (load, filter, split, encode, features).
    pub stages: Stages,
}

/// The split rule of a config.
pub fn split_rule(cfg: &RunConfig) -> SplitRule {
    SplitRule {
        method: cfg.raw.split.method,
        days: cfg.raw.split.days,
        test_fraction: cfg.raw.split.test_fraction,
        seed: cfg.raw.seed,
        drop_seen: !cfg.is_ctr(),
        keep_unknown: cfg.is_ctr() && cfg.raw.split.method == crate::config::SplitMethod::Files,
    }
}

/// Dataset statistics of loaded interactions.
pub fn summarize(x: &Interactions, load: LoadReport) -> DataSummary {
    let count = |codes: &[u32], n: usize| {
        let mut seen = vec![false; n];
        codes.iter().for_each(|&c| seen[c as usize] = true);
        seen.iter().filter(|&&s| s).count()
    };
    let users = count(&x.user, x.users.len());
    let items = count(&x.item, x.items.len());
    let mut pairs: Vec<u64> = x
        .user
        .iter()
        .zip(&x.item)
        .map(|(&u, &i)| (u64::from(u) << 32) | u64::from(i))
        .collect();
    {
        use rayon::slice::ParallelSliceMut;
        pairs.par_sort_unstable();
    }
    pairs.dedup();
    let pairs = pairs.len();
    let cells = users as f64 * items as f64;
    DataSummary {
        load,
        users,
        items,
        interactions: x.len(),
        sparsity: if cells > 0.0 {
            100.0 * (1.0 - pairs as f64 / cells)
        } else {
            100.0
        },
        click_rate: x
            .label
            .as_ref()
            .map(|l| l.iter().filter(|&&c| c).count() as f64 / l.len().max(1) as f64),
    }
}

/// Load, filter, split and encode the configured data; `x` and `split` keep every row.
pub fn prepare(cfg: &RunConfig) -> Result<Prepared> {
    prepare_with(cfg, true)
}

/// [`prepare`] for training: the log's per-row columns and the split's row lists are freed once
/// the dataset holds them (`x` keeps its id maps and source, `split` its counts).
pub fn prepare_lean(cfg: &RunConfig) -> Result<Prepared> {
    prepare_with(cfg, false)
}

fn prepare_with(cfg: &RunConfig, keep_log: bool) -> Result<Prepared> {
    let mut lap = Lap::start();
    let mut stages = Stages::default();
    let (mut x, load) = data::load(cfg)?;
    let (user_table, item_table) = data::side::load_all(cfg, &x)?;
    stages.filter = load.filter_seconds;
    let summary = summarize(&x, load);
    stages.load = lap.lap() - stages.filter;
    let rows: Vec<usize> = (0..x.len()).collect();
    let split = split::split(&x, rows, &split_rule(cfg));
    stages.split = lap.lap();
    // Consumes the raw feature columns of `x` (scaled into the dataset).
    let (ds, features) = dataset::build(
        &mut x,
        &split,
        user_table.as_ref(),
        item_table.as_ref(),
        !keep_log,
    )?;
    let mut split = split;
    if !keep_log {
        split.train = Vec::new();
        split.test = Vec::new();
    }
    stages.features = features;
    stages.encode = lap.lap() - features;
    Ok(Prepared {
        x,
        split,
        ds,
        summary,
        user_table,
        item_table,
        stages,
    })
}

/// Evaluation settings of a config.
pub fn eval_settings(cfg: &RunConfig) -> EvalSettings {
    let e = &cfg.raw.eval;
    EvalSettings {
        ks: e.k.clone(),
        rule: match e.threshold_rule {
            ThresholdRuleName::Weighted => ThresholdRule::WeightedCutoff(e.cutoff_weight),
            ThresholdRuleName::Youden => ThresholdRule::Youden,
        },
        ranking: cfg.ranking(),
        sampled_negatives: e.sampled_negatives,
        seed: cfg.raw.seed,
        candidates: None,
    }
}

/// [`eval_settings`] with what needs the data: the fixed candidate lists of `[eval] candidates`,
/// read and checked against the test part (errors name the file and line).
pub fn eval_settings_for(cfg: &RunConfig, ds: &Dataset) -> Result<EvalSettings> {
    let mut s = eval_settings(cfg);
    if let Some(path) = &cfg.raw.eval.candidates {
        let c = eval::candidates::Candidates::load(&cfg.resolve(path), ds)?;
        s.candidates = Some(std::sync::Arc::new(c));
    }
    Ok(s)
}

/// The whole `clickrec train` job. Returns the run directory and its metrics.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<(PathBuf, RunMetrics)> {
    let run = RunDir::create(&cfg.output_dir, opts.force)?;
    report_stale_checkpoint(cfg, opts.resume);
    let mut p = prepare_lean(cfg)?;
    if p.ds.test.is_empty() {
        return Err(eval::EvalError::EmptyTest {
            hint: "with last_day every user was active on a single day; try split.method = \"global_days\" or \"random\"",
        }
        .into());
    }
    // Before fitting, so a bad candidate file fails fast.
    let settings = eval_settings_for(cfg, &p.ds)?;
    let mut lap = Lap::start();
    let fitted = crate::models::fit_models(cfg, &mut p.ds, opts)?;
    lap.lap(); // fit stages are timed per model in `Fitted::wall_seconds`
    let dir = run.path().to_path_buf();
    std::fs::create_dir_all(dir.join("predictions"))
        .map_err(|e| Error::Export(format!("{}: {e}", dir.display())))?;
    for sub in ["plots", "per_user"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error::Export(format!("{}: {e}", dir.display())))?;
    }

    let mut models = BTreeMap::new();
    let mut training = BTreeMap::new();
    let mut timings = BTreeMap::new();
    let mut stages = std::mem::take(&mut p.stages);
    for f in &fitted {
        let name = f.model.name().to_string();
        stages.fit.insert(name.clone(), f.wall_seconds);
        let (mut m, preds) = eval::evaluate(f.model.as_ref(), &p.ds, &settings)?;
        m.validation = f.validation;
        m.notes.extend(f.notes.iter().cloned());
        stages.evaluate += lap.lap();
        report::write_predictions(&dir.join("predictions"), &name, &p.ds, &preds.scores)?;
        if let Some(lists) = &preds.ranked {
            report::write_ranked_predictions(&dir.join("predictions"), &name, &p.ds, lists)?;
        }
        report::write_per_user(&dir.join("per_user"), &name, &p.ds, &m.per_user)?;
        stages.write += lap.lap();
        if let Some(export) = &f.export {
            export(
                &dir,
                &ExportContext {
                    cfg,
                    ds: &p.ds,
                    threshold: m.threshold,
                },
            )?;
            stages.export += lap.lap();
        }
        models.insert(name.clone(), m);
        timings.insert(name.clone(), f.timing.clone());
        if let Some(c) = &f.curve {
            training.insert(name, c.clone());
        }
    }
    // The reference row beside the models: evaluated and written like one, not exported.
    if let Some((model, timing)) =
        crate::reference::recent_popularity(cfg, &p.ds, opts.recent_half_life)
    {
        let name = model.name().to_string();
        stages.fit.insert(name.clone(), timing.fit_seconds);
        let (mut m, preds) = eval::evaluate(model.as_ref(), &p.ds, &settings)?;
        m.notes
            .push(crate::reference::recent_note(opts.recent_half_life));
        stages.evaluate += lap.lap();
        let out = dir.join("predictions");
        report::write_predictions(&out, &name, &p.ds, &preds.scores)?;
        if let Some(lists) = &preds.ranked {
            report::write_ranked_predictions(&out, &name, &p.ds, lists)?;
        }
        report::write_per_user(&dir.join("per_user"), &name, &p.ds, &m.per_user)?;
        stages.write += lap.lap();
        models.insert(name.clone(), m);
        timings.insert(name, timing);
    }
    let oracle = oracle_metrics(cfg, &p.ds, &settings)?;
    stages.evaluate += lap.lap();
    let mut metrics = RunMetrics {
        name: cfg.raw.name.clone(),
        clickrec_version: env!("CARGO_PKG_VERSION"),
        seed: cfg.raw.seed,
        mode: if cfg.is_ctr() { "ctr" } else { "implicit" },
        k: settings.k(),
        ks: settings.ks.clone(),
        ranking: format!("{:?}", settings.ranking).to_lowercase(),
        cutoff_weight: cfg.raw.eval.cutoff_weight,
        data: p.summary.clone(),
        split: p.split.stats.clone(),
        models,
        oracle,
        training,
        timings: Timings {
            models: timings,
            stages,
            peak_rss_bytes: 0,
        },
    };
    // The write stage ends with metrics.json itself, so it is timed up to that file.
    metrics.timings.stages.write += lap.lap();
    metrics.timings.peak_rss_bytes = peak_rss_bytes();
    write_run_files(&dir, cfg, &metrics)?;
    let published = run.commit()?;
    let _ = std::fs::remove_dir_all(checkpoint_dir(cfg));
    metrics.timings.stages.write += lap.lap();
    Ok((published, metrics))
}

/// A checkpoint left by an interrupted run, met by a run without `--resume`: removed (the run
/// starts over and would replace it anyway), and said so.
fn report_stale_checkpoint(cfg: &RunConfig, resume: bool) {
    let ck = checkpoint_dir(cfg);
    if resume || !ck.is_dir() {
        return;
    }
    match std::fs::remove_dir_all(&ck) {
        Ok(()) => eprintln!(
            "note: removed the checkpoint of an interrupted run in {}: without --resume the run starts over (pass --resume to continue a killed run instead)",
            ck.display()
        ),
        Err(e) => eprintln!(
            "note: a checkpoint of an interrupted run is in {} and could not be removed ({e}); without --resume it is not used",
            ck.display()
        ),
    }
}

/// With `[data.synthetic]`: the generator's own truth evaluated like a model (the achievable
/// ceiling); `None` for file data or when `[data]` names other id columns than the generator's.
fn oracle_metrics(
    cfg: &RunConfig,
    ds: &Dataset,
    settings: &EvalSettings,
) -> Result<Option<ModelMetrics>> {
    let Some(spec) = data::synth_spec(cfg) else {
        return Ok(None);
    };
    let (user, item) = crate::synth::SynthOracle::id_columns(spec.kind);
    if cfg.raw.data.user != user || cfg.raw.data.item != item {
        return Ok(None);
    }
    let truth = crate::synth::SynthOracle::new(&spec)
        .map_err(|e| data::DataError::Synthetic(e.to_string()))?;
    let Some(model) = crate::model::oracle::Oracle::new(truth, ds) else {
        return Ok(None);
    };
    Ok(Some(eval::evaluate(&model, ds, settings)?.0))
}

fn write_run_files(dir: &std::path::Path, cfg: &RunConfig, m: &RunMetrics) -> Result<()> {
    let json = serde_json::to_string_pretty(m).map_err(|e| Error::Export(e.to_string()))?;
    write_atomic(&dir.join("metrics.json"), json.as_bytes())?;
    write_atomic(&dir.join("report.md"), report::markdown(m).as_bytes())?;
    write_atomic(&dir.join("config.toml"), cfg.to_toml().as_bytes())?;
    let plots = dir.join("plots");
    let plot_err = |e: String| Error::Export(format!("plot: {e}"));
    if m.models.values().any(|x| x.roc.is_some()) {
        report::plots::roc(&plots.join("roc.svg"), &m.models).map_err(plot_err)?;
    }
    if !m.training.is_empty() {
        report::plots::loss(&plots.join("loss.svg"), &m.training).map_err(plot_err)?;
    }
    report::plots::hit_rate(&plots.join("hit_rate.svg"), &m.models, m.k).map_err(plot_err)?;
    if m.models.values().any(|x| x.group_hit_rate.is_some()) {
        report::plots::group_hit_rate(&plots.join("group_hit_rate.svg"), &m.models)
            .map_err(plot_err)?;
    }
    Ok(())
}
