//! Resumable checkpoints of the CTR trainer, one per finished epoch.
//!
//! Files of epoch e (in the model's checkpoint folder): `tensors-e.safetensors` (the network,
//! every table with its Adam moments, the best epoch's weights so far), `optim-e.bin` (Burn's
//! optimizer state of the dense layers), `order-e.bin` (the row order the next epoch shuffles,
//! u32 little-endian); then `state.json` names epoch e — it is written last, so a run killed
//! while saving resumes from the previous complete epoch — and the files of epoch e − 1 go.
//!
//! Tensor names: `net.*` (the network), `emb.{j}.state` / `first.{j}.state` (each table as it is
//! stored, values and Adam moments interleaved per row, `[rows, 3·dim]`), and the best epoch's
//! `best.net.*`, `best.emb.{j}`, `best.first.{j}` (values only).

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::net::{Arch, CtrNet, NamedTensors};
use super::tables::Tables;
use super::{CtrError, EpochReport};
use crate::ncf::embeddings::HostTable;

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

/// The best epoch so far: what the trainer keeps and a checkpoint carries.
pub(super) struct Best {
    /// Its validation AUC.
    pub(super) auc: f64,
    /// 1-based.
    pub(super) epoch: usize,
    /// The network in inference mode.
    pub(super) net: CtrNet,
    /// Table values (no moments), per field.
    pub(super) emb: Vec<Vec<f32>>,
    pub(super) first: Vec<Vec<f32>>,
}

/// Writes the epoch's checkpoint. The tables are written as they are, borrowed (values and
/// Adam moments interleaved per row, `[rows, 3·dim]`): copies of tables with millions of rows
/// were the run's memory peak.
pub(super) fn save_epoch(
    dir: &Path,
    state: &State,
    net: &CtrNet,
    tables: &Tables,
    best: Option<&Best>,
    optimizer: &[u8],
    order: &[u32],
) -> Result<(), CtrError> {
    let mut owned = prefixed("net.", net.tensors().map_err(CtrError::Tensor)?);
    if let Some(b) = best {
        owned.extend(prefixed(
            "best.net.",
            b.net.tensors().map_err(CtrError::Tensor)?,
        ));
    }
    let mut named: Vec<(String, Vec<usize>, &[f32])> = owned
        .iter()
        .map(|(n, shape, v)| (n.clone(), shape.clone(), &v[..]))
        .collect();
    for (name, t) in [("emb", &tables.emb), ("first", &tables.first)] {
        for (j, t) in t.iter().enumerate() {
            let shape = vec![t.rows(), 3 * t.dim];
            named.push((format!("{name}.{j}.state"), shape, t.state()));
        }
    }
    if let Some(b) = best {
        for (name, t) in [("emb", &b.emb), ("first", &b.first)] {
            for (j, v) in t.iter().enumerate() {
                named.push((format!("best.{name}.{j}"), vec![v.len()], v));
            }
        }
    }
    let tensors: Vec<crate::export::Tensor<'_>> = named
        .iter()
        .map(|(name, shape, data)| crate::export::Tensor {
            name,
            shape: shape.clone(),
            data,
        })
        .collect();
    save(dir, state, &tensors, optimizer, order)
}

/// `tensors` with every name prefixed.
fn prefixed(prefix: &str, tensors: NamedTensors) -> NamedTensors {
    tensors
        .into_iter()
        .map(|(n, s, v)| (format!("{prefix}{n}"), s, v))
        .collect()
}

/// What a checkpoint gives back to the trainer besides the tables (restored in place).
pub(super) struct Restored {
    pub(super) net: CtrNet,
    pub(super) learning_rate: f64,
    /// Burn's optimizer state of the dense layers, as saved.
    pub(super) optimizer: Vec<u8>,
    pub(super) order: Vec<u32>,
    pub(super) bad_epochs: usize,
    pub(super) best: Option<Best>,
    /// The epoch the checkpoint ends, and whether early stopping had ended the run.
    pub(super) epoch: usize,
    pub(super) stopped: bool,
    pub(super) reports: Vec<EpochReport>,
}

/// Restores `saved` (from `dir`, for messages): the tables into `tables` (values, moments, step,
/// learning rate), the rest returned; the training network on `devices.0`, the best epoch's on
/// `devices.1`. A missing or mis-shaped tensor is an error naming it.
pub(super) fn restore(
    dir: &Path,
    saved: Saved,
    arch: &Arch,
    tables: &mut Tables,
    devices: (&Device, &Device),
) -> Result<Restored, CtrError> {
    // Networks are copied out of the file's tensors; tables are moved out (no second copy).
    let mut t = saved.tensors.tensors;
    let bad = |e: String| err(dir, e);
    let net = {
        let get = |k: &str| t.get(&format!("net.{k}")).cloned();
        CtrNet::from_tensors(arch, &get, devices.0).map_err(bad)?
    };
    let mut take = |name: String| t.remove(&name).map(|x| x.1).ok_or(name);
    for (name, list, dim) in [
        ("emb", &mut tables.emb, arch.dim),
        ("first", &mut tables.first, 1),
    ] {
        for (j, table) in list.iter_mut().enumerate() {
            let state =
                take(format!("{name}.{j}.state")).map_err(|n| bad(format!("no tensor `{n}`")))?;
            *table = HostTable::from_state(state, dim)
                .ok_or_else(|| bad(format!("`{name}.{j}.state` is not [rows, 3 × {dim}]")))?;
        }
    }
    let st = saved.state;
    tables.step = st.step;
    tables.settings.learning_rate = st.learning_rate as f32;
    let best = match st.best {
        Some((auc, epoch)) => {
            let net = {
                let get = |k: &str| t.get(&format!("best.net.{k}")).cloned();
                CtrNet::from_tensors(arch, &get, devices.1).map_err(bad)?
            };
            let mut list = |name: &str, count: usize| -> Result<Vec<Vec<f32>>, CtrError> {
                (0..count)
                    .map(|j| {
                        t.remove(&format!("best.{name}.{j}"))
                            .map(|x| x.1)
                            .ok_or_else(|| bad(format!("no tensor `best.{name}.{j}`")))
                    })
                    .collect()
            };
            Some(Best {
                auc,
                epoch,
                net,
                emb: list("emb", tables.emb.len())?,
                first: list("first", tables.first.len())?,
            })
        }
        None => None,
    };
    Ok(Restored {
        net,
        learning_rate: st.learning_rate,
        optimizer: saved.optimizer,
        order: saved.order,
        bad_epochs: st.bad_epochs,
        best,
        epoch: st.epoch,
        stopped: st.stopped,
        reports: st.reports,
    })
}
