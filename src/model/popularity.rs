//! The popularity baseline: every user gets the same item scores.
//!
//! Implicit logs: score = the item's number of train rows (the protocol's baseline, so its
//! HR@10 equals the peers'). CTR logs: score = the item's smoothed train click rate
//! (clicks + m·p) / (impressions + m) with p the global click rate and m = 10 pseudo-impressions,
//! a probability, so log loss and the ROC threshold mean something.

use super::{ModelError, Recommender};
use crate::dataset::{Dataset, Part};

/// Prior strength (pseudo-impressions) of the CTR smoothing.
const PRIOR_IMPRESSIONS: f64 = 10.0;

/// Item scores shared by every user.
#[derive(Debug, Clone)]
pub struct Popularity {
    pub scores: Vec<f32>,
    probabilistic: bool,
}

impl Popularity {
    /// Fit on the train part.
    pub fn fit(ds: &Dataset) -> Popularity {
        let n = ds.n_items();
        let mut rows = vec![0f64; n];
        for &i in &ds.train.item {
            rows[i as usize] += 1.0;
        }
        match &ds.train.label {
            None => Popularity {
                scores: rows.iter().map(|&c| c as f32).collect(),
                probabilistic: false,
            },
            Some(labels) => {
                let mut clicks = vec![0f64; n];
                for (&i, &l) in ds.train.item.iter().zip(labels) {
                    clicks[i as usize] += f64::from(u8::from(l));
                }
                let p = clicks.iter().sum::<f64>() / labels.len().max(1) as f64;
                let scores = clicks
                    .iter()
                    .zip(&rows)
                    .map(|(&c, &r)| ((c + PRIOR_IMPRESSIONS * p) / (r + PRIOR_IMPRESSIONS)) as f32)
                    .collect();
                Popularity {
                    scores,
                    probabilistic: true,
                }
            }
        }
    }
}

impl Recommender for Popularity {
    fn name(&self) -> &str {
        "popularity"
    }

    fn probabilistic(&self) -> bool {
        self.probabilistic
    }

    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError> {
        part.item
            .iter()
            .map(|&i| {
                self.scores
                    .get(i as usize)
                    .copied()
                    .ok_or_else(|| ModelError::Scoring {
                        model: "popularity".into(),
                        message: format!("item index {i} is not a train item"),
                    })
            })
            .collect()
    }

    fn score_items(&self, _user: u32, out: &mut [f32]) -> Result<(), ModelError> {
        for (o, s) in out.iter_mut().zip(&self.scores) {
            *o = *s;
        }
        Ok(())
    }
}
