//! The epoch loop: Adam on mini-batches, per-epoch validation AUC, early stopping,
//! checkpoints.
//!
//! Per-batch overhead is kept out of our code: each epoch's rows are assembled once into
//! reused buffers, uploaded once, and batches are `slice`s of those tensors; the loss is
//! accumulated on the device and read back once per epoch.

use super::checkpoint::{self, Checkpoint, RunState};
use super::data::{EpochRows, NegativeSampler, build_epoch, check_rows, check_side, epoch_rng};
use super::model::{Arch, NcfNet, Weights, bce_with_logits};
use super::trained::{dense_input, side_tensor};
use super::{EpochReport, NcfError, NcfParams, NcfTrained, SideTables, TrainSet, ValidSet};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

/// A validation set and the AUC function to score it with (e.g. [`super::rank_auc`] or the
/// crate's metrics module): `auc(labels, scores)`, None when undefined.
#[derive(Clone, Copy)]
pub struct Validation<'a> {
    pub set: &'a ValidSet,
    pub auc: &'a AucFn,
}

/// `auc(labels, scores)`: area under the ROC curve, None when undefined.
pub type AucFn = dyn Fn(&[bool], &[f64]) -> Option<f64>;

/// Adam as configured by `params`: PyTorch's epsilon 1e-8 (Burn's default is 1e-5) and
/// PyTorch-style L2 weight decay added to the gradient.
pub fn optimizer(params: &NcfParams) -> ModuleOptimizer {
    let decay =
        (params.weight_decay > 0.0).then(|| WeightDecayConfig::new(params.weight_decay as f32));
    AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(decay)
        .init()
}

/// The architecture implied by the parameters and data.
pub fn arch_of(params: &NcfParams, side: &SideTables, train: &TrainSet) -> Arch {
    Arch {
        variant: params.variant,
        embedding_dim: params.embedding_dim,
        hidden: params.hidden.clone(),
        n_users: side.n_users,
        n_items: side.n_items,
        fu: side.fu,
        fi: side.fi,
        fr: train.fr,
    }
}

fn check_inputs(
    params: &NcfParams,
    side: &SideTables,
    train: &TrainSet,
    valid: Option<&Validation<'_>>,
) -> Result<Arch, NcfError> {
    params.validate()?;
    check_side(side)?;
    let arch = arch_of(params, side, train);
    if train.labels.is_empty() {
        return Err(NcfError::InvalidInput {
            reason: "the train set has no rows".into(),
        });
    }
    if train.implicit {
        if train.fr != 0 {
            return Err(NcfError::InvalidInput {
                reason: format!(
                    "implicit mode takes no per-row features (got fr = {}): sampled negatives \
                     have none; use user/item side tables instead",
                    train.fr
                ),
            });
        }
        if params.negatives == 0 {
            return Err(NcfError::InvalidParam {
                name: "negatives",
                value: "0".into(),
                expected: "an integer >= 1 in implicit mode",
            });
        }
    }
    check_rows(train, &arch, "train", train.implicit)?;
    match valid {
        Some(v) => check_rows(v.set, &arch, "valid", false)?,
        None if params.early_stopping.is_some() => {
            return Err(NcfError::InvalidInput {
                reason: "early_stopping needs a validation set".into(),
            });
        }
        None => {}
    }
    Ok(arch)
}

/// Trains the model. With `checkpoint = Some(dir)` the full state is saved there after every
/// epoch; with `resume` a saved state is continued (same seed → the same result as an
/// uninterrupted run on the CPU backends). `on_epoch` sees every finished epoch; `progress`
/// draws a progress bar per epoch on stderr.
#[allow(clippy::too_many_arguments)]
pub fn train(
    params: &NcfParams,
    side: &SideTables,
    train: &TrainSet,
    valid: Option<Validation<'_>>,
    checkpoint: Option<&Path>,
    resume: bool,
    on_epoch: &mut dyn FnMut(&EpochReport),
    progress: bool,
) -> Result<NcfTrained, NcfError> {
    let mut owned = train.clone();
    train_owned(
        params, side, &mut owned, valid, checkpoint, resume, on_epoch, progress,
    )
}

/// [`train`] that moves `train.row_features` into the device tensor instead of copying it
/// (at 10 M rows × 14 features that copy is half a gigabyte); `train.row_features` is empty
/// afterwards.
#[allow(clippy::too_many_arguments)]
pub fn train_owned(
    params: &NcfParams,
    side: &SideTables,
    train: &mut TrainSet,
    valid: Option<Validation<'_>>,
    checkpoint: Option<&Path>,
    resume: bool,
    on_epoch: &mut dyn FnMut(&EpochReport),
    progress: bool,
) -> Result<NcfTrained, NcfError> {
    let arch = check_inputs(params, side, train, valid.as_ref())?;
    let device = params.backend.train_device()?;
    let sampler = match train.implicit {
        true => Some(NegativeSampler::new(
            side.n_users,
            side.n_items,
            &train.users,
            &train.items,
        )?),
        false => None,
    };
    let fingerprint = match checkpoint {
        Some(_) => checkpoint::fingerprint(params, &arch, train),
        None => String::new(),
    };
    let saved = match (checkpoint, resume) {
        (Some(dir), true) => checkpoint::load(dir, &fingerprint, &arch)?,
        _ => None,
    };
    let mut optim = optimizer(params);
    let (mut net, mut run) = match saved {
        Some(Checkpoint {
            weights,
            optimizer,
            state,
            best_weights,
        }) => {
            optim = optim
                .from_bytes(optimizer)
                .map_err(|e| NcfError::CheckpointMismatch {
                    path: checkpoint.map(|p| p.to_path_buf()).unwrap_or_default(),
                    reason: format!("optimizer state unreadable: {e:?}"),
                })?;
            (
                NcfNet::from_weights(&arch, &weights, &device),
                Run {
                    state,
                    best_weights,
                },
            )
        }
        None => {
            let weights = Weights::init(&arch, params.init_std, &mut epoch_rng(params.seed, 0))?;
            (
                NcfNet::from_weights(&arch, &weights, &device),
                Run::default(),
            )
        }
    };
    let inputs = Inputs {
        user_side: side_tensor(&side.user_side, side.n_users, side.fu, &device),
        item_side: side_tensor(&side.item_side, side.n_items, side.fi, &device),
        row_features: (train.fr > 0).then(|| {
            let rows = std::mem::take(&mut train.row_features);
            Tensor::<2>::from_data(
                TensorData::new(rows, [train.labels.len(), train.fr]),
                &device,
            )
        }),
    };
    let train: &TrainSet = train;
    let mut rows = EpochRows::default();
    let mut order = Vec::new();
    while run.state.epochs_done < params.epochs && !run.state.stopped {
        let epoch = run.state.epochs_done + 1;
        let t0 = Instant::now();
        let mut rng = epoch_rng(params.seed, epoch);
        build_epoch(
            train,
            sampler.as_ref(),
            params.negatives,
            &mut rng,
            &mut order,
            &mut rows,
        );
        let bar = progress.then(|| epoch_bar(epoch, params.epochs, rows.len()));
        let (next, loss) = run_epoch(
            net,
            &mut optim,
            params,
            &arch,
            &rows,
            &inputs,
            &mut rng,
            &device,
            bar.as_ref(),
        )?;
        net = next;
        let seconds = t0.elapsed().as_secs_f64();
        let weights = net.weights()?;
        let valid_auc = match &valid {
            Some(v) => validation_auc(&arch, &weights, side, v)?,
            None => None,
        };
        let report = EpochReport {
            epoch,
            loss,
            valid_auc,
            seconds,
            samples: rows.len(),
        };
        if let Some(bar) = bar {
            bar.finish_with_message(format!(
                "loss {loss:.5}, valid AUC {}, {:.0} samples/s",
                valid_auc.map_or("-".to_string(), |a| format!("{a:.4}")),
                report.samples_per_second()
            ));
        }
        run.record(&report, &weights, params.early_stopping);
        on_epoch(&report);
        if let Some(dir) = checkpoint {
            let bytes = optim
                .into_bytes()
                .map_err(|e| NcfError::Tensor(format!("serialising the optimizer state: {e:?}")))?;
            checkpoint::save(
                dir,
                &fingerprint,
                &arch,
                &weights,
                &bytes,
                &run.state,
                run.best_weights.as_ref(),
            )?;
        }
    }
    let weights = match (params.early_stopping, run.best_weights) {
        (Some(_), Some(best)) => best,
        _ => net.weights()?,
    };
    NcfTrained::new(arch, weights, side.clone(), run.state.reports)
}

/// Mutable run bookkeeping (what a checkpoint restores).
#[derive(Default)]
pub(crate) struct Run {
    pub(crate) state: RunState,
    pub(crate) best_weights: Option<Weights>,
}

impl Run {
    pub(crate) fn record(
        &mut self,
        report: &EpochReport,
        weights: &Weights,
        patience: Option<usize>,
    ) {
        let s = &mut self.state;
        s.epochs_done = report.epoch;
        s.reports.push(report.clone());
        let Some(patience) = patience else { return };
        match (report.valid_auc, s.best_auc) {
            (Some(auc), best) if best.is_none_or(|b| auc > b) => {
                s.best_auc = Some(auc);
                s.best_epoch = report.epoch;
                self.best_weights = Some(weights.clone());
            }
            _ => {}
        }
        if report.epoch - s.best_epoch >= patience {
            s.stopped = true;
        }
    }
}

fn epoch_bar(epoch: usize, epochs: usize, rows: usize) -> ProgressBar {
    let bar = ProgressBar::new(rows as u64);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    bar
}

fn upload_i32(v: &[i32], device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

/// Constant inputs, uploaded once: the side tables and the train rows' features.
struct Inputs {
    user_side: Option<Tensor<2>>,
    item_side: Option<Tensor<2>>,
    /// `[train rows, fr]`; an epoch row gathers its features via `EpochRows::source`.
    row_features: Option<Tensor<2>>,
}

/// One pass over `rows` in batches; returns the updated network and the mean loss.
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    mut net: NcfNet,
    optim: &mut ModuleOptimizer,
    params: &NcfParams,
    arch: &Arch,
    rows: &EpochRows,
    inputs: &Inputs,
    rng: &mut ChaCha8Rng,
    device: &Device,
    bar: Option<&ProgressBar>,
) -> Result<(NcfNet, f64), NcfError> {
    let n = rows.len();
    let users = upload_i32(&rows.users, device);
    let items = upload_i32(&rows.items, device);
    let labels = Tensor::<1>::from_data(TensorData::new(rows.labels.clone(), [n]), device);
    let source = (inputs.row_features.is_some()).then(|| upload_i32(&rows.source, device));
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let b = params.batch_size;
    for (k, start) in (0..n).step_by(b).enumerate() {
        let end = (start + b).min(n);
        let u = users.clone().narrow(0, start, end - start);
        let i = items.clone().narrow(0, start, end - start);
        let y = labels.clone().narrow(0, start, end - start);
        let x = match (&inputs.row_features, &source) {
            (Some(f), Some(s)) => {
                Some(f.clone().select(0, s.clone().narrow(0, start, end - start)))
            }
            _ => None,
        };
        let dense = dense_input(&inputs.user_side, &inputs.item_side, &u, &i, x);
        let masks = dropout_masks(params.dropout, &arch.hidden, end - start, rng, device);
        let logits = net.forward(u, i, dense, &masks);
        let loss = bce_with_logits(logits, y, params.pos_weight);
        loss_sum = loss_sum + loss.clone().detach().mul_scalar((end - start) as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(params.learning_rate, net, grads);
        if let Some(bar) = bar
            && k % 16 == 15
        {
            bar.set_position(end as u64);
            let rate = end as f64 / bar.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{rate:.0} samples/s"));
        }
    }
    let total = loss_sum
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| NcfError::Tensor(format!("reading the epoch loss: {e:?}")))?;
    let mean = total.first().copied().unwrap_or(f32::NAN) as f64 / n.max(1) as f64;
    Ok((net, mean))
}

/// Inverted-dropout masks, one `[batch, h]` per hidden layer, from the epoch RNG.
fn dropout_masks(
    p: f64,
    hidden: &[usize],
    batch: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Vec<Tensor<2>> {
    if p <= 0.0 {
        return Vec::new();
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    hidden
        .iter()
        .map(|&h| {
            let v: Vec<f32> = (0..batch * h)
                .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
                .collect();
            Tensor::<2>::from_data(TensorData::new(v, [batch, h]), device)
        })
        .collect()
}

fn validation_auc(
    arch: &Arch,
    weights: &Weights,
    side: &SideTables,
    valid: &Validation<'_>,
) -> Result<Option<f64>, NcfError> {
    let model = NcfTrained::new(arch.clone(), weights.clone(), side.clone(), Vec::new())?;
    let set = valid.set;
    let scores = model.predict(&set.users, &set.items, &set.row_features)?;
    let scores: Vec<f64> = scores.into_iter().map(f64::from).collect();
    let labels: Vec<bool> = set.labels.iter().map(|&y| y == 1.0).collect();
    Ok((valid.auc)(&labels, &scores))
}
