//! Adam (Kingma and Ba 2015), as PyTorch's `torch.optim.Adam` computes it, with its moments
//! held as tensors so a run can save and restore them exactly.
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

/// The hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
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

/// One parameter and its moments.
struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
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
                let m = var.zeros_like()?;
                let v = var.zeros_like()?;
                Ok(Slot { name, var, m, v })
            })
            .collect::<Result<_>>()?;
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
        let AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
        } = self.config;
        let bias1 = 1.0 - beta1.powi(self.t as i32);
        let bias2_sqrt = (1.0 - beta2.powi(self.t as i32)).sqrt();
        let step_size = lr / bias1;
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let m = ((&slot.m * beta1)? + (g * (1.0 - beta1))?)?;
            let v = ((&slot.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let denom = ((v.sqrt()? / bias2_sqrt)? + eps)?;
            let update = ((&m / denom)? * step_size)?;
            slot.var.set(&slot.var.as_tensor().sub(&update)?)?;
            slot.m = m;
            slot.v = v;
        }
        Ok(())
    }

    /// The moments by name: `m.<name>` and `v.<name>` for each variable.
    pub fn moments(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::with_capacity(2 * self.slots.len());
        for slot in &self.slots {
            out.insert(format!("m.{}", slot.name), slot.m.clone());
            out.insert(format!("v.{}", slot.name), slot.v.clone());
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
                t.to_device(slot.var.device())?
                    .to_dtype(slot.var.dtype())?
                    .contiguous()
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
}
