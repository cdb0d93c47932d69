//! From pickled objects to tensors: finding the state dict in the unpickled object, reading
//! the `_rebuild_tensor_v2(storage, offset, size, stride, ...)` calls torch pickles tensors
//! as, and copying their elements out of the storages' raw bytes.
//!
//! Elements are gathered index by index from `(offset, size, stride)`, so views into a shared
//! storage and non-contiguous tensors come out right; contiguous ones are copied in one go.

use std::collections::HashMap;

use candle_core::pickle::Object;
use candle_core::{DType, Device, Tensor};

use super::{brief, first_line};

/// A storage's raw little-endian bytes and element type.
pub(super) struct Storage {
    pub dtype: DType,
    pub bytes: Vec<u8>,
}

/// Where a tensor's elements live: `(storage key, offset, size, stride)` in elements.
pub(super) struct TensorRef {
    pub key: String,
    pub dtype: DType,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
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

/// The tensors of the state dict in `object`, skipping anything else.
pub(super) fn tensor_refs(object: &Object) -> Vec<TensorRef> {
    entries(object)
        .into_iter()
        .filter_map(|(_, v)| tensor_ref(v).ok().flatten())
        .collect()
}

/// Every storage `object` refers to, anywhere in it, with its element type. A legacy file
/// holds all of them in one sequence, the optimizer's beside the state dict's, and skipping
/// one needs its element size.
pub(super) fn all_storages(
    object: &Object,
    out: &mut HashMap<String, DType>,
) -> Result<(), String> {
    match object {
        Object::PersistentLoad(id) => {
            let (key, dtype, _) = storage_id(id)?;
            out.insert(key, dtype);
        }
        Object::Tuple(items) | Object::List(items) => {
            for item in items {
                all_storages(item, out)?;
            }
        }
        Object::Dict(items) => {
            for (k, v) in items {
                all_storages(k, out)?;
                all_storages(v, out)?;
            }
        }
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            all_storages(callable, out)?;
            all_storages(args, out)?;
        }
        _ => {}
    }
    Ok(())
}

/// The named tensors of the state dict in `object`, sorted by name.
pub(super) fn state_dict(
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
        return Err(format!("storage {} is not a persistent id", brief(storage)));
    };
    let (key, dtype, view_offset) = storage_id(id)?;
    Ok(TensorRef {
        key,
        dtype,
        offset: uint(offset)? + view_offset,
        size: uints(size)?,
        stride: uints(stride)?,
    })
}

/// `("storage", storage class, key, location, numel[, view metadata])` → the key, element
/// type and, for a legacy view of a shared storage, its offset into that storage.
fn storage_id(id: &Object) -> Result<(String, DType, usize), String> {
    let Object::Tuple(id) = id else {
        return Err(format!("storage id {}", brief(id)));
    };
    let (class, key, view) = match id.as_slice() {
        [_, Object::Class { class_name, .. }, Object::Unicode(key), _, _, rest @ ..] => {
            (class_name, key, rest.first())
        }
        _ => return Err(format!("storage id {}", brief(id))),
    };
    // View metadata: (view key, offset into the root storage, view size).
    let view_offset = match view {
        Some(Object::Tuple(v)) => v.get(1).map(uint).transpose()?.unwrap_or(0),
        _ => 0,
    };
    Ok((key.clone(), storage_dtype(class)?, view_offset))
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
        other => Err(format!("expected a size, found {}", brief(other))),
    }
}

fn uints(o: &Object) -> Result<Vec<usize>, String> {
    match o {
        Object::Tuple(items) | Object::List(items) => items.iter().map(uint).collect(),
        other => Err(format!("expected a tuple of sizes, found {}", brief(other))),
    }
}

/// Copies the elements `r` selects out of `storage` into a new contiguous tensor.
pub(super) fn gather(storage: &Storage, r: &TensorRef) -> Result<Tensor, String> {
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
