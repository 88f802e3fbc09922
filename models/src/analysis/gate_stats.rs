//! Gate statistics of a trained highway net (*Training Very Deep Networks* Figures 2 and 3;
//! Greff et al.'s layer-output distances): learned transform-gate biases, mean activity per
//! layer, unit and class, and the distance of each layer's output from the final one,
//! accumulated on the host from per-batch read-outs.

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::values_csv;

/// The transform-gate biases of one layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerBias {
    /// Layer number in the network (the plain input layer is 1, highway layers 2..depth).
    pub layer: usize,
    /// Initial value of every bias.
    pub initial: f64,
    /// Mean learned bias.
    pub mean: f64,
    /// Smallest learned bias.
    pub min: f64,
    /// Largest learned bias.
    pub max: f64,
    /// Every unit's learned bias.
    pub units: Vec<f64>,
}

/// Summarises learned transform-gate biases (one `Vec` per layer, input side first) against
/// their common initial value; the first gated layer is network layer `first_layer`.
pub fn bias_table(biases: &[Vec<f32>], initial: f64, first_layer: usize) -> Vec<LayerBias> {
    biases
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let units: Vec<f64> = b.iter().map(|v| *v as f64).collect();
            LayerBias {
                layer: first_layer + i,
                initial,
                mean: units.iter().sum::<f64>() / units.len().max(1) as f64,
                min: units.iter().copied().fold(f64::INFINITY, f64::min),
                max: units.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                units,
            }
        })
        .collect()
}

/// The gate activity of every unit of every layer for one example.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExampleGates {
    /// Index in the split.
    pub index: usize,
    /// Its class.
    pub label: usize,
    /// `T` of every unit: `[layers][units]`.
    pub gates: Vec<Vec<f32>>,
}

/// Accumulates gate statistics over batches (see [`GateAccumulator::add`]).
#[derive(Debug, Clone)]
pub struct GateAccumulator {
    layers: usize,
    units: usize,
    n_classes: usize,
    keep_examples: usize,
    examples: usize,
    unit_sum: Vec<f64>,
    layer_sq_sum: Vec<f64>,
    class_sum: Vec<f64>,
    class_counts: Vec<usize>,
    dist_sum: Vec<f64>,
    final_norm_sum: f64,
    kept: Vec<ExampleGates>,
}

/// Gate statistics of a trained net over one data split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateReport {
    /// Gated layers.
    pub layers: usize,
    /// Units per layer.
    pub units: usize,
    /// Network layer number of the first gated layer.
    pub first_layer: usize,
    /// Examples seen.
    pub examples: usize,
    /// Mean transform-gate activity of each layer over examples and units (Figure 2).
    pub mean_per_layer: Vec<f64>,
    /// Standard deviation over examples of each layer's per-example mean activity.
    pub std_over_examples: Vec<f64>,
    /// Mean activity of every unit: `[layers][units]`.
    pub mean_per_unit: Vec<Vec<f64>>,
    /// Fraction of units per layer whose mean `T` is below 0.1 (the unit mostly carries).
    pub closed_fraction: Vec<f64>,
    /// Examples per class.
    pub class_counts: Vec<usize>,
    /// Per-class mean activity minus the overall mean: `[classes][layers]` (Figure 3).
    pub class_deviation: Vec<Vec<f64>>,
    /// Mean L2 distance of each layer's output from the stack's final output, the input of the
    /// stack first (`layers + 1` entries, the last 0): Greff et al. 2017.
    pub distance_to_output: Vec<f64>,
    /// `distance_to_output` divided by the mean L2 norm of the final output.
    pub relative_distance: Vec<f64>,
    /// The first examples' full gate activity (Figure 2, right).
    pub example_gates: Vec<ExampleGates>,
}

impl GateAccumulator {
    /// An empty accumulator for `layers` gated layers of `units` units and `n_classes` classes,
    /// keeping the full activity of the first `keep_examples` examples.
    pub fn new(layers: usize, units: usize, n_classes: usize, keep_examples: usize) -> Self {
        Self {
            layers,
            units,
            n_classes,
            keep_examples,
            examples: 0,
            unit_sum: vec![0.0; layers * units],
            layer_sq_sum: vec![0.0; layers],
            class_sum: vec![0.0; n_classes * layers],
            class_counts: vec![0; n_classes],
            dist_sum: vec![0.0; layers + 1],
            final_norm_sum: 0.0,
            kept: Vec::new(),
        }
    }

    /// Adds one batch.
    ///
    /// # Shapes
    ///
    /// - `gates`: `[batch, layers, units]`, row-major
    /// - `labels`: `[batch]`, each below `n_classes`
    /// - `outputs`: `[batch, layers + 1, units]`: the stack's input, then every layer's output
    pub fn add(&mut self, gates: &[f32], labels: &[usize], outputs: &[f32]) -> anyhow::Result<()> {
        let (l, d) = (self.layers, self.units);
        let batch = labels.len();
        if gates.len() != batch * l * d || outputs.len() != batch * (l + 1) * d {
            bail!(
                "gate statistics: a batch of {batch} needs {} gate and {} output values, got {} and {}",
                batch * l * d,
                batch * (l + 1) * d,
                gates.len(),
                outputs.len()
            );
        }
        for (b, &label) in labels.iter().enumerate() {
            if label >= self.n_classes {
                bail!(
                    "gate statistics: label {label} is not below {}",
                    self.n_classes
                );
            }
            let g = &gates[b * l * d..(b + 1) * l * d];
            for layer in 0..l {
                let row = &g[layer * d..(layer + 1) * d];
                let mut m = 0.0;
                for (u, v) in row.iter().enumerate() {
                    self.unit_sum[layer * d + u] += *v as f64;
                    m += *v as f64;
                }
                m /= d as f64;
                self.layer_sq_sum[layer] += m * m;
                self.class_sum[label * l + layer] += m;
            }
            self.class_counts[label] += 1;
            let o = &outputs[b * (l + 1) * d..(b + 1) * (l + 1) * d];
            let last = &o[l * d..];
            self.final_norm_sum += last.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            for k in 0..=l {
                let dist: f64 = o[k * d..(k + 1) * d]
                    .iter()
                    .zip(last)
                    .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                    .sum();
                self.dist_sum[k] += dist.sqrt();
            }
            if self.kept.len() < self.keep_examples {
                self.kept.push(ExampleGates {
                    index: self.examples,
                    label,
                    gates: g.chunks(d).map(|r| r.to_vec()).collect(),
                });
            }
            self.examples += 1;
        }
        Ok(())
    }

    /// The statistics; `first_layer` is the network layer number of the first gated layer.
    pub fn finish(self, first_layer: usize) -> anyhow::Result<GateReport> {
        let (l, d) = (self.layers, self.units);
        let n = self.examples;
        if n == 0 {
            bail!("gate statistics: no examples");
        }
        let mean_per_unit: Vec<Vec<f64>> = self
            .unit_sum
            .chunks(d)
            .map(|r| r.iter().map(|s| s / n as f64).collect())
            .collect();
        let mean_per_layer: Vec<f64> = mean_per_unit
            .iter()
            .map(|r| r.iter().sum::<f64>() / d as f64)
            .collect();
        let std_over_examples = (0..l)
            .map(|i| {
                (self.layer_sq_sum[i] / n as f64 - mean_per_layer[i].powi(2))
                    .max(0.0)
                    .sqrt()
            })
            .collect();
        let closed_fraction = mean_per_unit
            .iter()
            .map(|r| r.iter().filter(|m| **m < 0.1).count() as f64 / d as f64)
            .collect();
        let class_deviation = (0..self.n_classes)
            .map(|c| {
                (0..l)
                    .map(|i| match self.class_counts[c] {
                        0 => 0.0,
                        k => self.class_sum[c * l + i] / k as f64 - mean_per_layer[i],
                    })
                    .collect()
            })
            .collect();
        let distance_to_output: Vec<f64> = self.dist_sum.iter().map(|s| s / n as f64).collect();
        let norm = self.final_norm_sum / n as f64;
        let relative_distance = distance_to_output
            .iter()
            .map(|v| if norm > 0.0 { v / norm } else { 0.0 })
            .collect();
        Ok(GateReport {
            layers: l,
            units: d,
            first_layer,
            examples: n,
            mean_per_layer,
            std_over_examples,
            mean_per_unit,
            closed_fraction,
            class_counts: self.class_counts,
            class_deviation,
            distance_to_output,
            relative_distance,
            example_gates: self.kept,
        })
    }
}

/// CSV of the learned biases: `layer,initial,mean,min,max`.
pub fn bias_csv(biases: &[LayerBias]) -> String {
    let mut out = String::from("layer,initial,mean,min,max\n");
    for b in biases {
        out.push_str(&format!(
            "{},{},{:.5},{:.5},{:.5}\n",
            b.layer, b.initial, b.mean, b.min, b.max
        ));
    }
    out
}

impl GateReport {
    /// Per-layer CSV: `layer,mean_t,std_over_examples,closed_fraction,distance_to_output,
    /// relative_distance`; the stack input is layer `first_layer − 1` (no gate).
    pub fn layer_csv(&self) -> String {
        let mut out = String::from(
            "layer,mean_t,std_over_examples,closed_fraction,distance_to_output,relative_distance\n",
        );
        out.push_str(&format!(
            "{},,,,{:.5},{:.5}\n",
            self.first_layer - 1,
            self.distance_to_output[0],
            self.relative_distance[0]
        ));
        for i in 0..self.layers {
            out.push_str(&format!(
                "{},{:.5},{:.5},{:.4},{:.5},{:.5}\n",
                self.first_layer + i,
                self.mean_per_layer[i],
                self.std_over_examples[i],
                self.closed_fraction[i],
                self.distance_to_output[i + 1],
                self.relative_distance[i + 1]
            ));
        }
        out
    }

    /// Per-class CSV: `class,count,<deviation of each layer>`.
    pub fn class_csv(&self) -> String {
        let columns = (0..self.layers).map(|i| format!("layer{}", self.first_layer + i));
        let keys = self.class_counts.iter().enumerate();
        values_csv(
            "class,count",
            columns,
            keys.map(|(c, n)| format!("{c},{n}")),
            &self.class_deviation,
        )
    }
}
