//! Assembling a batch on the host: which table rows each field reads, the pooled `[batch, F·D]`
//! input (sequence fields: the mean of their values' rows), and the row-sparse update of every
//! table from that input's gradient.

use burn::prelude::*;

use super::fields::FieldRows;
use super::net::{Arch, Input};
use crate::ncf::embeddings::{self, AdamSettings, Coalescer, GradRows, HostTable};

/// The ids each field's table reads for a batch, and how to pool them into per-row vectors.
#[derive(Default)]
pub(super) struct BatchIds {
    /// Per single field, the table row of each batch row.
    pub(super) single: Vec<Vec<i32>>,
    /// Per sequence field: (batch row of each value, table row of each value, 1/len of its row).
    pub(super) multi: Vec<(Vec<u32>, Vec<i32>, Vec<f32>)>,
}

impl BatchIds {
    pub(super) fn fill(&mut self, rows: &FieldRows, batch: &[u32]) {
        self.single.resize_with(rows.single.len(), Vec::new);
        for (ids, col) in self.single.iter_mut().zip(&rows.single) {
            ids.clear();
            ids.extend(batch.iter().map(|&r| col[r as usize] as i32));
        }
        self.multi.resize_with(rows.multi.len(), Default::default);
        for ((pos, ids, w), (off, vals)) in self.multi.iter_mut().zip(&rows.multi) {
            pos.clear();
            ids.clear();
            w.clear();
            for (p, &r) in batch.iter().enumerate() {
                let (a, b) = (off[r as usize] as usize, off[r as usize + 1] as usize);
                let inv = 1.0 / (b - a).max(1) as f32;
                for &v in &vals[a..b] {
                    pos.push(p as u32);
                    ids.push(v as i32);
                    w.push(inv);
                }
            }
        }
    }
}

/// Gathers `[len, F·dim]` (field after field) from `tables` into `out`.
pub(super) fn gather(
    tables: &[HostTable],
    ids: &BatchIds,
    len: usize,
    dim: usize,
    out: &mut Vec<f32>,
) {
    let f = tables.len();
    let width = f * dim;
    out.clear();
    out.resize(len * width, 0.0);
    let ns = ids.single.len();
    for (j, col) in ids.single.iter().enumerate() {
        let t = &tables[j];
        for (p, &r) in col.iter().enumerate() {
            out[p * width + j * dim..p * width + (j + 1) * dim].copy_from_slice(t.row(r as usize));
            t.prefetch_row(r as usize);
        }
    }
    for (k, (pos, col, w)) in ids.multi.iter().enumerate() {
        let j = ns + k;
        let t = &tables[j];
        for ((&p, &r), &w) in pos.iter().zip(col).zip(w) {
            let o = &mut out[p as usize * width + j * dim..p as usize * width + (j + 1) * dim];
            for (a, b) in o.iter_mut().zip(t.row(r as usize)) {
                *a += w * b;
            }
        }
    }
}

/// The pooled `[batch.len(), F·dim]` input of data rows `batch` (for tests).
#[cfg(test)]
pub(crate) fn pooled_for_test(
    tables: &[HostTable],
    rows: &FieldRows,
    batch: &[u32],
    dim: usize,
) -> Vec<f32> {
    let mut ids = BatchIds::default();
    ids.fill(rows, batch);
    let mut out = Vec::new();
    gather(tables, &ids, batch.len(), dim, &mut out);
    out
}

/// Applies the leaf gradient `g` (`[len, F·dim]`) to every table's touched rows.
#[allow(clippy::too_many_arguments)]
pub(super) fn update(
    tables: &mut [HostTable],
    coal: &mut [Coalescer],
    settings: &AdamSettings,
    step: u64,
    ids: &BatchIds,
    g: &[f32],
    dim: usize,
    scratch: &mut Vec<f32>,
) {
    let width = tables.len() * dim;
    let ns = ids.single.len();
    for (j, col) in ids.single.iter().enumerate() {
        let rows = GradRows {
            values: g,
            stride: width,
            offset: j * dim,
        };
        embeddings::step(settings, step, &mut tables[j], &mut coal[j], col, rows);
    }
    for (k, (pos, col, w)) in ids.multi.iter().enumerate() {
        let j = ns + k;
        scratch.clear();
        for (&p, &w) in pos.iter().zip(w) {
            let src = &g[p as usize * width + j * dim..p as usize * width + (j + 1) * dim];
            scratch.extend(src.iter().map(|x| x * w));
        }
        let rows = GradRows::dense(scratch, dim);
        embeddings::step(settings, step, &mut tables[j], &mut coal[j], col, rows);
    }
}

/// The network input of the batch `batch` (data rows), assembled on the host.
#[allow(clippy::too_many_arguments)]
pub(super) fn batch_input(
    arch: &Arch,
    emb: &[HostTable],
    first: &[HostTable],
    rows: &FieldRows,
    ids: &BatchIds,
    batch: &[u32],
    e: &mut Vec<f32>,
    f: &mut Vec<f32>,
    device: &Device,
    grad: bool,
) -> Input {
    let len = batch.len();
    gather(emb, ids, len, arch.dim, e);
    let leaf = |v: &[f32], w: usize| {
        let t = Tensor::<2>::from_data(TensorData::new(v.to_vec(), [len, w]), device);
        if grad { t.require_grad() } else { t }
    };
    let emb_t = leaf(e, arch.emb_width());
    let first_t = (!first.is_empty()).then(|| {
        gather(first, ids, len, 1, f);
        leaf(f, arch.fields)
    });
    let dense = dense_input(arch, rows, batch, device);
    Input {
        emb: emb_t,
        dense,
        first: first_t,
    }
}

/// The `[batch.len(), dense]` scaled numeric features of data rows `batch` (None without any).
pub(super) fn dense_input(
    arch: &Arch,
    rows: &FieldRows,
    batch: &[u32],
    device: &Device,
) -> Option<Tensor<2>> {
    (arch.dense > 0).then(|| {
        let d = arch.dense;
        let mut v = Vec::with_capacity(batch.len() * d);
        for &r in batch {
            v.extend_from_slice(&rows.dense[r as usize * d..(r as usize + 1) * d]);
        }
        Tensor::<2>::from_data(TensorData::new(v, [batch.len(), d]), device)
    })
}
