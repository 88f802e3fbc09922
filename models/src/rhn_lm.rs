//! Recurrent Highway Network language models (word and character level).
//!
//! Zilly, Srivastava, Koutník & Schmidhuber, *Recurrent Highway Networks* (arXiv:1607.03474),
//! s5.2-5.3, and the authors' code (jzilly/RecurrentHighwayNetworks, `rhn.py`, `Model`):
//!
//! ```text
//! e_t = E[w_t] ⊙ m_x[w_t]            embedding, word-type dropout x
//! s^{[t]} = RHN(e_t ⊙ m_i, s^{[t−1]})   input dropout i, recurrent dropout h inside the RHN
//! logits_t = (s^{[t]} ⊙ m_o) W + b      output dropout o; W = Eᵀ with tied embeddings
//! ```
//!
//! Embedding size: the authors' code uses `in_size = vocab_size` when the vocabulary is smaller
//! than the hidden size and the embeddings are untied (the character models), else
//! `hidden_size`; [`RhnLmConfig::d_embed`] follows the same rule unless set explicitly. With it
//! the parameter counts of the presets match the figures the paper quotes (23M for `ptb_sota`,
//! 46M for enwik8, 45M for text8).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::tensor::module::linear;
use burn::tensor::{Device, Gradients, IndexingUpdateOp, Int, Tensor};
use rhn::{
    CarryMode, Rhn, RhnCellConfig, RhnConfig, RhnMasks, RhnOutput, RhnState, RhnTape,
    VariationalDropoutConfig,
};

use crate::softmax_loss::{softmax_cross_entropy, softmax_cross_entropy_tied, token_loss};

/// What a truncated-BPTT training loop needs from a recurrent language model; implemented by
/// [`RhnLm`] and [`LstmLm`](crate::LstmLm) so the same loop drives both.
///
/// One training step:
///
/// ```text
/// let masks = model.sample_masks(batch, &device);            // once per window
/// let (loss, next, grads) = model.train_step(inputs, targets, state, Some(&masks), seq as f64);
/// model = optim.step(lr, model, GradientsParams::from_grads(grads?, &model));
/// state = Some(M::detach_state(next));
/// ```
///
/// (`forward_lm` + [`token_loss`] + `loss.backward()` gives the same gradients, more slowly for
/// the RHN; `forward_train` + `backward_lm` is the step with the loss left to the caller.)
pub trait RecurrentLm {
    /// The recurrent state carried across windows.
    type State: Clone;

    /// Work a training forward leaves for [`RecurrentLm::backward_lm`] ([`RhnTape`] for the
    /// RHN, nothing for the LSTM).
    type Tape;

    /// Logits for every position from `state` (`None`: zeros); `masks` as drawn by
    /// [`RecurrentLm::sample_masks`], `None` at evaluation.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]`
    /// - logits: `[batch, seq, vocab]`
    fn forward_lm(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Self::State>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, Self::State);

    /// The training forward: the same logits as [`RecurrentLm::forward_lm`], with part of the
    /// gradient work possibly deferred to [`RecurrentLm::backward_lm`].
    fn forward_train(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Self::State>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, Self::State, Self::Tape);

    /// `loss.backward()` followed by the deferred gradient work of `tape`: the gradients of every
    /// parameter, ready for `GradientsParams::from_grads`.
    fn backward_lm(&self, loss: Tensor<1>, tape: Self::Tape) -> Gradients;

    /// One training step's loss and gradients: the mean cross-entropy per token of the logits
    /// against `targets` (returned), and the gradients of `loss_scale ×` that mean for every
    /// parameter (`None`, with nothing back-propagated, when the loss is not finite or the model
    /// is not on an autodiff device), plus the next state (not detached). The default runs [`RecurrentLm::forward_train`],
    /// [`token_loss`] and [`RecurrentLm::backward_lm`].
    ///
    /// # Shapes
    ///
    /// - `tokens`, `targets`: `[batch, seq]`
    fn train_step(
        &self,
        tokens: Tensor<2, Int>,
        targets: Tensor<2, Int>,
        state: Option<Self::State>,
        masks: Option<&RhnMasks>,
        loss_scale: f64,
    ) -> (f64, Self::State, Option<Gradients>) {
        let (logits, next, tape) = self.forward_train(tokens, state, masks);
        let mean = token_loss(logits, targets);
        let (value, grads) =
            loss_and_gradients(mean, loss_scale, |loss| self.backward_lm(loss, tape));
        (value, next, grads)
    }

    /// The state cut from the autodiff graph, for the next window.
    fn detach_state(state: Self::State) -> Self::State;

    /// Draws the variational dropout masks of one window with the model's probabilities.
    fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks;

    /// Vocabulary size.
    fn vocab_size(&self) -> usize;
}

/// Configuration of an [`RhnLm`]; the named presets reproduce the paper's models.
#[derive(Config, Debug)]
pub struct RhnLmConfig {
    /// Vocabulary size (10 000 for PTB, 205 for enwik8, 27 for text8).
    pub vocab_size: usize,
    /// RHN units.
    pub d_hidden: usize,
    /// Recurrence depth `L`.
    pub depth: usize,
    /// Embedding size; `None` follows the authors' rule (see [`RhnLmConfig::d_embed`]).
    #[config(default = "None")]
    pub embed_size: Option<usize>,
    /// Tie the output projection to the embedding matrix: `W = Eᵀ` (requires
    /// `d_embed == d_hidden`; the softmax bias stays separate).
    #[config(default = false)]
    pub tied_embeddings: bool,
    /// Initial transform-gate bias `b_T` of every micro-layer (−2 PTB, −4 enwik8/text8).
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// Coupled (the paper) or free carry gate.
    #[config(default = "CarryMode::Coupled")]
    pub carry: CarryMode,
    /// Initialiser of every weight (embedding, RHN, softmax) and of `b_H`, softmax `b`: the
    /// authors' uniform ±0.04.
    #[config(default = "Initializer::Uniform { min: -0.04, max: 0.04 }")]
    pub initializer: Initializer,
    /// Fused `H`/`T` matrix products in the RHN.
    #[config(default = true)]
    pub fused: bool,
    /// Variational dropout probabilities (x, i, h, o).
    #[config(default = "VariationalDropoutConfig::new()")]
    pub dropout: VariationalDropoutConfig,
}

impl RhnLmConfig {
    fn ptb(depth: usize, d_hidden: usize) -> Self {
        Self::new(10_000, d_hidden, depth).with_dropout(VariationalDropoutConfig::ptb_sota())
    }

    /// The official `ptb_sota`: depth 10, 830 units, tied embeddings, 23M parameters, `b_T` −2,
    /// dropout x/i/h/o 0.25/0.75/0.25/0.75. Paper: valid 67.9, test 65.4 perplexity (batch-1
    /// evaluation; 68.3/66.0 in the code README's table).
    pub fn ptb_sota() -> Self {
        Self::ptb(10, 830).with_tied_embeddings(true)
    }

    /// PTB table row, depth 1, 1275 units, untied: valid 92.4, test 89.2.
    pub fn ptb_depth1_1275() -> Self {
        Self::ptb(1, 1275)
    }

    /// PTB table row, depth 5, 1000 units, untied: valid 72.0, test 69.8 (tied: 69.7/67.7; with
    /// MC dropout, tied: test 64.4).
    pub fn ptb_depth5_1000() -> Self {
        Self::ptb(5, 1000)
    }

    /// PTB table row, depth 8, 890 units, untied: valid 71.2, test 68.5 (tied: 68.2/66.1).
    pub fn ptb_depth8_890() -> Self {
        Self::ptb(8, 890)
    }

    /// PTB table row, depth 10, 830 units, untied: valid 71.3, test 68.3 (tied: 68.3/66.0; the
    /// tied model is [`RhnLmConfig::ptb_sota`]).
    pub fn ptb_depth10_830() -> Self {
        Self::ptb(10, 830)
    }

    /// enwik8: depth 10, 1500 units, untied, `b_T` −4, dropout 0.10/0.40/0.10/0.40, 205
    /// symbols, 46M parameters: 1.27 BPC (depth 10/1000 units, 21M: 1.30; depth 5/1500, 23M:
    /// 1.31).
    pub fn enwik8_sota() -> Self {
        Self::new(205, 1500, 10)
            .with_transform_bias(-4.0)
            .with_dropout(VariationalDropoutConfig::char_sota())
    }

    /// text8: depth 10, 1500 units, untied, `b_T` −4, dropout 0.10/0.40/0.10/0.40, 27 symbols,
    /// 45M parameters: 1.27 BPC (depth 10/1000 units, 20M: 1.29).
    pub fn text8_sota() -> Self {
        Self::enwik8_sota().with_vocab_size(27)
    }

    /// A small word-level model for a 2-core CPU (not in the paper): depth 4, 256 units, tied
    /// (about 3.2M parameters, 2.6M of them the embedding), `ptb_sota` dropout scaled by 0.4
    /// (x/i/h/o 0.10/0.30/0.10/0.30) for short training runs.
    pub fn ptb_small() -> Self {
        Self::ptb(4, 256)
            .with_tied_embeddings(true)
            .with_dropout(VariationalDropoutConfig::ptb_sota().scaled(0.4))
    }

    /// A small character-level model for a 2-core CPU (not in the paper): depth 4, 256 units,
    /// untied, embedding size = vocabulary (the authors' rule), char dropout halved
    /// (0.05/0.20/0.05/0.20), `b_T` −2. The vocabulary defaults to enwik8's 205; set the data's
    /// with [`with_vocab_size`](Self::with_vocab_size).
    pub fn char_small() -> Self {
        Self::new(205, 256, 4).with_dropout(VariationalDropoutConfig::char_sota().scaled(0.5))
    }

    /// The same configuration for another vocabulary (e.g. the data's character set).
    pub fn with_vocab_size(mut self, vocab_size: usize) -> Self {
        self.vocab_size = vocab_size;
        self
    }

    /// The embedding size: [`embed_size`](Self::embed_size) if set, else (authors' code)
    /// `vocab_size` when `vocab_size < d_hidden` and the embeddings are untied, else `d_hidden`.
    pub fn d_embed(&self) -> usize {
        self.embed_size.unwrap_or(
            if self.vocab_size < self.d_hidden && !self.tied_embeddings {
                self.vocab_size
            } else {
                self.d_hidden
            },
        )
    }

    /// The configuration of the RHN layer.
    pub fn rhn(&self) -> RhnConfig {
        RhnConfig::new(
            RhnCellConfig::new(self.d_embed(), self.d_hidden, self.depth)
                .with_carry(self.carry)
                .with_transform_bias(self.transform_bias)
                .with_initializer(self.initializer.clone())
                .with_fused(self.fused),
        )
    }

    /// Number of parameters, without allocating: embedding `V·e`, the RHN, and the softmax
    /// (`V` biases when tied, `d·V + V` untied).
    pub fn num_params(&self) -> usize {
        let v = self.vocab_size;
        let softmax = if self.tied_embeddings {
            v
        } else {
            self.d_hidden * v + v
        };
        v * self.d_embed() + self.rhn().num_params() + softmax
    }

    /// Checks the sizes, the tying constraint and the dropout probabilities.
    pub fn validate(&self) -> Result<(), String> {
        if self.vocab_size == 0 {
            return Err("RhnLmConfig: vocab_size must be at least 1".into());
        }
        if self.tied_embeddings && self.d_embed() != self.d_hidden {
            return Err(format!(
                "RhnLmConfig: tied embeddings need d_embed ({}) == d_hidden ({})",
                self.d_embed(),
                self.d_hidden
            ));
        }
        self.rhn().validate()?;
        self.dropout.validate()
    }

    /// Initialises the model.
    ///
    /// # Panics
    ///
    /// If [`RhnLmConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> RhnLm {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let v = self.vocab_size;
        let embedding = EmbeddingConfig::new(v, self.d_embed())
            .with_initializer(self.initializer.clone())
            .init(device);
        let softmax_w = (!self.tied_embeddings).then(|| {
            self.initializer
                .init_with([self.d_hidden, v], Some(self.d_hidden), Some(v), device)
        });
        let softmax_b = self
            .initializer
            .init_with([v], Some(self.d_hidden), Some(v), device);
        RhnLm {
            embedding,
            rhn: self.rhn().init(device),
            softmax_w,
            softmax_b,
            dropout: self.dropout.clone(),
        }
    }
}

/// An RHN language model: embedding → RHN → softmax layer, with variational dropout.
///
/// Should be created with [`RhnLmConfig`].
#[derive(Module, Debug)]
pub struct RhnLm {
    /// The embedding `E` `[vocab, d_embed]`.
    pub embedding: Embedding,
    /// The recurrent highway layer.
    pub rhn: Rhn,
    /// The softmax weights `[d_hidden, vocab]` (`None` when tied: `Eᵀ` is used).
    pub softmax_w: Option<Param<Tensor<2>>>,
    /// The softmax bias `[vocab]`.
    pub softmax_b: Param<Tensor<1>>,
    /// The dropout probabilities [`RhnLm::sample_masks`] uses.
    #[module(skip)]
    pub dropout: VariationalDropoutConfig,
}

impl RhnLm {
    /// Logits for every position, from `state` (`None`: zeros).
    ///
    /// `masks`: the window's masks ([`RhnLm::sample_masks`]; all four are applied), `None` at
    /// evaluation.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]`, `state.s`: `[batch, d_hidden]`
    /// - logits: `[batch, seq, vocab]`
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, RhnState) {
        let x = self.embed(tokens, masks);
        let (y, state) = self.rhn.forward(x, state, masks);
        (self.logits(y, masks), state)
    }

    /// [`RhnLm::forward`] for training, with the RHN's backward through time deferred to
    /// [`RhnTape::complete`] (see [`Rhn::forward_deferred`]: same gradients, faster on a CPU).
    /// After `let mut grads = loss.backward()`, call [`RhnLm::complete_gradients`].
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]`
    /// - logits: `[batch, seq, vocab]`
    pub fn forward_deferred(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, RhnState, RhnTape) {
        let x = self.embed(tokens, masks);
        let (y, state, tape) = self.rhn.forward_deferred(x, state, masks);
        (self.logits(y, masks), state, tape)
    }

    /// Adds the gradients deferred by [`RhnLm::forward_deferred`] to `grads`: the RHN's, and
    /// through its input those of the embedding.
    pub fn complete_gradients(&self, grads: &mut Gradients, tape: RhnTape) {
        // The input depends on nothing but the model's parameters: no other gradients.
        let _ = tape.complete(&self.rhn, self, grads);
    }

    /// [`RhnLm::forward`] with the RHN's transform-gate activity and an optional micro-layer
    /// lesion (see [`Rhn::forward_with_gates`]). The returned [`RhnOutput::output`] is the RHN
    /// output before output dropout.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]`
    /// - logits: `[batch, seq, vocab]`; gates: `[batch, seq, depth]`
    pub fn forward_with_gates(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
        lesion: Option<usize>,
    ) -> (Tensor<3>, RhnOutput) {
        let x = self.embed(tokens, masks);
        let out = self.rhn.forward_with_gates(x, state, masks, lesion);
        (self.logits(out.output.clone(), masks), out)
    }

    /// Embedding lookup with word-type (x) dropout.
    ///
    /// # Shapes
    ///
    /// - `tokens`: `[batch, seq]`
    /// - output: `[batch, seq, d_embed]`
    pub fn embed(&self, tokens: Tensor<2, Int>, masks: Option<&RhnMasks>) -> Tensor<3> {
        let x = self.embedding.forward(tokens.clone());
        match masks {
            Some(m) => m.apply_embedding(x, tokens),
            None => x,
        }
    }

    /// [`embed`](Self::embed) outside autodiff, as a leaf that requires its gradient, and the
    /// word-type mask of every position (`[batch, seq]`), for a caller that back-propagates
    /// into the embedding itself.
    fn embed_leaf(
        &self,
        tokens: Tensor<2, Int>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, Option<Tensor<2>>) {
        let [batch, seq] = tokens.dims();
        let weight = self.embedding.weight.val().inner();
        let d_embed = weight.dims()[1];
        let tokens = tokens.inner();
        let x = weight
            .select(0, tokens.clone().reshape([batch * seq]))
            .reshape([batch, seq, d_embed]);
        let keep = masks
            .and_then(|m| m.embedding.as_ref())
            .map(|m| m.clone().inner().gather(1, tokens));
        let x = match &keep {
            Some(k) => x * k.clone().unsqueeze_dim::<3>(2),
            None => x,
        };
        (Tensor::from_inner(x).require_grad(), keep)
    }

    /// Output dropout and the softmax layer (one matrix product over all positions).
    ///
    /// # Shapes
    ///
    /// - `y`: `[batch, seq, d_hidden]`
    /// - output: `[batch, seq, vocab]`
    pub fn logits(&self, y: Tensor<3>, masks: Option<&RhnMasks>) -> Tensor<3> {
        let y = match masks {
            Some(m) => m.apply_output(y),
            None => y,
        };
        let [batch, seq, d] = y.dims();
        let w = self.softmax_weight();
        let vocab = w.dims()[1];
        linear(y.reshape([batch * seq, d]), w, Some(self.softmax_b.val()))
            .reshape([batch, seq, vocab])
    }

    /// The softmax weights in use: `softmax_w`, or `Eᵀ` when tied.
    ///
    /// # Shapes
    ///
    /// - output: `[d_hidden, vocab]`
    pub fn softmax_weight(&self) -> Tensor<2> {
        match &self.softmax_w {
            Some(w) => w.val(),
            None => self.embedding.weight.val().transpose(),
        }
    }

    /// Draws the window's variational dropout masks with the configured probabilities.
    pub fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks {
        RhnMasks::sample(
            &self.dropout,
            batch,
            Some(self.vocab_size()),
            self.rhn.d_input(),
            self.rhn.d_hidden(),
            device,
        )
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.softmax_b.shape().dims::<1>()[0]
    }

    /// Whether the softmax weights are the embedding matrix.
    pub fn is_tied(&self) -> bool {
        self.softmax_w.is_none()
    }
}

/// A training step's mean loss per token, `mean`, read to the host (one read, also the NaN
/// check), and the gradients `backward(loss_scale · mean)`: `None`, with nothing
/// back-propagated, when the loss is not finite or not on an autodiff device.
fn loss_and_gradients(
    mean: Tensor<1>,
    loss_scale: f64,
    backward: impl FnOnce(Tensor<1>) -> Gradients,
) -> (f64, Option<Gradients>) {
    let value = crate::host::read_scalar(mean.clone());
    if !value.is_finite() || !mean.is_autodiff() {
        return (value, None);
    }
    (value, Some(backward(mean * loss_scale)))
}

impl RecurrentLm for RhnLm {
    type State = RhnState;
    type Tape = RhnTape;

    fn forward_lm(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, RhnState) {
        self.forward(tokens, state, masks)
    }

    /// The RHN's hand-written backward through time ([`RhnLm::forward_deferred`]).
    fn forward_train(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
    ) -> (Tensor<3>, RhnState, RhnTape) {
        self.forward_deferred(tokens, state, masks)
    }

    /// On a CPU backend: the RHN's hand-written backward through time fed by the closed-form
    /// gradient of the softmax layer and its loss ([`softmax_cross_entropy`]): no autodiff
    /// graph between the RHN and the loss, one `backward` from the RHN's input to the
    /// embedding. On a GPU: plain autodiff of [`token_loss`], which launches fewer kernels
    /// under Burn's fusion (counted on wgpu through lavapipe by `experiments/tests/gpu/`,
    /// figures in `docs/speed.md`). Both give the same loss and gradients (tested on both).
    fn train_step(
        &self,
        tokens: Tensor<2, Int>,
        targets: Tensor<2, Int>,
        state: Option<RhnState>,
        masks: Option<&RhnMasks>,
        loss_scale: f64,
    ) -> (f64, RhnState, Option<Gradients>) {
        if !highway_core::is_cpu_device(&tokens.device()) {
            let (logits, next) = self.forward(tokens, state, masks);
            let mean = token_loss(logits, targets);
            let (value, grads) = loss_and_gradients(mean, loss_scale, |loss| loss.backward());
            return (value, next, grads);
        }
        // The embedding outside autodiff, its output a leaf: the tape hands back its gradient,
        // which is scattered into ∂L/∂E below (into the softmax's for tied weights), where
        // Burn's embedding backward would fill a dense `[vocab, d]` gradient of zeros first.
        let (x, keep) = self.embed_leaf(tokens.clone(), masks);
        let (y, next, tape) = self.rhn.forward_deferred(x.clone(), state, masks);
        let [batch, seq, d] = y.dims();
        // Output dropout and the softmax layer outside autodiff.
        let mask_o = masks
            .and_then(|m| m.output.as_ref())
            .map(|m| m.clone().inner().unsqueeze_dim::<3>(1));
        let y = y.inner();
        let h = match &mask_o {
            Some(m) => y * m.clone(),
            None => y,
        };
        let (h, b) = (h.reshape([batch * seq, d]), self.softmax_b.val().inner());
        let targets = targets.inner().reshape([batch * seq]);
        let out = match &self.softmax_w {
            Some(w) => softmax_cross_entropy(h, w.val().inner(), b, targets, loss_scale),
            None => {
                let embedding = self.embedding.weight.val().inner();
                softmax_cross_entropy_tied(h, embedding, b, targets, loss_scale)
            }
        };
        if !out.mean.is_finite() {
            return (out.mean, next, None);
        }
        let d_y = out.d_h.reshape([batch, seq, d]);
        let d_y = match &mask_o {
            Some(m) => d_y * m.clone(),
            None => d_y,
        };
        let Some(mut grads) = tape.backward(&self.rhn, Some(Tensor::from_inner(d_y)), None) else {
            return (out.mean, next, None);
        };
        // ∂L/∂E: the rows of ∂L/∂x (through the word-type mask) added at their tokens.
        let dx = x.grad_remove(&mut grads);
        let scatter = |base: Tensor<2>| match dx {
            Some(dx) => {
                let dx = match &keep {
                    Some(k) => dx * k.clone().unsqueeze_dim::<3>(2),
                    None => dx,
                };
                let [_, _, d_embed] = dx.dims();
                let rows = dx.reshape([batch * seq, d_embed]);
                let tokens = tokens.inner().reshape([batch * seq]);
                base.select_assign(0, tokens, rows, IndexingUpdateOp::Add)
            }
            None => base,
        };
        let embedding = self.embedding.weight.val();
        let d_embedding = match &self.softmax_w {
            Some(w) => {
                rhn::accumulate(&w.val(), &mut grads, out.d_w);
                scatter(Tensor::zeros(
                    embedding.dims(),
                    &embedding.clone().inner().device(),
                ))
            }
            None => scatter(out.d_w),
        };
        rhn::accumulate(&embedding, &mut grads, d_embedding);
        rhn::accumulate(&self.softmax_b.val(), &mut grads, out.d_b);
        (out.mean, next, Some(grads))
    }

    fn backward_lm(&self, loss: Tensor<1>, tape: RhnTape) -> Gradients {
        let mut grads = loss.backward();
        self.complete_gradients(&mut grads, tape);
        grads
    }

    fn detach_state(state: RhnState) -> RhnState {
        state.detach()
    }

    fn sample_masks(&self, batch: usize, device: &Device) -> RhnMasks {
        RhnLm::sample_masks(self, batch, device)
    }

    fn vocab_size(&self) -> usize {
        RhnLm::vocab_size(self)
    }
}

#[cfg(test)]
mod tests;
