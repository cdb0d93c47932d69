//! Bytes to repainted bytes for one request, through `faststyle-infer`: decode with the
//! server's pixel limit (EXIF orientation applied, alpha kept), stylise (reflection padding,
//! tiles for large photos so memory stays bounded), encode in the upload's own format.
//! The server's only contact with the image library; the mapping of its errors to
//! "the upload's fault" (400) or "the server's fault" (500) lives here.

use candle_core::Device;
use faststyle_infer::{
    decode, encode, DecodeLimits, InferError, OutputFormat, Style, StylizeOptions, Stylizer,
};
use image::ImageFormat;

use crate::engine::EngineOptions;
use crate::painter::{PaintError, PaintOutput, PaintRequest};

/// The format to answer an upload of `bytes` in: its own when the library writes it, else PNG
/// (GIF, for instance).
pub fn format_for_upload(bytes: &[u8]) -> OutputFormat {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => OutputFormat::Jpeg,
        Ok(ImageFormat::WebP) => OutputFormat::Webp,
        Ok(ImageFormat::Bmp) => OutputFormat::Bmp,
        Ok(ImageFormat::Tiff) => OutputFormat::Tiff,
        _ => OutputFormat::Png,
    }
}

pub fn content_type(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Png => "image/png",
        OutputFormat::Jpeg => "image/jpeg",
        OutputFormat::Webp => "image/webp",
        OutputFormat::Bmp => "image/bmp",
        OutputFormat::Tiff => "image/tiff",
    }
}

/// Repaints `request.image` with `style`: the whole pipeline, run on a blocking thread.
pub fn paint(
    style: &Style,
    request: &PaintRequest,
    limits: &EngineOptions,
    device: &Device,
) -> Result<PaintOutput, PaintError> {
    let format = format_for_upload(&request.image);
    let decode_limits = DecodeLimits {
        max_pixels: limits.max_pixels,
    };
    let picture = decode(&request.image, &decode_limits).map_err(paint_error)?;
    let options = StylizeOptions {
        strength: request.strength,
        preserve_color: request.preserve_color,
        max_size: None,
        tiling: limits.tiling.clone(),
    };
    // A stylizer per request is cheap: the network's tensors are shared, not copied.
    let stylizer =
        Stylizer::new(vec![style.clone()], options, device.clone()).map_err(paint_error)?;
    let art = stylizer.stylize(picture).map_err(paint_error)?;
    let (width, height) = (art.width(), art.height());
    let bytes = encode(art, format).map_err(paint_error)?;
    Ok(PaintOutput {
        bytes,
        content_type: content_type(format),
        extension: format.extension(),
        width,
        height,
    })
}

/// The library's errors about the input are the uploader's to fix; the rest are ours.
fn paint_error(e: InferError) -> PaintError {
    match e {
        InferError::NotAnImage
        | InferError::Corrupt(_)
        | InferError::TooLarge { .. }
        | InferError::UnknownFormat(_)
        | InferError::Options(_) => PaintError::Input(e.to_string()),
        InferError::Encode { .. } | InferError::Checkpoint(_) | InferError::Network(_) => {
            PaintError::Internal(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_answered_in_kind_or_as_png() {
        let encoded = |format: ImageFormat| {
            let mut out = std::io::Cursor::new(Vec::new());
            image::RgbImage::new(4, 3)
                .write_to(&mut out, format)
                .unwrap();
            out.into_inner()
        };
        assert_eq!(
            format_for_upload(&encoded(ImageFormat::Jpeg)),
            OutputFormat::Jpeg
        );
        assert_eq!(
            format_for_upload(&encoded(ImageFormat::WebP)),
            OutputFormat::Webp
        );
        assert_eq!(
            format_for_upload(&encoded(ImageFormat::Gif)),
            OutputFormat::Png
        );
        assert_eq!(format_for_upload(b"not an image"), OutputFormat::Png);
    }
}
