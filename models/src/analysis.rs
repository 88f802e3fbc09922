//! Gate analysis and lesioning of trained highway nets: what the gates of a trained model do,
//! and which layers it can do without.
//!
//! *Training Very Deep Networks* (Srivastava, Greff & Schmidhuber, arXiv:1507.06228), s4:
//!
//! - Figure 2: the learned transform-gate bias `b_T` of every layer against its initial value,
//!   the mean transform-gate activity of every layer over a data split, and the activity of
//!   every unit for single examples ([`GateAccumulator`], [`bias_table`]);
//! - Figure 3: the mean gate activity of each class minus the mean over all examples;
//! - Figure 4: lesioning, i.e. forcing one layer's `T` to 0 (pure carry) and measuring loss and
//!   error ([`LesionReport`]).
//!
//! Greff, Srivastava & Schmidhuber, *Highway and Residual Networks learn Unrolled Iterative
//! Estimation* (arXiv:1612.07771): the distance of each layer's output from the stack's final
//! output ([`GateReport::distance_to_output`]), which shrinks gradually if the layers refine
//! one estimate.
//!
//! The zoo's classifiers ([`DeepMlp`](crate::DeepMlp), [`MnistConvNet`](crate::MnistConvNet),
//! [`CifarNet`](crate::CifarNet)) share one read-out and one lesion path through
//! [`GatedClassifier`] ([`classifier_gate_report`], [`classifier_lesion`]); a model of one's own
//! joins them by implementing that trait. The convolutional nets are read out per layer, as the
//! mean over channels and positions. For the RHN of Zilly et al. (arXiv:1607.03474) the same
//! read-outs run per micro-layer ([`rhn_gate_report`], [`rhn_lesion`]), and for the
//! character-aware language model of Kim et al. (arXiv:1508.06615) per highway layer, with the
//! nearest neighbours of its Table 6 ([`char_cnn_gate_report`], [`char_cnn_lesion`],
//! [`nearest_neighbours`]).
//!
//! The statistics are accumulated on the host from per-batch read-outs, so the arithmetic is
//! plain Rust that the tests check on hand-made inputs; the gate, lesion and RHN reports write
//! themselves as CSV.
//! The `gates` and `lesion` commands of the `experiments` crate run these on trained runs and
//! draw the figures.
//!
//! ```
//! use models::analysis::{GateAccumulator, LossErrorSum};
//!
//! // One batch of two examples, one gated layer of two units (labels 0 and 1 of 2 classes).
//! let mut gates = GateAccumulator::new(1, 2, 2, 0);
//! let outputs = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]; // the stack's input, then its output
//! gates.add(&[0.25, 0.75, 0.0, 0.5], &[0, 1], &outputs)?;
//! let report = gates.finish(2)?;
//! assert_eq!(report.mean_per_layer, vec![0.375]);
//! assert_eq!(report.class_deviation, vec![vec![0.125], vec![-0.125]]);
//!
//! // Loss and error of logits against labels: the second row is misclassified.
//! let mut sum = LossErrorSum::default();
//! sum.add(&[2.0, 0.0, 2.0, 0.0], &[0, 1])?;
//! assert_eq!(sum.finish().error, 0.5);
//! # Ok::<(), anyhow::Error>(())
//! ```

use burn::tensor::Tensor;

mod classifiers;
mod gate_stats;
mod lesion;
mod lm;

pub use classifiers::{
    GatedClassifier, cifar_forward, cifar_stage_depths, classifier_gate_report, classifier_lesion,
    conv_forward, conv_stage_depths, mlp_bias_table,
};
pub use gate_stats::{ExampleGates, GateAccumulator, GateReport, LayerBias, bias_csv, bias_table};
pub use lesion::{LesionReport, LesionRow, LossError, LossErrorSum};
pub use lm::{
    CharCnnGateReport, Neighbours, RhnGateReport, TABLE6_WORDS, char_cnn_gate_report,
    char_cnn_lesion, lm_lesion, nearest_neighbours, neighbours_table, ptb_spelling,
    rhn_gate_report, rhn_lesion, stream_loss,
};

/// A tensor's values on the host, as `f32`.
fn host<const D: usize>(t: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a tensor back to the host: {e:?}"))
}

/// A CSV of `rows` of values (5 decimals) in `columns`, each row led by its key (the first
/// `key_columns`, named in the header).
fn values_csv(
    key_columns: &str,
    columns: impl Iterator<Item = String>,
    keys: impl Iterator<Item = String>,
    rows: &[Vec<f64>],
) -> String {
    let mut out: String = std::iter::once(key_columns.to_string())
        .chain(columns)
        .collect::<Vec<_>>()
        .join(",");
    for (key, row) in keys.zip(rows) {
        out.push('\n');
        out.push_str(&key);
        for v in row {
            out.push_str(&format!(",{v:.5}"));
        }
    }
    out + "\n"
}
