//! 1-in-N sampling without a random-number crate: a xorshift generator is plenty to decide which
//! records to keep, costs a few nanoseconds, and can be seeded for reproducible tests.

/// Decides which records to keep when sampling.
#[derive(Clone, Debug)]
pub struct Sampler {
    state: u64,
}

impl Sampler {
    /// A sampler with a fixed seed (tests) ; any non-zero seed works.
    pub fn with_seed(seed: u64) -> Self {
        Self { state: seed.max(1) }
    }

    /// A sampler seeded from the clock and a process-wide counter, so parallel stages differ.
    pub fn new() -> Self {
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self::with_seed(nanos ^ instance.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// True for about one call in `n` (always for `n` ≤ 1).
    pub fn keep(&mut self, n: u64) -> bool {
        if n <= 1 {
            return true;
        }
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x.is_multiple_of(n)
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_about_one_in_n() {
        let mut s = Sampler::with_seed(42);
        let kept = (0..100_000).filter(|_| s.keep(10)).count();
        // Binomial(100000, 0.1): sd ≈ 95; 5 sd either side.
        assert!((9_525..=10_475).contains(&kept), "kept {kept}");
        assert!((0..100).all(|_| s.keep(1)));
    }
}
