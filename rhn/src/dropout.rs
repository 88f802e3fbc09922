//! Variational dropout for Recurrent Highway Networks.
//!
//! Zilly, Srivastava, Koutník & Schmidhuber, *Recurrent Highway Networks* (arXiv:1607.03474),
//! s5 and the authors' code (jzilly/RecurrentHighwayNetworks: `rhn.py`, `get_noise` in
//! `rhn_train.py`), after Gal & Ghahramani's variational dropout for RNNs (arXiv:1512.05287).
//! Four masks, all drawn **once per BPTT window** and reused at every time step of that window:
//!
//! ```text
//! x  embedding  [batch, vocab]     one keep/drop decision per word type and batch row:
//!                                  the same word is dropped at every position of the window
//! i  input      [batch, d_input]   x_t ← x_t ⊙ m_i before W_H, W_T (W_C)
//! h  hidden     [batch, d_hidden]  s_{l−1} ← s_{l−1} ⊙ m_h before R_H,l, R_T,l (R_C,l),
//!                                  the same mask for every micro-layer l and time step t
//! o  output     [batch, d_hidden]  y_t ← y_t ⊙ m_o, one mask per sequence
//! ```
//!
//! As in the authors' code, `m_h` masks only the copy of the state that enters the recurrent
//! products; the carry term `s_{l−1}·(1 − t_l)` and the state handed to the next window are not
//! masked. Masks are *inverted*: kept entries are `1 / (1 − p)`, so a mask has expectation 1 and
//! evaluation simply passes no masks (`None`). Burn's `Dropout` draws a fresh mask at every call
//! and therefore cannot express this.

use burn::config::Config;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

/// Drop probabilities of the four variational dropout masks (0 disables a mask).
#[derive(Config, Debug, PartialEq)]
pub struct VariationalDropoutConfig {
    /// `x`: probability of dropping a word type (a whole embedding row) within a window.
    #[config(default = 0.0)]
    pub embedding: f64,
    /// `i`: probability of dropping a unit of the RHN input.
    #[config(default = 0.0)]
    pub input: f64,
    /// `h`: probability of dropping a unit of the recurrent state (before `R_H`, `R_T`).
    #[config(default = 0.0)]
    pub hidden: f64,
    /// `o`: probability of dropping a unit of the RHN output.
    #[config(default = 0.0)]
    pub output: f64,
}

impl VariationalDropoutConfig {
    /// No dropout.
    pub fn none() -> Self {
        Self::new()
    }

    /// The authors' `ptb_sota` probabilities: x 0.25, i 0.75, h 0.25, o 0.75.
    pub fn ptb_sota() -> Self {
        Self::new()
            .with_embedding(0.25)
            .with_input(0.75)
            .with_hidden(0.25)
            .with_output(0.75)
    }

    /// The authors' enwik8/text8 probabilities: x 0.10, i 0.40, h 0.10, o 0.40.
    pub fn char_sota() -> Self {
        Self::new()
            .with_embedding(0.10)
            .with_input(0.40)
            .with_hidden(0.10)
            .with_output(0.40)
    }

    /// The same four probabilities multiplied by `factor` (e.g. lighter dropout for a small
    /// model).
    pub fn scaled(&self, factor: f64) -> Self {
        Self::new()
            .with_embedding(self.embedding * factor)
            .with_input(self.input * factor)
            .with_hidden(self.hidden * factor)
            .with_output(self.output * factor)
    }

    /// Whether any mask is active.
    pub fn is_active(&self) -> bool {
        [self.embedding, self.input, self.hidden, self.output]
            .iter()
            .any(|p| *p > 0.0)
    }

    /// Checks that every probability is in `[0, 1)`.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("embedding", self.embedding),
            ("input", self.input),
            ("hidden", self.hidden),
            ("output", self.output),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!(
                    "VariationalDropoutConfig: {name} = {p} must be in [0, 1)"
                ));
            }
        }
        Ok(())
    }
}

/// The variational dropout masks of one BPTT window (see the [module docs](self)).
///
/// Each mask is `None` when its probability is 0. Pass `None` instead of masks at evaluation.
#[derive(Debug, Clone, Default)]
pub struct RhnMasks {
    /// `x`: per batch row and word type, `[batch, vocab]`.
    pub embedding: Option<Tensor<2>>,
    /// `i`: `[batch, d_input]`.
    pub input: Option<Tensor<2>>,
    /// `h`: `[batch, d_hidden]`.
    pub hidden: Option<Tensor<2>>,
    /// `o`: `[batch, d_hidden]`.
    pub output: Option<Tensor<2>>,
}

/// An inverted-dropout mask: entries `0` with probability `p`, else `1 / (1 − p)`, drawn from
/// the device's generator, or from the calling thread's stream inside
/// [`highway_core::with_mask_seed`].
///
/// # Shapes
///
/// - output: `shape`
///
/// # Panics
///
/// If `p` is not in `[0, 1)`.
pub fn inverted_mask(shape: [usize; 2], p: f64, device: &Device) -> Tensor<2> {
    assert!(
        (0.0..1.0).contains(&p),
        "drop probability {p} not in [0, 1)"
    );
    let keep = 1.0 - p;
    match highway_core::next_mask_seed() {
        // A thread stream (data parallelism: `highway_core::with_mask_seed`).
        Some(seed) => Tensor::from_data(
            TensorData::new(
                highway_core::keep_mask(seed, shape[0] * shape[1], keep),
                shape,
            ),
            device,
        ),
        None => Tensor::<2>::random(shape, Distribution::Bernoulli(keep), device).div_scalar(keep),
    }
}

impl RhnMasks {
    /// No masks (evaluation).
    pub fn none() -> Self {
        Self::default()
    }

    /// Draws the masks for one window. `vocab` is the vocabulary size for the embedding mask
    /// (`None`: no embedding mask, e.g. for an RHN fed with features rather than tokens).
    ///
    /// # Panics
    ///
    /// If a probability of `config` is not in `[0, 1)`.
    pub fn sample(
        config: &VariationalDropoutConfig,
        batch: usize,
        vocab: Option<usize>,
        d_input: usize,
        d_hidden: usize,
        device: &Device,
    ) -> Self {
        if let Err(e) = config.validate() {
            panic!("{e}");
        }
        let draw = |n: usize, p: f64| (p > 0.0).then(|| inverted_mask([batch, n], p, device));
        Self {
            embedding: vocab.and_then(|v| draw(v, config.embedding)),
            input: draw(d_input, config.input),
            hidden: draw(d_hidden, config.hidden),
            output: draw(d_hidden, config.output),
        }
    }

    /// Embedding dropout: scales the embedding of `tokens[b, j]` by `embedding[b, tokens[b, j]]`,
    /// so a word type is dropped (or kept) at every position of the window in batch row `b`.
    ///
    /// # Shapes
    ///
    /// - `embedded`: `[batch, seq, d_embed]`, `tokens`: `[batch, seq]`
    /// - output: `[batch, seq, d_embed]`
    pub fn apply_embedding(&self, embedded: Tensor<3>, tokens: Tensor<2, Int>) -> Tensor<3> {
        match &self.embedding {
            Some(mask) => embedded * mask.clone().gather(1, tokens).unsqueeze_dim::<3>(2),
            None => embedded,
        }
    }

    /// Input dropout `x_t ⊙ m_i`, the same mask at every time step.
    ///
    /// # Shapes
    ///
    /// - `x`: `[batch, seq, d_input]`
    /// - output: `[batch, seq, d_input]`
    pub fn apply_input(&self, x: Tensor<3>) -> Tensor<3> {
        apply_over_time(x, self.input.as_ref())
    }

    /// Recurrent-state dropout `s ⊙ m_h` (the copy of the state entering `R_H`, `R_T`).
    ///
    /// # Shapes
    ///
    /// - `s`: `[batch, d_hidden]`
    /// - output: `[batch, d_hidden]`
    pub fn apply_hidden(&self, s: Tensor<2>) -> Tensor<2> {
        match &self.hidden {
            Some(mask) => s * mask.clone(),
            None => s,
        }
    }

    /// Output dropout `y_t ⊙ m_o`, one mask per sequence.
    ///
    /// # Shapes
    ///
    /// - `y`: `[batch, seq, d_hidden]`
    /// - output: `[batch, seq, d_hidden]`
    pub fn apply_output(&self, y: Tensor<3>) -> Tensor<3> {
        apply_over_time(y, self.output.as_ref())
    }
}

fn apply_over_time(x: Tensor<3>, mask: Option<&Tensor<2>>) -> Tensor<3> {
    match mask {
        Some(mask) => x * mask.clone().unsqueeze_dim::<3>(1),
        None => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{device, values};

    #[test]
    fn masks_have_the_configured_shapes_and_values() {
        let device = device();
        let config = VariationalDropoutConfig::ptb_sota();
        let masks = RhnMasks::sample(&config, 3, Some(11), 5, 7, &device);
        assert_eq!(masks.embedding.as_ref().unwrap().dims(), [3, 11]);
        assert_eq!(masks.input.as_ref().unwrap().dims(), [3, 5]);
        assert_eq!(masks.hidden.as_ref().unwrap().dims(), [3, 7]);
        assert_eq!(masks.output.as_ref().unwrap().dims(), [3, 7]);
        for (mask, p) in [
            (&masks.embedding, 0.25),
            (&masks.input, 0.75),
            (&masks.hidden, 0.25),
            (&masks.output, 0.75),
        ] {
            let keep = 1.0 - p as f32;
            for v in values(mask.as_ref().unwrap()) {
                assert!(v == 0.0 || (v - 1.0 / keep).abs() < 1e-6, "{v}");
            }
        }
        // Zero probability: no mask at all; no vocabulary: no embedding mask.
        let partial = VariationalDropoutConfig::new().with_hidden(0.5);
        let masks = RhnMasks::sample(&partial, 2, None, 4, 4, &device);
        assert!(masks.embedding.is_none() && masks.input.is_none() && masks.output.is_none());
        assert!(masks.hidden.is_some());
    }

    #[test]
    fn a_thread_stream_gives_the_masks_whatever_the_device_seed() {
        let device = device();
        let config = VariationalDropoutConfig::ptb_sota();
        let draw = || {
            let m = RhnMasks::sample(&config, 4, Some(9), 5, 6, &device);
            (
                values(m.embedding.as_ref().unwrap()),
                values(m.hidden.as_ref().unwrap()),
            )
        };
        device.seed(1);
        let a = highway_core::with_mask_seed(11, draw);
        device.seed(2);
        let b = highway_core::with_mask_seed(11, draw);
        assert_eq!(a, b);
        assert_ne!(highway_core::with_mask_seed(12, draw), a);
        let scale = 1.0 / 0.75f32;
        assert!(a.0.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6));
    }

    #[test]
    fn inverted_scaling_keeps_the_expectation() {
        let device = device();
        device.seed(7);
        for p in [0.1, 0.25, 0.75] {
            let mask = inverted_mask([64, 1024], p, &device);
            let v = values(&mask);
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            let dropped = v.iter().filter(|x| **x == 0.0).count() as f64 / v.len() as f64;
            // 65536 draws: the standard error of the mean is about 0.007 at p = 0.75.
            assert!((mean - 1.0).abs() < 0.03, "p {p}: mean {mean}");
            assert!((dropped - p).abs() < 0.01, "p {p}: dropped {dropped}");
        }
    }

    #[test]
    fn embedding_dropout_drops_a_word_type_consistently_within_a_window() {
        let device = device();
        device.seed(3);
        let config = VariationalDropoutConfig::new().with_embedding(0.5);
        let tokens_rows = [[0i64, 1, 2, 1, 0, 3, 3, 1], [2, 2, 4, 0, 4, 1, 2, 0]];
        let tokens = Tensor::<2, Int>::from_ints(tokens_rows, &device);
        let embedded = Tensor::<3>::ones([2, 8, 3], &device);
        let (mut kept, mut dropped) = (0, 0);
        for _ in 0..20 {
            let masks = RhnMasks::sample(&config, 2, Some(5), 3, 3, &device);
            let out = values(&masks.apply_embedding(embedded.clone(), tokens.clone()));
            let mask = values(masks.embedding.as_ref().unwrap());
            for (b, row) in tokens_rows.iter().enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    let expected = mask[b * 5 + w as usize];
                    for k in 0..3 {
                        // The same decision for every feature and every occurrence of `w`.
                        assert_eq!(out[(b * 8 + j) * 3 + k], expected);
                    }
                    if expected == 0.0 {
                        dropped += 1;
                    } else {
                        assert_eq!(expected, 2.0);
                        kept += 1;
                    }
                }
            }
        }
        assert!(kept > 50 && dropped > 50, "kept {kept}, dropped {dropped}");
    }

    #[test]
    fn output_and_input_masks_are_shared_across_time_steps() {
        let device = device();
        let config = VariationalDropoutConfig::new()
            .with_input(0.5)
            .with_output(0.5);
        let masks = RhnMasks::sample(&config, 2, None, 4, 4, &device);
        let x = Tensor::<3>::ones([2, 6, 4], &device);
        for (out, mask) in [
            (masks.apply_input(x.clone()), &masks.input),
            (masks.apply_output(x.clone()), &masks.output),
        ] {
            let out = values(&out);
            let mask = values(mask.as_ref().unwrap());
            for b in 0..2 {
                for t in 0..6 {
                    for k in 0..4 {
                        assert_eq!(out[(b * 6 + t) * 4 + k], mask[b * 4 + k]);
                    }
                }
            }
        }
    }

    #[test]
    fn config_round_trips_through_json_and_validates() {
        let config = VariationalDropoutConfig::ptb_sota();
        let json = serde_json::to_string(&config).unwrap();
        let back: VariationalDropoutConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
        assert!(config.validate().is_ok() && config.is_active());
        assert!(!VariationalDropoutConfig::none().is_active());
        assert!(
            VariationalDropoutConfig::new()
                .with_hidden(1.0)
                .validate()
                .is_err()
        );
        let half = VariationalDropoutConfig::char_sota().scaled(0.5);
        assert_eq!(half.input, 0.2);
    }
}
