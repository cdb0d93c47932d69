//! The CPU convolution kernels on plain slices: forward, input gradient and weight gradient, each
//! one `gemm` call per band of output rows over an [`im2col`] buffer.
//!
//! With `W` the weight as a `(c_out, c_in kh kw)` matrix, `C` the column matrix of a band and `Y`,
//! `dY` the band's outputs and their gradient as `(c_out, pixels)` matrices:
//! - forward: `Y = W C` (plus the bias, written first and accumulated onto),
//! - input gradient: `dC = Wᵀ dY`, folded back onto the image by [`col2im_add`],
//! - weight gradient: `dW += dY Cᵀ`, summed over bands and images.
//!
//! The column buffer is allocated once per call and reused for every band and image.

use crate::cpu::{matmul, MatRef};
use crate::im2col::{col2im_add, im2col, ConvGeometry};

/// Floats in one band's column matrix (16 MiB): large enough for `gemm` to run at full speed,
/// small enough to stay out of the way of the feature maps.
const BAND_BUDGET: usize = 1 << 22;

/// `(b, c_out, ho, wo)` from `xs` `(b, c_in, h, w)`, `weight` `(c_out, c_in, kh, kw)`, `bias`
/// `(c_out)`.
pub(crate) fn conv_forward(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let k = g.patch_len();
    let plane = g.ho * g.wo;
    let band = g.band_rows(BAND_BUDGET);
    let mut ys = vec![0f32; g.batch * g.out_image_len()];
    let mut col = vec![0f32; k * band * g.wo];
    for (image, out) in xs
        .chunks_exact(g.in_image_len().max(1))
        .zip(ys.chunks_exact_mut(g.out_image_len().max(1)))
    {
        if let Some(bias) = bias {
            for (o, b) in out.chunks_exact_mut(plane).zip(bias) {
                o.fill(*b);
            }
        }
        for r0 in (0..g.ho).step_by(band) {
            let r1 = (r0 + band).min(g.ho);
            let n = (r1 - r0) * g.wo;
            im2col(g, image, (r0, r1), &mut col);
            matmul(
                (g.c_out, k, n),
                MatRef::rows(weight, k),
                MatRef::rows(&col[..k * n], n),
                &mut out[r0 * g.wo..],
                plane,
                bias.is_some(),
            );
        }
    }
    ys
}

/// The gradient of the input `(b, c_in, h, w)` from the gradient of the output `grad`.
pub(crate) fn conv_backward_input(g: &ConvGeometry, grad: &[f32], weight: &[f32]) -> Vec<f32> {
    let k = g.patch_len();
    let plane = g.ho * g.wo;
    let band = g.band_rows(BAND_BUDGET);
    let mut dxs = vec![0f32; g.batch * g.in_image_len()];
    let mut col = vec![0f32; k * band * g.wo];
    for (grad, dx) in grad
        .chunks_exact(g.out_image_len().max(1))
        .zip(dxs.chunks_exact_mut(g.in_image_len().max(1)))
    {
        for r0 in (0..g.ho).step_by(band) {
            let r1 = (r0 + band).min(g.ho);
            let n = (r1 - r0) * g.wo;
            let dy = MatRef {
                data: &grad[r0 * g.wo..],
                row_stride: plane,
                col_stride: 1,
            };
            matmul(
                (k, g.c_out, n),
                MatRef::rows(weight, k).t(),
                dy,
                &mut col,
                n,
                false,
            );
            col2im_add(g, &col, (r0, r1), dx);
        }
    }
    dxs
}

/// The gradient of the weight `(c_out, c_in, kh, kw)`.
pub(crate) fn conv_backward_weight(g: &ConvGeometry, xs: &[f32], grad: &[f32]) -> Vec<f32> {
    let k = g.patch_len();
    let plane = g.ho * g.wo;
    let band = g.band_rows(BAND_BUDGET);
    let mut dw = vec![0f32; g.c_out * k];
    let mut col = vec![0f32; k * band * g.wo];
    for (image, grad) in xs
        .chunks_exact(g.in_image_len().max(1))
        .zip(grad.chunks_exact(g.out_image_len().max(1)))
    {
        for r0 in (0..g.ho).step_by(band) {
            let r1 = (r0 + band).min(g.ho);
            let n = (r1 - r0) * g.wo;
            im2col(g, image, (r0, r1), &mut col);
            let dy = MatRef {
                data: &grad[r0 * g.wo..],
                row_stride: plane,
                col_stride: 1,
            };
            matmul(
                (g.c_out, n, k),
                dy,
                MatRef::rows(&col[..k * n], n).t(),
                &mut dw,
                k,
                true,
            );
        }
    }
    dw
}
