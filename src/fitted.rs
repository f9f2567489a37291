//! What fitting a model produces, shared by the model wiring ([`crate::models`]) and the
//! `train` job ([`crate::pipeline`]) so that neither imports the other for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::RunConfig;
use crate::error::Result;
use crate::export::ExportContext;
use crate::model::Recommender;
use crate::report::{Curve, Timing};

/// Options of `clickrec train`.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub force: bool,
    pub resume: bool,
    pub quiet: bool,
    /// The half-life of the recent-popularity reference row when a validation part chose it
    /// (`clickrec tune`); else [`crate::reference::RECENT_HALF_LIFE_DAYS`].
    pub recent_half_life: Option<f64>,
}

/// Writes a model's export folder into the run directory.
pub type Exporter = Box<dyn Fn(&Path, &ExportContext) -> Result<()>>;

/// A fitted model with what its training reported.
pub struct Fitted {
    /// Shared so the exporter can hold the same model.
    pub model: Arc<dyn Recommender>,
    pub timing: Timing,
    pub curve: Option<Curve>,
    /// Wall seconds of the whole fit, data preparation and checkpoints included.
    pub wall_seconds: f64,
    pub export: Option<Exporter>,
    /// Validation figures of the kept epoch (CTR models), copied into the model's metrics.
    pub validation: Option<crate::ctr::ValidationFigures>,
    /// Notes for the model's metrics (e.g. rows scored through OOV rows).
    pub notes: Vec<String>,
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
