//! Choice of the Burn device. Burn 0.22 makes the backend a property of the [`Device`]
//! (no backend type parameter) and `Device::default()` prefers a GPU whenever the `wgpu`
//! feature is compiled in, so devices are always picked explicitly here.

use super::NcfError;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Training backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn's pure-Rust CPU backend (fastest on CPU for this model).
    #[default]
    Flex,
    /// Burn's ndarray CPU backend (deprecated upstream; kept for comparison).
    Ndarray,
    /// GPU through wgpu; only in builds with `--features wgpu`.
    Wgpu,
}

impl Backend {
    /// Lowercase name, as in configs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The plain (inference) device of this backend; [`Self::train_device`] adds autodiff.
    pub fn device(self) -> Result<Device, NcfError> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            Backend::Wgpu => wgpu_device(),
        }
    }

    /// The device with autodiff enabled, for training.
    pub fn train_device(self) -> Result<Device, NcfError> {
        Ok(self.device()?.autodiff())
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, NcfError> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, NcfError> {
    Err(NcfError::BackendUnavailable {
        backend: "wgpu",
        hint: "rebuild with --features wgpu, or use backend = \"flex\"",
    })
}

/// The CPU device every trained model scores on.
pub(crate) fn inference_device() -> Device {
    Device::flex()
}
