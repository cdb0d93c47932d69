//! Unfolding image patches into matrix columns (im2col) and folding them back (col2im), the
//! layout change that turns a convolution into one matrix product.
//!
//! For output rows `r0..r1` of one image, the column matrix has one row per `(c, i, j)` (input
//! channel, kernel row, kernel column) and one column per output pixel of those rows: entry
//! `((c, i, j), (r, q))` is the input pixel `(c, r * s + i - p, q * s + j - p)`, or 0 in the
//! zero padding. Unfolding a band of rows at a time keeps the buffer small: the whole matrix of a
//! 9x9 convolution of a 1024x1024 image would take 81 times the image.

use rayon::prelude::*;

/// Sizes of one 2-D convolution, all validated by [`ConvGeometry::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
    pub ho: usize,
    pub wo: usize,
}

impl ConvGeometry {
    /// `None` when the kernel does not fit in the padded input or the stride is 0.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        (batch, c_in, h, w): (usize, usize, usize, usize),
        (c_out, kh, kw): (usize, usize, usize),
        stride: usize,
        padding: usize,
    ) -> Option<Self> {
        if stride == 0 || h + 2 * padding < kh || w + 2 * padding < kw || kh == 0 || kw == 0 {
            return None;
        }
        Some(Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            kh,
            kw,
            stride,
            padding,
            ho: (h + 2 * padding - kh) / stride + 1,
            wo: (w + 2 * padding - kw) / stride + 1,
        })
    }

    /// Rows of the column matrix: `c_in * kh * kw`.
    pub fn patch_len(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    pub fn in_image_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    pub fn out_image_len(&self) -> usize {
        self.c_out * self.ho * self.wo
    }

    /// Output rows per band, so that a band's column matrix (`per_row` floats per output row)
    /// stays within `budget` floats while the bands of an image have (nearly) equal sizes.
    pub fn band_rows(&self, per_row: usize, budget: usize) -> usize {
        let rows = (budget / per_row.max(1)).clamp(1, self.ho.max(1));
        let bands = self.ho.div_ceil(rows);
        self.ho.div_ceil(bands.max(1))
    }

    /// The geometry of the same convolution with the kernel cut down to one row: its output row
    /// `y` is padded input row `y` (`y - p` of the image), so its column matrix over rows
    /// `r0..r1 + kh - 1` holds every row the kernel rows of output rows `r0..r1` read, once
    /// instead of `kh` times. Only meaningful for stride 1.
    pub fn kernel_row(&self) -> Self {
        Self {
            kh: 1,
            ho: self.h + 2 * self.padding,
            ..*self
        }
    }

    /// The output columns `q` whose input column `q * s + j - p` lies inside the image, as a
    /// half-open range (empty when none does).
    fn valid_cols(&self, j: usize) -> (usize, usize) {
        let (s, p) = (self.stride, self.padding);
        let lo = if p > j { (p - j).div_ceil(s) } else { 0 };
        let hi = if self.w + p > j {
            (self.w + p - j).div_ceil(s).min(self.wo)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// The input row read by output row `r` through kernel row `i`, if inside the image.
    fn input_row(&self, r: usize, i: usize) -> Option<usize> {
        let y = (r * self.stride + i).checked_sub(self.padding)?;
        (y < self.h).then_some(y)
    }
}

/// Fills `col` (`patch_len` rows of `(r1 - r0) * wo` columns) from `image` `(c_in, h, w)`.
pub(crate) fn im2col(g: &ConvGeometry, image: &[f32], (r0, r1): (usize, usize), col: &mut [f32]) {
    let n = (r1 - r0) * g.wo;
    let per_channel = g.kh * g.kw * n;
    col[..g.c_in * per_channel]
        .par_chunks_mut(per_channel)
        .enumerate()
        .for_each(|(c, col_c)| {
            let plane = &image[c * g.h * g.w..(c + 1) * g.h * g.w];
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let (lo, hi) = g.valid_cols(j);
                    let row = &mut col_c[(i * g.kw + j) * n..(i * g.kw + j + 1) * n];
                    for r in r0..r1 {
                        let out = &mut row[(r - r0) * g.wo..(r - r0 + 1) * g.wo];
                        let Some(y) = g.input_row(r, i) else {
                            out.fill(0.0);
                            continue;
                        };
                        out[..lo].fill(0.0);
                        out[hi..].fill(0.0);
                        if lo == hi {
                            continue;
                        }
                        let src = &plane[y * g.w..(y + 1) * g.w];
                        // First input column read: q = lo maps to lo * s + j - p >= 0.
                        let x0 = lo * g.stride + j - g.padding;
                        if g.stride == 1 {
                            out[lo..hi].copy_from_slice(&src[x0..x0 + hi - lo]);
                        } else {
                            for (k, o) in out[lo..hi].iter_mut().enumerate() {
                                *o = src[x0 + k * g.stride];
                            }
                        }
                    }
                }
            }
        });
}

/// Adds every entry of `col` back onto the pixel of `image` `(c_in, h, w)` it was read from: the
/// adjoint of [`im2col`], so the input gradient of a convolution from the gradient of its columns.
pub(crate) fn col2im_add(
    g: &ConvGeometry,
    col: &[f32],
    (r0, r1): (usize, usize),
    image: &mut [f32],
) {
    let n = (r1 - r0) * g.wo;
    let per_channel = g.kh * g.kw * n;
    image[..g.in_image_len()]
        .par_chunks_mut(g.h * g.w)
        .enumerate()
        .for_each(|(c, plane)| {
            let col_c = &col[c * per_channel..(c + 1) * per_channel];
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let (lo, hi) = g.valid_cols(j);
                    let row = &col_c[(i * g.kw + j) * n..(i * g.kw + j + 1) * n];
                    for r in r0..r1 {
                        let Some(y) = g.input_row(r, i) else { continue };
                        if lo == hi {
                            continue;
                        }
                        let src = &row[(r - r0) * g.wo + lo..(r - r0) * g.wo + hi];
                        let x0 = lo * g.stride + j - g.padding;
                        let dst = &mut plane[y * g.w..(y + 1) * g.w];
                        if g.stride == 1 {
                            for (d, s) in dst[x0..x0 + hi - lo].iter_mut().zip(src) {
                                *d += s;
                            }
                        } else {
                            for (k, s) in src.iter().enumerate() {
                                dst[x0 + k * g.stride] += s;
                            }
                        }
                    }
                }
            }
        });
}
