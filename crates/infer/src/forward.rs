//! One network over one image of any size, output at exactly the input's size.
//!
//! - Small and mid-size images run whole: reflection-padded to a multiple of 4 (and at least
//!   [`MIN_SIDE`](crate::geometry) pixels a side), then cropped back.
//! - Larger ones run in overlapping tiles whose outputs are cross-faded over the overlap. Every
//!   tile is normalised with the instance-norm statistics of one pass over the whole image
//!   (downscaled when even that pass would be too large), so tiles do not drift apart in colour
//!   and contrast, as they would if each normalised itself. Tiles sit on the 4-pixel grid of
//!   the whole image, so the stride-2 layers sample the same positions either way, and only
//!   output pixels at least the receptive field's radius from a tile's inner edges are used,
//!   so with full-resolution statistics a tiled run equals a whole one up to rounding.
//!
//! Everything here is plain tensors: the networks come from checkpoints, never `Var`s, so no
//! autograd graph is kept alive during inference.

use candle_core::{Device, Tensor};
use faststyle_net::{NormMode, TransformerNet};
use faststyle_ops::NormStats;
use image::RgbImage;

use crate::geometry::{spans, PaddedAxis, Span};
use crate::InferError;

/// The network's receptive field reaches about 60 pixels each way (a 9x9 layer at each end,
/// and ten 3x3 layers at a quarter of the resolution in between), so an output pixel further
/// than this from a tile's edge is exactly what the whole-image pass would give.
pub const RECEPTIVE_RADIUS: usize = 64;

/// When and how to tile. The forward pass peaks near 1.8 KiB a pixel of the image it runs on
/// (measured: `faststyle apply` on 1024x768 peaks at 1.5 GB). Images up to 1024x800 run whole,
/// which covers the common 1024x768 and is 1.4x faster there than tiles (2.6 s against 3.7 s on
/// two cores); larger ones run in tiles of at most 672x672 pixels, so their memory stays
/// near 1.3 GB whatever their size (2048x1536: 1.3 GB; 6000x4000: 1.04 GiB when last measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Tiling {
    /// Images (after padding) of at most this many pixels run whole.
    pub max_untiled_pixels: usize,
    /// Side of a tile's core; the tile adds `context + blend` on each inner side.
    pub tile: usize,
    /// Pixels at a tile's inner edges that are computed for context only, never used.
    pub context: usize,
    /// Neighbouring tiles cross-fade over twice this, to hide any remaining difference.
    pub blend: usize,
    /// The statistics pass runs on the image downscaled to at most this many pixels.
    pub stats_max_pixels: usize,
}

impl Default for Tiling {
    fn default() -> Self {
        Tiling {
            max_untiled_pixels: 1024 * 800,
            tile: 512,
            context: RECEPTIVE_RADIUS,
            blend: 16,
            stats_max_pixels: 672 * 672,
        }
    }
}

/// Runs `net` on `rgb` and returns its output as three planes `(3, h, w)`, row-major, pixels
/// roughly 0..255 and not clamped, `h` and `w` those of `rgb`.
pub fn run(
    net: &TransformerNet,
    rgb: &RgbImage,
    tiling: &Tiling,
    device: &Device,
) -> Result<Vec<f32>, InferError> {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (ax, ay) = (PaddedAxis::new(w), PaddedAxis::new(h));
    if ax.padded * ay.padded <= tiling.max_untiled_pixels {
        tracing::debug!(w, h, "running whole");
        let xs = input_tensor(rgb, &ax, &ay, 0..ax.padded, 0..ay.padded, device)?;
        let ys = net.forward_with(&xs, NormMode::Own)?;
        let ys = ys.narrow(2, ay.before, h)?.narrow(3, ax.before, w)?;
        return Ok(ys.contiguous()?.flatten_all()?.to_vec1::<f32>()?);
    }

    let stats = whole_image_stats(net, rgb, tiling, device)?;
    let (cols, rows) = (
        spans(ax.padded, tiling.tile, tiling.context, tiling.blend),
        spans(ay.padded, tiling.tile, tiling.context, tiling.blend),
    );
    tracing::debug!(w, h, tiles = cols.len() * rows.len(), "running in tiles");
    // The weights are products of one ramp per axis, so their sums are too: normalising by
    // per-axis sums keeps the blend exact even where a border clips a tile.
    let (sum_x, sum_y) = (weight_sums(&cols, &ax), weight_sums(&rows, &ay));
    let plane = w * h;
    let mut out = vec![0f32; 3 * plane];
    for row in &rows {
        for col in &cols {
            let xs = input_tensor(
                rgb,
                &ax,
                &ay,
                col.start..col.end,
                row.start..row.end,
                device,
            )?;
            let ys = net.forward_with(&xs, NormMode::Given(&stats))?;
            let ys = ys.flatten_all()?.to_vec1::<f32>()?;
            let (tw, th) = (col.end - col.start, row.end - row.start);
            for py in image_positions(row, &ay) {
                let y = py - ay.before;
                let wy = row.weight(py) / sum_y[y];
                for px in image_positions(col, &ax) {
                    let x = px - ax.before;
                    let wxy = wy * col.weight(px) / sum_x[x];
                    let t = (py - row.start) * tw + (px - col.start);
                    for c in 0..3 {
                        out[c * plane + y * w + x] += wxy * ys[c * th * tw + t];
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The statistics of every instance normalisation on a pass over the whole image, downscaled
/// to at most `stats_max_pixels`.
fn whole_image_stats(
    net: &TransformerNet,
    rgb: &RgbImage,
    tiling: &Tiling,
    device: &Device,
) -> Result<Vec<NormStats>, InferError> {
    let (w, h) = (rgb.width(), rgb.height());
    let pixels = w as f64 * h as f64;
    let small;
    let source = if pixels > tiling.stats_max_pixels as f64 {
        let scale = (tiling.stats_max_pixels as f64 / pixels).sqrt();
        let sw = ((w as f64 * scale) as u32).max(1);
        let sh = ((h as f64 * scale) as u32).max(1);
        tracing::debug!(sw, sh, "statistics from a downscaled pass");
        small = image::imageops::thumbnail(rgb, sw, sh);
        &small
    } else {
        rgb
    };
    let ax = PaddedAxis::new(source.width() as usize);
    let ay = PaddedAxis::new(source.height() as usize);
    let xs = input_tensor(source, &ax, &ay, 0..ax.padded, 0..ay.padded, device)?;
    let mut stats = Vec::with_capacity(TransformerNet::NORM_LAYERS);
    net.forward_with(&xs, NormMode::Record(&mut stats))?;
    Ok(stats)
}

/// Padded positions of `span` that fall inside the image itself.
fn image_positions(span: &Span, axis: &PaddedAxis) -> std::ops::Range<usize> {
    span.start.max(axis.before)..span.end.min(axis.before + axis.len)
}

/// For each image position of `axis`, the sum of the weights of the spans covering it.
fn weight_sums(spans: &[Span], axis: &PaddedAxis) -> Vec<f32> {
    let mut sums = vec![0f32; axis.len];
    for span in spans {
        for p in image_positions(span, axis) {
            sums[p - axis.before] += span.weight(p);
        }
    }
    sums
}

/// The `(1, 3, rows, cols)` tensor of the padded image's window `cols` x `rows`, pixels 0..255.
fn input_tensor(
    rgb: &RgbImage,
    ax: &PaddedAxis,
    ay: &PaddedAxis,
    cols: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    device: &Device,
) -> Result<Tensor, InferError> {
    let (tw, th) = (cols.len(), rows.len());
    let sources: Vec<usize> = cols.map(|p| ax.source(p)).collect();
    let raw = rgb.as_raw();
    let stride = 3 * rgb.width() as usize;
    let plane = tw * th;
    let mut data = vec![0f32; 3 * plane];
    for (j, py) in rows.enumerate() {
        let line = &raw[ay.source(py) * stride..];
        for (i, &x) in sources.iter().enumerate() {
            for c in 0..3 {
                data[c * plane + j * tw + i] = f32::from(line[3 * x + c]);
            }
        }
    }
    Ok(Tensor::from_vec(data, (1, 3, th, tw), device)?)
}
