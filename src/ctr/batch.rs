//! Assembling a batch on the host: which table rows each field reads, the pooled `[batch, F·D]`
//! input (sequence fields: the mean of their values' rows), and the row-sparse update of every
//! table from that input's gradient.
//!
//! Every part of it reads and writes random rows of tables far larger than the caches, so its
//! time is memory latency; the work is split over a [`Team`] (by field, by rows of the batch,
//! by table) so that every core's cache misses are in flight at once. The split never changes a
//! value: each part is the same computation whichever thread runs it.

use burn::prelude::*;

use super::fields::FieldRows;
use super::net::{Arch, Input};
use crate::ncf::embeddings::{self, AdamSettings, Coalescer, GradRows, HostTable};
use crate::team::Team;
use std::sync::Mutex;

/// Rows of the batch per gather part.
const GATHER_ROWS: usize = 64;

/// The one user of a part's slot: a lock that is never contended (each part takes its own).
fn own<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The ids each field's table reads for a batch, and how to pool them into per-row vectors.
#[derive(Default)]
pub(super) struct BatchIds {
    /// Per single field, the table row of each batch row.
    pub(super) single: Vec<Vec<i32>>,
    /// Per sequence field: (batch row of each value, table row of each value, 1/len of its row).
    pub(super) multi: Vec<(Vec<u32>, Vec<i32>, Vec<f32>)>,
}

impl BatchIds {
    pub(super) fn fill(&mut self, rows: &FieldRows, batch: &[u32], team: &Team) {
        let job = self.fill_job(rows, batch);
        team.run(job.parts(), || {}, |j| job.run(j));
    }

    /// Filling these ids from data rows `batch` as a job of a part per field, to run on a
    /// team by itself ([`Self::fill`]) or beside another job (the trainer fills the next
    /// batch's ids while the tables take this batch's update).
    pub(super) fn fill_job<'a>(&'a mut self, rows: &'a FieldRows, batch: &'a [u32]) -> FillJob<'a> {
        self.single.resize_with(rows.single.len(), Vec::new);
        self.multi.resize_with(rows.multi.len(), Default::default);
        FillJob {
            rows,
            batch,
            single: self.single.iter_mut().map(Mutex::new).collect(),
            multi: self.multi.iter_mut().map(Mutex::new).collect(),
        }
    }
}

/// See [`BatchIds::fill_job`].
pub(super) struct FillJob<'a> {
    rows: &'a FieldRows,
    batch: &'a [u32],
    single: Vec<Mutex<&'a mut Vec<i32>>>,
    #[allow(clippy::type_complexity)]
    multi: Vec<Mutex<&'a mut (Vec<u32>, Vec<i32>, Vec<f32>)>>,
}

impl FillJob<'_> {
    pub(super) fn parts(&self) -> usize {
        self.single.len() + self.multi.len()
    }

    /// Asks for the rows of field `j`'s (filled) ids in its table and first-order table: a
    /// hint that changes no value.
    pub(super) fn prefetch(&self, j: usize, emb: &[HostTable], first: &[HostTable]) {
        let ns = self.single.len();
        let each = |ids: &[i32]| {
            emb[j].prefetch(ids);
            if let Some(t) = first.get(j) {
                t.prefetch(ids);
            }
        };
        match j.checked_sub(ns) {
            None => each(&own(&self.single[j])),
            Some(k) => each(&own(&self.multi[k]).1),
        }
    }

    /// Fills field `j`'s ids.
    pub(super) fn run(&self, j: usize) {
        let (rows, batch) = (self.rows, self.batch);
        let ns = self.single.len();
        if j < ns {
            let col = &rows.single[j];
            let mut ids = own(&self.single[j]);
            ids.clear();
            col.gather_into(batch, &mut ids);
            return;
        }
        let (off, vals) = &rows.multi[j - ns];
        let mut guard = own(&self.multi[j - ns]);
        let (pos, ids, w) = &mut **guard;
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

/// Gathers `[len, width]` into `out`: the first `F·dim` columns field after field from
/// `tables`, then `dense` (the numeric features of data rows `batch`, when given) filling the
/// rest. [`GATHER_ROWS`] batch rows per part; a part first asks for all its rows (values and,
/// for the update that follows, the Adam moments beside them), then copies them, so the misses
/// overlap.
#[allow(clippy::too_many_arguments)]
pub(super) fn gather(
    tables: &[HostTable],
    ids: &BatchIds,
    len: usize,
    dim: usize,
    dense: Option<(&FieldRows, &[u32])>,
    out: &mut Vec<f32>,
    team: &Team,
) {
    let f = tables.len();
    let d = dense.map_or(0, |(rows, _)| rows.dense.len() / rows.n.max(1));
    let width = f * dim + d;
    out.clear();
    out.resize(len * width, 0.0);
    let ns = ids.single.len();
    let chunks: Vec<Mutex<&mut [f32]>> = out
        .chunks_mut((GATHER_ROWS * width).max(1))
        .map(Mutex::new)
        .collect();
    team.run(
        chunks.len(),
        || {},
        |c| {
            let rows = c * GATHER_ROWS..((c + 1) * GATHER_ROWS).min(len);
            let mut out = own(&chunks[c]);
            for (j, col) in ids.single.iter().enumerate() {
                tables[j].prefetch(&col[rows.clone()]);
            }
            for (j, col) in ids.single.iter().enumerate() {
                let t = &tables[j];
                for (p, &r) in col[rows.clone()].iter().enumerate() {
                    out[p * width + j * dim..p * width + (j + 1) * dim]
                        .copy_from_slice(t.row(r as usize));
                }
            }
            if let Some((fr, batch)) = dense {
                for (p, &r) in batch[rows.clone()].iter().enumerate() {
                    out[p * width + f * dim..(p + 1) * width]
                        .copy_from_slice(&fr.dense[r as usize * d..(r as usize + 1) * d]);
                }
            }
            // A sequence field's values are in batch-row order: this part's are one run.
            for (k, (pos, col, w)) in ids.multi.iter().enumerate() {
                let j = ns + k;
                let t = &tables[j];
                let a = pos.partition_point(|&p| (p as usize) < rows.start);
                let b = pos.partition_point(|&p| (p as usize) < rows.end);
                for ((&p, &r), &w) in pos[a..b].iter().zip(&col[a..b]).zip(&w[a..b]) {
                    let p = p as usize - rows.start;
                    let o = &mut out[p * width + j * dim..p * width + (j + 1) * dim];
                    for (a, b) in o.iter_mut().zip(t.row(r as usize)) {
                        *a += w * b;
                    }
                }
            }
        },
    );
}

/// The pooled `[batch.len(), F·dim]` input of data rows `batch` (for tests).
#[cfg(test)]
pub(crate) fn pooled_for_test(
    tables: &[HostTable],
    rows: &FieldRows,
    batch: &[u32],
    dim: usize,
    threads: usize,
) -> Vec<f32> {
    let team = Team::new(threads);
    let mut ids = BatchIds::default();
    ids.fill(rows, batch, &team);
    let mut out = Vec::new();
    gather(tables, &ids, batch.len(), dim, None, &mut out, &team);
    out
}

/// Applies the leaf gradient `g` (`[len, width]`, the tables' `F·dim` columns first; the
/// numeric features may follow) to every table's touched rows, a table per part; `first` runs on the calling thread meanwhile (the dense layers' optimizer step).
#[allow(clippy::too_many_arguments)]
pub(super) fn update(
    tables: &mut [HostTable],
    coal: &mut [Coalescer],
    settings: &AdamSettings,
    step: u64,
    ids: &BatchIds,
    g: &[f32],
    dim: usize,
    width: usize,
    team: &Team,
    first: impl FnOnce(),
) {
    let ns = ids.single.len();
    let work: Vec<Mutex<(&mut HostTable, &mut Coalescer)>> = tables
        .iter_mut()
        .zip(coal.iter_mut())
        .map(Mutex::new)
        .collect();
    team.run(work.len(), first, |j| {
        let mut guard = own(&work[j]);
        let (table, coal) = &mut *guard;
        if j < ns {
            let rows = GradRows {
                values: g,
                stride: width,
                offset: j * dim,
            };
            embeddings::step(settings, step, table, coal, &ids.single[j], rows);
            return;
        }
        let (pos, col, w) = &ids.multi[j - ns];
        let mut scratch = Vec::with_capacity(pos.len() * dim);
        for (&p, &w) in pos.iter().zip(w) {
            let src = &g[p as usize * width + j * dim..p as usize * width + (j + 1) * dim];
            scratch.extend(src.iter().map(|x| x * w));
        }
        embeddings::step(
            settings,
            step,
            table,
            coal,
            col,
            GradRows::dense(&scratch, dim),
        );
    });
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
    team: &Team,
) -> Input {
    let len = batch.len();
    let in_leaf = arch.dense_in_leaf();
    let dense = in_leaf.then_some((rows, batch));
    gather(emb, ids, len, arch.dim, dense, e, team);
    // The buffer moves into the tensor (no copy); the next gather allocates a fresh one.
    let leaf = |v: &mut Vec<f32>, w: usize| {
        let t = Tensor::<2>::from_data(TensorData::new(std::mem::take(v), [len, w]), device);
        if grad { t.require_grad() } else { t }
    };
    let emb_t = leaf(e, arch.emb_width() + if in_leaf { arch.dense } else { 0 });
    let first_t = (!first.is_empty()).then(|| {
        gather(first, ids, len, 1, None, f, team);
        leaf(f, arch.fields)
    });
    let dense = if in_leaf {
        None
    } else {
        dense_input(arch, rows, batch, device)
    };
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
