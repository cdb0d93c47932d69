//! 2-D convolution.

use candle_core::{Result, Tensor};

/// Cross-correlation of `xs` `(b, c_in, h, w)` with `weight` `(c_out, c_in, k, k)`, plus `bias`
/// `(c_out)`, zero padding `padding` on every side and the given `stride`.
///
/// Output: `(b, c_out, (h + 2p - k) / s + 1, (w + 2p - k) / s + 1)`, as in PyTorch.
pub fn conv2d(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let ys = xs.conv2d(weight, padding, stride, 1, 1)?;
    match bias {
        Some(b) => ys.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(ys),
    }
}
