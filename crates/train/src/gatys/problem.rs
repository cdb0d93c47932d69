//! The objective of the slow method: [`crate::loss::PerceptualLoss`], the very loss the trainer
//! uses, evaluated at one image whose pixels are the variables.
//!
//! Each evaluation wraps the current pixels in a fresh `Var`, so the graph of one iteration is
//! dropped before the next begins: memory stays at one forward and backward pass of VGG16.

use candle_core::{Device, Tensor, Var};

use super::optimization::{Evaluation, Objective};
use crate::error::{Error, Result};
use crate::loss::{ContentTarget, LossValues, PerceptualLoss};

/// The perceptual loss of one image against a photo's content and the (blended) style.
pub struct GatysObjective {
    loss: PerceptualLoss,
    content: ContentTarget,
    /// `(1, 3, h, w)`: the shape of the image being optimised, the photo's.
    shape: (usize, usize, usize, usize),
    device: Device,
}

impl GatysObjective {
    /// `content` is the photo `(1, 3, h, w)`, pixels 0..255; its content target is computed
    /// once here.
    pub fn new(loss: PerceptualLoss, content: &Tensor) -> Result<Self> {
        let shape = content.dims4()?;
        if shape.0 != 1 || shape.1 != 3 {
            return Err(Error::Config(format!(
                "the photo must be one RGB image (1, 3, h, w), not {:?}",
                content.dims()
            )));
        }
        Ok(Self {
            content: loss.content_target(content)?,
            loss,
            shape,
            device: content.device().clone(),
        })
    }

    /// `(height, width)` of the image being optimised.
    pub fn size(&self) -> (usize, usize) {
        (self.shape.2, self.shape.3)
    }

    pub fn perceptual_loss(&self) -> &PerceptualLoss {
        &self.loss
    }

    /// The photo's content target, computed once in [`GatysObjective::new`].
    pub fn content_target(&self) -> &ContentTarget {
        &self.content
    }

    fn image(&self, x: &[f32]) -> Result<Tensor> {
        let (b, c, h, w) = self.shape;
        if x.len() != b * c * h * w {
            return Err(Error::Config(format!(
                "{} pixel values for a {w}x{h} RGB image",
                x.len()
            )));
        }
        Ok(Tensor::from_slice(x, self.shape, &self.device)?)
    }
}

impl Objective for GatysObjective {
    type Error = Error;

    fn evaluate(&mut self, x: &[f32]) -> Result<Evaluation> {
        let var = Var::from_tensor(&self.image(x)?)?;
        let terms = self.loss.compute(var.as_tensor(), &self.content)?;
        let grads = terms.total.backward()?;
        let grad = grads
            .get(var.as_tensor())
            .ok_or_else(|| Error::Config("the loss does not depend on the image".into()))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        Ok(Evaluation {
            values: terms.values()?,
            grad,
        })
    }

    fn loss(&mut self, x: &[f32]) -> Result<LossValues> {
        self.loss.compute(&self.image(x)?, &self.content)?.values()
    }
}
