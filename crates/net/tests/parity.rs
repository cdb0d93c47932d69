//! The transformer against PyTorch: `tests/fixtures/` holds a seeded network, an input and the
//! output PyTorch 1.13 computed (made by `make_fixtures.py` of the shared fixtures; the numbers
//! quoted here are from its `expected.json`).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use faststyle_net::{TransformerNet, TRANSFORMER_PARAMETERS};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn content_72x52() -> Tensor {
    let img = image::open(fixture("content_72x52.png")).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    assert_eq!((w, h), (72, 52));
    let hwc = Tensor::from_vec(img.into_raw(), (h as usize, w as usize, 3), &Device::Cpu).unwrap();
    hwc.permute((2, 0, 1))
        .unwrap()
        .unsqueeze(0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

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
    let ys = net.forward(&content_72x52()).unwrap();
    let expected =
        candle_core::safetensors::load(fixture("transformer_out_72x52.safetensors"), &Device::Cpu)
            .unwrap();
    let expected = &expected["output"];
    assert_eq!(ys.dims(), expected.dims());
    let max_diff = (ys - expected)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap();
    let max_diff = max_diff.to_scalar::<f32>().unwrap();
    assert!(
        max_diff <= 1e-3,
        "largest difference from PyTorch: {max_diff}"
    );
}
