//! Gallery thumbnails: the style's painting (`<name>.jpg` beside its checkpoint) scaled down
//! once at start-up and kept in memory, or a drawn placeholder when there is no painting.

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{ImageReader, Limits};

/// Long side of a thumbnail, in pixels: sharp at twice the page's 120-pixel tiles.
pub const THUMBNAIL_SIDE: u32 = 240;
/// A preview larger than this is not decoded (a malformed or enormous file in checkpoints/).
const MAX_PREVIEW_BYTES: u64 = 256 << 20;
const JPEG_QUALITY: u8 = 85;

/// An encoded image ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// The thumbnail of the painting at `path`, at most [`THUMBNAIL_SIDE`] a side.
pub fn from_preview(path: &Path) -> Result<Thumbnail, String> {
    let describe = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| describe(&e))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PREVIEW_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| describe(&e))?;
    let small = img.resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, FilterType::Triangle);
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(&small.into_rgb8())
        .map_err(|e| describe(&e))?;
    Ok(Thumbnail {
        bytes,
        content_type: "image/jpeg",
    })
}

/// A square SVG tile in a colour derived from the name, with the name written on it, so
/// styles without a painting still look distinct in the gallery.
pub fn placeholder(name: &str) -> Thumbnail {
    // FNV-1a: a stable hue per name, across runs and platforms.
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let hue = hash % 360;
    let label: String = escape_xml(name).chars().take(80).collect();
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl({hue},55%,62%)"/><stop offset="1" stop-color="hsl({hue2},45%,32%)"/></linearGradient></defs><rect width="{s}" height="{s}" fill="url(#g)"/><text x="50%" y="54%" text-anchor="middle" font-family="sans-serif" font-size="22" fill="#fff">{label}</text></svg>"##,
        s = THUMBNAIL_SIDE,
        hue2 = (hue + 40) % 360,
    );
    Thumbnail {
        bytes: svg.into_bytes(),
        content_type: "image/svg+xml",
    }
}

/// Style names come from file names, which may hold `<` or `&`.
fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_svg_and_escapes_the_name() {
        let t = placeholder("a<b&c");
        let text = String::from_utf8(t.bytes).unwrap();
        assert_eq!(t.content_type, "image/svg+xml");
        assert!(text.starts_with("<svg"));
        assert!(text.contains("a&lt;b&amp;c"));
        assert_eq!(placeholder("x").bytes, placeholder("x").bytes);
    }

    #[test]
    fn preview_is_scaled_to_the_thumbnail_side() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        image::RgbImage::from_pixel(600, 300, image::Rgb([200, 40, 10]))
            .save(&path)
            .unwrap();
        let t = from_preview(&path).unwrap();
        let img = image::load_from_memory(&t.bytes).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (THUMBNAIL_SIDE, THUMBNAIL_SIDE / 2)
        );
    }

    #[test]
    fn unreadable_preview_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.jpg");
        std::fs::write(&path, b"not a jpeg").unwrap();
        assert!(from_preview(&path).unwrap_err().contains("broken.jpg"));
    }
}
