//! Wiring of the models into the `train` job: fit every enabled model and attach its exporter.

use std::sync::Arc;
use std::time::Instant;

use crate::config::RunConfig;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::fitted::{Fitted, TrainOptions, checkpoint_dir};
use crate::model::popularity::{self, Popularity};
use crate::model::{als, ncf};
use crate::report::Timing;

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
