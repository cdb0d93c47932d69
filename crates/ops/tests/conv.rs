//! `conv2d` against candle's convolution (forward) and finite differences (backward), on odd and
//! even, square and non-square sizes, batches of 1 and 3, strides 1 and 2.

mod common;

use candle_core::{Tensor, Var};
use common::{assert_close, autograd, finite_differences, max_difference, random};
use faststyle_ops::conv2d;

/// Shape of one test convolution.
#[derive(Debug, Clone, Copy)]
struct Shape {
    batch: usize,
    c_in: usize,
    hw: (usize, usize),
    c_out: usize,
    k: usize,
    stride: usize,
    padding: usize,
}

const fn shape(batch: usize, c_in: usize, hw: (usize, usize), c_out: usize, k: usize) -> Shape {
    Shape {
        batch,
        c_in,
        hw,
        c_out,
        k,
        stride: 1,
        padding: 0,
    }
}

/// Stride 1 with at least 32 taps per kernel row (`c_in k`) takes kernel rows as shifted
/// views, with fewer than 16 output channels stacked; the rest unfold whole patches. With 16
/// or more input channels, stride 1's input gradient is itself a forward convolution (the last
/// two shapes, with zero padding `k - 1 - p` of 1 and of 4).
const SHAPES: [Shape; 10] = [
    Shape {
        padding: 1,
        ..shape(1, 3, (7, 6), 4, 3)
    },
    Shape {
        padding: 1,
        ..shape(3, 11, (6, 5), 3, 3)
    },
    Shape {
        padding: 2,
        ..shape(1, 7, (5, 8), 17, 5)
    },
    Shape {
        stride: 2,
        padding: 1,
        ..shape(3, 2, (8, 7), 5, 3)
    },
    Shape {
        padding: 4,
        ..shape(1, 3, (9, 10), 2, 9)
    },
    shape(3, 4, (6, 5), 3, 1),
    Shape {
        stride: 2,
        ..shape(1, 3, (11, 8), 4, 5)
    },
    Shape {
        stride: 2,
        ..shape(3, 2, (5, 9), 3, 3)
    },
    Shape {
        padding: 1,
        ..shape(3, 16, (6, 7), 5, 3)
    },
    Shape {
        padding: 4,
        ..shape(2, 17, (5, 9), 3, 5)
    },
];

struct Case {
    name: String,
    xs: Tensor,
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    padding: usize,
}

fn cases() -> impl Iterator<Item = Case> {
    SHAPES.iter().enumerate().map(|(i, s)| {
        let seed = 10 * i as u64;
        Case {
            name: format!("{s:?}"),
            xs: random(&[s.batch, s.c_in, s.hw.0, s.hw.1], seed),
            weight: random(&[s.c_out, s.c_in, s.k, s.k], seed + 1),
            bias: random(&[s.c_out], seed + 2),
            stride: s.stride,
            padding: s.padding,
        }
    })
}

#[test]
fn forward_matches_candle() {
    for c in cases() {
        let ours = conv2d(&c.xs, &c.weight, Some(&c.bias), c.stride, c.padding).unwrap();
        let theirs =
            c.xs.conv2d(&c.weight, c.padding, c.stride, 1, 1)
                .unwrap()
                .broadcast_add(&c.bias.reshape((1, (), 1, 1)).unwrap())
                .unwrap();
        assert_close(&ours, &theirs, 1e-5, &c.name);
        let no_bias = conv2d(&c.xs, &c.weight, None, c.stride, c.padding).unwrap();
        let theirs = c.xs.conv2d(&c.weight, c.padding, c.stride, 1, 1).unwrap();
        assert_close(&no_bias, &theirs, 1e-5, &format!("{} without bias", c.name));
    }
}

#[test]
fn input_gradient_matches_finite_differences() {
    for c in cases() {
        let f = |xs: &Tensor| conv2d(xs, &c.weight, Some(&c.bias), c.stride, c.padding);
        let what = format!("input gradient, {}", c.name);
        assert_close(
            &autograd(f, &c.xs),
            &finite_differences(f, &c.xs, 1e-2),
            1e-3,
            &what,
        );
    }
}

#[test]
fn weight_gradient_matches_finite_differences() {
    for c in cases() {
        let f = |w: &Tensor| conv2d(&c.xs, w, Some(&c.bias), c.stride, c.padding);
        let what = format!("weight gradient, {}", c.name);
        assert_close(
            &autograd(f, &c.weight),
            &finite_differences(f, &c.weight, 1e-2),
            1e-3,
            &what,
        );
    }
}

#[test]
fn bias_gradient_matches_finite_differences() {
    for c in cases() {
        let f = |b: &Tensor| conv2d(&c.xs, &c.weight, Some(b), c.stride, c.padding);
        let what = format!("bias gradient, {}", c.name);
        assert_close(
            &autograd(f, &c.bias),
            &finite_differences(f, &c.bias, 1e-2),
            1e-3,
            &what,
        );
    }
}

/// All three gradients from one backward pass, with input and weight both variables.
#[test]
fn all_gradients_from_one_pass() {
    let c = cases().nth(1).unwrap();
    let (xs, w) = (
        Var::from_tensor(&c.xs).unwrap(),
        Var::from_tensor(&c.weight).unwrap(),
    );
    let ys = conv2d(&xs, &w, Some(&c.bias), c.stride, c.padding).unwrap();
    let grads = ys.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    let f_x = |x: &Tensor| conv2d(x, &c.weight, Some(&c.bias), c.stride, c.padding);
    let f_w = |w: &Tensor| conv2d(&c.xs, w, Some(&c.bias), c.stride, c.padding);
    let dx_alone = conv_sqr_grad(f_x, &c.xs);
    let dw_alone = conv_sqr_grad(f_w, &c.weight);
    assert_close(grads.get(&xs).unwrap(), &dx_alone, 1e-5, "input gradient");
    assert_close(grads.get(&w).unwrap(), &dw_alone, 1e-5, "weight gradient");
}

fn conv_sqr_grad(f: impl Fn(&Tensor) -> candle_core::Result<Tensor>, x: &Tensor) -> Tensor {
    let var = Var::from_tensor(x).unwrap();
    let grads = f(&var)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    grads.get(&var).unwrap().clone()
}

/// Regression: candle 0.11 rebuilds a stride-2 convolution's input size from its output size,
/// so its backward fails (or returns the wrong shape) when height and width differ in parity.
#[test]
fn stride2_gradient_on_odd_by_even_input() {
    let xs = random(&[1, 2, 7, 8], 5);
    let weight = random(&[3, 2, 3, 3], 6);
    let ours = |x: &Tensor| conv2d(x, &weight, None, 2, 1);
    let expected = finite_differences(ours, &xs, 1e-2);
    assert_close(
        &autograd(ours, &xs),
        &expected,
        1e-3,
        "our stride-2 input gradient",
    );

    let var = Var::from_tensor(&xs).unwrap();
    let candle_grad = var
        .conv2d(&weight, 1, 2, 1, 1)
        .and_then(|ys| ys.sqr()?.sum_all()?.backward())
        .map(|grads| grads.get(&var).cloned());
    let candle_is_right = matches!(
        candle_grad,
        Ok(Some(ref g)) if g.dims() == xs.dims() && max_difference(g, &expected) < 1e-3
    );
    assert!(
        !candle_is_right,
        "candle's stride-2 gradient is right now: drop this workaround?"
    );
}

/// Our forward and both gradients against candle's, on a shape candle handles correctly.
fn check_against_candle(dims: &[usize], c_out: usize, k: usize, stride: usize, padding: usize) {
    let xs = random(dims, 7);
    let weight = random(&[c_out, dims[1], k, k], 8);
    let ours = |x: &Tensor, w: &Tensor| conv2d(x, w, None, stride, padding);
    let theirs = |x: &Tensor, w: &Tensor| x.conv2d(w, padding, stride, 1, 1);
    let what = format!("{dims:?}, {k}x{k} stride {stride}");
    assert_close(
        &ours(&xs, &weight).unwrap(),
        &theirs(&xs, &weight).unwrap(),
        1e-5,
        &what,
    );
    let dx_ours = autograd(|x| ours(x, &weight), &xs);
    let dx_theirs = autograd(|x| theirs(x, &weight), &xs);
    assert_close(
        &dx_ours,
        &dx_theirs,
        1e-5,
        &format!("input gradient, {what}"),
    );
    let dw_ours = autograd(|w| ours(&xs, w), &weight);
    let dw_theirs = autograd(|w| theirs(&xs, w), &weight);
    assert_close(
        &dw_ours,
        &dw_theirs,
        1e-4,
        &format!("weight gradient, {what}"),
    );
}

/// The transformer's shapes of kernel, stride and padding, on images a few times larger than
/// the finite-difference cases, and with enough output channels for the unstacked forward path
/// (the unit tests of the kernels check banding itself).
#[test]
fn network_shapes_match_candle() {
    check_against_candle(&[1, 3, 41, 36], 8, 9, 1, 0);
    check_against_candle(&[2, 16, 30, 28], 6, 3, 2, 0);
    check_against_candle(&[1, 8, 26, 31], 3, 9, 1, 4);
    check_against_candle(&[2, 12, 12, 9], 17, 3, 1, 1);
}

#[test]
fn mismatched_shapes_are_errors() {
    let xs = random(&[1, 3, 5, 5], 1);
    assert!(conv2d(&xs, &random(&[2, 4, 3, 3], 2), None, 1, 0).is_err());
    assert!(conv2d(&xs, &random(&[2, 3, 7, 7], 2), None, 1, 0).is_err());
    assert!(conv2d(&xs, &random(&[2, 3, 3, 3], 2), None, 0, 0).is_err());
    assert!(conv2d(&xs, &random(&[2, 3, 3, 3], 2), Some(&random(&[3], 3)), 1, 0).is_err());
}

/// The stand-alone gradients agree between our kernels (f32) and candle's autograd, which
/// computes them for other dtypes and devices (f64 here), on a Winograd shape and a 9x9 one.
#[test]
fn standalone_gradients_match_the_candle_fallback() {
    use candle_core::DType;
    use faststyle_ops::{conv2d_input_grad, conv2d_weight_grad};
    for (c_in, c_out, k, padding) in [(16, 16, 3, 1), (3, 8, 9, 4)] {
        let xs = random(&[2, c_in, 10, 12], 1);
        let weight = random(&[c_out, c_in, k, k], 2);
        let grad = random(
            &[2, c_out, 10 + 2 * padding - k + 1, 12 + 2 * padding - k + 1],
            3,
        );
        let f64_of = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
        let ours = conv2d_input_grad(&grad, &weight, (10, 12), 1, padding).unwrap();
        let theirs =
            conv2d_input_grad(&f64_of(&grad), &f64_of(&weight), (10, 12), 1, padding).unwrap();
        assert_eq!(theirs.dtype(), DType::F64);
        let theirs = theirs.to_dtype(DType::F32).unwrap();
        assert_close(&ours, &theirs, 1e-4, &format!("input grad, {k}x{k}"));
        let ours = conv2d_weight_grad(&xs, &grad, (k, k), 1, padding).unwrap();
        let theirs = conv2d_weight_grad(&f64_of(&xs), &f64_of(&grad), (k, k), 1, padding)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        assert_close(&ours, &theirs, 1e-4, &format!("weight grad, {k}x{k}"));
    }
}
