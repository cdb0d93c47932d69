//! The trainer's random numbers: SplitMix64, small enough that its whole state is one `u64`.
//!
//! Exact resume needs every random choice to be reproducible from what the state file holds.
//! Rather than saving a generator's state after each draw, every random choice of training is
//! keyed: the order of epoch `e` comes from `Rng::keyed(seed, &[ORDER, e])`, the crop and flip
//! of the photo at position `p` of epoch `e` from `Rng::keyed(seed, &[CROP, e, p])`. The
//! seed plus the data cursor are then the complete random state, and the prefetching thread can
//! decode photos in any order without changing which crops a step sees.

/// Key of the per-epoch shuffle.
pub(crate) const ORDER: u64 = 1;
/// Key of a photo's crop and flip.
pub(crate) const CROP: u64 = 2;
/// Key of the transformer's initial weights.
pub(crate) const INIT: u64 = 3;

/// SplitMix64 (Steele, Lea, Flood 2014): passes BigCrush, one `u64` of state.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one purpose, independent of the generators of other keys.
    pub fn keyed(seed: u64, key: &[u64]) -> Self {
        let mut state = mix(seed ^ 0x5EED_5EED_5EED_5EED);
        for &k in key {
            state = mix(state ^ mix(k.wrapping_add(0x9E37_79B9_7F4A_7C15)));
        }
        Self { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias (Lemire's multiply-and-reject).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = (self.next_u64() as u128) * (n as u128);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The SplitMix64 output function, also used to derive keyed states.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_generators_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| Rng::keyed(7, &[CROP, 0, 1]).next_u64())
            .collect();
        assert!(a.iter().all(|&x| x == a[0]));
        let b = Rng::keyed(7, &[CROP, 0, 2]).next_u64();
        let c = Rng::keyed(8, &[CROP, 0, 1]).next_u64();
        assert_ne!(a[0], b);
        assert_ne!(a[0], c);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(1);
        let mut seen = [0usize; 5];
        for _ in 0..1000 {
            seen[rng.below(5) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut xs: Vec<u32> = (0..100).collect();
        Rng::new(3).shuffle(&mut xs);
        assert_ne!(xs, (0..100).collect::<Vec<_>>());
        xs.sort();
        assert_eq!(xs, (0..100).collect::<Vec<_>>());
    }
}
