//! Files a service can load without the training data: f32 tensors as safetensors and JSON
//! sidecars. Every write is atomic (temp file + rename).

pub mod ids;
pub mod onnx;
pub mod onnx_ctr;
#[cfg(test)]
pub(crate) mod onnx_eval;
pub mod onnx_graph;
pub mod scorer;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::config::RunConfig;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::rundir::write_atomic;

/// What a model's exporter needs besides the model.
pub struct ExportContext<'a> {
    pub cfg: &'a RunConfig,
    pub ds: &'a Dataset,
    /// The decision threshold picked on the held-out ROC (absent when undefined).
    pub threshold: Option<f64>,
}

/// The training config's input columns and event rules, exported so that a history file
/// (`recommend --history`) is read the way training read the log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputColumns {
    pub user: String,
    pub item: String,
    /// CTR logs: only rows with a click (1) are interactions.
    pub label: Option<String>,
    pub event: Option<String>,
    pub weight: Option<String>,
    pub event_weights: BTreeMap<String, f64>,
    /// Exact duplicate (user, item, event) rows count once.
    pub dedupe: bool,
    /// The timestamp column and its unit (absent in exports before recency weighting: not
    /// read).
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub timestamp_unit: crate::config::TimestampUnit,
}

impl InputColumns {
    /// The columns of a run config.
    pub fn of(cfg: &RunConfig) -> InputColumns {
        let d = &cfg.raw.data;
        InputColumns {
            user: d.user.clone(),
            item: d.item.clone(),
            label: d.label.clone(),
            event: d.event.clone(),
            weight: d.weight.clone(),
            event_weights: d.event_weights.clone().unwrap_or_default(),
            dedupe: d.dedupe,
            timestamp: Some(d.timestamp_column().to_string()),
            timestamp_unit: d.timestamp_unit,
        }
    }
}

/// A named f32 tensor, row-major.
pub struct Tensor<'a> {
    pub name: &'a str,
    pub shape: Vec<usize>,
    pub data: &'a [f32],
}

/// Borrowed views of owned `(name, shape, values)` tensors, for [`write_safetensors`].
pub fn views(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<Tensor<'_>> {
    tensors
        .iter()
        .map(|(name, shape, data)| Tensor {
            name,
            shape: shape.clone(),
            data,
        })
        .collect()
}

/// Its little-endian bytes without a copy (a borrowed view on little-endian machines).
impl safetensors::View for &Tensor<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        #[cfg(target_endian = "little")]
        {
            // SAFETY: f32 has no padding and every byte pattern is a valid u8; the slice
            // covers exactly the tensor's 4·len bytes and lives as long as `self`.
            let bytes = unsafe {
                std::slice::from_raw_parts(self.data.as_ptr().cast::<u8>(), self.data.len() * 4)
            };
            std::borrow::Cow::Borrowed(bytes)
        }
        #[cfg(not(target_endian = "little"))]
        std::borrow::Cow::Owned(self.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// Write tensors (f32, little-endian, row-major) with string metadata, streamed to a temporary
/// file that is then renamed over `path` (no copy of the tensors in memory: a checkpoint of
/// tables with millions of rows would otherwise hold them three times at once).
pub fn write_safetensors(
    path: &Path,
    tensors: &[Tensor],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let named = tensors.iter().map(|t| (t.name.to_string(), t));
    crate::rundir::write_atomic_with(path, |tmp| {
        safetensors::serialize_to_file(named, Some(metadata), tmp).map_err(std::io::Error::other)
    })
    .map_err(|e| Error::Export(e.to_string()))
}

/// Tensors read back: name → (shape, values), plus the metadata.
pub struct Loaded {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
}

impl Loaded {
    /// A tensor by name, or an error naming the file.
    pub fn get(&self, path: &Path, name: &str) -> Result<&(Vec<usize>, Vec<f32>)> {
        self.tensors.get(name).ok_or_else(|| {
            Error::Export(format!(
                "{}: no tensor `{name}` (file from another version, or corrupt?)",
                path.display()
            ))
        })
    }
}

/// Read a safetensors file of f32 tensors; a missing or corrupt file is an error naming it.
pub fn read_safetensors(path: &Path) -> Result<Loaded> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Export(format!("{}: {e}", path.display())))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::Export(format!(
            "{}: not a valid safetensors file: {e}",
            path.display()
        ))
    })?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::Export(format!(
            "{}: not a valid safetensors file: {e}",
            path.display()
        ))
    })?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::Export(format!(
                "{}: tensor {name} is {:?}, expected F32",
                path.display(),
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), data));
    }
    Ok(Loaded { tensors, metadata })
}

/// Write a value as pretty JSON, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Export(e.to_string()))?;
    write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Read JSON into a type; a missing or malformed file is an error naming it.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Export(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Export(format!("{}: invalid or incompatible: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_and_corruption_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        write_safetensors(
            &p,
            &[Tensor {
                name: "w",
                shape: vec![2, 3],
                data: &data,
            }],
            HashMap::from([("k".into(), "v".into())]),
        )
        .unwrap();
        let l = read_safetensors(&p).unwrap();
        assert_eq!(l.get(&p, "w").unwrap(), &(vec![2, 3], data.to_vec()));
        assert_eq!(l.metadata.get("k").map(String::as_str), Some("v"));
        assert!(l.get(&p, "nope").is_err());
        std::fs::write(&p, b"garbage").unwrap();
        assert!(read_safetensors(&p).is_err());
    }
}
