//! The synthetic generator's truth as a [`Recommender`] (row `oracle` of the comparison table
//! with `[data.synthetic]`): the ceiling a model of the planted structure could reach.

use super::{ModelError, Recommender};
use crate::data::IdMap;
use crate::dataset::{Dataset, Part};
use crate::synth::SynthOracle;

/// Scores of the generator's truth, indexed by the dataset's train indices.
pub struct Oracle {
    truth: SynthOracle,
    /// Generator index of each train user / item.
    users: Vec<usize>,
    items: Vec<usize>,
}

impl Oracle {
    /// Map the dataset's ids onto the generator's; `None` when an id is not the generator's
    /// (e.g. `[data]` names other id columns than the generator writes).
    pub fn new(truth: SynthOracle, ds: &Dataset) -> Option<Oracle> {
        let map = |ids: &IdMap, find: &dyn Fn(i64) -> Option<usize>| -> Option<Vec<usize>> {
            match ids {
                IdMap::Int(v) => v.iter().map(|&id| find(id)).collect(),
                IdMap::Str(_) => None,
            }
        };
        let users = map(&ds.users, &|id| truth.user_index(id))?;
        let items = map(&ds.items, &|id| truth.item_index(id))?;
        Some(Oracle {
            truth,
            users,
            items,
        })
    }

    fn scoring(message: String) -> ModelError {
        ModelError::Scoring {
            model: "oracle".into(),
            message,
        }
    }
}

impl Recommender for Oracle {
    fn name(&self) -> &str {
        "oracle"
    }

    fn probabilistic(&self) -> bool {
        self.truth.probabilistic()
    }

    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError> {
        part.user
            .iter()
            .zip(&part.item)
            .map(|(&u, &i)| {
                let (Some(&gu), Some(&gi)) =
                    (self.users.get(u as usize), self.items.get(i as usize))
                else {
                    return Err(Self::scoring(format!(
                        "row ({u}, {i}) is not a train index"
                    )));
                };
                Ok(self.truth.score(gu, gi) as f32)
            })
            .collect()
    }

    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), ModelError> {
        let gu = *self
            .users
            .get(user as usize)
            .ok_or_else(|| Self::scoring(format!("user index {user} is not a train user")))?;
        for (o, &gi) in out.iter_mut().zip(&self.items) {
            *o = self.truth.score(gu, gi) as f32;
        }
        Ok(())
    }
}
