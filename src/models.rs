//! Wiring of the models into the `train` job: fit every enabled model and attach its exporter.

use std::sync::Arc;
use std::time::Instant;

use crate::config::RunConfig;
use crate::ctr;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::fitted::{Fitted, TrainOptions, checkpoint_dir};
use crate::model::ctr as model_ctr;
use crate::model::popularity::{self, Popularity};
use crate::model::{als, ncf};
use crate::report::Timing;

/// Fit every enabled model: popularity, then NCF, DeepFM, DCNv2 and ALS when their tables are
/// enabled. `[ncf]` on a click log with categorical fields trains over fields
/// ([`crate::config::RunConfig::ncf_over_fields`]).
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
            validation: None,
            notes: Vec::new(),
        });
    }
    let ck = checkpoint_dir(cfg);
    let ncf_fields = cfg.ncf_over_fields();
    let seed_ncf = cfg.raw.ncf.as_ref().is_some_and(|n| n.enabled) && !ncf_fields;
    // NCF over fields (a click log with categorical columns) shares DeepFM's and DCNv2's
    // field map, encoding, trainer and export.
    let ncf = cfg
        .raw
        .ncf
        .as_ref()
        .filter(|_| ncf_fields)
        .map(model_ctr::ncf_table);
    let ctr_models: Vec<(ctr::Kind, &crate::config::RawCtr)> = [
        (ctr::Kind::Ncf, ncf.as_ref()),
        (ctr::Kind::DeepFm, cfg.raw.deepfm.as_ref()),
        (ctr::Kind::DcnV2, cfg.raw.dcnv2.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, r)| r.filter(|r| r.enabled).map(|r| (k, r)))
    .collect();
    // Encoded before the seed NCF, which takes the train features; when it does not run, the
    // encoding takes them instead of copying them.
    let encoded = (!ctr_models.is_empty()).then(|| {
        let t = Instant::now();
        let e = model_ctr::encode(cfg, ds, !seed_ncf);
        (e, t.elapsed().as_secs_f64())
    });
    if let Some(raw) = cfg.raw.ncf.as_ref().filter(|n| n.enabled && !ncf_fields) {
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
            validation: None,
            notes: lr_note(
                raw.lr_scaling,
                raw.learning_rate,
                raw.batch_size,
                raw.lr_base_batch,
            )
            .into_iter()
            .collect(),
        });
    }
    // The shared encoding's time is the first CTR model's (its stage line in the report).
    let mut encode_seconds = encoded.as_ref().map_or(0.0, |e| e.1);
    for (kind, raw) in ctr_models {
        let Some((enc, _)) = &encoded else {
            break;
        };
        let t = Instant::now();
        let (model, timing, curve) =
            model_ctr::fit(kind, raw, cfg, enc, &ck, opts.resume, opts.quiet)?;
        let oov: Vec<String> = model
            .test_oov
            .iter()
            .filter(|o| o.rows > 0)
            .map(|o| format!("{} {}", o.field, o.rows))
            .collect();
        let fields: Vec<String> = model
            .fields
            .fields
            .iter()
            .map(|f| {
                let size = match f.hash_buckets {
                    Some(n) => format!("{n} hash buckets"),
                    None => format!("{} levels", f.vocabulary),
                };
                match f.empty_train_rows {
                    0 => format!("{} ({size})", f.name),
                    e => format!("{} ({size}; {e} empty train values)", f.name),
                }
            })
            .collect();
        let mut notes = vec![format!("fields: {}", fields.join(", "))];
        notes.extend(lr_note(
            raw.lr_scaling,
            raw.learning_rate,
            raw.batch_size,
            raw.lr_base_batch,
        ));
        notes.extend(if oov.is_empty() {
            vec!["every test row's levels are in the train vocabularies (no OOV row used)".into()]
        } else {
            vec![format!(
                "test rows scored through a field's OOV row (unseen or rarer than data.min_count in train): {}",
                oov.join(", ")
            )]
        });
        let validation = model.validation;
        if let Some(v) = validation
            && let (Some(c), Some(before), Some(after)) =
                (v.calibration, v.logloss_uncalibrated, v.logloss)
        {
            notes.push(format!(
                "probabilities calibrated on the validation part (Platt): p = σ({:.4}·logit {} {:.4}); validation log loss {before:.4} → {after:.4}, AUC unchanged",
                c.scale,
                if c.shift < 0.0 { '−' } else { '+' },
                c.shift.abs()
            ));
        }
        let model = Arc::new(model);
        let for_export = model.clone();
        out.push(Fitted {
            model,
            timing,
            curve: Some(curve),
            wall_seconds: t.elapsed().as_secs_f64() + std::mem::take(&mut encode_seconds),
            export: Some(Box::new(move |dir, ctx| {
                model_ctr::export(dir, &for_export, ctx)?;
                crate::export::onnx_ctr::write_ctr(&dir.join(kind.name()))
            })),
            validation,
            notes,
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
            validation: None,
            notes: Vec::new(),
        });
    }
    Ok(out)
}

/// The note naming the learning rate a model trained with, when `lr_scaling` changed it.
fn lr_note(
    scaling: crate::config::LrScaling,
    lr: f64,
    batch: usize,
    base: usize,
) -> Option<String> {
    (scaling != crate::config::LrScaling::None).then(|| {
        format!(
            "learning rate {:.6} = {lr} × √({batch} / {base}) (lr_scaling = \"sqrt\")",
            scaling.apply(lr, batch, base)
        )
    })
}
