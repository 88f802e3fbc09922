//! Running the hand-written RHN recurrence as `P` partitions of the hidden units, one thread each.
//!
//! A recurrent product of `ptb_sota` (`[20, 830] × [830, 1660]`) is too small for a matrix
//! library to split well over threads (two threads gave 1.3× on this 2-core machine) and too
//! large to sit in cache. Instead, each of `P` threads owns a contiguous range of the hidden
//! units for the whole window: it keeps the rows of every `R_l` that produce its units, computes
//! its units' gates and state, and after every micro-layer exchanges its slice of the state (of
//! `∂z` in the backward) with the others through [`Exchange`]. Each thread runs in a rayon pool
//! of its own with one thread, so the backend's matrix products inside it stay sequential.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use burn::tensor::{Device, Tensor};

/// Most partitions used.
const MAX_PARTS: usize = 8;
/// Fewest hidden units per partition.
const MIN_UNITS: usize = 64;

/// How many partitions to split `d` hidden units into on `device`: one per thread of rayon's
/// global pool on the CPU backends (`flex`, `ndarray`), at most [`MAX_PARTS`], at least
/// [`MIN_UNITS`] units each; 1 elsewhere (a GPU parallelises each product itself).
pub(crate) fn parts_for(device: &Device, d: usize) -> usize {
    if !highway_core::is_cpu_device(device) {
        return 1;
    }
    rayon::current_num_threads()
        .min(MAX_PARTS)
        .min(d / MIN_UNITS)
        .max(1)
}

/// The units of partition `p` of `parts` over `d` units.
pub(crate) fn units(p: usize, parts: usize, d: usize) -> Range<usize> {
    p * d / parts..(p + 1) * d / parts
}

/// Runs `work(p, &exchange)` for `p` in `0..parts`, each on its own single-threaded rayon pool,
/// and returns the results in order. With one part it runs on the calling thread.
///
/// # Panics
///
/// If a partition panics (the others then stop at their next exchange instead of waiting for
/// it forever).
pub(crate) fn run<T: Send, X: Clone + Send>(
    parts: usize,
    work: impl Fn(usize, &Exchange<X>) -> T + Sync,
) -> Vec<T> {
    let exchange = Exchange::new(parts);
    if parts == 1 {
        return vec![work(0, &exchange)];
    }
    let work = |p: usize, exchange: &Exchange<X>| match std::panic::catch_unwind(
        std::panic::AssertUnwindSafe(|| work(p, exchange)),
    ) {
        Ok(out) => out,
        Err(panic) => {
            exchange.barrier.poison();
            std::panic::resume_unwind(panic)
        }
    };
    // One partitioned run at a time: the partitions of two concurrent runs (the slices of a
    // data-parallel step, `--devices`) would queue on the same one-thread pools and wait at
    // each other's barriers forever.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pools = pools(parts);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..parts)
            .map(|p| {
                let (work, exchange, pool) = (&work, &exchange, &pools[p]);
                scope.spawn(move || pool.install(|| work(p, exchange)))
            })
            .collect();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pools[0].install(|| work(0, &exchange))
        }));
        let rest: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        let mut out = vec![first.unwrap_or_else(|panic| std::panic::resume_unwind(panic))];
        for r in rest {
            out.push(r.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        out
    })
}

/// `parts` single-threaded pools, created once.
fn pools(parts: usize) -> &'static [rayon::ThreadPool] {
    static POOLS: OnceLock<Vec<rayon::ThreadPool>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        (0..MAX_PARTS)
            .map(|p| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| format!("rhn-part-{p}"))
                    .build()
                    .expect("a one-thread pool")
            })
            .collect()
    });
    &pools[..parts]
}

/// Where the partitions swap their slices: each [`Exchange::share`] publishes one value per
/// partition (a tensor, or host values) and, once all have arrived, hands every partition all
/// of them.
pub(crate) struct Exchange<X = Tensor<2>> {
    parts: usize,
    /// Two rounds of slots (a partition may publish round `r + 1` while another still reads
    /// round `r`; it cannot get to round `r + 2` before every partition has left round `r`).
    slots: [Vec<Mutex<Option<X>>>; 2],
    barrier: SpinBarrier,
}

impl<X: Clone> Exchange<X> {
    fn new(parts: usize) -> Self {
        let slots = || (0..parts).map(|_| Mutex::new(None)).collect();
        Self {
            parts,
            slots: [slots(), slots()],
            barrier: SpinBarrier::new(parts),
        }
    }

    /// Publishes partition `p`'s `value` for round `round` (every partition counts its calls
    /// from 0) and returns all partitions' values of that round, partition 0 first.
    pub(crate) fn share(&self, p: usize, round: usize, value: X) -> Vec<X> {
        if self.parts == 1 {
            return vec![value];
        }
        let slots = &self.slots[round % 2];
        *slots[p].lock().expect("exchange slot") = Some(value);
        self.barrier.wait();
        slots
            .iter()
            .map(|s| {
                s.lock()
                    .expect("exchange slot")
                    .clone()
                    .expect("every partition published")
            })
            .collect()
    }
}

/// A barrier that spins for a while (the partitions usually wait a few microseconds for each
/// other, less than a sleep and wake-up costs), then sleeps on a condition variable, so that a
/// partition whose partner lost its core (more threads than free cores) does not burn the CPU.
struct SpinBarrier {
    parts: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a partition panicked: the others panic instead of waiting.
    poisoned: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

/// Spins before sleeping. `bench-rhn` on the 2-core machine, `ptb_sota` / `ptb_small` tokens/s
/// with 2,000 / 10,000 / 20,000 spins: 715-773 / 736-758 / 760-781 and 4,452-4,535 /
/// 4,359-4,706 / 4,529-4,827 with two threads on idle cores, `ptb_small` 2,078 / 1,755 / 1,320
/// with four threads on the two cores beside a two-thread training run (spinning only, with
/// `yield_now` after 20,000 spins: 909).
const SPINS: u32 = 10_000;

impl SpinBarrier {
    fn new(parts: usize) -> Self {
        Self {
            parts,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    fn poison(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.poisoned.store(true, Ordering::Release);
        self.wake.notify_all();
    }

    fn check_poison(&self) {
        if self.poisoned.load(Ordering::Acquire) {
            panic!("another RHN partition panicked");
        }
    }

    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parts {
            self.arrived.store(0, Ordering::Release);
            // Under the lock, so that no waiter checks the generation, misses this increment
            // and then sleeps through the notification.
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.generation.fetch_add(1, Ordering::AcqRel);
            self.wake.notify_all();
            return;
        }
        for _ in 0..SPINS {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            std::hint::spin_loop();
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.generation.load(Ordering::Acquire) == generation {
            self.check_poison();
            guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_cover_every_unit_once() {
        for (parts, d) in [(1, 5), (2, 830), (3, 10), (8, 1500)] {
            let mut next = 0;
            for p in 0..parts {
                let r = units(p, parts, d);
                assert_eq!(r.start, next);
                assert!(r.end > r.start);
                next = r.end;
            }
            assert_eq!(next, d);
        }
    }

    #[test]
    fn a_panicking_partition_stops_the_others() {
        let device = Device::flex();
        let result = std::panic::catch_unwind(|| {
            run(3, |p, exchange| {
                for round in 0..10 {
                    assert!(!(p == 1 && round == 4), "partition 1 fails");
                    exchange.share(p, round, Tensor::<2>::zeros([1, 1], &device));
                }
            })
        });
        assert!(result.is_err());
    }

    #[test]
    fn every_partition_sees_every_slice_in_every_round() {
        let device = Device::flex();
        for parts in [1, 2, 3] {
            let results = run(parts, |p, exchange| {
                let mut seen = Vec::new();
                for round in 0..50 {
                    let mine = Tensor::<2>::full([1, 1], (round * 10 + p) as f32, &device);
                    let all = exchange.share(p, round, mine);
                    seen.push(
                        all.iter()
                            .map(|t| t.clone().into_scalar::<f32>() as usize)
                            .collect::<Vec<_>>(),
                    );
                }
                seen
            });
            assert_eq!(results.len(), parts);
            for seen in results {
                for (round, all) in seen.into_iter().enumerate() {
                    let expected: Vec<usize> = (0..parts).map(|p| round * 10 + p).collect();
                    assert_eq!(all, expected);
                }
            }
        }
    }

    #[test]
    fn concurrent_partitioned_runs_all_finish() {
        // Two callers at once (the slices of a data-parallel step): each gets its own results.
        let (done, finished) = std::sync::mpsc::channel();
        for caller in 0..2usize {
            let done = done.clone();
            std::thread::spawn(move || {
                let device = Device::flex();
                for round in 0..2000 {
                    let out = run(2, |p, exchange| {
                        let mine = Tensor::<2>::full([1, 1], (caller * 100 + p) as f32, &device);
                        exchange.share(p, round, mine).len()
                    });
                    assert_eq!(out, vec![2, 2]);
                }
                done.send(caller).unwrap();
            });
        }
        for _ in 0..2 {
            finished
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("both callers finish (no partition waits for another run's)");
        }
    }
}
