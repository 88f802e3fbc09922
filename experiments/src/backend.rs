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

/// Command-line arguments shared by every binary that runs a model.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DeviceArgs {
    /// Backend and device: cpu|flex, ndarray, wgpu, wgpu:cpu, cuda, cuda:N (default: a compiled-in
    /// GPU backend, else the CPU).
    #[arg(long)]
    pub device: Option<String>,
}

impl DeviceArgs {
    /// The device these arguments name.
    /// Also tunes the allocator for tensor work ([`keep_freed_memory`]).
    pub fn device(&self) -> anyhow::Result<Device> {
        keep_freed_memory();
        parse_device(self.device.as_deref())
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
        #[cfg(not(feature = "cuda"))]
        {
            let err = parse_device(Some("cuda:1")).unwrap_err().to_string();
            assert!(err.contains("needs the `cuda` cargo feature"), "{err}");
        }
    }
}
