//! Tests of the `gates` and `lesion` commands (`experiments::analysis`): loading trained runs
//! (the checkpoint round trip, CIFAR runs read out and lesioned per highway layer), the heat
//! maps and the tables' layer ranges. The statistics and read-outs themselves are tested in
//! `models/tests/analysis.rs`. Tiny shapes; fast on 2 CPU cores.

#[path = "../../models/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use datasets::cifar::{CIFAR_PIXELS, write_cifar_bin};
use datasets::{CifarKind, CifarSplit};
use experiments::analysis::{
    GatesArgs, LesionArgs, cifar_run_splits, load_cifar_run, load_mlp_run, ranges, resolve_run_dir,
    run_gates, run_lesion,
};
use experiments::cifar::{CifarArgs, NetChoice, model_config, run_cli};
use experiments::plot::Heatmap;
use models::analysis::{
    LossErrorSum, cifar_forward, cifar_stage_depths, classifier_gate_report, classifier_lesion,
};
use models::train::{LabelledData, RunDir};
use models::{DeepMlpConfig, LayerKind};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-analysis-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config() -> DeepMlpConfig {
    DeepMlpConfig::new(784, 6, 5, 10, LayerKind::Highway).with_transform_bias(0.0)
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
fn layer_ranges_are_joined() {
    assert_eq!(ranges(&[3, 4, 6]), "3-4, 6");
    assert_eq!(ranges(&[2, 3, 4, 5]), "2-5");
    assert_eq!(ranges(&[]), "none");
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
