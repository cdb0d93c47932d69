//! VGG16 and Gram matrices against PyTorch (numbers from `tests/fixtures/expected.json`, keys
//! `vgg16_taps_content_72x52` and `gram_style_96x80`).

mod common;

use common::{assert_rel, expected, head, image, number, sum, vgg};
use faststyle_ops::gram;
use faststyle_train::Tap;

/// Heads are rounded to 6 decimals by the fixture script; the rest is float32 round-off.
fn assert_head(what: &str, actual: &[f32], expected: &serde_json::Value, abs: f64, rel: f64) {
    let expected: Vec<f64> = expected.as_array().unwrap().iter().map(number).collect();
    assert_eq!(actual.len(), expected.len());
    for (i, (&a, &e)) in actual.iter().zip(&expected).enumerate() {
        let err = (a as f64 - e).abs();
        assert!(
            err <= abs + rel * e.abs(),
            "{what}[{i}]: {a} vs PyTorch's {e}"
        );
    }
}

fn shape(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn first_kernel_is_torchvisions_in_oihw_layout() {
    let path = faststyle_train::vgg16_weights(&mut |_| {}).unwrap();
    let tensors = faststyle_train::vgg_weights::load_safetensors(&path).unwrap();
    let w = &tensors["features.0.weight"];
    assert_eq!(w.dims(), &[64, 3, 3, 3]);
    assert_head(
        "features.0.weight",
        &head(w, 5),
        &expected()["vgg16_features.0.weight_head"],
        1e-6,
        0.0,
    );
    faststyle_train::vgg_weights::check_sums(&path, &tensors).unwrap();
}

#[test]
fn taps_of_content_72x52_match_pytorch() {
    let taps = vgg().forward(&image("content_72x52.png")).unwrap();
    for tap in Tap::ALL {
        let want = &expected()["vgg16_taps_content_72x52"][tap.name()];
        let got = taps.get(tap);
        assert_eq!(got.dims(), shape(&want["shape"]), "{tap} shape");
        assert_rel(&format!("{tap} sum"), sum(got), number(&want["sum"]), 1e-4);
        assert_head(tap.name(), &head(got, 8), &want["head"], 1e-4, 1e-4);
    }
}

#[test]
fn gram_matrices_of_style_96x80_match_pytorch() {
    let taps = vgg().forward(&image("style_96x80.png")).unwrap();
    for tap in Tap::ALL {
        let want = &expected()["gram_style_96x80"][tap.name()];
        let got = gram(taps.get(tap)).unwrap();
        assert_eq!(got.dims(), shape(&want["shape"]), "{tap} gram shape");
        assert_rel(
            &format!("{tap} gram sum"),
            sum(&got),
            number(&want["sum"]),
            1e-4,
        );
        assert_head(
            &format!("{tap} gram"),
            &head(&got, 8),
            &want["head"],
            1e-5,
            1e-4,
        );
    }
}
