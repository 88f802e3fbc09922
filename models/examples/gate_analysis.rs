//! Read out a highway net's transform gates and lesion its layers one at a time with
//! `models::analysis` (*Training Very Deep Networks* Figures 2 and 4): a 10-layer highway MLP
//! trained for 300 Adam steps on MNIST (`bash scripts/fetch-data.sh mnist` first), then the
//! mean gate activity `T` of each layer on the test set and the test error with that layer
//! forced to carry (`T = 0`). A model of your own joins in by implementing
//! `models::analysis::GatedClassifier`.
//!
//! `cargo run --release -p models --features train --example gate_analysis`
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::train::TrainStep;
use datasets::{MnistDataset, MnistKind};
use models::analysis::{classifier_gate_report, classifier_lesion};
use models::train::{LabelledData, MnistData};
use models::{ClassBatch, DeepMlpConfig};

fn main() -> anyhow::Result<()> {
    let device = Device::default();
    let train = MnistData::new(MnistDataset::train(MnistKind::Mnist, None)?);
    let test = MnistData::new(MnistDataset::test(MnistKind::Mnist, None)?);

    // *Training Very Deep Networks* s3.1: 50 units per layer, b_T = −2 at init.
    let autodiff = device.clone().autodiff();
    autodiff.seed(1);
    let mut model = DeepMlpConfig::mnist_highway(10).init(&autodiff);
    let mut optim = AdamConfig::new().init();
    for step in 0..300 {
        let indices: Vec<usize> = (step * 100..(step + 1) * 100).collect();
        let (inputs, targets) = LabelledData::<2>::batch(&train, &indices, true, 0, &autodiff);
        let output = model.step(ClassBatch { inputs, targets });
        model = optim.step(1e-3, model, output.grads);
    }

    let model = model.valid();
    let gates = classifier_gate_report(&model, &test, 2000, 0, 500, &device)?;
    let lesion = classifier_lesion("b_T=-2", &model, &[("test", &test, 2000)], 500, &device)?;
    println!(
        "{:.1}% test error intact",
        100.0 * lesion.baseline[0].1.error
    );
    println!("layer  mean T  closed units  test error with the layer lesioned");
    for (i, row) in lesion.rows.iter().enumerate() {
        println!(
            "{:>5}  {:>6.3}  {:>11.0}%  {:.1}%",
            row.layer,
            gates.mean_per_layer[i],
            100.0 * gates.closed_fraction[i],
            100.0 * row.splits[0].1.error
        );
    }
    Ok(())
}
