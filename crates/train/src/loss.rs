//! The perceptual losses of Johnson et al. 2016: content, style and total variation.
//!
//! One [`PerceptualLoss`] serves both methods with the same code:
//! - the trainer passes a batch of network outputs `(b, 3, h, w)` and the content targets of the
//!   same batch of photos, computed each step with [`PerceptualLoss::content_target`];
//! - the slow method (Gatys et al.) passes its one image `(1, 3, h, w)` and the content target
//!   of its photo, computed once.
//!
//! The style image's Gram matrices are computed once, at construction, and broadcast against
//! every image of a batch. All images are pixels 0..255. The definitions match
//! pytorch/examples' fast_neural_style (see [`crate::loss_config`] for what a weight means):
//! - content = MSE(F(y), F(x)) on the content tap;
//! - style = Σ_l w_l · MSE(G_l(y), G_l(s)), G = F Fᵀ / (C H W);
//! - tv = Σ |y[.., i+1, j] - y[.., i, j]| + Σ |y[.., i, j+1] - y[.., i, j]|.

use candle_core::{Tensor, D};
use faststyle_ops::gram;

use crate::error::{Error, Result};
use crate::loss_config::LossConfig;
use crate::vgg::{Tap, Vgg16};

/// The loss terms of one evaluation, as scalar tensors that keep the graph for backward.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// Content loss, unweighted.
    pub content: Tensor,
    /// Style loss, summed over the style taps with their per-layer weights, otherwise unweighted.
    pub style: Tensor,
    /// Total variation, unweighted.
    pub tv: Tensor,
    /// `content · w_content + style · w_style + tv · w_tv`: the value to minimise.
    pub total: Tensor,
}

/// The loss terms as numbers, for logs and progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossValues {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

impl LossTerms {
    /// Reads the four scalars back from the device.
    pub fn values(&self) -> Result<LossValues> {
        let read =
            |t: &Tensor| -> Result<f64> { Ok(t.to_dtype(candle_core::DType::F64)?.to_scalar()?) };
        Ok(LossValues {
            content: read(&self.content)?,
            style: read(&self.style)?,
            tv: read(&self.tv)?,
            total: read(&self.total)?,
        })
    }
}

/// The content tap's activations of the photos an output should keep the content of.
#[derive(Debug, Clone)]
pub struct ContentTarget(Tensor);

/// The frozen loss network with its configuration and the style image's Gram matrices.
#[derive(Debug, Clone)]
pub struct PerceptualLoss {
    vgg: Vgg16,
    config: LossConfig,
    /// Per style tap: the tap, its weight and the style image's Gram matrix `(1, c, c)`.
    style_grams: Vec<(Tap, f64, Tensor)>,
}

impl PerceptualLoss {
    /// Validates `config` and computes the Gram matrices of `style` `(1, 3, h, w)`, pixels
    /// 0..255 (any size: Gram matrices do not depend on it).
    pub fn new(vgg: Vgg16, config: LossConfig, style: &Tensor) -> Result<Self> {
        config.validate()?;
        let (b, c, _, _) = style.dims4()?;
        if b != 1 || c != 3 {
            return Err(Error::Config(format!(
                "the style image must be one RGB image (1, 3, h, w), not {:?}",
                style.dims()
            )));
        }
        let taps = vgg.forward(&style.detach())?;
        let style_grams = config
            .style_taps
            .iter()
            .map(|&(tap, w)| Ok((tap, w, gram(taps.get(tap))?.detach())))
            .collect::<Result<_>>()?;
        Ok(Self {
            vgg,
            config,
            style_grams,
        })
    }

    /// Like [`PerceptualLoss::new`], with several style images whose Gram matrices are blended:
    /// each style tap's target is `Σᵢ wᵢ G(sᵢ)` over the `(image, wᵢ)` pairs. Weights summing to
    /// 1 keep the meaning of the style weight; one image with weight 1 is [`PerceptualLoss::new`].
    pub fn with_blended_styles(
        vgg: Vgg16,
        config: LossConfig,
        styles: &[(Tensor, f64)],
    ) -> Result<Self> {
        let Some(((first, w0), rest)) = styles.split_first() else {
            return Err(Error::Config("no style image".into()));
        };
        let mut blended = Self::new(vgg, config, first)?;
        for (_, _, g) in &mut blended.style_grams {
            *g = g.affine(*w0, 0.0)?;
        }
        for (style, w) in rest {
            let other = Self::new(blended.vgg.clone(), blended.config.clone(), style)?;
            for ((_, _, g), (_, _, h)) in blended.style_grams.iter_mut().zip(&other.style_grams) {
                *g = (&*g + h.affine(*w, 0.0)?)?;
            }
        }
        Ok(blended)
    }

    pub fn config(&self) -> &LossConfig {
        &self.config
    }

    pub fn vgg(&self) -> &Vgg16 {
        &self.vgg
    }

    /// The style image's Gram matrix `(1, c, c)` of each style tap, in the configured order.
    pub fn style_grams(&self) -> impl Iterator<Item = (Tap, &Tensor)> {
        self.style_grams.iter().map(|(tap, _, g)| (*tap, g))
    }

    /// The content target of `content` `(b, 3, h, w)`, pixels 0..255; no gradient flows to it.
    pub fn content_target(&self, content: &Tensor) -> Result<ContentTarget> {
        let taps = self.vgg.forward(&content.detach())?;
        Ok(ContentTarget(taps.get(self.config.content_tap).detach()))
    }

    /// All loss terms of `output` `(b, 3, h, w)`, pixels 0..255, against the content target of
    /// the matching photos (same `b`, `h`, `w`) and the style. Differentiable in `output`.
    pub fn compute(&self, output: &Tensor, content: &ContentTarget) -> Result<LossTerms> {
        let taps = self.vgg.forward(output)?;
        let content_loss = mse(taps.get(self.config.content_tap), &content.0)?;
        let mut style_loss = Tensor::zeros((), output.dtype(), output.device())?;
        for (tap, w, target) in &self.style_grams {
            let term = mse(&gram(taps.get(*tap))?, target)?;
            style_loss = (style_loss + term.affine(*w, 0.0)?)?;
        }
        let tv = total_variation(output)?;
        let weights = self.config.weights;
        let total = ((content_loss.affine(weights.content, 0.0)?
            + style_loss.affine(weights.style, 0.0)?)?
            + tv.affine(weights.tv, 0.0)?)?;
        Ok(LossTerms {
            content: content_loss,
            style: style_loss,
            tv,
            total,
        })
    }
}

/// Mean of the squared differences, `ys` broadcast against `target` (a `(1, ..)` target serves
/// a whole batch), as `torch.nn.functional.mse_loss` on the broadcast tensors.
pub fn mse(ys: &Tensor, target: &Tensor) -> Result<Tensor> {
    if ys.dims() == target.dims() {
        return Ok((ys - target)?.sqr()?.mean_all()?);
    }
    Ok(ys.broadcast_sub(target)?.sqr()?.mean_all()?)
}

/// Sum of absolute differences between vertically and horizontally neighbouring pixels of
/// `xs` `(b, c, h, w)`, over the whole batch.
pub fn total_variation(xs: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = xs.dims4()?;
    if h < 2 || w < 2 {
        return Err(Error::Config(format!(
            "total variation needs an image of at least 2x2 pixels, not {w}x{h}"
        )));
    }
    let dy = (xs.narrow(D::Minus2, 1, h - 1)? - xs.narrow(D::Minus2, 0, h - 1)?)?;
    let dx = (xs.narrow(D::Minus1, 1, w - 1)? - xs.narrow(D::Minus1, 0, w - 1)?)?;
    Ok((dy.abs()?.sum_all()? + dx.abs()?.sum_all()?)?)
}
