//! The transformer against PyTorch: `tests/fixtures/` holds a seeded network, an input and the
//! output PyTorch 1.13 computed (made by `make_fixtures.py` of the shared fixtures; the numbers
//! quoted here are from its `expected.json`).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use faststyle_net::{TransformerNet, TRANSFORMER_PARAMETERS};
use faststyle_testkit::{fixture, fixture_image, max_difference, temp_dir};

#[test]
fn parameter_count_matches_pytorch() {
    let tensors =
        candle_core::safetensors::load(fixture("transformer_net.safetensors"), &Device::Cpu)
            .unwrap();
    let count: usize = tensors.values().map(|t| t.elem_count()).sum();
    assert_eq!(count, TRANSFORMER_PARAMETERS);
}

#[test]
fn output_matches_pytorch_within_1e3_everywhere() {
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[fixture("transformer_net.safetensors")],
            DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let net = TransformerNet::new(vb).unwrap();
    let ys = net.forward(&fixture_image("content_72x52.png")).unwrap();
    let expected =
        candle_core::safetensors::load(fixture("transformer_out_72x52.safetensors"), &Device::Cpu)
            .unwrap();
    let expected = &expected["output"];
    assert_eq!(ys.dims(), &[1, 3, 52, 72]);
    let max_diff = max_difference(&ys, expected);
    assert!(
        max_diff <= 1e-3,
        "largest difference from PyTorch: {max_diff}"
    );
}

#[test]
fn checkpoint_round_trips_through_f16_with_metadata() {
    let dir = temp_dir("net-checkpoint");
    let path = dir.join("roundtrip.safetensors");
    let tensors =
        candle_core::safetensors::load(fixture("transformer_net.safetensors"), &Device::Cpu)
            .unwrap();
    let meta = faststyle_net::CheckpointMeta {
        style: faststyle_net::StyleInfo {
            name: "test-style".into(),
            image_sha256: "ab".repeat(32),
            ..Default::default()
        },
        training: serde_json::json!({"steps": 3}),
        code_version: "0.1.0".into(),
    };
    faststyle_net::save_checkpoint(&path, &tensors, &meta, DType::F16).unwrap();
    // f16 halves the file: 1,679,235 parameters at 2 bytes plus the header.
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size > 3_358_470 && size < 3_400_000,
        "f16 checkpoint size {size}"
    );
    let loaded = faststyle_net::load_checkpoint(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.meta.as_ref(), Some(&meta));
    let ys = loaded
        .net
        .forward(&fixture_image("content_72x52.png"))
        .unwrap();
    let expected =
        candle_core::safetensors::load(fixture("transformer_out_72x52.safetensors"), &Device::Cpu)
            .unwrap();
    // f16 weights move the output a little, but it stays close to PyTorch's f32 output.
    let max_diff = max_difference(&ys, &expected["output"]);
    assert!(max_diff < 1.0, "{max_diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_of_another_architecture_is_refused_by_name() {
    let dir = temp_dir("net-architecture");
    let path = dir.join("other.safetensors");
    let t = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
    let meta =
        std::collections::HashMap::from([("architecture".to_string(), "resnet50".to_string())]);
    let bytes = safetensors::tensor::serialize([("w", &t)], Some(meta)).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let err = faststyle_net::load_checkpoint(&path, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("another architecture (resnet50)") && err.contains("other.safetensors"),
        "{err}"
    );
    // The same tensors without a name are refused for what they lack.
    let bytes = safetensors::tensor::serialize([("w", &t)], None).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let err = faststyle_net::load_checkpoint(&path, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a transformer-net checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
