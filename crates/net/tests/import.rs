//! Importing PyTorch checkpoints. The `.pth` fixtures were written by PyTorch 1.13 with
//! `tests/fixtures/make_pth_fixtures.py`, from the same state dict as
//! `transformer_net.safetensors`; the reference output is PyTorch's, as in `parity.rs`.

use std::path::Path;

use candle_core::{DType, Device, Module};
use faststyle_net::{
    import_pth, load_checkpoint, read_meta, read_pth, ImportError, ImportOptions, PthError,
    PthFormat,
};
use faststyle_testkit::{fixture, fixture_image, max_difference, temp_dir};

/// Imports `pth`, loads the result and runs it on the 72x52 fixture: PyTorch's output within
/// 1e-3 at every element (pixel scale 0..255).
fn assert_import_matches_pytorch(pth: &str, test: &str) -> faststyle_net::ImportSummary {
    let dir = temp_dir(&format!("import-{test}"));
    let out = dir.join("imported.safetensors");
    let summary = import_pth(&fixture(pth), &out, &ImportOptions::default()).unwrap();
    assert_eq!(summary.tensors, 62);
    let loaded = load_checkpoint(&out, &Device::Cpu).unwrap();
    let ys = loaded
        .net
        .forward(&fixture_image("content_72x52.png"))
        .unwrap();
    let expected =
        candle_core::safetensors::load(fixture("transformer_out_72x52.safetensors"), &Device::Cpu)
            .unwrap();
    let diff = max_difference(&ys, &expected["output"]);
    assert!(diff <= 1e-3, "largest difference from PyTorch: {diff}");
    // Only the transformer's tensors were written.
    let written = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
    assert_eq!(written.len(), 62);
    assert!(written.keys().all(|k| !k.contains("running")));
    let meta = loaded.meta.unwrap();
    assert_eq!(meta.training["imported_from"], "pytorch checkpoint");
    std::fs::remove_dir_all(&dir).unwrap();
    summary
}

#[test]
fn zip_checkpoint_imports_with_pytorch_output() {
    let summary = assert_import_matches_pytorch("transformer_net.pth", "zip");
    assert_eq!(summary.format, "zip");
    assert_eq!(summary.name, "transformer_net");
    assert!(summary.dropped.is_empty());
}

#[test]
fn legacy_checkpoint_imports_with_pytorch_output_and_drops_stale_keys() {
    let summary = assert_import_matches_pytorch("transformer_net_legacy.pth", "legacy");
    assert_eq!(summary.format, "legacy");
    // 15 instance norms (in1..in5, two per residual block), three stale buffers each.
    assert_eq!(summary.dropped.len(), 45);
    assert!(summary
        .dropped
        .contains(&"res4.in2.num_batches_tracked".to_owned()));
}

#[test]
fn both_formats_hold_the_same_tensors_as_the_safetensors_fixture() {
    let reference =
        candle_core::safetensors::load(fixture("transformer_net.safetensors"), &Device::Cpu)
            .unwrap();
    for (file, format) in [
        ("transformer_net.pth", PthFormat::Zip),
        ("transformer_net_legacy.pth", PthFormat::Legacy),
    ] {
        let pth = read_pth(&fixture(file)).unwrap();
        assert_eq!(pth.format, format);
        let tensors: Vec<_> = pth
            .tensors
            .iter()
            .filter(|(name, _)| reference.contains_key(name))
            .collect();
        assert_eq!(tensors.len(), reference.len(), "{file}");
        for (name, t) in tensors {
            assert_eq!(max_difference(t, &reference[name]), 0.0, "{file}: {name}");
        }
    }
}

/// The small cases file: `{"epoch": 3, "state_dict": {"module.strided": ..., ...}}`.
#[test]
fn views_strides_and_dtypes_are_rebuilt_in_both_formats() {
    for file in ["pth_cases_zip.pth", "pth_cases_legacy.pth"] {
        let pth = read_pth(&fixture(file)).unwrap();
        let names: Vec<&str> = pth.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "module.count",
                "module.half",
                "module.strided",
                "module.view",
                "module.whole"
            ],
            "{file}"
        );
        let t = |name: &str| {
            &pth.tensors
                .iter()
                .find(|(n, _)| n.ends_with(name))
                .unwrap()
                .1
        };
        // arange(24).reshape(2, 3, 4).permute(2, 0, 1): element [k, i, j] = 12 i + 4 j + k.
        assert_eq!(t("strided").dims(), [4, 2, 3]);
        let strided = t("strided").to_vec3::<f32>().unwrap();
        assert_eq!(strided[1][0], [1.0, 5.0, 9.0], "{file}");
        assert_eq!(strided[3][1], [15.0, 19.0, 23.0], "{file}");
        // (arange(10) * 0.5)[3:7] shares its storage with "whole".
        assert_eq!(
            t("view").to_vec1::<f32>().unwrap(),
            [1.5, 2.0, 2.5, 3.0],
            "{file}"
        );
        assert_eq!(t("whole").dims(), [10]);
        assert_eq!(t("half").dtype(), DType::F16);
        let half = t("half")
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(half, [1.5, -2.25, 65504.0], "{file}");
        assert_eq!(t("count").dims(), [] as [usize; 0]);
        assert_eq!(t("count").to_scalar::<i64>().unwrap(), 7, "{file}");
    }
}

#[test]
fn f16_option_and_name_reach_the_checkpoint() {
    let dir = temp_dir("import-f16");
    let out = dir.join("half.safetensors");
    let options = ImportOptions {
        name: Some("mosaic".into()),
        dtype: DType::F16,
    };
    import_pth(&fixture("transformer_net.pth"), &out, &options).unwrap();
    let written = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
    assert!(written.values().all(|t| t.dtype() == DType::F16));
    let meta = read_meta(&out).unwrap().unwrap();
    assert_eq!(meta.style.name, "mosaic");
    assert_eq!(meta.training["source_format"], "zip");
    assert_eq!(meta.training["source_file"], "transformer_net.pth");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_that_are_not_transformer_checkpoints_are_refused_by_name() {
    let dir = temp_dir("import-refused");
    let out = dir.join("out.safetensors");
    let options = ImportOptions::default();

    let err = import_pth(&dir.join("missing.pth"), &out, &options).unwrap_err();
    assert!(
        matches!(err, ImportError::Read(PthError::Io { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("missing.pth"), "{err}");

    let err = import_pth(&fixture("content_72x52.png"), &out, &options).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("content_72x52.png: not a PyTorch checkpoint"),
        "{msg}"
    );

    // A torch.save file of other tensors: a checkpoint, but of another network.
    let err = import_pth(&fixture("pth_cases_zip.pth"), &out, &options).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("pth_cases_zip.pth: not a fast_neural_style transformer-net")
            && msg.contains("missing conv1.conv2d.bias")
            && msg.contains("unexpected count, half, strided, view and 1 more"),
        "{msg}"
    );

    // A whole pickled module holds no state dict at the top.
    let whole = read_pth(&fixture("whole_module.pth")).unwrap();
    assert!(whole.tensors.is_empty());
    let msg = import_pth(&fixture("whole_module.pth"), &out, &options)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no state dict found"), "{msg}");

    // A legacy file cut short.
    let bytes = std::fs::read(fixture("transformer_net_legacy.pth")).unwrap();
    let cut = dir.join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = import_pth(&cut, &out, &options).unwrap_err().to_string();
    assert!(msg.contains("cut.pth: corrupt PyTorch checkpoint"), "{msg}");

    assert!(!out.exists(), "nothing is written on failure");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_cut_anywhere_give_errors_not_panics() {
    for file in [
        "transformer_net.pth",
        "transformer_net_legacy.pth",
        "pth_cases_zip.pth",
        "pth_cases_legacy.pth",
    ] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        let mut cuts: Vec<usize> = (0..64).chain((64..2000).step_by(37)).collect();
        cuts.extend([bytes.len() / 3, bytes.len() - 9, bytes.len() - 1]);
        for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
            let result = faststyle_net::pth::read_pth_bytes(Path::new(file), &bytes[..cut]);
            assert!(result.is_err(), "{file} cut at {cut} was accepted");
        }
    }
}
