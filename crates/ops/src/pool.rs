//! 2x2 max-pooling with stride 2, as `torch.nn.MaxPool2d(2, 2)`.

use candle_core::{Result, Tensor, D};

/// Max over each 2x2 window of `xs` `(b, c, h, w)`: `(b, c, h / 2, w / 2)`; an odd last row or
/// column is dropped, as in PyTorch.
///
/// candle 0.11's `max_pool2d` backward scales the gradient by 1/4 and loses the windows of odd
/// sizes; this one sends the whole gradient to the maximum of each window.
pub fn max_pool2x2(xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    let (ho, wo) = (h / 2, w / 2);
    let xs = xs.narrow(2, 0, 2 * ho)?.narrow(3, 0, 2 * wo)?;
    xs.reshape((b, c, ho, 2, wo, 2))?.max(D::Minus1)?.max(3)
}
