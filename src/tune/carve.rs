//! The data every trial trains and is scored on: the config's train part, split again into
//! a trial-train part and a validation part. The config's test part is set aside before
//! anything is encoded, so no trial can read it.

use serde::Serialize;

use crate::config::{RunConfig, SplitMethod, TuneValidation};
use crate::data;
use crate::dataset::{self, Dataset};
use crate::error::Result;
use crate::eval::EvalError;
use crate::pipeline;
use crate::split::{self, Split, SplitRule, SplitStats};

/// How the validation part was carved, for `metrics.json.tuning.validation`.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationInfo {
    /// `split` (the config's rule; `random` for a split given by files), `random`,
    /// `leave_last_out`, or `valid_path` (the given validation file).
    pub validation: String,
    /// The rule applied to the train part.
    pub rule: String,
    /// `random`: the share of each user's train rows held out.
    pub fraction: Option<f64>,
    /// The counts of that split of the train part (its "test" is the validation part).
    pub split: SplitStats,
}

/// The rule that carves the validation part out of the train part.
pub fn validation_rule(cfg: &RunConfig, v: TuneValidation, fraction: f64) -> SplitRule {
    let base = pipeline::split_rule(cfg);
    let method = v.method(cfg.raw.split.method);
    SplitRule {
        method,
        test_fraction: if v == TuneValidation::Random || cfg.raw.split.method == SplitMethod::Files
        {
            fraction
        } else {
            base.test_fraction
        },
        // A stream of its own: the validation draw is not the test draw replayed.
        seed: base.seed ^ 0x7661_6C69_6461_7465,
        ..base
    }
}

/// Load and filter the data, split off the test part, carve validation from the train part
/// and encode train-minus-validation / validation as the trials' dataset.
pub fn prepare(
    cfg: &RunConfig,
    v: TuneValidation,
    fraction: f64,
) -> Result<(Dataset, ValidationInfo)> {
    let (mut x, _) = data::load(cfg)?;
    let (user_table, item_table) = data::side::load_all(cfg, &x)?;
    let rows: Vec<usize> = (0..x.len()).collect();
    let outer = split::split(&x, rows, &pipeline::split_rule(cfg));
    let (inner, info, empty_hint) = if x.given_valid.is_some() {
        // A given validation part (`split.valid_path`) is the trials' validation part: they
        // train on the whole train part, stop early on it and are scored on it.
        let mut stats = outer.stats.clone();
        stats.test_rows = outer.valid.len();
        let info = ValidationInfo {
            validation: "valid_path".into(),
            rule: "files".into(),
            fraction: None,
            split: stats.clone(),
        };
        let inner = Split {
            train: outer.train,
            test: outer.valid.clone(),
            valid: outer.valid,
            keep_unknown: outer.keep_unknown,
            stats,
        };
        let hint = "split.valid_path has no row left after the test filters";
        (inner, info, hint)
    } else {
        // From here on only the train rows are used.
        let rule = validation_rule(cfg, v, fraction);
        let train_rows = outer.train;
        let inner = split::split(&x, train_rows, &rule);
        let info = ValidationInfo {
            validation: match v {
                TuneValidation::Split => "split",
                TuneValidation::Random => "random",
                TuneValidation::LeaveLastOut => "leave_last_out",
            }
            .into(),
            rule: rule.method.name().into(),
            fraction: (rule.method == SplitMethod::Random).then_some(rule.test_fraction),
            split: inner.stats.clone(),
        };
        let hint = "the validation part carved from the train part is empty; try tune.validation = \"random\"";
        (inner, info, hint)
    };
    if inner.test.is_empty() {
        return Err(EvalError::EmptyTest { hint: empty_hint }.into());
    }
    let (ds, _) = dataset::build(
        &mut x,
        &inner,
        user_table.as_ref(),
        item_table.as_ref(),
        true,
    )?;
    drop(x);
    Ok((ds, info))
}
