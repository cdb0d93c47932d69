//! The operations faststyle's networks are made of, as functions on candle tensors.
//!
//! Every network in the project (the transformer, the VGG16 loss network and the pixels of the
//! slow method) goes through these functions rather than candle's own ops, for two reasons:
//! - correctness: candle 0.11's backward passes for 2x2 max-pooling, nearest upsampling and
//!   stride-2 convolution are wrong or fail on some shapes (see each function);
//! - speed: on the CPU these are the places where time is spent.
//!
//! Tensors are NCHW, `f32`. Each function keeps candle's autograd working: its gradient is
//! defined with the function.

mod conv;
mod conv_kernels;
mod cpu;
mod gram;
mod im2col;
mod instance_norm;
mod pad;
mod pool;
mod relu;
mod upsample;
mod winograd;

pub use conv::{conv2d, conv2d_input_grad, conv2d_relu, conv2d_weight_grad};
pub use gram::gram;
pub use instance_norm::{instance_norm, NormStats};
pub use pad::reflection_pad2d;
pub use pool::max_pool2x2;
pub use relu::relu;
pub use upsample::upsample_nearest2x;
