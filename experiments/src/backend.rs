//! The one place where cargo features and the `--device` flag become a Burn [`Device`].
//!
//! Burn 0.22 modules carry no backend type: a [`Device`] picks the backend at run time, and
//! cargo features pick which backends are compiled in. This crate's features:
//!
//! | feature   | backend                          | `--device` values        |
//! |-----------|----------------------------------|--------------------------|
//! | `flex`    | Burn's pure-Rust CPU backend (default) | `cpu`, `flex`      |
//! | `ndarray` | ndarray CPU backend (SIMD, rayon)| `ndarray`                |
//! | `wgpu`    | wgpu (Vulkan, Metal, DX12, ...)  | `wgpu`, `wgpu:cpu`       |
//! | `cuda`    | CUDA                             | `cuda`, `cuda:N`         |
//!
//! Without `--device` the first enabled GPU backend is used if it was compiled in on purpose
//! (`wgpu`, `cuda`), otherwise the CPU: a plain `cargo run` always trains on the CPU.

use burn::tensor::Device;
pub use models::train::{Devices, backend_name};

/// Command-line arguments shared by every binary that runs a model.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DeviceArgs {
    /// Backend and device: cpu|flex, ndarray, wgpu, wgpu:cpu, cuda, cuda:N (default: a compiled-in
    /// GPU backend, else the CPU).
    #[arg(long)]
    pub device: Option<String>,
    /// Train on several devices of one machine, e.g. `cuda:0,cuda:1` or `wgpu:0,wgpu:1`: every
    /// batch is split into one slice per device, the gradients are summed on the first device,
    /// which holds the model, the optimiser and the evaluation (training binaries only).
    #[arg(long, value_delimiter = ',', conflicts_with = "device")]
    pub devices: Vec<String>,
}

impl DeviceArgs {
    /// The one device these arguments name, for a binary that runs on one device.
    /// Also tunes the allocator for tensor work ([`keep_freed_memory`]).
    ///
    /// # Errors
    ///
    /// As [`devices`](Self::devices), and when `--devices` names more than one.
    pub fn device(&self) -> anyhow::Result<Device> {
        let devices = self.devices()?;
        if !devices.replicas.is_empty() {
            anyhow::bail!(
                "--devices {}: this binary runs on one device; name it with --device",
                self.devices.join(",")
            );
        }
        Ok(devices.main)
    }

    /// The devices these arguments name: `--devices`, else the one `--device` names.
    ///
    /// # Errors
    ///
    /// An unknown name, a backend not compiled in, or a device listed twice, naming the flag.
    pub fn devices(&self) -> anyhow::Result<Devices> {
        keep_freed_memory();
        if self.devices.is_empty() {
            return Ok(Devices::single(parse_device(self.device.as_deref())?));
        }
        let list = self.devices.join(",");
        let mut devices: Vec<Device> = Vec::with_capacity(self.devices.len());
        let mut names: Vec<String> = Vec::with_capacity(self.devices.len());
        for name in &self.devices {
            let device =
                parse_device(Some(name)).map_err(|e| anyhow::anyhow!("--devices {list}: {e}"))?;
            let plain = backend_name(&device);
            if names.contains(&plain) {
                anyhow::bail!(
                    "--devices {list}: {plain} is listed twice; name each device once (every \
                     device trains its own slice of each batch)"
                );
            }
            names.push(plain);
            devices.push(device);
        }
        let main = devices.remove(0);
        Ok(Devices {
            main,
            replicas: devices,
        })
    }
}

/// Makes glibc's allocator keep freed buffers of up to 32 MiB in the heap instead of returning
/// them to the kernel (once per process; nothing on other platforms). A training step on a CPU
/// allocates tensors of a few MiB to 28 MiB (the `[700, 10000]` logits of a PTB window) and
/// frees them again; by default glibc maps each such buffer afresh and unmaps it on free, so
/// every step pays page faults and zeroing for all of them. `bench-rhn` on the 2-core Xeon
/// (two alternating runs each, with and without these settings given as `MALLOC_*_`
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

/// The backends compiled into this build, in the order the default is chosen.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut out = Vec::new();
    if cfg!(feature = "cuda") {
        out.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        out.push("wgpu");
    }
    if cfg!(feature = "flex") {
        out.push("flex");
    }
    if cfg!(feature = "ndarray") {
        out.push("ndarray");
    }
    out
}

/// Maps a `--device` value (or `None` for the default) to a [`Device`].
pub fn parse_device(name: Option<&str>) -> anyhow::Result<Device> {
    let compiled = compiled_backends();
    let name = match name {
        Some(n) => n.to_ascii_lowercase(),
        None => match compiled.first() {
            Some(first) => first.to_string(),
            None => anyhow::bail!(
                "no backend compiled in: build with --features flex (the default), ndarray, wgpu or cuda"
            ),
        },
    };
    let (kind, index) = match name.split_once(':') {
        Some((k, i)) => (k.to_string(), Some(i.to_string())),
        None => (name.clone(), None),
    };
    let missing = |feature: &str| {
        anyhow::anyhow!(
            "--device {name} needs the `{feature}` cargo feature (compiled in: {})",
            compiled.join(", ")
        )
    };
    match kind.as_str() {
        "cpu" | "flex" => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            #[cfg(not(feature = "flex"))]
            {
                #[cfg(feature = "ndarray")]
                if kind == "cpu" {
                    #[allow(deprecated)]
                    return Ok(Device::ndarray());
                }
                Err(missing("flex"))
            }
        }
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            {
                #[allow(deprecated)]
                return Ok(Device::ndarray());
            }
            #[cfg(not(feature = "ndarray"))]
            Err(missing("ndarray"))
        }
        "wgpu" => {
            #[cfg(feature = "wgpu")]
            {
                use burn::tensor::DeviceKind;
                let kind = match index.as_deref() {
                    None => DeviceKind::DefaultDevice,
                    Some("cpu") => DeviceKind::Cpu,
                    Some(i) => DeviceKind::DiscreteGpu(i.parse().map_err(|_| {
                        anyhow::anyhow!("--device wgpu:{i}: expected a GPU index or `cpu`")
                    })?),
                };
                return Ok(Device::wgpu(kind));
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = index;
                Err(missing("wgpu"))
            }
        }
        "cuda" => {
            #[cfg(feature = "cuda")]
            {
                let i: usize = match index.as_deref() {
                    None => 0,
                    Some(i) => i
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--device cuda:{i}: expected a GPU index"))?,
                };
                return Ok(Device::cuda(i));
            }
            #[cfg(not(feature = "cuda"))]
            Err(missing("cuda"))
        }
        other => anyhow::bail!(
            "unknown --device `{other}`: expected cpu, flex, ndarray, wgpu, wgpu:cpu, cuda or cuda:N"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_cpu_and_unknown_names_are_clear_errors() {
        let device = parse_device(None).unwrap();
        if compiled_backends().first() == Some(&"flex") {
            assert_eq!(backend_name(&device), "flex");
            assert_eq!(backend_name(&device.clone().autodiff()), "flex");
        }
        let err = parse_device(Some("tpu")).unwrap_err().to_string();
        assert!(err.contains("unknown --device `tpu`"), "{err}");
        let devices = |list: &[&str]| DeviceArgs {
            device: None,
            devices: list.iter().map(|s| s.to_string()).collect(),
        };
        let err = devices(&["flex", "tpu"]).devices().unwrap_err().to_string();
        assert!(
            err.starts_with("--devices flex,tpu: unknown --device `tpu`"),
            "{err}"
        );
        if compiled_backends().contains(&"flex") {
            let err = devices(&["flex", "cpu"]).devices().unwrap_err().to_string();
            assert!(err.contains("flex is listed twice"), "{err}");
            let one = devices(&["flex"]).devices().unwrap();
            assert!(one.replicas.is_empty());
            assert_eq!(one.names(), "flex");
            let two = devices(&["flex", "ndarray"]);
            if compiled_backends().contains(&"ndarray") {
                assert!(
                    two.device()
                        .unwrap_err()
                        .to_string()
                        .contains("runs on one device")
                );
            }
        }
        #[cfg(not(feature = "cuda"))]
        {
            let err = parse_device(Some("cuda:1")).unwrap_err().to_string();
            assert!(err.contains("needs the `cuda` cargo feature"), "{err}");
            let err = devices(&["cuda:0", "cuda:1"])
                .devices()
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("--devices cuda:0,cuda:1: --device cuda:0 needs the `cuda`"),
                "{err}"
            );
        }
    }
}
