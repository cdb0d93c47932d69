//! Gram matrices of feature maps, the style representation of Gatys et al.

use candle_core::{Result, Tensor};

/// `F Fᵀ / (c h w)` for each image of `features` `(b, c, h, w)`, with `F` the `(c, h w)`
/// matrix of the image's features: `(b, c, c)`.
///
/// Dividing by `c h w` makes the value independent of image size and layer width, so a style
/// weight means the same at any resolution (the pytorch/examples convention).
pub fn gram(features: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = features.dims4()?;
    let f = features.reshape((b, c, h * w))?;
    let g = f.matmul(&f.t()?)?;
    g / (c * h * w) as f64
}
