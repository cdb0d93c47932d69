//! Helpers for the tests of every faststyle crate: where the repository and its fixtures are,
//! fresh scratch folders, images as the `(1, 3, h, w)` tensors the networks take, and the
//! comparisons the parity tests make. Tests only: nothing here is fit for the tools (every
//! function panics on failure, which is what a test wants).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use image::RgbImage;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of `tests/fixtures/` (reference numbers and inputs computed with PyTorch).
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// A fresh empty folder, unique to this test process and to `tag` (tests of one binary run in
/// parallel, so each test passes its own).
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faststyle-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An RGB image as a `(1, 3, h, w)` f32 tensor, pixels 0..255, as the networks take it.
pub fn image_tensor(img: RgbImage) -> Tensor {
    let (w, h) = img.dimensions();
    let hwc = Tensor::from_vec(img.into_raw(), (h as usize, w as usize, 3), &Device::Cpu).unwrap();
    hwc.permute((2, 0, 1))
        .unwrap()
        .unsqueeze(0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

/// A fixture image as a `(1, 3, h, w)` tensor, pixels 0..255.
pub fn fixture_image(name: &str) -> Tensor {
    image_tensor(image::open(fixture(name)).unwrap().to_rgb8())
}

/// The largest absolute difference between two tensors of the same shape.
pub fn max_difference(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// CRC-32 (IEEE), as PNG chunks need it: for tests that build broken PNG files by hand.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
