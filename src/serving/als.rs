//! Loading an exported ALS folder (`als/model.json`, `als/factors.safetensors`,
//! `als/ids.safetensors`).

use std::path::Path;

use crate::als::{AlsModel, AlsParams, Confidence, RegScaling, Solver};
use crate::error::{Error, Result};
use crate::export::ids::{ModelIds, read_ids};
use crate::export::{read_json, read_safetensors};
use crate::model::als::{AlsModelJson, FORMAT};

/// A loaded ALS export.
pub struct AlsExport {
    pub json: AlsModelJson,
    pub ids: ModelIds,
    pub model: AlsModel,
}

impl AlsExport {
    /// The solver settings the model was fitted with (what fold-in solves with).
    pub fn params(&self) -> Result<AlsParams> {
        let j = &self.json;
        let confidence = match j.confidence.as_str() {
            "hu" => Confidence::Hu,
            "linear" => Confidence::Linear,
            other => {
                return Err(Error::Export(format!(
                    "als/model.json: unknown confidence {other:?} (expected hu or linear)"
                )));
            }
        };
        let reg_scaling = match j.reg_scaling.as_str() {
            "none" => RegScaling::None,
            "frequency" => RegScaling::Frequency,
            other => {
                return Err(Error::Export(format!(
                    "als/model.json: unknown reg_scaling {other:?} (expected none or frequency)"
                )));
            }
        };
        Ok(AlsParams {
            factors: j.factors,
            regularization: j.regularization,
            alpha: j.alpha,
            iterations: j.iterations.max(1),
            confidence,
            solver: Solver::Cholesky,
            unobserved_weight: j.unobserved_weight,
            reg_scaling,
            init_std: None,
            seed: j.seed,
            compute_loss: false,
        })
    }
}

/// Load an ALS export folder, checking the format and the shapes against each other.
pub fn load_als(dir: &Path) -> Result<AlsExport> {
    let json: AlsModelJson = read_json(&dir.join("model.json"))?;
    if json.kind != "als" {
        return Err(Error::Export(format!(
            "{}: not an ALS model ({})",
            dir.display(),
            json.kind
        )));
    }
    if json.format != FORMAT {
        return Err(Error::Export(format!(
            "{}: model.json has format {:?}; this clickrec reads {FORMAT:?} (older exports kept the id maps inside model.json; re-export with this version)",
            dir.display(),
            if json.format.is_empty() {
                "clickrec-als-1"
            } else {
                &json.format
            }
        )));
    }
    let ids = read_ids(dir)?;
    let path = dir.join("factors.safetensors");
    let mut l = read_safetensors(&path)?;
    let (n_users, n_items, f) = (ids.users.len(), ids.items.len(), json.factors);
    let mut take = |name: &str, rows: usize| -> Result<Vec<f32>> {
        let (shape, _) = l.get(&path, name)?;
        if shape != &vec![rows, f] {
            return Err(Error::Export(format!(
                "{}: {name} has shape {shape:?}, but the export has {rows} rows and {f} factors",
                path.display()
            )));
        }
        Ok(l.tensors.remove(name).map(|t| t.1).unwrap_or_default())
    };
    let user_factors = take("user_factors", n_users)?;
    let item_factors = take("item_factors", n_items)?;
    let model = AlsModel {
        factors: f,
        user_factors,
        item_factors,
        n_users,
        n_items,
    };
    Ok(AlsExport { json, ids, model })
}
