//! Helpers shared by the op tests: seeded random tensors, gradients by autograd and by central
//! finite differences, and a tolerance check that names the worst element.
#![allow(dead_code, unused_imports)]

use candle_core::{DType, Device, Result, Tensor, Var};

/// A small linear congruential generator, so tests are reproducible without a `rand` dependency.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(
            seed.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        )
    }

    /// Uniform in `[-1, 1)`.
    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Uniform values in `[-1, 1)`.
pub fn random(dims: &[usize], seed: u64) -> Tensor {
    let mut rng = Lcg::new(seed);
    let n: usize = dims.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.next()).collect();
    Tensor::from_vec(values, dims, &Device::Cpu).unwrap()
}

/// Distinct values at least `0.01` apart, shuffled: no two are within a finite-difference step,
/// so maxima do not change under the perturbation.
pub fn distinct(dims: &[usize], seed: u64) -> Tensor {
    let mut rng = Lcg::new(seed);
    let n: usize = dims.iter().product();
    let mut values: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - n as f32 * 0.005).collect();
    for i in (1..n).rev() {
        let j = ((rng.next() + 1.0) * 0.5 * (i + 1) as f32) as usize % (i + 1);
        values.swap(i, j);
    }
    Tensor::from_vec(values, dims, &Device::Cpu).unwrap()
}

/// `sum(f(x) * weights)` in `f64`, with fixed random `weights`: a scalar whose gradient
/// exercises every output element with a different weight.
fn weighted_sum(ys: &Tensor, seed: u64) -> Result<Tensor> {
    let weights = random(ys.dims(), seed).to_dtype(DType::F64)?;
    (ys.to_dtype(DType::F64)? * weights)?.sum_all()
}

/// The gradient of `sum(f(xs) * weights)` by autograd, `xs` made a variable.
pub fn autograd(f: impl Fn(&Tensor) -> Result<Tensor>, xs: &Tensor) -> Tensor {
    let var = Var::from_tensor(xs).unwrap();
    let loss = weighted_sum(&f(var.as_tensor()).unwrap(), 99).unwrap();
    let grads = loss.backward().unwrap();
    grads
        .get(var.as_tensor())
        .expect("no gradient for the input")
        .clone()
}

/// The same gradient by central differences with step `eps`, one element at a time.
pub fn finite_differences(f: impl Fn(&Tensor) -> Result<Tensor>, xs: &Tensor, eps: f32) -> Tensor {
    let dims = xs.dims().to_vec();
    let mut values = xs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut grad = Vec::with_capacity(values.len());
    let loss_at = |values: &[f32]| -> f64 {
        let x = Tensor::from_slice(values, dims.as_slice(), &Device::Cpu).unwrap();
        weighted_sum(&f(&x).unwrap(), 99)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    for i in 0..values.len() {
        let v = values[i];
        values[i] = v + eps;
        let up = loss_at(&values);
        values[i] = v - eps;
        let down = loss_at(&values);
        values[i] = v;
        grad.push(((up - down) / (2.0 * eps as f64)) as f32);
    }
    Tensor::from_vec(grad, dims, &Device::Cpu).unwrap()
}

/// Asserts `|actual - expected| <= tol * max(1, max |expected|)` everywhere.
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32, what: &str) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shapes differ");
    let a = actual.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let e = expected.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = e.iter().fold(1f32, |m, v| m.max(v.abs()));
    let (worst, diff) = a
        .iter()
        .zip(&e)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold(
            (0, 0f32),
            |best, (i, d)| if d > best.1 { (i, d) } else { best },
        );
    assert!(
        diff <= tol * scale,
        "{what}: element {worst} is {} instead of {} (difference {diff}, allowed {})",
        a[worst],
        e[worst],
        tol * scale
    );
}

pub use faststyle_testkit::max_difference;
