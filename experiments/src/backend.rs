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
pub use models::train::devices::keep_freed_memory;
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
        if self.devices.is_empty() {
            return Ok(Devices::single(parse_device(self.device.as_deref())?));
        }
        let list = self.devices.join(",");
        let mut devices: Vec<Device> = Vec::with_capacity(self.devices.len());
        for name in &self.devices {
            let device =
                parse_device(Some(name)).map_err(|e| anyhow::anyhow!("--devices {list}: {e}"))?;
            let plain = backend_name(&device);
            if devices.iter().any(|d| backend_name(d) == plain) {
                anyhow::bail!(
                    "--devices {list}: {plain} is listed twice; name each device once (every \
                     device trains its own slice of each batch)"
                );
            }
            devices.push(device);
        }
        let main = devices.remove(0);
        Ok(Devices {
            main,
            replicas: devices,
        })
    }
}

/// The backends compiled into this build, in the order the default is chosen.
pub fn compiled_backends() -> Vec<&'static str> {
    [
        (cfg!(feature = "cuda"), "cuda"),
        (cfg!(feature = "wgpu-plain"), "wgpu"),
        (cfg!(feature = "flex"), "flex"),
        (cfg!(feature = "ndarray"), "ndarray"),
    ]
    .into_iter()
    .filter_map(|(compiled, name)| compiled.then_some(name))
    .collect()
}

/// wgpu runs on the first graphics API the machine has an adapter for: Vulkan, Metal or DX12
/// where a driver exists, else OpenGL. On OpenGL (e.g. Mesa's llvmpipe where no Vulkan driver
/// is installed) Burn 0.22.1's fused and autotuned kernels deadlock ("Could not lock adapter
/// context"): a run would hang, so it is refused here with what to install.
#[cfg(feature = "wgpu-plain")]
fn refuse_opengl(name: &str) -> anyhow::Result<()> {
    use burn_wgpu::graphics::{AutoGraphicsApi, GraphicsApi};
    if AutoGraphicsApi::backend() == burn_wgpu::wgpu::Backend::Gl {
        anyhow::bail!(
            "--device {name}: wgpu found no Vulkan, Metal or DX12 adapter, only OpenGL, on which \
             Burn's wgpu kernels hang; install a Vulkan driver (on Debian: mesa-vulkan-drivers, \
             whose lavapipe runs `wgpu:cpu` on the CPU) or choose another --device (`cpu`)"
        );
    }
    Ok(())
}

/// `device` if it answers ([`probe_device`](models::train::devices::probe_device): one small
/// tensor made on it and read back within
/// [`PROBE_SECONDS`](models::train::devices::PROBE_SECONDS)); a device that panics or hangs
/// becomes an error naming the `--device` value.
#[cfg(any(feature = "wgpu-plain", feature = "cuda"))]
fn answering(device: Device, name: &str) -> anyhow::Result<Device> {
    use models::train::devices::{PROBE_SECONDS, probe_device};
    match probe_device(&device, std::time::Duration::from_secs(PROBE_SECONDS)) {
        Ok(()) => Ok(device),
        Err(why) => anyhow::bail!(
            "--device {name}: the device does not work here ({why}); check the GPU driver (for \
             wgpu: a Vulkan driver, e.g. Debian's mesa-vulkan-drivers, which also runs \
             `wgpu:cpu`), or choose another --device (`cpu` always works)"
        ),
    }
}

/// Maps a `--device` value (or `None` for the default) to a [`Device`]. Also tunes the
/// allocator for tensor work ([`keep_freed_memory`]), so that every binary that picks a device
/// (the training binaries through [`DeviceArgs`], the benches directly) runs with the same
/// allocator settings.
pub fn parse_device(name: Option<&str>) -> anyhow::Result<Device> {
    keep_freed_memory();
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
            #[cfg(feature = "wgpu-plain")]
            {
                use burn::tensor::DeviceKind;
                let kind = match index.as_deref() {
                    None => DeviceKind::DefaultDevice,
                    Some("cpu") => DeviceKind::Cpu,
                    Some(i) => DeviceKind::DiscreteGpu(i.parse().map_err(|_| {
                        anyhow::anyhow!("--device wgpu:{i}: expected a GPU index or `cpu`")
                    })?),
                };
                refuse_opengl(&name)?;
                answering(Device::wgpu(kind), &name)
            }
            #[cfg(not(feature = "wgpu-plain"))]
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
                answering(Device::cuda(i), &name)
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
