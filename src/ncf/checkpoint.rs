//! Resumable training checkpoints: one file `checkpoint.safetensors` in the checkpoint
//! directory, rewritten atomically (temp file + rename) after every epoch. It holds the weights
//! (export names), the best weights so far under `best.` (early stopping), the MLP's Adam state as
//! Burn's burnpack bytes (a U8 tensor `optimizer`), the embedding tables' Adam moments
//! (`adam_m.<table>`, `adam_v.<table>`), and in its metadata the run state (epochs done, reports,
//! early-stopping bookkeeping), the tables' global step and a fingerprint of the parameters and
//! data.
//!
//! The per-epoch RNG is derived from (seed, epoch) (see [`super::data::epoch_rng`]), so no RNG
//! state needs saving: resuming after epoch k reproduces epochs k+1.. exactly.

use super::export::{NamedTensor, read_f32, read_weights, serialize, weight_tensors, write_atomic};
use super::model::{Arch, Weights};
use super::tables::TableState;
use super::{EpochReport, NcfError, NcfParams, TrainSet};
use burn::tensor::Bytes;
use safetensors::tensor::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// File name inside the checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const FORMAT: &str = "clickrec-ncf-checkpoint-v2";

/// Names of the embedding tables in checkpoint order (as in [`TableState`]).
const TABLES: [&str; 4] = [
    "user_embedding",
    "item_embedding",
    "gmf_user_embedding",
    "gmf_item_embedding",
];

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
    /// Adam moments `(m, v)` of the embedding tables, in the trainer's table order (user, item, then the GMF pair).
    pub table_moments: (Vec<Vec<f32>>, Vec<Vec<f32>>),
    /// Steps taken by the embedding optimizer.
    pub table_step: u64,
}

/// Identifies a run: the parameters (except `epochs`, which a resumed run may raise), the
/// architecture and a hash of the training rows. The hash mixes 32-bit words (FxHash-style
/// multiply-rotate) rather than bytes: at 57 M rows × 15 features a byte-wise FNV took seconds.
pub fn fingerprint(params: &NcfParams, arch: &Arch, train: &TrainSet) -> String {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |w: u32| h = (h.rotate_left(5) ^ u64::from(w)).wrapping_mul(K);
    for (&u, &i) in train.users.iter().zip(&train.items) {
        eat(u);
        eat(i);
    }
    for v in train.labels.iter().chain(&train.row_features) {
        eat(v.to_bits());
    }
    eat(u32::from(train.implicit));
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
#[allow(clippy::too_many_arguments)]
pub(crate) fn save(
    dir: &Path,
    fingerprint: &str,
    arch: &Arch,
    weights: &Weights,
    optimizer: &[u8],
    tables: &TableState,
    state: &RunState,
    best: Option<&Weights>,
) -> Result<(), NcfError> {
    std::fs::create_dir_all(dir).map_err(|e| NcfError::io("creating", dir, e))?;
    let path = dir.join(CHECKPOINT_FILE);
    let mut tensors = weight_tensors(arch, weights, "");
    if let Some(b) = best {
        tensors.extend(weight_tensors(arch, b, "best."));
    }
    let d = arch.embedding_dim;
    for (t, name) in tables.tables.iter().zip(TABLES) {
        for (kind, values) in [("adam_m", t.m()), ("adam_v", t.v())] {
            let tensor: NamedTensor = (format!("{kind}.{name}"), vec![t.rows(), d], values);
            tensors.push(tensor);
        }
    }
    let state_json =
        serde_json::to_string(state).map_err(|e| NcfError::bad_file(&path, e.to_string()))?;
    let meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("fingerprint".to_string(), fingerprint.to_string()),
        ("state".to_string(), state_json),
        ("has_best".to_string(), best.is_some().to_string()),
        ("table_step".to_string(), tables.step.to_string()),
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
    let n_tables = if weights.gmf_user.is_empty() { 2 } else { 4 };
    let mut table_moments = (Vec::new(), Vec::new());
    for (k, name) in TABLES.iter().take(n_tables).enumerate() {
        let rows = if k % 2 == 0 {
            arch.n_users
        } else {
            arch.n_items
        };
        let shape = [rows, arch.embedding_dim];
        table_moments
            .0
            .push(read_f32(&st, &format!("adam_m.{name}"), &shape, &path)?);
        table_moments
            .1
            .push(read_f32(&st, &format!("adam_v.{name}"), &shape, &path)?);
    }
    let table_step = field("table_step")?
        .parse::<u64>()
        .map_err(|e| NcfError::bad_file(&path, format!("table_step: {e}")))?;
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
        table_moments,
        table_step,
    }))
}
