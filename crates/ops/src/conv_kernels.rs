//! The CPU convolution kernels on plain slices: forward, input gradient and weight gradient, as
//! `gemm` calls over [`im2col`] buffers, one band of output rows at a time.
//!
//! With `W` the weight as a `(c_out, c_in kh kw)` matrix, `C` the column matrix of a band and `Y`,
//! `dY` the band's outputs and their gradient as `(c_out, pixels)` matrices:
//! - forward: `Y = W C` (plus the bias, written first and accumulated onto),
//! - input gradient: `dC = Wᵀ dY`, folded back onto the image by [`col2im_add`],
//! - weight gradient: `dW += dY Cᵀ`, summed over bands and images.
//!
//! For stride 1 the column matrix is only unfolded along kernel columns (`c_in kw` rows, see
//! [`ConvGeometry::kernel_row`]): the rows of `C` for kernel row `i` are that matrix shifted by
//! `i` image rows, a plain strided view, so `Y = Σᵢ Wᵢ Rᵢ` takes `kh` products over a buffer
//! `kh` times smaller. Unfolding is memory traffic, not arithmetic: for a 9x9 kernel with 3
//! output channels the full column matrix costs more than the products.
//!
//! The column buffer is allocated once per call and reused for every band and image.

use crate::cpu::{matmul, MatRef};
use crate::im2col::{col2im_add, im2col, ConvGeometry};

/// Floats in one band's column matrix (16 MiB): large enough for `gemm` to run at full speed,
/// small enough to stay out of the way of the feature maps.
const BAND_BUDGET: usize = 1 << 22;

/// How a convolution is unfolded: the geometry of the column matrix, the number of products
/// per band (kernel rows done as shifted views) and the band height.
struct Plan {
    cols: ConvGeometry,
    shifts: usize,
    band: usize,
}

impl Plan {
    fn new(g: &ConvGeometry, budget: usize) -> Self {
        let (cols, shifts) = if g.stride == 1 && g.kh > 1 {
            (g.kernel_row(), g.kh)
        } else {
            (*g, 1)
        };
        let rows_per_band = cols.patch_len() * g.wo;
        let band = g.band_rows(rows_per_band, budget);
        Self { cols, shifts, band }
    }

    /// Columns of the band of output rows `r0..r1`: its pixels plus the `shifts - 1` extra
    /// image rows the shifted views reach.
    fn width(&self, g: &ConvGeometry, (r0, r1): (usize, usize)) -> usize {
        (r1 - r0 + self.shifts - 1) * g.wo
    }

    /// Rows of the column matrix unfolded for output rows `r0..r1`.
    fn rows(&self, (r0, r1): (usize, usize)) -> (usize, usize) {
        (r0, r1 + self.shifts - 1)
    }

    fn buffer(&self, g: &ConvGeometry) -> Vec<f32> {
        vec![0f32; self.cols.patch_len() * self.width(g, (0, self.band))]
    }

    /// The bands of output rows of one image.
    fn bands(&self, g: &ConvGeometry) -> impl Iterator<Item = (usize, usize)> {
        let (band, ho) = (self.band, g.ho);
        (0..ho)
            .step_by(band)
            .map(move |r0| (r0, (r0 + band).min(ho)))
    }

    /// The weight as `shifts` matrices `(c_out, c_in kw')`, one per kernel row done as a shift
    /// (`kw' = kw`), or the one `(c_out, c_in kh kw)` matrix it already is.
    fn split_weight(&self, g: &ConvGeometry, weight: &[f32]) -> Vec<f32> {
        if self.shifts == 1 {
            return weight.to_vec();
        }
        let mut out = vec![0f32; weight.len()];
        for (o, filter) in weight.chunks_exact(g.c_in * g.kh * g.kw).enumerate() {
            for (c, taps) in filter.chunks_exact(g.kh * g.kw).enumerate() {
                for (i, row) in taps.chunks_exact(g.kw).enumerate() {
                    let at = (i * g.c_out + o) * g.c_in * g.kw + c * g.kw;
                    out[at..at + g.kw].copy_from_slice(row);
                }
            }
        }
        out
    }

    /// The inverse of [`Plan::split_weight`].
    fn join_weight(&self, g: &ConvGeometry, split: &[f32]) -> Vec<f32> {
        if self.shifts == 1 {
            return split.to_vec();
        }
        let mut out = vec![0f32; split.len()];
        for (o, filter) in out.chunks_exact_mut(g.c_in * g.kh * g.kw).enumerate() {
            for (c, taps) in filter.chunks_exact_mut(g.kh * g.kw).enumerate() {
                for (i, row) in taps.chunks_exact_mut(g.kw).enumerate() {
                    let at = (i * g.c_out + o) * g.c_in * g.kw + c * g.kw;
                    row.copy_from_slice(&split[at..at + g.kw]);
                }
            }
        }
        out
    }
}

/// `(b, c_out, ho, wo)` from `xs` `(b, c_in, h, w)`, `weight` `(c_out, c_in, kh, kw)`, `bias`
/// `(c_out)`.
pub(crate) fn conv_forward(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    forward_in_bands(g, xs, weight, bias, BAND_BUDGET)
}

/// The gradient of the input `(b, c_in, h, w)` from the gradient of the output `grad`.
pub(crate) fn conv_backward_input(g: &ConvGeometry, grad: &[f32], weight: &[f32]) -> Vec<f32> {
    input_grad_in_bands(g, grad, weight, BAND_BUDGET)
}

/// The gradient of the weight `(c_out, c_in, kh, kw)`.
pub(crate) fn conv_backward_weight(g: &ConvGeometry, xs: &[f32], grad: &[f32]) -> Vec<f32> {
    weight_grad_in_bands(g, xs, grad, BAND_BUDGET)
}

/// The kernels, with column buffers of at most `budget` floats (but at least one output row).
fn forward_in_bands(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    budget: usize,
) -> Vec<f32> {
    let plan = Plan::new(g, budget);
    let k = plan.cols.patch_len();
    let plane = g.ho * g.wo;
    let weights = plan.split_weight(g, weight);
    let mut ys = vec![0f32; g.batch * g.out_image_len()];
    let mut col = plan.buffer(g);
    for (image, out) in xs
        .chunks_exact(g.in_image_len().max(1))
        .zip(ys.chunks_exact_mut(g.out_image_len().max(1)))
    {
        if let Some(bias) = bias {
            for (o, b) in out.chunks_exact_mut(plane).zip(bias) {
                o.fill(*b);
            }
        }
        for band in plan.bands(g) {
            let width = plan.width(g, band);
            let n = (band.1 - band.0) * g.wo;
            im2col(&plan.cols, image, plan.rows(band), &mut col);
            for (i, w) in weights.chunks_exact(g.c_out * k).enumerate() {
                let shifted = MatRef {
                    data: &col[i * g.wo..k * width],
                    row_stride: width,
                    col_stride: 1,
                };
                let accumulate = bias.is_some() || i > 0;
                let dst = &mut out[band.0 * g.wo..];
                matmul(
                    (g.c_out, k, n),
                    MatRef::rows(w, k),
                    shifted,
                    dst,
                    plane,
                    accumulate,
                );
            }
        }
    }
    ys
}

fn input_grad_in_bands(g: &ConvGeometry, grad: &[f32], weight: &[f32], budget: usize) -> Vec<f32> {
    let plan = Plan::new(g, budget);
    let k = plan.cols.patch_len();
    let plane = g.ho * g.wo;
    let weights = plan.split_weight(g, weight);
    let mut dxs = vec![0f32; g.batch * g.in_image_len()];
    let mut col = plan.buffer(g);
    for (grad, dx) in grad
        .chunks_exact(g.out_image_len().max(1))
        .zip(dxs.chunks_exact_mut(g.in_image_len().max(1)))
    {
        for band in plan.bands(g) {
            let width = plan.width(g, band);
            let n = (band.1 - band.0) * g.wo;
            let dy = MatRef {
                data: &grad[band.0 * g.wo..],
                row_stride: plane,
                col_stride: 1,
            };
            // The shifted views overlap, so their gradients add up in a zeroed buffer.
            col[..k * width].fill(0.0);
            for (i, w) in weights.chunks_exact(g.c_out * k).enumerate() {
                let dst = &mut col[i * g.wo..k * width];
                let wt = MatRef::rows(w, k).t();
                matmul((k, g.c_out, n), wt, dy, dst, width, true);
            }
            col2im_add(&plan.cols, &col, plan.rows(band), dx);
        }
    }
    dxs
}

fn weight_grad_in_bands(g: &ConvGeometry, xs: &[f32], grad: &[f32], budget: usize) -> Vec<f32> {
    let plan = Plan::new(g, budget);
    let k = plan.cols.patch_len();
    let plane = g.ho * g.wo;
    let mut dw = vec![0f32; g.c_out * g.patch_len()];
    let mut col = plan.buffer(g);
    for (image, grad) in xs
        .chunks_exact(g.in_image_len().max(1))
        .zip(grad.chunks_exact(g.out_image_len().max(1)))
    {
        for band in plan.bands(g) {
            let width = plan.width(g, band);
            let n = (band.1 - band.0) * g.wo;
            im2col(&plan.cols, image, plan.rows(band), &mut col);
            let dy = MatRef {
                data: &grad[band.0 * g.wo..],
                row_stride: plane,
                col_stride: 1,
            };
            for (i, dw) in dw.chunks_exact_mut(g.c_out * k).enumerate() {
                let shifted = MatRef {
                    data: &col[i * g.wo..k * width],
                    row_stride: width,
                    col_stride: 1,
                };
                matmul((g.c_out, n, k), dy, shifted.t(), dw, k, true);
            }
        }
    }
    plan.join_weight(g, &dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 1999) as f32 / 999.5 - 1.0)
            .collect()
    }

    /// One-row bands must give what one band per image gives, on both unfolding paths
    /// (stride 1 with shifted kernel rows, stride 2 with whole patches).
    #[test]
    fn bands_do_not_change_the_result() {
        for (stride, padding, k) in [(1, 1, 3), (1, 4, 9), (2, 1, 3), (1, 0, 5)] {
            let g = ConvGeometry::new((2, 3, 11, 8), (4, k, k), stride, padding).unwrap();
            let xs = values(g.batch * g.in_image_len(), 1);
            let weight = values(g.c_out * g.patch_len(), 2);
            let bias = values(g.c_out, 3);
            let grad = values(g.batch * g.out_image_len(), 4);
            let (small, whole) = (1, usize::MAX / 2);
            let forward = |budget| forward_in_bands(&g, &xs, &weight, Some(&bias), budget);
            assert_near(&forward(small), &forward(whole), &format!("forward, {g:?}"));
            let dx = |budget| input_grad_in_bands(&g, &grad, &weight, budget);
            assert_near(&dx(small), &dx(whole), &format!("input gradient, {g:?}"));
            let dw = |budget| weight_grad_in_bands(&g, &xs, &grad, budget);
            assert_near(&dw(small), &dw(whole), &format!("weight gradient, {g:?}"));
        }
    }

    /// Bands change the order of some sums, so results agree up to rounding.
    fn assert_near(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}: {x} vs {y}"
            );
        }
    }
}
