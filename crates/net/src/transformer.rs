//! The transformer network, layer by layer.
//!
//! | module            | op                                              | output (input `(b, 3, h, w)`) |
//! |-------------------|-------------------------------------------------|-------------------------------|
//! | `conv1`, `in1`    | reflect pad 4, conv 9x9 3→32, IN, ReLU          | `(b, 32, h, w)`               |
//! | `conv2`, `in2`    | reflect pad 1, conv 3x3 stride 2 32→64, IN, ReLU | `(b, 64, h/2, w/2)`          |
//! | `conv3`, `in3`    | reflect pad 1, conv 3x3 stride 2 64→128, IN, ReLU | `(b, 128, h/4, w/4)`        |
//! | `res1`..`res5`    | x + IN(conv(ReLU(IN(conv(x))))), 3x3 128→128    | `(b, 128, h/4, w/4)`          |
//! | `deconv1`, `in4`  | upsample x2, reflect pad 1, conv 3x3 128→64, IN, ReLU | `(b, 64, h/2, w/2)`     |
//! | `deconv2`, `in5`  | upsample x2, reflect pad 1, conv 3x3 64→32, IN, ReLU | `(b, 32, h, w)`          |
//! | `deconv3`         | reflect pad 4, conv 9x9 32→3                    | `(b, 3, h, w)`                |
//!
//! Tensor names are the PyTorch `state_dict` keys of that project (`conv1.conv2d.weight`,
//! `in1.weight`, `res1.conv1.conv2d.weight`, ...), so its checkpoints load without renaming.
//! Pixels are 0..255 in and (roughly) 0..255 out; the output is not clamped.
//!
//! The output has the input's size when `h` and `w` are multiples of 4; otherwise the stride-2
//! convolutions round up and the caller crops (see `faststyle-infer`).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use faststyle_ops::{conv2d, instance_norm, reflection_pad2d, relu, upsample_nearest2x, NormStats};

/// Number of trainable parameters, the same as PyTorch's count for this architecture.
pub const TRANSFORMER_PARAMETERS: usize = 1_679_235;

/// PyTorch's default `eps` for `InstanceNorm2d`.
const IN_EPS: f64 = 1e-5;

/// How each instance normalisation gets its statistics during a forward pass.
pub enum NormMode<'a> {
    /// From the tensor it normalises (training and ordinary inference).
    Own,
    /// From the tensor it normalises, and appended to the vector in layer order.
    Record(&'a mut Vec<NormStats>),
    /// From the given statistics, one per normalisation in layer order (tiled inference).
    Given(&'a [NormStats]),
}

impl NormMode<'_> {
    fn apply(&mut self, layer: &InstanceNorm, xs: &Tensor, index: &mut usize) -> Result<Tensor> {
        let i = *index;
        *index += 1;
        match self {
            NormMode::Own => layer.forward_with(xs, None),
            NormMode::Record(out) => {
                let stats = NormStats::of(xs)?;
                let ys = layer.forward_with(xs, Some(&stats))?;
                out.push(stats);
                Ok(ys)
            }
            NormMode::Given(all) => match all.get(i) {
                Some(stats) => layer.forward_with(xs, Some(stats)),
                None => candle_core::bail!("no normalisation statistics for layer {i}"),
            },
        }
    }
}

/// Reflection padding by `k / 2`, then a `k`x`k` convolution (`ConvLayer` in pytorch/examples).
#[derive(Debug, Clone)]
struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    pad: usize,
}

impl ConvLayer {
    fn new(vb: VarBuilder, c_in: usize, c_out: usize, k: usize, stride: usize) -> Result<Self> {
        let vb = vb.pp("conv2d");
        Ok(Self {
            weight: vb.get((c_out, c_in, k, k), "weight")?,
            bias: vb.get(c_out, "bias")?,
            stride,
            pad: k / 2,
        })
    }
}

impl Module for ConvLayer {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = reflection_pad2d(xs, self.pad)?;
        conv2d(&xs, &self.weight, Some(&self.bias), self.stride, 0)
    }
}

#[derive(Debug, Clone)]
struct InstanceNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl InstanceNorm {
    fn new(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            gamma: vb.get(c, "weight")?,
            beta: vb.get(c, "bias")?,
        })
    }

    fn forward_with(&self, xs: &Tensor, stats: Option<&NormStats>) -> Result<Tensor> {
        instance_norm(xs, &self.gamma, &self.beta, IN_EPS, stats)
    }
}

#[derive(Debug, Clone)]
struct ResidualBlock {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
}

impl ResidualBlock {
    fn new(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            conv1: ConvLayer::new(vb.pp("conv1"), c, c, 3, 1)?,
            in1: InstanceNorm::new(vb.pp("in1"), c)?,
            conv2: ConvLayer::new(vb.pp("conv2"), c, c, 3, 1)?,
            in2: InstanceNorm::new(vb.pp("in2"), c)?,
        })
    }

    fn forward(&self, xs: &Tensor, norm: &mut NormMode, n: &mut usize) -> Result<Tensor> {
        let ys = self.conv1.forward(xs)?;
        let ys = norm.apply(&self.in1, &ys, n)?;
        let ys = relu(&ys)?;
        let ys = self.conv2.forward(&ys)?;
        let ys = norm.apply(&self.in2, &ys, n)?;
        ys + xs
    }
}

/// The transformer network. Holds its weights as tensors: built from a `VarMap`'s `VarBuilder`
/// they are trainable variables, built from a checkpoint they are plain tensors.
#[derive(Debug, Clone)]
pub struct TransformerNet {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
    conv3: ConvLayer,
    in3: InstanceNorm,
    res: [ResidualBlock; 5],
    deconv1: ConvLayer,
    in4: InstanceNorm,
    deconv2: ConvLayer,
    in5: InstanceNorm,
    deconv3: ConvLayer,
}

impl TransformerNet {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let res = |i: usize| ResidualBlock::new(vb.pp(format!("res{i}")), 128);
        Ok(Self {
            conv1: ConvLayer::new(vb.pp("conv1"), 3, 32, 9, 1)?,
            in1: InstanceNorm::new(vb.pp("in1"), 32)?,
            conv2: ConvLayer::new(vb.pp("conv2"), 32, 64, 3, 2)?,
            in2: InstanceNorm::new(vb.pp("in2"), 64)?,
            conv3: ConvLayer::new(vb.pp("conv3"), 64, 128, 3, 2)?,
            in3: InstanceNorm::new(vb.pp("in3"), 128)?,
            res: [res(1)?, res(2)?, res(3)?, res(4)?, res(5)?],
            deconv1: ConvLayer::new(vb.pp("deconv1"), 128, 64, 3, 1)?,
            in4: InstanceNorm::new(vb.pp("in4"), 64)?,
            deconv2: ConvLayer::new(vb.pp("deconv2"), 64, 32, 3, 1)?,
            in5: InstanceNorm::new(vb.pp("in5"), 32)?,
            deconv3: ConvLayer::new(vb.pp("deconv3"), 32, 3, 9, 1)?,
        })
    }

    /// Number of instance normalisations, the length of a [`NormMode::Record`]ed vector.
    pub const NORM_LAYERS: usize = 15;

    /// Stylises `xs` `(b, 3, h, w)`, pixels 0..255.
    pub fn forward_with(&self, xs: &Tensor, mut norm: NormMode) -> Result<Tensor> {
        let n = &mut 0;
        let norm = &mut norm;
        let ys = self.conv1.forward(xs)?;
        let ys = norm.apply(&self.in1, &ys, n)?;
        let ys = relu(&ys)?;
        let ys = self.conv2.forward(&ys)?;
        let ys = norm.apply(&self.in2, &ys, n)?;
        let ys = relu(&ys)?;
        let ys = self.conv3.forward(&ys)?;
        let ys = norm.apply(&self.in3, &ys, n)?;
        let mut ys = relu(&ys)?;
        for block in &self.res {
            ys = block.forward(&ys, norm, n)?;
        }
        let ys = self.deconv1.forward(&upsample_nearest2x(&ys)?)?;
        let ys = norm.apply(&self.in4, &ys, n)?;
        let ys = relu(&ys)?;
        let ys = self.deconv2.forward(&upsample_nearest2x(&ys)?)?;
        let ys = norm.apply(&self.in5, &ys, n)?;
        let ys = relu(&ys)?;
        self.deconv3.forward(&ys)
    }
}

impl Module for TransformerNet {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_with(xs, NormMode::Own)
    }
}
