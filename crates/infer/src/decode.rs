//! Bytes to pixels: any format `image` reads, as 8-bit RGB plus the alpha channel if any.
//!
//! - The header is read first, with no limits, only to learn the claimed size; a size beyond
//!   [`DecodeLimits`] is refused there, before a single pixel buffer exists. The decode itself
//!   then runs under `image`'s allocation limit as a second line of defence.
//! - EXIF orientation is applied, so a portrait taken with a rotated phone stays a portrait.
//! - Grayscale, palette, 16-bit and CMYK (JPEG) inputs all become RGB; alpha is kept apart,
//!   untouched, because only the colour is repainted.
//! - JPEG decoders fill a truncated file with grey instead of failing, so a JPEG whose scan
//!   data stops before the end-of-image marker is reported as truncated here.

use std::io::Cursor;

use image::{
    DynamicImage, GrayImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage,
};

use crate::InferError;

/// An image as the library handles it: 8-bit RGB, and the alpha channel kept as it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub rgb: RgbImage,
    /// Same width and height as `rgb`; `None` for opaque formats.
    pub alpha: Option<GrayImage>,
}

impl Picture {
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    pub fn height(&self) -> u32 {
        self.rgb.height()
    }

    /// Splits a decoded image into RGB and alpha, converting any depth and colour type.
    pub fn from_dynamic(img: DynamicImage) -> Self {
        if !img.color().has_alpha() {
            return Picture {
                rgb: img.into_rgb8(),
                alpha: None,
            };
        }
        let rgba = img.into_rgba8();
        let (w, h) = rgba.dimensions();
        let n = w as usize * h as usize;
        let (mut rgb, mut alpha) = (Vec::with_capacity(3 * n), Vec::with_capacity(n));
        for px in rgba.as_raw().chunks_exact(4) {
            rgb.extend_from_slice(&px[..3]);
            alpha.push(px[3]);
        }
        Picture {
            rgb: RgbImage::from_raw(w, h, rgb).expect("3 bytes per pixel"),
            alpha: Some(GrayImage::from_raw(w, h, alpha).expect("1 byte per pixel")),
        }
    }

    /// Joins RGB and alpha again: `Rgba8` when there is alpha, `Rgb8` otherwise.
    pub fn into_dynamic(self) -> DynamicImage {
        let Some(alpha) = self.alpha else {
            return DynamicImage::ImageRgb8(self.rgb);
        };
        let (w, h) = self.rgb.dimensions();
        let mut rgba = Vec::with_capacity(4 * w as usize * h as usize);
        for (px, a) in self.rgb.as_raw().chunks_exact(3).zip(alpha.as_raw()) {
            rgba.extend_from_slice(px);
            rgba.push(*a);
        }
        DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, rgba).expect("4 bytes per pixel"))
    }
}

/// How large an image [`decode`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Width times height, at most.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    /// 120 megapixels: larger than any camera's photo, small enough that the decoded image and
    /// the stylised output fit in a few GiB.
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 120_000_000,
        }
    }
}

/// Decodes the image in `bytes`, its format guessed from its content.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Picture, InferError> {
    let format = image::guess_format(bytes).map_err(|_| InferError::NotAnImage)?;

    let mut probe = ImageReader::with_format(Cursor::new(bytes), format);
    probe.no_limits();
    let (width, height) = probe.into_dimensions().map_err(from_image_error)?;
    let (width, height) = (u64::from(width), u64::from(height));
    if width == 0 || height == 0 {
        return Err(InferError::Corrupt(format!("{width}x{height} pixels")));
    }
    if width * height > limits.max_pixels {
        return Err(InferError::TooLarge {
            width,
            height,
            limit_megapixels: limits.max_pixels / 1_000_000,
        });
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    // 16-bit RGBA is 8 bytes a pixel; the slack covers decoders' working buffers.
    image_limits.max_alloc = Some(limits.max_pixels * 8 + (256 << 20));
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(from_image_error)?;
    // A malformed EXIF block should not cost the user the whole picture: no rotation then.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(from_image_error)?;
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        return Err(InferError::Corrupt(
            "the JPEG data ends before its end-of-image marker".into(),
        ));
    }
    img.apply_orientation(orientation);
    Ok(Picture::from_dynamic(img))
}

fn from_image_error(e: ImageError) -> InferError {
    match e {
        ImageError::Unsupported(_) => InferError::NotAnImage,
        ImageError::Limits(l) => InferError::Corrupt(format!("over the decoder's limits: {l}")),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            InferError::Corrupt("unexpected end of file".into())
        }
        other => InferError::Corrupt(other.to_string()),
    }
}

/// Whether the JPEG in `bytes` has an end-of-image marker after its first scan.
///
/// Walks the marker segments by their lengths up to the first start-of-scan (so that the
/// markers of an EXIF thumbnail inside APP1 are skipped), then looks for `FF D9` in the
/// entropy-coded data, where a literal `FF` byte is always stuffed as `FF 00`.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let mut i = 2; // after SOI
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            let scan = bytes.get(i + 2 + len..).unwrap_or_default();
            return scan.windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        i += 2 + len;
    }
    false
}
