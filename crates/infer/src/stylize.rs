//! The user-facing pipeline for one image: resize, run each style's network, blend the styles,
//! then the colour work. [`crate::run_batch`] runs the same stages over many images.

use std::path::Path;

use candle_core::Device;
use faststyle_net::TransformerNet;
use image::imageops::FilterType;

use crate::{colour, forward, InferError, Picture, Tiling};

/// One trained style and its share in a blend.
#[derive(Debug, Clone)]
pub struct Style {
    /// The style's name from the checkpoint's metadata, or the file's stem without it.
    pub name: String,
    pub net: TransformerNet,
    /// Relative weight; [`Stylizer::new`] normalises the weights to sum to 1.
    pub weight: f32,
}

impl Style {
    /// Loads the checkpoint at `path` (plain tensors, no autograd) with the given weight.
    pub fn load(path: &Path, weight: f32, device: &Device) -> Result<Self, InferError> {
        let checkpoint = faststyle_net::load_checkpoint(path, device)?;
        let name = checkpoint
            .meta
            .map(|m| m.style.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "style".into())
            });
        Ok(Style {
            name,
            net: checkpoint.net,
            weight,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StylizeOptions {
    /// 0..1: 0 returns the photo, 1 the stylised image, in between a linear blend.
    pub strength: f32,
    /// Keep the photo's colours; take only the luminance of the stylised image.
    pub preserve_color: bool,
    /// Resize so that the long side is at most this many pixels, before anything else (the
    /// output then has the resized size). Never enlarges.
    pub max_size: Option<u32>,
    pub tiling: Tiling,
}

impl Default for StylizeOptions {
    fn default() -> Self {
        StylizeOptions {
            strength: 1.0,
            preserve_color: false,
            max_size: None,
            tiling: Tiling::default(),
        }
    }
}

/// The blended output of the styles' networks for one image, clamped to 8 bits.
#[derive(Debug, Clone)]
pub struct Painting {
    pub rgb: image::RgbImage,
}

/// Networks, options and the device they run on.
#[derive(Debug)]
pub struct Stylizer {
    styles: Vec<Style>,
    options: StylizeOptions,
    device: Device,
}

impl Stylizer {
    /// Checks the options and normalises the style weights to sum to 1.
    pub fn new(
        mut styles: Vec<Style>,
        options: StylizeOptions,
        device: Device,
    ) -> Result<Self, InferError> {
        let bad = |m: String| Err(InferError::Options(m));
        if styles.is_empty() {
            return bad("at least one style is needed".into());
        }
        if let Some(s) = styles
            .iter()
            .find(|s| !(s.weight.is_finite() && s.weight >= 0.0))
        {
            return bad(format!(
                "weight {} of style {} is not a finite number >= 0",
                s.weight, s.name
            ));
        }
        let total: f32 = styles.iter().map(|s| s.weight).sum();
        if !total.is_finite() {
            return bad("the style weights are too large to add up".into());
        }
        if total <= 0.0 {
            return bad("the style weights sum to 0".into());
        }
        styles.iter_mut().for_each(|s| s.weight /= total);
        if !(0.0..=1.0).contains(&options.strength) {
            return bad(format!("strength {} is not in 0..1", options.strength));
        }
        if options.max_size == Some(0) {
            return bad("max size 0".into());
        }
        let t = &options.tiling;
        if t.tile < 16 || t.max_untiled_pixels < 256 || t.stats_max_pixels < 256 {
            return bad(format!("tiling too small: {t:?}"));
        }
        Ok(Stylizer {
            styles,
            options,
            device,
        })
    }

    /// The styles, with their normalised weights.
    pub fn styles(&self) -> &[Style] {
        &self.styles
    }

    pub fn options(&self) -> &StylizeOptions {
        &self.options
    }

    /// The whole pipeline for one picture.
    pub fn stylize(&self, picture: Picture) -> Result<Picture, InferError> {
        let picture = self.prepare(picture);
        let painting = self.paint(&picture)?;
        Ok(self.finish(picture, painting))
    }

    /// Resizes to `max_size` if the picture is larger (alpha alike); cheap work, meant to run
    /// in parallel across a batch.
    pub fn prepare(&self, picture: Picture) -> Picture {
        let Some(max) = self.options.max_size else {
            return picture;
        };
        let (w, h) = (picture.width(), picture.height());
        if w.max(h) <= max {
            return picture;
        }
        let scale = f64::from(max) / f64::from(w.max(h));
        let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max);
        let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max);
        let filter = FilterType::CatmullRom;
        Picture {
            rgb: image::imageops::resize(&picture.rgb, nw, nh, filter),
            alpha: picture
                .alpha
                .map(|a| image::imageops::resize(&a, nw, nh, filter)),
        }
    }

    /// Runs every style's network on the picture and blends their outputs by weight. The
    /// expensive stage: one picture at a time, the kernels use all cores.
    pub fn paint(&self, picture: &Picture) -> Result<Painting, InferError> {
        if picture.width() == 0 || picture.height() == 0 {
            return Err(InferError::Options("an image without pixels".into()));
        }
        let mut planes: Vec<f32> = Vec::new();
        for style in &self.styles {
            let out = forward::run(&style.net, &picture.rgb, &self.options.tiling, &self.device)?;
            if planes.is_empty() {
                planes = out.into_iter().map(|v| v * style.weight).collect();
            } else {
                planes
                    .iter_mut()
                    .zip(out)
                    .for_each(|(acc, v)| *acc += v * style.weight);
            }
        }
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        Ok(Painting {
            rgb: colour::to_rgb8(&planes, w, h),
        })
    }

    /// Colour work, strength, clamping; the alpha channel passes through untouched.
    pub fn finish(&self, picture: Picture, painting: Painting) -> Picture {
        let o = &self.options;
        let rgb = colour::combine(&picture.rgb, &painting.rgb, o.strength, o.preserve_color);
        Picture {
            rgb,
            alpha: picture.alpha,
        }
    }
}
