//! The style catalogue, on temporary directories of checkpoints written by `save_checkpoint`
//! from the fixture network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use faststyle_infer::catalog::{Catalog, CatalogError};
use faststyle_net::{save_checkpoint, CheckpointMeta, StyleInfo};

fn fixture_tensors() -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/transformer_net.safetensors");
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faststyle-catalog-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dir` with `starry-night` (full metadata and a preview), `mosaic` (a name only), a bare
/// safetensors file without our metadata, and files that are not styles.
fn catalogue(test: &str) -> PathBuf {
    let dir = temp_dir(test);
    let tensors = fixture_tensors();
    let starry = CheckpointMeta {
        style: StyleInfo {
            name: "starry-night".into(),
            image_sha256: "0f".repeat(32),
            title: Some("The Starry Night".into()),
            artist: Some("Vincent van Gogh".into()),
            year: Some("1889".into()),
            licence: Some("public domain".into()),
        },
        ..Default::default()
    };
    save_checkpoint(
        &dir.join("starry-night.safetensors"),
        &tensors,
        &starry,
        DType::F16,
    )
    .unwrap();
    std::fs::write(dir.join("starry-night.jpg"), b"preview").unwrap();
    let mosaic = CheckpointMeta {
        style: StyleInfo {
            name: "mosaic".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    save_checkpoint(
        &dir.join("mosaic.safetensors"),
        &tensors,
        &mosaic,
        DType::F16,
    )
    .unwrap();
    let t = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let bare = safetensors::tensor::serialize([("w", &t)], None).unwrap();
    std::fs::write(dir.join("bare.safetensors"), bare).unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a style").unwrap();
    std::fs::write(dir.join(".hidden.safetensors"), b"half-copied").unwrap();
    std::fs::create_dir(dir.join("sub.safetensors")).unwrap();
    dir
}

#[test]
fn lists_styles_sorted_with_metadata_and_previews() {
    let dir = catalogue("list");
    let styles = Catalog::in_dir(&dir).styles().unwrap();
    let names: Vec<&str> = styles.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["bare", "mosaic", "starry-night"]);
    let [bare, mosaic, starry] = &styles[..] else {
        unreachable!()
    };
    assert!(bare.meta.is_none() && bare.problem.is_none());
    assert_eq!(mosaic.meta.as_ref().unwrap().style.name, "mosaic");
    assert_eq!(mosaic.preview, None);
    let info = &starry.meta.as_ref().unwrap().style;
    assert_eq!(info.artist.as_deref(), Some("Vincent van Gogh"));
    assert_eq!(info.year.as_deref(), Some("1889"));
    assert_eq!(starry.path, dir.join("starry-night.safetensors"));
    assert_eq!(starry.preview, Some(dir.join("starry-night.jpg")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_metadata_is_reported_not_fatal() {
    let dir = catalogue("broken");
    std::fs::write(dir.join("broken.safetensors"), b"garbage").unwrap();
    let styles = Catalog::in_dir(&dir).styles().unwrap();
    let broken = styles.iter().find(|s| s.name == "broken").unwrap();
    assert!(broken.meta.is_none());
    let problem = broken.problem.as_deref().unwrap();
    assert!(
        problem.contains("broken.safetensors: not a safetensors file"),
        "{problem}"
    );
    assert_eq!(styles.len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_resolve_and_existing_paths_win() {
    let dir = catalogue("resolve");
    let catalog = Catalog::in_dir(&dir);
    assert_eq!(
        catalog.resolve("mosaic").unwrap(),
        dir.join("mosaic.safetensors")
    );
    // An existing file is taken as it is, even one outside the catalogue.
    let elsewhere = dir.join("notes.txt");
    assert_eq!(
        catalog.resolve(elsewhere.to_str().unwrap()).unwrap(),
        elsewhere
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_names_list_what_is_available() {
    let dir = catalogue("unknown");
    let catalog = Catalog::in_dir(&dir);
    let err = catalog.resolve("starry").unwrap_err();
    assert!(matches!(err, CatalogError::UnknownStyle { .. }));
    assert_eq!(
        err.to_string(),
        "unknown style \"starry\" (available: bare, mosaic, starry-night)"
    );
    // Something that looks like a path is not looked up by name.
    let missing = dir.join("gone.safetensors");
    let err = catalog.resolve(missing.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, CatalogError::NoSuchFile { .. }), "{err}");
    assert!(err
        .to_string()
        .ends_with("gone.safetensors: no such checkpoint file"));
    let err = catalog.resolve(dir.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, CatalogError::IsDirectory { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_style_comes_from_the_catalogue() {
    let dir = catalogue("default");
    let catalog = Catalog::in_dir(&dir);
    assert_eq!(
        catalog.default_style().unwrap(),
        dir.join("starry-night.safetensors")
    );
    std::fs::remove_file(dir.join("starry-night.safetensors")).unwrap();
    let err = catalog.default_style().unwrap_err().to_string();
    assert_eq!(
        err,
        "no style given and the default style \"starry-night\" is not in the catalogue \
         (available: bare, mosaic); pass --style NAME_OR_PATH"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_catalogue_says_so() {
    let dir = temp_dir("empty");
    let catalog = Catalog::in_dir(&dir);
    assert!(catalog.styles().unwrap().is_empty());
    let err = catalog.default_style().unwrap_err().to_string();
    assert!(err.starts_with("no style given and no styles in "), "{err}");
    let err = catalog.resolve("mosaic").unwrap_err().to_string();
    assert!(
        err.starts_with("unknown style \"mosaic\" (no styles in "),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
