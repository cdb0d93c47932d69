//! Instance normalisation, as `torch.nn.InstanceNorm2d(affine=True)`, forward and backward.
//!
//! On the CPU, with statistics taken from the input itself (training and ordinary inference),
//! normalisation is one fused op: one pass for the statistics of each plane and one to write the
//! output, and a backward pass that returns the gradients of the input, `gamma` and `beta`
//! together, instead of the dozen elementwise ops and reductions of the composed formula.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use crate::cpu::{contiguous_f32, takes_cpu_path};

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
    let (_, c, _, _) = xs.dims4()?;
    if gamma.dims() != [c] || beta.dims() != [c] {
        bail!(
            "instance_norm: gamma {:?} and beta {:?} for {c} channels",
            gamma.dims(),
            beta.dims()
        )
    }
    match stats {
        None if takes_cpu_path(xs) => xs.contiguous()?.apply_op3_arc(
            &gamma.contiguous()?,
            &beta.contiguous()?,
            std::sync::Arc::new(Box::new(InstanceNorm { eps })),
        ),
        None => composed(xs, gamma, beta, eps, &NormStats::of(xs)?),
        Some(stats) => composed(xs, gamma, beta, eps, stats),
    }
}

/// The formula as candle ops: for other devices, and for statistics given from elsewhere
/// (whose gradient then flows through candle's autograd as usual).
fn composed(
    xs: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    stats: &NormStats,
) -> Result<Tensor> {
    let inv_std = (&stats.var + eps)?.sqrt()?.recip()?;
    let gamma = gamma.reshape((1, (), 1, 1))?;
    let beta = beta.reshape((1, (), 1, 1))?;
    xs.broadcast_sub(&stats.mean)?
        .broadcast_mul(&inv_std.broadcast_mul(&gamma)?)?
        .broadcast_add(&beta)
}

/// Mean and `1 / sqrt(var + eps)` of one plane, accumulated in `f64`: a 1024x1024 plane summed
/// in `f32` would lose the low digits of the variance.
fn plane_stats(plane: &[f32], eps: f64) -> (f64, f64) {
    let n = plane.len().max(1) as f64;
    let mean = plane.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = plane
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Checks the shapes of the op's arguments; returns `(b, c, h w)`.
fn plane_shape(xs: &Layout, gamma: &Layout) -> Result<(usize, usize, usize)> {
    let (b, c, h, w) = xs.shape().dims4()?;
    if gamma.dims() != [c] {
        bail!("instance_norm: gamma {:?} for {c} channels", gamma.dims())
    }
    Ok((b, c, h * w))
}

struct InstanceNorm {
    eps: f64,
}

impl CustomOp3 for InstanceNorm {
    fn name(&self) -> &'static str {
        "faststyle-instance-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        gamma: &CpuStorage,
        gamma_layout: &Layout,
        beta: &CpuStorage,
        beta_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, n) = plane_shape(xs_layout, gamma_layout)?;
        plane_shape(xs_layout, beta_layout)?;
        let xs = contiguous_f32(xs, xs_layout, "instance_norm input")?;
        let gamma = contiguous_f32(gamma, gamma_layout, "instance_norm gamma")?;
        let beta = contiguous_f32(beta, beta_layout, "instance_norm beta")?;
        let mut ys = vec![0f32; xs.len()];
        ys.par_chunks_mut(n.max(1))
            .zip(xs.par_chunks(n.max(1)))
            .enumerate()
            .for_each(|(i, (out, plane))| {
                let (mean, inv_std) = plane_stats(plane, self.eps);
                // Centre before scaling: a plane whose mean is large next to its spread would
                // lose its digits in `v * scale + (beta - mean * scale)`.
                let scale = (f64::from(gamma[i % c]) * inv_std) as f32;
                let (mean, shift) = (mean as f32, beta[i % c]);
                for (o, &v) in out.iter_mut().zip(plane) {
                    *o = (v - mean) * scale + shift;
                }
            });
        Ok((CpuStorage::F32(ys), xs_layout.shape().clone()))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _ys: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if !(xs.track_op() || gamma.track_op() || beta.track_op()) {
            return Ok((None, None, None));
        }
        let (b, c, h, w) = xs.dims4()?;
        let n = b * c * h * w;
        let all = xs.apply_op3_no_bwd(
            &grad.contiguous()?,
            gamma,
            &InstanceNormGrad { eps: self.eps },
        )?;
        let per_channel = |offset: usize| -> Result<Tensor> {
            all.narrow(0, offset, b * c)?.reshape((b, c))?.sum(0)
        };
        let dxs = match xs.track_op() {
            true => Some(all.narrow(0, 0, n)?.reshape((b, c, h, w))?),
            false => None,
        };
        let dgamma = match gamma.track_op() {
            true => Some(per_channel(n)?),
            false => None,
        };
        let dbeta = match beta.track_op() {
            true => Some(per_channel(n + b * c)?),
            false => None,
        };
        Ok((dxs, dgamma, dbeta))
    }
}

/// The three gradients of [`InstanceNorm`] from `(input, output gradient, gamma)`, packed in one
/// flat tensor because a custom op has one output: the input gradient (`b c h w` values), then
/// the per-image `gamma` and `beta` gradients (`b c` values each), which the caller sums over the
/// batch.
///
/// With `x̂` the normalised input, `g = dy · gamma` and means over the plane:
/// `dx = inv_std (g - mean(g) - x̂ mean(g x̂))`, `dgamma = Σ dy x̂`, `dbeta = Σ dy`.
struct InstanceNormGrad {
    eps: f64,
}

impl CustomOp3 for InstanceNormGrad {
    fn name(&self) -> &'static str {
        "faststyle-instance-norm-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
        gamma: &CpuStorage,
        gamma_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, n) = plane_shape(xs_layout, gamma_layout)?;
        if grad_layout.dims() != xs_layout.dims() {
            bail!(
                "instance_norm backward: gradient {:?} for input {:?}",
                grad_layout.dims(),
                xs_layout.dims()
            )
        }
        let xs = contiguous_f32(xs, xs_layout, "instance_norm input")?;
        let grad = contiguous_f32(grad, grad_layout, "instance_norm output gradient")?;
        let gamma = contiguous_f32(gamma, gamma_layout, "instance_norm gamma")?;
        let planes = b * c;
        let mut out = vec![0f32; planes * n + 2 * planes];
        let (dxs, sums) = out.split_at_mut(planes * n);
        let per_plane: Vec<(f32, f32)> = dxs
            .par_chunks_mut(n.max(1))
            .zip(xs.par_chunks(n.max(1)).zip(grad.par_chunks(n.max(1))))
            .enumerate()
            .map(|(i, (dx, (plane, dy)))| {
                let (mean, inv_std) = plane_stats(plane, self.eps);
                let (mut sum_dy, mut sum_dy_xhat) = (0f64, 0f64);
                for (&v, &d) in plane.iter().zip(dy) {
                    sum_dy += f64::from(d);
                    sum_dy_xhat += f64::from(d) * (f64::from(v) - mean) * inv_std;
                }
                let g = f64::from(gamma[i % c]);
                let len = n.max(1) as f64;
                // dx = a dy + b (x - mean) + k, with the plane's constants folded once.
                let a = (g * inv_std) as f32;
                let bx = (-g * inv_std * inv_std * sum_dy_xhat / len) as f32;
                let k = (-g * inv_std * sum_dy / len) as f32;
                let mean = mean as f32;
                for ((o, &v), &d) in dx.iter_mut().zip(plane).zip(dy) {
                    *o = a * d + bx * (v - mean) + k;
                }
                (sum_dy_xhat as f32, sum_dy as f32)
            })
            .collect();
        let (dgamma, dbeta) = sums.split_at_mut(planes);
        for (i, (dg, db)) in per_plane.into_iter().enumerate() {
            dgamma[i] = dg;
            dbeta[i] = db;
        }
        Ok((CpuStorage::F32(out), Shape::from(planes * n + 2 * planes)))
    }
}
