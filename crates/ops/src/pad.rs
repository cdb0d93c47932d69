//! Reflection padding, as `torch.nn.ReflectionPad2d`.

use candle_core::{bail, DType, Result, Tensor};

/// Pads the last two dimensions of `xs` `(b, c, h, w)` by `pad` on every side, mirroring the
/// image about its edge pixels without repeating them: `[a b c d]` padded by 2 is
/// `[c b a b c d c b]`. Needs `pad < h` and `pad < w`.
///
/// The transformer pads by reflection rather than zeros so that its borders see image-like
/// content; zero padding leaves a visible frame around stylised images.
pub fn reflection_pad2d(xs: &Tensor, pad: usize) -> Result<Tensor> {
    if pad == 0 {
        return Ok(xs.clone());
    }
    let (_, _, h, w) = xs.dims4()?;
    if pad >= h || pad >= w {
        bail!("reflection padding of {pad} needs an input larger than {pad} pixels, got {h}x{w}")
    }
    let xs = xs.index_select(&reflected_indices(w, pad, xs)?, 3)?;
    xs.index_select(&reflected_indices(h, pad, &xs)?, 2)
}

/// Source index of every position of a reflected axis of length `len + 2 * pad`.
fn reflected_indices(len: usize, pad: usize, like: &Tensor) -> Result<Tensor> {
    let idx: Vec<u32> = (0..len + 2 * pad)
        .map(|i| {
            let i = i as isize - pad as isize;
            let last = len as isize - 1;
            let r = if i < 0 {
                -i
            } else if i > last {
                2 * last - i
            } else {
                i
            };
            r as u32
        })
        .collect();
    Tensor::from_vec(idx, len + 2 * pad, like.device())?.to_dtype(DType::U32)
}
