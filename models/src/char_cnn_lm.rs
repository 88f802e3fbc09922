//! The character-aware word language model, the best-known use of highway layers.
//!
//! Kim, Jernite, Sontag & Rush, *Character-Aware Neural Language Models* (AAAI 2016,
//! arXiv:1508.06615), s2, eq. (1)-(9), and the authors' code (yoonkim/lstm-char-cnn,
//! `model/LSTMTDNN.lua`, `model/TDNN.lua`, `model/HighwayMLP.lua`):
//!
//! ```text
//! C^k = Q[c_1 … c_l]                          character embeddings of word k  [l, d_c]
//! f^k_h[i] = tanh(⟨C^k[i : i+w−1], H_h⟩ + b_h) one filter h of width w         (eq. 3)
//! y^k_h = max_i f^k_h[i]                       max-over-time pooling           (eq. 4)
//! z = t ⊙ g(W_H y + b_H) + (1 − t) ⊙ y,  t = σ(W_T y + b_T), g = ReLU, b_T ≈ −2  (eq. 8)
//! h_t = LSTM₂(LSTM₁(z_t))                      two layers
//! p(w_{t+1}) = softmax(P h_t + q)
//! ```
//!
//! Since `tanh` is increasing, `max_i tanh(a_i) = tanh(max_i a_i)`: the pooling is taken
//! first and `tanh` applied to the pooled vector, the same value and gradient for less work.
//! The highway layers are `highway-core`'s [`Highway`](highway_core::Highway) (coupled carry,
//! ReLU, `b_T = −2`), so gate read-out and lesioning work as for every other highway stack.
//!
//! The LSTM layers are Burn's [`Lstm`], run by [`lstm_forward`] (the same values and
//! gradients as `Lstm::forward` with fewer, larger matrix products).
//!
//! Words enter as ids of a word vocabulary; the model holds every word spelled
//! ([`WordSpelling`]) and looks the spellings up, so it is a [`RecurrentLm`] like the other
//! language models of the zoo and trains through the same truncated-BPTT loop.
//!
//! Dropout (`p = 0.5` in the paper, on the input of every LSTM layer but the first and on the
//! output of the last one) is drawn as the zoo's variational masks ([`RhnMasks`]: one mask
//! per BPTT window and batch row), not Torch's fresh mask at every time step: `input` masks the
//! highway output entering the first LSTM layer, `hidden` the first layer's output entering
//! the second, `output` the second layer's output entering the softmax.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Lstm, LstmConfig, LstmState};
use burn::tensor::module::linear;
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};
use highway_core::stack::gate_mean_per_layer;
use highway_core::{HighwayConfig, HighwayStack};
use rhn::{RhnMasks, VariationalDropoutConfig, accumulate};

use crate::lstm_fast::lstm_forward;
use crate::rhn_lm::RecurrentLm;
use crate::softmax_loss::softmax_cross_entropy;
use crate::spelling::{PAD, WordSpelling};

/// Configuration of a [`CharCnnLm`]; the presets are the paper's PTB models (Table 3).
#[derive(Config, Debug)]
pub struct CharCnnLmConfig {
    /// Word vocabulary size (10 000 for PTB).
    pub vocab_size: usize,
    /// Character vocabulary size, padding and markers included ([`WordSpelling::num_chars`]).
    pub char_vocab_size: usize,
    /// Length of every spelled word ([`WordSpelling::max_word_len`]: 21 for PTB).
    pub max_word_len: usize,
    /// Character embedding size `d_c` (15).
    #[config(default = 15)]
    pub d_char: usize,
    /// Convolution filter widths `w` (1-6 small, 1-7 large).
    pub kernel_widths: Vec<usize>,
    /// Number of filters of each width (`25·w` small, `min(200, 50·w)` large).
    pub feature_maps: Vec<usize>,
    /// Highway layers on the pooled features (1 small, 2 large).
    pub highway_layers: usize,
    /// Initial transform-gate bias `b_T` of the highway layers (−2).
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// LSTM units of each layer (300 small, 650 large).
    pub d_hidden: usize,
    /// LSTM layers (2).
    #[config(default = 2)]
    pub lstm_layers: usize,
    /// Initialiser of every weight and bias but `b_T` (the authors' `param_init`: ±0.05).
    #[config(default = "Initializer::Uniform { min: -0.05, max: 0.05 }")]
    pub initializer: Initializer,
    /// Dropout probabilities: `input` (highway output into the first LSTM layer), `hidden`
    /// (between the LSTM layers), `output` (into the softmax); `embedding` must be 0.
    #[config(default = "VariationalDropoutConfig::new().with_hidden(0.5).with_output(0.5)")]
    pub dropout: VariationalDropoutConfig,
}

impl CharCnnLmConfig {
    /// The paper's small PTB model (Table 3, LSTM-Char small): widths 1-6 with `25·w`
    /// filters (525 features), one highway layer, two LSTM layers of 300 units; about 5M
    /// parameters, **test perplexity 92.3**.
    pub fn kim_small(spelling: &WordSpelling) -> Self {
        let widths: Vec<usize> = (1..=6).collect();
        let maps = widths.iter().map(|w| 25 * w).collect();
        Self::for_spelling(spelling, widths, maps, 1, 300)
    }

    /// The paper's large PTB model (Table 3, LSTM-Char large): widths 1-7 with
    /// `min(200, 50·w)` filters (1100 features), two highway layers, two LSTM layers of 650
    /// units; about 19M parameters, **test perplexity 78.9**.
    pub fn kim_large(spelling: &WordSpelling) -> Self {
        let widths: Vec<usize> = (1..=7).collect();
        let maps = widths.iter().map(|w| (50 * w).min(200)).collect();
        Self::for_spelling(spelling, widths, maps, 2, 650)
    }

    fn for_spelling(
        spelling: &WordSpelling,
        widths: Vec<usize>,
        maps: Vec<usize>,
        highway_layers: usize,
        d_hidden: usize,
    ) -> Self {
        Self::new(
            spelling.num_words(),
            spelling.num_chars(),
            spelling.max_word_len(),
            widths,
            maps,
            highway_layers,
            d_hidden,
        )
    }

    /// Width of the pooled feature vector (the sum of [`feature_maps`](Self::feature_maps)),
    /// which is also the width of the highway layers.
    pub fn d_features(&self) -> usize {
        self.feature_maps.iter().sum()
    }

    /// Number of parameters, without allocating: character embeddings `K·d_c`, filters
    /// `Σ (w·d_c + 1)·h_w`, highway layers `2·(F² + F)` each, Burn's LSTM `4·(d_in·h + h² + 2h)`
    /// per layer (input and hidden maps with a bias each, as the authors' code), softmax
    /// `h·V + V`.
    pub fn num_params(&self) -> usize {
        let f = self.d_features();
        let h = self.d_hidden;
        let convs: usize = self
            .kernel_widths
            .iter()
            .zip(&self.feature_maps)
            .map(|(w, m)| (w * self.d_char + 1) * m)
            .sum();
        let lstm: usize = (0..self.lstm_layers)
            .map(|l| {
                let d_in = if l == 0 { f } else { h };
                4 * (d_in * h + h * h + 2 * h)
            })
            .sum();
        self.char_vocab_size * self.d_char
            + convs
            + self.highway_layers * 2 * (f * f + f)
            + lstm
            + h * self.vocab_size
            + self.vocab_size
    }

    /// Checks the sizes and dropout probabilities.
    pub fn validate(&self) -> Result<(), String> {
        let what = "CharCnnLmConfig";
        if self.vocab_size == 0 || self.char_vocab_size == 0 || self.d_char == 0 {
            return Err(format!(
                "{what}: vocab_size, char_vocab_size and d_char must be at least 1"
            ));
        }
        if self.d_hidden == 0 || self.lstm_layers == 0 {
            return Err(format!(
                "{what}: d_hidden and lstm_layers must be at least 1"
            ));
        }
        if self.kernel_widths.is_empty() || self.kernel_widths.len() != self.feature_maps.len() {
            return Err(format!(
                "{what}: kernel_widths ({}) and feature_maps ({}) must be non-empty and of equal \
                 length",
                self.kernel_widths.len(),
                self.feature_maps.len()
            ));
        }
        if let Some(w) = self
            .kernel_widths
            .iter()
            .find(|&&w| w == 0 || w > self.max_word_len)
        {
            return Err(format!(
                "{what}: filter width {w} must be in 1..={} (max_word_len)",
                self.max_word_len
            ));
        }
        if self.feature_maps.contains(&0) {
            return Err(format!(
                "{what}: every feature_maps entry must be at least 1"
            ));
        }
        if self.dropout.embedding != 0.0 {
            return Err(format!(
                "{what}: dropout.embedding must be 0 (the model has no word embedding)"
            ));
        }
        if self.lstm_layers == 1 && self.dropout.hidden != 0.0 {
            return Err(format!(
                "{what}: dropout.hidden (between LSTM layers) needs at least two LSTM layers"
            ));
        }
        self.dropout.validate()
    }

    /// Initialises the model for the words of `spelling`.
    ///
    /// # Errors
    ///
    /// When [`validate`](Self::validate) fails, or `spelling` does not have the vocabulary,
    /// character vocabulary and word length of the config.
    pub fn init(&self, spelling: &WordSpelling, device: &Device) -> Result<CharCnnLm, String> {
        self.validate()?;
        let found = (
            spelling.num_words(),
            spelling.num_chars(),
            spelling.max_word_len(),
        );
        let expected = (self.vocab_size, self.char_vocab_size, self.max_word_len);
        if found != expected {
            return Err(format!(
                "CharCnnLmConfig: the spelling has (words, characters, word length) {found:?}, \
                 the config {expected:?}"
            ));
        }
        let f = self.d_features();
        let h = self.d_hidden;
        let init = &self.initializer;
        let convs = self
            .kernel_widths
            .iter()
            .zip(&self.feature_maps)
            .map(|(&w, &m)| {
                Conv1dConfig::new(self.d_char, m, w)
                    .with_initializer(init.clone())
                    .init(device)
            })
            .collect();
        let highway = HighwayConfig::new(f)
            .with_transform_bias(self.transform_bias)
            .with_initializer(init.clone())
            .init_stack(self.highway_layers, device);
        let lstm = (0..self.lstm_layers)
            .map(|l| {
                let d_in = if l == 0 { f } else { h };
                LstmConfig::new(d_in, h, true)
                    .with_initializer(init.clone())
                    .init(device)
            })
            .collect();
        let v = self.vocab_size;
        Ok(CharCnnLm {
            spellings: Tensor::from_data(
                TensorData::new(
                    spelling.table().to_vec(),
                    [spelling.num_words(), spelling.max_word_len()],
                ),
                device,
            ),
            char_embedding: EmbeddingConfig::new(self.char_vocab_size, self.d_char)
                .with_initializer(init.clone())
                .init(device),
            convs,
            highway,
            lstm,
            softmax_w: init.init_with([h, v], Some(h), Some(v), device),
            softmax_b: init.init_with([v], Some(h), Some(v), device),
            dropout: self.dropout.clone(),
        })
    }
}

/// The character-aware language model (see the [module docs](self)).
///
/// Should be created with [`CharCnnLmConfig`].
#[derive(Module, Debug)]
pub struct CharCnnLm {
    /// Every word of the vocabulary spelled as character ids, `[vocab, max_word_len]` (a
    /// constant, rebuilt from the vocabulary by [`CharCnnLmConfig::init`], not saved).
    pub spellings: Tensor<2, Int>,
    /// The character embeddings `Q` `[chars, d_c]` (the padding row is masked to zero).
    pub char_embedding: Embedding,
    /// One convolution per filter width, `d_c` → `feature_maps[i]` channels.
    pub convs: Vec<Conv1d>,
    /// The highway layers on the pooled features.
    pub highway: HighwayStack,
    /// The LSTM layers, input side first.
    pub lstm: Vec<Lstm>,
    /// The softmax weights `P` `[d_hidden, vocab]`.
    pub softmax_w: Param<Tensor<2>>,
    /// The softmax bias `q` `[vocab]`.
    pub softmax_b: Param<Tensor<1>>,
    /// The dropout probabilities [`CharCnnLm::sample_masks`] uses.
    #[module(skip)]
    pub dropout: VariationalDropoutConfig,
}

/// The word representations of [`CharCnnLm::represent`].
#[derive(Debug, Clone)]
pub struct WordFeatures {
    /// The pooled CNN features `y` (before the highway layers).
    pub cnn: Tensor<2>,
    /// The output of every highway layer, input side first (the last is `z`).
    pub layers: Vec<Tensor<2>>,
    /// The transform gate of every highway layer.
    pub gates: Vec<Tensor<2>>,
}

impl CharCnnLm {
    /// The pooled CNN features `y` of spelled words (eq. 3-4).
    ///
    /// # Shapes
    ///
    /// - `chars`: `[words, max_word_len]` character ids
    /// - output: `[words, d_features]`
    pub fn char_features(&self, chars: Tensor<2, Int>) -> Tensor<2> {
        let keep = chars.clone().not_equal_elem(PAD as i64).float();
        // [words, len, d_c], the padding's rows zero.
        let x = self.char_embedding.forward(chars) * keep.unsqueeze_dim::<3>(2);
        let x = x.swap_dims(1, 2);
        let pooled = self
            .convs
            .iter()
            .map(|conv| conv.forward(x.clone()).max_dim(2).squeeze_dim::<2>(2))
            .collect();
        Tensor::cat(pooled, 1).tanh()
    }

    /// The representation of spelled words before, inside and after the highway layers, with
    /// highway layer `lesion` (0-based) forced to carry (`None`: intact).
    ///
    /// # Shapes
    ///
    /// - `chars`: `[words, max_word_len]`
    /// - every output: `[words, d_features]`
    pub fn represent(&self, chars: Tensor<2, Int>, lesion: Option<usize>) -> WordFeatures {
        let cnn = self.char_features(chars);
        let out = self.highway.forward_with_gates(cnn.clone(), lesion);
        WordFeatures {
            cnn,
            layers: out.layer_outputs,
            gates: out.gates,
        }
    }

    /// The last LSTM layer's output for every position (after output dropout, the softmax
    /// layer's input) from `state` (`None`: zeros), with highway layer `lesion` forced to carry
    /// (`None`: intact); also the transform gate of each highway layer for the window's words.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]` word ids; `state`: one `[batch, d_hidden]` cell and hidden
    ///   state per LSTM layer
    /// - output: `[batch, seq, d_hidden]`; gates: `highway_layers` × `[batch·seq, d_features]`
    pub fn hidden(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Vec<LstmState<2>>>,
        masks: Option<&RhnMasks>,
        lesion: Option<usize>,
    ) -> (Tensor<3>, Vec<LstmState<2>>, Vec<Tensor<2>>) {
        let [batch, seq] = tokens.dims();
        let chars = self
            .spellings
            .clone()
            .select(0, tokens.reshape([batch * seq]));
        let words = self.represent(chars, lesion);
        let z = match words.layers.last() {
            Some(z) => z.clone(),
            None => words.cnn,
        };
        let f = z.dims()[1];
        let mut x = z.reshape([batch, seq, f]);
        let mut states = state.map(|s| s.into_iter().map(Some).collect::<Vec<_>>());
        let mut next = Vec::with_capacity(self.lstm.len());
        for (l, layer) in self.lstm.iter().enumerate() {
            if let Some(m) = masks {
                x = if l == 0 {
                    m.apply_input(x)
                } else {
                    mask_3d(x, m.hidden.as_ref())
                };
            }
            let carried = states
                .as_mut()
                .and_then(|s| s.get_mut(l))
                .and_then(Option::take);
            let (y, s) = lstm_forward(layer, x, carried);
            next.push(s);
            x = y;
        }
        let y = match masks {
            Some(m) => m.apply_output(x),
            None => x,
        };
        (y, next, words.gates)
    }

    /// The softmax layer's logits `P h + q`.
    ///
    /// # Shapes
    ///
    /// - `y`: `[batch, seq, d_hidden]`
    /// - output: `[batch, seq, vocab]`
    pub fn logits(&self, y: Tensor<3>) -> Tensor<3> {
        let [batch, seq, d] = y.dims();
        let logits = linear(
            y.reshape([batch * seq, d]),
            self.softmax_w.val(),
            Some(self.softmax_b.val()),
        );
        logits.reshape([batch, seq, self.vocab_size()])
    }

    /// [`CharCnnLm::forward`] with highway layer `lesion` forced to carry (`None`: intact),
    /// and the mean transform-gate activity of each highway layer over the window's words.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]` word ids
    /// - logits: `[batch, seq, vocab]`; gate means: `[highway_layers]`
    pub fn forward_with_gates(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Vec<LstmState<2>>>,
        masks: Option<&RhnMasks>,
        lesion: Option<usize>,
    ) -> (Tensor<3>, Vec<LstmState<2>>, Option<Tensor<1>>) {
        let (y, state, gates) = self.hidden(tokens, state, masks, lesion);
        let gates = gate_mean_per_layer(&gates);
        (self.logits(y), state, gates)
    }

    /// Logits for every position from `state` (`None`: zeros); `masks` from
    /// [`CharCnnLm::sample_masks`] in training, `None` at evaluation.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]` word ids
    /// - logits: `[batch, seq, vocab]`
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Vec<LstmState<2>>>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, Vec<LstmState<2>>) {
        let (logits, state, _) = self.forward_with_gates(tokens, state, masks, None);
        (logits, state)
    }

    /// Draws the window's dropout masks (see the [module docs](self)).
    pub fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks {
        RhnMasks::sample(
            &self.dropout,
            batch,
            None,
            self.d_features(),
            self.d_hidden(),
            device,
        )
    }

    /// Word vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.softmax_b.shape().dims::<1>()[0]
    }

    /// Width of the pooled features and the highway layers.
    pub fn d_features(&self) -> usize {
        self.convs
            .iter()
            .map(|c| c.weight.shape().dims::<3>()[0])
            .sum()
    }

    /// LSTM units.
    pub fn d_hidden(&self) -> usize {
        self.softmax_w.shape().dims::<2>()[0]
    }
}

/// `x ⊙ mask` with one mask row per batch row, the same at every position.
fn mask_3d(x: Tensor<3>, mask: Option<&Tensor<2>>) -> Tensor<3> {
    match mask {
        Some(m) => x * m.clone().unsqueeze_dim::<3>(1),
        None => x,
    }
}

impl RecurrentLm for CharCnnLm {
    type State = Vec<LstmState<2>>;
    type Tape = ();

    fn forward_lm(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Self::State>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, Self::State) {
        self.forward(tokens, state, masks)
    }

    fn forward_train(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Self::State>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, Self::State, ()) {
        let (logits, state) = self.forward(tokens, state, masks);
        (logits, state, ())
    }

    fn backward_lm(&self, loss: Tensor<1>, _tape: ()) -> Gradients {
        loss.backward()
    }

    /// The softmax layer and its loss in closed form ([`softmax_cross_entropy`], no autodiff
    /// graph over the `[tokens, vocab]` logits), then one `backward` from the LSTM output:
    /// the gradients of [`RecurrentLm::train_step`]'s default, faster.
    fn train_step(
        &self,
        tokens: Tensor<2, Int>,
        targets: Tensor<2, Int>,
        state: Option<Self::State>,
        masks: Option<&RhnMasks>,
        loss_scale: f64,
    ) -> (f64, Self::State, Option<Gradients>) {
        let (y, next, _) = self.hidden(tokens, state, masks, None);
        let [batch, seq, d] = y.dims();
        let out = softmax_cross_entropy(
            y.clone().inner().reshape([batch * seq, d]),
            self.softmax_w.val().inner(),
            self.softmax_b.val().inner(),
            targets.inner().reshape([batch * seq]),
            loss_scale,
        );
        if !out.mean.is_finite() || !y.is_autodiff() {
            return (out.mean, next, None);
        }
        let d_y = Tensor::from_inner(out.d_h.reshape([batch, seq, d]));
        let mut grads = (y * d_y).sum().backward();
        accumulate(&self.softmax_w.val(), &mut grads, out.d_w);
        accumulate(&self.softmax_b.val(), &mut grads, out.d_b);
        (out.mean, next, Some(grads))
    }

    fn detach_state(state: Self::State) -> Self::State {
        state
            .into_iter()
            .map(|s| LstmState::new(s.cell.detach(), s.hidden.detach()))
            .collect()
    }

    fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks {
        CharCnnLm::sample_masks(self, batch, device)
    }

    fn vocab_size(&self) -> usize {
        CharCnnLm::vocab_size(self)
    }
}

#[cfg(test)]
mod tests;
