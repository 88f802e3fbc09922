//! The devices a run trains on ([`Devices`]) and the plain name of a device's backend
//! ([`backend_name`]).

use burn::tensor::Device;

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
