//! The generator's own truth as a scorer: what a perfect model of the planted structure would
//! predict, so a report can show how much of the achievable lift each model captures.
//!
//! * `ctr`: the expected click probability of (user, item) ([`SynthOracle::score`] is a
//!   probability, so AUC, log loss and the ranking metrics all apply);
//! * `events`: the view propensity of (user, item) (a ranking score, not a probability).
//!
//! Ids are the raw ids of the generated log (`user`/`item` for `ctr`, `personId`/`contentId` for
//! `events`); [`SynthOracle::user_index`] / [`SynthOracle::item_index`] map them back.

use std::collections::HashMap;

use super::ctr::CtrTruth;
use super::events::EventsTruth;
use super::{SynthError, SynthKind, SynthSpec};

enum Truth {
    Ctr(CtrTruth),
    Events {
        truth: EventsTruth,
        users: HashMap<i64, usize>,
        items: HashMap<i64, usize>,
    },
}

/// The truth of one generated log.
pub struct SynthOracle {
    truth: Truth,
}

impl SynthOracle {
    /// Rebuild the generator's latent world of `spec` (cheap: no rows are generated).
    pub fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        spec.validate()?;
        let truth = match spec.kind {
            SynthKind::Ctr => Truth::Ctr(CtrTruth::new(spec)?),
            SynthKind::Events => {
                let truth = EventsTruth::new(spec)?;
                let index =
                    |ids: Vec<i64>| ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
                Truth::Events {
                    users: index(truth.person_ids()),
                    items: index(truth.content_ids()),
                    truth,
                }
            }
        };
        Ok(SynthOracle { truth })
    }

    /// The generator's column names of the user and item ids.
    pub fn id_columns(kind: SynthKind) -> (&'static str, &'static str) {
        match kind {
            SynthKind::Ctr => ("user", "item"),
            SynthKind::Events => ("personId", "contentId"),
        }
    }

    /// Whether [`SynthOracle::score`] is a click probability.
    pub fn probabilistic(&self) -> bool {
        matches!(self.truth, Truth::Ctr(_))
    }

    /// The generator index of a raw user id.
    pub fn user_index(&self, raw: i64) -> Option<usize> {
        match &self.truth {
            Truth::Ctr(t) => usize::try_from(raw - 1).ok().filter(|&u| u < t.users()),
            Truth::Events { users, .. } => users.get(&raw).copied(),
        }
    }

    /// The generator index of a raw item id.
    pub fn item_index(&self, raw: i64) -> Option<usize> {
        match &self.truth {
            Truth::Ctr(t) => usize::try_from(raw - 1).ok().filter(|&i| i < t.items()),
            Truth::Events { items, .. } => items.get(&raw).copied(),
        }
    }

    /// The truth of (user, item), generator indices (from [`SynthOracle::user_index`] /
    /// [`SynthOracle::item_index`]).
    pub fn score(&self, user: usize, item: usize) -> f64 {
        match &self.truth {
            Truth::Ctr(t) => t.prob(user, item),
            Truth::Events { truth, .. } => truth.propensity(user, item),
        }
    }
}
