//! Text generation from the zoo's recurrent language models ([`RhnLm`](crate::RhnLm),
//! [`LstmLm`](crate::LstmLm), any [`RecurrentLm`]).
//!
//! [`generate()`] feeds the prompt as one window, then samples one token at a time and feeds it
//! back with the carried recurrent state, without dropout (no masks). Each token is drawn by
//! [`sample_token`] from one position's logits under a [`SamplingConfig`]:
//!
//! ```text
//! temperature 0:  argmax_i z_i                                  (greedy; ties: lowest id)
//! otherwise:      p_i ∝ exp((z_i − max z) / temperature)        (softmax, in f64)
//!                 restricted to the top_k largest logits,        (if set)
//!                 then to the smallest most-likely prefix with Σp ≥ top_p   (if set),
//!                 renormalised and drawn by inverse CDF with u ~ U[0, 1) from SplitMix64(seed)
//! ```
//!
//! The random numbers come from [`TokenRng`], a SplitMix64 stream fixed by the seed alone, so
//! the same model, prompt and settings give the same text on every backend and thread count
//! (up to the backend's floating-point rounding of the logits).
//!
//! ```text
//! let model = trained.valid();                      // no autodiff, no dropout
//! let config = SamplingConfig::new().with_temperature(0.8).with_top_k(Some(40)).with_seed(1);
//! let tokens = generate(&model, &prompt, 50, &config, Some(eos), &device, |t| print(t))?;
//! ```
//!
//! With the `train` feature, `text` turns prompts into tokens and tokens into text for the
//! word and character vocabularies of the `datasets` corpora, and prints the text as it is
//! generated (`generate_text`).

use burn::config::Config;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::rhn_lm::RecurrentLm;
use highway_core::mask_stream::{GOLDEN, splitmix64};

#[cfg(feature = "train")]
pub mod text;
#[cfg(feature = "train")]
pub use text::{Detokenizer, GeneratedText, TextLm, TextVocab, detokenize, generate_text};

/// How [`sample_token`] picks a token from one position's logits.
///
/// Defined behaviour of the edge cases (checked by [`SamplingConfig::validate`]):
///
/// - `temperature = 0` is greedy (argmax) decoding, the limit of the softmax as the
///   temperature goes to 0; no random number is drawn. A negative, infinite or NaN temperature
///   is an error.
/// - `top_k = Some(0)` is an error (no token could be drawn); `None` is no limit, and a `k`
///   larger than the vocabulary is the whole vocabulary.
/// - `top_p` must be in `(0, 1]`; `Some(1.0)` and `None` are no limit.
#[derive(Config, Debug)]
pub struct SamplingConfig {
    /// Softmax temperature: `> 0` samples from `softmax(logits / temperature)`, `0` is greedy
    /// (argmax) decoding.
    #[config(default = 1.0)]
    pub temperature: f64,
    /// Sample only among the `k` largest logits (ties at the boundary: lowest ids first).
    #[config(default = "None")]
    pub top_k: Option<usize>,
    /// Nucleus sampling: sample only among the smallest set of most likely tokens whose
    /// probability (after `top_k`) sums to at least `top_p`.
    #[config(default = "None")]
    pub top_p: Option<f64>,
    /// Seed of the [`TokenRng`] stream the draws come from.
    #[config(default = 0)]
    pub seed: u64,
}

impl SamplingConfig {
    /// Checks the settings; the error names the bad one (see the [type docs](Self)).
    pub fn validate(&self) -> Result<(), String> {
        let t = self.temperature;
        if !(t.is_finite() && t >= 0.0) {
            return Err(format!(
                "temperature must be finite and >= 0 (0 = greedy decoding), got {t}"
            ));
        }
        if self.top_k == Some(0) {
            return Err("top_k must be at least 1 (unset = no limit), got 0".into());
        }
        match self.top_p {
            Some(p) if !(p > 0.0 && p <= 1.0) => Err(format!(
                "top_p must be in (0, 1] (unset = no limit), got {p}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether this is greedy (argmax) decoding: `temperature == 0`.
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }
}

/// The random numbers of [`sample_token`]: SplitMix64 (Steele, Lea & Flood 2014), whose state
/// advances by the golden gamma `0x9E37_79B9_7F4A_7C15` per draw; the stream is fixed by the
/// seed alone (the same generator as `datasets::SplitMix64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRng {
    state: u64,
}

impl TokenRng {
    /// A stream fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        splitmix64(self.state)
    }

    /// A uniform number in `[0, 1)`: the top 53 bits of [`next_u64`](Self::next_u64) over
    /// `2⁵³`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The id of the largest logit (ties: the lowest id; NaN never wins unless every logit is
/// NaN, then 0).
fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] || (logits[best].is_nan() && !v.is_nan()) {
            best = i;
        }
    }
    best as u32
}

/// Picks the next token from one position's `logits` (a host slice, one value per vocabulary
/// entry) under `config` (see the [module docs](self)): the argmax when
/// `config.temperature == 0` (ties: the lowest id; no draw), else one draw of `rng` from
/// `softmax(logits / temperature)` restricted to `top_k`, then `top_p`, and renormalised.
///
/// NaN logits are never drawn (probability 0). When the largest logit is not finite (`+∞`, or
/// every logit `−∞`/NaN) the softmax is undefined and the most likely token is returned.
/// `config` is assumed valid ([`SamplingConfig::validate`]; [`generate()`] checks it).
///
/// # Panics
///
/// If `logits` is empty.
pub fn sample_token(logits: &[f32], config: &SamplingConfig, rng: &mut TokenRng) -> u32 {
    assert!(!logits.is_empty(), "sample_token: no logits to sample from");
    if config.is_greedy() {
        return argmax(logits);
    }
    let z: Vec<f64> = logits
        .iter()
        .map(|&l| {
            if l.is_nan() {
                f64::NEG_INFINITY
            } else {
                f64::from(l)
            }
        })
        .collect();
    // Most likely first; ties by lowest id.
    let mut order: Vec<u32> = (0..z.len() as u32).collect();
    order.sort_by(|&a, &b| z[b as usize].total_cmp(&z[a as usize]).then(a.cmp(&b)));
    let k = config.top_k.unwrap_or(order.len()).clamp(1, order.len());
    order.truncate(k);
    let max = z[order[0] as usize];
    if !max.is_finite() {
        return order[0];
    }
    let t = config.temperature;
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((z[i as usize] - max) / t).exp())
        .collect();
    let mut kept = weights.len();
    if let Some(p) = config.top_p {
        let total: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        if let Some(i) = weights.iter().position(|w| {
            cumulative += w / total;
            cumulative >= p
        }) {
            kept = i + 1;
        }
    }
    let weights = &weights[..kept];
    let mass: f64 = weights.iter().sum();
    let u = rng.next_f64() * mass;
    let mut cumulative = 0.0;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w;
        if u < cumulative {
            return order[i];
        }
    }
    // Only reachable through rounding: the most likely token.
    order[0]
}

/// `ids` as one `[1, len]` window of token ids.
fn token_window(ids: &[u32], device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
    Tensor::from_data(TensorData::new(data, [1, ids.len()]), device)
}

/// The logits of the last position of a `[1, seq, vocab]` tensor, on the host (`vocab`
/// values).
fn last_logits(logits: Tensor<3>) -> Result<Vec<f32>, String> {
    let seq = logits.dims()[1];
    logits
        .narrow(1, seq - 1, 1)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| format!("reading the logits back to the host: {e:?}"))
}

/// Generates up to `max_tokens` tokens after `prompt` with `model` (call it on
/// `model.valid()`: no autodiff; no dropout masks are applied), calling `on_token` with each
/// token as soon as it is drawn (to print it), and returns them (the prompt not included).
///
/// The prompt is fed as one `[1, len]` window from the zero state; the logits of its last
/// position give the first token ([`sample_token`] under `config`, one [`TokenRng`] stream
/// seeded with `config.seed` for the whole call); then each token is fed as a `[1, 1]` window
/// with the carried state. Generation ends after `max_tokens` tokens, or right after the
/// `stop` token (e.g. a word model's `<eos>`) is produced; that token is included.
/// `max_tokens == 0` returns no tokens without running the model.
///
/// `device`: where the model's tensors are (after `valid()`, the device without autodiff).
///
/// # Errors
///
/// An invalid `config` ([`SamplingConfig::validate`]), an empty `prompt`, a prompt token
/// `>= model.vocab_size()` (naming it and its position), or logits that cannot be read back.
pub fn generate<M: RecurrentLm>(
    model: &M,
    prompt: &[u32],
    max_tokens: usize,
    config: &SamplingConfig,
    stop: Option<u32>,
    device: &Device,
    mut on_token: impl FnMut(u32),
) -> Result<Vec<u32>, String> {
    config.validate()?;
    if prompt.is_empty() {
        return Err("the prompt is empty: give at least one token".into());
    }
    let vocab = model.vocab_size();
    if let Some((i, &t)) = prompt
        .iter()
        .enumerate()
        .find(|&(_, &t)| t as usize >= vocab)
    {
        return Err(format!(
            "prompt token {t} (position {i}) is outside the model's vocabulary of {vocab} tokens \
             (ids 0..{vocab})"
        ));
    }
    let mut out = Vec::with_capacity(max_tokens.min(1 << 16));
    if max_tokens == 0 {
        return Ok(out);
    }
    let mut rng = TokenRng::new(config.seed);
    let (logits, mut state) = model.forward_lm(token_window(prompt, device), None, None);
    let mut last = last_logits(logits)?;
    loop {
        let token = sample_token(&last, config, &mut rng);
        out.push(token);
        on_token(token);
        if out.len() >= max_tokens || stop == Some(token) {
            return Ok(out);
        }
        let carried = M::detach_state(state);
        let (logits, next) = model.forward_lm(token_window(&[token], device), Some(carried), None);
        state = next;
        last = last_logits(logits)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LstmLmConfig, RhnLmConfig};
    use burn::nn::Initializer;

    fn greedy() -> SamplingConfig {
        SamplingConfig::new().with_temperature(0.0)
    }

    /// `n` logits uniform in `[lo, hi)`, from a seeded stream.
    fn random_logits(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f32> {
        let mut rng = TokenRng::new(seed);
        (0..n)
            .map(|_| (lo + (hi - lo) * rng.next_f64()) as f32)
            .collect()
    }

    fn softmax(logits: &[f32], t: f64) -> Vec<f64> {
        let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let e: Vec<f64> = logits
            .iter()
            .map(|&l| ((l as f64 - max) / t).exp())
            .collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|v| v / sum).collect()
    }

    /// Token counts of `draws` samples.
    fn counts(logits: &[f32], config: &SamplingConfig, draws: usize) -> Vec<usize> {
        let mut rng = TokenRng::new(config.seed);
        let mut n = vec![0usize; logits.len()];
        for _ in 0..draws {
            n[sample_token(logits, config, &mut rng) as usize] += 1;
        }
        n
    }

    fn init(spread: f64) -> Initializer {
        Initializer::Uniform {
            min: -spread,
            max: spread,
        }
    }

    fn tiny_rhn(device: &Device) -> crate::RhnLm {
        RhnLmConfig::new(20, 8, 2)
            .with_initializer(init(0.5))
            .init(device)
    }

    fn tiny_lstm(device: &Device) -> crate::LstmLm {
        LstmLmConfig::new(20, 8)
            .with_initializer(init(0.5))
            .init(device)
    }

    #[test]
    fn the_rng_is_splitmix64() {
        // SplitMix64 seeded with 0 (as `dropout::tests` and `datasets::SplitMix64`).
        let mut rng = TokenRng::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let u = TokenRng::new(0).next_f64();
        assert_eq!(
            u,
            (0xE220_A839_7B1D_CDAFu64 >> 11) as f64 / 9_007_199_254_740_992.0
        );
        let mut rng = TokenRng::new(5);
        assert!(
            (0..1000)
                .map(|_| rng.next_f64())
                .all(|u| (0.0..1.0).contains(&u))
        );
    }

    #[test]
    fn temperature_zero_is_argmax_and_a_tiny_temperature_agrees() {
        let mut rng = TokenRng::new(1);
        let before = rng.clone();
        assert_eq!(sample_token(&[0.5, -1.0, 2.5, 2.0], &greedy(), &mut rng), 2);
        // Ties go to the lowest id; greedy decoding draws no random number.
        assert_eq!(sample_token(&[1.0, 3.0, 3.0, -2.0], &greedy(), &mut rng), 1);
        assert_eq!(sample_token(&[f32::NAN, 0.1, 0.2], &greedy(), &mut rng), 2);
        assert_eq!(rng, before);
        let cold = SamplingConfig::new().with_temperature(1e-6).with_seed(3);
        for trial in 0..200u64 {
            let logits = random_logits(30, -3.0, 3.0, 100 + trial);
            let mut rng = TokenRng::new(trial);
            assert_eq!(
                sample_token(&logits, &cold, &mut rng),
                argmax(&logits),
                "trial {trial}"
            );
        }
    }

    #[test]
    fn top_k_never_draws_outside_the_k_largest() {
        let logits = random_logits(10, -1.0, 1.0, 42);
        let mut ids: Vec<usize> = (0..10).collect();
        ids.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let top3 = &ids[..3];
        let config = SamplingConfig::new().with_top_k(Some(3)).with_seed(9);
        let n = counts(&logits, &config, 2000);
        for (id, c) in n.iter().enumerate() {
            if top3.contains(&id) {
                assert!(*c > 0, "top-3 token {id} never drawn: {n:?}");
            } else {
                assert_eq!(*c, 0, "token {id} is not in the top 3 {top3:?}: {n:?}");
            }
        }
        // k = 1 is greedy; k above the vocabulary is no limit.
        let one = SamplingConfig::new().with_top_k(Some(1));
        assert_eq!(counts(&logits, &one, 50)[ids[0]], 50);
        let all = SamplingConfig::new().with_top_k(Some(1000)).with_seed(2);
        let none = SamplingConfig::new().with_seed(2);
        assert_eq!(counts(&logits, &all, 500), counts(&logits, &none, 500));
    }

    #[test]
    fn top_p_keeps_the_smallest_likely_set() {
        // Probabilities 0.14, 0.5, 0.05, 0.31: the nucleus of 0.8 is {1, 3} (0.81).
        let logits: Vec<f32> = [0.14f64, 0.5, 0.05, 0.31]
            .iter()
            .map(|p| p.ln() as f32)
            .collect();
        let config = SamplingConfig::new().with_top_p(Some(0.8)).with_seed(4);
        let n = counts(&logits, &config, 2000);
        assert_eq!((n[0], n[2]), (0, 0), "{n:?}");
        let share = n[1] as f64 / 2000.0;
        assert!((share - 0.5 / 0.81).abs() < 0.05, "{n:?}");
        // A nucleus below the top probability is the top token alone.
        let tight = SamplingConfig::new().with_top_p(Some(0.3));
        assert_eq!(counts(&logits, &tight, 100)[1], 100);
        // top_p = 1 is no limit.
        let full = SamplingConfig::new().with_top_p(Some(1.0)).with_seed(5);
        let none = SamplingConfig::new().with_seed(5);
        assert_eq!(counts(&logits, &full, 500), counts(&logits, &none, 500));
    }

    #[test]
    fn frequencies_match_the_softmax() {
        let logits = [0.3f32, -1.2, 2.0, 0.0, 1.1];
        for t in [1.0, 2.0] {
            let config = SamplingConfig::new().with_temperature(t).with_seed(11);
            let n = counts(&logits, &config, 20_000);
            for (c, p) in n.iter().zip(softmax(&logits, t)) {
                let f = *c as f64 / 20_000.0;
                assert!((f - p).abs() < 0.02, "T {t}: {f} vs {p} ({n:?})");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_text() {
        let device = Device::flex();
        let model = tiny_rhn(&device);
        let run = |seed: u64| {
            let config = SamplingConfig::new().with_seed(seed);
            let mut seen = Vec::new();
            let out = generate(&model, &[3, 7], 30, &config, None, &device, |t| {
                seen.push(t)
            })
            .unwrap();
            assert_eq!(seen, out);
            out
        };
        let (a, b, c) = (run(1), run(1), run(2));
        assert_eq!(a.len(), 30);
        assert!(a.iter().all(|&t| t < 20));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Greedy generation equals the argmax at every position of one window over the prompt
    /// and the generated tokens (up to near-ties from rounding).
    fn greedy_matches_one_window<M: RecurrentLm>(model: &M, device: &Device) {
        let prompt = [1u32, 4, 2];
        let out = generate(model, &prompt, 12, &greedy(), None, device, |_| {}).unwrap();
        assert_eq!(out.len(), 12);
        let all: Vec<u32> = prompt.iter().chain(&out).copied().collect();
        let n = all.len();
        let (logits, _) = model.forward_lm(token_window(&all[..n - 1], device), None, None);
        let v = model.vocab_size();
        let values = logits
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        for p in prompt.len() - 1..n - 1 {
            let row = &values[p * v..(p + 1) * v];
            let (best, next) = (argmax(row), all[p + 1]);
            if best != next {
                let gap = row[best as usize] - row[next as usize];
                assert!(gap < 1e-5, "position {p}: argmax {best}, generated {next}");
            }
        }
        // The stop token ends generation and is included.
        let stop = out[2];
        let first = out.iter().position(|&t| t == stop).unwrap();
        let stopped = generate(model, &prompt, 12, &greedy(), Some(stop), device, |_| {}).unwrap();
        assert_eq!(stopped, out[..=first]);
    }

    #[test]
    fn greedy_generation_is_the_argmax_of_the_full_sequence() {
        let device = Device::flex();
        greedy_matches_one_window(&tiny_rhn(&device), &device);
        greedy_matches_one_window(&tiny_lstm(&device), &device);
    }

    #[test]
    fn bad_settings_and_prompts_are_errors() {
        let bad = [
            (SamplingConfig::new().with_temperature(-1.0), "temperature"),
            (
                SamplingConfig::new().with_temperature(f64::NAN),
                "temperature",
            ),
            (
                SamplingConfig::new().with_temperature(f64::INFINITY),
                "temperature",
            ),
            (SamplingConfig::new().with_top_k(Some(0)), "top_k"),
            (SamplingConfig::new().with_top_p(Some(0.0)), "top_p"),
            (SamplingConfig::new().with_top_p(Some(1.5)), "top_p"),
            (SamplingConfig::new().with_top_p(Some(f64::NAN)), "top_p"),
        ];
        for (config, name) in &bad {
            let err = config.validate().unwrap_err();
            assert!(err.contains(name), "{err}");
        }
        assert!(greedy().validate().is_ok());
        let ok = SamplingConfig::new()
            .with_top_k(Some(1))
            .with_top_p(Some(1.0));
        assert!(ok.validate().is_ok());
        let device = Device::flex();
        let model = tiny_rhn(&device);
        let run = |prompt: &[u32], config: &SamplingConfig| {
            generate(&model, prompt, 5, config, None, &device, |_| {})
        };
        assert!(run(&[], &greedy()).unwrap_err().contains("empty"));
        let err = run(&[1, 20], &greedy()).unwrap_err();
        assert!(err.contains("20") && err.contains("position 1"), "{err}");
        assert!(run(&[1], &bad[0].0).unwrap_err().contains("temperature"));
        assert_eq!(
            generate(&model, &[1], 0, &greedy(), None, &device, |_| {}),
            Ok(vec![])
        );
    }

    #[test]
    fn a_tiny_lstm_trained_on_a_cycle_regenerates_it_greedily() {
        use burn::module::Module;
        use burn::optim::{AdamConfig, GradientsParams};

        let device = Device::flex().autodiff();
        device.seed(7);
        let mut model = LstmLmConfig::new(8, 16)
            .with_initializer(init(0.3))
            .init(&device);
        // Two turns of the cycle 0..8 (every transition twice) as one window.
        let text: Vec<u32> = (0..17).map(|i| i % 8).collect();
        let (inputs, targets) = (
            token_window(&text[..16], &device),
            token_window(&text[1..], &device),
        );
        let mut optim = AdamConfig::new().init();
        let mut loss = f64::INFINITY;
        for _ in 0..300 {
            let (logits, _) = model.forward_lm(inputs.clone(), None, None);
            let mean = crate::token_loss(logits, targets.clone());
            loss = mean.clone().into_scalar::<f64>();
            if loss < 0.01 {
                break;
            }
            let grads = GradientsParams::from_grads(mean.backward(), &model);
            model = optim.step(0.05, model, grads);
        }
        assert!(loss < 0.1, "training loss {loss}");
        let model = model.valid();
        let plain = device.clone().without_autodiff();
        let out = generate(&model, &[0, 1], 10, &greedy(), None, &plain, |_| {}).unwrap();
        assert_eq!(out, [2, 3, 4, 5, 6, 7, 0, 1, 2, 3]);
    }
}
