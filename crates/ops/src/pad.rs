//! Reflection padding, as `torch.nn.ReflectionPad2d`, forward and backward.

use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu::{contiguous_f32, takes_cpu_path};

/// Pads the last two dimensions of `xs` `(b, c, h, w)` by `pad` on every side, mirroring the
/// image about its edge pixels without repeating them: `[a b c d]` padded by 2 is
/// `[c b a b c d c b]`. Needs `pad < h` and `pad < w`.
///
/// The transformer pads by reflection rather than zeros so that its borders see image-like
/// content; zero padding leaves a visible frame around stylised images.
pub fn reflection_pad2d(xs: &Tensor, pad: usize) -> Result<Tensor> {
    if pad == 0 {
        return Ok(xs.clone());
    }
    let (_, _, h, w) = xs.dims4()?;
    if pad >= h || pad >= w {
        bail!("reflection padding of {pad} needs an input larger than {pad} pixels, got {h}x{w}")
    }
    if takes_cpu_path(xs) {
        return xs.contiguous()?.apply_op1(ReflectionPad { pad });
    }
    let xs = xs.index_select(&index_tensor(w, pad, xs)?, 3)?;
    xs.index_select(&index_tensor(h, pad, &xs)?, 2)
}

/// Source index of every position of a reflected axis of length `len + 2 * pad`.
fn reflected_indices(len: usize, pad: usize) -> Vec<usize> {
    let last = len as isize - 1;
    (0..len + 2 * pad)
        .map(|i| {
            let i = i as isize - pad as isize;
            let r = if i < 0 {
                -i
            } else if i > last {
                2 * last - i
            } else {
                i
            };
            r as usize
        })
        .collect()
}

fn index_tensor(len: usize, pad: usize, like: &Tensor) -> Result<Tensor> {
    let idx: Vec<u32> = reflected_indices(len, pad)
        .into_iter()
        .map(|i| i as u32)
        .collect();
    Tensor::from_vec(idx, len + 2 * pad, like.device())?.to_dtype(DType::U32)
}

struct ReflectionPad {
    pad: usize,
}

impl CustomOp1 for ReflectionPad {
    fn name(&self) -> &'static str {
        "faststyle-reflection-pad2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let p = self.pad;
        let xs = contiguous_f32(storage, layout, "reflection_pad2d input")?;
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let (rows, cols) = (reflected_indices(h, p), reflected_indices(w, p));
        let mut ys = vec![0f32; b * c * hp * wp];
        ys.par_chunks_mut(hp * wp)
            .zip(xs.par_chunks(h * w))
            .for_each(|(out, plane)| {
                for (row_out, &y) in out.chunks_exact_mut(wp).zip(&rows) {
                    let src = &plane[y * w..(y + 1) * w];
                    row_out[p..p + w].copy_from_slice(src);
                    for x in (0..p).chain(p + w..wp) {
                        row_out[x] = src[cols[x]];
                    }
                }
            });
        Ok((CpuStorage::F32(ys), (b, c, hp, wp).into()))
    }

    fn bwd(&self, xs: &Tensor, _ys: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = xs.dims4()?;
        let op = ReflectionPadGrad {
            pad: self.pad,
            input_hw: (h, w),
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

/// Folds the gradient of a padded image back onto the pixels each padded pixel mirrors.
struct ReflectionPadGrad {
    pad: usize,
    input_hw: (usize, usize),
}

impl CustomOp1 for ReflectionPadGrad {
    fn name(&self) -> &'static str {
        "faststyle-reflection-pad2d-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, hp, wp) = layout.shape().dims4()?;
        let ((h, w), p) = (self.input_hw, self.pad);
        if (hp, wp) != (h + 2 * p, w + 2 * p) {
            bail!("reflection_pad2d backward: gradient {hp}x{wp} for input {h}x{w} padded by {p}")
        }
        let grad = contiguous_f32(storage, layout, "reflection_pad2d output gradient")?;
        let (rows, cols) = (reflected_indices(h, p), reflected_indices(w, p));
        let mut dxs = vec![0f32; b * c * h * w];
        dxs.par_chunks_mut(h * w)
            .zip(grad.par_chunks(hp * wp))
            .for_each(|(dx, plane)| {
                for (row_in, &y) in plane.chunks_exact(wp).zip(&rows) {
                    let dst = &mut dx[y * w..(y + 1) * w];
                    for (d, s) in dst.iter_mut().zip(&row_in[p..p + w]) {
                        *d += s;
                    }
                    for x in (0..p).chain(p + w..wp) {
                        dst[cols[x]] += row_in[x];
                    }
                }
            });
        Ok((CpuStorage::F32(dxs), (b, c, h, w).into()))
    }
}
