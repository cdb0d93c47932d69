//! `max_pool2x2` against candle's pooling (forward) and finite differences (backward).

mod common;

use candle_core::{Device, Tensor, Var};
use common::{assert_close, autograd, distinct, finite_differences, max_difference};
use faststyle_ops::max_pool2x2;

/// `(b, c, h, w)`: even, odd and mixed sizes, batches of 1 and 3.
const SHAPES: [[usize; 4]; 4] = [[1, 2, 6, 8], [3, 2, 7, 5], [1, 3, 5, 6], [3, 1, 4, 9]];

#[test]
fn forward_matches_candle_on_the_cropped_input() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let xs = distinct(dims, i as u64);
        let (h, w) = (dims[2] / 2 * 2, dims[3] / 2 * 2);
        let cropped = xs.narrow(2, 0, h).unwrap().narrow(3, 0, w).unwrap();
        let theirs = cropped.max_pool2d(2).unwrap();
        assert_close(
            &max_pool2x2(&xs).unwrap(),
            &theirs,
            0.0,
            &format!("shape {dims:?}"),
        );
    }
}

#[test]
fn gradient_matches_finite_differences() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let xs = distinct(dims, 10 + i as u64);
        let expected = finite_differences(max_pool2x2, &xs, 1e-3);
        assert_close(
            &autograd(max_pool2x2, &xs),
            &expected,
            1e-3,
            &format!("shape {dims:?}"),
        );
    }
}

/// Regression: candle 0.11 scales the gradient by 1/4 and loses the windows of odd sizes.
#[test]
fn candle_gradient_is_wrong_where_ours_is_right() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let xs = distinct(dims, 20 + i as u64);
        let expected = finite_differences(max_pool2x2, &xs, 1e-3);
        let (h, w) = (dims[2] / 2 * 2, dims[3] / 2 * 2);
        let candle_pool = |x: &Tensor| x.narrow(2, 0, h)?.narrow(3, 0, w)?.max_pool2d(2);
        let theirs = autograd(candle_pool, &xs);
        assert!(
            max_difference(&theirs, &expected) > 0.1,
            "candle's max-pool gradient is right now for {dims:?}: drop this workaround?"
        );
    }
}

/// On ties the first maximum in row-major order gets the whole gradient, as in PyTorch.
#[test]
fn ties_send_the_gradient_to_the_first_maximum() {
    let xs = Tensor::new(&[[[[1f32, 2., 0., 0.], [2., 2., 0., 0.]]]], &Device::Cpu).unwrap();
    let var = Var::from_tensor(&xs).unwrap();
    let grads = max_pool2x2(&var)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let grad = grads
        .get(&var)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(grad, [0., 1., 1., 0., 0., 0., 0., 0.]);
}

#[test]
fn too_small_inputs_are_errors() {
    assert!(max_pool2x2(&distinct(&[1, 1, 1, 4], 0)).is_err());
    assert!(max_pool2x2(&distinct(&[1, 1, 4], 0)).is_err());
}
