//! A trained CTR model: the inference network and the table values, scoring on the CPU, and
//! its tensors by name (export, checkpoints).

use burn::prelude::*;

use super::batch::{BatchIds, batch_input};
use super::calibration::{Calibration, log_loss};
use super::fields::FieldRows;
use super::net::{Arch, CtrNet};
use super::{CtrError, EpochReport};
use crate::ncf::embeddings::HostTable;

/// Rows scored per forward pass when predicting.
const PREDICT_BATCH: usize = 16_384;

/// A trained CTR model: the inference network and the table values.
#[derive(Debug, Clone)]
pub struct CtrTrained {
    pub arch: Arch,
    pub(super) net: CtrNet,
    /// Per field, `[rows, D]` row-major.
    pub emb: Vec<Vec<f32>>,
    /// Per field, `[rows]` first-order weights (DeepFM).
    pub first: Vec<Vec<f32>>,
    pub reports: Vec<EpochReport>,
    /// 1-based epoch whose weights these are.
    pub best_epoch: usize,
    /// Applied to the network's logit (identity when not fit).
    pub calibration: Calibration,
    /// Validation log loss before and after the calibration was fit (when it was).
    pub calibrated_logloss: Option<(f64, f64)>,
    /// The (plain) device `net` lives on.
    pub(super) device: Device,
}

/// Host-side read-only tables for prediction (values only).
fn frozen(values: &[Vec<f32>], dim: usize) -> Vec<HostTable> {
    values.iter().map(|v| HostTable::new(v, dim)).collect()
}

impl CtrTrained {
    /// Every weight as named tensors: the network's (see [`CtrNet::tensors`]) plus
    /// `field.{j}.embedding` `[rows, D]`, for DeepFM `field.{j}.first` `[rows, 1]`, and
    /// `calibration` `[2]` (scale, shift: `p = σ(scale · logit + shift)`).
    pub fn tensors(&self) -> Result<super::net::NamedTensors, CtrError> {
        let mut out = self.net.tensors().map_err(CtrError::Tensor)?;
        let c = self.calibration;
        out.push(("calibration".into(), vec![2], vec![c.scale, c.shift]));
        let d = self.arch.dim;
        for (j, t) in self.emb.iter().enumerate() {
            out.push((
                format!("field.{j}.embedding"),
                vec![t.len() / d, d],
                t.clone(),
            ));
        }
        for (j, t) in self.first.iter().enumerate() {
            out.push((format!("field.{j}.first"), vec![t.len(), 1], t.clone()));
        }
        Ok(out)
    }

    /// A model from named tensors (see [`Self::tensors`]) with `rows[j]` table rows per field,
    /// scoring on the CPU. Exports before calibration have no `calibration` tensor: identity.
    pub fn from_tensors(
        arch: Arch,
        rows: &[usize],
        src: super::net::TensorSource<'_>,
    ) -> Result<Self, CtrError> {
        let device = crate::ncf::Backend::Flex
            .device()
            .map_err(|e| CtrError::Tensor(e.to_string()))?;
        let net = CtrNet::from_tensors(&arch, src, &device).map_err(CtrError::Input)?;
        let table = |name: String, shape: [usize; 2]| -> Result<Vec<f32>, CtrError> {
            match src(&name) {
                Some((s, v)) if s == shape && v.len() == shape[0] * shape[1] => Ok(v),
                Some((s, _)) => Err(CtrError::Input(format!(
                    "tensor `{name}` has shape {s:?}, expected {shape:?}"
                ))),
                None => Err(CtrError::Input(format!("no tensor `{name}`"))),
            }
        };
        let emb = (0..arch.fields)
            .map(|j| table(format!("field.{j}.embedding"), [rows[j], arch.dim]))
            .collect::<Result<_, _>>()?;
        let first = match arch.kind {
            super::Kind::DeepFm => (0..arch.fields)
                .map(|j| table(format!("field.{j}.first"), [rows[j], 1]))
                .collect::<Result<_, _>>()?,
            super::Kind::DcnV2 | super::Kind::Ncf => Vec::new(),
        };
        let calibration = match src("calibration") {
            None => Calibration::IDENTITY,
            Some((s, v)) if s == [2] && v.len() == 2 => Calibration {
                scale: v[0],
                shift: v[1],
            },
            Some((s, _)) => {
                return Err(CtrError::Input(format!(
                    "tensor `calibration` has shape {s:?}, expected [2]"
                )));
            }
        };
        Ok(Self {
            arch,
            net,
            emb,
            first,
            reports: Vec::new(),
            best_epoch: 0,
            calibration,
            calibrated_logloss: None,
            device,
        })
    }

    /// Click probabilities of every row (calibrated).
    pub fn predict(&self, rows: &FieldRows) -> Result<Vec<f32>, CtrError> {
        let all: Vec<u32> = (0..rows.n as u32).collect();
        let mut p = self.logits(rows, &all)?;
        p.iter_mut()
            .for_each(|z| *z = self.calibration.probability(*z));
        Ok(p)
    }

    /// Fits the Platt scaling to the validation logits `z` and 0/1 `labels` and records the
    /// validation log loss before and after; a model with nothing to fit keeps the identity.
    pub(super) fn calibrate(&mut self, z: &[f32], labels: &[f32]) {
        let Some(c) = Calibration::fit(z, labels) else {
            return;
        };
        let with = |c: Calibration| -> Vec<f32> { z.iter().map(|&z| c.probability(z)).collect() };
        self.calibrated_logloss = Some((
            log_loss(labels, &with(Calibration::IDENTITY)),
            log_loss(labels, &with(c)),
        ));
        self.calibration = c;
    }

    /// The network's logits of rows `which` of `rows`, in that order (before calibration).
    pub fn logits(&self, rows: &FieldRows, which: &[u32]) -> Result<Vec<f32>, CtrError> {
        let emb = frozen(&self.emb, self.arch.dim);
        let first = frozen(&self.first, 1);
        let team = crate::team::Team::from_rayon();
        logits_with(
            (&self.arch, &self.net),
            &emb,
            &first,
            rows,
            which,
            &self.device,
            &team,
        )
    }
}

/// The logits of the rows `which` of `rows`, in that order; the host work on `team` (the
/// trainer's own, between epochs).
pub(super) fn logits_with(
    (arch, net): (&Arch, &CtrNet),
    emb: &[HostTable],
    first: &[HostTable],
    rows: &FieldRows,
    which: &[u32],
    device: &Device,
    team: &crate::team::Team,
) -> Result<Vec<f32>, CtrError> {
    let mut out = Vec::with_capacity(which.len());
    let mut ids = BatchIds::default();
    let (mut e, mut f) = (Vec::new(), Vec::new());
    for chunk in which.chunks(PREDICT_BATCH) {
        ids.fill(rows, chunk, team);
        let input = batch_input(
            arch, emb, first, rows, &ids, chunk, &mut e, &mut f, device, false, team,
        );
        let v = net
            .forward(arch, input, &[])
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| CtrError::Tensor(format!("reading scores: {e:?}")))?;
        out.extend(v);
    }
    Ok(out)
}
