//! The popularity baseline: every user gets the same item scores.
//!
//! Implicit logs: score = the item's number of train rows (the protocol's baseline, so its
//! HR@10 equals the peers'). CTR logs: score = the item's smoothed train click rate
//! (clicks + m·p) / (impressions + m) with p the global click rate and m = 10 pseudo-impressions,
//! a probability, so log loss and the ROC threshold mean something.
//!
//! With `popularity.half_life_days` every train row counts its recency factor
//! ([`super::recency`]) instead of 1, in the row counts and (CTR) in clicks and impressions alike:
//! recent popularity, the strong baseline of drifting logs such as news.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::recency::{self, Decay};
use super::{ModelError, Recommender};
use crate::dataset::{Dataset, Part};
use crate::error::{Error, Result};
use crate::export::{ExportContext, Tensor, write_json, write_safetensors};

/// Prior strength (pseudo-impressions) of the CTR smoothing.
const PRIOR_IMPRESSIONS: f64 = 10.0;

/// Item scores shared by every user.
#[derive(Debug, Clone)]
pub struct Popularity {
    pub scores: Vec<f32>,
    probabilistic: bool,
    /// The recency weighting of the counts (exported for the record).
    pub decay: Option<Decay>,
}

/// Format tag of `popularity/model.json`.
pub const FORMAT: &str = "clickrec-popularity-1";

/// `popularity/model.json`; the scores are in `scores.safetensors` (`scores`, F32
/// `[n_items]`), the ids in `ids.safetensors`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PopularityJson {
    pub format: String,
    pub kind: String,
    pub clickrec_version: String,
    /// Whether the scores are click probabilities (CTR logs).
    pub probabilistic: bool,
    pub rule: String,
    /// The recency weighting of the counts (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<Decay>,
    /// The training config's input columns (for `recommend --history`).
    pub columns: crate::export::InputColumns,
}

impl Popularity {
    /// A model from exported scores.
    pub fn from_scores(scores: Vec<f32>, probabilistic: bool) -> Popularity {
        Popularity {
            scores,
            probabilistic,
            decay: None,
        }
    }

    /// Fit on the train part; each row counts its factor under a `half_life_days` decay
    /// (1 without one).
    pub fn fit(ds: &Dataset, half_life_days: Option<f64>) -> Popularity {
        let t = &ds.train;
        let decay = Decay::over(half_life_days, &t.ts);
        let w = recency::factors(decay.as_ref(), &t.ts);
        let n = ds.n_items();
        let mut rows = vec![0f64; n];
        for (&i, &w) in t.item.iter().zip(&w) {
            rows[i as usize] += f64::from(w);
        }
        match &t.label {
            None => Popularity {
                scores: rows.iter().map(|&c| c as f32).collect(),
                probabilistic: false,
                decay,
            },
            Some(labels) => {
                let mut clicks = vec![0f64; n];
                for ((&i, &l), &w) in t.item.iter().zip(labels).zip(&w) {
                    clicks[i as usize] += f64::from(u8::from(l)) * f64::from(w);
                }
                let p =
                    clicks.iter().sum::<f64>() / rows.iter().sum::<f64>().max(f64::MIN_POSITIVE);
                let scores = clicks
                    .iter()
                    .zip(&rows)
                    .map(|(&c, &r)| ((c + PRIOR_IMPRESSIONS * p) / (r + PRIOR_IMPRESSIONS)) as f32)
                    .collect();
                Popularity {
                    scores,
                    probabilistic: true,
                    decay,
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

/// Write `popularity/model.json`, `popularity/scores.safetensors`, `popularity/ids.safetensors`.
pub fn export(dir: &Path, m: &Popularity, ctx: &ExportContext) -> Result<()> {
    let d = dir.join("popularity");
    std::fs::create_dir_all(&d).map_err(|e| Error::Export(format!("{}: {e}", d.display())))?;
    write_safetensors(
        &d.join("scores.safetensors"),
        &[Tensor {
            name: "scores",
            shape: vec![m.scores.len()],
            data: &m.scores,
        }],
        HashMap::from([("format".into(), FORMAT.into())]),
    )?;
    crate::export::ids::write_ids(&d, ctx.ds)?;
    let mut rule = if m.probabilistic {
        "smoothed train click rate (clicks + 10 p) / (impressions + 10)"
    } else {
        "number of train rows of the item"
    }
    .to_string();
    if let Some(d) = &m.decay {
        rule.push_str(&format!(
            ", each row weighted 0.5^(age / {} days)",
            d.half_life_days
        ));
    }
    write_json(
        &d.join("model.json"),
        &PopularityJson {
            format: FORMAT.into(),
            kind: "popularity".into(),
            clickrec_version: env!("CARGO_PKG_VERSION").into(),
            probabilistic: m.probabilistic,
            rule,
            decay: m.decay,
            columns: crate::export::InputColumns::of(ctx.cfg),
        },
    )
}
