//! Progress output. When stdout is a terminal, Burn's terminal dashboard (`burn-train`'s TUI:
//! live loss and validation plots, progress bars; `q` stops the run); otherwise one clean line
//! per epoch. `HIGHWAY_ZOO_TUI=0` turns the dashboard off on a terminal (plain lines with an
//! in-place progress line within each epoch).

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use burn::train::Interrupter;
use burn::train::logger::TrainingProgressLogger;
use burn::train::metric::{
    MetricAttributes, MetricDefinition, MetricEntry, MetricId, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use burn::train::renderer::tui::TuiMetricsRendererWrapper;
use burn::train::renderer::{MetricState, MetricsRenderer, MetricsRendererTraining};

/// The environment variable that turns the dashboard off (`0`) on a terminal.
pub const TUI_ENV: &str = "HIGHWAY_ZOO_TUI";

/// Prints training progress (see the [module docs](self)).
pub struct Progress {
    label: String,
    quiet: bool,
    terminal: bool,
    last_draw: Instant,
    dashboard: Option<Dashboard>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("label", &self.label)
            .field("quiet", &self.quiet)
            .field("dashboard", &self.dashboard.is_some())
            .finish()
    }
}

/// Burn's TUI renderer, fed by hand from our training loops.
struct Dashboard {
    renderer: TuiMetricsRendererWrapper,
    registered: HashSet<String>,
    epoch: usize,
}

/// Which curve a dashboard metric belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Train,
    Valid,
}

impl Dashboard {
    fn new() -> Self {
        Self {
            renderer: TuiMetricsRendererWrapper::new(Interrupter::new(), None),
            registered: HashSet::new(),
            epoch: 0,
        }
    }

    fn metric(&mut self, split: Split, name: &str, value: f64, higher_is_better: bool) {
        let id = MetricId::new(Arc::new(name.to_string()));
        if !self.registered.contains(name) {
            self.registered.insert(name.to_string());
            self.renderer.register_metric(MetricDefinition {
                metric_id: id.clone(),
                name: Arc::new(name.to_string()),
                description: None,
                attributes: MetricAttributes::Numeric(NumericAttributes {
                    unit: None,
                    higher_is_better,
                }),
            });
        }
        let entry = MetricEntry::new(
            id,
            SerializedEntry {
                formatted: format!("{value:.4}"),
                serialized: value.to_string(),
            },
        );
        let state = MetricState::Numeric(entry, Some(NumericEntry::Value(value)));
        match split {
            Split::Train => self.renderer.update_train(state),
            Split::Valid => self.renderer.update_valid(state),
        }
    }
}

impl Progress {
    /// A printer for the run called `label`; `quiet` prints nothing. Opens the dashboard when
    /// stdout is a terminal, `quiet` is off and `HIGHWAY_ZOO_TUI` is not `0`.
    pub fn new(label: impl Into<String>, quiet: bool) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let wanted = std::env::var(TUI_ENV).map(|v| v != "0").unwrap_or(true);
        Self {
            label: label.into(),
            quiet,
            terminal,
            last_draw: Instant::now(),
            dashboard: (terminal && !quiet && wanted).then(Dashboard::new),
        }
    }

    /// Whether the terminal dashboard is showing.
    pub fn has_dashboard(&self) -> bool {
        self.dashboard.is_some()
    }

    /// Within an epoch (1-based `epoch` and `step`): the dashboard's progress bars and training
    /// loss curve, or `[label] epoch e/E  step i/n  loss x` redrawn in place on a terminal (at
    /// most 10 times a second).
    pub fn step(&mut self, epoch: usize, epochs: usize, step: usize, steps: usize, loss: f64) {
        if let Some(d) = &mut self.dashboard {
            if d.epoch != epoch {
                if d.epoch == 0 {
                    d.renderer
                        .start(epochs, epoch - 1, None, Some(self.label.as_str()));
                }
                d.epoch = epoch;
                d.renderer.update_epoch(epoch - 1);
                d.renderer.start_split("train", steps);
            }
            d.renderer.update_split(step);
            d.metric(Split::Train, "Loss", loss, false);
            return;
        }
        if self.quiet || !self.terminal || self.last_draw.elapsed().as_millis() < 100 {
            return;
        }
        self.last_draw = Instant::now();
        print!(
            "\r[{}] epoch {epoch}/{epochs}  step {step}/{steps}  loss {loss:.4}   ",
            self.label
        );
        std::io::stdout().flush().ok();
    }

    /// Validation metrics of the epoch just finished, as `(name, value, higher_is_better)`:
    /// the dashboard's validation curves (the epoch line printed by [`epoch`](Self::epoch)
    /// carries them otherwise).
    pub fn valid<S: AsRef<str>>(&mut self, metrics: &[(S, f64, bool)]) {
        if let Some(d) = &mut self.dashboard {
            for (name, value, higher_is_better) in metrics {
                d.metric(Split::Valid, name.as_ref(), *value, *higher_is_better);
            }
        }
    }

    /// A training-side dashboard metric other than the loss (e.g. the learning rate); nothing
    /// without the dashboard.
    pub fn train_metric(&mut self, name: &str, value: f64) {
        if let Some(d) = &mut self.dashboard {
            d.metric(Split::Train, name, value, false);
        }
    }

    /// One line for a finished epoch.
    pub fn epoch(&mut self, line: &str) {
        if let Some(d) = &mut self.dashboard {
            d.renderer.end_split();
            d.renderer.log_event_training(line.to_string());
            return;
        }
        if self.quiet {
            return;
        }
        if self.terminal {
            print!("\r\x1b[2K");
        }
        println!("[{}] {line}", self.label);
    }

    /// A message line.
    pub fn message(&mut self, line: &str) {
        if let Some(d) = &mut self.dashboard {
            d.renderer.log_event_training(line.to_string());
        } else if !self.quiet {
            println!("[{}] {line}", self.label);
        }
    }

    /// Closes the dashboard (restoring the terminal), so that what follows prints normally;
    /// also done on drop.
    pub fn finish(&mut self) {
        if let Some(mut d) = self.dashboard.take() {
            d.renderer.on_train_end(None).ok();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_dashboard_when_quiet_or_not_a_terminal() {
        // Test harness output is captured (not a terminal), and quiet never opens it.
        let p = Progress::new("t", true);
        assert!(!p.has_dashboard());
        let mut p = Progress::new("t", false);
        assert_eq!(p.has_dashboard(), std::io::stdout().is_terminal());
        p.finish();
        assert!(!p.has_dashboard());
    }
}
