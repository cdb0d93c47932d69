//! From the network's output back to 8-bit pixels: keep the photo's colours if asked, blend
//! with the photo by the strength, clamp to 0..255.

use image::RgbImage;
use rayon::prelude::*;

/// BT.601 luma, the Y of JPEG's YCbCr.
fn luma([r, g, b]: [f32; 3]) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// The network's output planes `(3, h, w)` (unclamped, roughly 0..255) as an 8-bit image,
/// clamped and rounded. Done once painting ends, so that a batch keeps 3 bytes a pixel in
/// flight instead of 12; the rounding (at most half a grey level) is below what 8-bit output
/// keeps anyway.
pub(crate) fn to_rgb8(planes: &[f32], w: usize, h: usize) -> RgbImage {
    let plane = w * h;
    let mut out = vec![0u8; 3 * plane];
    out.par_chunks_mut(3 * w.max(1))
        .enumerate()
        .for_each(|(y, dst)| {
            for x in 0..w {
                for c in 0..3 {
                    let v = planes[c * plane + y * w + x];
                    dst[3 * x + c] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        });
    RgbImage::from_raw(w as u32, h as u32, out).expect("3 bytes per pixel")
}

/// Combines `photo` with the stylised image `styled` of the same size:
/// - `preserve_color`: the luminance of the stylised image with the chroma of the photo.
///   In YCbCr a change of Y alone adds the same amount to R, G and B (the inverse transform has
///   a coefficient of 1 on Y in every channel), so this is `photo + (Y(styled) - Y(photo))`;
/// - `strength`: `photo + strength * (result - photo)`;
/// - then rounds and clamps every channel to 0..255.
pub(crate) fn combine(
    photo: &RgbImage,
    styled: &RgbImage,
    strength: f32,
    preserve_color: bool,
) -> RgbImage {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    let row = 3 * w.max(1);
    let mut out = vec![0u8; 3 * w * h];
    out.par_chunks_mut(row)
        .zip(photo.as_raw().par_chunks(row))
        .zip(styled.as_raw().par_chunks(row))
        .for_each(|((dst, src), sty)| {
            for x in 0..w {
                let p = [0, 1, 2].map(|c| f32::from(src[3 * x + c]));
                let s = [0, 1, 2].map(|c| f32::from(sty[3 * x + c]));
                let s = if preserve_color {
                    let dy = luma(s) - luma(p);
                    p.map(|v| v + dy)
                } else {
                    s
                };
                for c in 0..3 {
                    let v = p[c] + strength * (s[c] - p[c]);
                    dst[3 * x + c] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        });
    RgbImage::from_raw(w as u32, h as u32, out).expect("3 bytes per pixel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_strength_is_the_clamped_stylised_image() {
        let photo = RgbImage::from_pixel(3, 2, image::Rgb([10, 20, 30]));
        let mut planes = vec![100.0; 18];
        planes[0] = -40.0;
        planes[17] = 300.4;
        let out = combine(&photo, &to_rgb8(&planes, 3, 2), 1.0, false);
        assert_eq!(out.get_pixel(0, 0).0, [0, 100, 100]);
        assert_eq!(out.get_pixel(2, 1).0, [100, 100, 255]);
    }

    #[test]
    fn zero_strength_is_the_photo() {
        let photo = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 70, 9]));
        let styled = RgbImage::from_pixel(5, 3, image::Rgb([200, 10, 250]));
        assert_eq!(combine(&photo, &styled, 0.0, false), photo);
        assert_eq!(combine(&photo, &styled, 0.0, true), photo);
    }

    #[test]
    fn preserved_colour_keeps_a_grey_photo_grey_and_takes_the_style_luminance() {
        let photo = RgbImage::from_pixel(4, 2, image::Rgb([100, 100, 100]));
        let styled = RgbImage::from_pixel(4, 2, image::Rgb([200, 40, 90]));
        let out = combine(&photo, &styled, 1.0, true);
        let y = luma([200.0, 40.0, 90.0]).round() as u8;
        for p in out.pixels() {
            assert_eq!(p.0, [y, y, y]);
        }
    }
}
