//! The TOML surface of a run config, exactly as users type it.
//!
//! Every table denies unknown keys; defaults live here so a config may be as short as
//! `name` + `[data]`. Nothing here is validated beyond types: [`super::validate`] turns a
//! [`RawConfig`] into a [`super::RunConfig`], one error per rule.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A whole run config (`clickrec train CONFIG`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Run name; outputs go to `artifacts/<name>/` unless `[output].dir` is set.
    pub name: String,
    /// Seed of every random draw of the run (split, negatives, initialisation).
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub data: RawData,
    #[serde(default)]
    pub filter: RawFilter,
    #[serde(default)]
    pub split: RawSplit,
    #[serde(default)]
    pub eval: RawEval,
    #[serde(default)]
    pub popularity: RawPopularity,
    pub ncf: Option<RawNcf>,
    /// DeepFM over every field (see [`super::RawCtr`]); on when the table is present.
    pub deepfm: Option<super::RawCtr>,
    /// DCN-V2 over every field; on when the table is present.
    pub dcnv2: Option<super::RawCtr>,
    pub als: Option<RawAls>,
    #[serde(default)]
    pub output: RawOutput,
    /// `clickrec tune`'s search (ignored by `train`).
    pub tune: Option<super::RawTune>,
}

fn default_seed() -> u64 {
    42
}
fn default_true() -> bool {
    true
}
fn default_user() -> String {
    "user".into()
}
fn default_item() -> String {
    "item".into()
}
fn default_separator() -> String {
    "|".into()
}
fn default_min_count() -> usize {
    1
}

/// `[data]`: where the log is and what its columns mean.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    pub path: Option<PathBuf>,
    pub synthetic: Option<RawSynthetic>,
    pub delimiter: Option<String>,
    #[serde(default = "default_true")]
    pub has_header: bool,
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default = "default_item")]
    pub item: String,
    /// The timestamp column. Absent: `timestamp`, which may then be missing from the file when
    /// the split needs no time (`files`, `random`); a configured column must exist.
    pub timestamp: Option<String>,
    #[serde(default)]
    pub timestamp_unit: TimestampUnit,
    pub label: Option<String>,
    pub event: Option<String>,
    pub weight: Option<String>,
    #[serde(default)]
    pub features: Vec<String>,
    /// Categorical fields: one embedding table per column for the CTR models (`[deepfm]`,
    /// `[dcnv2]`); one-hot columns (at most 64 levels) for `[ncf]`.
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Multi-valued categorical fields (`"a|b|c"`), embedded as the mean of their values' rows.
    #[serde(default)]
    pub sequence: Vec<String>,
    /// Separator of the values of a `sequence` cell.
    #[serde(default = "default_separator")]
    pub sequence_separator: String,
    /// Field levels seen fewer times than this in train share the field's out-of-vocabulary row.
    #[serde(default = "default_min_count")]
    pub min_count: usize,
    /// Fields hashed into this many rows (plus the OOV row) instead of a vocabulary.
    #[serde(default)]
    pub hash_buckets: BTreeMap<String, usize>,
    #[serde(default)]
    pub dedupe: bool,
    pub event_weights: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    pub unknown_events: UnknownEvents,
    pub user_table: Option<RawTable>,
    pub item_table: Option<RawTable>,
}

impl RawData {
    /// The timestamp column's name (`timestamp` unless configured).
    pub fn timestamp_column(&self) -> &str {
        self.timestamp.as_deref().unwrap_or("timestamp")
    }
}

/// How the timestamp column is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampUnit {
    #[default]
    S,
    Ms,
    Us,
    /// ISO 8601 / `YYYY-MM-DD HH:MM:SS` strings, read as UTC.
    Datetime,
}

/// Text encoding of a CSV file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[default]
    Utf8,
    /// ISO-8859-1 (e.g. MovieLens-100K's u.item), converted to UTF-8 on read.
    Latin1,
}

/// What to do with an event type missing from `event_weights`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownEvents {
    #[default]
    Error,
    /// Drop such rows and count them in the data report.
    Skip,
}

/// `[data.synthetic]`: the embedded generator instead of a file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSynthetic {
    pub kind: SynthKindName,
    pub users: usize,
    pub items: usize,
    pub rows: usize,
    pub days: u32,
    /// Defaults to the run seed.
    pub seed: Option<u64>,
    /// `ctr` only: the first N of the generator's ten categorical fields (`generate --fields`).
    #[serde(default)]
    pub fields: usize,
}

/// Which synthetic log to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SynthKindName {
    /// Impressions with a 0/1 click and 11 NetEase-like numeric features.
    Ctr,
    /// DeskDrop-like VIEW/LIKE/BOOKMARK/FOLLOW/COMMENT CREATED events.
    Events,
}

/// `[data.user_table]` / `[data.item_table]`: a side table joined on the id.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub path: PathBuf,
    pub delimiter: Option<String>,
    #[serde(default = "default_true")]
    pub has_header: bool,
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub encoding: Encoding,
    pub key: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Item tables: a display title for `recommend` / `similar`.
    pub title: Option<String>,
    /// Item tables: a group (e.g. business unit) for per-group hit rates.
    pub group: Option<String>,
}

/// `[filter]`: every key is off unless set. Counts are summed weights when a weight or event
/// column is set, clicks in CTR mode, rows otherwise.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    pub min_user_interactions: Option<f64>,
    pub min_item_interactions: Option<f64>,
    pub max_item_interactions: Option<f64>,
    pub min_item_users: Option<u64>,
    /// Repeat the filters until nothing changes.
    #[serde(default)]
    pub repeat: bool,
}

/// `[split]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSplit {
    #[serde(default)]
    pub method: SplitMethod,
    #[serde(default = "default_days")]
    pub days: u32,
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// `method = "files"`: the train rows (same columns as `[data]`, which then has no `path`).
    pub train_path: Option<PathBuf>,
    /// `method = "files"`: the test rows.
    pub test_path: Option<PathBuf>,
    /// `method = "files"`: optional validation rows (early stopping, learning-rate decay, tune).
    pub valid_path: Option<PathBuf>,
}
fn default_days() -> u32 {
    1
}
fn default_test_fraction() -> f64 {
    0.1
}
impl Default for RawSplit {
    fn default() -> Self {
        Self {
            method: SplitMethod::LastDay,
            days: 1,
            test_fraction: 0.1,
            train_path: None,
            test_path: None,
            valid_path: None,
        }
    }
}

/// The train/test split rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitMethod {
    /// Per user: all interactions of their latest active UTC day are test.
    #[default]
    LastDay,
    /// The last `days` calendar days of the whole log are test.
    GlobalDays,
    /// Per user: the single latest interaction is test.
    LeaveLastOut,
    /// Per user: a seeded `test_fraction` of interactions is test.
    Random,
    /// Given: the rows of `train_path` are train, those of `test_path` test (RecBole's
    /// `benchmark_filename`); filters apply to both files together.
    Files,
}

impl SplitMethod {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            SplitMethod::LastDay => "last_day",
            SplitMethod::GlobalDays => "global_days",
            SplitMethod::LeaveLastOut => "leave_last_out",
            SplitMethod::Random => "random",
            SplitMethod::Files => "files",
        }
    }
}

/// `[eval]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawEval {
    /// Cutoffs: `k = 10` or `k = [10, 20]`. The first is the primary one (metrics.json's
    /// `*_at_k` keys); every one gets `at_k.{K}`. Written back as an integer when single.
    #[serde(
        default = "default_k",
        deserialize_with = "cutoffs::deserialize",
        serialize_with = "cutoffs::serialize"
    )]
    pub k: Vec<usize>,
    #[serde(default = "default_cutoff")]
    pub cutoff_weight: f64,
    #[serde(default)]
    pub threshold_rule: ThresholdRuleName,
    #[serde(default)]
    pub ranking: RankingMode,
    #[serde(default = "default_sampled")]
    pub sampled_negatives: usize,
    /// Fixed candidate lists for the sampled protocol (NCF `*.test.negative` or a long CSV
    /// `user,item`) instead of `sampled_negatives` random draws.
    pub candidates: Option<PathBuf>,
}
fn default_k() -> Vec<usize> {
    vec![10]
}

/// `[eval] k` as an integer or a list of integers.
mod cutoffs {
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    struct Cutoffs;

    impl<'de> Visitor<'de> for Cutoffs {
        type Value = Vec<usize>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a cutoff such as 10 or a list of cutoffs such as [10, 20]")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            usize::try_from(v)
                .map(|k| vec![k])
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            usize::try_from(v)
                .map(|k| vec![k])
                .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = seq.next_element::<usize>()? {
                out.push(k);
            }
            Ok(out)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
        d.deserialize_any(Cutoffs)
    }

    pub fn serialize<S: Serializer>(k: &[usize], s: S) -> Result<S::Ok, S::Error> {
        match k {
            [one] => s.serialize_u64(*one as u64),
            many => s.collect_seq(many),
        }
    }
}
fn default_cutoff() -> f64 {
    0.75
}
fn default_sampled() -> usize {
    99
}
impl Default for RawEval {
    fn default() -> Self {
        Self {
            k: default_k(),
            cutoff_weight: 0.75,
            threshold_rule: ThresholdRuleName::Weighted,
            ranking: RankingMode::Auto,
            sampled_negatives: 99,
            candidates: None,
        }
    }
}

/// How the probability threshold is picked from the ROC curve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRuleName {
    /// The point minimising |w·tpr − (1−w)·(1−fpr)| (the seed's rule).
    #[default]
    Weighted,
    /// Youden's J: the point maximising tpr − fpr.
    Youden,
}

/// Which top-K protocol ranks the held-out part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankingMode {
    /// `impressions` for CTR logs, `full` for implicit logs.
    #[default]
    Auto,
    Impressions,
    Full,
    Sampled,
}

/// `[popularity]`: the baseline; on unless `enabled = false`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPopularity {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Count each train row `0.5^(age / half_life_days)` (age in days before the newest train
    /// row) instead of 1: recent popularity. Absent or `inf`: every row counts 1.
    pub half_life_days: Option<f64>,
}
impl Default for RawPopularity {
    fn default() -> Self {
        Self {
            enabled: true,
            half_life_days: None,
        }
    }
}

/// `[ncf]`: neural collaborative filtering; on when the table is present.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawNcf {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub variant: NcfVariant,
    #[serde(default = "default_emb")]
    pub embedding_dim: usize,
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default = "default_negatives")]
    pub negatives: usize,
    #[serde(default = "default_pos_weight")]
    pub pos_weight: f64,
    /// Patience in epochs on validation AUC; absent = train all epochs.
    pub early_stopping: Option<usize>,
    #[serde(default)]
    pub backend: NcfBackend,
    /// Embedding tables on the host or the device (NCF over fields only; the seed NCF keeps
    /// host tables).
    #[serde(default)]
    pub tables: TablePlacement,
    /// Probability calibration on the validation part (NCF over fields only; absent: platt
    /// there).
    #[serde(default)]
    pub calibration: Option<CalibrationMethod>,
    /// Learning rate against batch size; `learning_rate` is the rate at `lr_base_batch`.
    #[serde(default)]
    pub lr_scaling: LrScaling,
    #[serde(default = "default_batch")]
    pub lr_base_batch: usize,
    /// Add log(1 + train rows of the item), min-max scaled, as an item side feature: lets the
    /// model learn the popularity prior that is strong under a temporal split.
    #[serde(default)]
    pub item_popularity: bool,
    /// Standard deviation of the normal embedding initialisation (1.0 = PyTorch/Burn default).
    #[serde(default = "default_init_std")]
    pub init_std: f64,
    /// Update rule of the embedding tables: `lazy_adam` (rows in the batch only) or `adam`.
    #[serde(default)]
    pub embedding_optimizer: NcfEmbeddingOptimizer,
    /// Keep the epoch with the best validation AUC. Default: on whenever a validation part
    /// exists (with `early_stopping`); `true` alone also carves the validation part.
    pub keep_best: Option<bool>,
}
fn default_init_std() -> f64 {
    0.01
}
fn default_emb() -> usize {
    8
}
fn default_hidden() -> Vec<usize> {
    vec![32, 16]
}
fn default_epochs() -> usize {
    50
}
fn default_batch() -> usize {
    512
}
fn default_lr() -> f64 {
    1e-3
}
fn default_negatives() -> usize {
    4
}
fn default_pos_weight() -> f64 {
    1.0
}

/// NCF architecture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NcfVariant {
    #[default]
    Mlp,
    Neumf,
}

/// Update rule of the NCF embedding tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NcfEmbeddingOptimizer {
    #[default]
    LazyAdam,
    Adam,
}

/// Burn backend of the NCF trainer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NcfBackend {
    #[default]
    Flex,
    Ndarray,
    Wgpu,
}

/// How the learning rate follows the batch size (`lr_scaling` in `[ncf]`, `[deepfm]`, `[dcnv2]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LrScaling {
    /// `learning_rate` as given, whatever the batch.
    #[default]
    None,
    /// `learning_rate × √(batch_size / lr_base_batch)`: the square-root rule for Adam (Malladi
    /// et al., NeurIPS 2022). On the 10 M-row ten-field log (NCF, 1 epoch) batch 65 536 validates
    /// at AUC 0.7040 with it against 0.7061 at batch 512; lr unchanged gives 0.6642, linear
    /// scaling (×128, no warm-up) 0.6977.
    Sqrt,
}

impl LrScaling {
    /// The learning rate a step uses at `batch` given `lr` set for `base`.
    pub fn apply(self, lr: f64, batch: usize, base: usize) -> f64 {
        match self {
            LrScaling::None => lr,
            LrScaling::Sqrt => lr * (batch as f64 / base.max(1) as f64).sqrt(),
        }
    }
}

/// Where the embedding tables of the CTR trainer live (`tables` in `[deepfm]`, `[dcnv2]` and
/// `[ncf]` over fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TablePlacement {
    /// Host on the CPU backends, device on the GPU backend.
    #[default]
    Auto,
    /// Host memory, row-sparse updates by the CPU (each step uploads the batch's rows).
    Host,
    /// Backend tensors, gathered and updated on the device (each step uploads only ids).
    Device,
}

/// How the CTR models over fields calibrate their probabilities on the validation part
/// (`calibration` in `[deepfm]`, `[dcnv2]` and `[ncf]` over fields; see `crate::ctr::calibration`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Platt scaling of the logit, fit on the validation part after the best epoch is kept
    /// (identity without a validation part).
    #[default]
    Platt,
    /// The network's own sigmoid.
    None,
}

/// `[als]`: implicit-feedback ALS; on when the table is present.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAls {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_factors")]
    pub factors: usize,
    #[serde(default = "default_reg")]
    pub regularization: f64,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    #[serde(default)]
    pub confidence: AlsConfidence,
    #[serde(default)]
    pub solver: AlsSolver,
    #[serde(default = "default_cg_steps")]
    pub cg_steps: usize,
    /// Defaults to the run seed.
    pub seed: Option<u64>,
    /// Compute the training loss after every iteration (costs about one iteration each).
    #[serde(default)]
    pub compute_loss: bool,
    /// Checkpoint (for `--resume`) after an iteration once this many seconds have passed since
    /// the last checkpoint; 0 = after every iteration.
    #[serde(default = "default_checkpoint_seconds")]
    pub checkpoint_seconds: f64,
    /// α0, the weight of the unobserved pairs (the Gramian term); 1 = Hu et al.'s model.
    #[serde(default = "default_unobserved_weight")]
    pub unobserved_weight: f64,
    /// `frequency`: λ·(|I_u| + α0·|I|) per user (likewise per item), Rendle et al. 2022.
    #[serde(default)]
    pub reg_scaling: AlsRegScaling,
    /// Normal N(0, init_std²) initialisation; absent = uniform[0, 0.01) as `implicit`.
    /// Rendle et al. use 0.1/√factors.
    pub init_std: Option<f64>,
    /// Weight each train interaction by `0.5^(age / half_life_days)`, its age in days before the
    /// newest train interaction (see `model::recency`). Absent or `inf`: no decay.
    pub half_life_days: Option<f64>,
}
fn default_unobserved_weight() -> f64 {
    1.0
}

/// How ALS scales λ per row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlsRegScaling {
    /// λ for every row (as `implicit`).
    #[default]
    None,
    /// λ·(row count + α0·other side's size).
    Frequency,
}
fn default_checkpoint_seconds() -> f64 {
    1.0
}
fn default_factors() -> usize {
    64
}
fn default_reg() -> f64 {
    0.01
}
fn default_alpha() -> f64 {
    1.0
}
fn default_iterations() -> usize {
    15
}
fn default_cg_steps() -> usize {
    3
}

/// ALS confidence weighting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlsConfidence {
    /// c = 1 + alpha·r (Hu, Koren & Volinsky).
    #[default]
    Hu,
    /// c = alpha·r (the `implicit` library).
    Linear,
}

/// ALS least-squares solver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlsSolver {
    #[default]
    Cg,
    Cholesky,
}

/// `[output]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub dir: Option<PathBuf>,
}
