//! Adam (Kingma and Ba 2015), as PyTorch's `torch.optim.Adam` computes it: one update rule on
//! flat `f32` slices ([`adam_update`]), used by the trainer on the network's variables
//! ([`Adam`], moments saved and restored exactly) and by the slow method on an image's pixels
//! ([`VectorAdam`]).
//!
//! For each parameter `p` with gradient `g`, at step `t` (from 1):
//! ```text
//! m = β1·m + (1−β1)·g
//! v = β2·v + (1−β2)·g²
//! p = p − (lr / (1−β1^t)) · m / (sqrt(v) / sqrt(1−β2^t) + ε)
//! ```
//! PyTorch's defaults: β1 = 0.9, β2 = 0.999, ε = 1e-8; no weight decay, no AMSGrad.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// The hyper-parameters; the defaults are PyTorch's (lr 1e-3 suits network weights; pixels in
/// 0..255 want a few pixel values per step, `faststyle optimize` uses 10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Added to `√v̂` so that coordinates with no gradient do not divide by zero.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Step `t` (from 1) of Adam on `x` with gradient `grad` and moments `m`, `v`, all of one length.
pub fn adam_update(
    config: &AdamConfig,
    t: u64,
    x: &mut [f32],
    grad: &[f32],
    (m, v): (&mut [f32], &mut [f32]),
) {
    assert!(
        x.len() == grad.len() && x.len() == m.len() && x.len() == v.len(),
        "Adam: the values, gradient and moments differ in length"
    );
    let t = i32::try_from(t).unwrap_or(i32::MAX);
    let (b1, b2) = (config.beta1 as f32, config.beta2 as f32);
    // `1 - β` in f64, as PyTorch takes it from Python floats: in f32, 1 - 0.999 is off by 1e-5.
    let (c1, c2) = ((1.0 - config.beta1) as f32, (1.0 - config.beta2) as f32);
    // The bias corrections undo the zero initialisation of the moments.
    let step_size = (config.lr / (1.0 - config.beta1.powi(t))) as f32;
    let inv_c2 = (1.0 / (1.0 - config.beta2.powi(t)).sqrt()) as f32;
    let eps = config.eps as f32;
    for (((xi, &g), m), v) in x.iter_mut().zip(grad).zip(m).zip(v) {
        *m = b1 * *m + c1 * g;
        *v = b2 * *v + c2 * g * g;
        *xi -= step_size * *m / (v.sqrt() * inv_c2 + eps);
    }
}

/// Adam on one flat vector (the pixels of the slow method), its moments sized on first use.
#[derive(Debug, Clone)]
pub struct VectorAdam {
    config: AdamConfig,
    m: Vec<f32>,
    v: Vec<f32>,
    steps: u64,
}

impl VectorAdam {
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

    /// Moves `x` once, given the gradient `grad` of the objective at `x`; `x` must keep its
    /// length from call to call.
    pub fn step(&mut self, x: &mut [f32], grad: &[f32]) {
        if self.m.len() != x.len() {
            self.m = vec![0.0; x.len()];
            self.v = vec![0.0; x.len()];
        }
        self.steps += 1;
        adam_update(
            &self.config,
            self.steps,
            x,
            grad,
            (&mut self.m, &mut self.v),
        );
    }
}

/// One parameter and its moments.
struct Slot {
    name: String,
    var: Var,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The optimizer over a fixed, named set of variables.
pub struct Adam {
    slots: Vec<Slot>,
    config: AdamConfig,
    /// Number of steps taken, the `t` of the bias corrections.
    t: u64,
}

impl Adam {
    /// An optimizer for `vars` with zero moments. Names key the saved moments.
    pub fn new(mut vars: Vec<(String, Var)>, config: AdamConfig) -> Result<Self> {
        // A stable order makes the update independent of the caller's (hash map) order.
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let n = var.elem_count();
                Slot {
                    name,
                    var,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Ok(Self {
            slots,
            config,
            t: 0,
        })
    }

    pub fn config(&self) -> AdamConfig {
        self.config
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Updates every variable that has a gradient in `grads`; like PyTorch, a variable
    /// without one keeps its value and its moments.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.t += 1;
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let grad = g
                .flatten_all()?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1::<f32>()?;
            let value = slot.var.as_tensor();
            let mut x = value
                .flatten_all()?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1::<f32>()?;
            adam_update(
                &self.config,
                self.t,
                &mut x,
                &grad,
                (&mut slot.m, &mut slot.v),
            );
            let updated =
                Tensor::from_vec(x, value.shape(), value.device())?.to_dtype(value.dtype())?;
            slot.var.set(&updated)?;
        }
        Ok(())
    }

    /// The moments by name: `m.<name>` and `v.<name>` for each variable.
    pub fn moments(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::with_capacity(2 * self.slots.len());
        for slot in &self.slots {
            let tensor = |data: &[f32]| {
                Tensor::from_slice(data, slot.var.shape(), &candle_core::Device::Cpu)
                    .expect("a moment has its parameter's element count")
            };
            out.insert(format!("m.{}", slot.name), tensor(&slot.m));
            out.insert(format!("v.{}", slot.name), tensor(&slot.v));
        }
        out
    }

    /// Restores what [`Adam::moments`] and [`Adam::steps`] returned. Every variable's moments
    /// must be there, with its shape.
    pub fn restore(&mut self, moments: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        for slot in &mut self.slots {
            let get = |kind: &str| {
                let key = format!("{kind}.{}", slot.name);
                let t = moments
                    .get(&key)
                    .ok_or_else(|| candle_core::Error::Msg(format!("no Adam moment {key}")))?;
                if t.dims() != slot.var.dims() {
                    candle_core::bail!(
                        "Adam moment {key} has shape {:?}, the parameter {:?}",
                        t.dims(),
                        slot.var.dims()
                    );
                }
                t.flatten_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec1::<f32>()
            };
            slot.m = get("m")?;
            slot.v = get("v")?;
        }
        self.t = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The update written out in scalar f64 arithmetic, PyTorch's formula term by term.
    fn reference(p0: f64, grad: impl Fn(f64) -> f64, lr: f64, steps: u32) -> f64 {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let (mut p, mut m, mut v) = (p0, 0.0, 0.0);
        for t in 1..=steps as i32 {
            let g = grad(p);
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            p -= lr / (1.0 - b1.powi(t)) * m / denom;
        }
        p
    }

    #[test]
    fn follows_pytorchs_formula_on_a_quadratic() -> Result<()> {
        let p = Var::new(&[1.0f32, -2.0], &Device::Cpu)?;
        let config = AdamConfig {
            lr: 0.1,
            ..Default::default()
        };
        let mut adam = Adam::new(vec![("p".into(), p.clone())], config)?;
        for step in 1..=5u32 {
            let loss = p.as_tensor().sqr()?.sum_all()?;
            adam.step(&loss.backward()?)?;
            let got = p.as_tensor().to_vec1::<f32>()?;
            for (i, p0) in [1.0, -2.0].into_iter().enumerate() {
                let want = reference(p0, |x| 2.0 * x, 0.1, step);
                assert!((got[i] as f64 - want).abs() < 1e-6, "step {step}: {got:?}");
            }
            if step == 1 {
                // The first step moves every coordinate by lr: the update is g/|g|.
                assert!((got[0] - 0.9).abs() < 1e-6 && (got[1] + 1.9).abs() < 1e-6);
            }
        }
        Ok(())
    }

    #[test]
    fn restored_moments_continue_identically() -> Result<()> {
        let run = |split: Option<usize>| -> Result<Vec<f32>> {
            let p = Var::new(&[0.5f32, 3.0, -1.0], &Device::Cpu)?;
            let cfg = AdamConfig::default();
            let mut adam = Adam::new(vec![("p".into(), p.clone())], cfg)?;
            for i in 0..6 {
                if split == Some(i) {
                    let (moments, t) = (adam.moments(), adam.steps());
                    adam = Adam::new(vec![("p".into(), p.clone())], cfg)?;
                    adam.restore(&moments, t)?;
                }
                let loss = (p.as_tensor().sqr()? * 3.0)?.sum_all()?;
                adam.step(&loss.backward()?)?;
            }
            p.as_tensor().to_vec1::<f32>()
        };
        assert_eq!(run(None)?, run(Some(3))?);
        Ok(())
    }

    #[test]
    fn first_step_moves_each_coordinate_by_lr() {
        // After one step m̂ = g and v̂ = g², so every coordinate moves by lr against its sign.
        let mut x = vec![0.0f32, 0.0, 0.0];
        let mut opt = VectorAdam::new(AdamConfig {
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
        let mut opt = VectorAdam::new(AdamConfig {
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
        let mut opt = VectorAdam::new(AdamConfig {
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
