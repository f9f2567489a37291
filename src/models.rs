//! Wiring of the models into the `train` job: fit every enabled model and attach its exporter.

use std::sync::Arc;
use std::time::Instant;

use crate::config::RunConfig;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::fitted::{Fitted, TrainOptions, checkpoint_dir};
use crate::model::popularity::{self, Popularity};
use crate::model::{ModelError, Recommender, als, ncf};
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

/// Fit every enabled model: popularity, then NCF and ALS when their tables are enabled.
pub fn fit_models(cfg: &RunConfig, ds: &mut Dataset, opts: &TrainOptions) -> Result<Vec<Fitted>> {
    let mut out = Vec::new();
    if cfg.raw.popularity.enabled {
        let t = Instant::now();
        let model = Arc::new(Popularity::fit(ds, cfg.raw.popularity.half_life_days));
        let timing = Timing {
            fit_seconds: t.elapsed().as_secs_f64(),
            ..Default::default()
        };
        let for_export = model.clone();
        out.push(Fitted {
            model,
            timing,
            curve: None,
            wall_seconds: t.elapsed().as_secs_f64(),
            export: Some(Box::new(move |dir, ctx| {
                popularity::export(dir, &for_export, ctx)
            })),
        });
    }
    if !opts.skip_reference && fits_recent_popularity(cfg, ds) {
        let t = Instant::now();
        let h = opts.recent_half_life.unwrap_or(RECENT_HALF_LIFE_DAYS);
        let model = Arc::new(RecentPopularity(Popularity::fit(ds, Some(h))));
        let timing = Timing {
            fit_seconds: t.elapsed().as_secs_f64(),
            ..Default::default()
        };
        out.push(Fitted {
            model,
            timing,
            curve: None,
            wall_seconds: t.elapsed().as_secs_f64(),
            export: None,
        });
    }
    let ck = checkpoint_dir(cfg);
    if let Some(raw) = cfg.raw.ncf.as_ref().filter(|n| n.enabled) {
        let t = Instant::now();
        let (model, timing, curve) = ncf::fit(raw, cfg.raw.seed, ds, &ck, opts.resume, opts.quiet)?;
        let model = Arc::new(model);
        let for_export = model.clone();
        out.push(Fitted {
            model,
            timing,
            curve: Some(curve),
            wall_seconds: t.elapsed().as_secs_f64(),
            export: Some(Box::new(move |dir, ctx| {
                ncf::export(dir, &for_export, ctx)?;
                crate::export::onnx::write_ncf(&dir.join("ncf"))
            })),
        });
    }
    if let Some(raw) = cfg.raw.als.as_ref().filter(|a| a.enabled) {
        let t = Instant::now();
        let params = als::params(raw, cfg.raw.seed);
        let decay = als::decay(raw, ds);
        let (model, timing, curve) = als::fit(
            ds,
            params,
            decay,
            &ck,
            raw.checkpoint_seconds,
            opts.resume,
            opts.quiet,
        )?;
        let model = Arc::new(model);
        let for_export = model.clone();
        out.push(Fitted {
            model,
            timing,
            curve: (!curve.loss.is_empty()).then_some(curve),
            wall_seconds: t.elapsed().as_secs_f64(),
            export: Some(Box::new(move |dir, ctx| als::export(dir, &for_export, ctx))),
        });
    }
    Ok(out)
}
