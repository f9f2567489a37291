//! Config errors: each names the key (or file) and what is allowed.

use std::path::{Path, PathBuf};

/// Everything that can be wrong with a config, one variant per kind of rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}{location}: unknown key `{key}`{}; allowed here: {allowed}", path.display(), suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        path: PathBuf,
        location: String,
        key: String,
        suggestion: Option<String>,
        allowed: String,
    },
    #[error("--set {arg}: expected key=value with a dotted key, e.g. --set ncf.epochs=5")]
    BadOverride { arg: String },
    #[error("--set {arg}: {message}{hint}")]
    Override {
        arg: String,
        message: String,
        hint: String,
    },
    #[error(
        "--set {arg}: this config has no [{model}] table, so {model} is not enabled and the override would switch it on; add an [{model}] table to the config, or enable it on purpose with --set {model}.enabled=true before this override"
    )]
    OverrideDisabledModel { arg: String, model: String },
    #[error("--set {arg}: `{key}` is a value, not a table")]
    OverrideNotTable { arg: String, key: String },
    #[error("`{key}` = {value}: {rule}")]
    Invalid {
        key: String,
        value: String,
        rule: &'static str,
    },
    #[error("[data]: set exactly one of `path` (a file) or a [data.synthetic] table")]
    DataSource,
    #[error("[data]: `event_weights` needs an `event` column to weigh")]
    EventWeightsWithoutEvent,
    #[error("`{key}` lists `{name}` twice")]
    Duplicate { key: String, name: String },
    #[error(
        "no model is enabled: enable at least one of [popularity], [ncf], [als] (e.g. add an [als] table)"
    )]
    NoModels,
    #[error("`tune.space.\"{key}\"`: {message}")]
    TuneSpace { key: String, message: String },
    #[error("[tune]: {message}")]
    Tune { message: String },
}

impl ConfigError {
    /// Wrap a toml error; unknown keys get the closest valid key as a suggestion.
    pub fn from_toml(path: &Path, err: &toml::de::Error) -> Self {
        let msg = err.message();
        if let Some(rest) = msg.strip_prefix("unknown field `")
            && let Some((key, tail)) = rest.split_once('`')
        {
            let allowed: Vec<&str> = tail
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| !s.is_empty())
                .collect();
            let suggestion = closest(key, &allowed);
            let location = err
                .span()
                .map(|_| {
                    format!("{err}")
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .filter(|l| l.contains("line"))
                .map(|l| format!(" ({})", l.trim_start_matches("TOML parse error at ")))
                .unwrap_or_default();
            return ConfigError::UnknownKey {
                path: path.to_path_buf(),
                location,
                key: key.to_string(),
                suggestion,
                allowed: allowed.join(", "),
            };
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string().trim().to_string(),
        }
    }
}

/// The allowed key closest to `key` by edit distance, if it is close enough to be a typo.
pub fn closest(key: &str, allowed: &[&str]) -> Option<String> {
    allowed
        .iter()
        .map(|a| (strsim::levenshtein(key, a), *a))
        .filter(|(d, a)| *d <= 3.max(a.len() / 3) && *d < a.len())
        .min()
        .map(|(_, a)| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_the_nearest_key_only_when_close() {
        let allowed = ["min_user_interactions", "min_item_interactions", "repeat"];
        assert_eq!(
            closest("min_user_interaction", &allowed).as_deref(),
            Some("min_user_interactions")
        );
        assert_eq!(closest("repaet", &allowed).as_deref(), Some("repeat"));
        assert_eq!(closest("zzzzzzzzzzzzzzzzzzzz", &allowed), None);
    }
}
