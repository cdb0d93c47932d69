//! Reading the photo and paintings, and writing results, for `faststyle optimize` (and
//! `faststyle eval`).
//!
//! Decoding is faststyle-infer's, as for `apply`: the same formats, size limits, EXIF
//! orientation and error messages. Images leave this module as planar RGB `f32`, `(3, h, w)`
//! flattened, pixels 0..255: the data of the `(1, 3, h, w)` tensors the loss network takes.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use faststyle_infer::{DecodeLimits, Picture};
use image::imageops::FilterType;
use image::{ImageFormat, RgbImage};

/// JPEG quality of written results: high, since the image took minutes to make.
const JPEG_QUALITY: u8 = 95;

/// A planar RGB image, pixels 0..255.
#[derive(Debug, Clone)]
pub struct Planar {
    pub width: usize,
    pub height: usize,
    /// `3 * height * width` values, channel by channel.
    pub data: Vec<f32>,
}

/// Decodes `path` upright (EXIF orientation), flattens any transparency onto white, and
/// returns it in 8-bit RGB. Errors name the file.
pub fn decode(path: &Path) -> Result<RgbImage> {
    let shown = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("{shown}: cannot read"))?;
    let picture = faststyle_infer::decode(&bytes, &DecodeLimits::default())
        .map_err(|e| anyhow!("{shown}: {e}"))?;
    Ok(flatten_on_white(picture))
}

/// The RGB of `picture`, with transparent pixels composited over white (what a viewer shows).
fn flatten_on_white(picture: Picture) -> RgbImage {
    let Picture { mut rgb, alpha } = picture;
    if let Some(alpha) = alpha {
        for (px, a) in rgb.pixels_mut().zip(alpha.pixels()) {
            let a = f32::from(a[0]) / 255.0;
            for c in px.0.iter_mut() {
                *c = (f32::from(*c) * a + 255.0 * (1.0 - a))
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
        }
    }
    rgb
}

/// The size with `long_side` as its longer side and the aspect ratio of `(width, height)`.
pub fn fit_long_side(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let scale = f64::from(long_side) / f64::from(width.max(height));
    let fit = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
    (fit(width), fit(height))
}

/// `image` resized to `(width, height)` (unchanged if it already is), as planar `f32`.
pub fn to_planar(image: &RgbImage, width: u32, height: u32) -> Planar {
    let resized;
    let image = if image.dimensions() == (width, height) {
        image
    } else {
        resized = image::imageops::resize(image, width, height, FilterType::Lanczos3);
        &resized
    };
    let (w, h) = (width as usize, height as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, p) in image.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = f32::from(p[c]);
        }
    }
    Planar {
        width: w,
        height: h,
        data,
    }
}

/// The format `path`'s extension asks for, or an error listing those we write.
pub fn output_format(path: &Path) -> Result<ImageFormat> {
    let format = path
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ImageFormat::from_extension);
    match format {
        Some(
            f @ (ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Tiff),
        ) => Ok(f),
        _ => bail!(
            "{}: unknown output format; use .png, .jpg, .jpeg, .webp, .bmp or .tif",
            path.display()
        ),
    }
}

/// Writes `image` (planar, any range: clamped to 0..255 and rounded) to `path` in `format`,
/// atomically: a crash never leaves a half-written file.
pub fn write(path: &Path, format: ImageFormat, image: &Planar) -> Result<()> {
    let (w, h) = (image.width, image.height);
    let rgb = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        let px = |c: usize| image.data[c * w * h + i].round().clamp(0.0, 255.0) as u8;
        image::Rgb([px(0), px(1), px(2)])
    });
    let mut bytes = Vec::new();
    let mut cursor = std::io::Cursor::new(&mut bytes);
    if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut cursor, JPEG_QUALITY);
        rgb.write_with_encoder(encoder)
    } else {
        rgb.write_to(&mut cursor, format)
    }
    .with_context(|| format!("{}: cannot encode", path.display()))?;
    faststyle_net::atomic::write_atomic(path, &bytes)
        .with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_aspect_ratio() {
        assert_eq!(fit_long_side(4000, 3000, 512), (512, 384));
        assert_eq!(fit_long_side(3000, 4000, 512), (384, 512));
        assert_eq!(fit_long_side(72, 52, 144), (144, 104));
        assert_eq!(fit_long_side(10_000, 10, 512), (512, 1));
    }

    #[test]
    fn planar_layout_is_channel_by_channel() {
        let img = RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8, y as u8, 200]));
        let p = to_planar(&img, 3, 2);
        assert_eq!((p.width, p.height), (3, 2));
        assert_eq!(&p.data[..6], &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        assert_eq!(&p.data[6..12], &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert!(p.data[12..].iter().all(|&v| v == 200.0));
    }

    #[test]
    fn only_known_extensions_are_accepted() {
        assert_eq!(
            output_format(Path::new("a/out.PNG")).unwrap(),
            ImageFormat::Png
        );
        assert_eq!(
            output_format(Path::new("out.jpeg")).unwrap(),
            ImageFormat::Jpeg
        );
        assert!(output_format(Path::new("out.txt")).is_err());
        assert!(output_format(Path::new("out")).is_err());
    }

    #[test]
    fn written_images_read_back() {
        let dir = std::env::temp_dir().join(format!("faststyle-images-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("roundtrip.png");
        let data: Vec<f32> = (0..3 * 4 * 3).map(|i| (i * 7) as f32 - 10.0).collect();
        let planar = Planar {
            width: 4,
            height: 3,
            data,
        };
        write(&path, ImageFormat::Png, &planar).unwrap();
        let back = to_planar(&decode(&path).unwrap(), 4, 3);
        let clamped: Vec<f32> = planar.data.iter().map(|v| v.clamp(0.0, 255.0)).collect();
        assert_eq!(back.data, clamped);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
