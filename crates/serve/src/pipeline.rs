//! Bytes to repainted bytes for one request. INTERIM: a minimal stand-in for the `apply`
//! branch's decode / stylize / encode in `faststyle-infer`, with the same shape, so that
//! switching to the library touches only this file. Until then: no tiling, no alpha, edge
//! padding instead of reflection.

use std::io::Cursor;

use candle_core::{Device, Tensor};
use faststyle_net::TransformerNet;
use image::{ImageFormat, ImageReader, RgbImage};

use crate::painter::PaintError;

/// The formats answered in kind; any other upload is answered as PNG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Png,
    Jpeg,
    Webp,
    Bmp,
    Tiff,
}

impl OutputFormat {
    /// The format to answer an upload of `bytes` in: its own when we can write it, else PNG.
    pub fn for_upload(bytes: &[u8]) -> Self {
        match image::guess_format(bytes) {
            Ok(ImageFormat::Jpeg) => Self::Jpeg,
            Ok(ImageFormat::WebP) => Self::Webp,
            Ok(ImageFormat::Bmp) => Self::Bmp,
            Ok(ImageFormat::Tiff) => Self::Tiff,
            _ => Self::Png,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
        }
    }
}

/// Decodes `bytes`, refusing from the header alone an image of more than `max_pixels`.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, PaintError> {
    let format = image::guess_format(bytes).map_err(|_| {
        PaintError::Input("not an image (or in a format faststyle cannot read)".into())
    })?;
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| PaintError::Input(format!("unreadable image ({e})")))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 || pixels > max_pixels {
        return Err(PaintError::Input(format!(
            "the image claims {w}x{h} pixels; the limit is {:.0} megapixels",
            max_pixels as f64 / 1e6
        )));
    }
    let img = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| PaintError::Input(format!("truncated or corrupt image ({e})")))?;
    Ok(img.into_rgb8())
}

/// Runs `net` over `rgb`, then blends by `strength` and optionally keeps the photo's colours.
pub fn stylize(
    net: &TransformerNet,
    rgb: &RgbImage,
    strength: f32,
    preserve_color: bool,
    device: &Device,
) -> Result<RgbImage, PaintError> {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (pw, ph) = (w.div_ceil(4) * 4, h.div_ceil(4) * 4);
    let mut planes = vec![0f32; 3 * pw * ph];
    for y in 0..ph {
        for x in 0..pw {
            let px = rgb.get_pixel(x.min(w - 1) as u32, y.min(h - 1) as u32);
            for c in 0..3 {
                planes[c * pw * ph + y * pw + x] = f32::from(px[c]);
            }
        }
    }
    let internal = |e: candle_core::Error| PaintError::Internal(format!("the network failed: {e}"));
    let xs = Tensor::from_vec(planes, (1, 3, ph, pw), device).map_err(internal)?;
    let ys = candle_core::Module::forward(net, &xs).map_err(internal)?;
    let out = ys
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(internal)?;
    let mut result = RgbImage::new(w as u32, h as u32);
    for (x, y, px) in result.enumerate_pixels_mut() {
        let (x, y) = (x as usize, y as usize);
        let photo = rgb.get_pixel(x as u32, y as u32).0.map(f32::from);
        let mut art = [0f32; 3];
        for (c, v) in art.iter_mut().enumerate() {
            *v = out[c * pw * ph + y * pw + x].clamp(0.0, 255.0);
        }
        if preserve_color {
            art = keep_colours(photo, art);
        }
        for c in 0..3 {
            px[c] = (strength * art[c] + (1.0 - strength) * photo[c]).round() as u8;
        }
    }
    Ok(result)
}

/// The luminance of `art` with the chroma of `photo` (BT.601 YCbCr).
fn keep_colours(photo: [f32; 3], art: [f32; 3]) -> [f32; 3] {
    let luma = |p: [f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    let shift = luma(art) - luma(photo);
    photo.map(|v| (v + shift).clamp(0.0, 255.0))
}

pub fn encode(rgb: &RgbImage, format: OutputFormat) -> Result<Vec<u8>, PaintError> {
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        OutputFormat::Jpeg => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(rgb)
        }
        OutputFormat::Png => rgb.write_to(&mut out, ImageFormat::Png),
        OutputFormat::Webp => rgb.write_to(&mut out, ImageFormat::WebP),
        OutputFormat::Bmp => rgb.write_to(&mut out, ImageFormat::Bmp),
        OutputFormat::Tiff => rgb.write_to(&mut out, ImageFormat::Tiff),
    };
    result.map_err(|e| PaintError::Internal(format!("cannot encode the result: {e}")))?;
    Ok(out.into_inner())
}
