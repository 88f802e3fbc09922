//! The CIFAR-10/100 convolutional highway nets of *Training Very Deep Networks* (Srivastava,
//! Greff & Schmidhuber, arXiv:1507.06228), Table 2 (highway nets against the Fitnets of Romero
//! et al., arXiv:1412.6550) and Table 3 (the 19-layer net with augmentation).
//!
//! Every net is a list of stages. A stage is one plain 3×3 convolution + ReLU that sets the
//! width (a highway layer cannot change it), then `highway_layers` 3×3 highway layers of that
//! width; 2×2 max-pooling (stride 2) follows every stage but the last (32 → 16 → 8). A head
//! then maps the last feature map to logits:
//!
//! ```text
//! z = drop_0.2(x)
//! for each stage s:  z = highway^{h_s}(relu(conv3x3_{w_s}(z)));  z = drop_0.2(pool_2/2(z)) (not after the last)
//! Table 2 head (MaxPoolFc):   z = drop_0.2(relu(W_1 · globalmax(z) + b_1));     p = softmax(W z + b)
//! Table 3 head (ConvAvgPool): z = drop_0.2(globalavg(relu(conv1x1_{hidden}(z)))); p = softmax(W z + b)
//! ```
//!
//! Layer lists and what they give (CIFAR-10, 10 classes; a CIFAR-100 head adds `90·(hidden+1)`):
//!
//! | preset | stages (width × (1 conv + h highway)) | head | layers | params | paper |
//! |---|---|---|---|---|---|
//! | [`CifarHighwayConfig::fitnet_a`] | 16×(1+2), 32×(1+2), 64×(1+2) | max-pool, FC 200 | 11 | 232,578 | 11, ~236K |
//! | [`CifarHighwayConfig::fitnet_b`] | 32×(1+4), 80×(1+5), 128×(1+5) | max-pool, FC 100 | 19 | 2,256,838 | 19, ~2.3M |
//! | [`CifarHighwayConfig::fitnet_c`] | 16×(1+4), 32×(1+9), 64×(1+14) | max-pool, FC 100 | 32 | 1,250,102 | 32, ~1.25M |
//! | [`CifarHighwayConfig::table3`] | 32×(1+4), 80×(1+5), 128×(1+5) | 1×1 conv 100, avg-pool | 19 | 2,256,838 | (Table 3 gives no count) |
//!
//! Where these lists come from (the papers give layer counts and parameter counts only, except
//! for the authors' released 19-layer net):
//! - **Table 3 / B**: the authors' code (Caffe prototxt, `cifar10-19layers`) exactly: 17 3×3
//!   convolutions in three stages (32, 80, 128 channels), a 1×1 convolution to 100 channels,
//!   average pooling 8, dropout 0.2 and the softmax layer: 19 weight layers. That is also the
//!   layer count of Fitnet 4 ("Fitnet B", 17 conv + a fully connected hidden layer + softmax),
//!   and Table 3 says the Table 3 net is the Table 2 net with "the final fully connected layer
//!   replaced by a 1×1 convolution and global average pooling"; so Highway B here is the same
//!   17 convolutions with Fitnet's global max pool ("pool 8×8") and a 100-unit hidden layer.
//!   2,256,838 parameters, 1.9% under the paper's ~2.3M.
//! - **A** (Fitnet 1: 9 conv + FC + softmax = 11 layers, three stages of 3): three stages of
//!   one conv + 2 highway layers at 16/32/64 channels (Fitnet widths) and a 200-unit hidden
//!   layer: 232,578 (−1.4% from ~236K). Assumption: the hidden width is not published; with
//!   100 units (as B and C) the net has 225,078 parameters (−4.6%).
//! - **C** (32 layers, ~1.25M): three stages of 5, 10 and 15 convolutions (1 conv +
//!   4/9/14 highway) at 16/32/64 channels and a 100-unit hidden layer: 30 conv + 2 FC = 32
//!   layers, 1,250,102 parameters (+0.01%). Assumption: chosen as the simplest Fitnet-style
//!   list matching both published numbers; the paper gives no layer list.
//!
//! Other details follow the authors' 19-layer code: Xavier-uniform kernels, zero biases, dropout
//! 0.2 on the input, after each pooling and before the softmax layer. The transform-gate bias
//! follows the authors' guidance for conv nets (−1 for ~10 layers, −2 for 20-30 (their code's
//! 19-layer net), −3 for 30-40): A −1, B and Table 3 −2, C −3. The code's output layer has 100
//! units even for CIFAR-10 (only 10 are ever targets) and Gaussian(0.05) init; here it has
//! `n_classes` units and Xavier init.
//!
//! The plain counterpart (`kind = Plain`) replaces each highway layer by a plain 3×3
//! convolution + ReLU of the same width (half the parameters of a highway layer).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Gradients, Tensor};
use highway_core::{ConvHighwayConfig, ConvPlainConfig};
use serde::{Deserialize, Serialize};

use crate::fast_stages::StageTapes;
use crate::{ConvStage, LayerKind};

/// One stage: a plain 3×3 convolution + ReLU to `width` channels, then `highway_layers` 3×3
/// highway (or plain) layers of that width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CifarStage {
    /// Channels of the stage.
    pub width: usize,
    /// Highway (or plain) layers after the stage's first convolution.
    pub highway_layers: usize,
}

impl CifarStage {
    /// A stage of `width` channels with `highway_layers` gated layers.
    pub const fn new(width: usize, highway_layers: usize) -> Self {
        Self {
            width,
            highway_layers,
        }
    }
}

/// How the last feature map becomes logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CifarHead {
    /// Table 2 (Fitnet style): global max pooling, a fully connected hidden layer + ReLU,
    /// dropout, softmax layer.
    MaxPoolFc,
    /// Table 3 (authors' code): 1×1 convolution + ReLU, global average pooling, dropout,
    /// softmax layer.
    ConvAvgPool,
}

/// Configuration of a [`CifarNet`]; the presets are the paper's nets.
#[derive(Config, Debug)]
pub struct CifarHighwayConfig {
    /// The stages, input side first (max-pooling 2/2 between consecutive stages).
    pub stages: Vec<CifarStage>,
    /// The head.
    #[config(default = "CifarHead::MaxPoolFc")]
    pub head: CifarHead,
    /// Units of the head's hidden layer (channels of its 1×1 convolution).
    #[config(default = 100)]
    pub hidden: usize,
    /// Highway (the paper) or plain layers.
    #[config(default = "LayerKind::Highway")]
    pub kind: LayerKind,
    /// Initial transform-gate bias `b_T`.
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// Dropout on the input, after each pooling and before the softmax layer.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Number of classes (10 for CIFAR-10, 100 for CIFAR-100).
    #[config(default = 10)]
    pub n_classes: usize,
}

impl CifarHighwayConfig {
    /// Table 2, Highway A (the Fitnet A / Fitnet 1 comparison): 11 layers, ~236K parameters,
    /// 89.18% CIFAR-10 test accuracy (Fitnet A: 89.01%). This list: 232,578 parameters (see
    /// the module docs for the reconstruction).
    pub fn fitnet_a() -> Self {
        Self::new(vec![
            CifarStage::new(16, 2),
            CifarStage::new(32, 2),
            CifarStage::new(64, 2),
        ])
        .with_hidden(200)
        .with_transform_bias(-1.0)
    }

    /// Table 2, Highway B (the Fitnet B / Fitnet 4 comparison): 19 layers, ~2.3M parameters,
    /// 92.46% CIFAR-10 test accuracy (mean 92.28 ± 0.16; Fitnet B: 91.61%). The authors'
    /// 19-layer convolutions with a fully connected head: 2,256,838 parameters.
    pub fn fitnet_b() -> Self {
        Self::new(Self::authors_19_layer_stages())
    }

    /// Table 2, Highway C: 32 layers, ~1.25M parameters, 91.20% CIFAR-10 test accuracy. This
    /// list: 1,250,102 parameters (reconstructed, see the module docs).
    pub fn fitnet_c() -> Self {
        Self::new(vec![
            CifarStage::new(16, 4),
            CifarStage::new(32, 9),
            CifarStage::new(64, 14),
        ])
        .with_transform_bias(-3.0)
    }

    /// Table 3: the authors' 19-layer net (their code), the final fully connected layer
    /// replaced by a 1×1 convolution + global average pooling; trained with augmentation.
    /// CIFAR-10: 92.40% test accuracy (92.31 ± 0.12); CIFAR-100 (`.with_n_classes(100)`):
    /// 67.76% (67.61 ± 0.15). 2,256,838 parameters (CIFAR-10), 2,265,928 (CIFAR-100).
    pub fn table3() -> Self {
        Self::new(Self::authors_19_layer_stages()).with_head(CifarHead::ConvAvgPool)
    }

    /// The authors' 19-layer stages: conv 32 + 4 highway, conv 80 + 5 highway, conv 128 + 5
    /// highway.
    pub fn authors_19_layer_stages() -> Vec<CifarStage> {
        vec![
            CifarStage::new(32, 4),
            CifarStage::new(80, 5),
            CifarStage::new(128, 5),
        ]
    }

    /// Weight layers as the paper counts them: every convolution plus the two head layers.
    pub fn layers(&self) -> usize {
        self.stages
            .iter()
            .map(|s| 1 + s.highway_layers)
            .sum::<usize>()
            + 2
    }

    /// Highway (or plain) layers over all stages: the valid lesion indices are `0..` this.
    pub fn gated_layers(&self) -> usize {
        self.stages.iter().map(|s| s.highway_layers).sum()
    }

    /// Checks the values, naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.stages.is_empty() {
            return Err("a CIFAR net needs at least one stage".into());
        }
        if let Some(s) = self.stages.iter().find(|s| s.width == 0) {
            return Err(format!("stage width must be at least 1, got {s:?}"));
        }
        if self.stages.len() > 5 {
            return Err(format!(
                "{} stages would pool a 32×32 image below 1×1 (at most 5)",
                self.stages.len()
            ));
        }
        if self.hidden == 0 || self.n_classes == 0 {
            return Err("hidden and n_classes must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }

    /// Initialises the net.
    ///
    /// # Panics
    ///
    /// If [`CifarHighwayConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> CifarNet {
        if let Err(e) = self.validate() {
            panic!("CifarHighwayConfig: {e}");
        }
        let xavier = Initializer::XavierUniform { gain: 1.0 };
        let mut inputs = Vec::with_capacity(self.stages.len());
        let mut stages = Vec::with_capacity(self.stages.len());
        let mut channels = 3;
        for s in &self.stages {
            inputs.push(
                ConvPlainConfig::new([channels, s.width])
                    .with_initializer(xavier.clone())
                    .init(device),
            );
            stages.push(match self.kind {
                LayerKind::Highway => ConvStage::Highway(
                    ConvHighwayConfig::new(s.width)
                        .with_transform_bias(self.transform_bias)
                        .with_initializer(xavier.clone())
                        .init_stack(s.highway_layers, device),
                ),
                LayerKind::Plain => ConvStage::Plain(
                    ConvPlainConfig::new([s.width, s.width])
                        .with_initializer(xavier.clone())
                        .init_stack(s.highway_layers, device),
                ),
            });
            channels = s.width;
        }
        let head = match self.head {
            CifarHead::MaxPoolFc => CifarHeadLayer::Fc(
                LinearConfig::new(channels, self.hidden)
                    .with_initializer(xavier.clone())
                    .init(device),
            ),
            CifarHead::ConvAvgPool => CifarHeadLayer::Conv1x1(
                Conv2dConfig::new([channels, self.hidden], [1, 1])
                    .with_padding(PaddingConfig2d::Valid)
                    .with_initializer(xavier.clone())
                    .init(device),
            ),
        };
        CifarNet {
            inputs,
            stages,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            head,
            output: LinearConfig::new(self.hidden, self.n_classes)
                .with_initializer(xavier)
                .init(device),
        }
    }
}

/// The head's hidden layer.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum CifarHeadLayer {
    /// Table 2: fully connected, after global max pooling.
    Fc(Linear),
    /// Table 3: 1×1 convolution, before global average pooling.
    Conv1x1(Conv2d),
}

/// What [`CifarNet::forward_with_gates`] observed.
#[derive(Debug, Clone)]
pub struct CifarOutput {
    /// Class logits `[batch, n_classes]`.
    pub logits: Tensor<2>,
    /// The transform gate of every highway layer, input side first, over all stages
    /// (`[batch, width_s, h_s, w_s]` each; empty for a plain net).
    pub gates: Vec<Tensor<4>>,
}

impl CifarOutput {
    /// Mean transform-gate activity of each highway layer over examples, channels and
    /// positions; `None` for a plain net.
    ///
    /// # Shapes
    ///
    /// - output: `[gated layers]`
    pub fn gate_mean_per_layer(&self) -> Option<Tensor<1>> {
        highway_core::stack::gate_mean_per_layer(&self.gates)
    }

    /// Mean transform-gate activity of each highway layer for each example.
    ///
    /// # Shapes
    ///
    /// - output: `[batch, gated layers]`
    pub fn gate_mean_per_example(&self) -> Option<Tensor<2>> {
        highway_core::stack::gate_mean_per_example(&self.gates)
    }
}

/// A CIFAR highway (or plain) net of Table 2 or 3. Should be created with
/// [`CifarHighwayConfig`].
#[derive(Module, Debug)]
pub struct CifarNet {
    /// Each stage's first (plain, width-setting) 3×3 convolution + ReLU.
    pub inputs: Vec<highway_core::ConvPlain>,
    /// Each stage's highway (or plain) layers.
    pub stages: Vec<ConvStage>,
    /// 2×2 max-pooling, stride 2, between stages.
    pub pool: MaxPool2d,
    /// Dropout (input, after each pooling, before the softmax layer).
    pub dropout: Dropout,
    /// The head's hidden layer.
    pub head: CifarHeadLayer,
    /// Softmax layer (logits).
    pub output: Linear,
}

impl CifarNet {
    /// Class logits.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 3, 32, 32]` (any side divisible by `2^(stages − 1)` works)
    /// - output: `[batch, n_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_with_gates(x, None).logits
    }

    /// Number of highway (or plain) layers over all stages.
    pub fn gated_layers(&self) -> usize {
        self.stages.iter().map(ConvStage::depth).sum()
    }

    /// Class logits and every highway layer's transform gate. With `lesion = Some(k)`, gated
    /// layer `k` (0-based over all stages, `0..gated_layers()`) has its transform gate forced
    /// to 0 (pure carry; a plain layer is skipped), as in *Training Very Deep Networks* s4.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 3, 32, 32]`
    /// - logits: `[batch, n_classes]`; gates: as [`CifarOutput::gates`]
    ///
    /// # Panics
    ///
    /// If `lesion` is not below [`CifarNet::gated_layers`].
    pub fn forward_with_gates(&self, x: Tensor<4>, lesion: Option<usize>) -> CifarOutput {
        if let Some(k) = lesion {
            assert!(
                k < self.gated_layers(),
                "lesion index {k} is out of range for a net of {} gated layers",
                self.gated_layers()
            );
        }
        let mut gates = Vec::new();
        let mut offset = 0;
        let logits = self.forward_stages(x, |_, stage, z| {
            let (depth, out) = match stage {
                ConvStage::Highway(s) => (
                    s.depth(),
                    s.forward_with_gates(z, local_lesion(lesion, offset, s.depth())),
                ),
                ConvStage::Plain(s) => (
                    s.depth(),
                    s.forward_with_gates(z, local_lesion(lesion, offset, s.depth())),
                ),
            };
            gates.extend(out.gates);
            offset += depth;
            out.output
        });
        CifarOutput { logits, gates }
    }

    /// Class logits for a training step: as [`forward`](Self::forward), with the highway
    /// stages on the CPU fast path where it applies; complete the tapes after
    /// `loss.backward()` ([`StageTapes::complete`]).
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 3, 32, 32]`
    /// - output: `[batch, n_classes]`
    pub fn forward_train(&self, x: Tensor<4>) -> (Tensor<2>, StageTapes) {
        StageTapes::record(|stage| self.forward_stages(x, stage))
    }

    /// Adds the gradients of the stages that [`forward_train`](Self::forward_train) ran on
    /// the fast path, and of everything before them, to `grads` (those of `loss.backward()`).
    pub fn complete_train(&self, tapes: StageTapes, grads: &mut Gradients) {
        tapes.complete(&self.stages, self, grads);
    }

    /// The net with `stage(index, stage, z)` applying each stage's highway (or plain) layers.
    fn forward_stages(
        &self,
        x: Tensor<4>,
        mut stage: impl FnMut(usize, &ConvStage, Tensor<4>) -> Tensor<4>,
    ) -> Tensor<2> {
        let mut z = crate::dropout(&self.dropout, x);
        let last = self.stages.len() - 1;
        for (i, (input, s)) in self.inputs.iter().zip(&self.stages).enumerate() {
            z = stage(i, s, input.forward(z));
            if i < last {
                z = crate::dropout(&self.dropout, self.pool.forward(z));
            }
        }
        let hidden = match &self.head {
            CifarHeadLayer::Fc(fc) => {
                let pooled = z.max_dim(3).max_dim(2).flatten::<2>(1, 3);
                relu(fc.forward(pooled))
            }
            CifarHeadLayer::Conv1x1(conv) => relu(conv.forward(z))
                .mean_dim(3)
                .mean_dim(2)
                .flatten::<2>(1, 3),
        };
        self.output.forward(crate::dropout(&self.dropout, hidden))
    }
}

/// The lesion index local to a stack covering gated layers `offset..offset + depth`.
fn local_lesion(lesion: Option<usize>, offset: usize, depth: usize) -> Option<usize> {
    lesion.and_then(|k| (offset..offset + depth).contains(&k).then(|| k - offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn conv(i: usize, o: usize, k: usize) -> usize {
        i * o * k * k + o
    }

    #[test]
    fn parameter_counts_are_within_three_percent_of_table_2() {
        let device = Device::flex();
        for (name, config, layers, paper) in [
            ("A", CifarHighwayConfig::fitnet_a(), 11, 236_000.0),
            ("B", CifarHighwayConfig::fitnet_b(), 19, 2_300_000.0),
            ("C", CifarHighwayConfig::fitnet_c(), 32, 1_250_000.0),
            ("Table 3", CifarHighwayConfig::table3(), 19, 2_300_000.0),
        ] {
            let n = config.init(&device).num_params() as f64;
            assert!((n / paper - 1.0).abs() < 0.03, "{name}: {n} vs {paper}");
            assert_eq!(config.layers(), layers, "{name}");
        }
        // B exactly: the authors' 17 convolutions, FC 128 → 100, FC 100 → 10.
        let hw = |w| 2 * conv(w, w, 3);
        let b = conv(3, 32, 3)
            + 4 * hw(32)
            + conv(32, 80, 3)
            + 5 * hw(80)
            + conv(80, 128, 3)
            + 5 * hw(128)
            + (128 * 100 + 100)
            + (100 * 10 + 10);
        assert_eq!(CifarHighwayConfig::fitnet_b().init(&device).num_params(), b);
        assert_eq!(b, 2_256_838);
        // Table 3 on CIFAR-100: the 1×1 conv has the FC's parameters; the output grows.
        let t3 = CifarHighwayConfig::table3().with_n_classes(100);
        assert_eq!(t3.init(&device).num_params(), b - 1010 + 10_100);
        // The plain counterpart: one kernel per layer instead of two.
        let plain = CifarHighwayConfig::fitnet_b().with_kind(LayerKind::Plain);
        let gates = 4 * conv(32, 32, 3) + 5 * conv(80, 80, 3) + 5 * conv(128, 128, 3);
        assert_eq!(plain.init(&device).num_params(), b - gates);
    }

    fn tiny(head: CifarHead, kind: LayerKind) -> CifarHighwayConfig {
        // Widths 6 and 8, 32 hidden units: with fewer a random init can leave every ReLU of a
        // stage or of the head dead, and then lesioning a layer changes nothing (flaky
        // failures seen with 2-3 channels and with 5 hidden units).
        CifarHighwayConfig::new(vec![CifarStage::new(6, 1), CifarStage::new(8, 2)])
            .with_head(head)
            .with_hidden(32)
            .with_kind(kind)
            .with_n_classes(7)
    }

    #[test]
    fn forward_shapes_gates_and_lesions() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &device);
        for head in [CifarHead::MaxPoolFc, CifarHead::ConvAvgPool] {
            let net = tiny(head, LayerKind::Highway).init(&device);
            assert_eq!(net.gated_layers(), 3);
            let out = net.forward_with_gates(x.clone(), None);
            assert_eq!(out.logits.dims(), [2, 7]);
            assert_eq!(out.gates.len(), 3);
            assert_eq!(out.gates[0].dims(), [2, 6, 32, 32]);
            assert_eq!(out.gates[2].dims(), [2, 8, 16, 16]);
            assert_eq!(out.gate_mean_per_layer().unwrap().dims(), [3]);
            assert_eq!(out.gate_mean_per_example().unwrap().dims(), [2, 3]);
            // b_T = −2 at init: gates near σ(−2) ≈ 0.12.
            let means = out.gate_mean_per_layer().unwrap().into_data();
            for m in means.try_to_vec::<f32>().unwrap() {
                assert!((0.05..0.3).contains(&m), "{m}");
            }
            // Lesioning the last layer changes the logits, and only gates after it could
            // differ (none here): the first two gates are unchanged.
            let lesioned = net.forward_with_gates(x.clone(), Some(2));
            let diff = (lesioned.logits - out.logits.clone())
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(diff > 0.0);
            let g0 = (lesioned.gates[1].clone() - out.gates[1].clone())
                .abs()
                .max()
                .into_scalar::<f32>();
            assert_eq!(g0, 0.0);
            let plain = tiny(head, LayerKind::Plain).init(&device);
            let out = plain.forward_with_gates(x.clone(), Some(0));
            assert_eq!(out.logits.dims(), [2, 7]);
            assert!(out.gate_mean_per_layer().is_none());
        }
    }

    #[test]
    fn bad_configs_are_named() {
        let c = CifarHighwayConfig::new(vec![]);
        assert!(c.validate().unwrap_err().contains("at least one stage"));
        let c = CifarHighwayConfig::new(vec![CifarStage::new(0, 1)]);
        assert!(c.validate().unwrap_err().contains("width"));
        let c = CifarHighwayConfig::fitnet_a().with_dropout(1.0);
        assert!(c.validate().unwrap_err().contains("dropout"));
        assert!(CifarHighwayConfig::fitnet_c().validate().is_ok());
    }
}
