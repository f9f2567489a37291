//! The trainer's embedding state: the host tables of one run with their coalescers, the Adam
//! settings and the global step (what a checkpoint saves besides the weights).

use super::NcfError;
use super::embeddings::{self, AdamSettings, Coalescer, GradRows, HostTable};
use super::model::{Arch, NcfNet, Weights};

/// First and second Adam moments per table (a checkpoint's).
pub(crate) type Moments = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// The embedding tables being trained (user, item, then the GMF pair for `neumf`), their
/// coalescers and the global step count of their optimizer.
pub(crate) struct TableState {
    pub(crate) tables: Vec<HostTable>,
    coalescers: Vec<Coalescer>,
    pub(crate) step: u64,
    settings: AdamSettings,
}

impl TableState {
    /// Tables of `w` with the given moments (zero when `moments` is None) and step count.
    pub(crate) fn new(
        w: &Weights,
        arch: &Arch,
        settings: AdamSettings,
        moments: Option<Moments>,
        step: u64,
    ) -> Self {
        let d = arch.embedding_dim;
        let mut values = vec![&w.user_embedding, &w.item_embedding];
        if !w.gmf_user.is_empty() {
            values.push(&w.gmf_user);
            values.push(&w.gmf_item);
        }
        let tables: Vec<HostTable> = match moments {
            Some((m, v)) => values
                .iter()
                .zip(m.iter().zip(&v))
                .map(|(w, (m, v))| HostTable::with_moments(w, m, v, d))
                .collect(),
            None => values.iter().map(|w| HostTable::new(w, d)).collect(),
        };
        let coalescers = tables.iter().map(|t| Coalescer::new(t.rows())).collect();
        Self {
            tables,
            coalescers,
            step,
            settings,
        }
    }

    /// Applies the current step to table `j` for the batch's `ids` and their gradient rows.
    pub(crate) fn step_table(&mut self, j: usize, ids: &[i32], grad: GradRows<'_>) {
        embeddings::step(
            &self.settings,
            self.step,
            &mut self.tables[j],
            &mut self.coalescers[j],
            ids,
            grad,
        );
    }

    /// Prefetches what the batch of `users`/`items` will read (see [`HostTable::prefetch`]).
    pub(crate) fn prefetch(&self, users: &[i32], items: &[i32]) {
        for (j, t) in self.tables.iter().enumerate() {
            let ids = if j % 2 == 0 { users } else { items };
            t.prefetch(ids);
        }
    }

    /// Copies the table values into `w`.
    pub(crate) fn write_into(&self, w: &mut Weights) {
        let mut it = self.tables.iter().map(HostTable::values);
        w.user_embedding = it.next().unwrap_or_default();
        w.item_embedding = it.next().unwrap_or_default();
        w.gmf_user = it.next().unwrap_or_default();
        w.gmf_item = it.next().unwrap_or_default();
    }

    /// The current weights: these tables plus the network's dense layers.
    pub(crate) fn weights(&self, net: &NcfNet) -> Result<Weights, NcfError> {
        let mut w = Weights {
            user_embedding: Vec::new(),
            item_embedding: Vec::new(),
            gmf_user: Vec::new(),
            gmf_item: Vec::new(),
            mlp: Vec::new(),
            output_weight: Vec::new(),
            output_bias: Vec::new(),
        };
        self.write_into(&mut w);
        net.read_into(&mut w)?;
        Ok(w)
    }
}
