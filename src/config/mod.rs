//! Run configs: TOML → [`RawConfig`] (typed, unknown keys rejected) → [`RunConfig`] (validated).
//!
//! `--set key=value` overrides are applied to the parsed TOML tree before typing, so they go
//! through exactly the same checks as the file.

mod error;
mod overrides;
pub mod raw;
pub mod raw_ctr;
pub mod raw_tune;
mod validate;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use overrides::{parse_value, set as set_key};
pub use raw::*;
pub use raw_ctr::{DEFAULT_CROSS_LAYERS, DENSE_TABLE_LIMIT, RawCtr};
pub use raw_tune::{RawTune, TuneMethod, TuneModels, TuneValidation};
pub use validate::validate;

/// A validated run config. Relative data paths are resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The config as resolved (defaults filled, overrides applied): written to the run dir.
    pub raw: RawConfig,
    /// Where the config file lives (data paths are relative to it).
    pub base_dir: PathBuf,
    /// The run directory (`[output].dir` or `artifacts/<name>`).
    pub output_dir: PathBuf,
}

impl RunConfig {
    /// Resolve a path from the config against the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// Whether the log carries a 0/1 click label (CTR mode) rather than implicit events.
    pub fn is_ctr(&self) -> bool {
        self.raw.data.label.is_some()
    }

    /// Whether `[ncf]` trains over fields (the CTR trainer, `crate::ctr`): a click log with at
    /// least one categorical or sequence column (in the log or a side table). Without one it
    /// is the seed NCF (user and item embeddings plus scaled numeric features), unchanged; so is
    /// `[ncf]` on an implicit log, whose side-table categoricals stay one-hot columns.
    pub fn ncf_over_fields(&self) -> bool {
        over_fields(&self.raw)
    }

    /// The ranking protocol after resolving `auto`.
    pub fn ranking(&self) -> RankingMode {
        match self.raw.eval.ranking {
            RankingMode::Auto if self.is_ctr() => RankingMode::Impressions,
            RankingMode::Auto => RankingMode::Full,
            m => m,
        }
    }

    /// The resolved config as TOML, for the run directory.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.raw).unwrap_or_else(|e| format!("# could not render: {e}\n"))
    }
}

/// See [`RunConfig::ncf_over_fields`].
fn over_fields(raw: &RawConfig) -> bool {
    let d = &raw.data;
    let side = |t: &Option<RawTable>| t.as_ref().is_some_and(|t| !t.categorical.is_empty());
    d.label.is_some()
        && (!d.categorical.is_empty()
            || !d.sequence.is_empty()
            || side(&d.user_table)
            || side(&d.item_table))
}

/// Read, override and validate a config file.
pub fn load(path: &Path, overrides: &[String]) -> Result<RunConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    from_str(&text, path, base_dir, overrides)
}

/// Parse a config from TOML text (`origin` names it in errors).
pub fn from_str(
    text: &str,
    origin: &Path,
    base_dir: PathBuf,
    overrides: &[String],
) -> Result<RunConfig, ConfigError> {
    let raw: RawConfig = if overrides.is_empty() {
        toml::from_str(text).map_err(|e| ConfigError::from_toml(origin, &e))?
    } else {
        let tree = tree_from_str(text, origin, overrides)?;
        return from_tree(tree, origin, base_dir);
    };
    validate(raw, base_dir)
}

/// The TOML tree of a config file with `--set` overrides applied, before typing: what
/// `clickrec tune` varies. Returns the tree and the file's folder.
pub fn load_tree(path: &Path, overrides: &[String]) -> Result<(toml::Table, PathBuf), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((tree_from_str(&text, path, overrides)?, base_dir))
}

fn tree_from_str(
    text: &str,
    origin: &Path,
    overrides: &[String],
) -> Result<toml::Table, ConfigError> {
    let mut tree: toml::Table =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(origin, &e))?;
    if overrides.is_empty() {
        return Ok(tree);
    }
    // When the file types on its own, a typing error after an override is that override's:
    // the message names it (not the file) and shows the expected form.
    let typed = |t: &toml::Table| toml::Value::Table(t.clone()).try_into::<RawConfig>();
    let file_raw = typed(&tree).ok();
    let file = file_raw
        .as_ref()
        .and_then(|raw| toml::Value::try_from(raw).ok());
    for o in overrides {
        overrides::apply(&mut tree, o)?;
        if file_raw.is_some()
            && let Err(e) = typed(&tree)
        {
            return Err(overrides::blame(o, &e, file.as_ref()));
        }
    }
    Ok(tree)
}

/// Type and validate a config tree (see [`load_tree`]).
pub fn from_tree(
    tree: toml::Table,
    origin: &Path,
    base_dir: PathBuf,
) -> Result<RunConfig, ConfigError> {
    let raw: RawConfig = toml::Value::Table(tree)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::from_toml(origin, &e))?;
    validate(raw, base_dir)
}
