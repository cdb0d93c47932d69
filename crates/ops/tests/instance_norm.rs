//! `instance_norm` against the composed formula (forward) and finite differences (backward).

mod common;

use candle_core::{Tensor, Var};
use common::{assert_close, autograd, finite_differences, random};
use faststyle_ops::{instance_norm, NormStats};

const SHAPES: [[usize; 4]; 3] = [[1, 2, 5, 6], [3, 3, 4, 7], [3, 1, 3, 3]];
const EPS: f64 = 1e-5;

/// Inputs with an offset and a spread per channel, as convolution outputs have.
fn inputs(dims: &[usize; 4], seed: u64) -> (Tensor, Tensor, Tensor) {
    let xs = ((random(dims, seed) * 3.0).unwrap() + 5.0).unwrap();
    let gamma = random(&[dims[1]], seed + 1);
    let beta = random(&[dims[1]], seed + 2);
    (xs, gamma, beta)
}

#[test]
fn forward_matches_the_formula_with_given_statistics() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let (xs, gamma, beta) = inputs(dims, i as u64);
        let fused = instance_norm(&xs, &gamma, &beta, EPS, None).unwrap();
        let stats = NormStats::of(&xs).unwrap();
        let composed = instance_norm(&xs, &gamma, &beta, EPS, Some(&stats)).unwrap();
        assert_close(&fused, &composed, 1e-5, &format!("{dims:?}"));
    }
}

#[test]
fn input_gradient_matches_finite_differences() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let (xs, gamma, beta) = inputs(dims, 10 + i as u64);
        let f = |x: &Tensor| instance_norm(x, &gamma, &beta, EPS, None);
        let what = format!("{dims:?}");
        assert_close(
            &autograd(f, &xs),
            &finite_differences(f, &xs, 1e-2),
            2e-3,
            &what,
        );
    }
}

#[test]
fn affine_gradients_match_finite_differences() {
    for (i, dims) in SHAPES.iter().enumerate() {
        let (xs, gamma, beta) = inputs(dims, 20 + i as u64);
        let f = |g: &Tensor| instance_norm(&xs, g, &beta, EPS, None);
        let what = format!("gamma, {dims:?}");
        assert_close(
            &autograd(f, &gamma),
            &finite_differences(f, &gamma, 1e-2),
            1e-3,
            &what,
        );
        let f = |b: &Tensor| instance_norm(&xs, &gamma, b, EPS, None);
        let what = format!("beta, {dims:?}");
        assert_close(
            &autograd(f, &beta),
            &finite_differences(f, &beta, 1e-2),
            1e-3,
            &what,
        );
    }
}

/// All three gradients from one pass agree with candle's autograd of the composed formula.
#[test]
fn gradients_match_the_composed_formula() {
    let (xs, gamma, beta) = inputs(&[3, 4, 6, 5], 30);
    let grads = |fused: bool| {
        let vars = [&xs, &gamma, &beta].map(|t| Var::from_tensor(t).unwrap());
        let [x, g, b] = &vars;
        let ys = if fused {
            instance_norm(x, g, b, EPS, None).unwrap()
        } else {
            let stats = NormStats::of(x).unwrap();
            instance_norm(x, g, b, EPS, Some(&stats)).unwrap()
        };
        let loss = (ys.sqr().unwrap() * random(&[3, 4, 6, 5], 31))
            .unwrap()
            .sum_all()
            .unwrap();
        let store = loss.backward().unwrap();
        vars.map(|v| store.get(&v).unwrap().clone())
    };
    let (fused, composed) = (grads(true), grads(false));
    for (name, (a, b)) in ["input", "gamma", "beta"]
        .iter()
        .zip(fused.iter().zip(&composed))
    {
        assert_close(a, b, 1e-4, name);
    }
}

#[test]
fn wrong_affine_shapes_are_errors() {
    let (xs, gamma, beta) = inputs(&[1, 2, 3, 3], 40);
    assert!(instance_norm(&xs, &random(&[3], 1), &beta, EPS, None).is_err());
    assert!(instance_norm(&xs, &gamma, &random(&[1], 1), EPS, None).is_err());
}
