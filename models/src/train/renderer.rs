//! How a run shows its progress through burn-train's renderer hook
//! (`SupervisedTraining::renderer`): Burn's terminal dashboard (the TUI: live loss, accuracy
//! and learning-rate curves, progress bars; `q` stops; feature `tui`) when stdout is a terminal, else
//! [`EpochLines`], one clean line per epoch (Burn's own CLI renderer prints a debug dump per
//! item). `HIGHWAY_ZOO_TUI=0` keeps plain lines on a terminal; `quiet` prints nothing.

use burn::train::Interrupter;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// The environment variable that turns the dashboard off (`0`) on a terminal.
pub const TUI_ENV: &str = "HIGHWAY_ZOO_TUI";

/// The renderer for a run called `label` whose validation split is `valid_name` (see the
/// [module docs](self)); `checkpoint` is the epoch a resumed run starts after, for the
/// dashboard's progress.
pub fn renderer(
    label: &str,
    valid_name: &str,
    quiet: bool,
    interrupter: Interrupter,
    checkpoint: Option<usize>,
) -> Box<dyn MetricsRenderer> {
    #[cfg(feature = "tui")]
    {
        use std::io::IsTerminal;
        let wanted = std::env::var(TUI_ENV).map(|v| v != "0").unwrap_or(true);
        if !quiet && wanted && std::io::stdout().is_terminal() {
            return Box::new(burn::train::renderer::tui::TuiMetricsRendererWrapper::new(
                interrupter,
                checkpoint,
            ));
        }
    }
    #[cfg(not(feature = "tui"))]
    let _ = (interrupter, checkpoint);
    Box::new(EpochLines::new(label, valid_name, quiet))
}

/// One line per epoch with the epoch's final value of every numeric metric, training then
/// validation: `[label] epoch 3/10  train Loss 0.1234 Accuracy 96.10 LearningRate 0.0100  test
/// Loss 0.1100 Accuracy 96.70`.
#[derive(Debug)]
pub struct EpochLines {
    label: String,
    valid_name: String,
    quiet: bool,
    total_epochs: usize,
    names: Vec<(MetricId, String)>,
    train: Vec<(String, f64)>,
    valid: Vec<(String, f64)>,
    /// The lines kept instead of printed (tests).
    #[cfg(test)]
    kept: Vec<String>,
}

impl EpochLines {
    /// Lines for the run `label` with the validation split `valid_name`; `quiet` prints none.
    pub fn new(label: &str, valid_name: &str, quiet: bool) -> Self {
        Self {
            label: label.to_string(),
            valid_name: valid_name.to_string(),
            quiet,
            total_epochs: 0,
            names: Vec::new(),
            train: Vec::new(),
            valid: Vec::new(),
            #[cfg(test)]
            kept: Vec::new(),
        }
    }

    fn keep(&mut self, valid: bool, state: MetricState) {
        let MetricState::Numeric(entry, Some(NumericEntry::Final(value))) = state else {
            return;
        };
        let name = self
            .names
            .iter()
            .find(|(id, _)| *id == entry.metric_id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("{:?}", entry.metric_id));
        let list = if valid {
            &mut self.valid
        } else {
            &mut self.train
        };
        match list.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => list.push((name, value)),
        }
    }

    fn line(&mut self, text: String) {
        #[cfg(test)]
        self.kept.push(text.clone());
        if !self.quiet {
            println!("{text}");
        }
    }
}

fn format_metrics(metrics: &[(String, f64)]) -> String {
    metrics
        .iter()
        .map(|(name, v)| {
            let name = name.replace(' ', "");
            match v.abs() {
                a if a >= 10.0 => format!(" {name} {v:.2}"),
                a if a >= 1e-3 || a == 0.0 => format!(" {name} {v:.4}"),
                _ => format!(" {name} {v:.3e}"),
            }
        })
        .collect()
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, state: MetricState) {
        self.keep(false, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.keep(true, state);
    }
}

impl TrainingProgressLogger for EpochLines {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        if starting_epoch > 1 {
            let text = format!("[{}] resuming at epoch {starting_epoch}", self.label);
            self.line(text);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        let mut text = format!("[{}] epoch {epoch}/{} ", self.label, self.total_epochs);
        text.push_str(&format!(" train{}", format_metrics(&self.train)));
        if !self.valid.is_empty() {
            text.push_str(&format!(
                "  {}{}",
                self.valid_name,
                format_metrics(&self.valid)
            ));
        }
        self.train.clear();
        self.valid.clear();
        self.line(text);
    }

    fn start_split(&mut self, _split: &str, _total_items: usize) {}

    fn update_split(&mut self, _items_processed: usize) {}

    fn end_split(&mut self) {}

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, _name: &str, _total_items: usize) {}

    fn update_test_progress(&mut self, _items_processed: usize) {}

    fn end_test(&mut self) {}

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        if !self.names.iter().any(|(id, _)| *id == definition.metric_id) {
            self.names
                .push((definition.metric_id, definition.name.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::train::metric::{MetricAttributes, MetricEntry, NumericAttributes, SerializedEntry};
    use std::sync::Arc;

    fn define(r: &mut EpochLines, name: &str) -> MetricId {
        let id = MetricId::new(Arc::new(name.to_string()));
        r.register_metric(MetricDefinition {
            metric_id: id.clone(),
            name: Arc::new(name.to_string()),
            description: None,
            attributes: MetricAttributes::Numeric(NumericAttributes::default()),
        });
        id
    }

    fn state(id: &MetricId, entry: NumericEntry) -> MetricState {
        let e = MetricEntry::new(
            id.clone(),
            SerializedEntry::new(String::new(), String::new()),
        );
        MetricState::Numeric(e, Some(entry))
    }

    #[test]
    fn one_line_per_epoch_with_the_final_values_only() {
        let mut r = EpochLines::new("run", "test", true);
        let loss = define(&mut r, "Loss");
        let acc = define(&mut r, "Accuracy");
        r.start(2, 1, None, None);
        r.update_train(state(&loss, NumericEntry::Value(9.0)));
        r.update_train(state(&loss, NumericEntry::Final(0.25)));
        r.update_train(state(&acc, NumericEntry::Final(91.234)));
        r.update_valid(state(&loss, NumericEntry::Final(0.0001234)));
        r.update_epoch(1);
        r.start(2, 2, None, None);
        assert_eq!(
            r.kept,
            [
                "[run] epoch 1/2  train Loss 0.2500 Accuracy 91.23  test Loss 1.234e-4",
                "[run] resuming at epoch 2",
            ]
        );
    }
}
