//! A Recurrent Highway Network layer over a whole sequence, with explicit state.
//!
//! Zilly, Srivastava, Koutník & Schmidhuber, *Recurrent Highway Networks* (arXiv:1607.03474):
//! the [`RhnCell`] applied at every time step, `s^{[t]} = cell(x_t, s^{[t−1]})`, `y_t = s^{[t]}`.
//! The state is explicit so that it can be carried across truncated-BPTT windows (detach it with
//! [`RhnState::detach`] between windows, as the authors' code feeds the final state of one window
//! as the initial state of the next).
//!
//! For speed the input projections `W_H x_t`, `W_T x_t` of all time steps are computed with one
//! matrix product `[seq·batch, d_input] × [d_input, 2·d_hidden]` before the recurrence; each
//! micro-layer then needs one product with its fused `[R_H,l R_T,l]` per step (computed as
//! `(Rᵀ·sᵀ)ᵀ`, the fast orientation on a CPU). For training, [`Rhn::forward_deferred`] runs the
//! recurrence outside autodiff with a hand-written backward through time (see [`RhnTape`]).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::cell::{RhnCell, RhnCellConfig};
use crate::deferred::RhnTape;
use crate::dropout::RhnMasks;

/// Configuration to create an [`Rhn`] layer with [`RhnConfig::init`]: the configuration of the
/// cell it unrolls.
///
/// ```
/// use rhn::{CarryMode, RhnCellConfig, RhnConfig};
///
/// let config = RhnConfig::new(RhnCellConfig::new(8, 16, 3).with_carry(CarryMode::Free));
/// assert_eq!(config.cell.depth, 3);
/// ```
#[derive(Config, Debug)]
pub struct RhnConfig {
    /// The cell applied at every time step.
    pub cell: RhnCellConfig,
}

impl RhnConfig {
    /// Number of parameters, without allocating (see [`RhnCellConfig::num_params`]).
    pub fn num_params(&self) -> usize {
        self.cell.num_params()
    }

    /// Checks the sizes and biases.
    pub fn validate(&self) -> Result<(), String> {
        self.cell.validate()
    }

    /// Initialises a new [`Rhn`] layer.
    ///
    /// # Panics
    ///
    /// If [`RhnConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> Rhn {
        Rhn {
            cell: self.cell.init(device),
        }
    }
}

impl From<RhnCellConfig> for RhnConfig {
    fn from(cell: RhnCellConfig) -> Self {
        RhnConfig::new(cell)
    }
}

/// The recurrent state of an [`Rhn`]: the output `s^{[t]} = s_L` of the last time step.
#[derive(Debug, Clone)]
pub struct RhnState {
    /// `s`, `[batch, d_hidden]`.
    pub s: Tensor<2>,
}

impl RhnState {
    /// A state holding `s`.
    pub fn new(s: Tensor<2>) -> Self {
        Self { s }
    }

    /// The zero state, used when `forward` gets `None`.
    pub fn zeros(batch: usize, d_hidden: usize, device: &Device) -> Self {
        Self::new(Tensor::zeros([batch, d_hidden], device))
    }

    /// The same values cut from the autodiff graph: carry the state into the next truncated-BPTT
    /// window without back-propagating into the previous one.
    pub fn detach(self) -> Self {
        Self::new(self.s.detach())
    }
}

/// Transform-gate activity recorded by [`Rhn::forward_with_gates`].
#[derive(Debug, Clone)]
pub struct RhnGates {
    /// Mean of `t_l` over the units, for every example, time step and micro-layer:
    /// `[batch, seq, depth]`.
    pub transform_mean: Tensor<3>,
}

impl RhnGates {
    /// Mean transform-gate activity of each micro-layer over examples, time steps and units.
    ///
    /// # Shapes
    ///
    /// - output: `[depth]`
    pub fn per_micro_layer(&self) -> Tensor<1> {
        let [batch, seq, depth] = self.transform_mean.dims();
        self.transform_mean
            .clone()
            .reshape([batch * seq, depth])
            .mean_dim(0)
            .reshape([depth])
    }

    /// Mean transform-gate activity of each micro-layer at each time step (over examples and
    /// units).
    ///
    /// # Shapes
    ///
    /// - output: `[seq, depth]`
    pub fn per_time_step(&self) -> Tensor<2> {
        self.transform_mean.clone().mean_dim(0).squeeze_dim(0)
    }
}

/// Everything [`Rhn::forward_with_gates`] returns.
#[derive(Debug, Clone)]
pub struct RhnOutput {
    /// The outputs `y_t = s^{[t]}`, `[batch, seq, d_hidden]`.
    pub output: Tensor<3>,
    /// The state after the last time step.
    pub state: RhnState,
    /// The transform-gate activity.
    pub gates: RhnGates,
}

/// A Recurrent Highway Network layer: the [`RhnCell`] unrolled over a sequence.
///
/// Should be created with [`RhnConfig`].
#[derive(Module, Debug)]
pub struct Rhn {
    /// The cell applied at every time step.
    pub cell: RhnCell,
}

impl Rhn {
    /// Runs the layer over a sequence from `state` (`None`: zeros).
    ///
    /// `masks`: the window's variational dropout masks; the layer applies `input` (before
    /// `W_H`, `W_T`) and `hidden` (before every `R_H,l`, `R_T,l`). The `embedding` and `output`
    /// masks belong to the caller ([`RhnMasks::apply_embedding`], [`RhnMasks::apply_output`]).
    /// `None` at evaluation.
    ///
    /// # Shapes
    ///
    /// - `x`: `[batch, seq, d_input]`, `state.s`: `[batch, d_hidden]`
    /// - output: `[batch, seq, d_hidden]`; new state: `[batch, d_hidden]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, RhnState) {
        let (output, state, _) = self.run(x, state, masks, None, false);
        (output, state)
    }

    /// [`Rhn::forward`] for training with a hand-written backward through time (see
    /// [`RhnTape`]): the same outputs, computed outside autodiff, returned as leaves of the
    /// graph; `loss.backward()` stops at them and [`RhnTape::complete`] back-propagates through
    /// the recurrence (one weight-gradient product per micro-layer instead of one per time step,
    /// every product reading a contiguous matrix) and on into the input projection and
    /// whatever computed the input. Faster on a CPU; call `tape.complete(&rhn, &model, &mut
    /// grads)` right after `loss.backward()`. Without autodiff the tape is empty and this is
    /// [`Rhn::forward`].
    ///
    /// # Shapes
    ///
    /// - `x`: `[batch, seq, d_input]`, `state.s`: `[batch, d_hidden]`
    /// - output: `[batch, seq, d_hidden]`; new state: `[batch, d_hidden]`
    pub fn forward_deferred(
        &self,
        x: Tensor<3>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, RhnState, RhnTape) {
        if !x.is_autodiff() {
            let (output, state) = self.forward(x, state, masks);
            return (output, state, RhnTape::default());
        }
        let s0 = self.initial_state(&x, state);
        crate::deferred::forward(self, x, s0, masks)
    }

    /// [`Rhn::forward`] that also records the mean transform-gate activity of every micro-layer
    /// at every time step. With `lesion = Some(l)` micro-layer `l` (0-based) has its transform
    /// gate forced to 0 (pure carry, [`GateOverride::Carry`](highway_core::GateOverride)) at every
    /// time step, the lesion of *Training Very Deep Networks* s4 applied inside the recurrence.
    ///
    /// # Shapes
    ///
    /// - `x`: `[batch, seq, d_input]`, `state.s`: `[batch, d_hidden]`
    /// - output: `[batch, seq, d_hidden]`; gates: `[batch, seq, depth]`
    ///
    /// # Panics
    ///
    /// If `lesion` is not a micro-layer index.
    pub fn forward_with_gates(
        &self,
        x: Tensor<3>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
        lesion: Option<usize>,
    ) -> RhnOutput {
        if let Some(l) = lesion {
            assert!(
                l < self.depth(),
                "lesion index {l} is out of range for recurrence depth {}",
                self.depth()
            );
        }
        let (output, state, gates) = self.run(x, state, masks, lesion, true);
        RhnOutput {
            output,
            state,
            gates: RhnGates {
                transform_mean: gates.expect("recorded gates"),
            },
        }
    }

    fn run(
        &self,
        x: Tensor<3>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
        lesion: Option<usize>,
        record: bool,
    ) -> (Tensor<3>, RhnState, Option<Tensor<3>>) {
        let [batch, seq, d_input] = x.dims();
        let mut s = self.initial_state(&x, state);
        let x = match masks {
            Some(m) => m.apply_input(x),
            None => x,
        };
        let hidden_mask = masks.and_then(|m| m.hidden.as_ref());

        // W_H x_t, W_T x_t of every step at once, time-major so each step is a row block.
        let weights = self.cell.weights();
        let x = x.swap_dims(0, 1).reshape([seq * batch, d_input]);
        let projected = weights.project_input(x);

        let mut outputs = Vec::with_capacity(seq);
        let mut gate_means = Vec::with_capacity(if record { seq } else { 0 });
        for t in 0..seq {
            let x_t = projected
                .iter()
                .map(|p| p.clone().narrow(0, t * batch, batch))
                .collect();
            let (next, gates) = weights.step(x_t, s, hidden_mask, lesion, record);
            if record {
                // [batch, depth]: mean over units of each t_l.
                gate_means.push(Tensor::cat(
                    gates.into_iter().map(|g| g.mean_dim(1)).collect(),
                    1,
                ));
            }
            outputs.push(next.clone());
            s = next;
        }
        let gates = record.then(|| Tensor::stack(gate_means, 1));
        (Tensor::stack(outputs, 1), RhnState::new(s), gates)
    }

    /// The state to start `x` from (`None`: zeros), after checking the shapes.
    fn initial_state(&self, x: &Tensor<3>, state: Option<RhnState>) -> Tensor<2> {
        let [batch, seq, d_input] = x.dims();
        assert!(seq > 0, "Rhn::forward: empty sequence");
        assert_eq!(d_input, self.d_input(), "Rhn::forward: input features");
        match state {
            Some(state) => {
                assert_eq!(
                    state.s.dims(),
                    [batch, self.d_hidden()],
                    "Rhn::forward: state shape"
                );
                state.s
            }
            None => Tensor::zeros([batch, self.d_hidden()], &x.device()),
        }
    }

    /// Input features.
    pub fn d_input(&self) -> usize {
        self.cell.d_input()
    }

    /// Units of the state.
    pub fn d_hidden(&self) -> usize {
        self.cell.d_hidden()
    }

    /// Recurrence depth `L`.
    pub fn depth(&self) -> usize {
        self.cell.depth()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, autodiff_device, device, values};
    use crate::{CarryMode, VariationalDropoutConfig};
    use burn::module::Param;
    use burn::nn::Initializer;
    use burn::tensor::Distribution;

    fn config(carry: CarryMode, fused: bool) -> RhnConfig {
        RhnConfig::new(
            RhnCellConfig::new(3, 4, 3)
                .with_carry(carry)
                .with_fused(fused)
                .with_transform_bias(-0.5)
                .with_initializer(Initializer::Uniform {
                    min: -0.7,
                    max: 0.7,
                }),
        )
    }

    fn random3(shape: [usize; 3], device: &Device) -> Tensor<3> {
        Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
    }

    fn masks(batch: usize, device: &Device) -> RhnMasks {
        let config = VariationalDropoutConfig::new()
            .with_input(0.5)
            .with_hidden(0.5);
        RhnMasks::sample(&config, batch, None, 3, 4, device)
    }

    #[test]
    fn forward_matches_stepping_the_cell() {
        let device = device();
        let rhn = config(CarryMode::Coupled, true).init(&device);
        let x = random3([2, 4, 3], &device);
        let s0 = RhnState::new(Tensor::random([2, 4], Distribution::Default, &device));
        let m = masks(2, &device);
        let (y, state) = rhn.forward(x.clone(), Some(s0.clone()), Some(&m));
        assert_eq!(y.dims(), [2, 4, 4]);
        let mut s = s0.s;
        for t in 0..4 {
            let x_t = x.clone().narrow(1, t, 1).squeeze_dim(1);
            s = rhn.cell.step(x_t, s, Some(&m)).0;
            let y_t = y.clone().narrow(1, t, 1).squeeze_dim::<2>(1);
            assert_close(&y_t, &values(&s), 1e-5);
        }
        assert_close(&state.s, &values(&s), 1e-5);
    }

    #[test]
    fn gradients_match_finite_differences_through_two_time_steps() {
        let device = autodiff_device();
        for (carry, fused, with_masks) in [
            (CarryMode::Coupled, true, false),
            (CarryMode::Coupled, false, true),
            (CarryMode::Free, true, true),
        ] {
            let rhn = RhnConfig::new(
                RhnCellConfig::new(2, 2, 2)
                    .with_carry(carry)
                    .with_fused(fused)
                    .with_transform_bias(-0.5)
                    .with_initializer(Initializer::Uniform {
                        min: -0.8,
                        max: 0.8,
                    }),
            )
            .init(&device);
            // [batch 2, seq 2, d_input 2].
            let x = Tensor::<3>::from_floats(
                [[[0.3, -0.8], [0.5, 1.2]], [[-0.4, 0.1], [0.9, -0.6]]],
                &device,
            );
            let s0 = Tensor::<2>::from_floats([[0.2, -0.5], [0.7, 0.1]], &device);
            let r = Tensor::<3>::from_floats(
                [[[0.7, -1.1], [0.4, -0.3]], [[0.9, 1.3], [-0.6, 0.5]]],
                &device,
            );
            let m = with_masks.then(|| RhnMasks {
                input: Some(Tensor::from_floats([[2.0, 0.0], [2.0, 2.0]], &device)),
                hidden: Some(Tensor::from_floats([[0.0, 2.0], [2.0, 2.0]], &device)),
                ..RhnMasks::none()
            });
            let check = highway_core::gradcheck::check_gradients(
                &rhn,
                x,
                |m_, x| {
                    let (y, state) = m_.forward(x, Some(RhnState::new(s0.clone())), m.as_ref());
                    (y * r.clone()).sum() + state.s.sum().mul_scalar(0.5)
                },
                1e-2,
            );
            // 8 input entries; k input maps 2×2; 2 micro-layers × k maps (2×2 + 2).
            let k = if carry == CarryMode::Free { 3 } else { 2 };
            assert_eq!(check.entries.len(), 8 + k * 4 + 2 * k * 6);
            check.assert_close(2e-3, 1e-2);
        }
    }

    /// Adds `delta` to row `k` (the weights *from* state unit `k`) of every `R_H,l`, `R_T,l`.
    fn perturb_recurrent_row(rhn: &Rhn, k: usize, delta: f32) -> Rhn {
        let mut out = rhn.clone();
        for layer in &mut out.cell.layers {
            for map in [&mut layer.r_h, &mut layer.r_t] {
                let w = map.weight.val();
                let [_, d] = w.dims();
                let row = w.clone().narrow(0, k, 1).add_scalar(delta);
                map.weight = Param::from_tensor(w.slice_assign([k..k + 1, 0..d], row));
            }
        }
        out
    }

    #[test]
    fn a_dropped_state_unit_never_enters_a_recurrent_product() {
        // With m_h zero at unit k, the weights from unit k (row k of every R_l) must not matter
        // at any time step or micro-layer. A mask applied only at the first step or the first
        // micro-layer, or not at all, would let the perturbed rows change the output.
        let device = device();
        let rhn = RhnConfig::new(
            RhnCellConfig::new(3, 4, 3)
                .with_initializer(Initializer::Uniform {
                    min: -0.7,
                    max: 0.7,
                })
                .with_transform_bias(0.0),
        )
        .init(&device);
        let x = random3([2, 5, 3], &device);
        let k = 2;
        let mut m_h = [[1.0f32; 4]; 2];
        m_h[0][k] = 0.0;
        m_h[1][k] = 0.0;
        let masks = RhnMasks {
            hidden: Some(Tensor::from_floats(m_h, &device)),
            ..RhnMasks::none()
        };
        let perturbed = perturb_recurrent_row(&rhn, k, 0.5);
        let (a, _) = rhn.forward(x.clone(), None, Some(&masks));
        let (b, _) = perturbed.forward(x.clone(), None, Some(&masks));
        assert_close(&a, &values(&b), 1e-6);
        // Unit k itself is not zero (the carry path uses the unmasked state) ...
        let unit_k = values(&a.clone().narrow(2, k, 1));
        assert!(unit_k.iter().any(|v| v.abs() > 1e-3), "{unit_k:?}");
        // ... and without the mask the perturbation is visible.
        let (a, _) = rhn.forward(x.clone(), None, None);
        let (b, _) = perturbed.forward(x, None, None);
        let diff = (a - b).abs().max().into_scalar::<f32>();
        assert!(diff > 1e-3, "{diff}");
    }

    #[test]
    fn sampled_masks_equal_scaling_the_weights_rows() {
        // For one batch row b, masking x by m_i[b] and s by m_h[b] before every product equals a
        // cell whose W rows are scaled by m_i[b] and whose R_l rows (every l) are scaled by
        // m_h[b], run without masks. This pins down where the masks act (every step, every
        // micro-layer, both gates, never the carry term).
        let device = device();
        device.seed(11);
        let rhn = config(CarryMode::Coupled, true).init(&device);
        let x = random3([2, 4, 3], &device);
        let m = masks(2, &device);
        let (y, _) = rhn.forward(x.clone(), None, Some(&m));
        let scale_rows = |w: Tensor<2>, mask: &Tensor<2>, b: usize| {
            let row = mask.clone().narrow(0, b, 1); // [1, d_in]
            w * row.transpose() // [d_in, d] * [d_in, 1]
        };
        for b in 0..2 {
            let mut scaled = rhn.clone();
            let (m_i, m_h) = (m.input.as_ref().unwrap(), m.hidden.as_ref().unwrap());
            for map in [&mut scaled.cell.w_h, &mut scaled.cell.w_t] {
                map.weight = Param::from_tensor(scale_rows(map.weight.val(), m_i, b));
            }
            for layer in &mut scaled.cell.layers {
                for map in [&mut layer.r_h, &mut layer.r_t] {
                    map.weight = Param::from_tensor(scale_rows(map.weight.val(), m_h, b));
                }
            }
            let (y_b, _) = scaled.forward(x.clone().narrow(0, b, 1), None, None);
            assert_close(&y.clone().narrow(0, b, 1), &values(&y_b), 1e-5);
        }
    }

    #[test]
    fn evaluation_without_masks_is_deterministic() {
        let device = device();
        let rhn = config(CarryMode::Coupled, true).init(&device);
        let x = random3([2, 5, 3], &device);
        let (a, sa) = rhn.forward(x.clone(), None, None);
        let (b, sb) = rhn.forward(x, None, None);
        assert_close(&a, &values(&b), 0.0);
        assert_close(&sa.s, &values(&sb.s), 0.0);
    }

    #[test]
    fn state_carried_across_two_windows_equals_one_long_window() {
        let device = device();
        for carry in [CarryMode::Coupled, CarryMode::Free] {
            let rhn = config(carry, true).init(&device);
            let x = random3([2, 6, 3], &device);
            let m = masks(2, &device);
            for masks in [None, Some(&m)] {
                let (full, full_state) = rhn.forward(x.clone(), None, masks);
                let (first, state) = rhn.forward(x.clone().narrow(1, 0, 3), None, masks);
                let (second, state) =
                    rhn.forward(x.clone().narrow(1, 3, 3), Some(state.detach()), masks);
                let joined = Tensor::cat(vec![first, second], 1);
                assert_close(&joined, &values(&full), 1e-6);
                assert_close(&state.s, &values(&full_state.s), 1e-6);
            }
        }
    }

    #[test]
    fn fused_equals_unfused_over_a_sequence() {
        let device = device();
        for carry in [CarryMode::Coupled, CarryMode::Free] {
            let fused = config(carry, true).init(&device);
            let mut unfused = fused.clone();
            unfused.cell.fused = false;
            let x = random3([2, 5, 3], &device);
            let m = masks(2, &device);
            let (a, _) = fused.forward(x.clone(), None, Some(&m));
            let (b, _) = unfused.forward(x, None, Some(&m));
            assert_close(&a, &values(&b), 1e-5);
        }
    }

    #[test]
    fn gate_activity_and_lesions() {
        let device = device();
        let rhn = RhnConfig::new(RhnCellConfig::new(3, 4, 3)).init(&device);
        let x = random3([2, 5, 3], &device);
        let out = rhn.forward_with_gates(x.clone(), None, None, None);
        let (y, _) = rhn.forward(x.clone(), None, None);
        assert_close(&out.output, &values(&y), 0.0);
        assert_eq!(out.gates.transform_mean.dims(), [2, 5, 3]);
        assert_eq!(out.gates.per_time_step().dims(), [5, 3]);
        // Weights ±0.04 and b_T = −2: every gate starts near σ(−2) = 0.1192.
        let per_layer = values(&out.gates.per_micro_layer());
        assert_eq!(per_layer.len(), 3);
        assert!(
            per_layer.iter().all(|g| (g - 0.1192).abs() < 0.02),
            "{per_layer:?}"
        );
        // Lesioning micro-layer 1 zeroes its gate and changes the output; the others still act.
        let lesioned = rhn.forward_with_gates(x.clone(), None, None, Some(1));
        let per_layer = values(&lesioned.gates.per_micro_layer());
        assert_eq!(per_layer[1], 0.0);
        assert!(per_layer[0] > 0.05 && per_layer[2] > 0.05);
        assert!(values(&lesioned.output) != values(&y));
        // A depth-1 RHN lesioned at its only micro-layer carries its state unchanged.
        let shallow = RhnConfig::new(RhnCellConfig::new(3, 4, 1)).init(&device);
        let s0 = Tensor::<2>::random([2, 4], Distribution::Default, &device);
        let out = shallow.forward_with_gates(x, Some(RhnState::new(s0.clone())), None, Some(0));
        assert_close(&out.state.s, &values(&s0), 0.0);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn lesion_out_of_range_panics() {
        let device = device();
        let rhn = RhnConfig::new(RhnCellConfig::new(3, 4, 2)).init(&device);
        rhn.forward_with_gates(random3([1, 2, 3], &device), None, None, Some(2));
    }

    #[test]
    fn config_round_trips_through_json_and_matches_the_cell() {
        let config = RhnConfig::new(
            RhnCellConfig::new(5, 6, 7)
                .with_carry(CarryMode::Free)
                .with_transform_bias(-4.0)
                .with_fused(false),
        );
        let json = serde_json::to_string(&config).unwrap();
        let back: RhnConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let round: RhnConfig = back.cell.clone().into();
        assert_eq!(serde_json::to_string(&round).unwrap(), json);
        let rhn = config.init(&device());
        assert_eq!(rhn.num_params(), config.num_params());
        assert_eq!((rhn.d_input(), rhn.d_hidden(), rhn.depth()), (5, 6, 7));
    }

    #[test]
    fn save_and_load_gives_the_same_outputs() {
        let device = device();
        let config = config(CarryMode::Free, true);
        let rhn = config.init(&device);
        let dir = crate::test_util::temp_dir("rhn-save");
        let path = dir.join("rhn.bpk");
        rhn.clone().save_file(&path).unwrap();
        let x = random3([2, 3, 3], &device);
        let before = values(&rhn.forward(x.clone(), None, None).0);
        let fresh = config.init(&device);
        assert!(values(&fresh.forward(x.clone(), None, None).0) != before);
        let loaded = fresh.try_load_file(&path).unwrap();
        assert_close(&loaded.forward(x, None, None).0, &before, 0.0);
        std::fs::remove_dir_all(dir).ok();
    }
}
