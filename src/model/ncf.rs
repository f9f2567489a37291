//! NCF as a clickrec model: train/validation sets from the split, side tables, export.
//!
//! CTR logs train on every train impression with its label and row features. Implicit logs train
//! on the distinct train (user, item) pairs as positives with sampled negatives; their side
//! features come from the user/item tables (row features cannot exist for sampled negatives).
//! With `early_stopping`, the last active day of each user's train rows is carved out as the
//! validation part, the same way the test part is carved from the whole log.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ModelError, Recommender};
use crate::config::{NcfBackend, NcfEmbeddingOptimizer, NcfVariant, RawNcf};
use std::collections::HashSet;

use crate::dataset::{Dataset, Part};
use crate::error::{Error, Result};
use crate::features::{FeatureSpec, Range};
use crate::ncf::{self, NcfParams, NcfTrained, SideTables, TrainSet, Validation};
use crate::report::{Curve, Timing};
use crate::split;

/// A trained NCF behind the common interface.
pub struct NcfRecommender {
    pub trained: NcfTrained,
    /// Mean scaled train row features (for `recommend`, which has no impression row).
    pub row_feature_means: Vec<f32>,
}

fn scoring(e: impl std::fmt::Display) -> ModelError {
    ModelError::Scoring {
        model: "ncf".into(),
        message: e.to_string(),
    }
}

impl Recommender for NcfRecommender {
    fn name(&self) -> &str {
        "ncf"
    }
    fn probabilistic(&self) -> bool {
        true
    }
    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError> {
        self.trained
            .predict(&part.user, &part.item, &part.x)
            .map_err(scoring)
    }
    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), ModelError> {
        self.trained.score_all_items(user, out).map_err(scoring)
    }
}

/// The `[ncf]` table as trainer parameters.
pub fn params(raw: &RawNcf, seed: u64) -> NcfParams {
    NcfParams {
        variant: match raw.variant {
            NcfVariant::Mlp => ncf::Variant::Mlp,
            NcfVariant::Neumf => ncf::Variant::Neumf,
        },
        embedding_dim: raw.embedding_dim,
        hidden: raw.hidden.clone(),
        dropout: raw.dropout,
        epochs: raw.epochs,
        batch_size: raw.batch_size,
        learning_rate: raw
            .lr_scaling
            .apply(raw.learning_rate, raw.batch_size, raw.lr_base_batch),
        weight_decay: raw.weight_decay,
        negatives: raw.negatives,
        pos_weight: raw.pos_weight,
        early_stopping: raw.early_stopping,
        backend: match raw.backend {
            NcfBackend::Flex => ncf::Backend::Flex,
            NcfBackend::Ndarray => ncf::Backend::Ndarray,
            NcfBackend::Wgpu => ncf::Backend::Wgpu,
        },
        seed,
        init_std: raw.init_std,
        embedding_optimizer: match raw.embedding_optimizer {
            NcfEmbeddingOptimizer::LazyAdam => ncf::EmbeddingOptimizer::LazyAdam,
            NcfEmbeddingOptimizer::Adam => ncf::EmbeddingOptimizer::Adam,
        },
        keep_best: raw.keep_best.unwrap_or(true),
    }
}

/// The item side table, with the `item_popularity` column appended when enabled.
pub fn item_side(ds: &Dataset, popularity: bool) -> (FeatureSpec, Vec<f32>) {
    let (mut spec, values) = (ds.item_side.spec.clone(), ds.item_side.values.clone());
    if !popularity {
        return (spec, values);
    }
    let mut count = vec![0f64; ds.n_items()];
    for &i in &ds.train.item {
        count[i as usize] += 1.0;
    }
    let logs: Vec<f64> = count.iter().map(|c| c.ln_1p()).collect();
    let range = Range::fit(logs.iter().copied());
    let w = spec.width();
    let mut out = Vec::with_capacity(ds.n_items() * (w + 1));
    for (i, l) in logs.iter().enumerate() {
        out.extend_from_slice(&values[i * w..(i + 1) * w]);
        out.push(range.scale(*l));
    }
    spec.numeric.push("item_popularity".into());
    spec.ranges.push(range);
    (spec, out)
}

/// Side tables of the dataset.
pub fn side_tables(ds: &Dataset, popularity: bool) -> SideTables {
    let (spec, item_side) = item_side(ds, popularity);
    SideTables {
        n_users: ds.n_users(),
        n_items: ds.n_items(),
        user_side: ds.user_side.values.clone(),
        fu: ds.user_side.spec.width(),
        item_side,
        fi: spec.width(),
    }
}

/// A trainer set from rows `rows` of a part whose row features are `x` ([len × fr]): CTR rows
/// with labels, or the distinct positive pairs (implicit).
fn train_set(part: &Part, x: &[f32], fr: usize, rows: &[usize]) -> TrainSet {
    match &part.label {
        Some(l) => TrainSet {
            users: rows.iter().map(|&r| part.user[r]).collect(),
            items: rows.iter().map(|&r| part.item[r]).collect(),
            row_features: if rows.len() == part.len() {
                x.to_vec()
            } else {
                rows.iter()
                    .flat_map(|&r| x[r * fr..(r + 1) * fr].iter().copied())
                    .collect()
            },
            fr,
            labels: rows.iter().map(|&r| f32::from(u8::from(l[r]))).collect(),
            implicit: false,
        },
        None => {
            let mut pairs: Vec<(u32, u32)> =
                rows.iter().map(|&r| (part.user[r], part.item[r])).collect();
            pairs.sort_unstable();
            pairs.dedup();
            TrainSet {
                labels: vec![1.0; pairs.len()],
                users: pairs.iter().map(|p| p.0).collect(),
                items: pairs.iter().map(|p| p.1).collect(),
                row_features: Vec::new(),
                fr: 0,
                implicit: true,
            }
        }
    }
}

/// Every row of a part as a trainer set; CTR rows take `x` over without a copy (at 57 M rows ×
/// 15 features a copy would be 3.4 GB).
fn train_set_all(part: &Part, x: Vec<f32>, fr: usize) -> TrainSet {
    match &part.label {
        Some(l) => TrainSet {
            users: part.user.clone(),
            items: part.item.clone(),
            row_features: x,
            fr,
            labels: l.iter().map(|&y| f32::from(u8::from(y))).collect(),
            implicit: false,
        },
        None => train_set(part, &x, fr, &(0..part.len()).collect::<Vec<_>>()),
    }
}

/// Implicit validation rows: each positive with 4 sampled items the user has not seen (label 0).
fn with_negatives(mut v: TrainSet, ds: &Dataset, seed: u64) -> TrainSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7A11D);
    let n = ds.n_items() as u32;
    let positives = v.users.len();
    for r in 0..positives {
        let u = v.users[r];
        let seen = ds.seen(u);
        if seen.len() + 1 >= n as usize {
            continue;
        }
        for _ in 0..4 {
            let j = loop {
                let j = rng.random_range(0..n);
                if seen.binary_search(&j).is_err() && j != v.items[r] {
                    break j;
                }
            };
            v.users.push(u);
            v.items.push(j);
            v.labels.push(0.0);
        }
    }
    v.implicit = false;
    v
}

/// Carve the validation day out of the train part, the way the test part was carved out of the
/// log: each user's last active train day, minus rows whose item is not left in train (and, for
/// implicit logs, pairs already in the remaining train rows).
fn carve_validation(t: &Part, n_users: usize, ctr: bool) -> (Vec<usize>, Vec<usize>) {
    let mask = split::last_day_mask(t.len(), n_users, |r| t.user[r], |r| t.ts[r]);
    let train: Vec<usize> = (0..t.len()).filter(|&r| !mask[r]).collect();
    let items: HashSet<u32> = train.iter().map(|&r| t.item[r]).collect();
    let pairs: HashSet<(u32, u32)> = train.iter().map(|&r| (t.user[r], t.item[r])).collect();
    let valid = (0..t.len())
        .filter(|&r| {
            mask[r]
                && items.contains(&t.item[r])
                && (ctr || !pairs.contains(&(t.user[r], t.item[r])))
        })
        .collect();
    (train, valid)
}

/// Train NCF on the dataset. The train row features move into the trainer (they are needed by
/// nothing else, and at 10 M rows a copy costs half a gigabyte).
pub fn fit(
    raw: &RawNcf,
    seed: u64,
    ds: &mut Dataset,
    checkpoint: &Path,
    resume: bool,
    quiet: bool,
) -> Result<(NcfRecommender, Timing, Curve)> {
    let fr = ds.row_spec.width();
    if let Some((column, levels)) = &ds.one_hot_skipped {
        return Err(Error::Training(format!(
            "[ncf] on an implicit log one-hot encodes side-table categorical columns of at most {} levels; `{column}` has {levels}: remove it from the table's `categorical`, or give the log a click label (data.label), where every categorical column is an embedded field",
            crate::data::MAX_LEVELS
        )));
    }
    if !ds.ctr && fr > 0 {
        return Err(Error::Training(
            "[ncf]: implicit logs cannot use row features ([data].features/categorical): sampled negatives have none; move them to [data.user_table] / [data.item_table]".into(),
        ));
    }
    let params = params(raw, seed);
    let x = std::mem::take(&mut ds.train.x);
    let mut row_feature_means = vec![0f32; fr];
    if fr > 0 && !x.is_empty() {
        for row in x.chunks_exact(fr) {
            row_feature_means
                .iter_mut()
                .zip(row)
                .for_each(|(m, v)| *m += v);
        }
        let n = (x.len() / fr) as f32;
        row_feature_means.iter_mut().for_each(|m| *m /= n);
    }
    let t = &ds.train;
    let wants_validation = raw.early_stopping.is_some() || raw.keep_best == Some(true);
    let (mut train, valid) = match wants_validation {
        false => (train_set_all(t, x, fr), None),
        true => {
            let (sub, val) = carve_validation(t, ds.n_users(), ds.ctr);
            if val.is_empty() {
                return Err(Error::Training(
                    "[ncf].early_stopping / keep_best: no user has two active days in train, so there is no validation day; remove early_stopping and keep_best".into(),
                ));
            }
            let v = train_set(t, &x, fr, &val);
            let v = if ds.ctr {
                v
            } else {
                with_negatives(v, ds, seed)
            };
            let train = train_set(t, &x, fr, &sub);
            drop(x);
            (train, Some(v))
        }
    };
    let side = side_tables(ds, raw.item_popularity);
    std::fs::create_dir_all(checkpoint)
        .map_err(|e| Error::Training(format!("{}: {e}", checkpoint.display())))?;
    let auc = |l: &[bool], s: &[f64]| crate::metrics::roc_auc(l, s).ok();
    let validation = valid.as_ref().map(|set| Validation { set, auc: &auc });
    let mut curve = Curve::default();
    let mut on_epoch = |r: &ncf::EpochReport| {
        curve.loss.push(r.loss);
        curve.valid_auc.push(r.valid_auc);
    };
    let trained = ncf::train_owned(
        &params,
        &side,
        &mut train,
        validation,
        Some(&checkpoint.join("ncf")),
        resume,
        &mut on_epoch,
        !quiet,
    )
    .map_err(|e| Error::Training(format!("ncf: {e}")))?;
    // On resume, the reports of the epochs before the interruption come from the checkpoint.
    let reports = trained.reports();
    curve.loss = reports.iter().map(|r| r.loss).collect();
    curve.valid_auc = reports.iter().map(|r| r.valid_auc).collect();
    let timing = Timing::from_epochs(reports.iter().map(|r| (r.seconds, r.samples)));
    Ok((
        NcfRecommender {
            trained,
            row_feature_means,
        },
        timing,
        curve,
    ))
}

/// Write `ncf/` (weights and architecture from the trainer, plus `scorer.json`).
pub fn export(dir: &Path, r: &NcfRecommender, ctx: &crate::export::ExportContext) -> Result<()> {
    let d = dir.join("ncf");
    r.trained
        .export(&d)
        .map_err(|e| Error::Export(format!("ncf export: {e}")))?;
    let ds = ctx.ds;
    let json = crate::export::scorer::ScorerJson {
        format: crate::export::scorer::FORMAT.into(),
        clickrec_version: env!("CARGO_PKG_VERSION").into(),
        mode: if ds.ctr { "ctr" } else { "implicit" }.into(),
        user_column: ctx.cfg.raw.data.user.clone(),
        item_column: ctx.cfg.raw.data.item.clone(),
        columns: crate::export::InputColumns::of(ctx.cfg),
        row_features: ds.row_spec.clone(),
        user_features: ds.user_side.spec.clone(),
        item_features: item_side(ds, ctx.cfg.raw.ncf.as_ref().is_some_and(|n| n.item_popularity)).0,
        threshold: ctx.threshold.filter(|t| t.is_finite()),
        cutoff_weight: ctx.cfg.raw.eval.cutoff_weight,
        row_feature_means: r.row_feature_means.clone(),
        cold_start: "ids not seen in training get the mean trained embedding and mean side features; flagged cold_user / cold_item".into(),
    };
    crate::export::ids::write_ids(&d, ds)?;
    crate::export::write_json(&d.join("scorer.json"), &json)
}
