//! Wiring of the trainable models (NCF, ALS) into the pipeline.

use std::sync::Arc;

use crate::config::RunConfig;
use crate::error::Result;
use crate::model::{als, ncf};
use crate::pipeline::{Fitted, Prepared, TrainOptions, checkpoint_dir};

/// Fit NCF and ALS when their tables are enabled.
pub fn fit_enabled(
    cfg: &RunConfig,
    p: &mut Prepared,
    opts: &TrainOptions,
    out: &mut Vec<Fitted>,
) -> Result<()> {
    let ck = checkpoint_dir(cfg);
    if let Some(raw) = cfg.raw.ncf.as_ref().filter(|n| n.enabled) {
        let t = std::time::Instant::now();
        let (model, timing, curve) =
            ncf::fit(raw, cfg.raw.seed, &mut p.ds, &ck, opts.resume, opts.quiet)?;
        let model = Arc::new(model);
        let for_export = model.clone();
        out.push(Fitted {
            model,
            timing,
            curve: Some(curve),
            wall_seconds: t.elapsed().as_secs_f64(),
            export: Some(Box::new(move |dir, ctx| ncf::export(dir, &for_export, ctx))),
        });
    }
    if let Some(raw) = cfg.raw.als.as_ref().filter(|a| a.enabled) {
        let t = std::time::Instant::now();
        let params = als::params(raw, cfg.raw.seed);
        let (model, timing, curve) = als::fit(
            &p.ds,
            params,
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
            export: Some(Box::new(move |dir, ctx| {
                als::export(dir, &for_export, ctx.ds)
            })),
        });
    }
    Ok(())
}
