//! Reading the tensors of a PyTorch `torch.save` file, without Python.
//!
//! Two container formats exist:
//! - **zip** (PyTorch ≥ 1.6): `<name>/data.pkl` is the pickled object, in which every storage
//!   is a persistent id `("storage", torch.FloatStorage, key, location, numel)`; its bytes are
//!   the entry `<name>/data/<key>`.
//! - **legacy** (before 1.6, or `_use_new_zipfile_serialization=False`): five pickles in a row
//!   (a magic number, the protocol version 1001, a dict of system information, the object,
//!   the list of storage keys), then for each key in that order the storage's element count
//!   as a little-endian `u64` followed by its raw bytes. Persistent ids carry a sixth field,
//!   the view metadata of storages shared between views (pre-0.4 files).
//!
//! Both pickles are parsed with candle's pickle machine ([`candle_core::pickle::Stack`]),
//! which keeps unknown classes as plain `Class`/`Reduce` objects instead of importing them.
//! The magic-number pickle is matched as bytes: it is a 10-byte `LONG1` that candle's `i64`
//! decoding cannot hold.
//!
//! Tensors are rebuilt from `(storage, offset, size, stride)` by gathering elements, so views
//! and non-contiguous tensors come out right. A checkpoint wrapped as `{"state_dict": ...}` is
//! unwrapped; entries that are not tensors are skipped.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

/// The bytes of the magic-number pickle after `PROTO n`: `LONG1` of 10 bytes holding
/// 0x1950a86a20f9469cfc6c, then `STOP`.
const LEGACY_MAGIC: [u8; 13] = [
    0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
];
/// What the protocol-version pickle of a legacy file holds.
const LEGACY_PROTOCOL_VERSION: i64 = 1001;
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

#[derive(Debug, thiserror::Error)]
pub enum PthError {
    // Not `source`: the message already holds the cause, and `{:#}` would print it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a PyTorch checkpoint ({reason})")]
    NotPth { path: PathBuf, reason: String },
    #[error("{path}: corrupt PyTorch checkpoint ({reason})")]
    Corrupt { path: PathBuf, reason: String },
}

/// Which `torch.save` container a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PthFormat {
    Zip,
    Legacy,
}

impl PthFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PthFormat::Zip => "zip",
            PthFormat::Legacy => "legacy",
        }
    }
}

/// The tensors of a `torch.save` file, sorted by name, on the CPU.
#[derive(Debug)]
pub struct PthFile {
    pub format: PthFormat,
    pub tensors: Vec<(String, Tensor)>,
}

/// Reads the state dict saved in the `torch.save` file at `path`.
pub fn read_pth(path: &Path) -> Result<PthFile, PthError> {
    let bytes = std::fs::read(path).map_err(|error| PthError::Io {
        path: path.to_owned(),
        error,
    })?;
    read_pth_bytes(path, &bytes)
}

/// [`read_pth`] from bytes already in memory; `path` only names the source in errors.
pub fn read_pth_bytes(path: &Path, bytes: &[u8]) -> Result<PthFile, PthError> {
    let corrupt = |reason: String| PthError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let (format, (object, storages)) = if bytes.starts_with(ZIP_MAGIC) {
        (PthFormat::Zip, read_zip(bytes).map_err(corrupt)?)
    } else if bytes.len() > 2 && bytes[0] == 0x80 && bytes[2..].starts_with(&LEGACY_MAGIC) {
        let rest = &bytes[2 + LEGACY_MAGIC.len()..];
        (PthFormat::Legacy, read_legacy(rest).map_err(corrupt)?)
    } else {
        return Err(PthError::NotPth {
            path: path.to_owned(),
            reason: "neither a zip archive nor a legacy torch.save file".into(),
        });
    };
    let tensors = state_dict(object, &storages).map_err(corrupt)?;
    Ok(PthFile { format, tensors })
}

/// A storage's raw little-endian bytes and element type.
struct Storage {
    dtype: DType,
    bytes: Vec<u8>,
}

/// Where a tensor's elements live: `(storage key, offset, size, stride)` in elements.
struct TensorRef {
    key: String,
    dtype: DType,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

fn read_zip(bytes: &[u8]) -> Result<(Object, HashMap<String, Storage>), String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let pkl = zip
        .file_names()
        .filter_map(|name| name.ok())
        .find(|name| name.ends_with("data.pkl"))
        .map(|name| name.into_owned())
        .ok_or("no data.pkl in the archive")?;
    let prefix = pkl.trim_end_matches("data.pkl").to_owned();
    if let Ok(mut order) = zip.by_name(&format!("{prefix}byteorder")) {
        let mut s = String::new();
        order.read_to_string(&mut s).map_err(|e| e.to_string())?;
        if s.trim() != "little" {
            return Err(format!("byte order {:?} is not supported", s.trim()));
        }
    }
    let object = {
        let entry = zip.by_name(&pkl).map_err(|e| e.to_string())?;
        let mut reader = std::io::BufReader::new(entry);
        unpickle(&mut reader)?
    };
    let mut storages = HashMap::new();
    for r in tensor_refs(&object) {
        if storages.contains_key(&r.key) {
            continue;
        }
        let name = format!("{prefix}data/{}", r.key);
        let mut entry = zip.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
        let mut data = Vec::with_capacity(entry.size().min(1 << 32) as usize);
        entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
        let storage = Storage {
            dtype: r.dtype,
            bytes: data,
        };
        storages.insert(r.key, storage);
    }
    Ok((object, storages))
}

/// `rest` starts after the magic-number pickle.
fn read_legacy(mut rest: &[u8]) -> Result<(Object, HashMap<String, Storage>), String> {
    let version = unpickle(&mut rest)?;
    if version.clone().int_or_long().ok() != Some(LEGACY_PROTOCOL_VERSION) {
        return Err(format!("unknown protocol version {version:?}"));
    }
    let sys_info = unpickle(&mut rest)?;
    if let Object::Dict(entries) = sys_info {
        let little = Object::Unicode("little_endian".into());
        if entries.contains(&(little, Object::Bool(false))) {
            return Err("big-endian files are not supported".into());
        }
    }
    let object = unpickle(&mut rest)?;
    let keys = match unpickle(&mut rest)? {
        Object::List(keys) => keys,
        other => {
            return Err(format!(
                "expected the list of storage keys, found {other:?}"
            ))
        }
    };
    let dtypes: HashMap<String, DType> = tensor_refs(&object)
        .into_iter()
        .map(|r| (r.key, r.dtype))
        .collect();
    let mut storages = HashMap::new();
    for key in keys {
        let key = key.unicode().map_err(|k| format!("storage key {k:?}"))?;
        let dtype = *dtypes
            .get(&key)
            .ok_or_else(|| format!("storage {key} is used by no tensor"))?;
        let numel = take(&mut rest, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))?;
        // Check the length against what is left before allocating anything.
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(dtype.size_in_bytes()))
            .filter(|&len| len <= rest.len())
            .ok_or_else(|| format!("storage {key} claims {numel} elements, past the end"))?;
        let bytes = take(&mut rest, len)?.to_vec();
        storages.insert(key, Storage { dtype, bytes });
    }
    Ok((object, storages))
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err("truncated file".into());
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn unpickle<R: std::io::BufRead>(r: &mut R) -> Result<Object, String> {
    let mut stack = Stack::empty();
    stack.read_loop(r).map_err(|e| first_line(&e.to_string()))?;
    stack.finalize().map_err(|e| first_line(&e.to_string()))
}

/// The `(name, tensor object)` entries of the state dict in `object`, unwrapping
/// `{"state_dict": ...}`.
fn entries(object: &Object) -> Vec<(&str, &Object)> {
    let Object::Dict(items) = object else {
        return vec![];
    };
    let wrapped = items.iter().find_map(|(k, v)| match (k, v) {
        (Object::Unicode(k), Object::Dict(_)) if k == "state_dict" => Some(v),
        _ => None,
    });
    if let Some(inner) = wrapped {
        return entries(inner);
    }
    items
        .iter()
        .filter_map(|(k, v)| match k {
            Object::Unicode(k) => Some((k.as_str(), v)),
            _ => None,
        })
        .collect()
}

fn tensor_refs(object: &Object) -> Vec<TensorRef> {
    entries(object)
        .into_iter()
        .filter_map(|(_, v)| tensor_ref(v).ok().flatten())
        .collect()
}

fn state_dict(
    object: Object,
    storages: &HashMap<String, Storage>,
) -> Result<Vec<(String, Tensor)>, String> {
    let mut out = vec![];
    for (name, value) in entries(&object) {
        let Some(r) = tensor_ref(value).map_err(|e| format!("{name}: {e}"))? else {
            continue;
        };
        let storage = storages
            .get(&r.key)
            .ok_or_else(|| format!("{name}: storage {} is missing", r.key))?;
        let tensor = gather(storage, &r).map_err(|e| format!("{name}: {e}"))?;
        out.push((name.to_owned(), tensor));
    }
    if out.is_empty() {
        return Err("no tensors found".into());
    }
    // candle's pickle machine reverses each SETITEMS batch, so file order is lost anyway:
    // sort for a stable result.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Recognises the reduce calls torch pickles tensors as; `Ok(None)` for anything else.
fn tensor_ref(object: &Object) -> Result<Option<TensorRef>, String> {
    let Object::Reduce { callable, args } = object else {
        return Ok(None);
    };
    let Object::Class { class_name, .. } = callable.as_ref() else {
        return Ok(None);
    };
    let Object::Tuple(args) = args.as_ref() else {
        return Ok(None);
    };
    match class_name.as_str() {
        // nn.Parameter(tensor, requires_grad, hooks)
        "_rebuild_parameter" => args.first().map_or(Ok(None), tensor_ref),
        // A tensor subclass: (rebuild function, type, its arguments, state).
        "_rebuild_from_type_v2" => match (args.first(), args.get(2)) {
            (Some(func), Some(inner)) => tensor_ref(&Object::Reduce {
                callable: Box::new(func.clone()),
                args: Box::new(inner.clone()),
            }),
            _ => Ok(None),
        },
        "_rebuild_tensor" | "_rebuild_tensor_v2" => rebuild_args(args).map(Some),
        _ => Ok(None),
    }
}

/// `(storage, storage_offset, size, stride, ...)`.
fn rebuild_args(args: &[Object]) -> Result<TensorRef, String> {
    let [storage, offset, size, stride, ..] = args else {
        return Err(format!(
            "{} tensor arguments, expected 4 or more",
            args.len()
        ));
    };
    let Object::PersistentLoad(id) = storage else {
        return Err(format!("storage {storage:?} is not a persistent id"));
    };
    let Object::Tuple(id) = id.as_ref() else {
        return Err(format!("storage id {id:?}"));
    };
    let (class, key, view) = match id.as_slice() {
        [_, Object::Class { class_name, .. }, Object::Unicode(key), _, _, rest @ ..] => {
            (class_name, key, rest.first())
        }
        _ => return Err(format!("storage id {id:?}")),
    };
    let dtype = storage_dtype(class)?;
    // A legacy view of a shared storage: (view key, offset into the root, view size).
    let view_offset = match view {
        Some(Object::Tuple(v)) => v.get(1).map(uint).transpose()?.unwrap_or(0),
        _ => 0,
    };
    Ok(TensorRef {
        key: key.clone(),
        dtype,
        offset: uint(offset)? + view_offset,
        size: uints(size)?,
        stride: uints(stride)?,
    })
}

fn storage_dtype(class: &str) -> Result<DType, String> {
    Ok(match class {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "ByteStorage" | "BoolStorage" => DType::U8,
        other => return Err(format!("unsupported storage type {other}")),
    })
}

fn uint(o: &Object) -> Result<usize, String> {
    match o {
        Object::Int(v) if *v >= 0 => Ok(*v as usize),
        Object::Long(v) if *v >= 0 => usize::try_from(*v).map_err(|e| e.to_string()),
        other => Err(format!("expected a size, found {other:?}")),
    }
}

fn uints(o: &Object) -> Result<Vec<usize>, String> {
    match o {
        Object::Tuple(items) | Object::List(items) => items.iter().map(uint).collect(),
        other => Err(format!("expected a tuple of sizes, found {other:?}")),
    }
}

/// Copies the elements `r` selects out of `storage` into a new contiguous tensor.
fn gather(storage: &Storage, r: &TensorRef) -> Result<Tensor, String> {
    if r.size.len() != r.stride.len() {
        return Err(format!(
            "size {:?} and stride {:?} differ in rank",
            r.size, r.stride
        ));
    }
    let elem = storage.dtype.size_in_bytes();
    let available = storage.bytes.len() / elem;
    let numel = r.size.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    // The furthest element the view reaches must lie inside the storage.
    let last = r
        .size
        .iter()
        .zip(&r.stride)
        .try_fold(r.offset, |acc, (&d, &s)| {
            acc.checked_add(d.saturating_sub(1).checked_mul(s)?)
        });
    let numel = match (numel, last) {
        (Some(0), _) => 0,
        (Some(n), Some(last)) if last < available => n,
        _ => {
            return Err(format!(
                "size {:?} at offset {} overruns a storage of {available} elements",
                r.size, r.offset
            ))
        }
    };
    if numel == 0 {
        return Tensor::zeros(r.size.as_slice(), storage.dtype, &Device::Cpu)
            .map_err(|e| first_line(&e.to_string()));
    }
    if is_row_major(&r.size, &r.stride) {
        let bytes = &storage.bytes[r.offset * elem..(r.offset + numel) * elem];
        return Tensor::from_raw_buffer(bytes, storage.dtype, &r.size, &Device::Cpu)
            .map_err(|e| first_line(&e.to_string()));
    }
    let mut out = Vec::with_capacity(numel * elem);
    let mut index = vec![0usize; r.size.len()];
    for _ in 0..numel {
        let at = r.offset
            + index
                .iter()
                .zip(&r.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        out.extend_from_slice(&storage.bytes[at * elem..(at + 1) * elem]);
        // Advance the row-major multi-index, last dimension fastest.
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < r.size[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Tensor::from_raw_buffer(&out, storage.dtype, &r.size, &Device::Cpu)
        .map_err(|e| first_line(&e.to_string()))
}

/// Whether `stride` is the contiguous (C order) stride of `size`; size-1 dimensions may
/// carry any stride.
fn is_row_major(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected *= d;
    }
    true
}

/// candle's errors can carry a backtrace after the first line.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}
