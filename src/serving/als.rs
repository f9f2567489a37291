//! Loading an exported ALS folder (`als/model.json` + `als/factors.safetensors`).

use std::path::Path;

use crate::error::{Error, Result};
use crate::export::{read_json, read_safetensors};
use crate::model::als::AlsModelJson;

/// A loaded ALS export.
pub struct AlsExport {
    pub json: AlsModelJson,
    pub model: crate::als::AlsModel,
}

/// Load `als/model.json` + `als/factors.safetensors`, checking shapes against each other.
pub fn load_als(dir: &Path) -> Result<AlsExport> {
    let json: AlsModelJson = read_json(&dir.join("model.json"))?;
    if json.kind != "als" {
        return Err(Error::Export(format!(
            "{}: not an ALS model ({})",
            dir.display(),
            json.kind
        )));
    }
    let path = dir.join("factors.safetensors");
    let l = read_safetensors(&path)?;
    let (us, u) = l.get(&path, "user_factors")?;
    let (is, i) = l.get(&path, "item_factors")?;
    let f = json.factors;
    if us != &vec![json.users.len(), f] || is != &vec![json.items.len(), f] {
        return Err(Error::Export(format!(
            "{}: factor shapes {us:?}/{is:?} do not match model.json ({} users, {} items, {f} factors)",
            path.display(),
            json.users.len(),
            json.items.len()
        )));
    }
    let model = crate::als::AlsModel {
        factors: f,
        user_factors: u.clone(),
        item_factors: i.clone(),
        n_users: json.users.len(),
        n_items: json.items.len(),
    };
    Ok(AlsExport { json, model })
}
