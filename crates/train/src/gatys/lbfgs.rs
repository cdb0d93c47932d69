//! L-BFGS on a flat vector of pixels, with the semantics of `torch.optim.LBFGS` without a line
//! search (Nocedal 1980; Liu & Nocedal 1989), so that our iteration counts and losses compare
//! one to one with the PyTorch implementations of Gatys et al.
//!
//! One [`Lbfgs::step`] is one PyTorch `step()` with `max_iter=1`: the caller evaluates the loss
//! gradient at `x`, and the step moves `x` once. With `max_iter=1` PyTorch's change tolerances
//! are never reached, so the only ways to stop are a vanishing gradient or a direction that no
//! longer descends; both are reported instead of silently doing nothing.
//!
//! - First step: steepest descent, scaled by `min(1, 1/|g|₁)·lr`, as PyTorch does, because
//!   nothing is known yet about the curvature.
//! - Later steps: the two-loop recursion over the last `history_size` pairs
//!   `(s, y) = (x₊ - x, g₊ - g)`, with the initial inverse Hessian `H₀ = sᵀy / yᵀy · I` from the
//!   newest pair, and a fixed step `lr`.
//! - A pair with `sᵀy <= 1e-10` is dropped: without positive curvature the update would lose
//!   positive definiteness.
//!
//! Vectors are `f32` (an image's worth of pixels times `2·history_size`, so memory matters);
//! dot products accumulate in `f64`, because at 512x512 they sum 786,432 terms.

use std::collections::VecDeque;

/// Settings of [`Lbfgs`]; the defaults are PyTorch's, with `history_size` as Gatys-style
/// implementations use it (PyTorch's default is also 100).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// The step length along the L-BFGS direction (PyTorch's `lr`).
    pub lr: f64,
    /// How many `(s, y)` pairs approximate the inverse Hessian.
    pub history_size: usize,
    /// Stop when no gradient entry is larger than this in absolute value.
    pub tolerance_grad: f64,
    /// Stop when the directional derivative `gᵀd` is above `-tolerance_change`.
    pub tolerance_change: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            history_size: 100,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// `x` moved.
    Moved,
    /// The gradient is zero to within `tolerance_grad`: `x` is a stationary point, left as is.
    GradientVanished,
    /// The L-BFGS direction does not descend (`gᵀd > -tolerance_change`): `x` is left as is.
    NoDescent,
}

/// The L-BFGS state: curvature pairs, the last step and the last gradient.
#[derive(Debug, Clone)]
pub struct Lbfgs {
    config: LbfgsConfig,
    /// Steps `s = x₊ - x`, oldest first.
    steps: VecDeque<Vec<f32>>,
    /// Gradient changes `y = g₊ - g`, paired with `steps`.
    grad_changes: VecDeque<Vec<f32>>,
    /// `1 / yᵀs` per pair.
    rho: VecDeque<f64>,
    /// The scale of the initial inverse Hessian, `sᵀy / yᵀy` of the newest accepted pair.
    h_diag: f64,
    /// The gradient at the point the last step started from.
    prev_grad: Vec<f32>,
    /// The last step taken, `t·d`.
    last_step: Vec<f32>,
    /// Steps taken so far (PyTorch's `n_iter`).
    iterations: usize,
}

impl Lbfgs {
    pub fn new(config: LbfgsConfig) -> Self {
        Self {
            config,
            steps: VecDeque::new(),
            grad_changes: VecDeque::new(),
            rho: VecDeque::new(),
            h_diag: 1.0,
            prev_grad: Vec::new(),
            last_step: Vec::new(),
            iterations: 0,
        }
    }

    pub fn config(&self) -> &LbfgsConfig {
        &self.config
    }

    /// Curvature pairs currently held (at most `history_size`).
    pub fn history_len(&self) -> usize {
        self.steps.len()
    }

    /// Moves `x` once, given the gradient `grad` of the objective at `x`.
    ///
    /// `x` and `grad` must have the same length on every call.
    pub fn step(&mut self, x: &mut [f32], grad: &[f32]) -> StepOutcome {
        assert_eq!(
            x.len(),
            grad.len(),
            "L-BFGS: x and its gradient differ in length"
        );
        let max_abs = grad.iter().fold(0f32, |m, g| m.max(g.abs()));
        if f64::from(max_abs) <= self.config.tolerance_grad {
            return StepOutcome::GradientVanished;
        }
        self.iterations += 1;
        let mut direction = if self.iterations == 1 {
            self.h_diag = 1.0;
            grad.iter().map(|g| -g).collect()
        } else {
            self.update_history(grad);
            self.two_loop(grad)
        };
        self.prev_grad.clear();
        self.prev_grad.extend_from_slice(grad);

        // Without a curvature pair the direction is the bare gradient, whose scale says nothing
        // about a good step: the first iteration's rule (as torch.optim.LBFGS) bounds it. Torch
        // applies it to the first iteration only, and when the first pair is refused (its
        // curvature yᵀs not positive, which happens: that first step is tiny, so y is mostly
        // f32 rounding noise) takes the bare gradient with step 1, pixels then land at
        // ±1e5 and the loss at 1e15. Keeping the bounded step until a pair is held avoids that,
        // and leaves every run whose first pair is accepted exactly as torch's.
        let t = if self.steps.is_empty() {
            let l1: f64 = grad.iter().map(|g| f64::from(g.abs())).sum();
            (1.0 / l1).min(1.0) * self.config.lr
        } else {
            self.config.lr
        };
        let slope = dot(grad, &direction);
        if slope > -self.config.tolerance_change {
            return StepOutcome::NoDescent;
        }
        for (d, xi) in direction.iter_mut().zip(x.iter_mut()) {
            *d *= t as f32;
            *xi += *d;
        }
        self.last_step = direction;
        StepOutcome::Moved
    }

    /// Adds the pair from the last step, unless its curvature `yᵀs` is not positive.
    fn update_history(&mut self, grad: &[f32]) {
        let y: Vec<f32> = grad
            .iter()
            .zip(&self.prev_grad)
            .map(|(g, p)| g - p)
            .collect();
        let s = std::mem::take(&mut self.last_step);
        let ys = dot(&y, &s);
        if ys <= 1e-10 {
            return;
        }
        self.h_diag = ys / dot(&y, &y);
        self.rho.push_back(1.0 / ys);
        self.steps.push_back(s);
        self.grad_changes.push_back(y);
        while self.steps.len() > self.config.history_size {
            self.steps.pop_front();
            self.grad_changes.pop_front();
            self.rho.pop_front();
        }
    }

    /// `-H·grad` by the two-loop recursion, `H` the L-BFGS inverse Hessian.
    fn two_loop(&self, grad: &[f32]) -> Vec<f32> {
        let mut q: Vec<f32> = grad.iter().map(|g| -g).collect();
        let pairs = || self.steps.iter().zip(&self.grad_changes).zip(&self.rho);
        // Newest pair first; the alphas come out newest first too.
        let mut alphas = Vec::with_capacity(self.steps.len());
        for ((s, y), rho) in pairs().rev() {
            let alpha = dot(s, &q) * rho;
            axpy(-alpha, y, &mut q);
            alphas.push(alpha);
        }
        let h = self.h_diag as f32;
        q.iter_mut().for_each(|v| *v *= h);
        for (((s, y), rho), alpha) in pairs().zip(alphas.iter().rev()) {
            let beta = dot(y, &q) * rho;
            axpy(alpha - beta, s, &mut q);
        }
        q
    }
}

/// `aᵀb`, summed in `f32` lanes within blocks (so it vectorises) and in `f64` across them.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 8;
    let mut total = 0f64;
    for (ca, cb) in a.chunks(1024).zip(b.chunks(1024)) {
        let mut lanes = [0f32; LANES];
        let (mut ia, mut ib) = (ca.chunks_exact(LANES), cb.chunks_exact(LANES));
        for (xa, xb) in (&mut ia).zip(&mut ib) {
            for ((lane, a), b) in lanes.iter_mut().zip(xa).zip(xb) {
                *lane += a * b;
            }
        }
        let mut block: f64 = lanes.iter().map(|&v| f64::from(v)).sum();
        for (x, y) in ia.remainder().iter().zip(ib.remainder()) {
            block += f64::from(*x) * f64::from(*y);
        }
        total += block;
    }
    total
}

/// `y += a·x`.
fn axpy(a: f64, x: &[f32], y: &mut [f32]) {
    let a = a as f32;
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rosenbrock function in 4 dimensions and its gradient.
    fn rosenbrock(x: &[f32]) -> (f64, Vec<f32>) {
        let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let mut f = 0.0;
        let mut g = vec![0.0; x.len()];
        for i in 0..x.len() - 1 {
            let (a, b) = (1.0 - x[i], x[i + 1] - x[i] * x[i]);
            f += a * a + 100.0 * b * b;
            g[i] += -2.0 * a - 400.0 * b * x[i];
            g[i + 1] += 200.0 * b;
        }
        (f, g.into_iter().map(|v| v as f32).collect())
    }

    /// The iterates of `torch.optim.LBFGS(lr=1, max_iter=1, history_size=100)` (torch 1.13,
    /// float64) on 4-d Rosenbrock from (-1.2, 1, -0.5, 0.8), one `step()` per iteration:
    /// ```python
    /// x = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64, requires_grad=True)
    /// opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=100)
    /// for it in range(n): opt.step(closure)  # closure: zero_grad, rosen(x), backward
    /// ```
    const TORCH_ROSENBROCK: [(usize, f64, [f64; 4]); 4] = [
        (
            1,
            96.3152607659127,
            [
                -0.9908014748690083,
                0.5032020182418009,
                -0.3127304482825538,
                0.6932660586066369,
            ],
        ),
        (
            2,
            42.74188560806815,
            [
                -0.7053802591145524,
                0.3981912567673166,
                -0.22806242650570957,
                0.5213567977035112,
            ],
        ),
        (
            3,
            10.284618441504364,
            [
                -0.5363271304732198,
                0.24210353432538725,
                -0.09389018773756894,
                0.19908200509859897,
            ],
        ),
        (
            5,
            3.6727983507721977,
            [
                -0.4484974032139015,
                0.20149187085709355,
                0.04430369363406356,
                0.016895591162471947,
            ],
        ),
    ];

    #[test]
    fn follows_torch_lbfgs_on_rosenbrock() {
        let mut x = vec![-1.2f32, 1.0, -0.5, 0.8];
        let mut opt = Lbfgs::new(LbfgsConfig::default());
        let mut checked = 0;
        for it in 1..=5 {
            let (_, g) = rosenbrock(&x);
            assert_eq!(opt.step(&mut x, &g), StepOutcome::Moved);
            if let Some((_, loss, want)) = TORCH_ROSENBROCK.iter().find(|r| r.0 == it) {
                let (f, _) = rosenbrock(&x);
                assert!(
                    (f - loss).abs() <= 1e-4 * loss,
                    "iteration {it}: loss {f} vs {loss}"
                );
                for (a, b) in x.iter().zip(want) {
                    assert!(
                        (f64::from(*a) - b).abs() < 1e-4,
                        "iteration {it}: {x:?} vs {want:?}"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, TORCH_ROSENBROCK.len());
    }

    #[test]
    fn converges_on_rosenbrock() {
        // torch reaches 6.5e-11 (float64) after 100 iterations; float32 gradients stall higher.
        let mut x = vec![-1.2f32, 1.0, -0.5, 0.8];
        let mut opt = Lbfgs::new(LbfgsConfig::default());
        for _ in 0..200 {
            let (_, g) = rosenbrock(&x);
            if opt.step(&mut x, &g) != StepOutcome::Moved {
                break;
            }
        }
        let (f, _) = rosenbrock(&x);
        assert!(f < 1e-6, "loss {f} at {x:?}");
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-2), "{x:?}");
    }

    #[test]
    fn first_step_is_scaled_steepest_descent() {
        // |g|₁ = 4 > 1: the step is -g / 4.
        let mut x = vec![0.0f32, 0.0];
        let g = [3.0f32, -1.0];
        let mut opt = Lbfgs::new(LbfgsConfig {
            lr: 0.5,
            ..Default::default()
        });
        assert_eq!(opt.step(&mut x, &g), StepOutcome::Moved);
        assert_eq!(x, vec![-3.0 * 0.5 / 4.0, 1.0 * 0.5 / 4.0]);
    }

    #[test]
    fn second_step_uses_the_scaled_secant_pair() {
        // f = x₀² + 2x₁². With one pair (s, y), the two-loop recursion must equal the closed
        // form H = (I - ρ s yᵀ) H₀ (I - ρ y sᵀ) + ρ s sᵀ, H₀ = sᵀy / yᵀy, ρ = 1 / yᵀs.
        let grad = |x: &[f32]| vec![2.0 * x[0], 4.0 * x[1]];
        let mut x = vec![1.0f32, 1.0];
        let mut opt = Lbfgs::new(LbfgsConfig::default());
        let g0 = grad(&x);
        opt.step(&mut x, &g0);
        let x1 = x.clone();
        let g1 = grad(&x);
        let s = [f64::from(x1[0] - 1.0), f64::from(x1[1] - 1.0)];
        let y = [f64::from(g1[0] - g0[0]), f64::from(g1[1] - g0[1])];
        let ys = s[0] * y[0] + s[1] * y[1];
        let (rho, h0) = (1.0 / ys, ys / (y[0] * y[0] + y[1] * y[1]));
        let g = [f64::from(g1[0]), f64::from(g1[1])];
        // v = (I - ρ y sᵀ) g; u = H₀ v; Hg = (I - ρ s yᵀ) u + ρ s (sᵀg)
        let sg = s[0] * g[0] + s[1] * g[1];
        let v = [g[0] - rho * y[0] * sg, g[1] - rho * y[1] * sg];
        let u = [h0 * v[0], h0 * v[1]];
        let yu = y[0] * u[0] + y[1] * u[1];
        let hg = [
            u[0] - rho * s[0] * yu + rho * s[0] * sg,
            u[1] - rho * s[1] * yu + rho * s[1] * sg,
        ];
        opt.step(&mut x, &g1);
        for i in 0..2 {
            let want = f64::from(x1[i]) - hg[i];
            assert!((f64::from(x[i]) - want).abs() < 1e-5, "{x:?} vs {hg:?}");
        }
        assert_eq!(opt.history_len(), 1);
    }

    #[test]
    fn drops_pairs_without_positive_curvature() {
        // A linear function: y = 0, so no pair is kept, and without one every step keeps the
        // first iteration's bound, lr·g/|g|₁ (not torch's bare -lr·g, which on images jumps
        // to pixels of ±1e5).
        let g = [1.0f32, 2.0];
        let mut x = vec![0.0f32, 0.0];
        let mut opt = Lbfgs::new(LbfgsConfig::default());
        opt.step(&mut x, &g);
        let x1 = x.clone();
        assert_eq!(x1, vec![-1.0 / 3.0, -2.0 / 3.0]);
        opt.step(&mut x, &g);
        assert_eq!(opt.history_len(), 0);
        assert_eq!(x, vec![x1[0] - 1.0 / 3.0, x1[1] - 2.0 / 3.0]);
    }

    #[test]
    fn keeps_at_most_history_size_pairs() {
        let config = LbfgsConfig {
            history_size: 3,
            ..Default::default()
        };
        let mut opt = Lbfgs::new(config);
        let mut x = vec![-1.2f32, 1.0, -0.5, 0.8];
        for _ in 0..20 {
            let (_, g) = rosenbrock(&x);
            opt.step(&mut x, &g);
            assert!(opt.history_len() <= 3);
        }
        assert_eq!(opt.history_len(), 3);
    }

    #[test]
    fn stops_at_a_stationary_point() {
        let mut x = vec![1.0f32, 1.0, 1.0, 1.0];
        let (_, g) = rosenbrock(&x);
        let mut opt = Lbfgs::new(LbfgsConfig::default());
        assert_eq!(opt.step(&mut x, &g), StepOutcome::GradientVanished);
        assert_eq!(x, vec![1.0; 4]);
    }

    #[test]
    fn dot_sums_long_vectors_accurately() {
        let a: Vec<f32> = (0..786_433).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect();
        let want: f64 = a.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let got = dot(&a, &a);
        assert!((got - want).abs() < 1e-5 * want, "{got} vs {want}");
    }
}
