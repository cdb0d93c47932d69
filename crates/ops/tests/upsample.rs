//! `upsample_nearest2x` against candle's upsampling (forward) and finite differences (backward).

mod common;

use candle_core::Tensor;
use common::{assert_close, autograd, finite_differences, max_difference, random};
use faststyle_ops::upsample_nearest2x;

const SHAPES: [[usize; 4]; 3] = [[1, 2, 3, 5], [3, 2, 4, 4], [3, 1, 5, 2]];

#[test]
fn forward_matches_candle() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let xs = random(dims, i as u64);
        let theirs = xs.upsample_nearest2d(2 * dims[2], 2 * dims[3]).unwrap();
        assert_close(
            &upsample_nearest2x(&xs).unwrap(),
            &theirs,
            0.0,
            &format!("{dims:?}"),
        );
    }
}

/// The input also feeds a second term, as a residual connection or a loss term would.
fn shared_input(
    up: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> impl Fn(&Tensor) -> candle_core::Result<Tensor> {
    move |xs: &Tensor| {
        let ys = up(xs)?.sum_keepdim(3)?.sum_keepdim(2)?;
        let other = (xs * 3.0)?.sum_keepdim(3)?.sum_keepdim(2)?;
        ys + other
    }
}

#[test]
fn gradient_accumulates_with_other_uses_of_the_input() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let xs = random(dims, 10 + i as u64);
        let f = shared_input(upsample_nearest2x);
        let what = format!("{dims:?}");
        assert_close(
            &autograd(&f, &xs),
            &finite_differences(&f, &xs, 1e-2),
            1e-3,
            &what,
        );
        let alone = |x: &Tensor| upsample_nearest2x(x);
        assert_close(
            &autograd(alone, &xs),
            &finite_differences(alone, &xs, 1e-2),
            1e-3,
            &what,
        );
    }
}

/// Regression: candle 0.11's backward overwrites the gradient its input already has.
#[test]
fn candle_gradient_is_wrong_where_ours_is_right() {
    let dims = SHAPES[0];
    let xs = random(&dims, 20);
    let candle_up = |x: &Tensor| x.upsample_nearest2d(2 * dims[2], 2 * dims[3]);
    let expected = finite_differences(shared_input(upsample_nearest2x), &xs, 1e-2);
    let theirs = autograd(shared_input(candle_up), &xs);
    assert!(
        max_difference(&theirs, &expected) > 0.1,
        "candle's upsampling gradient is right now: drop this workaround?"
    );
}
