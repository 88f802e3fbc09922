//! Gradients computed outside Burn's autodiff (a hand-written backward), added to the
//! `Gradients` of a `loss.backward()`.

use burn::module::{ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};

/// Adds `grad` (a tensor without autodiff, on the parameter's inner device) to the gradient of
/// `param` in `grads`.
pub fn accumulate<const D: usize>(param: &Tensor<D>, grads: &mut Gradients, grad: Tensor<D>) {
    let grad = match param.grad_remove(grads) {
        Some(previous) => previous + grad,
        None => grad,
    };
    param.grad_replace(grads, grad);
}

/// Moves every parameter's gradient from `from` into `into`, adding where both have one (a
/// [`ModuleVisitor`]: `model.visit(&mut Merge { from, into })`).
pub struct Merge<'a> {
    /// Gradients taken from.
    pub from: &'a mut Gradients,
    /// Gradients added to.
    pub into: &'a mut Gradients,
}

impl ModuleVisitor for Merge<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let p = param.val();
        if let Some(g) = p.grad_remove(self.from) {
            accumulate(&p, self.into, g);
        }
    }
}
