//! DeepFM, DCNv2 and NCF over fields as clickrec models: the field map from the dataset, the
//! validation part, the trainer, and scoring behind the common interface.
//!
//! The validation part is the given one (`split.valid_path`); without it, a seeded random 10 %
//! of the train rows (the rows are then not trained on).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{ModelError, Recommender};
use crate::config::{
    DEFAULT_CROSS_LAYERS, DENSE_TABLE_LIMIT, NcfBackend, NcfVariant, RawCtr, RawNcf, RunConfig,
    TablePlacement,
};
use crate::ctr::ValidationFigures;
use crate::ctr::{self, Arch, CtrParams, CtrTrained, FieldMap, FieldRows, Kind, LabelledRows};
use crate::dataset::{Dataset, Part};
use crate::error::{Error, Result};
use crate::report::{Curve, Timing};

/// A trained CTR model behind the common interface.
pub struct CtrRecommender {
    pub kind: Kind,
    pub fields: FieldMap,
    /// Columns per row of the parts' `x` (the dense columns are its first `fields.dense`).
    pub fr: usize,
    pub trained: CtrTrained,
    pub validation: Option<ValidationFigures>,
    /// Test rows that went through each field's OOV row.
    pub test_oov: Vec<OovCount>,
}

/// How many rows of a part went through a field's OOV row.
#[derive(Debug, Clone, Serialize)]
pub struct OovCount {
    pub field: String,
    pub rows: usize,
}

impl Recommender for CtrRecommender {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn probabilistic(&self) -> bool {
        true
    }
    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError> {
        let rows = self.fields.encode(part, self.fr);
        self.trained
            .predict(&rows)
            .map_err(|e| ModelError::Scoring {
                model: self.name().into(),
                message: e.to_string(),
            })
    }
    fn score_items(&self, _user: u32, _out: &mut [f32]) -> Result<(), ModelError> {
        Err(ModelError::Scoring {
            model: self.name().into(),
            message: "a CTR model scores impressions (their fields are per row): use \
                      eval.ranking = \"impressions\""
                .into(),
        })
    }
}

/// `[ncf]` over fields as a CTR table: the NCF keys keep their meaning and defaults (dim 8,
/// MLP [32, 16] without batch norm, batch 512, lazy Adam, init std 0.01); `weight_decay` is the
/// L2 of both the dense layers and the embedding rows (as in the seed NCF); no learning-rate
/// decay; no early stopping unless `ncf.early_stopping` is set. The validation part (given, or
/// a seeded 10 % of train) picks the kept epoch, as for DeepFM and DCNv2.
pub fn ncf_table(n: &RawNcf) -> RawCtr {
    RawCtr {
        enabled: n.enabled,
        embedding_dim: n.embedding_dim,
        hidden: n.hidden.clone(),
        dropout: n.dropout,
        batch_norm: false,
        embedding_l2: n.weight_decay,
        weight_decay: n.weight_decay,
        learning_rate: n.learning_rate,
        batch_size: n.batch_size,
        epochs: n.epochs,
        early_stopping: n.early_stopping.unwrap_or(0),
        lr_decay_on_plateau: false,
        cross_layers: None,
        init_std: n.init_std,
        embedding_optimizer: Some(n.embedding_optimizer),
        backend: n.backend,
        tables: n.tables,
        calibration: n.calibration.unwrap_or_default(),
        lr_scaling: n.lr_scaling,
        lr_base_batch: n.lr_base_batch,
    }
}

/// The checked `[deepfm]` / `[dcnv2]` table as trainer settings.
pub fn params(kind: Kind, raw: &RawCtr, seed: u64) -> CtrParams {
    CtrParams {
        name: kind.name(),
        dropout: raw.dropout,
        embedding_l2: raw.embedding_l2,
        weight_decay: raw.weight_decay,
        learning_rate: raw.effective_learning_rate(),
        batch_size: raw.batch_size,
        epochs: raw.epochs,
        early_stopping: raw.early_stopping,
        lr_decay_on_plateau: raw.lr_decay_on_plateau,
        calibrate: raw.calibration == crate::config::CalibrationMethod::Platt,
        init_std: raw.init_std,
        embedding_optimizer: match raw.embedding_optimizer {
            Some(crate::config::NcfEmbeddingOptimizer::LazyAdam) => {
                crate::ncf::EmbeddingOptimizer::LazyAdam
            }
            _ => crate::ncf::EmbeddingOptimizer::Adam,
        },
        backend: match raw.backend {
            NcfBackend::Flex => crate::ncf::Backend::Flex,
            NcfBackend::Ndarray => crate::ncf::Backend::Ndarray,
            NcfBackend::Wgpu => crate::ncf::Backend::Wgpu,
        },
        device_tables: match raw.tables {
            TablePlacement::Host => false,
            TablePlacement::Device => true,
            TablePlacement::Auto => raw.backend == NcfBackend::Wgpu,
        },
        seed,
    }
}

fn labels(part: &Part) -> Vec<f32> {
    part.label
        .as_ref()
        .map(|l| l.iter().map(|&y| f32::from(u8::from(y))).collect())
        .unwrap_or_default()
}

/// The log encoded once for every CTR model of a run (NCF over fields, DeepFM, DCNv2 share
/// the field map, the train rows and the validation part).
pub struct Encoded {
    pub fields: FieldMap,
    /// Columns per row of the parts' `x` (the dense columns are its first `fields.dense`).
    pub fr: usize,
    pub train: FieldRows,
    /// 0/1 per train row.
    pub train_labels: Vec<f32>,
    /// The given validation part (`split.valid_path`), encoded, with its labels.
    pub valid: Option<(FieldRows, Vec<f32>)>,
    /// Without one: the train rows trained on and the seeded 10 % that validate.
    pub carve: Option<(Vec<u32>, Vec<u32>)>,
    /// Test rows that went through each field's OOV row.
    pub test_oov: Vec<OovCount>,
}

/// Encodes the log for the CTR models. With `take_x` the train rows' numeric features move out
/// of `ds.train.x` into the encoding instead of being copied (nothing else reads them then: at
/// 57 M rows × 11 features the copy would be 2.5 GB).
pub fn encode(cfg: &RunConfig, ds: &mut Dataset, take_x: bool) -> Encoded {
    let d = &cfg.raw.data;
    let fields = FieldMap::fit(ds, &d.user, &d.item, d.min_count, &d.hash_buckets);
    let fr = ds.row_spec.width();
    let train = match take_x {
        true => fields.encode_owned(&mut ds.train, fr),
        false => fields.encode(&ds.train, fr),
    };
    let train_labels = labels(&ds.train);
    let valid = ds.valid.as_ref().map(|v| (fields.encode(v, fr), labels(v)));
    let carve = valid.is_none().then(|| {
        let mut idx: Vec<u32> = (0..train.n as u32).collect();
        idx.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.raw.seed ^ 0x00C7_A11D));
        let (v, t) = idx.split_at(train.n / 10);
        let (mut v, mut t) = (v.to_vec(), t.to_vec());
        v.sort_unstable();
        t.sort_unstable();
        (t, v)
    });
    let test_oov = fields
        .fields
        .iter()
        .zip(fields.oov_rows(&ds.test))
        .map(|(f, rows)| OovCount {
            field: f.name.clone(),
            rows,
        })
        .collect();
    Encoded {
        fields,
        fr,
        train,
        train_labels,
        valid,
        carve,
        test_oov,
    }
}

/// Trains `[deepfm]`, `[dcnv2]` or `[ncf]` over fields (`raw` from [`ncf_table`]) on the
/// encoded log.
pub fn fit(
    kind: Kind,
    raw: &RawCtr,
    cfg: &RunConfig,
    enc: &Encoded,
    checkpoint: &std::path::Path,
    resume: bool,
    quiet: bool,
) -> Result<(CtrRecommender, Timing, Curve)> {
    let fields = &enc.fields;
    let mut params = params(kind, raw, cfg.raw.seed);
    let table_values: usize =
        fields.fields.iter().map(|f| f.rows).sum::<usize>() * raw.embedding_dim;
    if raw.embedding_optimizer.is_none() && table_values > DENSE_TABLE_LIMIT {
        params.embedding_optimizer = crate::ncf::EmbeddingOptimizer::LazyAdam;
    }
    let arch = Arch {
        kind,
        fields: fields.len(),
        dim: raw.embedding_dim,
        dense: fields.dense,
        hidden: raw.hidden.clone(),
        batch_norm: raw.batch_norm,
        cross_layers: raw.cross_layers.unwrap_or(DEFAULT_CROSS_LAYERS),
        neumf: kind == Kind::Ncf
            && cfg
                .raw
                .ncf
                .as_ref()
                .is_some_and(|n| n.variant == NcfVariant::Neumf),
    };
    let table_rows: Vec<usize> = fields.fields.iter().map(|f| f.rows).collect();
    let (train, valid) = match (&enc.valid, &enc.carve) {
        (Some((rows, labels)), _) => (
            LabelledRows::all(&enc.train, &enc.train_labels),
            LabelledRows::all(rows, labels),
        ),
        (None, carve) => {
            let (t, v) = carve
                .as_ref()
                .map(|(t, v)| (t.as_slice(), v.as_slice()))
                .unwrap_or_default();
            let part = |subset| LabelledRows {
                rows: &enc.train,
                labels: &enc.train_labels,
                subset: Some(subset),
            };
            (part(t), part(v))
        }
    };
    let valid_n = valid.subset.map_or(valid.rows.n, <[u32]>::len);
    let trained = ctr::train::train(
        &params,
        arch,
        &table_rows,
        train,
        (valid_n > 0).then_some(valid),
        !quiet,
        Some(&checkpoint.join(kind.name())),
        resume,
    )
    .map_err(|e| Error::Training(format!("{}: {e}", kind.name())))?;
    let reports = &trained.reports;
    let best = reports.get(trained.best_epoch.saturating_sub(1));
    let calibrated = trained.calibrated_logloss;
    let validation = (valid_n > 0).then(|| ValidationFigures {
        auc: best.and_then(|r| r.valid_auc),
        logloss: calibrated
            .map(|c| c.1)
            .or_else(|| best.and_then(|r| r.valid_logloss)),
        logloss_uncalibrated: calibrated.map(|c| c.0),
        calibration: calibrated.map(|_| trained.calibration),
        best_epoch: trained.best_epoch,
        rows: valid_n,
    });
    let timing = Timing::from_epochs(reports.iter().map(|r| (r.seconds, r.samples)));
    let curve = Curve {
        loss: reports.iter().map(|r| r.loss).collect(),
        valid_auc: reports.iter().map(|r| r.valid_auc).collect(),
    };
    Ok((
        CtrRecommender {
            kind,
            fields: fields.clone(),
            fr: enc.fr,
            trained,
            validation,
            test_oov: enc.test_oov.clone(),
        },
        timing,
        curve,
    ))
}

/// One field of `model.json`: how to turn a raw row into the field's table row.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct FieldJson {
    pub name: String,
    pub kind: crate::ctr::fields::FieldKind,
    /// `user`, `item`, `row` (a log column), `user_table` / `item_table` (a side-table column,
    /// looked up by the row's user / item through `by_id`), `sequence`.
    pub source: String,
    /// Rows of the field's table; row 0 is the OOV row.
    pub rows: usize,
    /// Hashed field: row = 1 + FNV-1a-64(text) mod N.
    pub hash_buckets: Option<usize>,
    /// Vocabulary field: `vocabulary[k]` has row k + 1; any other value has row 0.
    pub vocabulary: Vec<String>,
    /// Side-table fields: the level of each raw user (item) id.
    pub by_id: Option<std::collections::BTreeMap<String, String>>,
}

/// `model.json` of an exported CTR model.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ModelJson {
    pub format: String,
    pub clickrec_version: String,
    pub model: String,
    pub arch: Arch,
    pub user_column: String,
    pub item_column: String,
    pub sequence_separator: String,
    pub fields: Vec<FieldJson>,
    /// Numeric columns fed after the embeddings, min-max scaled with these ranges (not clipped).
    pub dense: crate::features::FeatureSpec,
    pub threshold: Option<f64>,
}

/// The `model.json` format this version writes.
pub const FORMAT: &str = "clickrec-ctr-1";

/// Write `<dir>/<model>/model.safetensors` (every weight, see [`CtrTrained::tensors`]) and
/// `model.json` (architecture, field map with vocabularies, dense scaling, threshold).
pub fn export(
    dir: &std::path::Path,
    r: &CtrRecommender,
    ctx: &crate::export::ExportContext,
) -> Result<()> {
    use crate::ctr::fields::Source;
    let ds = ctx.ds;
    let d = dir.join(r.kind.name());
    std::fs::create_dir_all(&d).map_err(|e| Error::Export(format!("{}: {e}", d.display())))?;
    let tensors = r
        .trained
        .tensors()
        .map_err(|e| Error::Export(format!("{}: {e}", r.kind.name())))?;
    let views = crate::export::views(&tensors);
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    crate::export::write_safetensors(&d.join("model.safetensors"), &views, meta)?;
    let fields = r
        .fields
        .fields
        .iter()
        .map(|f| {
            let label = |c: usize| -> String {
                match f.source {
                    Source::User => ds.users.label(c),
                    Source::Item => ds.items.label(c),
                    Source::Row(k) => ds.cat_levels[k][c].clone(),
                    Source::UserTable(k) => ds.user_side.fields[k].1[c].clone(),
                    Source::ItemTable(k) => ds.item_side.fields[k].1[c].clone(),
                    Source::Sequence(k) => ds.train.seqs[k].levels[c].clone(),
                }
            };
            let mut vocabulary = vec![String::new(); f.vocabulary];
            if f.hash_buckets.is_none() {
                for (c, &row) in f.row_of.iter().enumerate() {
                    if row > 0 {
                        vocabulary[row as usize - 1] = label(c);
                    }
                }
            }
            let by_id = match f.source {
                Source::UserTable(_) => Some(
                    (0..ds.n_users())
                        .map(|i| (ds.users.label(i), label(f.index_codes[i] as usize)))
                        .collect(),
                ),
                Source::ItemTable(_) => Some(
                    (0..ds.n_items())
                        .map(|i| (ds.items.label(i), label(f.index_codes[i] as usize)))
                        .collect(),
                ),
                _ => None,
            };
            FieldJson {
                name: f.name.clone(),
                kind: f.kind,
                source: match f.source {
                    Source::User => "user",
                    Source::Item => "item",
                    Source::Row(_) => "row",
                    Source::UserTable(_) => "user_table",
                    Source::ItemTable(_) => "item_table",
                    Source::Sequence(_) => "sequence",
                }
                .into(),
                rows: f.rows,
                hash_buckets: f.hash_buckets,
                vocabulary,
                by_id,
            }
        })
        .collect();
    let spec = &ds.row_spec;
    let dense = crate::features::FeatureSpec {
        numeric: spec.numeric.clone(),
        ranges: spec.ranges.clone(),
        categorical: Vec::new(),
        levels: Vec::new(),
    };
    let c = &ctx.cfg.raw.data;
    let json = ModelJson {
        format: FORMAT.into(),
        clickrec_version: env!("CARGO_PKG_VERSION").into(),
        model: r.kind.name().into(),
        arch: r.trained.arch.clone(),
        user_column: c.user.clone(),
        item_column: c.item.clone(),
        sequence_separator: c.sequence_separator.clone(),
        fields,
        dense,
        threshold: ctx.threshold.filter(|t| t.is_finite()),
    };
    crate::export::write_json(&d.join("model.json"), &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LrScaling;

    #[test]
    fn the_trainer_gets_the_scaled_learning_rate() {
        let mut raw: RawCtr = toml::from_str("batch_size = 65536\nlearning_rate = 0.001").unwrap();
        assert_eq!(params(Kind::DeepFm, &raw, 1).learning_rate, 0.001);
        raw.lr_scaling = LrScaling::Sqrt;
        raw.lr_base_batch = 512;
        // √(65536 / 512) = √128 = 11.3137…
        let lr = params(Kind::DeepFm, &raw, 1).learning_rate;
        assert!((lr - 0.011_313_708_5).abs() < 1e-9, "{lr}");
        // NCF over fields keeps its table's rule.
        let ncf: RawNcf = toml::from_str(
            "batch_size = 2048\nlr_scaling = \"sqrt\"\nlr_base_batch = 512\nlearning_rate = 0.001",
        )
        .unwrap();
        let lr = params(Kind::Ncf, &ncf_table(&ncf), 1).learning_rate;
        assert!((lr - 0.002).abs() < 1e-12, "{lr}");
    }
}
