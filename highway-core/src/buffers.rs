//! The fast path's `f32` buffers, kept from one training step for the next.
//!
//! A step of the CPU fast path ([`conv_kernel`](crate::conv_kernel)) allocates every layer's
//! padded input, its saved gates and its gradients, keeps them until the backward, and frees
//! them all at its end. With glibc's allocator much of the freed memory goes back to the
//! system at once, and the next step faults its pages in again: in `perf record` of the
//! 50-layer dense MLP (`bench-highway --model mlp --variants fast`) page faults and page
//! clearing were about 10% of the samples, and about 2% with this pool. Buffers returned here
//! are handed out again instead, up to [`POOL_FLOATS`] floats in all; [`release`] empties the
//! pool. The gain is small on the machine it was measured on: in alternating runs of
//! `bench-highway --model mlp --variants fast` built with and without the pool (the latter
//! with `POOL_FLOATS = 0`), 58.5/55.2, 62.7/59.1 and 46.9/46.8 steps/s on two threads, and
//! 81.7/82.6, 72.8/63.0 and 63.3/57.2 on one (the depth study's net, 49×50), 2026-12-01, AMD
//! EPYC, 2 cores.

use std::sync::Mutex;

/// At most this many floats (256 MiB) wait in the pool.
pub const POOL_FLOATS: usize = 64 << 20;

/// Returned buffers and their floats in all.
struct Pool {
    buffers: Vec<Vec<f32>>,
    floats: usize,
    limit: usize,
}

impl Pool {
    /// The smallest returned buffer that fits `len` floats (capacity at least `len`, at most
    /// four times it).
    fn take(&mut self, len: usize) -> Option<Vec<f32>> {
        let (i, _) = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len && b.capacity() <= 4 * len.max(1))
            .min_by_key(|(_, b)| b.capacity())?;
        let buffer = self.buffers.swap_remove(i);
        self.floats -= buffer.capacity();
        Some(buffer)
    }

    /// Keeps `buffer` unless the pool would then hold more than its limit.
    fn put(&mut self, buffer: Vec<f32>) {
        if buffer.capacity() > 0 && self.floats + buffer.capacity() <= self.limit {
            self.floats += buffer.capacity();
            self.buffers.push(buffer);
        }
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    floats: 0,
    limit: POOL_FLOATS,
});

/// A buffer of `len` zeros: a returned one where one fits (its capacity at least `len` and at
/// most four times it), else a new one.
pub fn zeroed(len: usize) -> Vec<f32> {
    let reused = POOL.lock().ok().and_then(|mut pool| pool.take(len));
    match reused {
        Some(mut buffer) => {
            buffer.clear();
            buffer.resize(len, 0.0);
            buffer
        }
        None => vec![0.0; len],
    }
}

/// A buffer of `len` floats for a caller that writes every one of them before reading any: a
/// returned one where one fits, still holding its old values (nothing is zeroed), else a new
/// one. In builds with debug assertions (the tests) every value starts as NaN instead, so that
/// a value left unwritten shows in the results.
pub fn for_overwrite(len: usize) -> Vec<f32> {
    let fill = if cfg!(debug_assertions) {
        f32::NAN
    } else {
        0.0
    };
    let reused = POOL.lock().ok().and_then(|mut pool| pool.take(len));
    match reused {
        Some(mut buffer) => {
            if cfg!(debug_assertions) {
                buffer.clear();
            }
            // `resize` fills only past the old length: a buffer as long as `len` is not touched.
            buffer.resize(len, fill);
            buffer
        }
        None => vec![fill; len],
    }
}

/// Returns `buffer` for reuse (or frees it if the pool is full).
pub fn recycle(buffer: Vec<f32>) {
    if let Ok(mut pool) = POOL.lock() {
        pool.put(buffer);
    }
}

/// Frees every buffer in the pool.
pub fn release() {
    if let Ok(mut pool) = POOL.lock() {
        pool.buffers = Vec::new();
        pool.floats = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_only_when_they_fit_and_up_to_the_limit() {
        let mut pool = Pool {
            buffers: Vec::new(),
            floats: 0,
            limit: 3000,
        };
        let a = vec![7.0f32; 1000];
        let ptr = a.as_ptr();
        pool.put(a);
        assert_eq!(pool.floats, 1000);
        // Too small for 5000, too large for 10.
        assert!(pool.take(5000).is_none());
        assert!(pool.take(10).is_none());
        // 900 fits: the same memory.
        let b = pool.take(900).expect("fits");
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(pool.floats, 0);
        // The smallest that fits is chosen; past the limit a buffer is dropped.
        pool.put(vec![0.0; 2000]);
        pool.put(b);
        pool.put(vec![0.0; 500]);
        assert_eq!(pool.buffers.len(), 2, "the third would exceed 3000 floats");
        assert_eq!(pool.take(800).expect("fits").capacity(), 1000);
    }

    #[test]
    fn buffers_for_overwrite_have_the_length_asked_for() {
        for len in [0, 5, 64, 100] {
            let a = for_overwrite(len);
            assert_eq!(a.len(), len);
            if cfg!(debug_assertions) {
                assert!(a.iter().all(|v| v.is_nan()), "unwritten values read as NaN");
            }
            recycle(a);
        }
    }

    #[test]
    fn zeroed_buffers_are_zero() {
        let mut a = zeroed(64);
        a.iter_mut().for_each(|v| *v = 3.0);
        recycle(a);
        assert!(zeroed(64).iter().all(|v| *v == 0.0));
    }
}
