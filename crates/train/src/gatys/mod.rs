//! The slow method: optimise an image's pixels so that its VGG16 features keep a photo's content
//! and its Gram matrices match a painting's (Gatys, Ecker, Bethge 2015, "A Neural Algorithm of
//! Artistic Style").
//!
//! - [`lbfgs`]: L-BFGS with `torch.optim.LBFGS` semantics, the method of the paper;
//! - [`VectorAdam`]: Adam (the trainer's update rule, `crate::adam`), the common first-order
//!   alternative;
//! - [`optimization`]: the loop, one iteration at a time, over any [`Objective`];
//! - [`problem`]: [`GatysObjective`], the perceptual loss of the trainer at one image;
//! - [`pixels`]: the noise start and colour preservation.

pub mod lbfgs;
pub mod optimization;
pub mod pixels;
pub mod problem;

pub use crate::adam::{AdamConfig, VectorAdam};
pub use lbfgs::{Lbfgs, LbfgsConfig, StepOutcome};
pub use optimization::{Evaluation, Objective, Optimization, PixelOptimizer, StepReport};
pub use problem::GatysObjective;
