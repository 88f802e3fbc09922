//! Optimisers and learning-rate schedules the papers use.
//!
//! - *Training Very Deep Networks*: SGD with momentum (MNIST depth study), Nesterov momentum
//!   0.9 with weight decay and step decay ×0.1 at iteration milestones (conv nets), exponential
//!   decay per epoch (random search).
//! - *Recurrent Highway Networks*: plain SGD with `lr = lr0 / decay^max(epoch − k, 0)`.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

/// An optimiser, as data (stored in `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay.
    Sgd {
        /// Momentum factor (0 for plain SGD).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty added to the gradient (`weight_decay · w`).
        weight_decay: f64,
    },
    /// Adam with default betas.
    Adam {
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
}

impl OptimizerConfig {
    /// Builds the Burn optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let mut config = SgdConfig::new();
                if momentum > 0.0 {
                    // PyTorch semantics: no dampening.
                    config = config.with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(momentum)
                            .with_dampening(0.0)
                            .with_nesterov(nesterov),
                    ));
                }
                if weight_decay > 0.0 {
                    config =
                        config.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)));
                }
                config.init()
            }
            OptimizerConfig::Adam { weight_decay } => {
                let mut config = AdamConfig::new();
                if weight_decay > 0.0 {
                    config =
                        config.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)));
                }
                config.init()
            }
        }
    }

    /// Checks the values, naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let (m, wd) = match *self {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                ..
            } => (momentum, weight_decay),
            OptimizerConfig::Adam { weight_decay } => (0.0, weight_decay),
        };
        if !(0.0..1.0).contains(&m) {
            return Err(format!("momentum must be in [0, 1), got {m}"));
        }
        if !(wd >= 0.0 && wd.is_finite()) {
            return Err(format!("weight_decay must be >= 0, got {wd}"));
        }
        Ok(())
    }
}

/// A learning-rate schedule, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// `lr0` throughout.
    Constant,
    /// `lr0 · gamma^epoch` (epochs 0-based).
    Exponential {
        /// Factor per epoch.
        gamma: f64,
    },
    /// `lr0 · factor^(number of milestones ≤ iteration)` (iterations 0-based).
    Step {
        /// Iterations at which the rate is multiplied by `factor`.
        milestones: Vec<usize>,
        /// The factor (0.1 in the papers).
        factor: f64,
    },
    /// The RHN code's `lr0 / decay^max(epoch − start, 0)`.
    InverseDecay {
        /// Divisor per epoch (1.02 for PTB, 1.03 for enwik8/text8).
        decay: f64,
        /// First epoch (0-based) whose rate is not yet decayed.
        start: usize,
    },
}

impl LrSchedule {
    /// The rate at `epoch` (0-based) and global `iteration` (0-based).
    pub fn lr(&self, lr0: f64, epoch: usize, iteration: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr0,
            LrSchedule::Exponential { gamma } => lr0 * gamma.powi(epoch as i32),
            LrSchedule::Step { milestones, factor } => {
                let passed = milestones.iter().filter(|m| **m <= iteration).count();
                lr0 * factor.powi(passed as i32)
            }
            LrSchedule::InverseDecay { decay, start } => {
                lr0 / decay.powi(epoch.saturating_sub(*start) as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(LrSchedule::Constant.lr(0.1, 7, 900), 0.1);
        let e = LrSchedule::Exponential { gamma: 0.5 };
        assert_eq!(e.lr(0.8, 0, 0), 0.8);
        assert_eq!(e.lr(0.8, 3, 0), 0.1);
        let s = LrSchedule::Step {
            milestones: vec![100, 150],
            factor: 0.1,
        };
        assert_eq!(s.lr(1.0, 0, 99), 1.0);
        assert!((s.lr(1.0, 0, 100) - 0.1).abs() < 1e-12);
        assert!((s.lr(1.0, 0, 175) - 0.01).abs() < 1e-12);
        let r = LrSchedule::InverseDecay {
            decay: 1.02,
            start: 19,
        };
        assert_eq!(r.lr(0.2, 19, 0), 0.2);
        assert!((r.lr(0.2, 21, 0) - 0.2 / 1.02f64.powi(2)).abs() < 1e-12);
    }

    #[test]
    fn configs_round_trip_and_validate() {
        let o = OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-3,
        };
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains("\"kind\":\"sgd\""), "{json}");
        assert_eq!(serde_json::from_str::<OptimizerConfig>(&json).unwrap(), o);
        let bad = OptimizerConfig::Sgd {
            momentum: 1.5,
            nesterov: false,
            weight_decay: 0.0,
        };
        assert!(bad.validate().unwrap_err().contains("momentum"));
    }
}
