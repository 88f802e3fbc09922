//! Tests of the gate analysis and lesioning (`models::analysis`): statistics on hand-made
//! read-outs, and lesions and gate read-outs of tiny nets with hand-set gate biases. Tiny
//! shapes; fast on 2 CPU cores.

#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};
use datasets::mnist::{MNIST_PIXELS, write_idx};
use datasets::{Bptt, MnistDataset};
use models::analysis::{
    GateAccumulator, LesionReport, LesionRow, LossError, LossErrorSum, bias_table,
    classifier_gate_report, classifier_lesion, conv_forward, conv_stage_depths, rhn_gate_report,
    rhn_lesion,
};
use models::train::MnistData;
use models::{
    ConvStage, DeepMlp, DeepMlpConfig, LayerKind, MlpBody, MnistConvNetConfig, RhnLmConfig,
};

fn temp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("hz-models-analysis-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tiny MNIST-format set: `n` random images with labels `i % 10`, written as IDX files.
fn tiny_mnist(dir: &Path, n: usize) -> MnistData {
    let mut state = 12345u32;
    let mut pixel = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    };
    let images: Vec<[u8; MNIST_PIXELS]> =
        (0..n).map(|_| std::array::from_fn(|_| pixel())).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let (ip, lp) = (dir.join("images-idx3-ubyte"), dir.join("labels-idx1-ubyte"));
    write_idx(&ip, &lp, &images, &labels).unwrap();
    MnistData::new(MnistDataset::from_idx_files(&ip, &lp).unwrap())
}

fn config() -> DeepMlpConfig {
    DeepMlpConfig::new(784, 6, 5, 10, LayerKind::Highway).with_transform_bias(0.0)
}

/// Sets layer `layer`'s transform gate to `T = σ(value)` for every input: gate weights zero
/// (with random ones, `W_T·x` of a large input can open a gate its bias shuts), bias `value`.
fn set_gate(model: &mut DeepMlp, layer: usize, value: f64, device: &Device) {
    let MlpBody::Highway(stack) = &mut model.body else {
        unreachable!()
    };
    stack.layers[layer].t.weight = Initializer::Zeros.init([6, 6], device);
    stack.layers[layer].t.bias = Some(Initializer::Constant { value }.init([6], device));
}

#[test]
fn accumulator_matches_hand_computed_statistics() {
    // 2 layers × 2 units, 3 examples of classes 0, 1, 1.
    let gates = [
        0.1, 0.3, 0.5, 0.5, // example 0: layer means 0.2, 0.5
        0.0, 0.2, 0.9, 0.7, // example 1: 0.1, 0.8
        0.4, 0.4, 0.2, 0.0, // example 2: 0.4, 0.1
    ];
    // Stack input and the two layer outputs; the last is the final output.
    let outputs = [
        3.0, 4.0, 0.0, 0.0, 0.0, 0.0, // example 0: distances 5, 0, 0; |z_L| = 0
        0.0, 0.0, 1.0, 1.0, 1.0, 1.0, // example 1: √2, 0, 0; |z_L| = √2
        0.0, 0.0, 0.0, 0.0, 0.0, 2.0, // example 2: 2, 2, 0; |z_L| = 2
    ];
    let mut acc = GateAccumulator::new(2, 2, 2, 1);
    acc.add(&gates[..4], &[0], &outputs[..6]).unwrap();
    acc.add(&gates[4..], &[1, 1], &outputs[6..]).unwrap();
    let r = acc.finish(2).unwrap();
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    close(r.mean_per_layer[0], (0.2 + 0.1 + 0.4) / 3.0);
    close(r.mean_per_layer[1], (0.5 + 0.8 + 0.1) / 3.0);
    close(r.mean_per_unit[1][0], (0.5 + 0.9 + 0.2) / 3.0);
    // Class 1 = examples 1 and 2: layer 0 mean 0.25, overall 0.2333.
    close(r.class_deviation[1][0], 0.25 - 0.7 / 3.0);
    close(r.class_deviation[0][1], 0.5 - 1.4 / 3.0);
    // Deviations weighted by class counts sum to zero in every layer.
    for layer in 0..2 {
        let s: f64 = (0..2)
            .map(|c| r.class_counts[c] as f64 * r.class_deviation[c][layer])
            .sum();
        close(s, 0.0);
    }
    close(r.distance_to_output[0], (5.0 + 2f64.sqrt() + 2.0) / 3.0);
    close(r.distance_to_output[1], 2.0 / 3.0);
    close(r.distance_to_output[2], 0.0);
    close(
        r.relative_distance[1],
        (2.0 / 3.0) / ((2f64.sqrt() + 2.0) / 3.0),
    );
    // Std over examples of the layer-0 means 0.2, 0.1, 0.4.
    let m: f64 = 0.7 / 3.0;
    close(
        r.std_over_examples[0],
        ((0.04 + 0.01 + 0.16) / 3.0 - m * m).sqrt(),
    );
    // Unit means of layer 1: (0.5+0.9+0.2)/3 = 0.533, (0.5+0.7+0.0)/3 = 0.4: none closed.
    close(r.closed_fraction[1], 0.0);
    assert_eq!(r.example_gates.len(), 1);
    assert_eq!(
        r.example_gates[0].gates,
        vec![vec![0.1, 0.3], vec![0.5, 0.5]]
    );
    // Wrong sizes and labels are named.
    let mut acc = GateAccumulator::new(2, 2, 2, 0);
    let err = acc.add(&gates[..3], &[0], &outputs[..6]).unwrap_err();
    assert!(err.to_string().contains("needs 4 gate"), "{err}");
    let err = acc.add(&gates[..4], &[5], &outputs[..6]).unwrap_err();
    assert!(err.to_string().contains("label 5"), "{err}");
    assert!(GateAccumulator::new(1, 1, 1, 0).finish(2).is_err());
}

#[test]
fn loss_error_sum_is_cross_entropy_and_error() {
    let mut s = LossErrorSum::default();
    // Row 0: logits [0, ln 3] → p(1) = 0.75, correct for label 1; row 1: wrong for label 0.
    s.add(&[0.0, 3f32.ln(), 0.0, 3f32.ln()], &[1, 0]).unwrap();
    let e = s.finish();
    let expected = (-(0.75f64).ln() - (0.25f64).ln()) / 2.0;
    assert!((e.loss - expected).abs() < 1e-6, "{}", e.loss);
    assert!((e.error - 0.5).abs() < 1e-12);
    assert!(s.add(&[0.0, 1.0], &[2]).is_err());
}

#[test]
fn lesioning_a_closed_gate_changes_nothing_and_an_open_one_does() {
    let device = Device::flex();
    let dir = temp("lesion");
    let data = tiny_mnist(&dir, 24);
    let mut model = config().init(&device);
    // Layer 1 (network layer 3) is shut: T = σ(−40) ≈ 0. Layer 3 is wide open: T ≈ 1.
    set_gate(&mut model, 1, -40.0, &device);
    set_gate(&mut model, 3, 40.0, &device);
    let report = classifier_lesion("t", &model, &[("train", &data, 24)], 7, &device).unwrap();
    assert_eq!(report.rows.len(), 4);
    assert_eq!(
        report.rows.iter().map(|r| r.layer).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    let base = report.baseline[0].1;
    let shut = report.rows[1].splits[0].1;
    assert!((shut.loss - base.loss).abs() < 1e-5, "{shut:?} vs {base:?}");
    assert_eq!(shut.error, base.error);
    let open = report.rows[3].splits[0].1;
    assert!((open.loss - base.loss).abs() > 1e-3, "{open:?} vs {base:?}");
    // The lesion table agrees with one full lesioned pass per layer.
    let mut sum = LossErrorSum::default();
    let indices: Vec<usize> = (0..24).collect();
    let (inputs, _) = models::train::LabelledData::<2>::batch(&data, &indices, false, 0, &device);
    let (logits, _) = model.forward_with_gates(inputs, Some(3));
    let labels: Vec<usize> = (0..24).map(|i| i % 10).collect();
    sum.add(&logits.into_data().try_to_vec::<f32>().unwrap(), &labels)
        .unwrap();
    assert!((sum.finish().loss - open.loss).abs() < 1e-4);
    // Gate statistics see the shut and open layers.
    let g = classifier_gate_report(&model, &data, 24, 2, 10, &device).unwrap();
    assert!(g.mean_per_layer[1] < 1e-6 && g.mean_per_layer[3] > 1.0 - 1e-6);
    assert_eq!(g.closed_fraction[1], 1.0);
    assert_eq!(g.class_counts.iter().sum::<usize>(), 24);
    assert_eq!(g.example_gates.len(), 2);
    // The shut layer passes its input on: its output is as far from the end as its input.
    assert!((g.distance_to_output[1] - g.distance_to_output[2]).abs() < 1e-4);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn harmless_layers_csv_and_bias_table() {
    let p = |error| LossError { loss: 0.0, error };
    let report = LesionReport {
        label: "x".into(),
        baseline: vec![("train".into(), p(0.01))],
        rows: [0.5, 0.012, 0.013, 0.2, 0.01]
            .iter()
            .enumerate()
            .map(|(i, e)| LesionRow {
                layer: i + 2,
                splits: vec![("train".into(), p(*e))],
            })
            .collect(),
    };
    assert_eq!(report.harmless_layers("train", 0.005), vec![3, 4, 6]);
    assert!(report.harmless_layers("test", 1.0).is_empty());
    assert!(report.csv().starts_with("layer,train_loss,train_error\n0,"));
    let b = bias_table(&[vec![-1.0, -3.0], vec![0.5]], -2.0, 2);
    assert_eq!(
        (b[0].layer, b[0].mean, b[0].min, b[0].max),
        (2, -2.0, -3.0, -1.0)
    );
    assert_eq!(b[1].layer, 3);
}

#[test]
fn rhn_micro_layer_lesions_and_gate_report() {
    let device = Device::flex();
    let mut model = RhnLmConfig::new(12, 5, 3)
        .with_transform_bias(0.0)
        .with_initializer(Initializer::Uniform {
            min: -0.5,
            max: 0.5,
        })
        .init(&device);
    let layers = &mut model.rhn.cell.layers;
    layers[0].r_t.bias = Some(Param::from_tensor(Tensor::full([5], -40.0, &device)));
    layers[2].r_t.bias = Some(Param::from_tensor(Tensor::full([5], 40.0, &device)));
    let tokens: Vec<u32> = (0..61).map(|i| (i * 7 % 12) as u32).collect();
    let data = Bptt::new(&tokens, 2, 5).unwrap();
    let report = rhn_lesion("rhn", &model, &data, "valid", 0, &device).unwrap();
    let base = report.baseline[0].1.loss;
    let loss = |l: usize| report.rows[l].splits[0].1.loss;
    assert!((loss(0) - base).abs() < 1e-5, "{} vs {base}", loss(0));
    assert!((loss(2) - base).abs() > 1e-4, "{} vs {base}", loss(2));
    assert!((report.baseline[0].1.error - base.exp()).abs() < 1e-9);
    let g = rhn_gate_report(&model, 0.0, &data, 2, &device).unwrap();
    assert_eq!(g.windows, 2);
    assert_eq!(g.per_time_step.len(), 5);
    assert!(g.mean_per_micro_layer[0] < 1e-6 && g.mean_per_micro_layer[2] > 1.0 - 1e-6);
    assert_eq!(g.biases[2].mean, 40.0);
}

#[test]
fn conv_forward_matches_the_net_and_lesions_each_stage_layer() {
    let device = Device::flex();
    let dir = temp("conv");
    let data = tiny_mnist(&dir, 6);
    let mut model = MnistConvNetConfig::new(2)
        .with_dropout([0.0; 4])
        .with_transform_bias(0.0)
        .init(&device);
    assert_eq!(conv_stage_depths(&model), vec![2, 3, 3]);
    // Shut the second layer of stage 1 (network layer 5): its lesion must change nothing.
    let ConvStage::Highway(stage) = &mut model.stages[1] else {
        unreachable!()
    };
    stage.layers[1].t.bias = Some(Param::from_tensor(Tensor::full([2], -40.0, &device)));
    let indices: Vec<usize> = (0..6).collect();
    let (x, _) = models::train::LabelledData::<4>::batch(&data, &indices, false, 0, &device);
    let v = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let (logits, gates) = conv_forward(&model, x.clone(), None);
    let reference = v(model.forward(x));
    for (a, b) in v(logits).iter().zip(&reference) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert_eq!(gates.unwrap().dims(), [6, 8]);
    let report = classifier_lesion("c", &model, &[("train", &data, 6)], 4, &device).unwrap();
    assert_eq!(report.rows.len(), 8);
    assert_eq!(report.rows[7].layer, 9);
    let base = report.baseline[0].1.loss;
    assert!((report.rows[3].splits[0].1.loss - base).abs() < 1e-5);
    assert!(
        report
            .rows
            .iter()
            .any(|r| (r.splits[0].1.loss - base).abs() > 1e-5)
    );
    let g = classifier_gate_report(&model, &data, 6, 0, 4, &device).unwrap();
    assert_eq!(g.layers, 8);
    assert!(g.mean_per_layer[3] < 1e-6);
    std::fs::remove_dir_all(dir).ok();
}
