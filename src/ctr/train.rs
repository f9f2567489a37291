//! The one trainer of the CTR models: host embedding tables with row-sparse lazy Adam (shared
//! with NCF, [`crate::ncf::embeddings`]), Burn's Adam on the dense layers, per-epoch validation
//! AUC and log loss, learning-rate decay on plateau, early stopping and the best epoch kept.
//!
//! Each epoch's steps are `step`'s; here: the tables and network set up (or restored
//! from a checkpoint), the epochs, validation after each, the kept epoch, checkpoints, and the
//! calibration fit on validation at the end. `embedding_l2` is L2 on the rows a batch touches
//! (λ·w added to their gradient), so a step costs O(batch), never O(table).

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use std::time::Instant;

use super::batch::BatchIds;
use super::calibration::{Calibration, log_loss};
use super::checkpoint::{self, Best};
use super::clock::StepClock;
use super::device::DeviceTables;
use super::fields::LabelledRows;
use super::net::{Arch, CtrNet};
use super::step::{Learner, Place, Steps, run_epoch};
use super::tables::Tables;
use super::trained::{CtrTrained, logits_with};
use super::{CtrError, CtrParams, EpochReport};
use crate::ncf::embeddings::AdamSettings;

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

fn epoch_bar(name: &str, epoch: usize, epochs: usize, rows: usize) -> ProgressBar {
    let bar = ProgressBar::new(rows as u64);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("{name} epoch {epoch}/{epochs}"));
    bar
}
