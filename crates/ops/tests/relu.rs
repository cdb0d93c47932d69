//! ReLU alone and fused into the convolution: values and gradients.

mod common;

use candle_core::{Tensor, Var};
use common::{assert_close, autograd, finite_differences, random};
use faststyle_ops::{conv2d, conv2d_relu, relu};

/// Random values kept at least 0.05 away from the kink at 0, so central differences with a
/// step of 0.01 never straddle it.
fn away_from_zero(dims: &[usize], seed: u64) -> Tensor {
    let xs = random(dims, seed);
    let shift = (xs.sign().unwrap() * 0.05).unwrap();
    (xs + shift).unwrap()
}

#[test]
fn relu_matches_candle_and_finite_differences() {
    for (dims, seed) in [(vec![1, 3, 5, 4], 1), (vec![3, 2, 7, 6], 2)] {
        let xs = away_from_zero(&dims, seed);
        assert_close(&relu(&xs).unwrap(), &xs.relu().unwrap(), 0.0, "forward");
        let f = |x: &Tensor| relu(x);
        assert_close(
            &autograd(f, &xs),
            &finite_differences(f, &xs, 1e-2),
            1e-3,
            &format!("gradient, {dims:?}"),
        );
    }
}

/// The input also feeds a second term: the ReLU's gradient must add to the other one.
#[test]
fn relu_gradient_accumulates_with_other_uses() {
    let xs = away_from_zero(&[2, 3, 4, 5], 3);
    let f = |x: &Tensor| relu(x)? + x.sqr()?;
    assert_close(
        &autograd(f, &xs),
        &finite_differences(f, &xs, 1e-2),
        1e-3,
        "gradient",
    );
}

/// The fused op equals a convolution followed by a ReLU, in value and in both gradients, on
/// stride 1 and 2 and with and without the input gradient path of many channels.
#[test]
fn fused_convolution_equals_convolution_then_relu() {
    // (batch, c_in, h, w, c_out, k, stride, padding)
    let cases = [
        (1, 3, 7, 6, 4, 3, 1, 1),
        (3, 17, 6, 5, 16, 3, 1, 1),
        (2, 4, 9, 8, 5, 3, 2, 1),
    ];
    for (i, &(b, c_in, h, w, c_out, k, stride, padding)) in cases.iter().enumerate() {
        let seed = 10 * i as u64;
        let xs = random(&[b, c_in, h, w], seed);
        let weight = random(&[c_out, c_in, k, k], seed + 1);
        let bias = random(&[c_out], seed + 2);
        let fused = |x: &Tensor, w: &Tensor| conv2d_relu(x, w, Some(&bias), stride, padding);
        let plain = |x: &Tensor, w: &Tensor| relu(&conv2d(x, w, Some(&bias), stride, padding)?);
        let what = format!("case {i}");
        assert_close(
            &fused(&xs, &weight).unwrap(),
            &plain(&xs, &weight).unwrap(),
            1e-6,
            &what,
        );
        for (name, f_fused, f_plain) in [
            (
                "input",
                Box::new(|x: &Tensor| fused(x, &weight)) as Box<dyn Fn(&Tensor) -> _>,
                Box::new(|x: &Tensor| plain(x, &weight)) as Box<dyn Fn(&Tensor) -> _>,
            ),
            (
                "weight",
                Box::new(|w: &Tensor| fused(&xs, w)),
                Box::new(|w: &Tensor| plain(&xs, w)),
            ),
        ] {
            let at = if name == "input" { &xs } else { &weight };
            assert_close(
                &autograd(&f_fused, at),
                &autograd(&f_plain, at),
                1e-5,
                &format!("{name} gradient, {what}"),
            );
        }
        // The bias gradient goes through the mask as well.
        let b_var = Var::from_tensor(&bias).unwrap();
        let ys = conv2d_relu(&xs, &weight, Some(&b_var), stride, padding).unwrap();
        let grads = ys.sum_all().unwrap().backward().unwrap();
        let active = ys
            .gt(0f64)
            .unwrap()
            .to_dtype(candle_core::DType::F32)
            .unwrap();
        let expected = active.sum((0, 2, 3)).unwrap();
        assert_close(
            grads.get(&b_var).unwrap(),
            &expected,
            1e-5,
            &format!("bias gradient, {what}"),
        );
    }
}
