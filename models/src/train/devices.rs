//! The devices a run trains on ([`Devices`]), the plain name of a device's backend
//! ([`backend_name`]), whether a device works at all ([`probe_device`]), and glibc's allocator
//! tuned for tensor work on a CPU ([`keep_freed_memory`]).

use std::time::Duration;

use burn::tensor::{Device, Tensor};

/// The devices a run trains on: the main device, which holds the model, the optimiser and
/// the evaluation, and the replicas, each of which trains one slice of every batch beside it.
/// It dereferences to the main device, so a single-device caller uses it as a [`Device`].
#[derive(Debug, Clone)]
pub struct Devices {
    /// The device of the model, the optimiser and the evaluation (and the first slice).
    pub main: Device,
    /// The other devices, one slice of every batch each (empty: one device).
    pub replicas: Vec<Device>,
}

impl Devices {
    /// One device.
    pub fn single(main: Device) -> Self {
        Self {
            main,
            replicas: Vec::new(),
        }
    }

    /// The same devices with autodiff (a device that has it already is kept as it is).
    pub fn autodiff(self) -> Self {
        let with_autodiff = |d: Device| if d.is_autodiff() { d } else { d.autodiff() };
        Self {
            main: with_autodiff(self.main),
            replicas: self.replicas.into_iter().map(with_autodiff).collect(),
        }
    }

    /// Every device, the main one first.
    pub fn all(&self) -> impl Iterator<Item = &Device> {
        std::iter::once(&self.main).chain(&self.replicas)
    }

    /// The devices' plain names ([`backend_name`]), joined by commas.
    pub fn names(&self) -> String {
        self.all().map(backend_name).collect::<Vec<_>>().join(",")
    }
}

impl From<Device> for Devices {
    fn from(main: Device) -> Self {
        Self::single(main)
    }
}

impl std::ops::Deref for Devices {
    type Target = Device;

    fn deref(&self) -> &Device {
        &self.main
    }
}

/// The plain name of the backend and device behind `device`, as `--device` spells it
/// (`flex`, `ndarray`, `wgpu`, `wgpu:cpu`, `wgpu:1`, `cuda:0`), for summaries; autodiff is
/// not part of the name. Burn 0.22 exposes the backend only through the device's `Debug`
/// text (`Device<Autodiff { device: Flex(Cpu), .. }>`), which this reads.
pub fn backend_name(device: &Device) -> String {
    let text = format!("{device:?}").to_lowercase();
    let index = |after: &str| -> Option<String> {
        let rest = &text[text.find(after)? + after.len()..];
        let digits: String = rest
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        (!digits.is_empty()).then_some(digits)
    };
    if text.contains("flex") {
        "flex".into()
    } else if text.contains("ndarray") {
        "ndarray".into()
    } else if text.contains("wgpu") {
        match index("wgpu") {
            _ if text.contains("cpu") => "wgpu:cpu".into(),
            Some(i) => format!("wgpu:{i}"),
            None => "wgpu".into(),
        }
    } else if text.contains("cuda") {
        format!("cuda:{}", index("cuda").unwrap_or_else(|| "0".into()))
    } else {
        text
    }
}

/// Makes glibc's allocator keep freed buffers of up to 32 MiB in the heap instead of returning
/// them to the kernel (once per process; nothing on other platforms). A training step on a CPU
/// allocates tensors of a few MiB to 28 MiB (the `[700, 10000]` logits of a PTB window) and
/// frees them again; by default glibc maps each such buffer afresh and unmaps it on free, so
/// every step pays page faults and zeroing for all of them. The zoo's `bench-rhn` on a 2-core
/// Xeon (two alternating runs each, with and without these settings given as `MALLOC_*_`
/// environment variables): `ptb_small` 3,731-3,931 → 4,891-5,053 tokens/s, `ptb_sota` 777-787 →
/// 825-835. The price is a higher resident size: freed memory stays with the process.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; called before the work starts.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_TOP_PAD, 256 << 20);
            }
        });
    }
}

/// How long a GPU device may take to answer its first operation (driver start-up, the first
/// kernel's compilation) before a probe ([`probe_device`]) should give up on it, in seconds.
pub const PROBE_SECONDS: u64 = 120;

/// Whether `device` answers: one small tensor made on it and read back ([`probe`]), waiting
/// at most `limit`. A GPU backend whose device is absent or broken (no Vulkan, Metal or DX12
/// adapter for wgpu, which then falls back to an OpenGL adapter that can deadlock; no CUDA
/// driver, or no GPU of that index) panics inside Burn, often in a thread of its own, and may
/// never return; here that becomes an error with the panic's message.
pub fn probe_device(device: &Device, limit: Duration) -> Result<(), String> {
    let probed = device.clone();
    let ones = move || {
        Tensor::<1>::ones([1], &probed)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    };
    probe(ones, limit)
}

/// Runs `op` (a device's first operation, which should give `[1.0]`) in a thread of its own and
/// waits at most `limit` for it. A panic in that thread or in any unnamed thread meanwhile
/// (Burn's GPU runtimes panic in threads of their own) ends the wait at once, with its message;
/// the default panic output is kept off the terminal while waiting.
pub fn probe(
    op: impl FnOnce() -> Result<Vec<f32>, String> + Send + 'static,
    limit: Duration,
) -> Result<(), String> {
    use std::panic::{AssertUnwindSafe, catch_unwind, set_hook, take_hook};
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::sync::{Arc, Mutex};
    const THREAD: &str = "device-probe";
    let panicked: Arc<Mutex<Option<String>>> = Arc::default();
    let hook = take_hook();
    let record = panicked.clone();
    set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        if thread.name().is_none_or(|n| n == THREAD) {
            let mut first = record.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| info.to_string());
        }
    }));
    let (tx, rx) = channel();
    let spawned = std::thread::Builder::new()
        .name(THREAD.into())
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(op)));
        });
    let start = std::time::Instant::now();
    let outcome = match spawned {
        Err(e) => Err(format!("cannot start a thread: {e}")),
        Ok(_) => loop {
            let seen = || panicked.lock().unwrap_or_else(|p| p.into_inner()).clone();
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(Ok(values))) if values == [1.0] => break Ok(()),
                Ok(Ok(Ok(values))) => break Err(format!("ones read back as {values:?}")),
                Ok(Ok(Err(e))) => break Err(e),
                Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                    break Err(seen().unwrap_or_else(|| "it panicked".into()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(message) = seen() {
                        break Err(message);
                    }
                    if start.elapsed() >= limit {
                        break Err(format!("no answer within {} s", limit.as_secs_f64()));
                    }
                }
            }
        },
    };
    set_hook(hook);
    outcome
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_device_that_panics_or_hangs_is_an_error_not_a_hang() {
        let limit = Duration::from_secs(60);
        assert_eq!(probe_device(&Device::flex(), limit), Ok(()));
        assert_eq!(probe(|| Ok(vec![1.0]), limit), Ok(()));
        let err = probe(|| Err("no adapter".into()), limit).unwrap_err();
        assert_eq!(err, "no adapter");
        let err = probe(|| panic!("the runtime is broken"), limit).unwrap_err();
        assert!(err.contains("the runtime is broken"), "{err}");
        // A runtime thread that panics while the operation waits forever: the panic ends it.
        let start = Instant::now();
        let err = probe(
            || {
                std::thread::spawn(|| panic!("Could not lock adapter context"));
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            },
            limit,
        )
        .unwrap_err();
        assert!(err.contains("Could not lock adapter context"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(30));
        // Silence without a panic: the time limit.
        let err = probe(
            || loop {
                std::thread::sleep(Duration::from_secs(1));
            },
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.contains("no answer within 0.2 s"), "{err}");
    }
}
