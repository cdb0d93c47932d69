//! Nearest-neighbour upsampling by 2, forward and backward.
//!
//! candle 0.11's `upsample_nearest2d` backward overwrites the gradient of its input instead of
//! adding to it, which is wrong whenever the input also feeds another op (a residual
//! connection, a loss term). This op's gradient sums each 2x2 block and goes through autograd's
//! ordinary accumulation.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu::{contiguous_f32, takes_cpu_path};

/// Repeats every pixel of `xs` `(b, c, h, w)` into a 2x2 block: `(b, c, 2h, 2w)`.
pub fn upsample_nearest2x(xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    if takes_cpu_path(xs) {
        return xs.contiguous()?.apply_op1(UpsampleNearest2x);
    }
    // Other devices: a broadcast, whose backward (a sum) accumulates correctly.
    xs.reshape((b, c, h, 1, w, 1))?
        .broadcast_as((b, c, h, 2, w, 2))?
        .reshape((b, c, 2 * h, 2 * w))
}

struct UpsampleNearest2x;

impl CustomOp1 for UpsampleNearest2x {
    fn name(&self) -> &'static str {
        "faststyle-upsample-nearest2x"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let xs = contiguous_f32(storage, layout, "upsample_nearest2x input")?;
        let mut ys = vec![0f32; b * c * 4 * h * w];
        // One task per input row: it writes the two output rows the row becomes.
        ys.par_chunks_mut(4 * w.max(1))
            .zip(xs.par_chunks(w.max(1)))
            .for_each(|(out, row)| {
                let (top, bottom) = out.split_at_mut(2 * w);
                for (pair, &v) in top.chunks_exact_mut(2).zip(row) {
                    pair.fill(v);
                }
                bottom.copy_from_slice(top);
            });
        Ok((CpuStorage::F32(ys), (b, c, 2 * h, 2 * w).into()))
    }

    fn bwd(&self, _xs: &Tensor, _ys: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&SumPool2x2)?))
    }
}

/// Sum of each 2x2 block, `(b, c, 2h, 2w) -> (b, c, h, w)`: the adjoint of the upsampling.
struct SumPool2x2;

impl CustomOp1 for SumPool2x2 {
    fn name(&self) -> &'static str {
        "faststyle-sum-pool2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h2, w2) = layout.shape().dims4()?;
        if h2 % 2 != 0 || w2 % 2 != 0 {
            bail!("upsample_nearest2x backward: gradient {h2}x{w2} is not of an upsampled size")
        }
        let (h, w) = (h2 / 2, w2 / 2);
        let grad = contiguous_f32(storage, layout, "upsample_nearest2x output gradient")?;
        let mut dxs = vec![0f32; b * c * h * w];
        dxs.par_chunks_mut(w.max(1))
            .zip(grad.par_chunks(4 * w.max(1)))
            .for_each(|(dx, rows)| {
                let (top, bottom) = rows.split_at(2 * w);
                for (q, d) in dx.iter_mut().enumerate() {
                    *d = top[2 * q] + top[2 * q + 1] + bottom[2 * q] + bottom[2 * q + 1];
                }
            });
        Ok((CpuStorage::F32(dxs), (b, c, h, w).into()))
    }
}
