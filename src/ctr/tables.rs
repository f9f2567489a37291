//! The host tables a CTR model trains: one `[rows, D]` table per field, DeepFM's `[rows, 1]`
//! first-order tables, their coalescers (duplicate ids of a batch summed) and the Adam state
//! they share.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::ncf::EmbeddingOptimizer;
use crate::ncf::embeddings::{AdamSettings, Coalescer, HostTable};

/// The tables of one model: one `[rows, D]` table per field and, for DeepFM, one `[rows, 1]`
/// first-order table per field.
pub(super) struct Tables {
    pub(super) emb: Vec<HostTable>,
    pub(super) first: Vec<HostTable>,
    pub(super) coal_emb: Vec<Coalescer>,
    pub(super) coal_first: Vec<Coalescer>,
    /// Steps taken (Adam's bias correction reads it).
    pub(super) step: u64,
    pub(super) settings: AdamSettings,
}

impl Tables {
    /// Tables of `sizes[j]` rows drawn from N(0, init_std²), with zero moments.
    pub(super) fn new(
        sizes: &[usize],
        dim: usize,
        with_first: bool,
        init_std: f64,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let normal =
            Normal::new(0.0, init_std).unwrap_or_else(|_| Normal::new(0.0, 1e-4).expect("std"));
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| normal.sample(rng) as f32).collect() };
        let emb: Vec<HostTable> = sizes
            .iter()
            .map(|&n| HostTable::new(&draw(n * dim), dim))
            .collect();
        let first: Vec<HostTable> = if with_first {
            sizes.iter().map(|&n| HostTable::new(&draw(n), 1)).collect()
        } else {
            Vec::new()
        };
        Self {
            coal_emb: sizes.iter().map(|&n| Coalescer::new(n)).collect(),
            coal_first: if with_first {
                sizes.iter().map(|&n| Coalescer::new(n)).collect()
            } else {
                Vec::new()
            },
            emb,
            first,
            step: 0,
            settings: AdamSettings::new(1e-3, 0.0, EmbeddingOptimizer::LazyAdam),
        }
    }

    /// The values of every table, without their moments.
    pub(super) fn values(&self) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        (
            self.emb.iter().map(HostTable::values).collect(),
            self.first.iter().map(HostTable::values).collect(),
        )
    }
}
