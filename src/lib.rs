//! clickrec: train and evaluate CTR and recommendation models from config files.
//!
//! One module per pipeline stage: [`config`] → [`data`] (load, de-duplicate, filter) →
//! [`split`] → [`dataset`] (encode, [`features`]) → models ([`model`], [`ncf`], [`als`]) →
//! [`eval`] with [`metrics`] → [`report`] and export, written through [`rundir`]. [`tune`]
//! searches model settings on a validation part carved from the train part.

pub mod als;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod export;
pub mod features;
pub mod metrics;
pub mod model;
pub mod modeldir;
pub mod models;
pub mod ncf;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod rundir;
pub mod scorer;
pub mod serve;
pub mod split;
pub mod synth;
pub mod tune;

pub use error::{Error, Result};
