//! The zoo's models as Burn [`Learner`](burn::train::Learner) models (feature `train`).
//!
//! **Classifiers.** [`DeepMlp`] (*Training Very Deep Networks* s3.1), [`MnistConvNet`]
//! (Table 1) and [`CifarNet`] (Tables 2-3) implement burn-train's [`TrainStep`] and
//! [`InferenceStep`] on a [`ClassBatch`]: the step is the mean cross-entropy
//! `L = −(1/N) Σ_n log softmax(z_n)[y_n]` of the logits `z = f(x)` and its gradients, and the
//! output is Burn's [`ClassificationOutput`], so Burn's `LossMetric`, `AccuracyMetric` and the
//! other classification metrics read it. Any `SupervisedTraining` set-up trains them: see
//! `models/examples/learner.rs`.
//!
//! **Language models.** [`RhnLm`] (*Recurrent Highway Networks*), [`LstmLm`] and
//! [`CharCnnLm`] take one truncated-BPTT window per item ([`LmWindow`]): fresh variational dropout masks, the forward
//! from the window's initial state (`None`: zeros), the authors' loss (cross-entropy summed
//! over time, averaged over the batch) and its gradients, through
//! [`RecurrentLm::train_step`] (the RHN's hand-written backward included). The output
//! ([`LmOutput`]) carries the mean loss per token, read by Burn's `LossMetric` and by
//! [`TokenPerplexity`], and the window's final state, detached, for the next window: a
//! training strategy that carries state across windows puts it into the next item. Gradient
//! clipping is the training set-up's (the RHN paper clips the global norm at 10).

use std::sync::Arc;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{ExecutionError, Int, Tensor, TensorData, TensorReadError};
use burn::train::metric::{
    Adaptor, LossInput, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::{ClassificationOutput, InferenceStep, ItemLazy, TrainOutput, TrainStep};
use rhn::{RhnMasks, RhnState};

use crate::{CharCnnLm, CifarNet, DeepMlp, LstmLm, MnistConvNet, RecurrentLm, RhnLm, token_loss};

/// A labelled mini-batch: the item a zoo classifier's [`TrainStep`] and [`InferenceStep`] take.
///
/// # Shapes
///
/// - `inputs`: `[batch, ...]` of rank `D` (`[batch, 784]` for [`DeepMlp`],
///   `[batch, channels, height, width]` for the conv nets)
/// - `targets`: `[batch]`, class indices
#[derive(Debug, Clone)]
pub struct ClassBatch<const D: usize> {
    /// The inputs.
    pub inputs: Tensor<D>,
    /// The class index of each input.
    pub targets: Tensor<1, Int>,
}

/// The mean cross-entropy of `logits` against `targets`, packed with both for Burn's
/// classification metrics.
///
/// # Shapes
///
/// - `logits`: `[batch, n_classes]`
/// - `targets`: `[batch]`
/// - output: loss `[1]`, logits and targets as given
pub fn classification_output(logits: Tensor<2>, targets: Tensor<1, Int>) -> ClassificationOutput {
    let loss = CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits.clone(), targets.clone());
    ClassificationOutput::new(loss, logits, targets)
}

/// The classifiers' steps: training runs the highway stacks on the CPU fast path where it
/// applies (each net's `forward_train`, then `complete_train` after `loss.backward()`);
/// evaluation is `forward`.
macro_rules! classifier_steps {
    ($model:ty, $rank:literal) => {
        impl TrainStep for $model {
            type Input = ClassBatch<$rank>;
            type Output = ClassificationOutput;

            fn step(&self, batch: ClassBatch<$rank>) -> TrainOutput<ClassificationOutput> {
                let (logits, tapes) = self.forward_train(batch.inputs);
                let output = classification_output(logits, batch.targets);
                let mut grads = output.loss.backward();
                self.complete_train(tapes, &mut grads);
                TrainOutput::new(self, grads, output)
            }
        }

        impl InferenceStep for $model {
            type Input = ClassBatch<$rank>;
            type Output = ClassificationOutput;

            fn step(&self, batch: ClassBatch<$rank>) -> ClassificationOutput {
                classification_output(self.forward(batch.inputs), batch.targets)
            }
        }
    };
}

classifier_steps!(DeepMlp, 2);
classifier_steps!(MnistConvNet, 4);
classifier_steps!(CifarNet, 4);

/// One truncated-BPTT window: the item a zoo language model's [`TrainStep`] and
/// [`InferenceStep`] take.
///
/// # Shapes
///
/// - `tokens`, `targets`: `[batch, seq_len]` (`targets` is `tokens` shifted by one)
#[derive(Debug, Clone)]
pub struct LmWindow<S> {
    /// Input token ids.
    pub tokens: Tensor<2, Int>,
    /// The next token of each input.
    pub targets: Tensor<2, Int>,
    /// The state the window starts from (`None`: zeros).
    pub state: Option<S>,
}

/// A language model's step output.
#[derive(Debug, Clone)]
pub struct LmOutput<S> {
    /// Mean cross-entropy per token, `[1]`, for Burn's `LossMetric`.
    pub loss: Tensor<1>,
    /// The same mean, as computed in `f64`.
    pub mean_loss: f64,
    /// Tokens in the window (`batch · seq_len`).
    pub tokens: usize,
    /// The window's final state, detached from the graph (`None` after
    /// [`ItemLazy::sync`]: metrics do not need it).
    pub state: Option<S>,
}

impl<S> LmOutput<S> {
    /// The output of a window of `tokens` tokens whose mean loss per token is `loss` (`[1]`,
    /// in autodiff for a training step) and whose final state, already detached, is `state`.
    pub fn new(loss: Tensor<1>, tokens: usize, state: Option<S>) -> Self {
        Self {
            mean_loss: crate::host::read_scalar(loss.clone()),
            loss,
            tokens,
            state,
        }
    }
}

impl<S: Send + 'static> ItemLazy for LmOutput<S> {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(LmOutput {
            loss: self.loss.without_autodiff(),
            mean_loss: self.mean_loss,
            tokens: self.tokens,
            state: None,
        })
    }
}

impl<S> Adaptor<LossInput> for LmOutput<S> {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl<S> Adaptor<TokenLossInput> for LmOutput<S> {
    fn adapt(&self) -> TokenLossInput {
        TokenLossInput {
            mean_loss: self.mean_loss,
            tokens: self.tokens,
        }
    }
}

/// What [`TokenPerplexity`] reads: a batch's mean loss per token and its token count.
#[derive(Debug, Clone, Copy)]
pub struct TokenLossInput {
    /// Mean cross-entropy per token (nats).
    pub mean_loss: f64,
    /// Tokens it is the mean over.
    pub tokens: usize,
}

/// Perplexity `exp(Σ loss / Σ tokens)` over the batches seen in an epoch, weighted by tokens:
/// the language-model papers' figure, as a burn-train metric (Burn's own perplexity metric
/// reads the full `[tokens, vocab]` logits instead).
#[derive(Debug, Clone)]
pub struct TokenPerplexity {
    name: MetricName,
    sum: f64,
    tokens: usize,
    last: f64,
}

impl Default for TokenPerplexity {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenPerplexity {
    /// The metric, named `Perplexity`.
    pub fn new() -> Self {
        Self {
            name: Arc::new("Perplexity".to_string()),
            sum: 0.0,
            tokens: 0,
            last: f64::NAN,
        }
    }

    fn epoch_value(&self) -> f64 {
        (self.sum / self.tokens.max(1) as f64).exp()
    }

    fn entry(&self, value: f64) -> SerializedEntry {
        SerializedEntry::new(format!("{} {value:.2}", self.name), value.to_string())
    }
}

impl Metric for TokenPerplexity {
    type Input = TokenLossInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        item: &TokenLossInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.sum += item.mean_loss * item.tokens as f64;
        self.tokens += item.tokens;
        self.last = item.mean_loss.exp();
        Ok(self.entry(self.last))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.epoch_value()))
    }

    fn clear(&mut self) {
        *self = Self {
            name: self.name.clone(),
            ..Self::new()
        };
    }
}

impl Numeric for TokenPerplexity {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.last))
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.epoch_value()))
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch_value())
    }
}

/// The training step of a [`RecurrentLm`] on one window (see the [module docs](self)): no
/// gradients (an empty set) when the loss is not finite.
fn lm_train_step<M: RecurrentLm + Module>(
    model: &M,
    window: LmWindow<M::State>,
) -> TrainOutput<LmOutput<M::State>> {
    let [batch, _] = window.tokens.dims();
    let masks = model.sample_masks(batch, &window.tokens.device());
    lm_train_step_with(model, window, &masks)
}

/// [`lm_train_step`] with the window's dropout masks given.
fn lm_train_step_with<M: RecurrentLm + Module>(
    model: &M,
    window: LmWindow<M::State>,
    masks: &RhnMasks,
) -> TrainOutput<LmOutput<M::State>> {
    let [batch, seq_len] = window.tokens.dims();
    let device = window.tokens.device();
    let (mean_loss, next, grads) = model.train_step(
        window.tokens,
        window.targets,
        window.state,
        Some(masks),
        seq_len as f64,
    );
    let grads = match grads {
        Some(g) if mean_loss.is_finite() => GradientsParams::from_grads(g, model),
        _ => GradientsParams::new(),
    };
    let loss = Tensor::from_data(TensorData::new(vec![mean_loss as f32], [1]), &device);
    TrainOutput {
        grads,
        item: LmOutput {
            loss,
            mean_loss,
            tokens: batch * seq_len,
            state: Some(M::detach_state(next)),
        },
    }
}

/// The evaluation step of a [`RecurrentLm`] on one window (no dropout).
fn lm_inference_step<M: RecurrentLm>(model: &M, window: LmWindow<M::State>) -> LmOutput<M::State> {
    let [batch, seq_len] = window.tokens.dims();
    let (logits, next) = model.forward_lm(window.tokens, window.state, None);
    let loss = token_loss(logits, window.targets);
    let mean_loss = crate::host::read_scalar(loss.clone());
    LmOutput {
        loss,
        mean_loss,
        tokens: batch * seq_len,
        state: Some(M::detach_state(next)),
    }
}

macro_rules! lm_steps {
    ($model:ty, $state:ty) => {
        impl TrainStep for $model {
            type Input = LmWindow<$state>;
            type Output = LmOutput<$state>;

            fn step(&self, window: LmWindow<$state>) -> TrainOutput<LmOutput<$state>> {
                lm_train_step(self, window)
            }
        }

        impl InferenceStep for $model {
            type Input = LmWindow<$state>;
            type Output = LmOutput<$state>;

            fn step(&self, window: LmWindow<$state>) -> LmOutput<$state> {
                lm_inference_step(self, window)
            }
        }
    };
}

lm_steps!(RhnLm, RhnState);
lm_steps!(LstmLm, <LstmLm as RecurrentLm>::State);
lm_steps!(CharCnnLm, <CharCnnLm as RecurrentLm>::State);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeepMlpConfig;
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Distribution, TensorData};

    /// Every parameter's gradient in `grads`, in visiting order.
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<Vec<f32>>,
    }

    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = self
                .grads
                .get::<D>(param.id)
                .expect("every parameter has a gradient");
            self.out.push(g.into_data().try_to_vec().unwrap());
        }
    }

    fn collect<M: Module>(model: &M, grads: &GradientsParams) -> Vec<Vec<f32>> {
        let mut c = Collect { grads, out: vec![] };
        model.visit(&mut c);
        c.out
    }

    #[test]
    fn train_step_is_the_cross_entropy_and_its_gradients() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let model = DeepMlpConfig::mnist_highway(4).init(&device);
        let x = Tensor::<2>::random([5, 784], Distribution::Uniform(0.0, 1.0), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::from([1i64, 7, 3, 3, 9]), &device);
        let out = TrainStep::step(
            &model,
            ClassBatch {
                inputs: x.clone(),
                targets: y.clone(),
            },
        );
        let x0 = x.clone();
        // The same loss written out: −mean log softmax(z)[y].
        let logits = model.forward(x);
        let log_p = burn::tensor::activation::log_softmax(logits, 1);
        let picked = log_p.gather(1, y.clone().reshape([5, 1])).reshape([5]);
        let loss = picked.mean().neg();
        let expected = loss.clone().into_scalar::<f64>();
        let got = out.item.loss.clone().into_scalar::<f64>();
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        let reference = GradientsParams::from_grads(loss.backward(), &model);
        let a = collect(&model, &out.grads);
        let b = collect(&model, &reference);
        assert_eq!(a.len(), b.len());
        for (ga, gb) in a.iter().zip(&b) {
            for (u, v) in ga.iter().zip(gb) {
                assert!((u - v).abs() <= 1e-6 + 1e-5 * v.abs(), "{u} vs {v}");
            }
        }
        // Inference on the model without autodiff gives the same loss and the logits.
        let inf = InferenceStep::step(
            &model.valid(),
            ClassBatch {
                inputs: x0.without_autodiff(),
                targets: y.without_autodiff(),
            },
        );
        assert_eq!(inf.output.dims(), [5, 10]);
        let inf_loss = inf.loss.into_scalar::<f64>();
        assert!(
            (inf_loss - expected).abs() < 1e-6,
            "{inf_loss} vs {expected}"
        );
    }

    /// The conv nets' train step (highway stages on the CPU fast path) against `forward` and
    /// `loss.backward()` under autodiff: the same loss and every parameter's gradient.
    #[test]
    fn classifier_train_steps_on_the_fast_path_equal_autodiff() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let mnist = crate::MnistConvNetConfig::new(5)
            .with_dropout([0.0; 4])
            .init(&device);
        let cifar = crate::CifarHighwayConfig::new(vec![
            crate::CifarStage::new(4, 2),
            crate::CifarStage::new(6, 1),
        ])
        .with_hidden(7)
        .with_dropout(0.0)
        .init(&device);
        let check = |name: &str, step: TrainOutput<ClassificationOutput>, reference: Tensor<1>| {
            let got = step.item.loss.clone().into_scalar::<f64>();
            let expected = reference.clone().into_scalar::<f64>();
            assert!((got - expected).abs() < 1e-5, "{name}: {got} vs {expected}");
            (step.grads, reference)
        };
        let compare = |name: &str, a: Vec<Vec<f32>>, b: Vec<Vec<f32>>| {
            assert_eq!(a.len(), b.len());
            for (i, (ga, gb)) in a.iter().zip(&b).enumerate() {
                let scale = gb.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                for (u, v) in ga.iter().zip(gb) {
                    assert!(
                        (u - v).abs() <= 2e-5 * scale,
                        "{name} parameter {i}: {u} vs {v}"
                    );
                }
            }
        };
        let y = Tensor::<1, Int>::from_data(TensorData::from([1i64, 7, 3]), &device);

        let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let (_, tapes) = mnist.forward_train(x.clone());
        assert!(!tapes.is_empty(), "the fast path applies on flex");
        let batch = ClassBatch {
            inputs: x.clone(),
            targets: y.clone(),
        };
        let loss = classification_output(mnist.forward(x), y.clone()).loss;
        let (grads, loss) = check("mnist", TrainStep::step(&mnist, batch), loss);
        let reference = GradientsParams::from_grads(loss.backward(), &mnist);
        compare(
            "mnist",
            collect(&mnist, &grads),
            collect(&mnist, &reference),
        );

        let x = Tensor::<4>::random([3, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
        let batch = ClassBatch {
            inputs: x.clone(),
            targets: y.clone(),
        };
        let loss = classification_output(cifar.forward(x), y.clone()).loss;
        let (grads, loss) = check("cifar", TrainStep::step(&cifar, batch), loss);
        let reference = GradientsParams::from_grads(loss.backward(), &cifar);
        compare(
            "cifar",
            collect(&cifar, &grads),
            collect(&cifar, &reference),
        );

        for kind in [crate::LayerKind::Highway, crate::LayerKind::Plain] {
            let mlp = crate::DeepMlpConfig::new(12, 9, 5, 10, kind).init(&device);
            let x = Tensor::<2>::random([3, 12], Distribution::Uniform(0.0, 1.0), &device);
            let (_, tape) = mlp.forward_train(x.clone());
            assert!(!tape.is_empty(), "the fast path applies");
            let batch = ClassBatch {
                inputs: x.clone(),
                targets: y.clone(),
            };
            let loss = classification_output(mlp.forward(x), y.clone()).loss;
            let name = format!("{kind} mlp");
            let (grads, loss) = check(&name, TrainStep::step(&mlp, batch), loss);
            let reference = GradientsParams::from_grads(loss.backward(), &mlp);
            compare(&name, collect(&mlp, &grads), collect(&mlp, &reference));
        }

        // A plain conv net: its plain stages on the fast path too.
        let plain = crate::MnistConvNetConfig::new(5)
            .with_kind(crate::LayerKind::Plain)
            .with_dropout([0.0; 4])
            .init(&device);
        let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let (_, tapes) = plain.forward_train(x.clone());
        assert!(!tapes.is_empty(), "the fast path applies to plain stages");
        let batch = ClassBatch {
            inputs: x.clone(),
            targets: y.clone(),
        };
        let loss = classification_output(plain.forward(x), y).loss;
        let (grads, loss) = check("plain mnist", TrainStep::step(&plain, batch), loss);
        let reference = GradientsParams::from_grads(loss.backward(), &plain);
        compare(
            "plain mnist",
            collect(&plain, &grads),
            collect(&plain, &reference),
        );
    }

    #[test]
    fn lm_train_step_is_the_models_step_with_fresh_masks_and_carries_the_state() {
        let device = Device::flex().autodiff();
        device.seed(4);
        let model = crate::RhnLmConfig::new(11, 8, 2)
            .with_dropout(rhn::VariationalDropoutConfig::ptb_sota())
            .init(&device);
        // Burn draws weights lazily: draw them now, not inside the first step's mask stream.
        highway_core::materialize(&model);
        let tokens = Tensor::<2, Int>::from_ints([[1, 2, 3], [4, 5, 6]], &device);
        let targets = Tensor::<2, Int>::from_ints([[2, 3, 4], [5, 6, 7]], &device);
        let window = || LmWindow {
            tokens: tokens.clone(),
            targets: targets.clone(),
            state: None,
        };
        // Burn's random stream is one per process, shared with the tests running beside this
        // one: the masks are drawn once and given to both sides.
        let masks = model.sample_masks(2, &device);
        let out = lm_train_step_with(&model, window(), &masks);
        let (value, next, grads) =
            model.train_step(tokens.clone(), targets.clone(), None, Some(&masks), 3.0);
        assert_eq!(out.item.mean_loss, value);
        // The learner's step draws fresh masks each call: two calls on one window differ.
        let (first, second) = (
            TrainStep::step(&model, window()).item.mean_loss,
            TrainStep::step(&model, window()).item.mean_loss,
        );
        assert_ne!(first, second);
        assert_eq!(out.item.tokens, 6);
        let reference = GradientsParams::from_grads(grads.expect("finite"), &model);
        let (a, b) = (collect(&model, &out.grads), collect(&model, &reference));
        assert_eq!(a, b);
        let carried = out.item.state.clone().expect("a state");
        assert_eq!(
            carried.s.clone().into_data().try_to_vec::<f32>().unwrap(),
            next.s.into_data().try_to_vec::<f32>().unwrap()
        );
        // The next window starts from the carried state: a different loss than from zeros.
        let valid = model.valid();
        let inner = |t: &Tensor<2, Int>| t.clone().without_autodiff();
        let from_zero = InferenceStep::step(
            &valid,
            LmWindow {
                tokens: inner(&tokens),
                targets: inner(&targets),
                state: None,
            },
        );
        let from_state = InferenceStep::step(
            &valid,
            LmWindow {
                tokens: inner(&tokens),
                targets: inner(&targets),
                state: Some(RhnState::new(carried.s.without_autodiff())),
            },
        );
        assert!((from_zero.mean_loss - from_state.mean_loss).abs() > 1e-7);
        let (logits, _) = valid.forward_lm(inner(&tokens), None, None);
        let expected = token_loss(logits, inner(&targets)).into_scalar::<f64>();
        assert!((from_zero.mean_loss - expected).abs() < 1e-9);
    }

    #[test]
    fn token_perplexity_weights_batches_by_tokens() {
        let mut ppl = TokenPerplexity::new();
        let meta = MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(1),
            lr: None,
        };
        for (mean_loss, tokens) in [(1.0, 10), (2.0, 30)] {
            ppl.update(&TokenLossInput { mean_loss, tokens }, &meta)
                .unwrap();
        }
        ppl.compute().unwrap();
        let NumericEntry::Final(v) = ppl.final_value() else {
            panic!("a final value");
        };
        assert!((v - (70.0f64 / 40.0).exp()).abs() < 1e-12, "{v}");
        ppl.clear();
        assert!(ppl.epoch_value() == 1.0);
    }
}
