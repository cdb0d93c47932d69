//! Plumbing shared by the CPU kernels: reading candle's storages as `f32` slices, calling
//! `gemm` on row-major matrices, and deciding whether a tensor takes our CPU path.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, DType, Layout, Result, Tensor};

/// Whether `xs` runs on our CPU kernels: `f32` on the CPU. Anything else (a GPU, another dtype)
/// goes through candle's own operations.
pub(crate) fn takes_cpu_path(xs: &Tensor) -> bool {
    xs.device().is_cpu() && xs.dtype() == DType::F32
}

/// The elements of a contiguous `f32` tensor, in row-major order.
///
/// The public functions make their arguments contiguous before calling a kernel, so a strided
/// layout here is a bug in this crate rather than in the caller; it is still an error, not a
/// panic.
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(data) => data.as_slice(),
        other => bail!("{what}: expected f32, got {:?}", other.dtype()),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!(
            "{what}: expected a contiguous tensor, got strides {:?}",
            layout.stride()
        ),
    }
}

/// A row-major view of a matrix inside a slice: element `(i, j)` is at `i * row_stride + j *
/// col_stride`. Transposing a view swaps the strides; nothing is copied.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    pub fn t(self) -> Self {
        Self {
            data: self.data,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// The last element `(rows - 1, cols - 1)` must lie in `data`.
    fn check(&self, rows: usize, cols: usize, what: &str) {
        let last = (rows - 1) * self.row_stride + (cols - 1) * self.col_stride;
        assert!(
            last < self.data.len(),
            "{what}: {rows}x{cols} view out of bounds"
        );
    }
}

/// Who runs a product: `gemm` splitting it over all threads, or the calling thread alone (when
/// the caller already runs one product per thread, e.g. one image each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    All,
    One,
}

/// `dst = lhs · rhs` (`accumulate == false`) or `dst += lhs · rhs`, with `lhs` `(m, k)`, `rhs`
/// `(k, n)` and `dst` `(m, n)` stored row-major with row stride `dst_row_stride`.
///
/// The bounds of every view are checked here, once, so that the `unsafe` call into `gemm` only
/// ever touches memory of the slices it was given.
pub(crate) fn matmul(
    (m, k, n): (usize, usize, usize),
    lhs: MatRef,
    rhs: MatRef,
    dst: &mut [f32],
    dst_row_stride: usize,
    accumulate: bool,
    threads: Threads,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_row_stride..i * dst_row_stride + n].fill(0.0);
            }
        }
        return;
    }
    lhs.check(m, k, "matmul lhs");
    rhs.check(k, n, "matmul rhs");
    assert!(
        (m - 1) * dst_row_stride + n <= dst.len(),
        "matmul dst out of bounds"
    );
    let parallelism = match (threads, rayon::current_num_threads()) {
        (Threads::All, n) if n > 1 => gemm::Parallelism::Rayon(n),
        _ => gemm::Parallelism::None,
    };
    // SAFETY: the three views were checked above to lie within their slices, and `dst` is
    // borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
