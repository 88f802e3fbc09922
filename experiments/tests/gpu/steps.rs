//! One training step of every zoo model on the device under test against the CPU's.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};
use burn::train::TrainStep;
use models::{
    CifarHighwayConfig, CifarStage, ClassBatch, DeepMlpConfig, LayerKind, LstmLmConfig,
    MnistConvNetConfig, RecurrentLm, RhnLmConfig, token_loss,
};
use rhn::{RhnMasks, VariationalDropoutConfig};

use super::{collect, common, copy_to, devices};

/// The loss of one step on the GPU against the CPU's, relative.
pub(super) const LOSS_TOLERANCE: f64 = 1e-4;
/// A gradient entry on the GPU against the CPU's, relative to the parameter's largest gradient
/// (room for a GPU's reduced-precision products, e.g. TF32 on an H100).
pub(super) const GRAD_TOLERANCE: f32 = 1e-3;

/// One step's loss and every parameter's gradient.
type Step = (f64, Vec<Vec<f32>>);

/// Asserts that `gpu` equals `cpu` to the tolerances above, and that no parameter's gradient is
/// all zero (a step that moved nothing proves nothing); prints the largest deviations.
fn assert_same_step(name: &str, cpu: &Step, gpu: &Step) {
    let loss_error = (gpu.0 - cpu.0).abs() / cpu.0.abs().max(1.0);
    assert!(
        loss_error <= LOSS_TOLERANCE,
        "{name}: loss {} on the GPU, {} on the CPU",
        gpu.0,
        cpu.0
    );
    assert_eq!(cpu.1.len(), gpu.1.len(), "{name}: parameter count");
    let mut worst = 0.0f32;
    for (i, (c, g)) in cpu.1.iter().zip(&gpu.1).enumerate() {
        assert_eq!(c.len(), g.len(), "{name}: parameter {i}'s size");
        let scale = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name}: parameter {i}'s gradient is all zero");
        for (j, (u, v)) in c.iter().zip(g).enumerate() {
            let error = (u - v).abs() / scale;
            worst = worst.max(error);
            assert!(
                error <= GRAD_TOLERANCE,
                "{name}: parameter {i}, entry {j}: {v} on the GPU, {u} on the CPU (largest {scale})"
            );
        }
    }
    eprintln!(
        "{name}: loss {:.6} (relative deviation {loss_error:.1e}), {} parameters, largest \
         gradient deviation {worst:.1e} of the parameter's largest gradient",
        cpu.0,
        cpu.1.len()
    );
}

/// One classifier training step (burn-train's `TrainStep`) of `model` moved to `device`, with
/// the dropout masks from the seeded stream (the same on every backend).
fn classifier_step<M, const D: usize>(
    model: &M,
    x: &[f32],
    shape: [usize; D],
    y: &[i64],
    device: &Device,
) -> Step
where
    M: Module + TrainStep<Input = ClassBatch<D>, Output = burn::train::ClassificationOutput>,
{
    let model = copy_to(model, device);
    let batch = ClassBatch {
        inputs: Tensor::from_data(TensorData::new(x.to_vec(), shape), device),
        targets: Tensor::<1, Int>::from_data(TensorData::new(y.to_vec(), [y.len()]), device),
    };
    let out = highway_core::with_mask_seed(11, || TrainStep::step(&model, batch));
    let loss = out.item.loss.into_scalar::<f64>();
    (loss, collect(&model, &out.grads))
}

/// Inputs in `[0, 1)` and labels for `n` examples of `per` values each, from a fixed formula.
fn inputs(n: usize, per: usize) -> (Vec<f32>, Vec<i64>) {
    let x = (0..n * per)
        .map(|i| ((i * 7919 + 13) % 1000) as f32 / 1000.0)
        .collect();
    let y = (0..n).map(|i| (i * 3 % 10) as i64).collect();
    (x, y)
}

#[test]
fn classifier_steps_on_the_gpu_equal_the_cpu() {
    let _rng = common::rng_lock();
    let Some((cpu, gpu)) = devices() else { return };
    cpu.seed(5);
    let n = 4;
    let (x, y) = inputs(n, 784);
    let mlp = DeepMlpConfig::new(784, 12, 4, 10, LayerKind::Highway).init(&cpu);
    let shape = [n, 784];
    assert_same_step(
        "DeepMlp (highway, depth 4)",
        &classifier_step(&mlp, &x, shape, &y, &cpu),
        &classifier_step(&mlp, &x, shape, &y, &gpu),
    );
    let mnist = MnistConvNetConfig::new(4)
        .with_dropout([0.1, 0.2, 0.2, 0.3])
        .init(&cpu);
    let shape = [n, 1, 28, 28];
    assert_same_step(
        "MnistConvNet (width 4)",
        &classifier_step(&mnist, &x, shape, &y, &cpu),
        &classifier_step(&mnist, &x, shape, &y, &gpu),
    );
    let cifar = CifarHighwayConfig::new(vec![CifarStage::new(4, 2), CifarStage::new(6, 1)])
        .with_hidden(7)
        .with_dropout(0.2)
        .init(&cpu);
    let (x, y) = inputs(n, 3 * 32 * 32);
    let shape = [n, 3, 32, 32];
    assert_same_step(
        "CifarNet (stages 4x2, 6x1)",
        &classifier_step(&cifar, &x, shape, &y, &cpu),
        &classifier_step(&cifar, &x, shape, &y, &gpu),
    );
}

/// A window of `batch × seq` tokens below `vocab` and the next tokens, from a fixed formula.
pub(super) fn window(batch: usize, seq: usize, vocab: usize) -> (Vec<i64>, Vec<i64>) {
    let stream: Vec<i64> = (0..batch * (seq + 1))
        .map(|i| ((i * 31 + 7) % vocab) as i64)
        .collect();
    let rows = |offset: usize| {
        (0..batch)
            .flat_map(|b| stream[b * (seq + 1) + offset..b * (seq + 1) + offset + seq].to_vec())
            .collect()
    };
    (rows(0), rows(1))
}

/// The language-model steps compared: the model's own training step (on the CPU the RHN's
/// hand-written backward with the closed-form softmax gradient, on a GPU autodiff), the
/// hand-written backward through time under an autodiff loss ([`RecurrentLm::forward_train`]
/// and [`RecurrentLm::backward_lm`]), or plain autodiff of [`token_loss`].
#[derive(Clone, Copy, Debug)]
enum LmPath {
    TrainStep,
    Deferred,
    Autodiff,
}

/// One language-model training step of `model` moved to `device`: dropout masks from the
/// seeded stream, the initial state zero.
fn lm_step<M: RecurrentLm + Module>(model: &M, path: LmPath, device: &Device) -> Step {
    let model = copy_to(model, device);
    let (batch, seq, vocab) = (3, 5, 17);
    let (x, y) = window(batch, seq, vocab);
    let tokens =
        |t: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(t, [batch, seq]), device);
    let masks: RhnMasks = highway_core::with_mask_seed(13, || model.sample_masks(batch, device));
    let (loss, grads): (f64, Gradients) = match path {
        LmPath::TrainStep => {
            let (loss, _, grads) =
                model.train_step(tokens(x), tokens(y), None, Some(&masks), seq as f64);
            (loss, grads.expect("a finite loss on an autodiff device"))
        }
        LmPath::Deferred => {
            let (logits, _, tape) = model.forward_train(tokens(x), None, Some(&masks));
            let mean = token_loss(logits, tokens(y));
            let loss = mean.clone().into_scalar::<f64>();
            (loss, model.backward_lm(mean * seq as f64, tape))
        }
        LmPath::Autodiff => {
            let (logits, _) = model.forward_lm(tokens(x), None, Some(&masks));
            let mean = token_loss(logits, tokens(y));
            let loss = mean.clone().into_scalar::<f64>();
            (loss, (mean * seq as f64).backward())
        }
    };
    (
        loss,
        collect(&model, &GradientsParams::from_grads(grads, &model)),
    )
}

#[test]
fn language_model_steps_on_the_gpu_equal_the_cpu() {
    let _rng = common::rng_lock();
    let Some((cpu, gpu)) = devices() else { return };
    cpu.seed(7);
    let dropout = VariationalDropoutConfig::new()
        .with_embedding(0.1)
        .with_input(0.2)
        .with_hidden(0.2)
        .with_output(0.2);
    for tied in [true, false] {
        let rhn = RhnLmConfig::new(17, 8, 3)
            .with_tied_embeddings(tied)
            .with_dropout(dropout.clone())
            .init(&cpu);
        // The CPU reference: autodiff of the loss.
        let reference = lm_step(&rhn, LmPath::Autodiff, &cpu);
        for path in [LmPath::TrainStep, LmPath::Deferred, LmPath::Autodiff] {
            assert_same_step(
                &format!("RhnLm (tied {tied}) on the GPU, {path:?}"),
                &reference,
                &lm_step(&rhn, path, &gpu),
            );
        }
        for path in [LmPath::TrainStep, LmPath::Deferred] {
            assert_same_step(
                &format!("RhnLm (tied {tied}) on the CPU, {path:?}"),
                &reference,
                &lm_step(&rhn, path, &cpu),
            );
        }
    }
    let lstm = LstmLmConfig::new(17, 8)
        .with_dropout(dropout.with_hidden(0.0))
        .init(&cpu);
    assert_same_step(
        "LstmLm",
        &lm_step(&lstm, LmPath::TrainStep, &cpu),
        &lm_step(&lstm, LmPath::TrainStep, &gpu),
    );
}
