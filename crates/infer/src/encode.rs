//! Pixels to bytes, in the format a file name's extension asks for.

use std::io::Cursor;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::ImageFormat;

use crate::{InferError, Picture};

/// JPEG quality of stylised outputs: high enough that brush strokes keep their texture.
const JPEG_QUALITY: u8 = 92;

/// The formats `faststyle apply` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Png,
    Jpeg,
    /// Lossless WebP (the only WebP encoder `image` has).
    Webp,
    Bmp,
    Tiff,
}

impl OutputFormat {
    /// The format for a file extension, case-insensitive (`"JPG"`, `"tiff"`, ...).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(Self::Png),
            "jpg" | "jpeg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            "bmp" => Some(Self::Bmp),
            "tif" | "tiff" => Some(Self::Tiff),
            _ => None,
        }
    }

    /// The format for `path`'s extension; an error naming the extension when it is unknown.
    pub fn from_path(path: &Path) -> Result<Self, InferError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_extension(&ext).ok_or_else(|| {
            InferError::UnknownFormat(if ext.is_empty() {
                "(no extension)".into()
            } else {
                format!(".{ext}")
            })
        })
    }

    /// The usual extension, for naming outputs.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
        }
    }

    /// Whether the format stores an alpha channel; JPEG does not, so alpha is dropped there.
    pub fn keeps_alpha(self) -> bool {
        self != Self::Jpeg
    }

    fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Webp => "WebP",
            Self::Bmp => "BMP",
            Self::Tiff => "TIFF",
        }
    }
}

/// Encodes `picture` as `format`, with its alpha channel where the format has one.
pub fn encode(picture: Picture, format: OutputFormat) -> Result<Vec<u8>, InferError> {
    let picture = if format.keeps_alpha() {
        picture
    } else {
        Picture {
            alpha: None,
            ..picture
        }
    };
    let img = picture.into_dynamic();
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        OutputFormat::Jpeg => {
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&img)
        }
        OutputFormat::Png => img.write_to(&mut out, ImageFormat::Png),
        OutputFormat::Webp => img.write_to(&mut out, ImageFormat::WebP),
        OutputFormat::Bmp => img.write_to(&mut out, ImageFormat::Bmp),
        OutputFormat::Tiff => img.write_to(&mut out, ImageFormat::Tiff),
    };
    result.map_err(|e| InferError::Encode {
        format: format.name(),
        reason: e.to_string(),
    })?;
    Ok(out.into_inner())
}
