//! Pixel-level helpers of the slow method that need no network: the starting image and colour
//! preservation.
//!
//! Images here are planar RGB, `(3, h, w)` flattened channel by channel, `f32` pixels 0..255,
//! the layout of a `(1, 3, h, w)` tensor's data.

/// A seeded generator for the noise start: SplitMix64 (Steele, Lea, Flood 2014), small and
/// reproducible across platforms, so `--seed` gives the same image everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 24 bits (all an `f32` mantissa holds).
    fn next_unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32
    }
}

/// White noise, uniform over 0..255, of `len` pixel values: Gatys et al.'s starting image.
pub fn uniform_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64(seed);
    (0..len).map(|_| 255.0 * rng.next_unit()).collect()
}

/// Keeps the luminance of `styled` and takes the chrominance of `content` (Gatys et al. 2016,
/// "Preserving Color in Neural Artistic Style Transfer", luminance-only transfer done after the
/// fact): the strokes and textures of the painting in the photo's colours.
///
/// Both are planar RGB of the same size; the result is clamped to 0..255. Works in YIQ (NTSC
/// coefficients; the way back is the exact inverse of the way in), whose Y is the paper's
/// luminance.
pub fn preserve_color(styled: &[f32], content: &[f32]) -> Vec<f32> {
    assert_eq!(styled.len(), content.len(), "preserve_color: sizes differ");
    let n = styled.len() / 3;
    let planes = |v: &[f32]| {
        (
            v[..n].to_vec(),
            v[n..2 * n].to_vec(),
            v[2 * n..3 * n].to_vec(),
        )
    };
    let (sr, sg, sb) = planes(styled);
    let (cr, cg, cb) = planes(content);
    let mut out = vec![0f32; 3 * n];
    for p in 0..n {
        let y = 0.299 * sr[p] + 0.587 * sg[p] + 0.114 * sb[p];
        let i = 0.596 * cr[p] - 0.274 * cg[p] - 0.322 * cb[p];
        let q = 0.211 * cr[p] - 0.523 * cg[p] + 0.312 * cb[p];
        out[p] = (y + 0.956_171 * i + 0.621_433 * q).clamp(0.0, 255.0);
        out[n + p] = (y - 0.272_689 * i - 0.646_813 * q).clamp(0.0, 255.0);
        out[2 * n + p] = (y - 1.103_744 * i + 1.700_623 * q).clamp(0.0, 255.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_seeded_and_spans_the_pixel_range() {
        let a = uniform_noise(30_000, 7);
        assert_eq!(a, uniform_noise(30_000, 7));
        assert_ne!(a, uniform_noise(30_000, 8));
        assert!(a.iter().all(|v| (0.0..255.0).contains(v)));
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        assert!((mean - 127.5).abs() < 2.0, "mean {mean}");
    }

    #[test]
    fn preserve_color_keeps_content_colour_and_styled_luminance() {
        // A light brown content pixel, a grey styled pixel: the result is brown with the
        // grey's luminance.
        let content = [200.0, 150.0, 100.0];
        let styled = [120.0, 120.0, 120.0];
        let out = preserve_color(&styled, &content);
        let luma = |p: &[f32]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        assert!((luma(&out) - 120.0).abs() < 0.01, "{out:?}");
        assert!(out[0] > out[1] && out[1] > out[2], "{out:?}");
    }

    #[test]
    fn preserve_color_of_an_image_with_itself_is_the_image() {
        let img: Vec<f32> = (0..3 * 35).map(|i| ((i * 37) % 256) as f32).collect();
        let out = preserve_color(&img, &img);
        for (a, b) in out.iter().zip(&img) {
            assert!((a - b).abs() < 0.01, "{a} vs {b}");
        }
    }
}
