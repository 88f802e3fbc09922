//! Train a zoo model with a plain burn-train set-up, as Burn's own `examples/mnist` does: a
//! 20-layer highway MLP on MNIST (`bash scripts/fetch-data.sh mnist` first), 2 epochs.
//!
//! `cargo run --release -p models --features train --example learner`
use burn::data::dataloader::{DataLoaderBuilder, batcher::Batcher};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{Learner, SupervisedTraining};
use datasets::{MnistBatcher, MnistDataset, MnistItem, MnistKind};
use models::{ClassBatch, DeepMlpConfig};

/// Our batcher: the `datasets` crate's MNIST batcher, into the zoo models' batch type.
#[derive(Clone, Default)]
struct Flat(MnistBatcher);

impl Batcher<MnistItem, ClassBatch<2>> for Flat {
    fn batch(&self, items: Vec<MnistItem>, device: &Device) -> ClassBatch<2> {
        let b = self.0.batch(items, device);
        ClassBatch {
            inputs: b.images,
            targets: b.targets,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::default().autodiff();
    let train = MnistDataset::train(MnistKind::Mnist, None)?;
    let test = MnistDataset::test(MnistKind::Mnist, None)?;
    let loader_train = DataLoaderBuilder::new(Flat::default())
        .batch_size(128)
        .shuffle(42)
        .build(train);
    let loader_test = DataLoaderBuilder::new(Flat::default())
        .batch_size(1000)
        .build(test);

    // *Training Very Deep Networks* s3.1: 50 units per layer, b_T = −2 at init.
    let model = DeepMlpConfig::mnist_highway(20).init(&device);
    let result = SupervisedTraining::new("/tmp/highway-zoo-learner", loader_train, loader_test)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .with_default_checkpointers()
        .num_epochs(2)
        .summary()
        .launch(Learner::new(model, AdamConfig::new().init(), 1e-3));
    if let Some(error) = result.error {
        return Err(error.to_string().into());
    }
    println!("trained: {} parameters", result.model.num_params());
    Ok(())
}
