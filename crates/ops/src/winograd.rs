//! 3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3) (Lavin and Gray 2016).
//!
//! Each 2x2 block of output pixels (a tile) is computed from the 4x4 block of input pixels
//! under it. In the transformed domain the convolution of one tile is an elementwise product
//! of 16 numbers, so over all tiles and channels it becomes 16 independent matrix products
//!
//! `M[ξ] (c_out, tiles) = U[ξ] (c_out, c_in) · V[ξ] (c_in, tiles)`,  `ξ = 0..16`,
//!
//! with `U = G g Gᵀ` the transformed filters, `V = Bᵀ d B` the transformed input tiles and the
//! output tile `Y = Aᵀ M A`. The products take 16 multiply-adds per input channel and tile
//! where a direct convolution takes 36 (2.25x fewer); the three transforms are additions only,
//! cheap next to the products for the channel counts where this path is taken.
//!
//! The transforms:
//! ```text
//! Bᵀ = [1  0 -1  0]    G = [ 1    0    0 ]    Aᵀ = [1  1  1  0]
//!      [0  1  1  0]        [1/2  1/2  1/2]         [0  1 -1 -1]
//!      [0 -1  1  0]        [1/2 -1/2  1/2]
//!      [0  1  0 -1]        [ 0    0    1 ]
//! ```
//! Work goes a band of tile rows at a time, so the transformed buffers stay within a budget
//! whatever the image size; inside a band the transforms run in parallel over channels and
//! the 16 products in parallel over `ξ`, each on one thread.

use rayon::prelude::*;

use crate::cpu::{matmul, MatRef, Threads};
use crate::im2col::ConvGeometry;

/// Fewest input and output channels for which this path beats im2col: below it the products
/// are too thin for the transforms to pay off (VGG16's first layer has 3 input channels).
const MIN_CHANNELS: usize = 16;

/// Positions of the transformed 4x4 tile.
const XI: usize = 16;

/// Floats in one band's transformed input and output (1 MiB). Measured: bands of 8 MiB or
/// more ran the 3x3 convolutions of VGG16 and of the transformer 1.3-1.7x slower than 1 MiB,
/// whose products still run at full speed; 0.25 to 2 MiB were within noise of each other.
const BAND_BUDGET: usize = 1 << 18;

/// Fewest tiles in a band (the columns of its products): every band packs the transformed
/// filters again, which for 256 channels and 32 tiles costs as much as the product itself.
const MIN_BAND_TILES: usize = 256;

/// Whether the convolution `g` takes this path.
pub(crate) fn applies(g: &ConvGeometry) -> bool {
    g.stride == 1
        && (g.kh, g.kw) == (3, 3)
        && g.padding <= 2
        && g.c_in >= MIN_CHANNELS
        && g.c_out >= MIN_CHANNELS
}

/// `(b, c_out, ho, wo)` from `xs` `(b, c_in, h, w)`, `weight` `(c_out, c_in, 3, 3)` and `bias`,
/// with the transformed buffers of one band within `budget` floats (but at least one tile row).
pub(crate) fn forward(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    budget: usize,
) -> Vec<f32> {
    debug_assert!(applies(g));
    let u = transform_filters(g, weight);
    let grid = TileGrid::new(g);
    let band_rows = grid.band_rows(g, budget);
    let buffers = || {
        let v = vec![0f32; g.c_in * XI * grid.cols * band_rows];
        let m = vec![0f32; XI * g.c_out * grid.cols * band_rows];
        (v, m)
    };
    let (in_len, out_len, plane) = (g.in_image_len(), g.out_image_len(), g.ho * g.wo);
    let mut ys = vec![0f32; g.batch * out_len];
    // The images of a batch in parallel; inside each, the phases are parallel too, which is
    // what keeps both threads busy for a single image.
    ys.par_chunks_mut(out_len)
        .enumerate()
        .for_each_init(buffers, |(v, m), (b, out)| {
            let image = &xs[b * in_len..(b + 1) * in_len];
            for r0 in (0..grid.rows).step_by(band_rows) {
                let band = (r0, (r0 + band_rows).min(grid.rows));
                let tiles = (band.1 - band.0) * grid.cols;
                let v = &mut v[..g.c_in * XI * tiles];
                let m = &mut m[..XI * g.c_out * tiles];
                transform_input(g, &grid, image, band, v);
                multiply(g, &u, v, m, tiles);
                out.par_chunks_mut(plane).enumerate().for_each(|(o, dst)| {
                    let b = bias.map_or(0.0, |b| b[o]);
                    transform_output(g, &grid, band, o, m, b, dst);
                });
            }
        });
    ys
}

/// The gradient of the weight `(c_out, c_in, 3, 3)` from the input `xs` and the gradient of
/// the output `grad`, summed over the batch.
///
/// The chain rule through the transforms: with `dM = A dY Aᵀ` the transformed gradient of each
/// output tile, `dU[ξ] = Σ_tiles dM[ξ] V[ξ]ᵀ` (16 products again, now summed over tiles) and
/// the filter's gradient is `Gᵀ dU G`.
pub(crate) fn weight_grad(g: &ConvGeometry, xs: &[f32], grad: &[f32], budget: usize) -> Vec<f32> {
    debug_assert!(applies(g));
    let grid = TileGrid::new(g);
    let band_rows = grid.band_rows(g, budget);
    let (in_len, out_len) = (g.in_image_len(), g.out_image_len());
    let du_len = XI * g.c_out * g.c_in;
    let scratch = || {
        let v = vec![0f32; g.c_in * XI * grid.cols * band_rows];
        let dm = vec![0f32; g.c_out * XI * grid.cols * band_rows];
        (v, dm, vec![0f32; du_len])
    };
    // Each thread sums the images it takes into its own `dU`; the sums are added last.
    let du = (0..g.batch)
        .into_par_iter()
        .fold(scratch, |(mut v, mut dm, mut du), b| {
            let image = &xs[b * in_len..(b + 1) * in_len];
            let grad = &grad[b * out_len..(b + 1) * out_len];
            for r0 in (0..grid.rows).step_by(band_rows) {
                let band = (r0, (r0 + band_rows).min(grid.rows));
                let tiles = (band.1 - band.0) * grid.cols;
                let v = &mut v[..g.c_in * XI * tiles];
                let dm = &mut dm[..g.c_out * XI * tiles];
                transform_input(g, &grid, image, band, v);
                transform_output_grad(g, &grid, grad, band, dm);
                accumulate_filter_grad(g, dm, v, &mut du, tiles);
            }
            (v, dm, du)
        })
        .map(|(_, _, du)| du)
        .reduce(
            || vec![0f32; du_len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    untransform_filter_grad(g, &du)
}

/// The tiles covering the output: `rows x cols` tiles of 2x2 pixels, the last row and column
/// cut off where the output has an odd size.
struct TileGrid {
    rows: usize,
    cols: usize,
}

impl TileGrid {
    fn new(g: &ConvGeometry) -> Self {
        Self {
            rows: g.ho.div_ceil(2),
            cols: g.wo.div_ceil(2),
        }
    }

    /// Tile rows per band, so that a band's transformed input and output stay within
    /// `budget` floats (and [`BAND_BUDGET`]), but with at least [`MIN_BAND_TILES`] tiles where
    /// `budget` allows.
    fn band_rows(&self, g: &ConvGeometry, budget: usize) -> usize {
        let per_tile_row = XI * (g.c_in + g.c_out) * self.cols;
        let rows = budget.min(BAND_BUDGET) / per_tile_row;
        let fewest = (MIN_BAND_TILES.div_ceil(self.cols)).min(budget / per_tile_row);
        rows.max(fewest).clamp(1, self.rows)
    }
}

/// `U[ξ][o][c] = (G g Gᵀ)[ξ]` for every filter `g = weight[o][c]`.
fn transform_filters(g: &ConvGeometry, weight: &[f32]) -> Vec<f32> {
    let (c_in, c_out) = (g.c_in, g.c_out);
    let mut u = vec![0f32; XI * c_out * c_in];
    for (oc, f) in weight.chunks_exact(9).enumerate() {
        // G g: 4 rows of 3.
        let mut gg = [[0f32; 3]; 4];
        for j in 0..3 {
            let (a, b, c) = (f[j], f[3 + j], f[6 + j]);
            gg[0][j] = a;
            gg[1][j] = 0.5 * (a + b + c);
            gg[2][j] = 0.5 * (a - b + c);
            gg[3][j] = c;
        }
        // (G g) Gᵀ: 4 rows of 4.
        for (r, row) in gg.iter().enumerate() {
            let [a, b, c] = *row;
            let transformed = [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
            for (s, value) in transformed.into_iter().enumerate() {
                u[(r * 4 + s) * c_out * c_in + oc] = value;
            }
        }
    }
    u
}

/// `V[c][ξ][t]` for the tiles `t` of tile rows `band` of one image, for every input channel.
fn transform_input(
    g: &ConvGeometry,
    grid: &TileGrid,
    image: &[f32],
    band: (usize, usize),
    v: &mut [f32],
) {
    let tiles = (band.1 - band.0) * grid.cols;
    // A padded input row: entry `j` is image column `j - padding`, zero outside the image;
    // long enough for the 4 columns under every tile.
    let row_len = 2 * grid.cols + 2;
    v.par_chunks_mut(XI * tiles).enumerate().for_each_init(
        || vec![0f32; 8 * row_len],
        |rows, (c, v)| {
            let channel = &image[c * g.h * g.w..(c + 1) * g.h * g.w];
            for ty in band.0..band.1 {
                let (d, t) = rows.split_at_mut(4 * row_len);
                for (i, padded) in d.chunks_exact_mut(row_len).enumerate() {
                    padded.fill(0.0);
                    let y = (2 * ty + i).checked_sub(g.padding).filter(|&y| y < g.h);
                    if let Some(y) = y {
                        let src = &channel[y * g.w..(y + 1) * g.w];
                        let end = (g.padding + g.w).min(row_len);
                        padded[g.padding..end].copy_from_slice(&src[..end - g.padding]);
                    }
                }
                // Bᵀ d, whole rows at once.
                let (d0, d1, d2, d3) = quarters(d, row_len);
                let (t0, rest) = t.split_at_mut(row_len);
                let (t1, rest) = rest.split_at_mut(row_len);
                let (t2, t3) = rest.split_at_mut(row_len);
                for j in 0..row_len {
                    t0[j] = d0[j] - d2[j];
                    t1[j] = d1[j] + d2[j];
                    t2[j] = d2[j] - d1[j];
                    t3[j] = d1[j] - d3[j];
                }
                // (Bᵀ d) B along the columns of every tile.
                let first = (ty - band.0) * grid.cols;
                for (r, tr) in [&*t0, &*t1, &*t2, &*t3].into_iter().enumerate() {
                    let [v0, v1, v2, v3] = four_streams(v, r, tiles, first, grid.cols);
                    for tx in 0..grid.cols {
                        let x = &tr[2 * tx..2 * tx + 4];
                        v0[tx] = x[0] - x[2];
                        v1[tx] = x[1] + x[2];
                        v2[tx] = x[2] - x[1];
                        v3[tx] = x[1] - x[3];
                    }
                }
            }
        },
    );
}

/// The four rows of `d`, each `len` long.
fn quarters(d: &[f32], len: usize) -> (&[f32], &[f32], &[f32], &[f32]) {
    let (a, rest) = d.split_at(len);
    let (b, rest) = rest.split_at(len);
    let (c, d) = rest.split_at(len);
    (a, b, c, &d[..len])
}

/// The `count` entries from tile `first` of the streams `ξ = 4 r .. 4 r + 4` of one channel's
/// `[ξ][t]` block (`tiles` entries a stream).
fn four_streams(
    v: &mut [f32],
    r: usize,
    tiles: usize,
    first: usize,
    count: usize,
) -> [&mut [f32]; 4] {
    let block = &mut v[4 * r * tiles..(4 * r + 4) * tiles];
    let (a, rest) = block.split_at_mut(tiles);
    let (b, rest) = rest.split_at_mut(tiles);
    let (c, d) = rest.split_at_mut(tiles);
    [a, b, c, d].map(|s| &mut s[first..first + count])
}

/// `dM[o][ξ][t] = (A dY Aᵀ)[ξ]` for every output channel `o` and tile `t` of tile rows `band`
/// of one image's output gradient `grad`, zero beyond the output's edge.
fn transform_output_grad(
    g: &ConvGeometry,
    grid: &TileGrid,
    grad: &[f32],
    band: (usize, usize),
    dm: &mut [f32],
) {
    let tiles = (band.1 - band.0) * grid.cols;
    let plane = g.ho * g.wo;
    dm.par_chunks_mut(XI * tiles)
        .enumerate()
        .for_each(|(o, dm)| {
            let dy = &grad[o * plane..(o + 1) * plane];
            let at = |y: usize, x: usize| match y < g.ho && x < g.wo {
                true => dy[y * g.wo + x],
                false => 0.0,
            };
            for ty in band.0..band.1 {
                let first = (ty - band.0) * grid.cols;
                for tx in 0..grid.cols {
                    let (y, x) = (2 * ty, 2 * tx);
                    let (a, b, c, d) = (at(y, x), at(y, x + 1), at(y + 1, x), at(y + 1, x + 1));
                    // A dY: four rows of two; then each row times Aᵀ.
                    let rows = [(a, b), (a + c, b + d), (a - c, b - d), (-c, -d)];
                    for (r, (p, q)) in rows.into_iter().enumerate() {
                        let t = first + tx;
                        dm[(4 * r) * tiles + t] = p;
                        dm[(4 * r + 1) * tiles + t] = p + q;
                        dm[(4 * r + 2) * tiles + t] = p - q;
                        dm[(4 * r + 3) * tiles + t] = -q;
                    }
                }
            }
        });
}

/// `dU[ξ] += dM[ξ] V[ξ]ᵀ` for the 16 positions, one product per thread at a time.
fn accumulate_filter_grad(g: &ConvGeometry, dm: &[f32], v: &[f32], du: &mut [f32], tiles: usize) {
    let (c_in, c_out) = (g.c_in, g.c_out);
    du.par_chunks_mut(c_out * c_in)
        .enumerate()
        .for_each(|(xi, du)| {
            let stream = |data| MatRef {
                data,
                row_stride: XI * tiles,
                col_stride: 1,
            };
            let lhs = stream(&dm[xi * tiles..]);
            let rhs = stream(&v[xi * tiles..]).t();
            matmul((c_out, tiles, c_in), lhs, rhs, du, c_in, true, Threads::One);
        });
}

/// The weight gradient `(c_out, c_in, 3, 3)` from `dU[ξ][o][c]`: `Gᵀ dU G` for every filter.
fn untransform_filter_grad(g: &ConvGeometry, du: &[f32]) -> Vec<f32> {
    let filters = g.c_out * g.c_in;
    let mut dw = vec![0f32; filters * 9];
    for (oc, f) in dw.chunks_exact_mut(9).enumerate() {
        let u = |xi: usize| du[xi * filters + oc];
        // Gᵀ times a row or column `[a, b, c, d]` of four.
        let gt = |[a, b, c, d]: [f32; 4]| [a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d];
        // Gᵀ dU: three rows of four (Gᵀ applied down each column).
        let cols: [[f32; 3]; 4] =
            std::array::from_fn(|s| gt([u(s), u(4 + s), u(8 + s), u(12 + s)]));
        // (Gᵀ dU) G: Gᵀ applied along each row.
        for i in 0..3 {
            let row = gt([cols[0][i], cols[1][i], cols[2][i], cols[3][i]]);
            f[3 * i..3 * i + 3].copy_from_slice(&row);
        }
    }
    dw
}

/// `M[ξ] = U[ξ] V[ξ]` for the 16 positions, one product per thread at a time.
fn multiply(g: &ConvGeometry, u: &[f32], v: &[f32], m: &mut [f32], tiles: usize) {
    let (c_in, c_out) = (g.c_in, g.c_out);
    m.par_chunks_mut(c_out * tiles)
        .enumerate()
        .for_each(|(xi, m)| {
            let lhs = MatRef::rows(&u[xi * c_out * c_in..(xi + 1) * c_out * c_in], c_in);
            let rhs = MatRef {
                data: &v[xi * tiles..],
                row_stride: XI * tiles,
                col_stride: 1,
            };
            matmul(
                (c_out, c_in, tiles),
                lhs,
                rhs,
                m,
                tiles,
                false,
                Threads::One,
            );
        });
}

/// Output channel `o`'s pixels of tile rows `band` into its plane `dst`: `Aᵀ M A + bias`.
// `tx` indexes the 16 streams of a tile at once, which no single iterator expresses.
#[allow(clippy::needless_range_loop)]
fn transform_output(
    g: &ConvGeometry,
    grid: &TileGrid,
    band: (usize, usize),
    o: usize,
    m: &[f32],
    bias: f32,
    dst: &mut [f32],
) {
    let tiles = (band.1 - band.0) * grid.cols;
    let cols = grid.cols;
    let stream = |xi: usize, ty: usize| {
        let at = (xi * g.c_out + o) * tiles + (ty - band.0) * cols;
        &m[at..at + cols]
    };
    for ty in band.0..band.1 {
        let m: [&[f32]; XI] = std::array::from_fn(|xi| stream(xi, ty));
        let (top, bottom) = (2 * ty, 2 * ty + 1);
        for tx in 0..cols {
            // Aᵀ M: two rows of four.
            let at = |r: usize, c: usize| m[4 * r + c][tx];
            let s0: [f32; 4] = std::array::from_fn(|c| at(0, c) + at(1, c) + at(2, c));
            let s1: [f32; 4] = std::array::from_fn(|c| at(1, c) - at(2, c) - at(3, c));
            // (Aᵀ M) A: two columns of each.
            let x = 2 * tx;
            for (y, s) in [(top, s0), (bottom, s1)] {
                if y < g.ho {
                    let row = &mut dst[y * g.wo..(y + 1) * g.wo];
                    row[x] = bias + s[0] + s[1] + s[2];
                    if x + 1 < g.wo {
                        row[x + 1] = bias + s[1] - s[2] - s[3];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv_kernels::tests::{assert_near, values};
    use crate::conv_kernels::{im2col_forward_in_bands, im2col_weight_grad_in_bands};

    /// `(c_in, c_out, h, w, padding)`
    const CASES: [(usize, usize, usize, usize, usize); 7] = [
        (16, 16, 8, 8, 1),
        (16, 17, 7, 9, 1),
        (19, 16, 10, 5, 0),
        (16, 20, 3, 3, 0),
        (17, 16, 1, 1, 1),
        (16, 16, 6, 11, 2),
        (32, 24, 13, 12, 1),
    ];

    /// Budgets for bands of one tile row, of two (the last band cut short where the rows are
    /// odd in number), and of the whole image.
    fn band_budgets(g: &ConvGeometry) -> [usize; 3] {
        let per_tile_row = XI * (g.c_in + g.c_out) * g.wo.div_ceil(2);
        [1, 2 * per_tile_row, usize::MAX / 2]
    }

    /// Winograd's result is im2col's up to rounding, on odd and even sizes (cut-off tiles at
    /// the bottom and right), paddings 0, 1 and 2, one-pixel outputs, batches of 1 and 3, with
    /// and without bias, in one band and in bands of one and two tile rows.
    #[test]
    fn matches_im2col() {
        for (c_in, c_out, h, w, padding) in CASES {
            for batch in [1, 3] {
                let g = ConvGeometry::new((batch, c_in, h, w), (c_out, 3, 3), 1, padding).unwrap();
                assert!(applies(&g));
                let xs = values(g.batch * g.in_image_len(), 1);
                let weight = values(g.c_out * g.patch_len(), 2);
                let bias = values(g.c_out, 3);
                for bias in [None, Some(&bias[..])] {
                    let expected = im2col_forward_in_bands(&g, &xs, &weight, bias, usize::MAX / 2);
                    for budget in band_budgets(&g) {
                        let got = forward(&g, &xs, &weight, bias, budget);
                        let what = format!("{g:?}, bias {}, budget {budget}", bias.is_some());
                        assert_near(&got, &expected, &what);
                    }
                }
            }
        }
    }

    /// The weight gradient is im2col's up to rounding, on the same shapes as the forward pass.
    #[test]
    fn weight_grad_matches_im2col() {
        for (c_in, c_out, h, w, padding) in CASES {
            for batch in [1, 3] {
                let g = ConvGeometry::new((batch, c_in, h, w), (c_out, 3, 3), 1, padding).unwrap();
                let xs = values(g.batch * g.in_image_len(), 1);
                let grad = values(g.batch * g.out_image_len(), 4);
                let expected = im2col_weight_grad_in_bands(&g, &xs, &grad, usize::MAX / 2);
                for budget in band_budgets(&g) {
                    let got = weight_grad(&g, &xs, &grad, budget);
                    assert_near(&got, &expected, &format!("{g:?}, budget {budget}"));
                }
            }
        }
    }

    #[test]
    fn only_3x3_stride_1_with_enough_channels() {
        let geometry = |c_in, c_out, k, stride| {
            ConvGeometry::new((1, c_in, 16, 16), (c_out, k, k), stride, 1).unwrap()
        };
        assert!(applies(&geometry(64, 64, 3, 1)));
        assert!(!applies(&geometry(3, 64, 3, 1)));
        assert!(!applies(&geometry(64, 3, 3, 1)));
        assert!(!applies(&geometry(64, 64, 3, 2)));
        assert!(!applies(&geometry(64, 64, 5, 1)));
        let padded = |padding| ConvGeometry::new((1, 64, 16, 16), (64, 3, 3), 1, padding).unwrap();
        assert!(applies(&padded(2)));
        assert!(!applies(&padded(3)));
    }
}
