//! Adam (Kingma & Ba 2015) on a flat vector of pixels, with the update of `torch.optim.Adam`
//! (no weight decay, no AMSGrad), as the alternative to L-BFGS for `faststyle optimize`.
//!
//! Pixels live in 0..255, so a useful learning rate is a few pixel values per step (PyTorch
//! Gatys implementations commonly use 1 to 10), not the 1e-3 of network training.

/// Settings of [`Adam`]; the defaults are PyTorch's except the learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// The largest step per pixel, in pixel values (0..255).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Added to `√v̂` so that pixels with no gradient do not divide by zero.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 10.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam's moment estimates for one vector.
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    /// First moment, `E[g]`.
    m: Vec<f32>,
    /// Second moment, `E[g²]`.
    v: Vec<f32>,
    steps: i32,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            m: Vec::new(),
            v: Vec::new(),
            steps: 0,
        }
    }

    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Moves `x` once, given the gradient `grad` of the objective at `x`.
    ///
    /// `x` and `grad` must have the same length on every call.
    pub fn step(&mut self, x: &mut [f32], grad: &[f32]) {
        assert_eq!(
            x.len(),
            grad.len(),
            "Adam: x and its gradient differ in length"
        );
        if self.m.len() != x.len() {
            self.m = vec![0.0; x.len()];
            self.v = vec![0.0; x.len()];
        }
        self.steps += 1;
        let c = &self.config;
        let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
        // The bias corrections undo the zero initialisation of the moments.
        let correction1 = 1.0 - c.beta1.powi(self.steps);
        let correction2_sqrt = (1.0 - c.beta2.powi(self.steps)).sqrt();
        let step_size = (c.lr / correction1) as f32;
        let (inv_c2, eps) = ((1.0 / correction2_sqrt) as f32, c.eps as f32);
        for (((xi, &g), m), v) in x.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *xi -= step_size * *m / (v.sqrt() * inv_c2 + eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_coordinate_by_lr() {
        // After one step m̂ = g and v̂ = g², so every coordinate moves by lr against its sign.
        let mut x = vec![0.0f32, 0.0, 0.0];
        let mut opt = Adam::new(AdamConfig {
            lr: 2.0,
            ..Default::default()
        });
        opt.step(&mut x, &[3.0, -0.01, 100.0]);
        for (got, want) in x.iter().zip([-2.0f32, 2.0, -2.0]) {
            assert!((got - want).abs() < 1e-4, "{x:?}");
        }
    }

    #[test]
    fn follows_torch_adam() {
        // torch.optim.Adam([x], lr=0.1) on f = sum(x²) from x = (1, -2), 3 steps (torch 1.13):
        // x = torch.tensor([1.0, -2.0], requires_grad=True); each step: zero_grad, backward, step.
        let mut x = vec![1.0f32, -2.0];
        let mut opt = Adam::new(AdamConfig {
            lr: 0.1,
            ..Default::default()
        });
        for _ in 0..3 {
            let g: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
            opt.step(&mut x, &g);
        }
        for (got, want) in x.iter().zip(TORCH_ADAM_3_STEPS) {
            assert!((got - want).abs() < 1e-5, "{x:?} vs {TORCH_ADAM_3_STEPS:?}");
        }
    }

    const TORCH_ADAM_3_STEPS: [f32; 2] = [0.701_586_3, -1.700_623_4];

    #[test]
    fn converges_on_a_quadratic() {
        let mut x = vec![5.0f32, -3.0, 0.5];
        let mut opt = Adam::new(AdamConfig {
            lr: 0.05,
            ..Default::default()
        });
        for _ in 0..2000 {
            let g: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
            opt.step(&mut x, &g);
        }
        assert!(x.iter().all(|v| v.abs() < 1e-2), "{x:?}");
    }
}
