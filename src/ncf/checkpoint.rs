//! Resumable training checkpoints: one file `checkpoint.safetensors` in the checkpoint
//! directory, rewritten atomically (temp file + rename) after every epoch. It holds the weights
//! (export names), the best weights so far under `best.` (early stopping), Adam's state as Burn's
//! burnpack bytes (a U8 tensor `optimizer`), and in its metadata the run state (epochs done,
//! reports, early-stopping bookkeeping) and a fingerprint of the parameters and data.
//!
//! The per-epoch RNG is derived from (seed, epoch) (see [`super::data::epoch_rng`]), so no RNG
//! state needs saving: resuming after epoch k reproduces epochs k+1.. exactly.

use super::export::{read_weights, serialize, weight_tensors, write_atomic};
use super::model::{Arch, Weights};
use super::{EpochReport, NcfError, NcfParams, TrainSet};
use burn::tensor::Bytes;
use safetensors::tensor::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// File name inside the checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const FORMAT: &str = "clickrec-ncf-checkpoint-v1";

/// Bookkeeping of a run, saved with every checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Their reports.
    pub reports: Vec<EpochReport>,
    /// Best validation AUC so far (early stopping).
    pub best_auc: Option<f64>,
    /// Epoch of `best_auc` (0 = none yet).
    pub best_epoch: usize,
    /// Early stopping has fired.
    pub stopped: bool,
}

/// What [`load`] restores.
pub struct Checkpoint {
    pub weights: Weights,
    pub optimizer: Bytes,
    pub state: RunState,
    pub best_weights: Option<Weights>,
}

/// Identifies a run: the parameters (except `epochs`, which a resumed run may raise), the
/// architecture and an FNV-1a hash of the training rows.
pub fn fingerprint(params: &NcfParams, arch: &Arch, train: &TrainSet) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (&u, &i) in train.users.iter().zip(&train.items) {
        eat(&u.to_le_bytes());
        eat(&i.to_le_bytes());
    }
    for v in train.labels.iter().chain(&train.row_features) {
        eat(&v.to_bits().to_le_bytes());
    }
    eat(&[train.implicit as u8]);
    let mut p = params.clone();
    p.epochs = 0;
    let params_json = serde_json::to_string(&p).unwrap_or_default();
    let arch_json = serde_json::to_string(arch).unwrap_or_default();
    format!(
        "{params_json}|{arch_json}|rows={}|hash={h:016x}",
        train.labels.len()
    )
}

/// Saves the state after an epoch into `dir/checkpoint.safetensors` (atomically).
pub fn save(
    dir: &Path,
    fingerprint: &str,
    arch: &Arch,
    weights: &Weights,
    optimizer: &[u8],
    state: &RunState,
    best: Option<&Weights>,
) -> Result<(), NcfError> {
    std::fs::create_dir_all(dir).map_err(|e| NcfError::io("creating", dir, e))?;
    let path = dir.join(CHECKPOINT_FILE);
    let mut tensors = weight_tensors(arch, weights, "");
    if let Some(b) = best {
        tensors.extend(weight_tensors(arch, b, "best."));
    }
    let state_json =
        serde_json::to_string(state).map_err(|e| NcfError::bad_file(&path, e.to_string()))?;
    let meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("fingerprint".to_string(), fingerprint.to_string()),
        ("state".to_string(), state_json),
        ("has_best".to_string(), best.is_some().to_string()),
    ]);
    let bytes = serialize(
        &tensors,
        &[("optimizer".to_string(), optimizer)],
        Some(meta),
    )
    .map_err(|e| NcfError::bad_file(&path, e))?;
    write_atomic(&path, &bytes)
}

/// Loads `dir/checkpoint.safetensors`; None if there is none yet. Errors if it belongs to
/// another run (different fingerprint) or is malformed.
pub fn load(dir: &Path, fingerprint: &str, arch: &Arch) -> Result<Option<Checkpoint>, NcfError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NcfError::io("reading", &path, e)),
    };
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| NcfError::bad_file(&path, e.to_string()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let field = |k: &str| {
        meta.get(k)
            .cloned()
            .ok_or_else(|| NcfError::bad_file(&path, format!("metadata `{k}` missing")))
    };
    if field("format")? != FORMAT {
        return Err(NcfError::bad_file(&path, format!("not a {FORMAT} file")));
    }
    let saved = field("fingerprint")?;
    if saved != fingerprint {
        return Err(NcfError::CheckpointMismatch {
            path,
            reason: format!("saved run `{saved}`, this run `{fingerprint}`"),
        });
    }
    let state: RunState = serde_json::from_str(&field("state")?)
        .map_err(|e| NcfError::bad_file(&path, format!("run state: {e}")))?;
    let st =
        SafeTensors::deserialize(&bytes).map_err(|e| NcfError::bad_file(&path, e.to_string()))?;
    let weights = read_weights(&st, arch, "", &path)?;
    let best_weights = match field("has_best")?.as_str() {
        "true" => Some(read_weights(&st, arch, "best.", &path)?),
        _ => None,
    };
    let opt = st
        .tensor("optimizer")
        .map_err(|e| NcfError::bad_file(&path, format!("optimizer state: {e}")))?;
    if opt.dtype() != Dtype::U8 {
        return Err(NcfError::bad_file(
            &path,
            "optimizer state is not a U8 tensor",
        ));
    }
    Ok(Some(Checkpoint {
        weights,
        optimizer: Bytes::from_bytes_vec(opt.data().to_vec()),
        state,
        best_weights,
    }))
}
