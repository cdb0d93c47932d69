//! The CPU convolution kernels on plain slices: forward, input gradient and weight gradient, as
//! `gemm` calls over [`im2col`] buffers, one band of output rows at a time.
//!
//! With `W` the weight as a `(c_out, c_in kh kw)` matrix, `C` the column matrix of a band and `Y`,
//! `dY` the band's outputs and their gradient as `(c_out, pixels)` matrices:
//! - forward: `Y = W C` (plus the bias, written first and accumulated onto),
//! - input gradient: `dC = Wᵀ dY`, folded back onto the image by [`col2im_add`],
//! - weight gradient: `dW += dY Cᵀ`, summed over bands and images.
//!
//! For stride 1 the column matrix is only unfolded along kernel columns (`c_in kw` rows, see
//! [`ConvGeometry::kernel_row`]): the rows of `C` for kernel row `i` are that matrix shifted by
//! `i` image rows, a plain strided view, so `Y = Σᵢ Wᵢ Rᵢ` takes `kh` products over a buffer
//! `kh` times smaller. Unfolding is memory traffic, not arithmetic: for a 9x9 kernel with 3
//! output channels the full column matrix costs more than the products.
//!
//! The column buffer is allocated once per call and reused for every band and image.
//!
//! 3x3 stride-1 convolutions with enough channels go through [`winograd`] instead: their
//! forward pass, their weight gradient and (as it is a forward pass too) their input gradient.

use crate::cpu::{matmul, MatRef, Threads};
use rayon::prelude::*;

use crate::im2col::{col2im_add, im2col, ConvGeometry};
use crate::winograd;

/// Floats in one band's column matrix (32 MiB): large enough for `gemm` to run at full speed
/// and for the halo of a 9x9 kernel to stay small, small enough next to the feature maps of a
/// 1024x1024 image.
const BAND_BUDGET: usize = 1 << 23;

/// Fewest taps per kernel row (`c_in kw`) for which kernel rows become shifted views.
const MIN_ROW_TAPS: usize = 32;

/// How a convolution is unfolded: the geometry of the column matrix, the number of products
/// per band (kernel rows done as shifted views) and the band height.
struct Plan {
    cols: ConvGeometry,
    shifts: usize,
    band: usize,
}

impl Plan {
    /// The plan for column buffers of at most `budget` floats, with at least `min_bands` bands
    /// per image where the image is tall enough.
    fn new(g: &ConvGeometry, budget: usize, min_bands: usize) -> Self {
        // With few input channels (the 3 colours of the first layer) a kernel row has too few
        // taps (`c_in kw`) for a product of its own; whole patches do better there.
        let (cols, shifts) = if g.stride == 1 && g.kh > 1 && g.c_in * g.kw >= MIN_ROW_TAPS {
            (g.kernel_row(), g.kh)
        } else {
            (*g, 1)
        };
        let rows_per_band = cols.patch_len() * g.wo;
        // Each band also unfolds the `shifts - 1` rows below it, and the stacked products
        // multiply them too: bands of at least 4 such halos keep that overhead under a quarter.
        let band = g
            .band_rows(rows_per_band, budget)
            .min(g.ho.div_ceil(min_bands.max(1)))
            .max(4 * (shifts - 1))
            .min(g.ho);
        Self { cols, shifts, band }
    }

    /// Columns of the band of output rows `r0..r1`: its pixels plus the `shifts - 1` extra
    /// image rows the shifted views reach.
    fn width(&self, g: &ConvGeometry, (r0, r1): (usize, usize)) -> usize {
        (r1 - r0 + self.shifts - 1) * g.wo
    }

    /// Rows of the column matrix unfolded for output rows `r0..r1`.
    fn rows(&self, (r0, r1): (usize, usize)) -> (usize, usize) {
        (r0, r1 + self.shifts - 1)
    }

    fn buffer(&self, g: &ConvGeometry) -> Vec<f32> {
        vec![0f32; self.cols.patch_len() * self.width(g, (0, self.band))]
    }

    /// The bands of output rows of one image.
    fn bands(&self, g: &ConvGeometry) -> impl Iterator<Item = (usize, usize)> {
        let (band, ho) = (self.band, g.ho);
        (0..ho)
            .step_by(band)
            .map(move |r0| (r0, (r0 + band).min(ho)))
    }

    /// The weight as `shifts` matrices `(c_out, c_in kw')`, one per kernel row done as a shift
    /// (`kw' = kw`), or the one `(c_out, c_in kh kw)` matrix it already is.
    fn split_weight(&self, g: &ConvGeometry, weight: &[f32]) -> Vec<f32> {
        if self.shifts == 1 {
            return weight.to_vec();
        }
        let mut out = vec![0f32; weight.len()];
        for (o, filter) in weight.chunks_exact(g.c_in * g.kh * g.kw).enumerate() {
            for (c, taps) in filter.chunks_exact(g.kh * g.kw).enumerate() {
                for (i, row) in taps.chunks_exact(g.kw).enumerate() {
                    let at = (i * g.c_out + o) * g.c_in * g.kw + c * g.kw;
                    out[at..at + g.kw].copy_from_slice(row);
                }
            }
        }
        out
    }

    /// The inverse of [`Plan::split_weight`].
    fn join_weight(&self, g: &ConvGeometry, split: &[f32]) -> Vec<f32> {
        if self.shifts == 1 {
            return split.to_vec();
        }
        let mut out = vec![0f32; split.len()];
        for (o, filter) in out.chunks_exact_mut(g.c_in * g.kh * g.kw).enumerate() {
            for (c, taps) in filter.chunks_exact_mut(g.kh * g.kw).enumerate() {
                for (i, row) in taps.chunks_exact_mut(g.kw).enumerate() {
                    let at = (i * g.c_out + o) * g.c_in * g.kw + c * g.kw;
                    row.copy_from_slice(&split[at..at + g.kw]);
                }
            }
        }
        out
    }
}

/// `(b, c_out, ho, wo)` from `xs` `(b, c_in, h, w)`, `weight` `(c_out, c_in, kh, kw)`, `bias`
/// `(c_out)`.
pub(crate) fn conv_forward(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    forward_in_bands(g, xs, weight, bias, BAND_BUDGET)
}

/// The gradient of the input `(b, c_in, h, w)` from the gradient of the output `grad`.
pub(crate) fn conv_backward_input(g: &ConvGeometry, grad: &[f32], weight: &[f32]) -> Vec<f32> {
    conv_backward_input_in_bands(g, grad, weight, BAND_BUDGET)
}

fn conv_backward_input_in_bands(
    g: &ConvGeometry,
    grad: &[f32],
    weight: &[f32],
    budget: usize,
) -> Vec<f32> {
    if let Some((transposed, flipped)) = transposed_convolution(g, weight) {
        return forward_in_bands(&transposed, grad, &flipped, None, budget);
    }
    input_grad_in_bands(g, grad, weight, budget)
}

/// For a stride-1 convolution with a square kernel, its input gradient as a forward
/// convolution: the output gradient correlated with the kernel turned by 180 degrees and its
/// channel axes swapped, zero-padded by `k - 1 - p`. That runs on the forward path's products
/// instead of unfolding `Wᵀ dY` into a column matrix and folding it back, which costs memory
/// traffic the size of the column matrix twice. `None` where it does not apply, or where the
/// gradient has too few channels for the forward path to do better (the first layer's 3).
fn transposed_convolution(g: &ConvGeometry, weight: &[f32]) -> Option<(ConvGeometry, Vec<f32>)> {
    let square = g.kh == g.kw && g.padding < g.kh;
    if g.stride != 1 || !square || g.c_in < SMALL_C_OUT {
        return None;
    }
    let k = g.kh;
    let transposed = ConvGeometry::new(
        (g.batch, g.c_out, g.ho, g.wo),
        (g.c_in, k, k),
        1,
        k - 1 - g.padding,
    )?;
    debug_assert_eq!((transposed.ho, transposed.wo), (g.h, g.w));
    let mut flipped = vec![0f32; weight.len()];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            let from = &weight[(o * g.c_in + c) * k * k..][..k * k];
            let to = &mut flipped[(c * g.c_out + o) * k * k..][..k * k];
            for (t, f) in to.iter_mut().zip(from.iter().rev()) {
                *t = *f;
            }
        }
    }
    Some((transposed, flipped))
}

/// The gradient of the weight `(c_out, c_in, kh, kw)`.
pub(crate) fn conv_backward_weight(g: &ConvGeometry, xs: &[f32], grad: &[f32]) -> Vec<f32> {
    weight_grad_in_bands(g, xs, grad, BAND_BUDGET)
}

/// How the images of a batch share the threads: with at least as many images as threads each
/// image is one thread's work, with single-threaded products (no hand-over between threads
/// inside a product, no idle thread while a small product finishes); otherwise `gemm` splits
/// each product over all threads.
fn per_image(g: &ConvGeometry) -> bool {
    let threads = rayon::current_num_threads();
    threads > 1 && g.batch >= threads
}

/// Runs `work(image index, scratch)` for every image of the batch, in parallel when
/// [`per_image`] says so, with one `scratch` per thread from `scratch()`; `work` gets the
/// [`Threads`] its products should use.
fn for_each_image<S: Send>(
    g: &ConvGeometry,
    scratch: impl Fn() -> S + Sync + Send,
    work: impl Fn(usize, &mut S, Threads) + Sync + Send,
) {
    if per_image(g) {
        (0..g.batch)
            .into_par_iter()
            .for_each_init(&scratch, |s, b| work(b, s, Threads::One));
    } else {
        let mut s = scratch();
        for b in 0..g.batch {
            work(b, &mut s, Threads::All);
        }
    }
}

/// The forward pass, with its buffers within `budget` floats (but at least one row): Winograd's
/// F(2x2, 3x3) where it applies, im2col and products elsewhere.
fn forward_in_bands(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    budget: usize,
) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::forward(g, xs, weight, bias, budget);
    }
    im2col_forward_in_bands(g, xs, weight, bias, budget)
}

/// The im2col forward pass, with column buffers of at most `budget` floats (but at least one
/// output row).
pub(crate) fn im2col_forward_in_bands(
    g: &ConvGeometry,
    xs: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    budget: usize,
) -> Vec<f32> {
    let threads = rayon::current_num_threads();
    // Fewer images than threads (inference, batch 1): the bands of an image become the units
    // of work instead, so each thread runs whole products of its own; `gemm` splitting one
    // product of these shapes over two threads gained under 10% here.
    let bands_per_image = match per_image(g) {
        false if threads > 1 => threads.div_ceil(g.batch.max(1)),
        _ => 1,
    };
    let plan = Plan::new(g, budget, bands_per_image);
    let forward = BandForward::new(g, &plan, weight, bias);
    let (in_len, out_len) = (g.in_image_len(), g.out_image_len());
    let mut ys = vec![0f32; g.batch * out_len];
    if bands_per_image > 1 && plan.bands(g).count() > 1 {
        forward_by_bands(g, &plan, &forward, xs, &mut ys);
        return ys;
    }
    let outputs = SharedOut::new(&mut ys);
    let scratch = || forward.scratch();
    for_each_image(g, scratch, |b, (col, stacked), threads| {
        let image = &xs[b * in_len..(b + 1) * in_len];
        // SAFETY: image `b`'s output is written by this call only.
        let out = unsafe { outputs.chunk(b * out_len, out_len) };
        let plane = g.ho * g.wo;
        for band in plan.bands(g) {
            let dst = &mut out[band.0 * g.wo..];
            forward.band(image, band, (col, stacked), (dst, plane), threads);
        }
    });
    ys
}

/// [`forward_in_bands`] with every band of every image a task of its own, computed into a
/// buffer of its own and then copied into place.
fn forward_by_bands(
    g: &ConvGeometry,
    plan: &Plan,
    forward: &BandForward,
    xs: &[f32],
    ys: &mut [f32],
) {
    let (in_len, out_len, plane) = (g.in_image_len(), g.out_image_len(), g.ho * g.wo);
    let units: Vec<(usize, (usize, usize))> = (0..g.batch)
        .flat_map(|b| plan.bands(g).map(move |band| (b, band)))
        .collect();
    let results: Vec<Vec<f32>> = units
        .par_iter()
        .map_init(
            || forward.scratch(),
            |(col, stacked), &(b, band)| {
                let n = (band.1 - band.0) * g.wo;
                let mut out = vec![0f32; g.c_out * n];
                let image = &xs[b * in_len..(b + 1) * in_len];
                forward.band(image, band, (col, stacked), (&mut out, n), Threads::One);
                out
            },
        )
        .collect();
    ys.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(image_channel, dst)| {
            let (b, o) = (image_channel / g.c_out, image_channel % g.c_out);
            for ((_, band), out) in units.iter().zip(&results).filter(|((ub, _), _)| *ub == b) {
                let n = (band.1 - band.0) * g.wo;
                dst[band.0 * g.wo..band.0 * g.wo + n].copy_from_slice(&out[o * n..(o + 1) * n]);
            }
        });
    debug_assert_eq!(ys.len(), g.batch * out_len);
}

/// What every band of a forward convolution shares: the geometry, the plan, the weight split
/// into kernel rows and the bias.
struct BandForward<'a> {
    g: &'a ConvGeometry,
    plan: &'a Plan,
    weights: Vec<f32>,
    bias: Option<&'a [f32]>,
    /// With few output channels (the transformer's last layer has 3) one product per kernel
    /// row would leave `gemm` a 3-row matrix; instead all kernel rows go into one product with
    /// `kh c_out` rows, whose shifted rows are then summed.
    stack_outputs: bool,
}

impl<'a> BandForward<'a> {
    fn new(g: &'a ConvGeometry, plan: &'a Plan, weight: &[f32], bias: Option<&'a [f32]>) -> Self {
        Self {
            g,
            plan,
            weights: plan.split_weight(g, weight),
            bias,
            stack_outputs: plan.shifts > 1 && g.c_out < SMALL_C_OUT,
        }
    }

    /// A column buffer and, when outputs are stacked, the buffer of the stacked product.
    fn scratch(&self) -> (Vec<f32>, Vec<f32>) {
        let stacked_len = match self.stack_outputs {
            true => self.plan.shifts * self.g.c_out * self.plan.width(self.g, (0, self.plan.band)),
            false => 0,
        };
        (self.plan.buffer(self.g), vec![0f32; stacked_len])
    }

    /// Output rows `band` of `image` into `dst`, whose channels are `dst_stride` apart.
    fn band(
        &self,
        image: &[f32],
        band: (usize, usize),
        (col, stacked): (&mut [f32], &mut [f32]),
        (dst, dst_stride): (&mut [f32], usize),
        threads: Threads,
    ) {
        let (g, plan) = (self.g, self.plan);
        let k = plan.cols.patch_len();
        let width = plan.width(g, band);
        let n = (band.1 - band.0) * g.wo;
        if let Some(bias) = self.bias {
            for (o, b) in bias.iter().enumerate() {
                dst[o * dst_stride..o * dst_stride + n].fill(*b);
            }
        }
        im2col(&plan.cols, image, plan.rows(band), col);
        if self.stack_outputs {
            let m = plan.shifts * g.c_out;
            let cols = MatRef::rows(&col[..k * width], width);
            matmul(
                (m, k, width),
                MatRef::rows(&self.weights, k),
                cols,
                stacked,
                width,
                false,
                threads,
            );
            add_shifted(
                stacked,
                (g.c_out, plan.shifts),
                (n, width, g.wo),
                dst,
                dst_stride,
            );
            return;
        }
        for (i, w) in self.weights.chunks_exact(g.c_out * k).enumerate() {
            let shifted = MatRef {
                data: &col[i * g.wo..k * width],
                row_stride: width,
                col_stride: 1,
            };
            let accumulate = self.bias.is_some() || i > 0;
            matmul(
                (g.c_out, k, n),
                MatRef::rows(w, k),
                shifted,
                dst,
                dst_stride,
                accumulate,
                threads,
            );
        }
    }
}

/// A batch's output buffer that the per-image tasks write into, each into its own image.
struct SharedOut {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: the tasks write disjoint chunks (see `chunk`), so sharing the pointer is sound.
unsafe impl Sync for SharedOut {}
unsafe impl Send for SharedOut {}

impl SharedOut {
    fn new(data: &mut [f32]) -> Self {
        Self {
            ptr: data.as_mut_ptr(),
            len: data.len(),
        }
    }

    /// The elements `start..start + len`.
    ///
    /// # Safety
    /// No two live chunks may overlap, and the buffer must outlive them.
    #[allow(clippy::mut_from_ref)]
    unsafe fn chunk(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len, "image chunk out of bounds");
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

/// Output channels below which the forward pass stacks its kernel rows (see `forward_in_bands`).
const SMALL_C_OUT: usize = 16;

/// `out[o, t] += Σᵢ stacked[(i, o), t + i wo]` for the `n` pixels `t` of a band: the sum over
/// kernel rows of the products of [`forward_in_bands`] made with all kernel rows at once.
fn add_shifted(
    stacked: &[f32],
    (c_out, shifts): (usize, usize),
    (n, width, wo): (usize, usize, usize),
    out: &mut [f32],
    plane: usize,
) {
    for o in 0..c_out {
        let dst = &mut out[o * plane..o * plane + n];
        for i in 0..shifts {
            let start = (i * c_out + o) * width + i * wo;
            for (d, s) in dst.iter_mut().zip(&stacked[start..start + n]) {
                *d += s;
            }
        }
    }
}

/// The output gradient of a band as the `(shifts c_out, width)` matrix whose row `(i, o)` is
/// row `o` of `dy` moved right by `i` image rows, zeros elsewhere: multiplied by the stacked
/// weight it gives the gradient of the column matrix (all kernel rows in one product), and
/// multiplied by the column matrix the stacked weight gradient.
fn stack_shifted(
    dy: MatRef,
    (c_out, shifts): (usize, usize),
    (n, width, wo): (usize, usize, usize),
    out: &mut [f32],
) {
    out[..shifts * c_out * width]
        .par_chunks_mut(width)
        .enumerate()
        .for_each(|(row, dst)| {
            let (i, o) = (row / c_out, row % c_out);
            dst[..i * wo].fill(0.0);
            dst[i * wo..i * wo + n]
                .copy_from_slice(&dy.data[o * dy.row_stride..o * dy.row_stride + n]);
            dst[i * wo + n..].fill(0.0);
        });
}

/// The output gradient of the band `r0..r1` as the matrix the products need: a view of `grad`
/// for whole patches, or the [`stack_shifted`] copy in `buffer` for shifted kernel rows.
fn band_grad<'a>(
    plan: &Plan,
    g: &ConvGeometry,
    grad: &'a [f32],
    band: (usize, usize),
    buffer: &'a mut [f32],
) -> MatRef<'a> {
    let n = (band.1 - band.0) * g.wo;
    let dy = MatRef {
        data: &grad[band.0 * g.wo..],
        row_stride: g.ho * g.wo,
        col_stride: 1,
    };
    if plan.shifts == 1 {
        return dy;
    }
    let width = plan.width(g, band);
    stack_shifted(dy, (g.c_out, plan.shifts), (n, width, g.wo), buffer);
    MatRef::rows(&buffer[..plan.shifts * g.c_out * width], width)
}

fn input_grad_in_bands(g: &ConvGeometry, grad: &[f32], weight: &[f32], budget: usize) -> Vec<f32> {
    let plan = Plan::new(g, budget, 1);
    let k = plan.cols.patch_len();
    let m = plan.shifts * g.c_out;
    let weights = plan.split_weight(g, weight);
    let (in_len, out_len) = (g.in_image_len(), g.out_image_len());
    let mut dxs = vec![0f32; g.batch * in_len];
    let gradients = SharedOut::new(&mut dxs);
    let scratch = || {
        let stacked = vec![0f32; m * plan.width(g, (0, plan.band))];
        (plan.buffer(g), stacked)
    };
    for_each_image(g, scratch, |b, (col, stacked), threads| {
        let grad = &grad[b * out_len..(b + 1) * out_len];
        // SAFETY: image `b`'s gradient is written by this call only.
        let dx = unsafe { gradients.chunk(b * in_len, in_len) };
        for band in plan.bands(g) {
            let width = plan.width(g, band);
            let dy = band_grad(&plan, g, grad, band, stacked);
            let cols = if plan.shifts == 1 {
                (band.1 - band.0) * g.wo
            } else {
                width
            };
            matmul(
                (k, m, cols),
                MatRef::rows(&weights, k).t(),
                dy,
                col,
                width,
                false,
                threads,
            );
            col2im_add(&plan.cols, col, plan.rows(band), dx);
        }
    });
    dxs
}

/// The weight gradient with buffers within `budget` floats: Winograd's where it applies,
/// im2col and products elsewhere.
fn weight_grad_in_bands(g: &ConvGeometry, xs: &[f32], grad: &[f32], budget: usize) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::weight_grad(g, xs, grad, budget);
    }
    im2col_weight_grad_in_bands(g, xs, grad, budget)
}

pub(crate) fn im2col_weight_grad_in_bands(
    g: &ConvGeometry,
    xs: &[f32],
    grad: &[f32],
    budget: usize,
) -> Vec<f32> {
    let plan = Plan::new(g, budget, 1);
    let k = plan.cols.patch_len();
    let m = plan.shifts * g.c_out;
    let (in_len, out_len) = (g.in_image_len(), g.out_image_len());
    // Each thread sums the gradients of its images into its own `dw`; the sums are added last.
    let partial_sums = std::sync::Mutex::new(Vec::<Vec<f32>>::new());
    let scratch = || {
        let stacked = vec![0f32; m * plan.width(g, (0, plan.band))];
        let dw = PartialSum::new(&partial_sums, m * k);
        (plan.buffer(g), stacked, dw)
    };
    for_each_image(g, scratch, |b, (col, stacked, dw), threads| {
        let image = &xs[b * in_len..(b + 1) * in_len];
        let grad = &grad[b * out_len..(b + 1) * out_len];
        for band in plan.bands(g) {
            let width = plan.width(g, band);
            let cols = if plan.shifts == 1 {
                (band.1 - band.0) * g.wo
            } else {
                width
            };
            im2col(&plan.cols, image, plan.rows(band), col);
            let dy = band_grad(&plan, g, grad, band, stacked);
            let unfolded = MatRef::rows(&col[..k * width], width);
            matmul(
                (m, cols, k),
                dy,
                unfolded.t(),
                &mut dw.sum,
                k,
                true,
                threads,
            );
        }
    });
    let mut sums = partial_sums.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut dw = sums.pop().unwrap_or_else(|| vec![0f32; m * k]);
    for other in sums {
        for (d, o) in dw.iter_mut().zip(other) {
            *d += o;
        }
    }
    plan.join_weight(g, &dw)
}

/// One thread's share of a weight gradient, handed to the shared list when the thread's
/// scratch is dropped (rayon drops each `for_each_init` value when its task ends).
struct PartialSum<'a> {
    sum: Vec<f32>,
    into: &'a std::sync::Mutex<Vec<Vec<f32>>>,
}

impl<'a> PartialSum<'a> {
    fn new(into: &'a std::sync::Mutex<Vec<Vec<f32>>>, len: usize) -> Self {
        Self {
            sum: vec![0f32; len],
            into,
        }
    }
}

impl Drop for PartialSum<'_> {
    fn drop(&mut self) {
        let sum = std::mem::take(&mut self.sum);
        match self.into.lock() {
            Ok(mut list) => list.push(sum),
            Err(poisoned) => poisoned.into_inner().push(sum),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `n` deterministic values spread over -1..1, different for each `seed`.
    pub(crate) fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 1999) as f32 / 999.5 - 1.0)
            .collect()
    }

    /// One-row bands must give what one band per image gives, on every unfolding path: stride
    /// 1 with shifted kernel rows (few and many output channels), whole patches for stride 2
    /// and for few input channels.
    #[test]
    fn bands_do_not_change_the_result() {
        // (c_in, stride, padding, k, c_out)
        let cases = [
            (3, 1, 4, 9, 4),
            (3, 2, 1, 3, 4),
            (11, 1, 1, 3, 4),
            (4, 1, 4, 9, 4),
            (7, 1, 0, 5, 4),
            (11, 1, 1, 3, 17),
            (16, 1, 1, 3, 5),
        ];
        // One thread runs every image and band in turn; two threads split batches of 2 by
        // image and single images by band, and compute the input gradient of 16 channels as a
        // forward convolution.
        let pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        let (one, two) = (pool(1), pool(2));
        for (c_in, stride, padding, k, c_out) in cases {
            for batch in [1, 2] {
                let g = ConvGeometry::new((batch, c_in, 40, 8), (c_out, k, k), stride, padding)
                    .unwrap();
                let xs = values(g.batch * g.in_image_len(), 1);
                let weight = values(g.c_out * g.patch_len(), 2);
                let bias = values(g.c_out, 3);
                let grad = values(g.batch * g.out_image_len(), 4);
                let (small, whole) = (1, usize::MAX / 2);
                let forward = |budget| forward_in_bands(&g, &xs, &weight, Some(&bias), budget);
                let expected = one.install(|| forward(whole));
                for (budget, pool) in [(small, &one), (small, &two), (whole, &two)] {
                    let what = format!("forward, budget {budget}, {g:?}");
                    assert_near(&pool.install(|| forward(budget)), &expected, &what);
                }
                let dx = |budget| conv_backward_input_in_bands(&g, &grad, &weight, budget);
                let expected = one.install(|| dx(whole));
                for (budget, pool) in [(small, &one), (small, &two), (whole, &two)] {
                    let what = format!("input gradient, budget {budget}, {g:?}");
                    assert_near(&pool.install(|| dx(budget)), &expected, &what);
                }
                let dw = |budget| weight_grad_in_bands(&g, &xs, &grad, budget);
                let expected = one.install(|| dw(whole));
                for (budget, pool) in [(small, &one), (small, &two), (whole, &two)] {
                    let what = format!("weight gradient, budget {budget}, {g:?}");
                    assert_near(&pool.install(|| dw(budget)), &expected, &what);
                }
            }
        }
    }

    /// Asserts `got` is `expected` up to f32 rounding: bands and Winograd's transforms change
    /// the order of sums of many products.
    pub(crate) fn assert_near(got: &[f32], expected: &[f32], what: &str) {
        assert_eq!(got.len(), expected.len(), "{what}");
        for (i, (a, e)) in got.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                "{what}, element {i}: {a} vs {e}"
            );
        }
    }
}
