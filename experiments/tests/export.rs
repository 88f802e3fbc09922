//! `export`: a run directory's newest checkpoint to PyTorch-named safetensors and its JSON.

#[path = "../../models/tests/common/mod.rs"]
mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use experiments::export::{EXPORT_FORMAT, ExportInfo, export_run};
use models::train::RunDir;
use models::{DeepMlpConfig, weights};

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-export-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_run_exports_to_pytorch_names_and_loads_back_to_the_same_net() {
    let device = Device::flex();
    let root = temp("mlp");
    let run = RunDir::create(root.join("highway-004").join("run-00")).unwrap();
    let config = DeepMlpConfig::mnist_highway(4);
    let model = config.init(&device);
    run.write_json("config.json", &serde_json::json!({ "model": config }))
        .unwrap();
    for epoch in [1, 2] {
        common::publish_checkpoint(&run, epoch, 2, |d| {
            model.clone().save_file(d.join("model.bpk"))?;
            Ok(())
        })
        .unwrap();
    }
    let out = root.join("mlp.safetensors");
    let info = export_run(&root, &out, &device).unwrap();
    assert_eq!(info.model, "DeepMlp");
    assert_eq!(info.epoch, 2);
    assert_eq!(info.format, EXPORT_FORMAT);
    assert_eq!(info.config, serde_json::to_value(&config).unwrap());
    assert_eq!(info.tensors, weights::pytorch_keys(&model).len());
    let written: ExportInfo =
        serde_json::from_str(&std::fs::read_to_string(root.join("mlp.json")).unwrap()).unwrap();
    assert_eq!(written, info);
    // PyTorch's names and layouts: a Linear weight is [out, in].
    let keys = weights::pytorch_keys(&model);
    assert_eq!(keys["input.linear.weight"], vec![50, 784]);
    assert!(keys.contains_key("body.layers.2.t.bias"));
    // Loaded back into a fresh net, the same outputs.
    let fresh = config.init(&device);
    let back = weights::load_safetensors(&fresh, &out).unwrap();
    let x = Tensor::<2>::random([3, 784], Distribution::Default, &device);
    let v = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(v(back.forward(x.clone())), v(model.forward(x)));
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn bad_exports_are_named() {
    let device = Device::flex();
    let root = temp("bad");
    let err = export_run(&root, &root.join("w.bin"), &device).unwrap_err();
    assert!(
        err.to_string().contains("must end in .safetensors"),
        "{err}"
    );
    let run = RunDir::create(root.join("run")).unwrap();
    run.write_json(
        "config.json",
        &serde_json::json!({ "model": { "layers": 3 } }),
    )
    .unwrap();
    let err = export_run(&run.path, &root.join("w.safetensors"), &device).unwrap_err();
    assert!(
        err.to_string().contains("none of the zoo's models"),
        "{err}"
    );
    assert!(!root.join("w.safetensors").exists() && !root.join("w.json").exists());
    // A character-aware LM's configuration has `vocab_size` as an LSTM's does: named, not
    // read as one.
    let kim = RunDir::create(root.join("kim")).unwrap();
    kim.write_json(
        "config.json",
        &serde_json::json!({ "model": {
            "vocab_size": 10_000, "char_vocab_size": 51, "max_word_len": 21, "d_char": 15,
            "kernel_widths": [1, 2, 3], "feature_maps": [25, 50, 75], "highway_layers": 1,
            "d_hidden": 300, "lstm_layers": 2
        } }),
    )
    .unwrap();
    let err = export_run(&kim.path, &root.join("w.safetensors"), &device).unwrap_err();
    assert!(err.to_string().contains("character-aware"), "{err}");
    assert!(!root.join("w.safetensors").exists() && !root.join("w.json").exists());
    std::fs::remove_dir_all(root).ok();
}
