//! Resumable checkpoints of the CTR trainer, one per finished epoch.
//!
//! Files of epoch e (in the model's checkpoint folder): `tensors-e.safetensors` (the network,
//! every table with its Adam moments, the best epoch's weights so far), `optim-e.bin` (Burn's
//! optimizer state of the dense layers), `order-e.bin` (the row order the next epoch shuffles,
//! u32 little-endian); then `state.json` names epoch e — it is written last, so a run killed
//! while saving resumes from the previous complete epoch — and the files of epoch e − 1 go.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CtrError, EpochReport};

/// What `state.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Settings, architecture and data this checkpoint belongs to.
    pub fingerprint: String,
    /// Epochs finished.
    pub epoch: usize,
    pub learning_rate: f64,
    pub step: u64,
    pub bad_epochs: usize,
    /// Best validation AUC so far and its epoch (the `best.*` tensors are its weights).
    pub best: Option<(f64, usize)>,
    pub reports: Vec<EpochReport>,
    pub stopped: bool,
}

/// A loaded checkpoint.
pub struct Saved {
    pub state: State,
    pub tensors: crate::export::Loaded,
    pub optimizer: Vec<u8>,
    pub order: Vec<u32>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> CtrError {
    CtrError::Input(format!("checkpoint {}: {e}", path.display()))
}

fn file(dir: &Path, stem: &str, epoch: usize, ext: &str) -> PathBuf {
    dir.join(format!("{stem}-{epoch}.{ext}"))
}

/// Saves epoch `state.epoch`.
pub fn save(
    dir: &Path,
    state: &State,
    tensors: &[crate::export::Tensor<'_>],
    optimizer: &[u8],
    order: &[u32],
) -> Result<(), CtrError> {
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let e = state.epoch;
    let t = file(dir, "tensors", e, "safetensors");
    crate::export::write_safetensors(&t, tensors, Default::default()).map_err(|x| err(&t, x))?;
    let o = file(dir, "optim", e, "bin");
    crate::rundir::write_atomic(&o, optimizer).map_err(|x| err(&o, x))?;
    let r = file(dir, "order", e, "bin");
    write_order(&r, order).map_err(|x| err(&r, x))?;
    let s = dir.join("state.json");
    let json = serde_json::to_vec(state).map_err(|x| err(&s, x))?;
    crate::rundir::write_atomic(&s, &json).map_err(|x| err(&s, x))?;
    if e > 1 {
        for (stem, ext) in [
            ("tensors", "safetensors"),
            ("optim", "bin"),
            ("order", "bin"),
        ] {
            let _ = std::fs::remove_file(file(dir, stem, e - 1, ext));
        }
    }
    Ok(())
}

/// Writes the epoch's row order (u32 little-endian) through a buffer, atomically: at 57 M rows
/// a byte copy of it would be 0.2 GB on top of the epoch's peak.
fn write_order(path: &Path, order: &[u32]) -> Result<(), crate::rundir::RunDirError> {
    use std::io::Write;
    crate::rundir::write_atomic_with(path, |tmp| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
        for v in order {
            w.write_all(&v.to_le_bytes())?;
        }
        w.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    })
}

/// The checkpoint in `dir`, if there is one; one of another run is an error saying so.
pub fn load(dir: &Path, fingerprint: &str) -> Result<Option<Saved>, CtrError> {
    let s = dir.join("state.json");
    let Ok(text) = std::fs::read(&s) else {
        return Ok(None);
    };
    let state: State = serde_json::from_slice(&text).map_err(|x| err(&s, x))?;
    if state.fingerprint != fingerprint {
        return Err(err(
            dir,
            "it belongs to a run with other settings or data; delete it or train without --resume",
        ));
    }
    let e = state.epoch;
    let t = file(dir, "tensors", e, "safetensors");
    let tensors = crate::export::read_safetensors(&t).map_err(|x| err(&t, x))?;
    let o = file(dir, "optim", e, "bin");
    let optimizer = std::fs::read(&o).map_err(|x| err(&o, x))?;
    let r = file(dir, "order", e, "bin");
    let bytes = std::fs::read(&r).map_err(|x| err(&r, x))?;
    let order = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Some(Saved {
        state,
        tensors,
        optimizer,
        order,
    }))
}
