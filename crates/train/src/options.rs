//! The resolved options of a training run: everything that decides what the network learns.
//!
//! They travel in the checkpoint's metadata (`training`) and in the resume state, so a
//! checkpoint says how it was made and `--resume` can continue with the same options.

use std::path::PathBuf;

use faststyle_net::{CheckpointMeta, StyleInfo};
use serde::{Deserialize, Serialize};

use crate::download::sha256_hex;
use crate::loss_config::{LossConfig, LossWeights};
use crate::train_error::{TrainError, TrainResult};

/// Steps of the paper's recipe: two epochs of COCO 2014 (about 80k photos) at batch 4.
pub const DEFAULT_STEPS: u64 = 40_000;

/// The options of one run. Defaults are pytorch/examples' fast_neural_style recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainOptions {
    /// The painting.
    pub style_image: PathBuf,
    /// The folder of content photos.
    pub data: PathBuf,
    /// Side of the square training crops, pixels; a multiple of 4.
    pub image_size: u32,
    /// Long side the style image is scaled to before its Gram matrices are taken; `None`
    /// takes it as it is (pytorch/examples' default). Gram matrices are normalised by size,
    /// but what counts as a brush stroke is not: a smaller style image gives larger strokes.
    pub style_size: Option<u32>,
    pub batch_size: usize,
    /// Total steps of the run (a resumed run continues up to this many).
    pub steps: u64,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seeds the initial weights, the order of the photos and their crops.
    pub seed: u64,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    /// The VGG16 tap of the content loss (`relu2_2`).
    pub content_layer: String,
    /// The VGG16 taps of the style loss with their weights, `relu1_2:1,relu2_2:1,...`.
    pub style_layers: String,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            style_image: PathBuf::new(),
            data: PathBuf::from("training-data"),
            image_size: 256,
            style_size: None,
            batch_size: 4,
            steps: DEFAULT_STEPS,
            lr: 1e-3,
            seed: 42,
            content_weight: 1e5,
            style_weight: 1e10,
            tv_weight: 0.0,
            content_layer: "relu2_2".to_owned(),
            style_layers: "relu1_2:1,relu2_2:1,relu3_3:1,relu4_3:1".to_owned(),
        }
    }
}

impl TrainOptions {
    /// Checks the numbers (the files are checked where they are opened).
    pub fn validate(&self) -> TrainResult<()> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if !self.image_size.is_multiple_of(4) || !(16..=4096).contains(&self.image_size) {
            return bad(format!(
                "--image-size {} must be a multiple of 4 between 16 and 4096",
                self.image_size
            ));
        }
        if let Some(size) = self.style_size {
            if !(16..=8192).contains(&size) {
                return bad(format!("--style-size {size} must be between 16 and 8192"));
            }
        }
        if !(1..=1024).contains(&self.batch_size) {
            return bad(format!(
                "--batch-size {} must be between 1 and 1024",
                self.batch_size
            ));
        }
        if self.steps == 0 {
            return bad("--steps must be at least 1".to_owned());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("--lr {} must be a positive number", self.lr));
        }
        for (name, w) in [
            ("--content-weight", self.content_weight),
            ("--style-weight", self.style_weight),
            ("--tv-weight", self.tv_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return bad(format!("{name} {w} must be a finite number >= 0"));
            }
        }
        self.loss_config()?.validate()?;
        Ok(())
    }

    /// The loss layers and weights, parsed.
    pub fn loss_config(&self) -> TrainResult<LossConfig> {
        let weights = LossWeights {
            content: self.content_weight,
            style: self.style_weight,
            tv: self.tv_weight,
        };
        Ok(LossConfig::from_names(
            &self.content_layer,
            &self.style_layers,
            weights,
        )?)
    }

    /// The checkpoint metadata of a run with these options: the style named after the style
    /// image's file stem, with the image's sha256, and this code's version. The trainer fills
    /// in `training` when it saves.
    pub fn checkpoint_meta(&self) -> TrainResult<CheckpointMeta> {
        let path = &self.style_image;
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(CheckpointMeta {
            style: StyleInfo {
                name,
                image_sha256: sha256_hex(&bytes),
                ..StyleInfo::default()
            },
            training: serde_json::Value::Null,
            code_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// Steps needed to show every photo of a data set of `photos` `epochs` times.
    pub fn steps_for_epochs(photos: usize, batch_size: usize, epochs: u64) -> u64 {
        (photos as u64 * epochs).div_ceil(batch_size as u64).max(1)
    }

    /// The options as JSON, for the checkpoint's metadata.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("options are plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_survive_json() {
        let options = TrainOptions::default();
        options.validate().unwrap();
        let back: TrainOptions = serde_json::from_value(options.to_json()).unwrap();
        assert_eq!(back, options);
    }

    #[test]
    fn rejects_sizes_the_network_cannot_take() {
        for size in [0, 30, 8, 8192] {
            let options = TrainOptions {
                image_size: size,
                ..Default::default()
            };
            assert!(options.validate().is_err(), "{size}");
        }
        let options = TrainOptions {
            lr: f64::NAN,
            ..Default::default()
        };
        assert!(options.validate().is_err());
        let options = TrainOptions {
            content_layer: "relu5_3".into(),
            ..Default::default()
        };
        assert!(options.validate().is_err());
    }

    #[test]
    fn epochs_round_up_to_whole_batches() {
        assert_eq!(TrainOptions::steps_for_epochs(34, 4, 1), 9);
        assert_eq!(TrainOptions::steps_for_epochs(34, 4, 2), 17);
        assert_eq!(TrainOptions::steps_for_epochs(3, 4, 1), 1);
    }
}
