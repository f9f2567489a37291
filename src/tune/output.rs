//! The tuned run directory: the winner retrained on the whole train part through the normal
//! `train` path (into a staging folder), plus `tuning.csv`, `best.toml` and
//! `metrics.json.tuning`, published by one rename.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::record::{self, TrialRecord};
use super::{TuneOptions, Tuning};
use crate::config::{self, RunConfig};
use crate::error::{Error, Result};
use crate::fitted::TrainOptions;
use crate::pipeline;
use crate::report::RunMetrics;
use crate::rundir::{RunDir, RunDirError, write_atomic};

/// Config keys holding file paths, made absolute in `best.toml` so it runs from anywhere.
const PATH_KEYS: [&[&str]; 6] = [
    &["data", "path"],
    &["data", "user_table", "path"],
    &["data", "item_table", "path"],
    &["split", "train_path"],
    &["split", "test_path"],
    &["eval", "candidates"],
];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| {
        RunDirError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    }
}

/// `base` with the best setting of every tuned model, read from the trials' TOML text (the
/// JSON in `t` cannot hold `inf`).
fn best_tree(base: &toml::Table, t: &Tuning, done: &[TrialRecord]) -> toml::Table {
    let mut tree = base.clone();
    for b in t.per_model.values() {
        let Some(r) = done.iter().find(|r| r.trial == b.trial) else {
            continue;
        };
        for (key, text) in &r.params {
            let parts: Vec<&str> = key.split('.').collect();
            let _ = config::set_key(&mut tree, &parts, config::parse_value(text));
        }
    }
    tree
}

/// `best.toml`: the resolved config of the winner under the name `<name>-best` (so that
/// `clickrec train best.toml` does not collide with the tuning run), data paths absolute.
fn best_toml(cfg: &RunConfig, tree: &toml::Table, origin: &Path) -> Result<String> {
    let mut tree = tree.clone();
    tree.insert(
        "name".into(),
        toml::Value::String(format!("{}-best", cfg.raw.name)),
    );
    tree.remove("output");
    for key in PATH_KEYS {
        let Some(p) = lookup(&tree, key)
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
        else {
            continue;
        };
        let abs = std::path::absolute(cfg.resolve(&p)).unwrap_or_else(|_| cfg.resolve(&p));
        let _ = config::set_key(
            &mut tree,
            key,
            toml::Value::String(abs.to_string_lossy().into_owned()),
        );
    }
    let resolved = config::from_tree(tree, origin, cfg.base_dir.clone())?;
    Ok(format!(
        "# The setting `clickrec tune` chose on validation (run `{}`), fully resolved.\n{}",
        cfg.raw.name,
        resolved.to_toml()
    ))
}

fn lookup<'a>(tree: &'a toml::Table, key: &[&str]) -> Option<&'a toml::Value> {
    let (last, path) = key.split_last()?;
    let mut t = tree;
    for part in path {
        t = t.get(*part)?.as_table()?;
    }
    t.get(*last)
}

/// The tuning section of report.md.
fn report_section(t: &Tuning, done: &[TrialRecord]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Tuning\n\n{} search, {} trials, chosen by validation `{}` ({}); validation: `{}` rule on the train part ({} rows held out, {} users).\n",
        t.method,
        t.trials,
        t.metric,
        if record::minimised(&t.metric) {
            "minimised"
        } else {
            "maximised"
        },
        t.validation.rule,
        t.validation.split.test_rows,
        t.validation.split.eval_users
    );
    let _ = writeln!(
        s,
        "| model | trial | validation {} | setting |\n|---|---|---|---|",
        t.metric
    );
    for b in t.per_model.values() {
        let setting: Vec<String> = b.params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let mark = if b.trial == t.best.trial {
            " (best)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "| {}{mark} | {} | {:.4} | {} |",
            b.model,
            b.trial,
            b.value,
            setting.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nAll {} trials: `tuning.csv`; the chosen setting: `best.toml`.",
        done.len()
    );
    s
}

/// Retrain the winner, add the tuning files and publish the run directory.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    cfg: &RunConfig,
    base: &toml::Table,
    origin: &Path,
    state: &Path,
    done: &[TrialRecord],
    keys: &[String],
    t: &Tuning,
    opts: &TuneOptions,
) -> Result<(PathBuf, RunMetrics)> {
    let tree = best_tree(base, t, done);
    let mut fcfg = config::from_tree(tree.clone(), origin, cfg.base_dir.clone())?;
    fcfg.output_dir = state.join("final");
    let train_opts = TrainOptions {
        force: true,
        resume: false,
        quiet: opts.quiet,
        recent_half_life: t.recent_half_life_days,
    };
    let (stage, metrics) = pipeline::train(&fcfg, &train_opts)?;
    write_atomic(
        &stage.join("tuning.csv"),
        record::csv(done, keys).as_bytes(),
    )?;
    write_atomic(
        &stage.join("best.toml"),
        best_toml(cfg, &tree, origin)?.as_bytes(),
    )?;
    let mpath = stage.join("metrics.json");
    let text = std::fs::read_to_string(&mpath).map_err(io(&mpath))?;
    let mut json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::Export(format!("metrics.json: {e}")))?;
    let tuning = serde_json::to_value(t).map_err(|e| Error::Export(e.to_string()))?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("tuning".into(), tuning);
        let total: f64 = done.iter().map(|r| r.fit_seconds).sum();
        if let Some(timings) = obj.get_mut("timings").and_then(|v| v.as_object_mut()) {
            timings.insert(
                "tuning".into(),
                serde_json::json!({ "trial_fit_seconds": total }),
            );
        }
    }
    let pretty = serde_json::to_string_pretty(&json).map_err(|e| Error::Export(e.to_string()))?;
    write_atomic(&mpath, pretty.as_bytes())?;
    let rpath = stage.join("report.md");
    let mut report = std::fs::read_to_string(&rpath).map_err(io(&rpath))?;
    report.push_str(&report_section(t, done));
    if let Some(line) = super::against_baselines(t, &metrics) {
        report.push_str(&format!("\n{line}.\n"));
    }
    write_atomic(&rpath, report.as_bytes())?;

    // Publish: the staged run takes the place of the run dir's temp folder, then one rename.
    let run = RunDir::create(&cfg.output_dir, opts.force)?;
    std::fs::remove_dir(run.path()).map_err(io(run.path()))?;
    std::fs::rename(&stage, run.path()).map_err(io(&stage))?;
    let dir = run.commit()?;
    Ok((dir, metrics))
}
