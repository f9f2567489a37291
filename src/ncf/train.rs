//! The epoch loop: Adam on mini-batches, per-epoch validation AUC, early stopping,
//! checkpoints.
//!
//! Each step costs O(batch), not O(table): the embedding tables live on the host
//! ([`super::embeddings`]), and each batch's first-layer input `[batch, 2D + fu + fi + fr]` is
//! assembled on the host (embedding rows, side rows, row features), uploaded as one leaf tensor,
//! and its gradient read back after `backward()`; the embedding columns of that gradient update
//! the tables' rows. Labels are uploaded once per epoch and sliced per batch; the loss is
//! accumulated on the device and read back once per epoch.

use super::checkpoint::{self, Checkpoint, RunState};
use super::data::{
    Batch, EpochRows, NegativeSampler, build_epoch, check_rows, check_side, epoch_rng,
};
use super::embeddings::GradRows;
use super::embeddings::{self, AdamSettings};
use super::model::{Arch, BatchInput, NcfNet, Weights, bce_with_logits};
use super::tables::TableState;
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
    let settings = AdamSettings::new(
        params.learning_rate,
        params.weight_decay,
        params.embedding_optimizer,
    );
    let (mut net, mut tables, mut run) = match saved {
        Some(Checkpoint {
            weights,
            optimizer,
            state,
            best_weights,
            table_moments,
            table_step,
        }) => {
            optim = optim
                .from_bytes(optimizer)
                .map_err(|e| NcfError::CheckpointMismatch {
                    path: checkpoint.map(|p| p.to_path_buf()).unwrap_or_default(),
                    reason: format!("optimizer state unreadable: {e:?}"),
                })?;
            (
                NcfNet::from_weights(&arch, &weights, &device),
                TableState::new(&weights, &arch, settings, Some(table_moments), table_step),
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
                TableState::new(&weights, &arch, settings, None, 0),
                Run::default(),
            )
        }
    };
    let inputs = Inputs {
        side,
        row_features: std::mem::take(&mut train.row_features),
        fr: train.fr,
    };
    let train: &TrainSet = train;
    let keep_best = params.keep_best && valid.is_some();
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
            &mut tables,
            params,
            &arch,
            train,
            &rows,
            &inputs,
            &mut rng,
            &device,
            bar.as_ref(),
        )?;
        net = next;
        let seconds = t0.elapsed().as_secs_f64();
        let weights = tables.weights(&net)?;
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
                "loss {loss:.5}, valid AUC {}, {} samples",
                valid_auc.map_or("-".to_string(), |a| format!("{a:.4}")),
                crate::report::rate(report.samples_per_second())
            ));
        }
        run.record(&report, &weights, params.early_stopping, keep_best);
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
                &tables,
                &run.state,
                run.best_weights.as_ref(),
            )?;
        }
    }
    let keep = params.early_stopping.is_some() || keep_best;
    let weights = match (keep, run.best_weights) {
        (true, Some(best)) => best,
        _ => tables.weights(&net)?,
    };
    drop(tables);
    NcfTrained::new(arch, weights, side.clone(), run.state.reports)
}

/// Mutable run bookkeeping (what a checkpoint restores).
#[derive(Default)]
pub(crate) struct Run {
    pub(crate) state: RunState,
    pub(crate) best_weights: Option<Weights>,
}

impl Run {
    /// Books an epoch. With `keep_best` (or a patience) the weights of the epoch with the best
    /// validation AUC are kept; with a patience, training stops after that many epochs without
    /// a better one.
    pub(crate) fn record(
        &mut self,
        report: &EpochReport,
        weights: &Weights,
        patience: Option<usize>,
        keep_best: bool,
    ) {
        let s = &mut self.state;
        s.epochs_done = report.epoch;
        s.reports.push(report.clone());
        if patience.is_none() && !keep_best {
            return;
        }
        match (report.valid_auc, s.best_auc) {
            (Some(auc), best) if best.is_none_or(|b| auc > b) => {
                s.best_auc = Some(auc);
                s.best_epoch = report.epoch;
                self.best_weights = Some(weights.clone());
            }
            _ => {}
        }
        if let Some(patience) = patience
            && report.epoch - s.best_epoch >= patience
        {
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

/// Constant inputs of the batches, on the host: the side tables and the train rows' features.
struct Inputs<'a> {
    side: &'a SideTables,
    /// `[train rows, fr]`; a batch row takes its features via `Batch::source`.
    row_features: Vec<f32>,
    fr: usize,
}

impl Inputs<'_> {
    /// The first-layer input of a batch, row-major `[len, 2D + fu + fi + fr]`.
    fn assemble(&self, tables: &TableState, batch: &Batch) -> Vec<f32> {
        let s = self.side;
        let (d, fu, fi, fr) = (tables.tables[0].dim, s.fu, s.fi, self.fr);
        let mut out = Vec::with_capacity(batch.users.len() * (2 * d + fu + fi + fr));
        for p in 0..batch.users.len() {
            let (u, i) = (batch.users[p] as usize, batch.items[p] as usize);
            out.extend_from_slice(tables.tables[0].row(u));
            out.extend_from_slice(tables.tables[1].row(i));
            out.extend_from_slice(&s.user_side[u * fu..(u + 1) * fu]);
            out.extend_from_slice(&s.item_side[i * fi..(i + 1) * fi]);
            if fr > 0 {
                let r = batch.source[p] as usize;
                out.extend_from_slice(&self.row_features[r * fr..(r + 1) * fr]);
            }
        }
        out
    }

    /// Prefetches the row-feature rows of a batch.
    fn prefetch(&self, batch: &Batch) {
        let fr = self.fr;
        if fr > 0 {
            for &r in &batch.source {
                let r = r as usize;
                embeddings::prefetch_slice(&self.row_features[r * fr..(r + 1) * fr]);
            }
        }
    }
}

/// One pass over `rows` in batches; returns the updated network and the mean loss. The
/// network's dense layers step with Burn's Adam; each batch's input is a leaf tensor assembled
/// from `tables` on the host, and its embedding columns' gradient updates the tables
/// ([`embeddings::step`]).
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    mut net: NcfNet,
    optim: &mut ModuleOptimizer,
    tables: &mut TableState,
    params: &NcfParams,
    arch: &Arch,
    train: &TrainSet,
    rows: &EpochRows,
    inputs: &Inputs<'_>,
    rng: &mut ChaCha8Rng,
    device: &Device,
    bar: Option<&ProgressBar>,
) -> Result<(NcfNet, f64), NcfError> {
    let n = rows.len();
    let d = arch.embedding_dim;
    let width = arch.input_dim();
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let b = params.batch_size;
    let (mut cur, mut next) = (Batch::default(), Batch::default());
    rows.batch(train, 0..b.min(n), &mut cur);
    for (k, start) in (0..n).step_by(b).enumerate() {
        let end = (start + b).min(n);
        let len = end - start;
        let x = inputs.assemble(tables, &cur);
        // The next batch's random reads are issued now and land while this batch computes.
        rows.batch(train, end..(end + b).min(n), &mut next);
        tables.prefetch(&next.users, &next.items);
        inputs.prefetch(&next);
        let ids = [&cur.users[..], &cur.items[..]];
        let x = Tensor::<2>::from_data(TensorData::new(x, [len, width]), device).require_grad();
        let gmf: Vec<Tensor<2>> = tables.tables[2..]
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let mut rows = Vec::new();
                t.gather(ids[j % 2], &mut rows);
                Tensor::<2>::from_data(TensorData::new(rows, [len, d]), device).require_grad()
            })
            .collect();
        let input = BatchInput {
            x: x.clone(),
            gmf: (gmf.len() == 2).then(|| (gmf[0].clone(), gmf[1].clone())),
        };
        let y = Tensor::<1>::from_data(TensorData::new(cur.labels.clone(), [len]), device);
        let masks = dropout_masks(params.dropout, &arch.hidden, len, rng, device);
        let logits = net.forward(input, &masks);
        let loss = bce_with_logits(logits, y, params.pos_weight);
        loss_sum = loss_sum + loss.clone().detach().mul_scalar(len as f64);
        let mut grads = loss.backward();
        tables.step += 1;
        let read = |leaf: &Tensor<2>, grads: &mut burn::tensor::Gradients| {
            leaf.grad_remove(grads)
                .ok_or_else(|| NcfError::Tensor("an embedding batch got no gradient".into()))?
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| NcfError::Tensor(format!("reading an embedding gradient: {e:?}")))
        };
        let gx = read(&x, &mut grads)?;
        for (j, &table_ids) in ids.iter().enumerate().take(2) {
            let g = GradRows {
                values: &gx,
                stride: width,
                offset: j * d,
            };
            tables.step_table(j, table_ids, g);
        }
        for (j, leaf) in gmf.iter().enumerate() {
            let g = read(leaf, &mut grads)?;
            tables.step_table(2 + j, ids[j % 2], GradRows::dense(&g, d));
        }
        let grads = GradientsParams::from_grads(grads, &net);
        net = optim.step(params.learning_rate, net, grads);
        if let Some(bar) = bar
            && k % 16 == 15
        {
            bar.set_position(end as u64);
            let rate = end as f64 / bar.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{} samples", crate::report::rate(rate)));
        }
        std::mem::swap(&mut cur, &mut next);
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
    super::model::dropout_masks(p, hidden, batch, device, || rng.random::<f64>() < p)
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
