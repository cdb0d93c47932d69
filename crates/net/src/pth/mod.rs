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
//! decoding cannot hold. Legacy files must use pickle protocol 2, torch.save's default;
//! others are refused as not a checkpoint.
//!
//! Known gap: candle's pickle machine trusts the pickle it reads; a crafted `LONG1` longer
//! than 8 bytes overflows a shift (a panic in debug builds only), and a `BINUNICODE` may
//! claim up to 4 GiB. Real torch.save files never do either.
//!
//! A checkpoint wrapped as `{"state_dict": ...}` is unwrapped; entries that are not tensors
//! are skipped ([`rebuild`] turns the objects into tensors).

mod rebuild;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack};
use candle_core::Tensor;

use rebuild::{all_storages, state_dict, tensor_refs, Storage};

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

/// The tensors of a `torch.save` file's state dict, sorted by name, on the CPU; none when it
/// holds no state dict (a whole pickled module, say).
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
        // Entries are stored uncompressed: none can be larger than the archive.
        let mut data = Vec::with_capacity(entry.size().min(bytes.len() as u64) as usize);
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
        return Err(format!("unknown protocol version {}", brief(&version)));
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
            let found = brief(&other);
            return Err(format!("expected the list of storage keys, found {found}"));
        }
    };
    let mut dtypes = HashMap::new();
    all_storages(&object, &mut dtypes)?;
    let mut storages = HashMap::new();
    for key in keys {
        let key = key
            .unicode()
            .map_err(|k| format!("storage key {}", brief(&k)))?;
        let dtype = *dtypes
            .get(&key)
            .ok_or_else(|| format!("storage {key} is referred to by nothing"))?;
        let numel = take(&mut rest, 8)?;
        let numel = u64::from_le_bytes(numel.try_into().expect("took 8 bytes"));
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

/// An object's debug form cut to a length that fits an error line: a corrupt file can hold a
/// pickle of any size where a small one was expected.
pub(crate) fn brief(object: &impl std::fmt::Debug) -> String {
    const MAX_CHARS: usize = 80;
    let full = format!("{object:?}");
    match full.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}...", &full[..at]),
        None => full,
    }
}

/// candle's errors can carry a backtrace after the first line.
pub(crate) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}
