//! Progress output: one clean line per epoch, and an in-place progress line within the epoch
//! when stdout is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Prints training progress.
#[derive(Debug)]
pub struct Progress {
    label: String,
    quiet: bool,
    terminal: bool,
    last_draw: Instant,
}

impl Progress {
    /// A printer for the run called `label`; `quiet` prints nothing.
    pub fn new(label: impl Into<String>, quiet: bool) -> Self {
        Self {
            label: label.into(),
            quiet,
            terminal: std::io::stdout().is_terminal(),
            last_draw: Instant::now(),
        }
    }

    /// Within an epoch: redraws `[label] epoch e/E  step i/n  loss x` in place (terminal only,
    /// at most 10 times a second).
    pub fn step(&mut self, epoch: usize, epochs: usize, step: usize, steps: usize, loss: f64) {
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

    /// One line for a finished epoch.
    pub fn epoch(&mut self, line: &str) {
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
        if !self.quiet {
            println!("[{}] {line}", self.label);
        }
    }
}
