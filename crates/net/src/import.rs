//! Converting a pytorch/examples fast_neural_style checkpoint (`.pth`) to our format.
//!
//! The `.pth` is read by [`crate::pth`] (zip or legacy container). Its state dict is then
//! cleaned: a `module.` prefix (left by `nn.DataParallel`) is stripped, and the stale
//! `running_mean` / `running_var` / `num_batches_tracked` buffers are dropped; checkpoints
//! saved before PyTorch 0.4 carry them because `InstanceNorm2d` tracked running statistics
//! then, and the network never uses them (instance norm always normalises by the image's own
//! statistics). What remains must be exactly the transformer's tensors, by name and shape,
//! before anything is written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use sha2::{Digest, Sha256};

use crate::checkpoint::{save_checkpoint, CheckpointError, CheckpointMeta, StyleInfo};
use crate::pth::{read_pth_bytes, PthError};
use crate::transformer::TransformerNet;

/// Buffers that old `InstanceNorm2d(track_running_stats=True)` layers saved and nothing reads.
const STALE_SUFFIXES: [&str; 3] = [".running_mean", ".running_var", ".num_batches_tracked"];
/// How many offending names an error message lists before "and N more".
const NAMES_IN_ERRORS: usize = 4;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The style's name in the metadata; `None` takes the source file's stem.
    pub name: Option<String>,
    /// How the weights are stored: `F32` (exact) or `F16` (half the size).
    pub dtype: DType,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            name: None,
            dtype: DType::F32,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The style name written to the metadata.
    pub name: String,
    /// `"zip"` or `"legacy"`.
    pub format: &'static str,
    /// Number of tensors written.
    pub tensors: usize,
    /// The stale keys that were dropped, as named in the source.
    pub dropped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] PthError),
    #[error("{path}: not a fast_neural_style transformer-net ({reason})")]
    Architecture { path: PathBuf, reason: String },
    #[error("invalid style name {name:?}: use letters, digits, '-', '_' or '.'")]
    Name { name: String },
    /// Not `transparent`: the checkpoint error's message already holds its cause, and
    /// forwarding its `source` would make `{:#}` print that twice.
    #[error("{0}")]
    Write(CheckpointError),
}

/// Converts the PyTorch checkpoint `src` into a faststyle checkpoint at `dst` (written
/// atomically; an existing `dst` is replaced, the caller decides whether that is allowed).
pub fn import_pth(
    src: &Path,
    dst: &Path,
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let name = match &options.name {
        Some(name) => name.clone(),
        None => src
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !is_valid_name(&name) {
        return Err(ImportError::Name { name });
    }
    let bytes = std::fs::read(src).map_err(|error| PthError::Io {
        path: src.to_owned(),
        error,
    })?;
    let pth = read_pth_bytes(src, &bytes)?;
    if pth.tensors.is_empty() {
        return Err(ImportError::Architecture {
            path: src.to_owned(),
            reason: "no state dict found; save the model's state_dict(), not the model".into(),
        });
    }
    let (tensors, dropped) = clean_state_dict(pth.tensors);
    check_transformer(src, &tensors)?;
    let meta = CheckpointMeta {
        style: StyleInfo {
            name: name.clone(),
            ..Default::default()
        },
        // No training options survive in a .pth; record where the weights came from instead.
        training: serde_json::json!({
            "imported_from": "pytorch checkpoint",
            "source_file": src.file_name().map(|s| s.to_string_lossy()),
            "source_sha256": hex(&Sha256::digest(&bytes)),
            "source_format": pth.format.as_str(),
            "dropped_keys": dropped,
        }),
        code_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    save_checkpoint(dst, &tensors, &meta, options.dtype).map_err(ImportError::Write)?;
    Ok(ImportSummary {
        name,
        format: pth.format.as_str(),
        tensors: tensors.len(),
        dropped,
    })
}

/// Strips `module.` prefixes and drops the stale keys; returns the tensors as `f32` by name,
/// and the dropped names.
pub fn clean_state_dict(tensors: Vec<(String, Tensor)>) -> (HashMap<String, Tensor>, Vec<String>) {
    let mut kept = HashMap::new();
    let mut dropped = vec![];
    for (name, tensor) in tensors {
        if STALE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            dropped.push(name);
            continue;
        }
        let clean = name.strip_prefix("module.").unwrap_or(&name).to_owned();
        kept.insert(clean, tensor);
    }
    (kept, dropped)
}

/// The transformer's tensor names and shapes, as [`TransformerNet::new`] asks for them.
pub fn transformer_shapes() -> HashMap<String, Vec<usize>> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    // Building on a fresh VarMap only creates variables: it cannot fail.
    TransformerNet::new(vb).expect("a fresh VarMap accepts every tensor");
    let data = varmap.data().lock().expect("VarMap lock is never poisoned");
    data.iter()
        .map(|(name, var)| (name.clone(), var.dims().to_vec()))
        .collect()
}

/// Checks that `tensors` are exactly the transformer's: every name present with its shape,
/// nothing else, and floating-point values. `path` names the source in errors.
pub fn check_transformer(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
) -> Result<(), ImportError> {
    let expected = transformer_shapes();
    let mut missing: Vec<&str> = expected
        .keys()
        .filter(|n| !tensors.contains_key(*n))
        .map(String::as_str)
        .collect();
    let mut unexpected: Vec<&str> = tensors
        .keys()
        .filter(|n| !expected.contains_key(*n))
        .map(String::as_str)
        .collect();
    let mut wrong: Vec<String> = tensors
        .iter()
        .filter_map(|(name, t)| {
            let want = expected.get(name)?;
            let float = matches!(
                t.dtype(),
                DType::F32 | DType::F16 | DType::BF16 | DType::F64
            );
            (t.dims() != want.as_slice() || !float).then(|| {
                format!(
                    "{name} is {:?} {:?}, expected f32 {want:?}",
                    t.dtype(),
                    t.dims()
                )
            })
        })
        .collect();
    missing.sort();
    unexpected.sort();
    wrong.sort();
    let mut reasons = vec![];
    if !missing.is_empty() {
        reasons.push(format!("missing {}", list(&missing)));
    }
    if !unexpected.is_empty() {
        reasons.push(format!("unexpected {}", list(&unexpected)));
    }
    if !wrong.is_empty() {
        reasons.push(list(&wrong));
    }
    if reasons.is_empty() {
        return Ok(());
    }
    Err(ImportError::Architecture {
        path: path.to_owned(),
        reason: reasons.join("; "),
    })
}

/// `a, b, c, d and 5 more`.
fn list<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names
        .iter()
        .take(NAMES_IN_ERRORS)
        .map(AsRef::as_ref)
        .collect();
    let mut s = shown.join(", ");
    if names.len() > NAMES_IN_ERRORS {
        s += &format!(" and {} more", names.len() - NAMES_IN_ERRORS);
    }
    s
}

/// Style names end up as file names and on command lines: keep them plain.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_buffers_are_dropped_and_prefixes_stripped() {
        let t = Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap();
        let input = [
            "module.in1.weight",
            "in1.running_mean",
            "module.in1.running_var",
        ]
        .map(|n| (n.to_owned(), t.clone()));
        let (kept, dropped) = clean_state_dict(input.to_vec());
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["in1.weight"]);
        assert_eq!(dropped, ["in1.running_mean", "module.in1.running_var"]);
    }

    #[test]
    fn shapes_cover_every_parameter() {
        let shapes = transformer_shapes();
        let count: usize = shapes.values().map(|s| s.iter().product::<usize>()).sum();
        assert_eq!(count, crate::TRANSFORMER_PARAMETERS);
        assert_eq!(shapes["res3.conv2.conv2d.weight"], [128, 128, 3, 3]);
    }

    #[test]
    fn names_are_checked() {
        assert!(is_valid_name("starry-night_v2.1"));
        for bad in ["", ".hidden", "a/b", "a b", "../x"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }
}
