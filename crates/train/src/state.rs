//! The resume state file: everything beyond the checkpoint that a run needs to continue
//! exactly as if it had never stopped.
//!
//! It lives beside the checkpoint with the extension `.state` (`starry.state` for
//! `starry.safetensors`), so a folder of checkpoints globbed as `*.safetensors` never picks it
//! up. It is a safetensors file:
//! - `net.<name>`: the transformer's weights in `f32` (the checkpoint may be converted to `f16`
//!   later; resuming must not depend on it);
//! - `adam.m.<name>`, `adam.v.<name>`: Adam's moments;
//! - metadata `faststyle-train-state`: a JSON [`StateMeta`] with the step counter, Adam's step
//!   count, the data cursor and the resolved options (the random state is the seed plus the
//!   cursor, see [`crate::rng`]).
//!
//! The file is self-contained, so resuming reads only it, and it is written atomically after
//! the checkpoint: at any moment the pair on disk is usable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Cursor;
use crate::options::TrainOptions;
use crate::train_error::{TrainError, TrainResult};

/// Metadata key of the [`StateMeta`] JSON.
const META_KEY: &str = "faststyle-train-state";

/// Bumped when the file's layout changes; an older or newer file is refused by number.
pub const STATE_VERSION: u32 = 1;

/// What the state file says about the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMeta {
    pub version: u32,
    /// Training steps done.
    pub step: u64,
    /// Adam's step count (the `t` of its bias corrections); equal to `step` unless the
    /// optimizer was reset.
    pub adam_steps: u64,
    /// Where the data stream stands.
    pub cursor: Cursor,
    /// Files skipped as unreadable so far.
    pub skipped_files: usize,
    /// The options the run was started (or last resumed) with.
    pub options: TrainOptions,
}

/// A whole resume state.
#[derive(Debug, Clone)]
pub struct TrainState {
    pub meta: StateMeta,
    /// The transformer's weights by `state_dict` name.
    pub weights: HashMap<String, Tensor>,
    /// Adam's moments, keyed as [`crate::adam::Adam::moments`] keys them.
    pub moments: HashMap<String, Tensor>,
}

/// The state file that belongs to the checkpoint at `checkpoint`.
pub fn state_path(checkpoint: &Path) -> PathBuf {
    checkpoint.with_extension("state")
}

/// Writes `state` to `path` atomically.
pub fn save_state(path: &Path, state: &TrainState) -> TrainResult<()> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for (prefix, map) in [("net.", &state.weights), ("adam.", &state.moments)] {
        for (name, t) in map {
            let t = t
                .to_dtype(DType::F32)?
                .to_device(&Device::Cpu)?
                .contiguous()?;
            tensors.push((format!("{prefix}{name}"), t));
        }
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let json = serde_json::to_string(&state.meta).expect("state metadata is plain data");
    let metadata = HashMap::from([(META_KEY.to_owned(), json)]);
    let bytes = safetensors::tensor::serialize(tensors, Some(metadata))
        .map_err(|e| TrainError::state(path, e))?;
    faststyle_net::atomic::write_atomic(path, &bytes).map_err(|e| TrainError::io(path, e))
}

/// Reads the state file at `path`, tensors onto `device`.
pub fn load_state(path: &Path, device: &Device) -> TrainResult<TrainState> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| TrainError::state(path, format!("not a safetensors file ({e})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| TrainError::state(path, "not a faststyle training state file"))?;
    let meta: StateMeta = serde_json::from_str(json)
        .map_err(|e| TrainError::state(path, format!("unreadable metadata ({e})")))?;
    if meta.version != STATE_VERSION {
        return Err(TrainError::state(
            path,
            format!(
                "state file version {} (this faststyle reads version {STATE_VERSION})",
                meta.version
            ),
        ));
    }
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| TrainError::state(path, e))?;
    let mut weights = HashMap::new();
    let mut moments = HashMap::new();
    for (name, t) in tensors {
        if let Some(rest) = name.strip_prefix("net.") {
            weights.insert(rest.to_owned(), t);
        } else if let Some(rest) = name.strip_prefix("adam.") {
            moments.insert(rest.to_owned(), t);
        } else {
            return Err(TrainError::state(path, format!("unexpected tensor {name}")));
        }
    }
    Ok(TrainState {
        meta,
        weights,
        moments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_path_sits_beside_the_checkpoint() {
        assert_eq!(
            state_path(Path::new("checkpoints/starry.safetensors")),
            PathBuf::from("checkpoints/starry.state")
        );
    }

    #[test]
    fn round_trip_keeps_everything() {
        let dir = std::env::temp_dir().join(format!("faststyle-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.state");
        let t = |v: f32| Tensor::new(&[v, v + 0.5], &Device::Cpu).unwrap();
        let state = TrainState {
            meta: StateMeta {
                version: STATE_VERSION,
                step: 42,
                adam_steps: 42,
                cursor: Cursor {
                    epoch: 3,
                    position: 7,
                },
                skipped_files: 1,
                options: TrainOptions::default(),
            },
            weights: HashMap::from([("conv1.conv2d.weight".to_owned(), t(1.0))]),
            moments: HashMap::from([("m.conv1.conv2d.weight".to_owned(), t(2.0))]),
        };
        save_state(&path, &state).unwrap();
        let back = load_state(&path, &Device::Cpu).unwrap();
        assert_eq!(back.meta, state.meta);
        let w = back.weights["conv1.conv2d.weight"]
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(w, [1.0, 1.5]);
        let m = back.moments["m.conv1.conv2d.weight"]
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(m, [2.0, 2.5]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
