//! ReLU with a one-pass backward, alone or fused into the op before it.
//!
//! candle 0.11's ReLU backward builds its mask from a comparison, a dtype conversion and a
//! product: four passes over the tensor and three temporaries, each the size of a VGG16 feature
//! map. Here the gradient is masked in one pass by the op's own output (`y > 0` exactly where
//! the input was positive), which is all autograd keeps, so an op that fuses ReLU into its
//! output also keeps one tensor instead of two.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu::{contiguous_f32, takes_cpu_path};

/// Elements per parallel task: large enough to amortise the hand-over.
const CHUNK: usize = 1 << 16;

/// `max(xs, 0)`, elementwise.
pub fn relu(xs: &Tensor) -> Result<Tensor> {
    if !takes_cpu_path(xs) {
        return xs.relu();
    }
    xs.contiguous()?.apply_op1(Relu)
}

/// Sets the negative values of `ys` to 0, in place.
pub(crate) fn relu_in_place(ys: &mut [f32]) {
    ys.par_chunks_mut(CHUNK).for_each(|chunk| {
        for y in chunk {
            *y = y.max(0.0);
        }
    });
}

/// The gradient of an op's input through a ReLU on its output: `grad` where `ys > 0`, else 0.
pub(crate) fn relu_grad(grad: &Tensor, ys: &Tensor) -> Result<Tensor> {
    if !takes_cpu_path(grad) {
        return grad.mul(&ys.gt(0f64)?.to_dtype(grad.dtype())?);
    }
    grad.contiguous()?
        .apply_op2_no_bwd(&ys.contiguous()?, &MaskByOutput)
}

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "faststyle-relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut ys = contiguous_f32(storage, layout, "relu input")?.to_vec();
        relu_in_place(&mut ys);
        Ok((CpuStorage::F32(ys), layout.shape().clone()))
    }

    fn bwd(&self, _xs: &Tensor, ys: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(relu_grad(grad, ys)?))
    }
}

/// `(grad, ys) -> grad · [ys > 0]`.
struct MaskByOutput;

impl CustomOp2 for MaskByOutput {
    fn name(&self) -> &'static str {
        "faststyle-relu-grad"
    }

    fn cpu_fwd(
        &self,
        grad: &CpuStorage,
        grad_layout: &Layout,
        ys: &CpuStorage,
        ys_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if grad_layout.dims() != ys_layout.dims() {
            bail!(
                "relu backward: gradient {:?} for output {:?}",
                grad_layout.dims(),
                ys_layout.dims()
            )
        }
        let grad = contiguous_f32(grad, grad_layout, "relu output gradient")?;
        let ys = contiguous_f32(ys, ys_layout, "relu output")?;
        let mut out = vec![0f32; grad.len()];
        out.par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK).zip(ys.par_chunks(CHUNK)))
            .for_each(|(o, (g, y))| {
                for ((o, g), y) in o.iter_mut().zip(g).zip(y) {
                    *o = if *y > 0.0 { *g } else { 0.0 };
                }
            });
        Ok((CpuStorage::F32(out), grad_layout.shape().clone()))
    }
}
