//! How good a trained style is, in the numbers the two methods share: the perceptual loss (the
//! network's own training loss) of the fast network's output, and of the slow method's image
//! after given numbers of L-BFGS iterations started from the same photo.
//!
//! Both are scored as the images a user gets: pixels clamped to 0..255, as `apply` and
//! `optimize` write them.

use candle_core::Tensor;

use crate::error::Result;
use crate::gatys::{GatysObjective, Lbfgs, LbfgsConfig, Optimization, PixelOptimizer, StepOutcome};
use crate::loss::{ContentTarget, LossValues, PerceptualLoss};

/// The loss of `image` `(1, 3, h, w)`, pixels clamped to 0..255, against the photo's content
/// target and the loss's style.
pub fn image_loss(
    loss: &PerceptualLoss,
    target: &ContentTarget,
    image: &Tensor,
) -> Result<LossValues> {
    let clamped = image.clamp(0f32, 255f32)?;
    loss.compute(&clamped, target)?.values()
}

/// The loss of `output`, the fast network's image for `photo` (both `(1, 3, h, w)`, pixels
/// 0..255), as [`image_loss`] scores it. The network runs elsewhere, the way `apply` runs it
/// (faststyle-infer pads each side to a multiple of 4 and crops back): this crate does not
/// depend on the inference crate.
pub fn fast_network_loss(
    loss: &PerceptualLoss,
    output: &Tensor,
    photo: &Tensor,
) -> Result<LossValues> {
    image_loss(loss, &loss.content_target(photo)?, output)
}

/// The slow method's loss after each of `marks` L-BFGS iterations (ascending), in one run
/// started from `photo` with the default L-BFGS settings of `faststyle optimize`.
/// `on_iteration` is called after every iteration with its number. A run that converges before
/// a mark reports its final image for the marks left.
pub fn slow_method_losses(
    loss: &PerceptualLoss,
    photo: &Tensor,
    marks: &[usize],
    on_iteration: &mut dyn FnMut(usize),
) -> Result<Vec<(usize, LossValues)>> {
    let objective = GatysObjective::new(loss.clone(), photo)?;
    let x0 = photo.flatten_all()?.to_vec1::<f32>()?;
    let optimizer = PixelOptimizer::Lbfgs(Lbfgs::new(LbfgsConfig::default()));
    let mut run = Optimization::new(objective, optimizer, x0);
    let mut converged = false;
    let mut losses = Vec::with_capacity(marks.len());
    for &mark in marks {
        while !converged && run.iteration() < mark {
            let report = run.step()?;
            on_iteration(report.iteration);
            converged = report.outcome != StepOutcome::Moved;
        }
        let image = Tensor::from_slice(run.pixels(), photo.shape(), photo.device())?;
        let target = run.objective().content_target();
        losses.push((mark, image_loss(loss, target, &image)?));
    }
    Ok(losses)
}
