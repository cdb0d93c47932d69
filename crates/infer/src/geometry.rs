//! Where pixels come from and go to: reflection padding to the sizes the network needs, and
//! the grid of overlapping tiles with their blending weights.
//!
//! All of it works on one axis at a time; an image's geometry is the same thing twice.

/// The network halves the resolution twice, so sides must be multiples of 4 to come back at
/// the same size.
const MULTIPLE: usize = 4;

/// Smallest side the network runs on. At a quarter of the resolution the residual blocks pad by
/// 1 pixel, which needs at least 2; 16 leaves the 9x9 layers some context on tiny inputs.
pub(crate) const MIN_SIDE: usize = 16;

/// Index in `0..len` of position `i` of a mirrored axis: `[a b c]` continues as `b a b c b a b
/// c ...` both ways, without repeating the edge pixel, like `ReflectionPad2d`, folded as often
/// as needed so that a 2-pixel side can be padded to any size.
pub(crate) fn reflect(i: i64, len: usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len as i64 - 1);
    let m = i.rem_euclid(period);
    (if m < len as i64 { m } else { period - m }) as usize
}

/// One axis of an image padded for the network: `before` mirrored pixels, the `len` pixels of
/// the image, then mirrored pixels up to `padded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PaddedAxis {
    pub len: usize,
    pub padded: usize,
    pub before: usize,
}

impl PaddedAxis {
    /// The padded axis for a side of `len` pixels: the next multiple of 4, at least
    /// [`MIN_SIDE`], the padding split evenly between both ends.
    pub fn new(len: usize) -> Self {
        let padded = len.div_ceil(MULTIPLE).max(1) * MULTIPLE;
        let padded = padded.max(MIN_SIDE);
        Self {
            len,
            padded,
            before: (padded - len) / 2,
        }
    }

    /// Source pixel in the image of padded position `p`.
    pub fn source(&self, p: usize) -> usize {
        reflect(p as i64 - self.before as i64, self.len)
    }
}

/// One tile along an axis. The network runs on `start..end` (a multiple of 4 at a multiple of
/// 4, so the stride-2 grid matches the whole-image pass). Its output is trusted only at least
/// `context` pixels away from an inner edge, where every pixel in the network's receptive field
/// is real image rather than the tile's own reflection padding; there it is cross-faded with
/// the neighbour over `2 * blend` pixels centred on the boundary of the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    /// The part of the axis this tile is responsible for; the cores partition the axis.
    pub core_start: usize,
    pub core_end: usize,
    /// Whether a neighbouring tile shares the start / end (image borders do not blend).
    pub blend_start: bool,
    pub blend_end: bool,
    pub blend: usize,
}

impl Span {
    /// Blending weight of padded position `p` (within `start..end`): 0 up to `blend` pixels
    /// before the core, rising linearly to 1 at `blend` pixels inside it, so that two
    /// neighbours' weights sum to 1 everywhere.
    pub fn weight(&self, p: usize) -> f32 {
        let (p, f) = (p as f32, self.blend as f32);
        let mut w = 1.0f32;
        if self.blend_start {
            w = w.min((p - (self.core_start as f32 - f) + 0.5) / (2.0 * f));
        }
        if self.blend_end {
            w = w.min((self.core_end as f32 + f - p - 0.5) / (2.0 * f));
        }
        w.clamp(0.0, 1.0)
    }
}

/// Tiles covering `0..padded` (a multiple of 4): cores of at most `core` pixels, each grown by
/// `context + blend` on both sides (all rounded up to multiples of 4).
///
/// The cores are made equal (not `core, core, ..., remainder`) so that no tile is a sliver.
pub(crate) fn spans(padded: usize, core: usize, context: usize, blend: usize) -> Vec<Span> {
    let round4 = |n: usize| n.div_ceil(MULTIPLE) * MULTIPLE;
    let blend = round4(blend.max(MULTIPLE));
    let margin = round4(context) + blend;
    // A core narrower than both ramps would let a tile's two ramps overlap.
    let core = round4(core.max(2 * blend));
    let count = padded.div_ceil(core).max(1);
    let step = round4(padded.div_ceil(count));
    let mut spans = Vec::with_capacity(count);
    let mut a = 0;
    while a < padded {
        let b = (a + step).min(padded);
        spans.push(Span {
            start: a.saturating_sub(margin),
            end: (b + margin).min(padded),
            core_start: a,
            core_end: b,
            blend_start: a > 0,
            blend_end: b < padded,
            blend,
        });
        a = b;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_mirrors_without_repeating_the_edge() {
        let row: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(row, [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(reflect(-5, 1), 0);
        assert_eq!(reflect(9, 2), 1);
    }

    #[test]
    fn padding_reaches_a_multiple_of_4_and_the_minimum() {
        assert_eq!(PaddedAxis::new(3).padded, MIN_SIDE);
        assert_eq!(PaddedAxis::new(257).padded, 260);
        assert_eq!(PaddedAxis::new(257).before, 1);
        assert_eq!(PaddedAxis::new(64).before, 0);
    }

    #[test]
    fn tile_weights_sum_to_one_and_skip_the_context_band() {
        let (padded, context) = (260, 20);
        let spans = spans(padded, 64, context, 8);
        assert!(spans.len() >= 4);
        for p in 0..padded {
            let covering = spans.iter().filter(|s| (s.start..s.end).contains(&p));
            let sum: f32 = covering.clone().map(|s| s.weight(p)).sum();
            assert!((sum - 1.0).abs() < 1e-5, "position {p}: {sum}");
            for s in covering.filter(|s| s.weight(p) > 0.0) {
                let inner_start = s.start > 0 && p < s.start + context;
                let inner_end = s.end < padded && p + context >= s.end;
                assert!(
                    !inner_start && !inner_end,
                    "{p} used too near an edge of {s:?}"
                );
            }
        }
        for s in &spans {
            assert_eq!(s.start % 4, 0);
            assert_eq!(s.end % 4, 0);
        }
    }
}
