//! Style checkpoints: the transformer's weights in a safetensors file, with metadata.
//!
//! Tensors carry the pytorch/examples `state_dict` names, `f32` or `f16` on disk. The
//! safetensors metadata holds two entries:
//! - `architecture`: [`ARCHITECTURE`], so a checkpoint of another network is refused by name;
//! - `faststyle`: a JSON [`CheckpointMeta`] (the style, the training options, the code version).
//!
//! A file without our metadata but with the right tensors (a converted PyTorch checkpoint)
//! still loads; stale keys such as batch-norm `running_mean` are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::transformer::TransformerNet;

/// The value of the `architecture` metadata entry of every checkpoint this code writes.
pub const ARCHITECTURE: &str = "johnson2016-transformer-instancenorm";

/// Metadata key holding the [`CheckpointMeta`] JSON.
const META_KEY: &str = "faststyle";
const ARCHITECTURE_KEY: &str = "architecture";

/// What a checkpoint says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub style: StyleInfo,
    /// The resolved training options, as the trainer recorded them (free-form JSON).
    #[serde(default)]
    pub training: serde_json::Value,
    /// Version of faststyle that wrote the file.
    #[serde(default)]
    pub code_version: String,
}

/// The painting a network was trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StyleInfo {
    /// Short name, as used on the command line (`starry-night`).
    pub name: String,
    /// sha256 of the style image file the network was trained on, hex.
    #[serde(default)]
    pub image_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    // Not named `source`: thiserror would chain it and `{:#}` would print the reason twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a safetensors file ({reason})")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: a checkpoint of another architecture ({found}), expected {ARCHITECTURE}")]
    Architecture { path: PathBuf, found: String },
    #[error("{path}: not a transformer-net checkpoint ({reason})")]
    Tensors { path: PathBuf, reason: String },
    #[error("{path}: unreadable metadata ({reason})")]
    Meta { path: PathBuf, reason: String },
}

/// A loaded checkpoint: the network as plain tensors (no autograd), and its metadata
/// (`None` for a file without faststyle metadata).
#[derive(Debug, Clone)]
pub struct StyleCheckpoint {
    pub net: TransformerNet,
    pub meta: Option<CheckpointMeta>,
}

/// Loads the checkpoint at `path` onto `device`, converting `f16`/`bf16` weights to `f32`.
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<StyleCheckpoint, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|error| CheckpointError::Io {
        path: path.to_owned(),
        error,
    })?;
    load_checkpoint_bytes(path, &bytes, device)
}

/// [`load_checkpoint`] from bytes already in memory; `path` only names the source in errors.
pub fn load_checkpoint_bytes(
    path: &Path,
    bytes: &[u8],
    device: &Device,
) -> Result<StyleCheckpoint, CheckpointError> {
    let format_err = |reason: String| CheckpointError::Format {
        path: path.to_owned(),
        reason,
    };
    let (_, header) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| format_err(e.to_string()))?;
    let empty = HashMap::new();
    let entries = header.metadata().as_ref().unwrap_or(&empty);
    if let Some(found) = entries.get(ARCHITECTURE_KEY) {
        if found != ARCHITECTURE {
            return Err(CheckpointError::Architecture {
                path: path.to_owned(),
                found: found.clone(),
            });
        }
    }
    let meta = entries
        .get(META_KEY)
        .map(|json| serde_json::from_str::<CheckpointMeta>(json))
        .transpose()
        .map_err(|e| CheckpointError::Meta {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let tensors = candle_core::safetensors::load_buffer(bytes, device)
        .map_err(|e| format_err(e.to_string()))?;
    let tensors_err = |reason: String| CheckpointError::Tensors {
        path: path.to_owned(),
        reason,
    };
    let tensors = tensors
        .into_iter()
        .map(|(name, t)| Ok((name, t.to_dtype(DType::F32)?)))
        .collect::<candle_core::Result<HashMap<_, _>>>()
        .map_err(|e| tensors_err(e.to_string()))?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    let net = TransformerNet::new(vb).map_err(|e| tensors_err(first_line(&e.to_string())))?;
    Ok(StyleCheckpoint { net, meta })
}

/// Reads only the metadata of the checkpoint at `path`: the safetensors header, not the tensors.
pub fn read_meta(path: &Path) -> Result<Option<CheckpointMeta>, CheckpointError> {
    let header = read_header(path)?;
    let Some(json) = header.metadata().as_ref().and_then(|m| m.get(META_KEY)) else {
        return Ok(None);
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(|e| CheckpointError::Meta {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Largest safetensors header we accept; ours are a few kilobytes.
const MAX_HEADER_BYTES: u64 = 1 << 24;

/// Parses the header of a safetensors file without reading its tensor data.
fn read_header(path: &Path) -> Result<safetensors::tensor::Metadata, CheckpointError> {
    use std::io::Read;
    let io_err = |error| CheckpointError::Io {
        path: path.to_owned(),
        error,
    };
    let format_err = |reason: String| CheckpointError::Format {
        path: path.to_owned(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| format_err("shorter than a safetensors header".into()))?;
    let len = u64::from_le_bytes(len);
    if len > MAX_HEADER_BYTES {
        return Err(format_err(format!("header claims {len} bytes")));
    }
    let mut json = vec![0u8; len as usize];
    file.read_exact(&mut json)
        .map_err(|_| format_err("truncated header".into()))?;
    serde_json::from_slice(&json).map_err(|e| format_err(e.to_string()))
}

/// Writes `tensors` (the transformer's, by `state_dict` name) to `path` atomically, stored as
/// `dtype` (`F32` or `F16`), with `meta` and the architecture in the metadata.
pub fn save_checkpoint(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    meta: &CheckpointMeta,
    dtype: DType,
) -> Result<(), CheckpointError> {
    let io_err = |error: std::io::Error| CheckpointError::Io {
        path: path.to_owned(),
        error,
    };
    let mut converted = tensors
        .iter()
        .map(|(name, t)| Ok((name.clone(), t.to_dtype(dtype)?.contiguous()?)))
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
    converted.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = HashMap::from([
        (ARCHITECTURE_KEY.to_owned(), ARCHITECTURE.to_owned()),
        (
            META_KEY.to_owned(),
            serde_json::to_string(meta).expect("metadata is plain data"),
        ),
    ]);
    let bytes = safetensors::tensor::serialize(converted, Some(metadata))
        .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
    crate::atomic::write_atomic(path, &bytes).map_err(io_err)
}

/// candle's errors can carry a backtrace after the first line; users need only the reason.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

/// Re-saves the faststyle checkpoint `src` at `dst` (atomically) as `dtype`, with its metadata
/// changed by `edit`: how a trained network is prepared for shipping (f16, the painting's
/// title, artist, year and licence). The network is loaded first, so a file that is not a
/// complete transformer is refused rather than copied.
pub fn resave_checkpoint(
    src: &Path,
    dst: &Path,
    dtype: DType,
    edit: impl FnOnce(&mut CheckpointMeta),
) -> Result<CheckpointMeta, CheckpointError> {
    let bytes = std::fs::read(src).map_err(|error| CheckpointError::Io {
        path: src.to_owned(),
        error,
    })?;
    let loaded = load_checkpoint_bytes(src, &bytes, &Device::Cpu)?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
        CheckpointError::Format {
            path: src.to_owned(),
            reason: e.to_string(),
        }
    })?;
    let mut meta = loaded.meta.unwrap_or_default();
    edit(&mut meta);
    save_checkpoint(dst, &tensors, &meta, dtype)?;
    Ok(meta)
}
