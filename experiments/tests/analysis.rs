//! Tests of the gate analysis and lesioning (`experiments::analysis`, the `gates` and `lesion`
//! binaries): statistics on hand-made read-outs, lesions on tiny nets with hand-set gate
//! biases, and the checkpoint round trip. Tiny shapes; fast on 2 CPU cores.

#[path = "../../models/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use datasets::cifar::{CIFAR_PIXELS, write_cifar_bin};
use datasets::mnist::{MNIST_PIXELS, write_idx};
use datasets::{Bptt, MnistDataset};
use datasets::{CifarKind, CifarSplit};
use experiments::analysis::{
    GateAccumulator, GatesArgs, LesionArgs, LesionReport, LesionRow, LossError, LossErrorSum,
    bias_table, cifar_forward, cifar_run_splits, cifar_stage_depths, classifier_gate_report,
    classifier_lesion, conv_forward, conv_stage_depths, load_cifar_run, load_mlp_run, ranges,
    resolve_run_dir, rhn_gate_report, rhn_lesion, run_gates, run_lesion,
};
use experiments::cifar::{CifarArgs, NetChoice, model_config, run_cli};
use experiments::plot::Heatmap;
use models::train::MnistData;
use models::train::{LabelledData, RunDir};
use models::{
    ConvStage, DeepMlp, DeepMlpConfig, LayerKind, MlpBody, MnistConvNetConfig, RhnLmConfig,
};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-analysis-{name}-{}", std::process::id()));
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
fn harmless_layers_and_ranges() {
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
    assert_eq!(ranges(&report.harmless_layers("train", 0.005)), "3-4, 6");
    assert!(report.harmless_layers("test", 1.0).is_empty());
    assert_eq!(ranges(&[]), "none");
    assert!(report.csv().starts_with("layer,train_loss,train_error\n0,"));
    let b = bias_table(&[vec![-1.0, -3.0], vec![0.5]], -2.0, 2);
    assert_eq!(
        (b[0].layer, b[0].mean, b[0].min, b[0].max),
        (2, -2.0, -3.0, -1.0)
    );
    assert_eq!(b[1].layer, 3);
}

#[test]
fn checkpoint_round_trip_through_a_run_directory() {
    let device = Device::flex();
    let root = temp("ckpt");
    let run = RunDir::create(root.join("highway-005").join("run-00")).unwrap();
    let config = config().with_transform_bias(-3.0);
    let model = config.init(&device);
    run.write_json("config.json", &serde_json::json!({ "model": config }))
        .unwrap();
    // No checkpoint yet: a clear error naming the run.
    let err = load_mlp_run(&root, &device).unwrap_err().to_string();
    assert!(err.contains("no checkpoint"), "{err}");
    common::publish_checkpoint(&run, 5, 1, |d| {
        model.clone().save_file(d.join("model.bpk"))?;
        Ok(())
    })
    .unwrap();
    // The study root resolves to its only run.
    assert_eq!(resolve_run_dir(&root).unwrap(), run.path);
    let loaded = load_mlp_run(&root, &device).unwrap();
    assert_eq!(loaded.epoch, 5);
    assert_eq!(loaded.config.transform_bias, -3.0);
    let x = Tensor::<2>::random([2, 784], burn::tensor::Distribution::Default, &device);
    let v = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(v(loaded.model.forward(x.clone())), v(model.forward(x)));
    // Bad inputs are named.
    let err = load_mlp_run(&root.join("nope"), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such run directory"), "{err}");
    std::fs::write(run.file("config.json"), "{\"model\": {\"depth\": 3}}").unwrap();
    let err = format!("{:#}", load_mlp_run(&run.path, &device).unwrap_err());
    assert!(err.contains("not this model's configuration"), "{err}");
    std::fs::remove_dir_all(root).ok();
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
fn heatmap_writes_png_and_svg_or_names_the_missing_font() {
    let dir = temp("heatmap");
    let map = Heatmap {
        title: "t".into(),
        x_label: "layer".into(),
        y_label: "unit".into(),
        panels: vec![("a".into(), vec![vec![0.0, 0.5], vec![1.0, 0.2]])],
        range: (0.0, 1.0),
        diverging: false,
        x_offset: 2,
    };
    match map.write(&dir.join("h")) {
        Ok(paths) => {
            assert_eq!(&std::fs::read(&paths[0]).unwrap()[1..4], b"PNG");
            assert!(std::fs::read_to_string(&paths[1]).unwrap().contains("<svg"));
        }
        Err(e) => assert!(e.to_string().contains("fonts-dejavu-core"), "{e}"),
    }
    let empty = Heatmap {
        panels: vec![],
        ..map
    };
    assert!(empty.write(&dir.join("e")).is_err());
    std::fs::remove_dir_all(dir).ok();
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

/// Tiny CIFAR-10 files in the upstream binary format (`<label><3072 pixels>` records):
/// `per_file` images in each of `data_batch_{1..5}.bin` and `test_batch.bin`, image `j` of the
/// split labelled `j % 10`.
fn tiny_cifar10(dir: &Path, per_file: usize) {
    let kind = CifarKind::Cifar10;
    for split in [CifarSplit::Train, CifarSplit::Test] {
        for (f, name) in kind.file_names(split).iter().enumerate() {
            let mut images = Vec::new();
            let mut labels = Vec::new();
            for i in 0..per_file {
                let j = f * per_file + i;
                let mut im = [0u8; CIFAR_PIXELS];
                for (p, v) in im.iter_mut().enumerate() {
                    *v = ((p * 31 + j * 97) % 251) as u8;
                }
                images.push(im);
                labels.push((j % 10) as u8);
            }
            let coarse = vec![0; per_file];
            write_cifar_bin(&dir.join(name), kind, &images, &labels, &coarse).unwrap();
        }
    }
}

#[test]
fn cifar_runs_are_read_out_and_lesioned_per_highway_layer() {
    let device = Device::flex();
    let root = temp("cifar");
    let data_dir = root.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    tiny_cifar10(&data_dir, 3); // 15 training images (classes 0-4 twice), 3 test images
    let out = root.join("run");
    let args = CifarArgs::try_parse_from([
        "cifar",
        "--net",
        "tiny",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--iterations",
        "2",
        "--batch-size",
        "5",
        "--quiet",
        "--device",
        "cpu",
    ])
    .unwrap();
    run_cli(&args).unwrap();
    // The run rebuilds from config.json + the newest checkpoint.
    let run = load_cifar_run(&out, &device).unwrap();
    assert_eq!(run.epoch, 1);
    let model = &run.model;
    assert_eq!(cifar_stage_depths(model).unwrap(), vec![1, 1]);
    let splits = cifar_run_splits(&run.dir, Some(&data_dir)).unwrap();
    let names: Vec<&str> = splits.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["train", "test"]);
    let (train, test) = (&splits[0].1, &splits[1].1);
    assert_eq!((train.len(), test.len()), (15, 3));

    // Gate statistics over uneven batches (4, 4, 4, 3) equal the net's own read-out.
    let g = classifier_gate_report(model, train, 100, 0, 4, &device).unwrap();
    assert_eq!((g.layers, g.first_layer, g.examples), (2, 1, 15));
    let all: Vec<usize> = (0..15).collect();
    let (x, _) = train.batch(&all, false, 0, &device);
    let direct = model
        .forward_with_gates(x.clone(), None)
        .gate_mean_per_layer()
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (m, d) in g.mean_per_layer.iter().zip(&direct) {
        assert!(*m > 0.0 && *m < 1.0, "{m}");
        assert!((m - *d as f64).abs() < 1e-5, "{m} vs {d}");
    }
    assert_eq!(g.class_counts, vec![2, 2, 2, 2, 2, 1, 1, 1, 1, 1]);
    for layer in 0..2 {
        let s: f64 = (0..10)
            .map(|c| g.class_counts[c] as f64 * g.class_deviation[c][layer])
            .sum();
        assert!(s.abs() < 1e-6, "{s}");
    }
    assert!(g.class_deviation.iter().flatten().any(|d| d.abs() > 1e-7));

    // Lesioning layer k zeroes its gate, leaves the earlier gates alone and moves the loss.
    let (clean_logits, clean) = cifar_forward(model, x.clone(), None);
    let clean = clean.unwrap().into_data().try_to_vec::<f32>().unwrap();
    for k in 0..2 {
        let (_, gates) = cifar_forward(model, x.clone(), Some(k));
        let gates = gates.unwrap().into_data().try_to_vec::<f32>().unwrap();
        for (e, row) in gates.chunks(2).enumerate() {
            assert_eq!(row[k], 0.0);
            for l in 0..k {
                assert!((row[l] - clean[e * 2 + l]).abs() < 1e-6);
            }
        }
    }
    let report = classifier_lesion(
        "c",
        model,
        &[("train", train, 100), ("test", test, 2)],
        4,
        &device,
    )
    .unwrap();
    assert_eq!(
        report.rows.iter().map(|r| r.layer).collect::<Vec<_>>(),
        [1, 2]
    );
    let mut reference = LossErrorSum::default();
    let labels: Vec<usize> = (0..15).map(|j| j % 10).collect();
    reference
        .add(
            &clean_logits.into_data().try_to_vec::<f32>().unwrap(),
            &labels,
        )
        .unwrap();
    let base = report.baseline[0].1;
    assert!((base.loss - reference.finish().loss).abs() < 1e-5);
    for row in &report.rows {
        assert_eq!(row.splits.len(), 2);
        assert!((row.splits[0].1.loss - base.loss).abs() > 1e-6, "{row:?}");
    }
    assert!(
        report
            .csv()
            .starts_with("layer,train_loss,train_error,test_loss,test_error\n")
    );

    // A plain run has no gates: a clear error, not a panic or zeros.
    let plain = RunDir::create(root.join("plain")).unwrap();
    let config = model_config(NetChoice::Tiny, 10, true);
    plain
        .write_json(
            "config.json",
            &serde_json::json!({ "model": config, "dataset": "cifar10" }),
        )
        .unwrap();
    let net = config.init(&device);
    common::publish_checkpoint(&plain, 1, 1, |d| {
        net.clone().save_file(d.join("model.bpk"))?;
        Ok(())
    })
    .unwrap();
    let loaded = load_cifar_run(&plain.path, &device).unwrap();
    let err = cifar_stage_depths(&loaded.model).unwrap_err().to_string();
    assert!(
        err.contains("plain") && err.contains("no transform gates"),
        "{err}"
    );
    let err = classifier_gate_report(&loaded.model, train, 5, 0, 5, &device).unwrap_err();
    assert!(err.to_string().contains("--plain"), "{err}");
    let err =
        classifier_lesion("p", &loaded.model, &[("train", train, 5)], 5, &device).unwrap_err();
    assert!(err.to_string().contains("--plain"), "{err}");
    // A run of another binary is named.
    std::fs::write(
        plain.file("config.json"),
        serde_json::json!({ "model": config, "dataset": "mnist" }).to_string(),
    )
    .unwrap();
    let err = cifar_run_splits(&plain.path, Some(&data_dir)).unwrap_err();
    assert!(err.to_string().contains("\"mnist\""), "{err}");

    // The `gates` and `lesion` commands read the highway run out and write their tables.
    let common = |dir: &str| {
        vec![
            "--cifar-run".to_string(),
            out.display().to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--out".into(),
            root.join(dir).display().to_string(),
            "--device".into(),
            "cpu".into(),
        ]
    };
    let mut argv = vec!["gates".to_string()];
    argv.extend(common("gates"));
    run_gates(&GatesArgs::try_parse_from(&argv).unwrap()).unwrap();
    let layers = std::fs::read_to_string(root.join("gates/cifar/layers.csv")).unwrap();
    assert!(layers.starts_with("layer,mean_t,"), "{layers}");
    assert_eq!(layers.lines().count(), 4); // header, the stack input, 2 highway layers
    assert!(root.join("gates/cifar/report.json").is_file());
    let mut argv = vec!["lesion".to_string()];
    argv.extend(common("lesion"));
    run_lesion(&LesionArgs::try_parse_from(&argv).unwrap()).unwrap();
    let csv = std::fs::read_to_string(root.join("lesion/lesion-cifar.csv")).unwrap();
    assert!(csv.starts_with("layer,train_loss,train_error,test_loss,test_error\n"));
    let table = std::fs::read_to_string(root.join("lesion/table.md")).unwrap();
    assert!(
        table.starts_with("# Lesioning\n\n### CIFAR highway [1, 1]"),
        "{table}"
    );
    assert!(table.contains("| stage | layers |"), "{table}");
    std::fs::remove_dir_all(root).ok();
}
