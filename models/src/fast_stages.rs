//! The conv nets' highway and plain stages on the CPU fast path during training
//! ([`LayerStack::forward_deferred`](highway_core::LayerStack::forward_deferred)): each
//! stage's tape is kept while the net runs forward and completed, last stage first, after
//! `loss.backward()`, so that the gradient of every stage's output flows on into the stages and
//! layers before it. On other devices the stages run under autodiff and no tape is kept.

use burn::module::Module;
use burn::tensor::{Gradients, Tensor};
use highway_core::ConvStackTape;

use crate::ConvStage;

/// The tapes of a net's deferred highway stages, by stage index.
#[derive(Debug, Default)]
pub struct StageTapes {
    tapes: Vec<(usize, ConvStackTape)>,
}

impl StageTapes {
    /// Runs `net`, which applies each stage through the function it is given, with the stages
    /// on the fast path; returns its output and the stages' tapes.
    pub fn record<T>(
        net: impl FnOnce(&mut dyn FnMut(usize, &ConvStage, Tensor<4>) -> Tensor<4>) -> T,
    ) -> (T, Self) {
        let mut tapes = Self::default();
        let out = net(&mut |i, stage, z| tapes.forward(i, stage, z));
        (out, tapes)
    }

    /// Applies stage `index` as [`ConvStage::forward`] does, on the fast path where it applies;
    /// its tape is kept.
    ///
    /// # Shapes
    ///
    /// - input and output: `[batch, width, h, w]`
    pub fn forward(&mut self, index: usize, stage: &ConvStage, x: Tensor<4>) -> Tensor<4> {
        let (y, tape) = match stage {
            ConvStage::Highway(s) => s.forward_deferred(x),
            ConvStage::Plain(s) => s.forward_deferred(x),
        };
        if !tape.is_empty() {
            self.tapes.push((index, tape));
        }
        y
    }

    /// Whether no stage ran on the fast path.
    pub fn is_empty(&self) -> bool {
        self.tapes.is_empty()
    }

    /// Back-propagates through the recorded stages, last first, adding their gradients and
    /// those of everything before them to `grads` (the gradients of `loss.backward()`).
    /// `stages` are the net's stages and `model` the whole net.
    pub fn complete<M: Module>(self, stages: &[ConvStage], model: &M, grads: &mut Gradients) {
        let mut later: Option<Gradients> = None;
        for (index, tape) in self.tapes.into_iter().rev() {
            later = match &stages[index] {
                ConvStage::Highway(stack) => {
                    tape.complete_after(stack, model, grads, later.as_mut())
                }
                ConvStage::Plain(stack) => tape.complete_after(stack, model, grads, later.as_mut()),
            };
        }
    }
}
