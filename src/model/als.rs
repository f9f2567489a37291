//! ALS as a clickrec model: the train matrix, checkpoints between iterations, export.
//!
//! The matrix is built from the train part: summed weights (event weights × weight column, or 1
//! per row) in implicit mode; in CTR mode each clicked impression counts 1 and non-clicks are
//! not interactions. With `als.half_life_days` each row's strength is first multiplied by its
//! recency factor ([`super::recency`]).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::recency::Decay;
use super::{ModelError, Recommender};
use crate::als::{self, AlsModel, AlsParams, AlsState, Confidence, Csr, RegScaling, Solver};
use crate::config::{AlsConfidence, AlsRegScaling, AlsSolver, RawAls};
use crate::dataset::{Dataset, Part};
use crate::error::{Error, Result};
use crate::export::{Tensor, read_safetensors, write_json, write_safetensors};
use crate::report::{Curve, Timing};

/// A fitted ALS model behind the common interface.
pub struct AlsRecommender {
    pub model: AlsModel,
    pub params: AlsParams,
    /// The recency weighting the train matrix was built with (exported for fold-in).
    pub decay: Option<Decay>,
}

impl Recommender for AlsRecommender {
    fn name(&self) -> &str {
        "als"
    }
    fn probabilistic(&self) -> bool {
        false
    }
    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError> {
        Ok(part
            .user
            .iter()
            .zip(&part.item)
            .map(|(&u, &i)| self.model.score(u, i))
            .collect())
    }
    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), ModelError> {
        if out.len() != self.model.n_items || user as usize >= self.model.n_users {
            return Err(ModelError::Scoring {
                model: "als".into(),
                message: format!("user {user} or item count out of range"),
            });
        }
        self.model.score_all(user, out);
        Ok(())
    }
    fn score_items_block(&self, users: &[u32], out: &mut [f32]) -> Result<(), ModelError> {
        let n = self.model.n_items;
        if out.len() != users.len() * n || users.iter().any(|&u| u as usize >= self.model.n_users) {
            return Err(ModelError::Scoring {
                model: "als".into(),
                message: format!("a user of {users:?} or the item count is out of range"),
            });
        }
        self.model.score_block(users, out);
        Ok(())
    }
}

/// The `[als]` table as solver parameters (`seed` defaults to the run seed).
pub fn params(raw: &RawAls, run_seed: u64) -> AlsParams {
    AlsParams {
        factors: raw.factors,
        regularization: raw.regularization as f32,
        alpha: raw.alpha as f32,
        iterations: raw.iterations,
        confidence: match raw.confidence {
            AlsConfidence::Hu => Confidence::Hu,
            AlsConfidence::Linear => Confidence::Linear,
        },
        solver: match raw.solver {
            AlsSolver::Cg => Solver::Cg {
                steps: raw.cg_steps,
            },
            AlsSolver::Cholesky => Solver::Cholesky,
        },
        unobserved_weight: raw.unobserved_weight as f32,
        reg_scaling: match raw.reg_scaling {
            AlsRegScaling::None => RegScaling::None,
            AlsRegScaling::Frequency => RegScaling::Frequency,
        },
        init_std: raw.init_std.map(|s| s as f32),
        seed: raw.seed.unwrap_or(run_seed),
        compute_loss: raw.compute_loss,
    }
}

/// The user × item matrix of the train part (see the module doc), each row's strength times
/// its factor under `decay`.
pub fn train_matrix(ds: &Dataset, decay: Option<&Decay>) -> Result<Csr> {
    let t = &ds.train;
    let keep: Vec<usize> = match &t.label {
        Some(labels) => (0..t.len()).filter(|&r| labels[r]).collect(),
        None => (0..t.len()).filter(|&r| t.weight[r] > 0.0).collect(),
    };
    let strength = |r: usize| {
        let s = if t.label.is_some() { 1.0 } else { t.weight[r] };
        decay.map_or(s, |d| s * d.factor(t.ts[r]))
    };
    let rows: Vec<u32> = keep.iter().map(|&r| t.user[r]).collect();
    let cols: Vec<u32> = keep.iter().map(|&r| t.item[r]).collect();
    let vals: Vec<f32> = keep.iter().map(|&r| strength(r)).collect();
    Csr::from_triplets(ds.n_users(), ds.n_items(), &rows, &cols, &vals)
        .map_err(|e| Error::Training(format!("als: {e}")))
}

/// The recency weighting of `[als]` over the dataset's train part.
pub fn decay(raw: &RawAls, ds: &Dataset) -> Option<Decay> {
    Decay::over(raw.half_life_days, &ds.train.ts)
}

/// Identifies a checkpoint: resuming with other settings or data starts afresh.
fn fingerprint(p: &AlsParams, decay: &Option<Decay>, m: &Csr) -> String {
    format!("{p:?}|{decay:?}|{}x{}|{}", m.n_rows, m.n_cols, m.data.len())
}

/// The two factor matrices as named tensors (checkpoints and the export share the layout).
fn factor_tensors(m: &AlsModel) -> [Tensor<'_>; 2] {
    [
        Tensor {
            name: "user_factors",
            shape: vec![m.n_users, m.factors],
            data: &m.user_factors,
        },
        Tensor {
            name: "item_factors",
            shape: vec![m.n_items, m.factors],
            data: &m.item_factors,
        },
    ]
}

fn save_checkpoint(path: &Path, s: &AlsState, fp: &str) -> Result<()> {
    let m = &s.model;
    write_safetensors(
        path,
        &factor_tensors(m),
        HashMap::from([
            ("iterations_done".into(), s.iterations_done.to_string()),
            ("fingerprint".into(), fp.into()),
        ]),
    )
}

fn load_checkpoint(path: &Path, fp: &str, fresh: AlsState) -> AlsState {
    let Ok(l) = read_safetensors(path) else {
        return fresh;
    };
    if l.metadata.get("fingerprint").map(String::as_str) != Some(fp) {
        return fresh;
    }
    let (Some((_, u)), Some((_, i)), Some(done)) = (
        l.tensors.get("user_factors"),
        l.tensors.get("item_factors"),
        l.metadata
            .get("iterations_done")
            .and_then(|d| d.parse().ok()),
    ) else {
        return fresh;
    };
    if u.len() != fresh.model.user_factors.len() || i.len() != fresh.model.item_factors.len() {
        return fresh;
    }
    let mut s = fresh;
    s.model.user_factors = u.clone();
    s.model.item_factors = i.clone();
    s.iterations_done = done;
    s
}

/// Fit ALS on the dataset, checkpointing after every iteration into `checkpoint` (resumed from
/// it when `resume`).
pub fn fit(
    ds: &Dataset,
    p: AlsParams,
    decay: Option<Decay>,
    checkpoint: &Path,
    checkpoint_seconds: f64,
    resume: bool,
    quiet: bool,
) -> Result<(AlsRecommender, Timing, Curve)> {
    p.validate()
        .map_err(|e| Error::Training(format!("[als]: {e}")))?;
    let m = train_matrix(ds, decay.as_ref())?;
    let fp = fingerprint(&p, &decay, &m);
    std::fs::create_dir_all(checkpoint)
        .map_err(|e| Error::Export(format!("{}: {e}", checkpoint.display())))?;
    let ck = checkpoint.join("als.safetensors");
    let fresh = als::init(m.n_rows, m.n_cols, &p);
    let state = if resume {
        load_checkpoint(&ck, &fp, fresh)
    } else {
        fresh
    };
    let bar = crate::progress::bar(p.iterations as u64, "als", quiet);
    bar.set_position(state.iterations_done as u64);
    let mut curve = Curve::default();
    let mut err = None;
    let mut last_save = Instant::now();
    let every = std::time::Duration::from_secs_f64(checkpoint_seconds);
    let (mut iter_seconds, mut ck_seconds) = (Vec::new(), 0.0);
    let mut on_iter = |r: als::IterReport, s: &AlsState| -> Result<(), als::AlsError> {
        if let Some(l) = r.loss {
            curve.loss.push(l);
        }
        bar.set_message(r.loss.map(|l| format!("loss {l:.5}")).unwrap_or_default());
        bar.inc(1);
        iter_seconds.push(r.seconds);
        // Writing the factors costs about as much as a CG iteration on large data: checkpoint
        // after `checkpoint_seconds` at the earliest, and never spend more than a tenth of the
        // time since the last checkpoint writing one.
        let since = last_save.elapsed();
        if since >= every
            && since.as_secs_f64() >= 10.0 * ck_seconds / iter_seconds.len() as f64
            && r.iteration < p.iterations
        {
            let w = Instant::now();
            if let Err(e) = save_checkpoint(&ck, s, &fp) {
                err = Some(e);
            }
            ck_seconds += w.elapsed().as_secs_f64();
            last_save = Instant::now();
        }
        Ok(())
    };
    let model =
        als::fit(&m, &p, state, &mut on_iter).map_err(|e| Error::Training(format!("als: {e}")))?;
    // Training compute only: checkpoint writes are reported apart.
    let secs: f64 = iter_seconds.iter().sum();
    bar.finish_and_clear();
    if let Some(e) = err {
        return Err(e);
    }
    let timing = Timing {
        fit_seconds: secs,
        seconds_per_iteration: Some(secs / iter_seconds.len().max(1) as f64),
        samples_per_sec: Some(m.data.len() as f64 * iter_seconds.len() as f64 / secs.max(1e-9)),
        epoch_seconds: iter_seconds.clone(),
        checkpoint_seconds: ck_seconds,
    };
    Ok((
        AlsRecommender {
            model,
            params: p,
            decay,
        },
        timing,
        curve,
    ))
}

/// Format tag of `als/model.json`. Format 1 (no tag) held the id maps and seen lists in the
/// JSON; format 2 keeps them in `als/ids.safetensors`.
pub const FORMAT: &str = "clickrec-als-2";

/// `als/model.json`: the settings; with `factors.safetensors` and `ids.safetensors` everything
/// needed to query without the training data.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlsModelJson {
    #[serde(default)]
    pub format: String,
    pub kind: String,
    pub clickrec_version: String,
    pub factors: usize,
    pub regularization: f32,
    pub alpha: f32,
    pub iterations: usize,
    pub confidence: String,
    pub solver: String,
    /// α0 (absent in models written before it existed: 1).
    #[serde(default = "one")]
    pub unobserved_weight: f32,
    /// `none` | `frequency` (absent: `none`).
    #[serde(default = "none")]
    pub reg_scaling: String,
    /// The recency weighting of the train matrix (absent: none); fold-in applies it to a
    /// history's timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<Decay>,
    pub seed: u64,
    /// The training config's input columns (for `recommend --history`).
    pub columns: crate::export::InputColumns,
}

fn one() -> f32 {
    1.0
}
fn none() -> String {
    "none".into()
}

/// Write `als/factors.safetensors`, `als/ids.safetensors` and `als/model.json`.
pub fn export(dir: &Path, r: &AlsRecommender, ctx: &crate::export::ExportContext) -> Result<()> {
    let ds = ctx.ds;
    let d = dir.join("als");
    std::fs::create_dir_all(&d).map_err(|e| Error::Export(format!("{}: {e}", d.display())))?;
    let m = &r.model;
    write_safetensors(
        &d.join("factors.safetensors"),
        &factor_tensors(m),
        HashMap::from([("format".into(), "clickrec-als-1".into())]),
    )?;
    let p = &r.params;
    crate::export::ids::write_ids(&d, ds)?;
    let json = AlsModelJson {
        format: FORMAT.into(),
        kind: "als".into(),
        clickrec_version: env!("CARGO_PKG_VERSION").into(),
        factors: p.factors,
        regularization: p.regularization,
        alpha: p.alpha,
        iterations: p.iterations,
        confidence: format!("{:?}", p.confidence).to_lowercase(),
        solver: format!("{:?}", p.solver),
        unobserved_weight: p.unobserved_weight,
        reg_scaling: format!("{:?}", p.reg_scaling).to_lowercase(),
        decay: r.decay,
        seed: p.seed,
        columns: crate::export::InputColumns::of(ctx.cfg),
    };
    write_json(&d.join("model.json"), &json)
}
