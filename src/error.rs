//! The library's top-level error: every stage's error, and the process exit code for it.

use crate::config::ConfigError;
use crate::data::DataError;
use crate::eval::EvalError;
use crate::metrics::MetricError;
use crate::model::ModelError;
use crate::rundir::RunDirError;

/// Any error of a clickrec command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Metric(#[from] MetricError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Export(String),
    #[error("{0}")]
    Training(String),
}

impl Error {
    /// Exit code: 2 for bad input (config, data, arguments, saved models), the only kind of
    /// error clickrec raises on purpose.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// Result with the library error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
