//! One epoch's steps of the CTR trainer ([`super::train`] runs the epochs around them).
//!
//! A step: the batch's rows of every field table are gathered on the host into one leaf
//! `[batch, F·D]` (sequence fields: the mean of their values' rows; an empty cell is zeros), plus
//! `[batch, F]` first-order weights for DeepFM (with device tables only the ids travel and the
//! rows are gathered there); forward, backward; the leaf's gradient columns update each table's
//! touched rows while the network's Adam step runs beside them. While this thread runs the
//! network, the team fills the next batch's ids.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::ProgressBar;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::batch::{BatchIds, batch_input, dense_input, update};
use super::clock::{Phase, StepClock};
use super::device::{DeviceBatch, DeviceTables};
use super::fields::{FieldRows, LabelledRows};
use super::net::{Arch, CtrNet};
use super::tables::Tables;
use super::{CtrError, CtrParams};
use crate::ncf::model::bce_with_logits;

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

/// The model a step changes besides the network (moved through each step): the network's
/// optimizer, the host tables and, when they live there, the device tables.
pub(super) struct Learner {
    pub(super) optim: ModuleOptimizer,
    pub(super) tables: Tables,
    pub(super) dev: Option<DeviceTables>,
}

/// What the steps reuse: this batch's ids, the next batch's (filled while this batch runs the
/// network), the gathered rows, and the step clock.
pub(super) struct Steps {
    pub(super) ids: BatchIds,
    pub(super) next_ids: BatchIds,
    pub(super) emb: Vec<f32>,
    pub(super) first: Vec<f32>,
    pub(super) clock: StepClock,
}

/// Where the steps run: the training device (autodiff), its plain device, the thread team.
pub(super) struct Place<'a> {
    pub(super) device: &'a Device,
    pub(super) plain: &'a Device,
    pub(super) team: &'a crate::team::Team,
}

/// One epoch's steps over `chunks` (the shuffled rows cut into batches): forward, backward,
/// every table's update and the network's Adam step at `lr`. Returns the network after the last
/// step and the loss summed over the rows (a device scalar, read once per epoch).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_epoch(
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
