//! `[tune]`: the search space and protocol of `clickrec tune`, exactly as users type it.
//!
//! The space itself (`[tune.space]`: dotted config keys → a list of values or a range) stays a
//! TOML table here; [`crate::tune::space`] checks each key against the config it overrides.

use serde::{Deserialize, Serialize};

use super::{ConfigError, SplitMethod};

/// `[tune]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTune {
    /// The model whose validation metric decides (`als`, `ncf` or `popularity`), or a list of
    /// them: each is tuned over its own keys and the best trial of any of them wins.
    pub model: TuneModels,
    /// A key of `models.<name>` in metrics.json (dotted for nested ones, e.g. `sampled.hr`);
    /// maximised, except `logloss` which is minimised.
    #[serde(default = "default_metric")]
    pub metric: String,
    #[serde(default)]
    pub method: TuneMethod,
    /// Random search: the number of draws (seeded by the run seed). Grid: at most this many
    /// points are run when set (in grid order).
    pub trials: Option<usize>,
    /// How the validation part is carved from the train part; default `split`.
    #[serde(default)]
    pub validation: TuneValidation,
    /// `random` validation: the share of each user's train rows held out.
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
    /// Dotted config key → `[values...]` or `{ log_uniform = [lo, hi] }` /
    /// `{ uniform = [lo, hi] }` (integer bounds draw integers).
    #[serde(default)]
    pub space: toml::Table,
}

fn default_metric() -> String {
    "ndcg_at_k".into()
}
fn default_validation_fraction() -> f64 {
    0.1
}

/// `tune.model`: one model or a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TuneModels {
    One(String),
    Many(Vec<String>),
}

impl TuneModels {
    /// The names, in the order given.
    pub fn names(&self) -> Vec<String> {
        match self {
            TuneModels::One(m) => vec![m.clone()],
            TuneModels::Many(v) => v.clone(),
        }
    }
}

/// Search method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TuneMethod {
    /// Every combination of the listed values (ranges are not allowed).
    #[default]
    Grid,
    /// `trials` seeded draws, each key independently.
    Random,
}

/// How the validation part is carved from the train part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TuneValidation {
    /// The config's own split rule applied to the train part (the last day of each user's
    /// train rows for `last_day`, and so on); `random` with `validation_fraction` when the
    /// split is given by files.
    #[default]
    Split,
    /// `validation_fraction` of each user's train rows, seeded.
    Random,
    /// Each user's latest train row.
    LeaveLastOut,
}

impl TuneValidation {
    /// The split rule that carves the validation part, given the config's own rule.
    pub fn method(self, config_split: SplitMethod) -> SplitMethod {
        match self {
            TuneValidation::Split if config_split == SplitMethod::Files => SplitMethod::Random,
            TuneValidation::Split => config_split,
            TuneValidation::Random => SplitMethod::Random,
            TuneValidation::LeaveLastOut => SplitMethod::LeaveLastOut,
        }
    }
}

/// The rules of `[tune]` that need nothing but the table itself.
pub fn check(t: &RawTune) -> Result<(), ConfigError> {
    let invalid = |key: &str, value: String, rule: &'static str| ConfigError::Invalid {
        key: key.into(),
        value,
        rule,
    };
    let names = t.model.names();
    let known = |m: &String| ["als", "ncf", "deepfm", "dcnv2", "popularity"].contains(&m.as_str());
    let unique = names
        .iter()
        .enumerate()
        .all(|(i, m)| !names[..i].contains(m));
    if names.is_empty() || !names.iter().all(known) || !unique {
        return Err(invalid(
            "tune.model",
            format!("{names:?}"),
            "must be \"als\", \"ncf\", \"deepfm\", \"dcnv2\" or \"popularity\", or a list of them without repeats",
        ));
    }
    if t.metric.trim().is_empty() {
        return Err(invalid(
            "tune.metric",
            "\"\"".into(),
            "must name a metric, e.g. \"ndcg_at_k\"",
        ));
    }
    if let Some(n) = t.trials {
        if n == 0 {
            return Err(invalid("tune.trials", n.to_string(), "must be at least 1"));
        }
    } else if t.method == TuneMethod::Random {
        return Err(invalid(
            "tune.trials",
            "(absent)".into(),
            "random search needs the number of draws, e.g. trials = 40",
        ));
    }
    let f = t.validation_fraction;
    if !(f > 0.0 && f < 1.0) {
        return Err(invalid(
            "tune.validation_fraction",
            f.to_string(),
            "must be in (0, 1)",
        ));
    }
    if t.space.is_empty() {
        return Err(invalid(
            "tune.space",
            "{}".into(),
            "must list at least one key, e.g. \"als.factors\" = [64, 128]",
        ));
    }
    Ok(())
}
