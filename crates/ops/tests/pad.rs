//! `reflection_pad2d` against hand-computed values and PyTorch's definition (forward) and finite
//! differences (backward).

mod common;

use candle_core::{Device, Tensor};
use common::{assert_close, autograd, finite_differences, random};
use faststyle_ops::reflection_pad2d;

#[test]
fn mirrors_without_repeating_the_edge() {
    let xs = Tensor::new(
        &[[[[1f32, 2., 3., 4.], [5., 6., 7., 8.], [9., 10., 11., 12.]]]],
        &Device::Cpu,
    )
    .unwrap();
    let ys = reflection_pad2d(&xs, 2).unwrap();
    assert_eq!(ys.dims(), [1, 1, 7, 8]);
    let rows = ys
        .squeeze(0)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    // torch.nn.ReflectionPad2d(2) of the same 3x4 image.
    assert_eq!(rows[0], [11., 10., 9., 10., 11., 12., 11., 10.]);
    assert_eq!(rows[2], [3., 2., 1., 2., 3., 4., 3., 2.]);
    assert_eq!(rows[3], [7., 6., 5., 6., 7., 8., 7., 6.]);
    assert_eq!(rows[6], [3., 2., 1., 2., 3., 4., 3., 2.]);
}

#[test]
fn gradient_matches_finite_differences() {
    for (i, (dims, pad)) in [([1, 2, 5, 6], 1), ([3, 2, 6, 5], 4), ([3, 1, 2, 3], 1)]
        .iter()
        .enumerate()
    {
        let xs = random(dims, i as u64);
        let f = |x: &Tensor| reflection_pad2d(x, *pad);
        let what = format!("{dims:?} padded by {pad}");
        assert_close(
            &autograd(f, &xs),
            &finite_differences(f, &xs, 1e-2),
            1e-3,
            &what,
        );
    }
}

#[test]
fn padding_as_large_as_the_image_is_an_error() {
    assert!(reflection_pad2d(&random(&[1, 1, 4, 6], 0), 4).is_err());
    assert!(reflection_pad2d(&random(&[1, 1, 6, 4], 0), 4).is_err());
}
