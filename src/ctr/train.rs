//! The one trainer of the CTR models: host embedding tables with row-sparse lazy Adam (shared
//! with NCF, [`crate::ncf::embeddings`]), Burn's Adam on the dense layers, per-epoch validation
//! AUC and log loss, learning-rate decay on plateau, early stopping and the best epoch kept.
//!
//! A step: the batch's rows of every field table are gathered on the host into one leaf
//! `[batch, F·D]` (sequence fields: the mean of their values' rows; an empty cell is zeros), plus
//! `[batch, F]` first-order weights for DeepFM; forward, backward; the leaf's gradient columns
//! update each table's touched rows. `embedding_l2` is L2 on those rows (λ·w added to their
//! gradient), so a step costs O(batch), never O(table).

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

use super::batch::{BatchIds, batch_input, dense_input, update};
use super::calibration::{Calibration, log_loss};
use super::checkpoint::{self, Best};
use super::clock::{Phase, StepClock};
use super::device::{DeviceBatch, DeviceTables};
use super::fields::FieldRows;
use super::net::{Arch, CtrNet};
use super::tables::Tables;
use super::trained::{CtrTrained, logits_with};
use super::{CtrError, CtrParams, EpochReport};
use crate::ncf::embeddings::AdamSettings;
use crate::ncf::model::bce_with_logits;

/// A labelled part encoded for the trainer: all of `rows`, or the rows `subset` names (the train
/// and validation parts carved from one encoding share it instead of copying it).
pub struct LabelledRows<'a> {
    pub rows: &'a FieldRows,
    /// 0/1 per row of `rows`.
    pub labels: &'a [f32],
    /// The rows of `rows` this part holds; None: every row.
    pub subset: Option<&'a [u32]>,
}

impl<'a> LabelledRows<'a> {
    /// Every row of `rows`.
    pub fn all(rows: &'a FieldRows, labels: &'a [f32]) -> Self {
        Self {
            rows,
            labels,
            subset: None,
        }
    }

    /// The part's row indices into `rows`.
    fn indices(&self) -> Vec<u32> {
        match self.subset {
            Some(s) => s.to_vec(),
            None => (0..self.rows.n as u32).collect(),
        }
    }
}

/// Inverted-dropout masks from the epoch RNG, one `[batch, h]` per hidden layer (an entry is
/// dropped when a u32 draw falls below p · 2³²).
fn dropout_masks(
    p: f64,
    hidden: &[usize],
    batch: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Vec<Tensor<2>> {
    let cut = (p * u32::MAX as f64) as u32;
    crate::ncf::model::dropout_masks(p, hidden, batch, device, || rng.random::<u32>() < cut)
}

/// Trains a CTR model on `train`; `valid` drives early stopping, the learning-rate decay and
/// the choice of the kept epoch (without it every epoch runs and the last is kept).
#[allow(clippy::too_many_arguments)]
pub fn train(
    params: &CtrParams,
    arch: Arch,
    table_rows: &[usize],
    train: LabelledRows<'_>,
    valid: Option<LabelledRows<'_>>,
    progress: bool,
    checkpoint: Option<&std::path::Path>,
    resume: bool,
) -> Result<CtrTrained, CtrError> {
    let mut order = train.indices();
    if order.is_empty() || train.labels.len() != train.rows.n {
        return Err(CtrError::Input(format!(
            "the train part has {} rows ({} encoded) and {} labels",
            order.len(),
            train.rows.n,
            train.labels.len()
        )));
    }
    let n = order.len();
    let valid_rows = valid.as_ref().map(|v| v.indices()).unwrap_or_default();
    let valid_labels: Vec<f32> = match &valid {
        Some(v) => valid_rows.iter().map(|&r| v.labels[r as usize]).collect(),
        None => Vec::new(),
    };
    let device = params
        .backend
        .train_device()
        .map_err(|e| CtrError::Tensor(e.to_string()))?;
    let infer = params
        .backend
        .device()
        .map_err(|e| CtrError::Tensor(e.to_string()))?;
    let mut rng = crate::ncf::data::epoch_rng(params.seed, 0);
    let mut net = CtrNet::init(&arch, &mut rng, &device);
    let mut tables = Tables::new(
        table_rows,
        arch.dim,
        arch.kind == super::Kind::DeepFm,
        params.init_std,
        &mut rng,
    );
    tables.settings = AdamSettings::new(
        params.learning_rate,
        params.embedding_l2,
        params.embedding_optimizer,
    );
    let decay =
        (params.weight_decay > 0.0).then(|| WeightDecayConfig::new(params.weight_decay as f32));
    let mut optim: ModuleOptimizer = AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(decay)
        .init();
    let mut lr = params.learning_rate;
    let b = params.batch_size;
    let mut reports = Vec::new();
    let mut best: Option<Best> = None;
    // The validation logits of the last epoch and of the best one (for the calibration).
    let (mut epoch_logits, mut best_logits): (Vec<f32>, Option<Vec<f32>>) = (Vec::new(), None);
    let mut bad_epochs = 0usize;
    let mut first_epoch = 1;
    let fingerprint = format!(
        "{:016x}",
        super::fields::fnv1a(&format!(
            "{:?} {arch:?} {table_rows:?} {n} {} {}",
            // The epoch budget may change between a run and its resumption.
            CtrParams {
                epochs: 0,
                calibrate: false,
                ..params.clone()
            },
            order.iter().map(|&r| train.labels[r as usize]).sum::<f32>(),
            valid_rows.len()
        ))
    );
    if let (Some(dir), true) = (checkpoint, resume)
        && let Some(saved) = checkpoint::load(dir, &fingerprint)?
    {
        let r = checkpoint::restore(dir, saved, &arch, &mut tables, (&device, &infer))?;
        net = r.net;
        lr = r.learning_rate;
        optim = optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(r.optimizer))
            .map_err(|e| {
                CtrError::Input(format!(
                    "checkpoint {}: optimizer state unreadable: {e:?}",
                    dir.display()
                ))
            })?;
        if r.order.len() == n {
            order = r.order;
        }
        bad_epochs = r.bad_epochs;
        best = r.best;
        first_epoch = if r.stopped {
            params.epochs + 1
        } else {
            r.epoch + 1
        };
        reports = r.reports;
    }
    // Device tables start from the host ones (fresh or resumed) and are the truth while an
    // epoch runs.
    let plain = device.clone().inner();
    let dev = params
        .device_tables
        .then(|| DeviceTables::new(&tables.emb, &tables.first, &plain));
    let mut learner = Learner { optim, tables, dev };
    let mut steps = Steps {
        ids: BatchIds::default(),
        next_ids: BatchIds::default(),
        emb: Vec::new(),
        first: Vec::new(),
        clock: StepClock::from_env(&plain),
    };
    let team = crate::team::Team::from_rayon();
    let place = Place {
        device: &device,
        plain: &plain,
        team: &team,
    };
    for epoch in first_epoch..=params.epochs {
        let t0 = Instant::now();
        let mut rng = crate::ncf::data::epoch_rng(params.seed, epoch);
        order.shuffle(&mut rng);
        let bar = progress.then(|| epoch_bar(params.name, epoch, params.epochs, n));
        let chunks: Vec<&[u32]> = order.chunks(b).collect();
        let (stepped, loss_sum) = run_epoch(
            net,
            &mut learner,
            (params, &arch, lr),
            &train,
            &chunks,
            &mut rng,
            &mut steps,
            &place,
            bar.as_ref(),
        )?;
        net = stepped;
        if let Some(line) = steps.clock.take_line(params.name, epoch) {
            eprintln!("{line}");
        }
        if let Some(dt) = &learner.dev {
            // Once per epoch: validation, the kept epoch and checkpoints read the host copy.
            (learner.tables.emb, learner.tables.first) = dt.to_host()?;
        }
        let total = loss_sum
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| CtrError::Tensor(format!("reading the epoch loss: {e:?}")))?;
        let loss = f64::from(total.first().copied().unwrap_or(f32::NAN)) / n as f64;
        let seconds = t0.elapsed().as_secs_f64();
        let (valid_auc, valid_logloss) = match &valid {
            Some(v) => {
                let frozen_net = net.valid();
                let z = logits_with(
                    (&arch, &frozen_net),
                    &learner.tables.emb,
                    &learner.tables.first,
                    v.rows,
                    &valid_rows,
                    &infer,
                    &team,
                )?;
                let (auc, logloss) = valid_figures(&z, &valid_labels);
                epoch_logits = z;
                (auc, Some(logloss))
            }
            None => (None, None),
        };
        let report = EpochReport {
            epoch,
            loss,
            valid_auc,
            valid_logloss,
            learning_rate: lr,
            seconds,
            samples: n,
        };
        if let Some(bar) = bar {
            bar.finish_with_message(format!(
                "loss {loss:.5}, valid AUC {}, log loss {}",
                valid_auc.map_or("-".into(), |a| format!("{a:.4}")),
                valid_logloss.map_or("-".into(), |a| format!("{a:.4}")),
            ));
        }
        reports.push(report);
        let mut stop = false;
        if let Some(auc) = valid_auc {
            if best.as_ref().is_none_or(|b| auc > b.auc) {
                let (emb, first) = learner.tables.values();
                best = Some(Best {
                    auc,
                    epoch,
                    net: net.valid(),
                    emb,
                    first,
                });
                best_logits = Some(std::mem::take(&mut epoch_logits));
                bad_epochs = 0;
            } else {
                bad_epochs += 1;
                if params.lr_decay_on_plateau {
                    lr = (lr * 0.1).max(1e-6);
                    learner.tables.settings.learning_rate = lr as f32;
                }
                stop = params.early_stopping > 0 && bad_epochs >= params.early_stopping;
            }
        }
        if let Some(dir) = checkpoint {
            let state = checkpoint::State {
                fingerprint: fingerprint.clone(),
                epoch,
                learning_rate: lr,
                step: learner.tables.step,
                bad_epochs,
                best: best.as_ref().map(|b| (b.auc, b.epoch)),
                reports: reports.clone(),
                stopped: stop,
            };
            let bytes = learner
                .optim
                .into_bytes()
                .map_err(|e| CtrError::Tensor(format!("serialising the optimizer: {e:?}")))?;
            checkpoint::save_epoch(
                dir,
                &state,
                &net,
                &learner.tables,
                best.as_ref(),
                &bytes,
                &order,
            )?;
        }
        if stop {
            break;
        }
    }
    let (net, emb, first, best_epoch) = match best {
        Some(b) => (b.net, b.emb, b.first, b.epoch),
        None => {
            let (emb, first) = learner.tables.values();
            (net.valid(), emb, first, reports.len())
        }
    };
    let mut trained = CtrTrained {
        arch,
        net,
        emb,
        first,
        reports,
        best_epoch,
        calibration: Calibration::IDENTITY,
        calibrated_logloss: None,
        device: infer,
    };
    if let (Some(v), true) = (&valid, params.calibrate) {
        // The kept epoch's validation logits (computed again after a resume that kept an
        // earlier epoch).
        let z = match best_logits {
            Some(z) if z.len() == valid_rows.len() => z,
            _ => trained.logits(v.rows, &valid_rows)?,
        };
        trained.calibrate(&z, &valid_labels);
    }
    Ok(trained)
}

/// The model a step changes besides the network (moved through each step): the network's
/// optimizer, the host tables and, when they live there, the device tables.
struct Learner {
    optim: ModuleOptimizer,
    tables: Tables,
    dev: Option<DeviceTables>,
}

/// What the steps reuse: this batch's ids, the next batch's (filled while this batch runs the
/// network), the gathered rows, and the step clock.
struct Steps {
    ids: BatchIds,
    next_ids: BatchIds,
    emb: Vec<f32>,
    first: Vec<f32>,
    clock: StepClock,
}

/// Where the steps run: the training device (autodiff), its plain device, the thread team.
struct Place<'a> {
    device: &'a Device,
    plain: &'a Device,
    team: &'a crate::team::Team,
}

/// One epoch's steps over `chunks` (the shuffled rows cut into batches): forward, backward,
/// every table's update and the network's Adam step at `lr`. Returns the network after the last
/// step and the loss summed over the rows (a device scalar, read once per epoch).
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    mut net: CtrNet,
    l: &mut Learner,
    (params, arch, lr): (&CtrParams, &Arch, f64),
    train: &LabelledRows<'_>,
    chunks: &[&[u32]],
    rng: &mut ChaCha8Rng,
    s: &mut Steps,
    place: &Place<'_>,
    bar: Option<&ProgressBar>,
) -> Result<(CtrNet, Tensor<1>), CtrError> {
    let (device, team) = (place.device, place.team);
    let rows: usize = chunks.iter().map(|c| c.len()).sum();
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    s.clock.start();
    s.ids.fill(train.rows, chunks[0], team);
    s.clock.lap(Phase::Ids);
    for (k, &chunk) in chunks.iter().enumerate() {
        let len = chunk.len();
        if k > 0 {
            s.clock.start();
        }
        let (input, dbatch) = step_input(
            arch,
            &l.tables,
            l.dev.as_ref(),
            train.rows,
            &s.ids,
            chunk,
            (&mut s.emb, &mut s.first),
            (device, place.plain),
            team,
        );
        let (emb_leaf, first_leaf) = (input.emb.clone(), input.first.clone());
        let y: Vec<f32> = chunk.iter().map(|&r| train.labels[r as usize]).collect();
        let y = Tensor::<1>::from_data(TensorData::new(y, [len]), device);
        let masks = dropout_masks(params.dropout, &arch.hidden, len, rng, device);
        s.clock.lap(Phase::Input);
        // While this thread runs the network, the team fills the next batch's ids and (host
        // tables) asks for their table rows, so the next gather and update find them cached.
        let next = chunks
            .get(k + 1)
            .map(|c| s.next_ids.fill_job(train.rows, c));
        let mut passed = None;
        let pass = || {
            let logits = net.forward(arch, input, &masks);
            let loss = bce_with_logits(logits, y, 1.0);
            s.clock.lap(Phase::Forward);
            let grads = loss.backward();
            passed = Some((loss.detach(), grads));
        };
        match (&next, l.dev.is_some()) {
            (Some(job), false) => team.run(job.parts(), pass, |j| {
                job.run(j);
                job.prefetch(j, &l.tables.emb, &l.tables.first);
            }),
            (Some(job), true) => team.run(job.parts(), pass, |j| job.run(j)),
            (None, _) => pass(),
        }
        drop(next);
        let (loss, mut grads) =
            passed.ok_or_else(|| CtrError::Tensor("the forward pass did not run".into()))?;
        loss_sum = loss_sum + loss.mul_scalar(len as f64);
        let leaf_grads =
            LeafGrads::take(&emb_leaf, first_leaf.as_ref(), &mut grads, l.dev.is_some())?;
        let grads_net = grads;
        s.clock.lap(Phase::Backward);
        l.tables.step += 1;
        // The dense layers' optimizer step runs on this thread while the team updates the
        // tables (host placement); it needs only the network's gradients.
        let mut stepped = None;
        let dense_step = || {
            let grads = GradientsParams::from_grads(grads_net, &net);
            stepped = Some(l.optim.step(lr, net, grads));
        };
        update_tables(
            &mut l.tables,
            l.dev.as_mut().zip(dbatch.as_ref()),
            &s.ids,
            leaf_grads,
            (arch.dim, emb_leaf.dims()[1]),
            team,
            dense_step,
        )?;
        std::mem::swap(&mut s.ids, &mut s.next_ids);
        s.clock.lap(Phase::Update);
        net = stepped.ok_or_else(|| CtrError::Tensor("the dense step did not run".into()))?;
        if let Some(bar) = bar
            && k % 8 == 7
        {
            bar.set_position(((k + 1) * params.batch_size).min(rows) as u64);
        }
    }
    Ok((net, loss_sum))
}

/// Validation AUC (none with one class) and log loss of logits `z` against 0/1 `labels`, with
/// the network's own sigmoid.
fn valid_figures(z: &[f32], labels: &[f32]) -> (Option<f64>, f64) {
    let p: Vec<f32> = z
        .iter()
        .map(|&z| Calibration::IDENTITY.probability(z))
        .collect();
    let classes: Vec<bool> = labels.iter().map(|&y| y > 0.5).collect();
    let scores: Vec<f64> = p.iter().map(|&s| f64::from(s)).collect();
    (
        crate::metrics::roc_auc(&classes, &scores).ok(),
        log_loss(labels, &p),
    )
}

/// A batch's network input: with host tables the gathered rows as leaves; with device tables
/// only the ids travel, the rows are gathered and pooled on the device (`devices.1`, plain) and
/// become the leaves there, and the batch's device ids are returned for the update.
#[allow(clippy::too_many_arguments)]
fn step_input(
    arch: &Arch,
    tables: &Tables,
    dev: Option<&DeviceTables>,
    rows: &FieldRows,
    ids: &BatchIds,
    chunk: &[u32],
    (e, f): (&mut Vec<f32>, &mut Vec<f32>),
    (device, plain): (&Device, &Device),
    team: &crate::team::Team,
) -> (super::net::Input, Option<DeviceBatch>) {
    let Some(dt) = dev else {
        let input = batch_input(
            arch,
            &tables.emb,
            &tables.first,
            rows,
            ids,
            chunk,
            e,
            f,
            device,
            true,
            team,
        );
        return (input, None);
    };
    let db = DeviceTables::batch(ids, chunk.len(), plain);
    let leaf = |t: &[super::device::DeviceTable]| {
        DeviceTables::pooled(t, &db, plain)
            .autodiff()
            .require_grad()
    };
    let input = super::net::Input {
        emb: leaf(&dt.emb),
        first: (!dt.first.is_empty()).then(|| leaf(&dt.first)),
        dense: dense_input(arch, rows, chunk, device),
    };
    (input, Some(db))
}

/// The gradients of a step's leaves (embedding rows, DeepFM's first-order weights): read to the
/// host for host tables, kept as tensors for device tables. One per step, moved once: boxing
/// the larger variant would only add an allocation per step.
#[allow(clippy::large_enum_variant)]
enum LeafGrads {
    Host(Vec<f32>, Option<Vec<f32>>),
    Device(Tensor<2>, Option<Tensor<2>>),
}

impl LeafGrads {
    /// Removes the leaves' gradients from `grads` (what remains is the network's).
    fn take(
        emb_leaf: &Tensor<2>,
        first_leaf: Option<&Tensor<2>>,
        grads: &mut burn::tensor::Gradients,
        on_device: bool,
    ) -> Result<LeafGrads, CtrError> {
        let mut grad = |leaf: &Tensor<2>| {
            leaf.grad_remove(grads)
                .ok_or_else(|| CtrError::Tensor("an embedding batch got no gradient".into()))
        };
        let emb = grad(emb_leaf)?;
        let first = first_leaf.map(&mut grad).transpose()?;
        if on_device {
            return Ok(LeafGrads::Device(emb, first));
        }
        let read = |t: Tensor<2>| {
            t.into_data()
                .try_into_vec::<f32>()
                .map_err(|e| CtrError::Tensor(format!("reading an embedding gradient: {e:?}")))
        };
        Ok(LeafGrads::Host(read(emb)?, first.map(read).transpose()?))
    }
}

/// Applies the leaves' gradients to the tables: on the device when they live there, else row by
/// row on the host, a table per team part. `dense_step` (the network's optimizer step) runs on
/// this thread meanwhile.
#[allow(clippy::too_many_arguments)]
fn update_tables(
    tables: &mut Tables,
    dev: Option<(&mut DeviceTables, &DeviceBatch)>,
    ids: &BatchIds,
    grads: LeafGrads,
    (dim, width): (usize, usize),
    team: &crate::team::Team,
    dense_step: impl FnOnce(),
) -> Result<(), CtrError> {
    let (s, step) = (&tables.settings, tables.step);
    match (grads, dev) {
        (LeafGrads::Device(emb, first), Some((dt, db))) => {
            DeviceTables::update(&mut dt.emb, db, s, step, emb);
            if let Some(g) = first {
                DeviceTables::update(&mut dt.first, db, s, step, g);
            }
            dense_step();
        }
        (LeafGrads::Host(emb, first), None) => {
            let t = &mut tables.emb;
            let c = &mut tables.coal_emb;
            update(t, c, s, step, ids, &emb, dim, width, team, dense_step);
            if let Some(g) = first {
                let (t, c) = (&mut tables.first, &mut tables.coal_first);
                let fields = t.len();
                update(t, c, s, step, ids, &g, 1, fields, team, || {});
            }
        }
        _ => {
            return Err(CtrError::Tensor(
                "leaf gradients and table placement disagree".into(),
            ));
        }
    }
    Ok(())
}

fn epoch_bar(name: &str, epoch: usize, epochs: usize, rows: usize) -> ProgressBar {
    let bar = ProgressBar::new(rows as u64);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("{name} epoch {epoch}/{epochs}"));
    bar
}
