//! clickrec: train and evaluate CTR and recommendation models from config files.
//!
//! One module per pipeline stage: [`config`] → [`data`] (load, de-duplicate, filter) →
//! [`split`] → [`dataset`] (encode, [`features`]) → models ([`model`], [`ncf`], [`als`]) →
//! [`eval`] with [`metrics`] → [`report`] and [`export`], written through [`rundir`].
//! [`models`] wires the models into the `train` job ([`pipeline`]); [`serving`] holds the
//! commands that use an exported model; [`tune`] searches model settings on a validation part
//! carved from the train part.

pub mod als;
pub mod cli;
pub mod commands;
pub mod config;
pub mod ctr;
pub mod data;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod export;
pub mod features;
pub mod fitted;
pub mod hugepages;
pub mod metrics;
pub mod model;
pub mod models;
pub mod ncf;
pub mod outpath;
pub mod pipeline;
pub mod progress;
pub mod reference;
pub mod report;
pub mod rundir;
pub mod serving;
pub mod split;
pub mod synth;
pub mod team;
pub mod topk;
pub mod tune;

pub use error::{Error, Result};
