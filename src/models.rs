//! Wiring of the trainable models (NCF, ALS) into the pipeline.

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
        let (model, timing, curve) =
            ncf::fit(raw, cfg.raw.seed, &mut p.ds, &ck, opts.resume, opts.quiet)?;
        let shared = std::sync::Arc::new(model);
        let for_export = shared.clone();
        out.push(Fitted {
            model: Box::new(ArcModel(shared)),
            timing,
            curve: Some(curve),
            export: Some(Box::new(move |dir, ctx| ncf::export(dir, &for_export, ctx))),
        });
    }
    if let Some(raw) = cfg.raw.als.as_ref().filter(|a| a.enabled) {
        let params = als::params(raw, cfg.raw.seed);
        let (model, timing, curve) = als::fit(
            &p.ds,
            params,
            &ck,
            raw.checkpoint_seconds,
            opts.resume,
            opts.quiet,
        )?;
        let exported = std::sync::Arc::new(model);
        let for_export = exported.clone();
        out.push(Fitted {
            model: Box::new(ArcModel(exported)),
            timing,
            curve: (!curve.loss.is_empty()).then_some(curve),
            export: Some(Box::new(move |dir, ctx| {
                als::export(dir, &for_export, ctx.ds)
            })),
        });
    }
    Ok(())
}

/// A shared model behind the common interface (the exporter keeps a second handle).
struct ArcModel<M>(std::sync::Arc<M>);

impl<M: crate::model::Recommender> crate::model::Recommender for ArcModel<M> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn probabilistic(&self) -> bool {
        self.0.probabilistic()
    }
    fn score_rows(
        &self,
        part: &crate::dataset::Part,
    ) -> Result<Vec<f32>, crate::model::ModelError> {
        self.0.score_rows(part)
    }
    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), crate::model::ModelError> {
        self.0.score_items(user, out)
    }
}
