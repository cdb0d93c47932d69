//! The perceptual loss of [`crate::loss`] as the trainer's [`Objective`]: the same code the slow
//! method uses, fed a batch of network outputs and the photos they came from.

use candle_core::{Device, Tensor};

use crate::data::{Dataset, SkipHook};
use crate::loss::PerceptualLoss;
use crate::options::TrainOptions;
use crate::photo::{load_image, Resize};
use crate::state::TrainState;
use crate::train_error::TrainResult;
use crate::trainer::{Losses, Objective, Trainer};
use crate::vgg::Vgg16;

/// The loss of a run: `vgg`, the options' layers and weights, and the Gram matrices of the
/// options' style image, scaled to `style_size` (long side) if one is given.
pub fn perceptual_objective(
    options: &TrainOptions,
    vgg: Vgg16,
    device: &Device,
) -> TrainResult<PerceptualLoss> {
    let resize = match options.style_size {
        Some(side) => Resize::LongSide(side),
        None => Resize::AsIs,
    };
    let style = load_image(&options.style_image, resize, device)?;
    Ok(PerceptualLoss::new(vgg, options.loss_config()?, &style)?)
}

impl Objective for PerceptualLoss {
    fn evaluate(&self, output: &Tensor, content: &Tensor) -> TrainResult<(Tensor, Losses)> {
        // The targets are the photos' own features, recomputed for every batch (no gradient).
        let target = self.content_target(content)?;
        let terms = self.compute(output, &target)?;
        let values = terms.values()?;
        let weights = self.config().weights;
        let losses = Losses {
            content: values.content * weights.content,
            style: values.style * weights.style,
            tv: values.tv * weights.tv,
            total: values.total,
        };
        Ok((terms.total, losses))
    }
}

/// A trainer for `options` with the perceptual loss: opens the data folder and computes the
/// style's Gram matrices; continues the run in `resume` when given. This is what
/// `faststyle train` and `faststyle bench train` run.
pub fn perceptual_trainer(
    options: TrainOptions,
    vgg: Vgg16,
    device: &Device,
    on_skip: SkipHook,
    resume: Option<TrainState>,
) -> TrainResult<Trainer> {
    options.validate()?;
    let dataset = Dataset::open(&options.data)?;
    let objective = Box::new(perceptual_objective(&options, vgg, device)?);
    match resume {
        Some(state) => Trainer::resume(options, dataset, objective, device, on_skip, state),
        None => Trainer::new(options, dataset, objective, device, on_skip),
    }
}
