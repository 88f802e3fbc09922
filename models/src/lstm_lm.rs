//! LSTM language model, the baseline the RHN language models are compared with.
//!
//! Embedding → one LSTM layer (Burn's [`Lstm`]) → softmax layer, with optional tied embeddings
//! (Press & Wolf, arXiv:1608.05859; Inan et al., arXiv:1611.01462), the same interface as
//! [`RhnLm`](crate::RhnLm). [`LstmLmConfig::matching_params`] sizes it to a given parameter
//! budget, so that an RHN and an LSTM of equal size can be compared.
//!
//! Dropout: the embedding (x), input (i) and output (o) masks of [`RhnMasks`] are applied as in
//! [`RhnLm`](crate::RhnLm); Burn's `Lstm` has no hook for a recurrent mask, so the `hidden`
//! probability is ignored (masks from [`LstmLm::sample_masks`] have none).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Lstm, LstmConfig, LstmState};
use burn::tensor::module::linear;
use burn::tensor::{Device, Gradients, Int, Tensor};
use rhn::{RhnMasks, VariationalDropoutConfig};

use crate::rhn_lm::RecurrentLm;

/// Configuration of an [`LstmLm`].
#[derive(Config, Debug)]
pub struct LstmLmConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// LSTM units (also the embedding size).
    pub d_hidden: usize,
    /// Tie the softmax weights to the embedding matrix (`W = Eᵀ`).
    #[config(default = false)]
    pub tied_embeddings: bool,
    /// Initialiser of every weight and bias (uniform ±0.04, as the RHN models).
    #[config(default = "Initializer::Uniform { min: -0.04, max: 0.04 }")]
    pub initializer: Initializer,
    /// Dropout probabilities; `hidden` is ignored (see the [module docs](self)).
    #[config(default = "VariationalDropoutConfig::new()")]
    pub dropout: VariationalDropoutConfig,
}

impl LstmLmConfig {
    /// The LSTM language model whose parameter count is closest to `target_params` (e.g.
    /// [`RhnLmConfig::num_params`](crate::RhnLmConfig::num_params) of the RHN it is compared
    /// with), by solving [`num_params`](Self::num_params)`(h) = target` for the hidden size `h`.
    pub fn matching_params(target_params: usize, vocab_size: usize, tied: bool) -> Self {
        let count = |h: usize| {
            Self::new(vocab_size, h)
                .with_tied_embeddings(tied)
                .num_params()
        };
        // 8h² + (8 + V·m)h + V = target, m = 1 tied, 2 untied.
        let (v, t) = (vocab_size as f64, target_params as f64);
        let b = 8.0 + v * if tied { 1.0 } else { 2.0 };
        let disc = (b * b - 32.0 * (v - t)).max(0.0);
        let h0 = ((disc.sqrt() - b) / 16.0).round().max(1.0) as usize;
        let best = (h0.saturating_sub(2).max(1)..=h0 + 2)
            .min_by_key(|&h| count(h).abs_diff(target_params))
            .expect("non-empty range");
        Self::new(vocab_size, best).with_tied_embeddings(tied)
    }

    /// Number of parameters, without allocating: embedding `V·h`, Burn's LSTM
    /// `4·(2h² + 2h)` (input and hidden maps each with a bias), softmax `V` (tied) or
    /// `h·V + V`.
    pub fn num_params(&self) -> usize {
        let (v, h) = (self.vocab_size, self.d_hidden);
        let softmax = if self.tied_embeddings { v } else { h * v + v };
        v * h + 4 * (2 * h * h + 2 * h) + softmax
    }

    /// Checks the sizes and dropout probabilities.
    pub fn validate(&self) -> Result<(), String> {
        if self.vocab_size == 0 || self.d_hidden == 0 {
            return Err("LstmLmConfig: vocab_size and d_hidden must be at least 1".into());
        }
        self.dropout.validate()
    }

    /// Initialises the model.
    ///
    /// # Panics
    ///
    /// If [`LstmLmConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> LstmLm {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let (v, h) = (self.vocab_size, self.d_hidden);
        LstmLm {
            embedding: EmbeddingConfig::new(v, h)
                .with_initializer(self.initializer.clone())
                .init(device),
            lstm: LstmConfig::new(h, h, true)
                .with_initializer(self.initializer.clone())
                .init(device),
            softmax_w: (!self.tied_embeddings)
                .then(|| self.initializer.init_with([h, v], Some(h), Some(v), device)),
            softmax_b: self.initializer.init_with([v], Some(h), Some(v), device),
            dropout: self.dropout.clone(),
        }
    }
}

/// An LSTM language model: embedding → LSTM → softmax layer.
///
/// Should be created with [`LstmLmConfig`].
#[derive(Module, Debug)]
pub struct LstmLm {
    /// The embedding `E` `[vocab, d_hidden]`.
    pub embedding: Embedding,
    /// The LSTM layer.
    pub lstm: Lstm,
    /// The softmax weights `[d_hidden, vocab]` (`None` when tied: `Eᵀ`).
    pub softmax_w: Option<Param<Tensor<2>>>,
    /// The softmax bias `[vocab]`.
    pub softmax_b: Param<Tensor<1>>,
    /// The dropout probabilities [`LstmLm::sample_masks`] uses.
    #[module(skip)]
    pub dropout: VariationalDropoutConfig,
}

impl LstmLm {
    /// Logits for every position, from `state` (`None`: zeros).
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]`; state cell and hidden: `[batch, d_hidden]`
    /// - logits: `[batch, seq, vocab]`
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<LstmState<2>>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, LstmState<2>) {
        let x = self.embedding.forward(tokens.clone());
        let x = match masks {
            Some(m) => m.apply_input(m.apply_embedding(x, tokens)),
            None => x,
        };
        let (y, state) = self.lstm.forward(x, state);
        let y = match masks {
            Some(m) => m.apply_output(y),
            None => y,
        };
        let [batch, seq, d] = y.dims();
        let w = match &self.softmax_w {
            Some(w) => w.val(),
            None => self.embedding.weight.val().transpose(),
        };
        let vocab = w.dims()[1];
        let logits = linear(y.reshape([batch * seq, d]), w, Some(self.softmax_b.val()));
        (logits.reshape([batch, seq, vocab]), state)
    }

    /// Draws the window's dropout masks (embedding, input, output; no recurrent mask).
    pub fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks {
        let d = self.lstm.d_hidden;
        let config = self.dropout.clone().with_hidden(0.0);
        RhnMasks::sample(&config, batch, Some(self.vocab_size()), d, d, device)
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.softmax_b.shape().dims::<1>()[0]
    }
}

impl RecurrentLm for LstmLm {
    type State = LstmState<2>;
    type Tape = ();

    fn forward_lm(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<LstmState<2>>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, LstmState<2>) {
        self.forward(tokens, state, masks)
    }

    fn forward_train(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<LstmState<2>>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, LstmState<2>, ()) {
        let (logits, state) = self.forward(tokens, state, masks);
        (logits, state, ())
    }

    fn backward_lm(&self, loss: Tensor<1>, _tape: ()) -> Gradients {
        loss.backward()
    }

    fn detach_state(state: LstmState<2>) -> LstmState<2> {
        LstmState::new(state.cell.detach(), state.hidden.detach())
    }

    fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks {
        LstmLm::sample_masks(self, batch, device)
    }

    fn vocab_size(&self) -> usize {
        LstmLm::vocab_size(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RhnLmConfig;
    use burn::tensor::Distribution;

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn matching_params_is_within_five_percent_of_the_rhn() {
        for rhn in [
            RhnLmConfig::ptb_small(),
            RhnLmConfig::ptb_sota(),
            RhnLmConfig::ptb_depth5_1000(),
            RhnLmConfig::char_small(),
            RhnLmConfig::enwik8_sota(),
        ] {
            let target = rhn.num_params();
            let lstm = LstmLmConfig::matching_params(target, rhn.vocab_size, rhn.tied_embeddings);
            let n = lstm.num_params();
            println!(
                "RHN {target} params -> LSTM {} units, {n} params",
                lstm.d_hidden
            );
            assert!(
                (n as f64 / target as f64 - 1.0).abs() < 0.05,
                "{n} vs {target}"
            );
        }
    }

    #[test]
    fn module_parameter_count_agrees_with_the_config() {
        let device = Device::flex();
        for tied in [true, false] {
            let config = LstmLmConfig::new(17, 5).with_tied_embeddings(tied);
            assert_eq!(config.init(&device).num_params(), config.num_params());
        }
    }

    #[test]
    fn forward_shapes_masks_and_state() {
        let device = Device::flex();
        let model = LstmLmConfig::new(11, 6)
            .with_tied_embeddings(true)
            .with_dropout(VariationalDropoutConfig::ptb_sota())
            .init(&device);
        let tokens = Tensor::<2>::random([2, 5], Distribution::Uniform(0.0, 10.99), &device).int();
        let (logits, state) = model.forward(tokens.clone(), None, None);
        assert_eq!(logits.dims(), [2, 5, 11]);
        assert_eq!(state.hidden.dims(), [2, 6]);
        let masks = model.sample_masks(2, &device);
        assert!(masks.hidden.is_none() && masks.embedding.is_some());
        let (dropped, _) = model.forward(tokens.clone(), None, Some(&masks));
        assert_ne!(values(&dropped), values(&logits));
        // Two windows with the carried state equal one long window.
        let (first, state) = model.forward(tokens.clone().narrow(1, 0, 2), None, None);
        let state = <LstmLm as RecurrentLm>::detach_state(state);
        let (second, _) = model.forward(tokens.narrow(1, 2, 3), Some(state), None);
        let joined = values(&Tensor::cat(vec![first, second], 1));
        assert!(
            joined
                .iter()
                .zip(values(&logits))
                .all(|(a, b)| (a - b).abs() < 1e-5)
        );
    }
}
