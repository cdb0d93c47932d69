//! 2x2 max-pooling with stride 2, as `torch.nn.MaxPool2d(2, 2)`, forward and backward.
//!
//! candle 0.11's `max_pool2d` backward scales the gradient by 1/4 and loses the windows of odd
//! sizes; this one sends the whole gradient of a window to its maximum, the first one in
//! row-major order on ties (as PyTorch does), and nothing to a dropped odd last row or column.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use crate::cpu::{contiguous_f32, takes_cpu_path};

/// Max over each 2x2 window of `xs` `(b, c, h, w)`: `(b, c, h / 2, w / 2)`; an odd last row or
/// column is dropped, as in PyTorch.
pub fn max_pool2x2(xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    if h < 2 || w < 2 {
        bail!("max_pool2x2: input {h}x{w} is smaller than one 2x2 window")
    }
    if takes_cpu_path(xs) {
        return xs.contiguous()?.apply_op1(MaxPool2x2);
    }
    // Other devices: candle's ops, whose backward sends the gradient to every maximum of a
    // window (ties aside, the same as ours).
    let (ho, wo) = (h / 2, w / 2);
    let xs = xs.narrow(2, 0, 2 * ho)?.narrow(3, 0, 2 * wo)?;
    xs.reshape((b, c, ho, 2, wo, 2))?.max(D::Minus1)?.max(3)
}

/// Row-major index, within the input plane, of the first maximum of window `(r, q)`. A NaN wins,
/// so that it propagates as in PyTorch.
fn argmax_2x2(plane: &[f32], w: usize, r: usize, q: usize) -> usize {
    let top = 2 * r * w + 2 * q;
    let mut best = top;
    for i in [top + 1, top + w, top + w + 1] {
        if plane[i] > plane[best] || (plane[i].is_nan() && !plane[best].is_nan()) {
            best = i;
        }
    }
    best
}

struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "faststyle-max-pool2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let xs = contiguous_f32(storage, layout, "max_pool2x2 input")?;
        let (ho, wo) = (h / 2, w / 2);
        let mut ys = vec![0f32; b * c * ho * wo];
        ys.par_chunks_mut(ho * wo)
            .zip(xs.par_chunks(h * w))
            .for_each(|(out, plane)| {
                for r in 0..ho {
                    for q in 0..wo {
                        out[r * wo + q] = plane[argmax_2x2(plane, w, r, q)];
                    }
                }
            });
        Ok((CpuStorage::F32(ys), (b, c, ho, wo).into()))
    }

    fn bwd(&self, xs: &Tensor, _ys: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            xs.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2x2Grad)?,
        ))
    }
}

/// The input gradient of [`MaxPool2x2`]: `(input, output gradient) -> input gradient`.
struct MaxPool2x2Grad;

impl CustomOp2 for MaxPool2x2Grad {
    fn name(&self) -> &'static str {
        "faststyle-max-pool2x2-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = xs_layout.shape().dims4()?;
        let (ho, wo) = (h / 2, w / 2);
        if grad_layout.dims() != [b, c, ho, wo] {
            bail!(
                "max_pool2x2 backward: gradient {:?} for input {:?}",
                grad_layout.dims(),
                xs_layout.dims()
            )
        }
        let xs = contiguous_f32(xs, xs_layout, "max_pool2x2 input")?;
        let grad = contiguous_f32(grad, grad_layout, "max_pool2x2 output gradient")?;
        let mut dxs = vec![0f32; b * c * h * w];
        dxs.par_chunks_mut(h * w)
            .zip(xs.par_chunks(h * w).zip(grad.par_chunks(ho * wo)))
            .for_each(|(dx, (plane, grad))| {
                for r in 0..ho {
                    for q in 0..wo {
                        dx[argmax_2x2(plane, w, r, q)] = grad[r * wo + q];
                    }
                }
            });
        Ok((CpuStorage::F32(dxs), (b, c, h, w).into()))
    }
}
