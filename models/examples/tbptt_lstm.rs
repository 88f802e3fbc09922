//! Burn's own `Lstm` as a word-level Penn Treebank language model, trained with truncated
//! back-propagation through time by `models::train` (the state carried from window to window,
//! a checkpoint set per epoch). Killed and run again with the same arguments, it resumes from
//! its newest checkpoint to the same result as an uninterrupted run.
//!
//! ```sh
//! bash scripts/fetch-data.sh ptb
//! cargo run --release -p models --features train --example tbptt_lstm -- runs/lstm 6
//! ```
//! Arguments: run directory, epochs, windows per epoch (0, the default: all).
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, Lstm, LstmConfig, LstmState};
use burn::prelude::*;
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use datasets::{PtbCorpus, PtbSplit};
use models::train::{Devices, FitOptions, RunDir, Solver, fit_tbptt};
use models::{LmOutput, LmWindow, token_loss};

type Window = LmWindow<LstmState<2>>;

#[derive(Module, Debug)]
struct WordLstm {
    embed: Embedding,
    lstm: Lstm,
    out: Linear,
}

impl InferenceStep for WordLstm {
    type Input = Window;
    type Output = LmOutput<LstmState<2>>;
    /// Mean loss per token of one window from its carried state; the final state, detached.
    fn step(&self, w: Window) -> Self::Output {
        let [batch, seq_len] = w.tokens.dims();
        let (h, s) = self.lstm.forward(self.embed.forward(w.tokens), w.state);
        let loss = token_loss(self.out.forward(h), w.targets);
        let state = LstmState::new(s.cell.detach(), s.hidden.detach());
        LmOutput::new(loss, batch * seq_len, Some(state))
    }
}

impl TrainStep for WordLstm {
    type Input = Window;
    type Output = LmOutput<LstmState<2>>;
    fn step(&self, w: Window) -> TrainOutput<Self::Output> {
        let out = InferenceStep::step(self, w);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).map_or(default, |a| a.as_str()).to_string();
    let (dir, epochs) = (arg(0, "runs/lstm"), arg(1, "6").parse()?);
    let windows = arg(2, "0").parse()?;
    let ptb = PtbCorpus::load(None)?;
    let train = ptb.bptt(PtbSplit::Train, 20, 35)?;
    let valid = ptb.bptt(PtbSplit::Valid, 20, 35)?;
    let (device, vocab, d) = (Device::default().autodiff(), ptb.vocab.len(), 200);
    device.seed(1);
    let model = WordLstm {
        embed: EmbeddingConfig::new(vocab, d).init(&device),
        lstm: LstmConfig::new(d, d, true).init(&device),
        out: LinearConfig::new(d, vocab).init(&device),
    };
    // PyTorch's word_language_model example: plain SGD at 20 on the mean loss, clipped at 0.25.
    let solver = Solver {
        clip_norm: 0.25,
        seed: 1,
        ..Solver::sgd(epochs, 20.0)
    };
    let (run, devices) = (RunDir::create(&dir)?, Devices::from(device));
    let options = FitOptions::resuming(&run, "lstm", false, &devices);
    let (_, history) = fit_tbptt(model, &train, &valid, windows, &solver, &options)?;
    let last = history.last().ok_or("no epoch")?;
    println!(
        "epoch {}: valid perplexity {:.1}",
        last.epoch,
        last.evals[0].loss.exp()
    );
    Ok(())
}
