//! Embedding tables on the training device (`tables = "device"`): every field's table and its
//! Adam moments are tensors of the backend, so a step uploads only the batch's ids (and the
//! deduplication of them), gathers the rows with `select`, and applies lazy Adam to the touched
//! rows with `select_assign`; nothing is read back per step.
//!
//! The update is the host tables' ([`crate::ncf::embeddings::step`]) written in tensor ops:
//!
//! ```text
//! u, inv  = distinct ids of the batch (first-occurrence order), position of each id in u
//!           (host, the coalescer's `Distinct`)
//! g       = zeros[U, D].select_assign(0, inv, grad, Add)       sum of the repeated ids' rows
//! w, m, v = W[u], M[u], V[u]                                   select
//! g      += λ·w;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w −= lr·m·c1 / (√v + ε·c2)
//! W[u] += w' − w (and M, V likewise)                           select_assign(.., Add) on distinct ids
//! ```
//!
//! `select_assign` with `Add` is the update every Burn backend supports; the ids are distinct,
//! so it is deterministic on the GPU too. Rows outside `u` are never written. With
//! `embedding_optimizer = "adam"` every row takes the step (untouched rows with a zero gradient),
//! as on the host.

use burn::prelude::*;
use burn::tensor::{IndexingUpdateOp, Int};

use super::CtrError;
use super::batch::BatchIds;
use crate::ncf::EmbeddingOptimizer;
use crate::ncf::embeddings::{AdamSettings, Distinct, HostTable, correction};

/// One field's table on a device: values and Adam moments, each `[rows, dim]`.
#[derive(Debug, Clone)]
pub struct DeviceTable {
    pub dim: usize,
    pub rows: usize,
    w: Tensor<2>,
    m: Tensor<2>,
    v: Tensor<2>,
}

/// A batch's ids of one table, deduplicated on the host: the distinct ids (first-occurrence
/// order) and each occurrence's position among them, both uploaded as int tensors.
pub struct DistinctIds {
    pub all: Tensor<1, Int>,
    pub distinct: Tensor<1, Int>,
    pub inverse: Tensor<1, Int>,
    pub count: usize,
}

impl DistinctIds {
    /// Deduplicates `ids` on the host (the coalescer's [`Distinct`]) and uploads the three
    /// index vectors to `device`.
    pub fn new(ids: &[i32], device: &Device) -> Self {
        let mut d = Distinct::default();
        d.fill(ids);
        let int = |v: Vec<i64>| {
            let n = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [n]), device)
        };
        let wide = |v: &[u32]| v.iter().map(|&x| i64::from(x)).collect();
        Self {
            all: int(ids.iter().map(|&r| i64::from(r)).collect()),
            distinct: int(wide(&d.ids)),
            inverse: int(wide(&d.inverse)),
            count: d.ids.len(),
        }
    }
}

impl DeviceTable {
    /// The host table's values and moments, uploaded to `device`.
    pub fn from_host(t: &HostTable, device: &Device) -> Self {
        let (rows, dim) = (t.rows(), t.dim);
        let up = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [rows, dim]), device);
        Self {
            dim,
            rows,
            w: up(t.values()),
            m: up(t.m()),
            v: up(t.v()),
        }
    }

    /// Reads the table back (checkpoints, the kept best epoch, the export).
    pub fn to_host(&self) -> Result<HostTable, CtrError> {
        let read = |t: &Tensor<2>| {
            t.clone()
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| CtrError::Tensor(format!("reading a device table: {e:?}")))
        };
        Ok(HostTable::with_moments(
            &read(&self.w)?,
            &read(&self.m)?,
            &read(&self.v)?,
            self.dim,
        ))
    }

    /// The rows `ids`, `[ids.len(), dim]` (no gradient: the trainer makes the batch's leaf).
    pub fn gather(&self, ids: Tensor<1, Int>) -> Tensor<2> {
        self.w.clone().select(0, ids)
    }

    /// Step `t` (1-based, global) of Adam on the rows `ids` given the gradient of the gathered
    /// rows, `grad` `[occurrences, dim]` (one row per occurrence, repeated ids summed here).
    pub fn step(&mut self, s: &AdamSettings, t: u64, ids: &DistinctIds, grad: Tensor<2>) {
        let device = grad.device();
        let d = self.dim;
        let g = Tensor::<2>::zeros([ids.count, d], &device).select_assign(
            0,
            ids.inverse.clone(),
            grad,
            IndexingUpdateOp::Add,
        );
        let (c1, c2) = correction(s, t);
        match s.rule {
            EmbeddingOptimizer::LazyAdam => {
                let rows = ids.distinct.clone();
                let w = self.w.clone().select(0, rows.clone());
                let m = self.m.clone().select(0, rows.clone());
                let v = self.v.clone().select(0, rows.clone());
                let (dw, dm, dv) = adam(s, (c1, c2), w, m, v, g);
                // Taken, not cloned: the only reference lets the backend update in place
                // instead of copying the whole table every step.
                let add = |table: &mut Tensor<2>, delta: Tensor<2>| {
                    *table =
                        take(table).select_assign(0, rows.clone(), delta, IndexingUpdateOp::Add);
                };
                add(&mut self.w, dw);
                add(&mut self.m, dm);
                add(&mut self.v, dv);
            }
            EmbeddingOptimizer::Adam => {
                let full = Tensor::<2>::zeros([self.rows, d], &device).select_assign(
                    0,
                    ids.distinct.clone(),
                    g,
                    IndexingUpdateOp::Add,
                );
                let (dw, dm, dv) = adam(
                    s,
                    (c1, c2),
                    self.w.clone(),
                    self.m.clone(),
                    self.v.clone(),
                    full,
                );
                self.w = take(&mut self.w) + dw;
                self.m = take(&mut self.m) + dm;
                self.v = take(&mut self.v) + dv;
            }
        }
    }
}

/// The tensor, leaving an empty one in its place.
fn take(t: &mut Tensor<2>) -> Tensor<2> {
    let empty = Tensor::<2>::empty([0, t.dims()[1]], &t.device());
    std::mem::replace(t, empty)
}

/// Adam on `[n, dim]` rows: the changes of `w`, `m`, `v`.
fn adam(
    s: &AdamSettings,
    (factor, bc2): (f32, f32),
    w: Tensor<2>,
    m: Tensor<2>,
    v: Tensor<2>,
    g: Tensor<2>,
) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let g = g + w.clone().mul_scalar(s.weight_decay);
    let m2 = m.clone().mul_scalar(s.beta_1) + g.clone().mul_scalar(1.0 - s.beta_1);
    let v2 = v.clone().mul_scalar(s.beta_2) + (g.clone() * g).mul_scalar(1.0 - s.beta_2);
    let step = m2.clone().mul_scalar(factor) / (v2.clone().sqrt().add_scalar(s.epsilon * bc2));
    let dw = step.mul_scalar(-s.learning_rate);
    (dw, m2 - m, v2 - v)
}

/// Every field's table, and DeepFM's first-order tables, on the device.
pub(super) struct DeviceTables {
    pub emb: Vec<DeviceTable>,
    pub first: Vec<DeviceTable>,
}

/// A batch's ids on the device: per table (single fields, then sequence fields) the distinct
/// ids, and per sequence field each value's batch row and weight (1/length of its cell).
pub(super) struct DeviceBatch {
    ids: Vec<DistinctIds>,
    pos: Vec<Tensor<1, Int>>,
    weight: Vec<Tensor<2>>,
    len: usize,
}

impl DeviceTables {
    /// The host tables uploaded to `device` (a plain device: the tables take no gradient).
    pub(super) fn new(emb: &[HostTable], first: &[HostTable], device: &Device) -> Self {
        let up = |t: &[HostTable]| {
            t.iter()
                .map(|t| DeviceTable::from_host(t, device))
                .collect()
        };
        Self {
            emb: up(emb),
            first: up(first),
        }
    }

    /// The tables read back: `(embedding tables, first-order tables)`.
    pub(super) fn to_host(&self) -> Result<(Vec<HostTable>, Vec<HostTable>), CtrError> {
        let read = |t: &[DeviceTable]| -> Result<Vec<HostTable>, CtrError> {
            t.iter().map(DeviceTable::to_host).collect()
        };
        Ok((read(&self.emb)?, read(&self.first)?))
    }

    /// Uploads the batch's ids (the only per-step transfer besides the dense features and labels).
    pub(super) fn batch(ids: &BatchIds, len: usize, device: &Device) -> DeviceBatch {
        let mut distinct: Vec<DistinctIds> = ids
            .single
            .iter()
            .map(|c| DistinctIds::new(c, device))
            .collect();
        let (mut pos, mut weight) = (Vec::new(), Vec::new());
        for (p, c, w) in &ids.multi {
            distinct.push(DistinctIds::new(c, device));
            let p: Vec<i64> = p.iter().map(|&x| i64::from(x)).collect();
            let n = p.len();
            pos.push(Tensor::<1, Int>::from_data(TensorData::new(p, [n]), device));
            weight.push(Tensor::<2>::from_data(
                TensorData::new(w.clone(), [n, 1]),
                device,
            ));
        }
        DeviceBatch {
            ids: distinct,
            pos,
            weight,
            len,
        }
    }

    /// The pooled `[batch, F·dim]` rows of `tables` (sequence fields: the weighted sum of their
    /// values' rows, zeros for an empty cell), as the host gather builds them.
    pub(super) fn pooled(tables: &[DeviceTable], b: &DeviceBatch, device: &Device) -> Tensor<2> {
        let ns = b.ids.len() - b.pos.len();
        let parts: Vec<Tensor<2>> = tables
            .iter()
            .zip(&b.ids)
            .enumerate()
            .map(|(j, (t, ids))| {
                let rows = t.gather(ids.all.clone());
                match j.checked_sub(ns) {
                    None => rows,
                    Some(k) => {
                        let zeros = Tensor::<2>::zeros([b.len, t.dim], device);
                        if b.weight[k].dims()[0] == 0 {
                            return zeros;
                        }
                        let rows = rows * b.weight[k].clone();
                        zeros.select_assign(0, b.pos[k].clone(), rows, IndexingUpdateOp::Add)
                    }
                }
            })
            .collect();
        Tensor::cat(parts, 1)
    }

    /// Lazy Adam on every table from the gradient `g` `[batch, F·dim]` of the pooled rows.
    pub(super) fn update(
        tables: &mut [DeviceTable],
        b: &DeviceBatch,
        s: &AdamSettings,
        step: u64,
        g: Tensor<2>,
    ) {
        let ns = b.ids.len() - b.pos.len();
        for (j, (t, ids)) in tables.iter_mut().zip(&b.ids).enumerate() {
            let d = t.dim;
            let gj = g.clone().slice([0..b.len, j * d..(j + 1) * d]);
            let gj = match j.checked_sub(ns) {
                None => gj,
                Some(k) if b.weight[k].dims()[0] == 0 => continue,
                Some(k) => gj.select(0, b.pos[k].clone()) * b.weight[k].clone(),
            };
            t.step(s, step, ids, gj);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ncf::embeddings::{Coalescer, GradRows, step};

    fn host(rows: usize, dim: usize) -> HostTable {
        let v: Vec<f32> = (0..rows * dim)
            .map(|k| ((k * 37) % 23) as f32 / 23.0 - 0.5)
            .collect();
        HostTable::new(&v, dim)
    }

    /// The devices this build can test: flex always; with `--features wgpu`, the GPU as well
    /// (on a machine without one, Mesa's software Vulkan driver lavapipe serves).
    pub(crate) fn test_devices() -> Vec<Device> {
        #[allow(unused_mut)]
        let mut d = vec![Device::flex()];
        #[cfg(feature = "wgpu")]
        d.push(crate::ncf::Backend::Wgpu.device().expect("the wgpu device"));
        d
    }

    /// Two steps with duplicate ids, on the host and on the device: the same tables, and lazy
    /// Adam leaves untouched rows as they were.
    #[test]
    fn device_and_host_tables_take_the_same_steps() {
        for device in test_devices() {
            same_steps_on(&device);
        }
    }

    fn same_steps_on(device: &Device) {
        let device = device.clone();
        for rule in [EmbeddingOptimizer::LazyAdam, EmbeddingOptimizer::Adam] {
            let s = AdamSettings::new(0.05, 0.01, rule);
            let (rows, dim) = (7, 3);
            let mut h = host(rows, dim);
            let mut dev = DeviceTable::from_host(&h, &device);
            let mut coal = Coalescer::new(rows);
            let batches: [&[i32]; 2] = [&[2, 5, 2, 0, 2], &[5, 5, 1]];
            for (t, ids) in batches.iter().enumerate() {
                let grad: Vec<f32> = (0..ids.len() * dim)
                    .map(|k| ((k * 13 + t) % 7) as f32 / 7.0 - 0.4)
                    .collect();
                step(
                    &s,
                    t as u64 + 1,
                    &mut h,
                    &mut coal,
                    ids,
                    GradRows::dense(&grad, dim),
                );
                let g = Tensor::<2>::from_data(TensorData::new(grad, [ids.len(), dim]), &device);
                dev.step(&s, t as u64 + 1, &DistinctIds::new(ids, &device), g);
            }
            let back = dev.to_host().unwrap();
            for (name, a, b) in [
                ("values", h.values(), back.values()),
                ("m", h.m(), back.m()),
                ("v", h.v(), back.v()),
            ] {
                for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (x - y).abs() < 1e-6,
                        "{device:?} {rule:?} {name}[{k}]: host {x} device {y}"
                    );
                }
            }
            // Lazy Adam never writes rows outside the batches (3, 4, 6).
            if rule == EmbeddingOptimizer::LazyAdam {
                let start = host(rows, dim);
                for r in [3usize, 4, 6] {
                    assert_eq!(back.row(r), start.row(r), "row {r}");
                }
            }
        }
    }

    #[test]
    fn distinct_ids_keep_first_occurrence_order() {
        let device = Device::flex();
        let d = DistinctIds::new(&[4, 1, 4, 4, 9, 1], &device);
        let read = |t: Tensor<1, Int>| {
            t.into_data()
                .convert::<i64>()
                .try_into_vec::<i64>()
                .unwrap()
        };
        assert_eq!(d.count, 3);
        assert_eq!(read(d.distinct), vec![4, 1, 9]);
        assert_eq!(read(d.inverse), vec![0, 1, 0, 0, 2, 1]);
        assert_eq!(read(d.all), vec![4, 1, 4, 4, 9, 1]);
    }
}
