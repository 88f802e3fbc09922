//! Gate analysis and lesioning of trained highway nets.
//!
//! *Training Very Deep Networks* (Srivastava, Greff & Schmidhuber, arXiv:1507.06228), s4:
//!
//! - Figure 2: the learned transform-gate bias `b_T` of every layer against its initial value,
//!   the mean transform-gate activity of every layer over a data split, and the activity of
//!   every unit for single examples;
//! - Figure 3: the mean gate activity of each class minus the mean over all examples;
//! - Figure 4: lesioning, i.e. forcing one layer's `T` to 0 (pure carry) and measuring loss and
//!   error on the training and test sets.
//!
//! Greff, Srivastava & Schmidhuber, *Highway and Residual Networks learn Unrolled Iterative
//! Estimation* (arXiv:1612.07771): the distance of each layer's output from the stack's final
//! output, which shrinks gradually if the layers refine one estimate.
//!
//! The convolutional nets (`mnist-conv`, and the CIFAR nets of Tables 2-3 trained by `cifar`)
//! are read out per layer: the mean over channels and positions (see [`conv_gate_report`],
//! [`cifar_gate_report`], [`cifar_lesion`]).
//!
//! For the RHN of Zilly et al. (arXiv:1607.03474) the same read-outs run per micro-layer (see
//! [`rhn_gate_report`] and [`rhn_lesion`]), and for the character-aware language model of Kim
//! et al. (arXiv:1508.06615) per highway layer, with the nearest neighbours of its Table 6
//! ([`char_cnn_gate_report`], [`char_cnn_lesion`], [`nearest_neighbours`]).
//!
//! The statistics are accumulated on the host from per-batch read-outs, so the arithmetic is
//! plain Rust that the tests check on hand-made inputs.
//!
//! One file per part: [`runs`] loads trained runs, [`gate_stats`] and [`lesion`] hold the
//! statistics and lesions of the MLPs, [`conv`], [`cifar`], [`rhn`] and [`char_cnn`] those of
//! the other nets, [`report`] writes the tables and figures, and [`gates_cli`] and
//! [`lesion_cli`] are the `gates` and `lesion` commands. Everything public is re-exported here.

use anyhow::Context;
use burn::tensor::Tensor;

use models::train::MnistData;

pub mod char_cnn;
pub mod cifar;
pub mod conv;
pub mod gate_stats;
pub mod gates_cli;
pub mod lesion;
pub mod lesion_cli;
pub mod report;
pub mod rhn;
pub mod runs;

pub use char_cnn::{
    CharCnnGateReport, Neighbours, TABLE6_WORDS, char_cnn_gate_report, char_cnn_lesion,
    load_char_cnn_run, nearest_neighbours, neighbours_table, ptb_spelling,
};
pub use cifar::{
    cifar_forward, cifar_gate_report, cifar_lesion, cifar_run_splits, cifar_stage_depths,
    load_cifar_run,
};
pub use conv::{conv_forward, conv_gate_report, conv_lesion, conv_stage_depths, stage_depths};
pub use gate_stats::{
    ExampleGates, GateAccumulator, GateReport, LayerBias, bias_table, mlp_gate_report,
};
pub use gates_cli::{EvalSplit, GatesArgs, run_gates};
pub use lesion::{LesionReport, LesionRow, LossError, LossErrorSum, mlp_lesion, mlp_lesion_split};
pub use lesion_cli::{LesionArgs, run_lesion};
pub use report::{
    bias_csv, bias_label, class_heatmap, example_heatmap, lesion_summary, lm_lesion_table,
    mlp_gate_plots, plot_lesions, ranges, rhn_time_plot, stage_table, write_text,
};
pub use rhn::{RhnGateReport, lm_lesion, rhn_gate_report, rhn_lesion, rhn_loss, stream_loss};
pub use runs::{
    LoadedRun, NetArgs, load_conv_run, load_mlp_run, load_rhn_run, load_run, resolve_run_dir,
    run_config,
};

/// A tensor's values on the host, as `f32`.
fn host<const D: usize>(t: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a tensor back to the host: {e:?}"))
}

/// The labels of MNIST items `indices`, as class indices.
fn labels_of(data: &MnistData, indices: &[usize]) -> anyhow::Result<Vec<usize>> {
    indices
        .iter()
        .map(|&i| {
            data.data
                .label(i)
                .map(|l| l as usize)
                .with_context(|| format!("MNIST index {i} out of range"))
        })
        .collect()
}
