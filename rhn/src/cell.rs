//! The Recurrent Highway Network cell: one time step, `L` highway micro-layers deep.
//!
//! Zilly, Srivastava, Koutník & Schmidhuber, *Recurrent Highway Networks* (arXiv:1607.03474),
//! eq. (6)-(8), and the authors' code (jzilly/RecurrentHighwayNetworks, `rhn.py`, `RHNCell`).
//! With `s_0 = s^{[t−1]}` (the previous output) and micro-layers `l = 1..L`:
//!
//! ```text
//! h_l = tanh(W_H x_t·[l = 1] + R_H,l s_{l−1} + b_H,l)
//! t_l = σ   (W_T x_t·[l = 1] + R_T,l s_{l−1} + b_T,l)
//! s_l = h_l·t_l + s_{l−1}·(1 − t_l)                    (coupled carry, default)
//! s_l = h_l·t_l + s_{l−1}·c_l,  c_l = σ(W_C x_t·[l = 1] + R_C,l s_{l−1} + b_C,l)   (free carry)
//! y_t = s^{[t]} = s_L
//! ```
//!
//! The element-wise part of a micro-layer (the gates and the combination, and their backward)
//! is written once, in the crate's `micro` module, and shared with the hand-written backward
//! through time ([`RhnTape`](crate::RhnTape)).
//!
//! Only the first micro-layer sees the input, through `W_H`, `W_T` (`W_C`) without a bias of
//! their own: as in the authors' code, the bias of micro-layer 1 is `b_H,1` (`b_T,1`). Under
//! variational dropout ([`RhnMasks`]) the input is multiplied by `m_i` before `W_H`, `W_T`, and
//! the state by `m_h` before every micro-layer's `R_H,l`, `R_T,l`; the carry term uses the
//! unmasked state.
//!
//! Initialisation follows the authors' code: every weight matrix and the `b_H,l` are drawn from
//! the [`initializer`](RhnCellConfig::initializer) (uniform ±0.04), then every `b_T,l` is set to
//! the constant [`transform_bias`](RhnCellConfig::transform_bias) (−2 for PTB, −4 for
//! enwik8/text8).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::module::linear;
use burn::tensor::{Device, Tensor};
use highway_core::CarryMode;

use crate::dropout::RhnMasks;
use crate::micro::MicroLayer;

/// Configuration to create an [`RhnCell`] with [`RhnCellConfig::init`].
#[derive(Config, Debug)]
pub struct RhnCellConfig {
    /// Input features `d_input` (the embedding size of a language model).
    pub d_input: usize,
    /// Units `d_hidden` of the state `s` (830 in the PTB `ptb_sota` configuration).
    pub d_hidden: usize,
    /// Recurrence depth `L`: highway micro-layers per time step (10 in `ptb_sota`).
    pub depth: usize,
    /// How the carry gate is formed: `1 − t_l` (the paper) or a separate gate `c_l`.
    #[config(default = "CarryMode::Coupled")]
    pub carry: CarryMode,
    /// Initial value of every transform-gate bias `b_T,l` (the authors' `init_bias`: −2 for PTB,
    /// −4 for enwik8/text8).
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// Initial carry-gate bias `b_C,l` for [`CarryMode::Free`]; `None` uses `−transform_bias`, so
    /// that a free cell starts with the same `c ≈ 1 − t` as a coupled one.
    #[config(default = "None")]
    pub carry_bias: Option<f64>,
    /// Initialiser of every weight matrix and of `b_H,l`. The default is the authors'
    /// `init_scale = 0.04`: uniform on `[−0.04, 0.04]`.
    #[config(default = "Initializer::Uniform { min: -0.04, max: 0.04 }")]
    pub initializer: Initializer,
    /// Compute `H` and `T` (and `C`) with one matrix product of width 2·d (3·d) per micro-layer
    /// and one for the input, instead of one product per gate. Same result, faster.
    #[config(default = true)]
    pub fused: bool,
}

impl RhnCellConfig {
    /// Number of gated maps per micro-layer: 2 (`H`, `T`) or 3 with a free carry gate.
    pub fn n_gates(&self) -> usize {
        n_gates(self.carry)
    }

    /// Number of parameters of the cell, without allocating it:
    /// `k·d_input·d_hidden + L·k·(d_hidden² + d_hidden)` with `k` = [`n_gates`](Self::n_gates).
    pub fn num_params(&self) -> usize {
        let (k, d) = (self.n_gates(), self.d_hidden);
        k * self.d_input * d + self.depth * k * (d * d + d)
    }

    /// Checks the sizes and biases, with a message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("d_input", self.d_input),
            ("d_hidden", self.d_hidden),
            ("depth", self.depth),
        ] {
            if v == 0 {
                return Err(format!("RhnCellConfig: {name} must be at least 1"));
            }
        }
        if !self.transform_bias.is_finite() || !self.carry_bias.unwrap_or(0.0).is_finite() {
            return Err("RhnCellConfig: gate biases must be finite".into());
        }
        Ok(())
    }

    /// Initialises a new [`RhnCell`].
    ///
    /// # Panics
    ///
    /// If [`RhnCellConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> RhnCell {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let d = self.d_hidden;
        // `bias`: `None` no bias; `Some(None)` drawn from the initialiser; `Some(Some(v))` = v.
        let affine = |d_in: usize, bias: Option<Option<f64>>| {
            let mut layer = LinearConfig::new(d_in, d)
                .with_bias(bias.is_some())
                .with_initializer(self.initializer.clone())
                .init(device);
            if let Some(Some(value)) = bias {
                layer.bias = Some(Initializer::Constant { value }.init([d], device));
            }
            layer
        };
        let free = self.carry == CarryMode::Free;
        let b_c = self.carry_bias.unwrap_or(-self.transform_bias);
        let layers = (0..self.depth)
            .map(|_| RhnMicroLayer {
                r_h: affine(d, Some(None)),
                r_t: affine(d, Some(Some(self.transform_bias))),
                r_c: free.then(|| affine(d, Some(Some(b_c)))),
            })
            .collect();
        RhnCell {
            w_h: affine(self.d_input, None),
            w_t: affine(self.d_input, None),
            w_c: free.then(|| affine(self.d_input, None)),
            layers,
            fused: self.fused,
        }
    }
}

fn n_gates(carry: CarryMode) -> usize {
    match carry {
        CarryMode::Coupled => 2,
        CarryMode::Free => 3,
    }
}

/// The recurrent weights of one micro-layer `l`.
#[derive(Module, Debug)]
pub struct RhnMicroLayer {
    /// `R_H,l` `[d_hidden, d_hidden]` (Burn's `x·W` layout) and `b_H,l`.
    pub r_h: Linear,
    /// `R_T,l` and the transform-gate bias `b_T,l`.
    pub r_t: Linear,
    /// `R_C,l` and `b_C,l` of the free carry gate (`None` for the coupled carry).
    pub r_c: Option<Linear>,
}

impl RhnMicroLayer {
    /// The micro-layer's maps in gate order: `H`, `T` (and `C`).
    pub fn maps(&self) -> impl Iterator<Item = &Linear> {
        [&self.r_h, &self.r_t].into_iter().chain(&self.r_c)
    }
}

/// A Recurrent Highway Network cell: one time step of `L` highway micro-layers (see the
/// [module docs](self) for the equations).
///
/// Should be created with [`RhnCellConfig`]. To run it over a sequence use
/// [`Rhn`](crate::Rhn), which projects the inputs of every time step with one matrix product.
#[derive(Module, Debug)]
pub struct RhnCell {
    /// `W_H` `[d_input, d_hidden]`, no bias (input to micro-layer 1 only).
    pub w_h: Linear,
    /// `W_T` `[d_input, d_hidden]`, no bias.
    pub w_t: Linear,
    /// `W_C` of the free carry gate (`None` for the coupled carry).
    pub w_c: Option<Linear>,
    /// The `L` micro-layers, input side first.
    pub layers: Vec<RhnMicroLayer>,
    /// Whether the gates are computed with fused matrix products.
    pub fused: bool,
}

impl RhnCell {
    /// Applies one time step: the `L` micro-layers to the previous state `s`, the input entering
    /// the first. Returns the new state `s_L` (also the output `y_t`) and the transform gate
    /// `t_l` of every micro-layer, first micro-layer first.
    ///
    /// `masks`: the window's variational dropout masks (only `input` and `hidden` are used here;
    /// `None` at evaluation).
    ///
    /// # Shapes
    ///
    /// - `x_t`: `[batch, d_input]`, `s`: `[batch, d_hidden]`
    /// - new state: `[batch, d_hidden]`; gates: `depth` tensors `[batch, d_hidden]`
    pub fn step(
        &self,
        x_t: Tensor<2>,
        s: Tensor<2>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<2>, Vec<Tensor<2>>) {
        let x_t = match masks.and_then(|m| m.input.as_ref()) {
            Some(m) => x_t * m.clone(),
            None => x_t,
        };
        let weights = self.weights();
        let x_proj = weights.project_input(x_t);
        weights.step(x_proj, s, masks.and_then(|m| m.hidden.as_ref()), None, true)
    }

    /// The input maps in gate order: `W_H`, `W_T` (and `W_C`).
    pub fn input_maps(&self) -> impl Iterator<Item = &Linear> {
        [&self.w_h, &self.w_t].into_iter().chain(&self.w_c)
    }

    /// The weights arranged for the products of one window (fused or per gate).
    pub(crate) fn weights(&self) -> RhnWeights {
        let fused = self.fused;
        let n_gates = 2 + usize::from(self.w_c.is_some());
        let fuse = |layers: Vec<&Linear>| -> Vec<(Tensor<2>, Option<Tensor<1>>)> {
            let parts: Vec<_> = layers
                .into_iter()
                .map(|l| (l.weight.val(), l.bias.as_ref().map(|b| b.val())))
                .collect();
            if !fused {
                return parts;
            }
            let (weights, biases): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
            let bias = biases
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(|b| Tensor::cat(b, 0));
            vec![(Tensor::cat(weights, 1), bias)]
        };
        // A fused recurrent matrix is kept transposed and contiguous, `[k·d, d]`: the products
        // `(R_lᵀ·sᵀ)ᵀ` and their input gradients `R_l·gᵀ` then run 2-3x faster on a CPU than
        // `s·R_l` and `g·R_lᵀ` for a batch of ~20 rows (one copy per window instead). Training
        // (`Rhn::forward_deferred`) uses the hand-written backward of `deferred` instead, whose
        // products read contiguous copies in both directions.
        let transpose = |w: Tensor<2>| {
            let [d_in, d_out] = w.dims();
            w.transpose().reshape([d_out, d_in])
        };
        RhnWeights {
            n_gates,
            transposed: fused,
            input: fuse(self.input_maps().collect())
                .into_iter()
                .map(|(w, _)| w)
                .collect(),
            recurrent: self
                .layers
                .iter()
                .map(|l| {
                    fuse(l.maps().collect())
                        .into_iter()
                        .map(|(w, b)| {
                            let w = if fused { transpose(w) } else { w };
                            (w, b.expect("recurrent maps have a bias"))
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// Input features `d_input`.
    pub fn d_input(&self) -> usize {
        self.w_h.weight.shape().dims::<2>()[0]
    }

    /// Units `d_hidden`.
    pub fn d_hidden(&self) -> usize {
        self.w_h.weight.shape().dims::<2>()[1]
    }

    /// Recurrence depth `L`.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// The carry mode (free when the cell has carry-gate weights).
    pub fn carry(&self) -> CarryMode {
        if self.w_c.is_some() {
            CarryMode::Free
        } else {
            CarryMode::Coupled
        }
    }

    /// The current transform-gate biases `b_T,l` of every micro-layer.
    ///
    /// # Shapes
    ///
    /// - output: `[depth, d_hidden]`
    pub fn transform_biases(&self) -> Tensor<2> {
        Tensor::stack(
            self.layers
                .iter()
                .map(|l| l.r_t.bias.as_ref().expect("b_T").val())
                .collect(),
            0,
        )
    }
}

/// The cell's weights prepared for one window: with `fused`, one matrix per product (input
/// `[d_input, k·d]`, each micro-layer's `R_lᵀ` `[k·d, d]`); otherwise `k` matrices per product
/// in the layout of the parameters (`[·, d]`), the plain reference computation.
#[derive(Debug, Clone)]
pub(crate) struct RhnWeights {
    n_gates: usize,
    /// Whether the recurrent matrices are stored transposed (`[k·d, d]`, fused weights).
    transposed: bool,
    input: Vec<Tensor<2>>,
    recurrent: Vec<Vec<(Tensor<2>, Tensor<1>)>>,
}

impl RhnWeights {
    /// `W_H x`, `W_T x` (`W_C x`): one tensor `[n, k·d]` (fused) or `k` tensors `[n, d]`.
    pub(crate) fn project_input(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        self.input
            .iter()
            .map(|w| x.clone().matmul(w.clone()))
            .collect()
    }

    /// The `L` micro-layers of one time step. `x_proj` is this step's slice of
    /// [`project_input`](Self::project_input); `lesion` forces `t_l = 0` for that micro-layer;
    /// with `record` the transform gates are returned.
    pub(crate) fn step(
        &self,
        x_proj: Vec<Tensor<2>>,
        s: Tensor<2>,
        hidden_mask: Option<&Tensor<2>>,
        lesion: Option<usize>,
        record: bool,
    ) -> (Tensor<2>, Vec<Tensor<2>>) {
        let mut s = s;
        let mut x_proj = Some(x_proj);
        let mut gates = Vec::with_capacity(if record { self.recurrent.len() } else { 0 });
        for (l, products) in self.recurrent.iter().enumerate() {
            let s_in = match hidden_mask {
                Some(m) => s.clone() * m.clone(),
                None => s.clone(),
            };
            let mut z: Vec<Tensor<2>> = products
                .iter()
                .map(|(w, b)| {
                    if self.transposed {
                        // (R_lᵀ·sᵀ)ᵀ + b, R_lᵀ stored contiguous.
                        w.clone().matmul(s_in.clone().transpose()).transpose()
                            + b.clone().unsqueeze_dim(0)
                    } else {
                        linear(s_in.clone(), w.clone(), Some(b.clone()))
                    }
                })
                .collect();
            if let Some(x) = x_proj.take() {
                z = z.into_iter().zip(x).map(|(z, x)| z + x).collect();
            }
            let z = if z.len() == 1 {
                z.pop().expect("one fused product").chunk(self.n_gates, 1)
            } else {
                z
            };
            let micro = MicroLayer::activate(z, lesion == Some(l));
            s = micro.output(s);
            if record {
                gates.push(micro.t);
            }
        }
        (s, gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, device, set_linear, values};

    /// d_input = 1, d_hidden = 1, depth 2 with hand-chosen weights.
    fn tiny_cell(fused: bool) -> RhnCell {
        let mut cell = RhnCellConfig::new(1, 1, 2)
            .with_fused(fused)
            .init(&device());
        set_linear(&mut cell.w_h, &[&[2.0]], None);
        set_linear(&mut cell.w_t, &[&[-1.0]], None);
        set_linear(&mut cell.layers[0].r_h, &[&[0.5]], Some(&[0.0]));
        set_linear(&mut cell.layers[0].r_t, &[&[1.0]], Some(&[0.5]));
        set_linear(&mut cell.layers[1].r_h, &[&[-1.0]], Some(&[0.25]));
        set_linear(&mut cell.layers[1].r_t, &[&[2.0]], Some(&[-1.0]));
        cell
    }

    #[test]
    fn tiny_cell_matches_hand_computed_values() {
        // W_H = 2, W_T = −1; l=1: R_H = 0.5, b_H = 0, R_T = 1, b_T = 0.5;
        //                    l=2: R_H = −1, b_H = 0.25, R_T = 2, b_T = −1. s^[0] = 0.
        // t = 1, x = 1:
        //   l=1: h = tanh(2·1 + 0.5·0 + 0) = tanh 2 = 0.96402758
        //        t = σ(−1·1 + 1·0 + 0.5) = σ(−0.5) = 0.37754067
        //        s = 0.96402758·0.37754067 + 0·(1 − t) = 0.36395962
        //   l=2: h = tanh(−0.36395962 + 0.25) = tanh(−0.11395962) = −0.11346884
        //        t = σ(2·0.36395962 − 1) = σ(−0.27208077) = 0.43239634
        //        s = −0.11346884·0.43239634 + 0.36395962·0.56760366 = 0.15752130
        // t = 2, x = −0.5:
        //   l=1: h = tanh(2·(−0.5) + 0.5·0.15752130) = tanh(−0.92123935) = −0.72648319
        //        t = σ(0.5 + 0.15752130 + 0.5) = σ(1.15752130) = 0.76088203
        //        s = −0.72648319·0.76088203 + 0.15752130·0.23911797 = −0.51510183
        //   l=2: h = tanh(0.51510183 + 0.25) = tanh(0.76510183) = 0.64407222
        //        t = σ(2·(−0.51510183) − 1) = σ(−2.03020366) = 0.11606803
        //        s = 0.64407222·0.11606803 − 0.51510183·0.88393197 = −0.38055879
        for fused in [true, false] {
            let cell = tiny_cell(fused);
            let device = device();
            let s0 = Tensor::<2>::zeros([1, 1], &device);
            let x1 = Tensor::<2>::from_floats([[1.0]], &device);
            let (s1, gates) = cell.step(x1, s0, None);
            assert_close(&s1, &[0.157_521_3], 1e-6);
            assert_close(&gates[0], &[0.377_540_67], 1e-6);
            assert_close(&gates[1], &[0.432_396_34], 1e-6);
            let x2 = Tensor::<2>::from_floats([[-0.5]], &device);
            let (s2, gates) = cell.step(x2, s1, None);
            assert_close(&s2, &[-0.380_558_8], 1e-6);
            assert_close(&gates[0], &[0.760_882], 1e-6);
            assert_close(&gates[1], &[0.116_068_03], 1e-6);
        }
    }

    #[test]
    fn step_applies_the_input_and_hidden_masks() {
        // With m_i = 0 the input is gone; with m_h = 0 the recurrent products see s = 0 but the
        // carry still uses s: one micro-layer-1 step from s = 1 with x = 1, masks zero:
        //   h = tanh(0 + 0.5·0 + 0) = 0, t = σ(0 + 0 + 0.5) = 0.62245933, s = 0·t + 1·(1 − t)
        //   = 0.37754067; l=2: h = tanh(0.25) = 0.24491866, t = σ(−1) = 0.26894142,
        //   s = 0.24491866·0.26894142 + 0.37754067·0.73105858 = 0.34187312.
        let device = device();
        let masks = RhnMasks {
            input: Some(Tensor::zeros([1, 1], &device)),
            hidden: Some(Tensor::zeros([1, 1], &device)),
            ..RhnMasks::none()
        };
        let (s, _) = tiny_cell(true).step(
            Tensor::from_floats([[1.0]], &device),
            Tensor::from_floats([[1.0]], &device),
            Some(&masks),
        );
        assert_close(&s, &[0.341_873_1], 1e-6);
    }

    /// The one-layer highway RNN `s' = tanh(x W_H + s R_H + b_H)·t + s·(1 − t)`,
    /// `t = σ(x W_T + s R_T + b_T)`, written out with loops over plain arrays.
    fn highway_rnn_reference(cell: &RhnCell, xs: &[Vec<f32>], s0: &[f32]) -> Vec<Vec<f32>> {
        let w = |l: &Linear| values(&l.weight.val());
        let b = |l: &Linear| values(&l.bias.as_ref().unwrap().val());
        let (d_in, d) = (cell.d_input(), cell.d_hidden());
        let (w_h, w_t) = (w(&cell.w_h), w(&cell.w_t));
        let layer = &cell.layers[0];
        let (r_h, r_t, b_h, b_t) = (w(&layer.r_h), w(&layer.r_t), b(&layer.r_h), b(&layer.r_t));
        let mut s = s0.to_vec();
        let mut out = Vec::new();
        for x in xs {
            let mut next = vec![0.0; d];
            for j in 0..d {
                let (mut zh, mut zt) = (b_h[j], b_t[j]);
                for i in 0..d_in {
                    zh += x[i] * w_h[i * d + j];
                    zt += x[i] * w_t[i * d + j];
                }
                for i in 0..d {
                    zh += s[i] * r_h[i * d + j];
                    zt += s[i] * r_t[i * d + j];
                }
                let t = 1.0 / (1.0 + (-zt).exp());
                next[j] = zh.tanh() * t + s[j] * (1.0 - t);
            }
            s = next;
            out.push(s.clone());
        }
        out
    }

    #[test]
    fn depth_one_is_the_one_layer_highway_rnn() {
        let device = device();
        let cell = RhnCellConfig::new(2, 3, 1)
            .with_initializer(Initializer::Uniform {
                min: -1.0,
                max: 1.0,
            })
            .with_transform_bias(-0.5)
            .init(&device);
        let xs = vec![vec![0.5, -1.0], vec![1.5, 0.25], vec![-0.75, 0.5]];
        let s0 = [0.2, -0.4, 0.6];
        let expected = highway_rnn_reference(&cell, &xs, &s0);
        let mut s = Tensor::<2>::from_floats([s0], &device);
        for (x, e) in xs.iter().zip(&expected) {
            let x = Tensor::<2>::from_floats([[x[0], x[1]]], &device);
            s = cell.step(x, s, None).0;
            assert_close(&s, e, 1e-5);
        }
    }

    #[test]
    fn fused_equals_unfused() {
        let device = device();
        for carry in [CarryMode::Coupled, CarryMode::Free] {
            let fused = RhnCellConfig::new(4, 5, 3)
                .with_carry(carry)
                .with_initializer(Initializer::Uniform {
                    min: -0.8,
                    max: 0.8,
                })
                .init(&device);
            let mut unfused = fused.clone();
            unfused.fused = false;
            let x = Tensor::<2>::random([2, 4], burn::tensor::Distribution::Default, &device);
            let s = Tensor::<2>::random([2, 5], burn::tensor::Distribution::Default, &device);
            let masks = RhnMasks::sample(
                &crate::VariationalDropoutConfig::new()
                    .with_input(0.5)
                    .with_hidden(0.5),
                2,
                None,
                4,
                5,
                &device,
            );
            for masks in [None, Some(&masks)] {
                let (a, ga) = fused.step(x.clone(), s.clone(), masks);
                let (b, gb) = unfused.step(x.clone(), s.clone(), masks);
                assert_close(&a, &values(&b), 1e-5);
                for (ga, gb) in ga.iter().zip(&gb) {
                    assert_close(ga, &values(gb), 1e-5);
                }
            }
        }
    }

    #[test]
    fn initialisation_follows_the_config_and_the_authors_code() {
        let device = device();
        let config = RhnCellConfig::new(3, 4, 5);
        let cell = config.init(&device);
        assert_close(&cell.transform_biases(), &[-2.0; 20], 0.0);
        for layer in &cell.layers {
            for l in [&layer.r_h, &layer.r_t] {
                let w = values(&l.weight.val());
                assert!(w.iter().all(|v| v.abs() <= 0.04) && w.iter().any(|v| *v != 0.0));
            }
            let b_h = values(&layer.r_h.bias.as_ref().unwrap().val());
            assert!(b_h.iter().all(|v| v.abs() <= 0.04), "{b_h:?}");
        }
        assert!(cell.w_h.bias.is_none() && cell.w_t.bias.is_none());
        assert_eq!(cell.num_params(), config.num_params());
        assert_eq!(cell.num_params(), 2 * 3 * 4 + 5 * 2 * (16 + 4));
        assert_eq!((cell.d_input(), cell.d_hidden(), cell.depth()), (3, 4, 5));
        let free_config = config.clone().with_carry(CarryMode::Free);
        let free = free_config.init(&device);
        assert_eq!(free.num_params(), free_config.num_params());
        assert_eq!(free.carry(), CarryMode::Free);
        let b_c = values(
            &free.layers[2]
                .r_c
                .as_ref()
                .unwrap()
                .bias
                .as_ref()
                .unwrap()
                .val(),
        );
        assert_eq!(b_c, vec![2.0; 4]);
        assert!(RhnCellConfig::new(3, 0, 2).validate().is_err());
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = RhnCellConfig::new(7, 9, 4)
            .with_carry(CarryMode::Free)
            .with_transform_bias(-4.0)
            .with_carry_bias(Some(1.0))
            .with_fused(false);
        let json = serde_json::to_string(&config).unwrap();
        let back: RhnCellConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!((back.d_input, back.d_hidden, back.depth), (7, 9, 4));
        assert_eq!(back.carry, CarryMode::Free);
        assert_eq!(back.initializer, config.initializer);
    }
}
