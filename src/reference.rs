//! Reference rows: baselines fitted beside the configured models so that every comparison
//! shows the figure to beat. Today one: recent popularity (popularity with a half-life) wherever
//! timestamps exist.

use std::time::Instant;

use crate::config::RunConfig;
use crate::dataset::Dataset;
use crate::model::popularity::Popularity;
use crate::model::{ModelError, Recommender};
use crate::report::Timing;

/// The name of the recent-popularity reference row.
pub const RECENT_POPULARITY: &str = "recent_popularity";

/// The half-life (days) of the recent-popularity reference row when no validation part chose
/// one (`clickrec tune` chooses it on its validation part): a week, the scale on which the
/// shared logs turn over (on DeskDrop a 7-day half-life beats every longer one).
pub const RECENT_HALF_LIFE_DAYS: f64 = 7.0;

/// Whether a run gets the recent-popularity reference row: popularity is enabled without a
/// half-life of its own (with one it already is recent popularity) and the train part spans
/// more than one instant (without time there is nothing to decay).
pub fn fits_recent_popularity(cfg: &RunConfig, ds: &Dataset) -> bool {
    let p = &cfg.raw.popularity;
    let ts = &ds.train.ts;
    let spread = ts.iter().min() != ts.iter().max();
    p.enabled && p.half_life_days.is_none_or(|h| h.is_infinite()) && spread
}

/// The note of the reference row in metrics.json and the report.
pub fn recent_note(half_life: Option<f64>) -> String {
    match half_life {
        Some(h) => format!(
            "reference row: popularity with a {h}-day half-life, chosen on the validation part by tune.metric; not exported"
        ),
        None => format!(
            "reference row: popularity with a {RECENT_HALF_LIFE_DAYS}-day half-life (the default without a validation part; `clickrec tune` chooses it); not exported"
        ),
    }
}

/// Recent popularity under its own name: the baseline to beat wherever timestamps exist.
struct RecentPopularity(Popularity);

impl Recommender for RecentPopularity {
    fn name(&self) -> &str {
        RECENT_POPULARITY
    }
    fn probabilistic(&self) -> bool {
        self.0.probabilistic()
    }
    fn score_rows(&self, part: &crate::dataset::Part) -> Result<Vec<f32>, ModelError> {
        self.0.score_rows(part)
    }
    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), ModelError> {
        self.0.score_items(user, out)
    }
}

/// The recent-popularity reference row of a run, fitted (none when
/// [`fits_recent_popularity`] says no): popularity with the half-life a validation part chose
/// (`half_life`, from `clickrec tune`), else [`RECENT_HALF_LIFE_DAYS`]. `train` evaluates it like
/// a model; it is not exported.
pub fn recent_popularity(
    cfg: &RunConfig,
    ds: &Dataset,
    half_life: Option<f64>,
) -> Option<(Box<dyn Recommender>, Timing)> {
    if !fits_recent_popularity(cfg, ds) {
        return None;
    }
    let t = Instant::now();
    let h = half_life.unwrap_or(RECENT_HALF_LIFE_DAYS);
    let model = RecentPopularity(Popularity::fit(ds, Some(h)));
    let timing = Timing {
        fit_seconds: t.elapsed().as_secs_f64(),
        ..Default::default()
    };
    Some((Box::new(model), timing))
}
