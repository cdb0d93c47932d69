//! Instance normalisation, as `torch.nn.InstanceNorm2d(affine=True)`.

use candle_core::{Result, Tensor, D};

/// Per-image, per-channel mean and (biased) variance, each `(b, c, 1, 1)`.
///
/// Normally computed from the tensor being normalised; the tiled inference path takes them from
/// a pass over the whole (downscaled) image instead, so that every tile is normalised alike.
#[derive(Debug, Clone)]
pub struct NormStats {
    pub mean: Tensor,
    pub var: Tensor,
}

impl NormStats {
    /// The statistics of `xs` `(b, c, h, w)` over its spatial dimensions.
    pub fn of(xs: &Tensor) -> Result<Self> {
        let (b, c, h, w) = xs.dims4()?;
        let flat = xs.reshape((b, c, h * w))?;
        let mean = flat.mean_keepdim(D::Minus1)?;
        let var = flat.broadcast_sub(&mean)?.sqr()?.mean_keepdim(D::Minus1)?;
        Ok(Self {
            mean: mean.reshape((b, c, 1, 1))?,
            var: var.reshape((b, c, 1, 1))?,
        })
    }
}

/// `(xs - mean) / sqrt(var + eps) * gamma + beta` with `gamma`, `beta` of shape `(c)`.
///
/// `stats` defaults to [`NormStats::of`]`(xs)`.
pub fn instance_norm(
    xs: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    stats: Option<&NormStats>,
) -> Result<Tensor> {
    let own;
    let stats = match stats {
        Some(s) => s,
        None => {
            own = NormStats::of(xs)?;
            &own
        }
    };
    let inv_std = (&stats.var + eps)?.sqrt()?.recip()?;
    let gamma = gamma.reshape((1, (), 1, 1))?;
    let beta = beta.reshape((1, (), 1, 1))?;
    xs.broadcast_sub(&stats.mean)?
        .broadcast_mul(&inv_std.broadcast_mul(&gamma)?)?
        .broadcast_add(&beta)
}
