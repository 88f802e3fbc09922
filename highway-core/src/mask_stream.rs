//! Where dropout masks come from, and a per-thread stream of them for data parallelism.
//!
//! A mask `m_i ~ Bernoulli(1 − p)`, scaled by `1 / (1 − p)` (inverted dropout; Hinton et al.
//! 2012, arXiv:1207.0580), is drawn from the device's random generator: `device.seed(s)`
//! fixes it. Data parallelism runs the slices of one batch in threads at the same time, and on
//! Burn's CPU backends every device shares one process-wide generator, so the masks of the
//! slices would come out in thread order: neither reproducible nor resumable.
//!
//! [`with_mask_seed`] gives the calling thread a stream of its own for the length of a
//! closure: every mask drawn in it by the zoo's dropout (`models::dropout`, the RHN's
//! variational masks `rhn::inverted_mask`) takes its seed from [`next_mask_seed`], the
//! `k`-th output of SplitMix64 from the thread's seed, and its values from [`keep_mask`]:
//! element `i` is kept when the `i + 1`-th output of SplitMix64 from that seed is below
//! `(1 − p)·2⁶⁴`. A training strategy that seeds each slice from `(seed, epoch, step,
//! slice)` ([`stream_seed`]) gets the same masks whatever the thread order and the devices.
//! Burn's own `Dropout` module is not covered: it always draws from the device.

use std::cell::Cell;

use rayon::prelude::*;

/// SplitMix64's increment (Steele, Lea & Flood 2014): `2⁶⁴ / φ`.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Elements per parallel task of [`keep_mask`].
const CHUNK: usize = 16_384;

/// SplitMix64's output function (a bijective mix of the state).
pub fn splitmix64(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One seed from several values (e.g. `[seed, epoch, step, slice]`): each folded in through
/// SplitMix64, so that neighbouring tuples give unrelated seeds.
pub fn stream_seed(parts: &[u64]) -> u64 {
    parts.iter().fold(0u64, |h, &v| {
        splitmix64(h.wrapping_add(GOLDEN) ^ splitmix64(v.wrapping_add(GOLDEN)))
    })
}

/// The inverted-dropout mask of `len` elements from `seed`: `1 / keep` where SplitMix64's
/// `i + 1`-th output is below `keep·2⁶⁴`, else 0. Drawn in parallel; the values do not depend
/// on the number of threads.
///
/// # Panics
///
/// If `keep` is not in `(0, 1]`.
pub fn keep_mask(seed: u64, len: usize, keep: f64) -> Vec<f32> {
    assert!(
        keep > 0.0 && keep <= 1.0,
        "keep probability {keep} not in (0, 1]"
    );
    if keep == 1.0 {
        return vec![1.0; len];
    }
    // keep < 1, so the threshold fits: `keep·2⁶⁴` rounded down.
    let threshold = (keep * 18_446_744_073_709_551_616.0) as u64;
    let scale = (1.0 / keep) as f32;
    let mut mask = vec![0.0f32; len];
    mask.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let first = (chunk * CHUNK) as u64;
            for (j, m) in values.iter_mut().enumerate() {
                let z = splitmix64(seed.wrapping_add((first + j as u64 + 1).wrapping_mul(GOLDEN)));
                *m = if z < threshold { scale } else { 0.0 };
            }
        });
    mask
}

thread_local! {
    /// The calling thread's stream: `(seed, masks drawn so far)`.
    static STREAM: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Runs `f` with the calling thread's masks drawn from `seed` (see the [module docs](self));
/// the thread's previous stream (or none) is restored afterwards, also when `f` panics.
pub fn with_mask_seed<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(u64, u64)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STREAM.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(STREAM.with(|s| s.replace(Some((seed, 0)))));
    f()
}

/// The seed of the next mask of the calling thread's stream, if [`with_mask_seed`] set one
/// (`None`: draw from the device's generator).
pub fn next_mask_seed() -> Option<u64> {
    STREAM.with(|s| {
        let (seed, drawn) = s.get()?;
        s.set(Some((seed, drawn + 1)));
        Some(splitmix64(
            seed.wrapping_add((drawn + 1).wrapping_mul(GOLDEN)),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_is_the_published_generator() {
        // The first three outputs of SplitMix64 seeded with 0.
        let outputs: Vec<u64> = (1..=3)
            .map(|i| splitmix64(0u64.wrapping_add((i as u64).wrapping_mul(GOLDEN))))
            .collect();
        assert_eq!(
            outputs,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn masks_do_not_depend_on_the_number_of_threads() {
        let len = 3 * CHUNK + 17;
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let a = pool(1).install(|| keep_mask(42, len, 0.8));
        let b = pool(3).install(|| keep_mask(42, len, 0.8));
        assert_eq!(a, b);
        assert_ne!(keep_mask(43, len, 0.8), a);
        assert!(keep_mask(1, 10, 1.0).iter().all(|&m| m == 1.0));
    }

    #[test]
    fn a_thread_stream_is_its_own_and_is_restored() {
        assert_eq!(next_mask_seed(), None);
        let (a, b) = with_mask_seed(7, || (next_mask_seed(), next_mask_seed()));
        assert!(a.is_some() && b.is_some() && a != b);
        // The same seed gives the same stream, in another thread too.
        let again =
            std::thread::spawn(|| with_mask_seed(7, || (next_mask_seed(), next_mask_seed())))
                .join()
                .unwrap();
        assert_eq!(again, (a, b));
        // Nested streams restore the outer one.
        with_mask_seed(1, || {
            let first = next_mask_seed();
            with_mask_seed(2, next_mask_seed);
            assert_ne!(next_mask_seed(), first);
        });
        assert_eq!(next_mask_seed(), None);
        let panicked = std::panic::catch_unwind(|| with_mask_seed(3, || panic!("in the step")));
        assert!(panicked.is_err());
        assert_eq!(next_mask_seed(), None);
    }

    #[test]
    fn stream_seeds_differ_in_every_part() {
        let base = stream_seed(&[1, 2, 3, 0]);
        for other in [[2, 2, 3, 0], [1, 3, 3, 0], [1, 2, 4, 0], [1, 2, 3, 1]] {
            assert_ne!(stream_seed(&other), base, "{other:?}");
        }
        assert_eq!(stream_seed(&[1, 2, 3, 0]), base);
    }
}
