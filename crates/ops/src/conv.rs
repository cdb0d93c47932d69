//! 2-D convolution, forward and backward, as candle custom ops over the kernels of
//! [`crate::conv_kernels`].
//!
//! The backward pass computes only the gradients autograd will use: none for an input that is
//! not tracked (the network's input image, a plain tensor) and none for weights that are not
//! (the frozen VGG16). candle's own conv backward also fails on stride-2 inputs whose height
//! and width differ in parity, because it rebuilds the input size from the output size; these
//! ops carry the input size instead.

use std::sync::Arc;

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

use crate::conv_kernels::{conv_backward_input, conv_backward_weight, conv_forward};
use crate::cpu::{contiguous_f32, takes_cpu_path};
use crate::im2col::ConvGeometry;
use crate::relu::{relu_grad, relu_in_place};

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
    convolve(xs, weight, bias, stride, padding, false)
}

/// `relu(conv2d(xs, weight, bias, stride, padding))` as one op: autograd keeps only the
/// rectified output (half the memory of a convolution followed by a ReLU) and masks the
/// gradient by it in one pass.
pub fn conv2d_relu(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    convolve(xs, weight, bias, stride, padding, true)
}

fn convolve(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
    relu: bool,
) -> Result<Tensor> {
    let (_, _, kh, kw) = weight.dims4()?;
    geometry(xs.dims(), weight.dims(), stride, padding)?;
    if let Some(b) = bias {
        if b.dims() != [weight.dim(0)?] {
            bail!(
                "conv2d: bias of shape {:?} for {} output channels",
                b.dims(),
                weight.dim(0)?
            )
        }
    }
    if !takes_cpu_path(xs) {
        let ys = candle_conv2d(xs, weight, bias, stride, padding)?;
        return if relu { ys.relu() } else { Ok(ys) };
    }
    let op = Conv2d {
        stride,
        padding,
        kernel: (kh, kw),
        relu,
    };
    let xs = xs.contiguous()?;
    let weight = weight.contiguous()?;
    match bias {
        Some(b) => xs.apply_op3_arc(&weight, &b.contiguous()?, Arc::new(Box::new(op))),
        None => xs.apply_op2(&weight, op),
    }
}

/// candle's convolution, for the devices and dtypes our kernels do not cover.
fn candle_conv2d(
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

/// Validates the shapes of a convolution, with the offending values in the error.
fn geometry(xs: &[usize], weight: &[usize], stride: usize, padding: usize) -> Result<ConvGeometry> {
    let (&[b, c_in, h, w], &[c_out, wc_in, kh, kw]) = (xs, weight) else {
        bail!("conv2d: expected (b, c, h, w) input and (c_out, c_in, kh, kw) weight, got {xs:?} and {weight:?}")
    };
    if c_in != wc_in {
        bail!("conv2d: input has {c_in} channels, weight {weight:?} expects {wc_in}")
    }
    match ConvGeometry::new((b, c_in, h, w), (c_out, kh, kw), stride, padding) {
        Some(g) => Ok(g),
        None => bail!(
            "conv2d: kernel {kh}x{kw} with stride {stride} does not fit input {h}x{w} padded by {padding}"
        ),
    }
}

/// The convolution op; the bias, when there is one, is its third argument.
#[derive(Debug, Clone, Copy)]
struct Conv2d {
    stride: usize,
    padding: usize,
    kernel: (usize, usize),
    /// Whether a ReLU is fused into the output.
    relu: bool,
}

impl Conv2d {
    /// The gradient of the convolution's own output: `grad` through the fused ReLU, if any.
    fn pre_activation_grad(&self, grad: &Tensor, ys: &Tensor) -> Result<Tensor> {
        match self.relu {
            true => relu_grad(grad, ys),
            false => Ok(grad.clone()),
        }
    }

    fn forward(
        &self,
        (xs, xs_layout): (&CpuStorage, &Layout),
        (w, w_layout): (&CpuStorage, &Layout),
        bias: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let g = geometry(xs_layout.dims(), w_layout.dims(), self.stride, self.padding)?;
        let xs = contiguous_f32(xs, xs_layout, "conv2d input")?;
        let w = contiguous_f32(w, w_layout, "conv2d weight")?;
        let mut ys = conv_forward(&g, xs, w, bias);
        if self.relu {
            relu_in_place(&mut ys);
        }
        Ok((CpuStorage::F32(ys), (g.batch, g.c_out, g.ho, g.wo).into()))
    }

    /// Gradients of the input and of the weight, each only when `xs` or `weight` is tracked.
    fn backward(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (_, _, h, w) = xs.dims4()?;
        let dxs = if xs.track_op() {
            let op = ConvInputGrad {
                conv: *self,
                input_hw: (h, w),
            };
            Some(grad.apply_op2_no_bwd(weight, &op)?)
        } else {
            None
        };
        let dw = if weight.track_op() {
            Some(xs.apply_op2_no_bwd(&grad, &ConvWeightGrad { conv: *self })?)
        } else {
            None
        };
        Ok((dxs, dw))
    }
}

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "faststyle-conv2d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.forward((xs, xs_layout), (w, w_layout), None)
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        ys: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = self.pre_activation_grad(grad, ys)?;
        self.backward(xs, weight, &grad)
    }
}

impl CustomOp3 for Conv2d {
    fn name(&self) -> &'static str {
        "faststyle-conv2d-bias"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let b = contiguous_f32(b, b_layout, "conv2d bias")?;
        self.forward((xs, xs_layout), (w, w_layout), Some(b))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        ys: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = self.pre_activation_grad(grad, ys)?;
        let grad = &grad;
        let (dxs, dw) = self.backward(xs, weight, grad)?;
        let db = if bias.track_op() {
            Some(channel_sums(grad)?)
        } else {
            None
        };
        Ok((dxs, dw, db))
    }
}

/// The bias gradient: `grad` `(b, c, h, w)` summed over all but the channels. candle's
/// `sum((0, 2, 3))` takes a strided path that cost 6% of a training step.
fn channel_sums(grad: &Tensor) -> Result<Tensor> {
    if !takes_cpu_path(grad) {
        return grad.sum((0, 2, 3));
    }
    grad.contiguous()?.apply_op1_no_bwd(&ChannelSums)
}

struct ChannelSums;

impl CustomOp1 for ChannelSums {
    fn name(&self) -> &'static str {
        "faststyle-channel-sums"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let grad = contiguous_f32(storage, layout, "conv2d output gradient")?;
        let plane = h * w;
        let sums = (0..c)
            .into_par_iter()
            .map(|ch| {
                (0..b)
                    .map(|i| {
                        let at = (i * c + ch) * plane;
                        // f64 partial sums: a 1024x1024 plane adds a million terms.
                        grad[at..at + plane]
                            .iter()
                            .map(|&v| f64::from(v))
                            .sum::<f64>()
                    })
                    .sum::<f64>() as f32
            })
            .collect();
        Ok((CpuStorage::F32(sums), Shape::from(c)))
    }
}

/// The input gradient `(b, c_in, h, w)` of a [`Conv2d`] from its output gradient and weight.
/// Carries the input size, which a stride-2 output does not determine.
struct ConvInputGrad {
    conv: Conv2d,
    input_hw: (usize, usize),
}

impl CustomOp2 for ConvInputGrad {
    fn name(&self) -> &'static str {
        "faststyle-conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        grad: &CpuStorage,
        grad_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, _, _, _) = grad_layout.shape().dims4()?;
        let (_, c_in, _, _) = w_layout.shape().dims4()?;
        let (h, wd) = self.input_hw;
        let g = geometry(
            &[b, c_in, h, wd],
            w_layout.dims(),
            self.conv.stride,
            self.conv.padding,
        )?;
        check_output_grad(&g, grad_layout)?;
        let grad = contiguous_f32(grad, grad_layout, "conv2d output gradient")?;
        let w = contiguous_f32(w, w_layout, "conv2d weight")?;
        let dxs = conv_backward_input(&g, grad, w);
        Ok((CpuStorage::F32(dxs), (b, c_in, h, wd).into()))
    }
}

/// Both gradients of a convolution need an output gradient shaped like the output.
fn check_output_grad(g: &ConvGeometry, grad_layout: &Layout) -> Result<()> {
    if grad_layout.dims() != [g.batch, g.c_out, g.ho, g.wo] {
        bail!(
            "conv2d backward: gradient of shape {:?} for output {g:?}",
            grad_layout.dims()
        )
    }
    Ok(())
}

/// The weight gradient `(c_out, c_in, kh, kw)` of a [`Conv2d`] from its input and output gradient.
struct ConvWeightGrad {
    conv: Conv2d,
}

impl CustomOp2 for ConvWeightGrad {
    fn name(&self) -> &'static str {
        "faststyle-conv2d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xs_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c_in, _, _) = xs_layout.shape().dims4()?;
        let (_, c_out, _, _) = grad_layout.shape().dims4()?;
        let (kh, kw) = self.conv.kernel;
        let g = geometry(
            xs_layout.dims(),
            &[c_out, c_in, kh, kw],
            self.conv.stride,
            self.conv.padding,
        )?;
        check_output_grad(&g, grad_layout)?;
        let xs = contiguous_f32(xs, xs_layout, "conv2d input")?;
        let grad = contiguous_f32(grad, grad_layout, "conv2d output gradient")?;
        let dw = conv_backward_weight(&g, xs, grad);
        Ok((CpuStorage::F32(dw), (c_out, c_in, kh, kw).into()))
    }
}

/// The input gradient `(b, c_in, h, w)` of [`conv2d`] from the output gradient `grad` and the
/// weight, without autograd: what the backward pass computes, callable on its own (benchmarks,
/// hand-written backward passes). `input_hw` is needed because a stride-2 output size does not
/// determine its input size.
pub fn conv2d_input_grad(
    grad: &Tensor,
    weight: &Tensor,
    input_hw: (usize, usize),
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (b, _, _, _) = grad.dims4()?;
    let (_, c_in, kh, kw) = weight.dims4()?;
    let conv = Conv2d {
        stride,
        padding,
        kernel: (kh, kw),
        relu: false,
    };
    if !takes_cpu_path(grad) {
        let xs = Tensor::zeros(
            (b, c_in, input_hw.0, input_hw.1),
            grad.dtype(),
            grad.device(),
        )?;
        return candle_vector_jacobian(&xs, grad, "conv2d_input_grad", |xs| {
            candle_conv2d(xs, weight, None, stride, padding)
        });
    }
    let op = ConvInputGrad { conv, input_hw };
    grad.contiguous()?
        .apply_op2_no_bwd(&weight.contiguous()?, &op)
}

/// The weight gradient `(c_out, c_in, k, k)` of [`conv2d`] from its input `xs` and the output
/// gradient `grad`, without autograd.
pub fn conv2d_weight_grad(
    xs: &Tensor,
    grad: &Tensor,
    kernel: (usize, usize),
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (_, c_in, _, _) = xs.dims4()?;
    let (_, c_out, _, _) = grad.dims4()?;
    if !takes_cpu_path(xs) {
        let w = Tensor::zeros((c_out, c_in, kernel.0, kernel.1), xs.dtype(), xs.device())?;
        return candle_vector_jacobian(&w, grad, "conv2d_weight_grad", |w| {
            candle_conv2d(xs, w, None, stride, padding)
        });
    }
    let conv = Conv2d {
        stride,
        padding,
        kernel,
        relu: false,
    };
    xs.contiguous()?
        .apply_op2_no_bwd(&grad.contiguous()?, &ConvWeightGrad { conv })
}

/// `grad`ᵀ times the Jacobian of `f` at `at`, by candle's autograd: the fallback of the two
/// functions above on the devices and dtypes our kernels do not cover. `f` is linear in its
/// argument here, so the value of `at` does not matter, only its shape.
fn candle_vector_jacobian(
    at: &Tensor,
    grad: &Tensor,
    what: &str,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let var = candle_core::Var::from_tensor(at)?;
    let grads = (f(var.as_tensor())? * grad)?.sum_all()?.backward()?;
    match grads.get(&var) {
        Some(g) => Ok(g.clone()),
        None => bail!("{what}: candle returned no gradient"),
    }
}
