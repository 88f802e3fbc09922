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
//! The classifiers (the `mnist-depth` MLPs, `mnist-conv`, and the CIFAR nets of Tables 2-3
//! trained by `cifar`) share one read-out and one lesion path ([`GatedClassifier`],
//! [`classifier_gate_report`], [`classifier_lesion`]); the convolutional nets are read out per
//! layer, as the mean over channels and positions.
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
//! statistics and lesion tables, [`classifiers`] and [`lm`] read out and lesion the classifiers
//! and the language models, [`report`] writes the tables and figures, and [`commands`] holds
//! the `gates` and `lesion` commands. Everything public is re-exported here.

use burn::tensor::Tensor;

pub mod classifiers;
pub mod commands;
pub mod gate_stats;
pub mod lesion;
pub mod lm;
pub mod report;
pub mod runs;

pub use classifiers::{
    GatedClassifier, cifar_forward, cifar_stage_depths, classifier_gate_report, classifier_lesion,
    conv_forward, conv_stage_depths,
};
pub use commands::{EvalSplit, GatesArgs, LesionArgs, run_gates, run_lesion};
pub use gate_stats::{ExampleGates, GateAccumulator, GateReport, LayerBias, bias_table};
pub use lesion::{LesionReport, LesionRow, LossError, LossErrorSum};
pub use lm::{
    CharCnnGateReport, Neighbours, RhnGateReport, TABLE6_WORDS, char_cnn_gate_report,
    char_cnn_lesion, lm_lesion, load_char_cnn_run, nearest_neighbours, neighbours_table,
    ptb_spelling, rhn_gate_report, rhn_lesion, stream_loss,
};
pub use report::{
    bias_csv, bias_label, class_heatmap, example_heatmap, lesion_summary, lm_lesion_table,
    mlp_gate_plots, plot_lesions, ranges, rhn_time_plot, stage_table, write_text,
};
pub use runs::{
    LoadedRun, NetArgs, cifar_run_splits, load_cifar_run, load_conv_run, load_mlp_run,
    load_rhn_run, load_run, resolve_run_dir, run_config,
};

/// A tensor's values on the host, as `f32`.
fn host<const D: usize>(t: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a tensor back to the host: {e:?}"))
}
