//! The `train` job: load → filter → split → encode → fit every enabled model → evaluate each
//! through the same path → write the run directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::config::{RunConfig, ThresholdRuleName};
use crate::data::{self, Interactions, LoadReport, side::SideTable};
use crate::dataset::{self, Dataset};
use crate::error::{Error, Result};
use crate::eval::{self, EvalSettings, ModelMetrics};
use crate::metrics::ThresholdRule;
use crate::model::Recommender;
use crate::model::popularity::Popularity;
use crate::report::timings::{Lap, peak_rss_bytes};
use crate::report::{self, Curve, DataSummary, RunMetrics, Stages, Timing, Timings};
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
    let split = split::split(&x, &rows, &split_rule(cfg));
    drop(rows);
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
        k: e.k,
        rule: match e.threshold_rule {
            ThresholdRuleName::Weighted => ThresholdRule::WeightedCutoff(e.cutoff_weight),
            ThresholdRuleName::Youden => ThresholdRule::Youden,
        },
        ranking: cfg.ranking(),
        sampled_negatives: e.sampled_negatives,
        seed: cfg.raw.seed,
    }
}

/// Options of `clickrec train`.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub force: bool,
    pub resume: bool,
    pub quiet: bool,
}

/// A fitted model with what its training reported.
pub struct Fitted {
    /// Shared so the exporter can hold the same model.
    pub model: std::sync::Arc<dyn Recommender>,
    pub timing: Timing,
    pub curve: Option<Curve>,
    /// Wall seconds of the whole fit, data preparation and checkpoints included.
    pub wall_seconds: f64,
    /// Writes the model's export folder into the run dir.
    pub export: Option<Box<dyn Fn(&std::path::Path, &ExportContext) -> Result<()>>>,
}

/// What exporters need besides the model.
pub struct ExportContext<'a> {
    pub cfg: &'a RunConfig,
    pub ds: &'a Dataset,
    pub metrics: &'a ModelMetrics,
}

/// Where NCF/ALS keep checkpoints between runs (`--resume`): beside the run directory.
pub fn checkpoint_dir(cfg: &RunConfig) -> PathBuf {
    let name = cfg
        .output_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    cfg.output_dir.with_file_name(format!(".{name}.checkpoint"))
}

/// Fit every enabled model.
pub fn fit_models(cfg: &RunConfig, p: &mut Prepared, opts: &TrainOptions) -> Result<Vec<Fitted>> {
    let mut out = Vec::new();
    if cfg.raw.popularity.enabled {
        let t = Instant::now();
        let model = Popularity::fit(&p.ds);
        let timing = Timing {
            fit_seconds: t.elapsed().as_secs_f64(),
            ..Default::default()
        };
        out.push(Fitted {
            model: std::sync::Arc::new(model),
            timing,
            curve: None,
            wall_seconds: t.elapsed().as_secs_f64(),
            export: None,
        });
    }
    crate::models::fit_enabled(cfg, p, opts, &mut out)?;
    Ok(out)
}

/// The whole `clickrec train` job. Returns the run directory and its metrics.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<(PathBuf, RunMetrics)> {
    let run = RunDir::create(&cfg.output_dir, opts.force)?;
    let mut p = prepare_lean(cfg)?;
    if p.ds.test.is_empty() {
        return Err(eval::EvalError::EmptyTest {
            hint: "with last_day every user was active on a single day; try split.method = \"global_days\" or \"random\"",
        }
        .into());
    }
    let mut lap = Lap::start();
    let fitted = fit_models(cfg, &mut p, opts)?;
    lap.lap(); // fit stages are timed per model in `Fitted::wall_seconds`
    let settings = eval_settings(cfg);
    let dir = run.path().to_path_buf();
    std::fs::create_dir_all(dir.join("predictions"))
        .map_err(|e| Error::Export(format!("{}: {e}", dir.display())))?;
    std::fs::create_dir_all(dir.join("plots"))
        .map_err(|e| Error::Export(format!("{}: {e}", dir.display())))?;

    let mut models = BTreeMap::new();
    let mut training = BTreeMap::new();
    let mut timings = BTreeMap::new();
    let mut stages = std::mem::take(&mut p.stages);
    for f in &fitted {
        let name = f.model.name().to_string();
        stages.fit.insert(name.clone(), f.wall_seconds);
        let (m, preds) = eval::evaluate(f.model.as_ref(), &p.ds, &settings)?;
        stages.evaluate += lap.lap();
        report::write_predictions(&dir.join("predictions"), &name, &p.ds, &preds.scores)?;
        stages.write += lap.lap();
        if let Some(export) = &f.export {
            export(
                &dir,
                &ExportContext {
                    cfg,
                    ds: &p.ds,
                    metrics: &m,
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
    let metrics = RunMetrics {
        name: cfg.raw.name.clone(),
        clickrec_version: env!("CARGO_PKG_VERSION"),
        seed: cfg.raw.seed,
        mode: if cfg.is_ctr() { "ctr" } else { "implicit" },
        k: settings.k,
        ranking: format!("{:?}", settings.ranking).to_lowercase(),
        cutoff_weight: cfg.raw.eval.cutoff_weight,
        data: p.summary.clone(),
        split: p.split.stats.clone(),
        models,
        training,
        timings: Timings {
            models: timings,
            stages,
            peak_rss_bytes: 0,
        },
    };
    let mut metrics = metrics;
    // The write stage ends with metrics.json itself, so it is timed up to that file.
    metrics.timings.stages.write += lap.lap();
    metrics.timings.peak_rss_bytes = peak_rss_bytes();
    write_run_files(&dir, cfg, &metrics)?;
    let published = run.commit()?;
    let _ = std::fs::remove_dir_all(checkpoint_dir(cfg));
    metrics.timings.stages.write += lap.lap();
    Ok((published, metrics))
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
