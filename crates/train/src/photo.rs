//! One image in, one tensor out (and back): decoding, resizing, the training crop, PNG output.
//!
//! Tensors are `(3, h, w)` or `(1, 3, h, w)`, `f32` RGB with pixels 0..255, the range the
//! transformer and the VGG16 loss network take (the loss network normalises internally).

use std::io::Cursor as IoCursor;
use std::path::Path;

use candle_core::{Device, Tensor};
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};

use crate::rng::Rng;
use crate::train_error::{TrainError, TrainResult};

/// How to size an image as it is loaded. Sides are in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Keep the file's size.
    AsIs,
    /// Scale so that the longer side is this long, keeping the aspect ratio.
    LongSide(u32),
    /// Scale so that the shorter side is this long, keeping the aspect ratio, then crop the
    /// other side (centred) down to a multiple of 4, so the transformer's output has the same
    /// size as its input.
    ShortSideMultipleOf4(u32),
}

/// Decodes `path` as RGB with faststyle-infer's decoder, as `apply` reads images: the format
/// guessed from the content, EXIF orientation applied, size limits, truncated JPEGs refused.
/// Decoder panics on hostile files are caught and reported as errors: a data set of 80,000
/// downloaded photos must not stop a run.
pub fn decode_rgb(path: &Path) -> Result<RgbImage, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let picture = std::panic::catch_unwind(|| {
        faststyle_infer::decode(&bytes, &faststyle_infer::DecodeLimits::default())
            .map_err(|e| e.to_string())
    })
    .map_err(|_| "the image decoder crashed on this file".to_owned())??;
    Ok(picture.rgb)
}

/// Loads `path` as a `(1, 3, h, w)` tensor on `device`, sized by `resize`.
pub fn load_image(path: &Path, resize: Resize, device: &Device) -> TrainResult<Tensor> {
    let rgb = decode_rgb(path).map_err(|reason| TrainError::image(path, reason))?;
    let (w, h) = rgb.dimensions();
    let rgb = match resize {
        Resize::AsIs => rgb,
        Resize::LongSide(side) => {
            let scale = side as f64 / w.max(h) as f64;
            let (nw, nh) = scaled(w, h, scale);
            image::imageops::resize(&rgb, nw, nh, FilterType::Triangle)
        }
        Resize::ShortSideMultipleOf4(side) => {
            if side < 4 {
                return Err(TrainError::image(path, "cannot scale below 4 pixels"));
            }
            let scale = side as f64 / w.min(h) as f64;
            let (nw, nh) = scaled(w, h, scale);
            let resized = image::imageops::resize(&rgb, nw, nh, FilterType::Triangle);
            let (cw, ch) = (nw / 4 * 4, nh / 4 * 4);
            image::imageops::crop_imm(&resized, (nw - cw) / 2, (nh - ch) / 2, cw, ch).to_image()
        }
    };
    Ok(to_chw(&rgb, false, device)?.unsqueeze(0)?)
}

/// The training view of a photo: scaled so that its shorter side is `size`, a random
/// `size`x`size` crop along the longer side, and a horizontal flip half of the time, as
/// `(3, size, size)` values in `out` (`3 * size * size` long). `rng` draws the crop's x, its y,
/// then the flip, always in that order.
pub fn training_crop(rgb: &RgbImage, size: u32, rng: &mut Rng, out: &mut [f32]) {
    let (w, h) = rgb.dimensions();
    let scale = size as f64 / w.min(h) as f64;
    let (nw, nh) = scaled(w, h, scale);
    let (nw, nh) = (nw.max(size), nh.max(size));
    let resized = image::imageops::resize(rgb, nw, nh, FilterType::Triangle);
    let x0 = rng.below((nw - size + 1) as u64) as u32;
    let y0 = rng.below((nh - size + 1) as u64) as u32;
    let flip = rng.coin();
    let s = size as usize;
    for y in 0..size {
        for x in 0..size {
            let sx = if flip { x0 + size - 1 - x } else { x0 + x };
            let pixel = resized.get_pixel(sx, y0 + y).0;
            let at = y as usize * s + x as usize;
            for (c, &value) in pixel.iter().enumerate() {
                out[c * s * s + at] = value as f32;
            }
        }
    }
}

/// Writes `image` (`(1, 3, h, w)` or `(3, h, w)`, 0..255, clamped here) to `path` as a PNG,
/// atomically.
pub fn save_png(image: &Tensor, path: &Path) -> TrainResult<()> {
    let image = if image.rank() == 4 {
        image.squeeze(0)?
    } else {
        image.clone()
    };
    let (c, h, w) = image.dims3()?;
    if c != 3 {
        return Err(TrainError::Config(format!(
            "an image to save needs 3 channels, got {c}"
        )));
    }
    let hwc = image
        .clamp(0f32, 255f32)?
        .round()?
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let bytes: Vec<u8> = hwc.into_iter().map(|v| v as u8).collect();
    let rgb = RgbImage::from_raw(w as u32, h as u32, bytes).expect("length is 3 * h * w");
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(rgb)
        .write_to(&mut IoCursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| TrainError::image(path, e))?;
    faststyle_net::atomic::write_atomic(path, &png).map_err(|e| TrainError::io(path, e))
}

/// `(3, h, w)` f32 0..255, optionally flipped left to right.
fn to_chw(rgb: &RgbImage, flip: bool, device: &Device) -> candle_core::Result<Tensor> {
    let (w, h) = rgb.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0f32; 3 * h * w];
    for (x, y, pixel) in rgb.enumerate_pixels() {
        let x = if flip { w - 1 - x as usize } else { x as usize };
        for c in 0..3 {
            data[c * h * w + y as usize * w + x] = pixel.0[c] as f32;
        }
    }
    Tensor::from_vec(data, (3, h, w), device)
}

/// `(w, h)` times `scale`, rounded, at least one pixel each.
fn scaled(w: u32, h: u32, scale: f64) -> (u32, u32) {
    let side = |v: u32| ((v as f64 * scale).round() as u32).max(1);
    (side(w), side(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 6x4 image whose red channel is the x coordinate and green the y coordinate.
    fn ramp(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]))
    }

    #[test]
    fn crop_of_an_image_already_at_size_is_the_image_or_its_mirror() {
        let rgb = ramp(4, 4);
        let mut out = vec![0f32; 3 * 16];
        let mut flips = [false; 2];
        for seed in 0..16 {
            training_crop(&rgb, 4, &mut Rng::new(seed), &mut out);
            let row0 = &out[0..4];
            let flipped = row0 == [3.0, 2.0, 1.0, 0.0];
            assert!(flipped || row0 == [0.0, 1.0, 2.0, 3.0], "{row0:?}");
            flips[flipped as usize] = true;
            // The green channel is the row index whatever the flip.
            assert_eq!(&out[16 + 4..16 + 8], [1.0; 4]);
            assert_eq!(&out[32..36], [7.0; 4]);
        }
        assert_eq!(flips, [true, true], "both flips occur");
    }

    #[test]
    fn crop_of_a_wide_image_moves_along_the_long_side() {
        let rgb = ramp(12, 4);
        let mut out = vec![0f32; 3 * 16];
        let mut starts = std::collections::BTreeSet::new();
        for seed in 0..64 {
            training_crop(&rgb, 4, &mut Rng::new(seed), &mut out);
            let first = out[0].min(out[3]);
            starts.insert(first as u32);
        }
        assert_eq!(starts.len(), 9, "every x offset 0..=8 is drawn: {starts:?}");
    }

    #[test]
    fn png_round_trip_keeps_a_non_square_image() {
        let dir = std::env::temp_dir().join(format!("faststyle-photo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ramp.png");
        let t = to_chw(&ramp(6, 4), false, &Device::Cpu).unwrap();
        save_png(&t, &path).unwrap();
        let back = load_image(&path, Resize::AsIs, &Device::Cpu).unwrap();
        assert_eq!(back.dims(), [1, 3, 4, 6]);
        let diff = (back.squeeze(0).unwrap() - &t).unwrap().abs().unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        let small = load_image(&path, Resize::ShortSideMultipleOf4(8), &Device::Cpu).unwrap();
        assert_eq!(small.dims(), [1, 3, 8, 12]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
