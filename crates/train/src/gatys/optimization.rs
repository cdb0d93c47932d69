//! The optimisation loop of the slow method, one iteration at a time, so that the caller can
//! show progress, save intermediate images and stop whenever it likes.
//!
//! The image is a flat planar-RGB vector (`(1, 3, h, w)` data, pixels 0..255, not clamped while
//! optimising, as in the PyTorch implementations); what turns it into a loss and a gradient is an
//! [`Objective`], in practice the VGG16 losses of the VGG16 loss network.

use super::lbfgs::{Lbfgs, StepOutcome};
use crate::adam::VectorAdam;
use crate::loss::LossValues;

/// The loss terms at an image and the gradient of their sum with respect to its pixels.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub values: LossValues,
    pub grad: Vec<f32>,
}

/// A differentiable loss of an image.
pub trait Objective {
    type Error;
    /// The loss terms and gradient at `x`.
    fn evaluate(&mut self, x: &[f32]) -> Result<Evaluation, Self::Error>;
    /// The loss terms at `x` alone (no backward pass).
    fn loss(&mut self, x: &[f32]) -> Result<LossValues, Self::Error>;
}

/// The optimiser that moves the pixels.
#[derive(Debug, Clone)]
pub enum PixelOptimizer {
    Lbfgs(Lbfgs),
    Adam(VectorAdam),
}

/// What one iteration did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Iterations done, this one included.
    pub iteration: usize,
    /// The loss terms at the image the iteration started from (PyTorch's closure value).
    pub values: LossValues,
    /// Whether the image moved; anything but [`StepOutcome::Moved`] means it has converged and
    /// further iterations would change nothing.
    pub outcome: StepOutcome,
}

/// An image being optimised.
pub struct Optimization<O> {
    objective: O,
    optimizer: PixelOptimizer,
    x: Vec<f32>,
    iteration: usize,
}

impl<O: Objective> Optimization<O> {
    /// Starts from `x0`, which has the layout the objective expects.
    pub fn new(objective: O, optimizer: PixelOptimizer, x0: Vec<f32>) -> Self {
        Self {
            objective,
            optimizer,
            x: x0,
            iteration: 0,
        }
    }

    /// One iteration: one evaluation of loss and gradient, one move of the pixels.
    pub fn step(&mut self) -> Result<StepReport, O::Error> {
        let Evaluation { values, grad } = self.objective.evaluate(&self.x)?;
        let outcome = match &mut self.optimizer {
            PixelOptimizer::Lbfgs(opt) => opt.step(&mut self.x, &grad),
            PixelOptimizer::Adam(opt) => {
                opt.step(&mut self.x, &grad);
                StepOutcome::Moved
            }
        };
        if outcome == StepOutcome::Moved {
            self.iteration += 1;
        }
        Ok(StepReport {
            iteration: self.iteration,
            values,
            outcome,
        })
    }

    /// The loss terms at the current image (one forward pass).
    pub fn loss(&mut self) -> Result<LossValues, O::Error> {
        self.objective.loss(&self.x)
    }

    /// The current image, unclamped.
    pub fn pixels(&self) -> &[f32] {
        &self.x
    }

    /// Iterations that moved the image so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    pub fn objective(&self) -> &O {
        &self.objective
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AdamConfig, LbfgsConfig};
    use super::*;

    /// `Σ (x - target)²` as the (unweighted) content term.
    struct Quadratic {
        target: Vec<f32>,
        evaluations: usize,
    }

    impl Objective for Quadratic {
        type Error = std::convert::Infallible;
        fn evaluate(&mut self, x: &[f32]) -> Result<Evaluation, Self::Error> {
            self.evaluations += 1;
            let grad = x
                .iter()
                .zip(&self.target)
                .map(|(a, b)| 2.0 * (a - b))
                .collect();
            Ok(Evaluation {
                values: self.loss(x)?,
                grad,
            })
        }
        fn loss(&mut self, x: &[f32]) -> Result<LossValues, Self::Error> {
            let content = x
                .iter()
                .zip(&self.target)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            Ok(LossValues {
                content,
                style: 0.0,
                tv: 0.0,
                total: content,
            })
        }
    }

    fn quadratic() -> Quadratic {
        Quadratic {
            target: vec![10.0, 200.0, 35.0, 90.0],
            evaluations: 0,
        }
    }

    #[test]
    fn lbfgs_reaches_the_minimum_and_reports_it() {
        let lbfgs = PixelOptimizer::Lbfgs(Lbfgs::new(LbfgsConfig::default()));
        let mut run = Optimization::new(quadratic(), lbfgs, vec![0.0; 4]);
        let first = run.step().unwrap();
        assert_eq!(first.iteration, 1);
        assert_eq!(first.values.total, 100.0 + 40_000.0 + 1225.0 + 8100.0);
        let mut last = first;
        for _ in 0..50 {
            last = run.step().unwrap();
            if last.outcome != StepOutcome::Moved {
                break;
            }
        }
        assert_ne!(last.outcome, StepOutcome::Moved, "never converged");
        assert!(run.loss().unwrap().total < 1e-6);
        assert_eq!(run.objective().evaluations, run.iteration() + 1);
    }

    #[test]
    fn adam_descends() {
        let adam = PixelOptimizer::Adam(VectorAdam::new(AdamConfig {
            lr: 10.0,
            ..AdamConfig::default()
        }));
        let mut run = Optimization::new(quadratic(), adam, vec![0.0; 4]);
        let start = run.loss().unwrap().total;
        for _ in 0..100 {
            run.step().unwrap();
        }
        assert_eq!(run.iteration(), 100);
        assert!(run.loss().unwrap().total < 1e-3 * start);
    }
}
