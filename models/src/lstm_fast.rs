//! Burn's [`Lstm`] forward with fewer, larger matrix products: the same values and gradients.
//!
//! Hochreiter & Schmidhuber's LSTM as Burn 0.22.1 computes it (`Lstm::forward_iter`):
//!
//! ```text
//! i_t = σ(W_i x_t + b_i + U_i h_{t−1} + c_i)    (and f_t, o_t alike)
//! g_t = tanh(W_g x_t + b_g + U_g h_{t−1} + c_g)
//! c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t,   h_t = o_t ⊙ tanh(c_t)
//! ```
//!
//! Burn runs eight products of `[batch, ·]` rows per time step (an input and a hidden map per
//! gate) and writes each `h_t` into the output with a `slice_assign` that copies the whole
//! output under autodiff, `O(seq²)` per window. [`lstm_forward`] computes the input maps of
//! every time step in one product `[batch·seq, d_in] × [d_in, 4h]`, the four hidden maps in one
//! `[batch, h] × [h, 4h]` per step, and stacks the `h_t` once; it reads the same parameters
//! (the module and its records are Burn's). Burn's `Lstm::forward` stays the reference, and a
//! test keeps the two equal, values and gradients.

use burn::nn::{Lstm, LstmState};
use burn::tensor::Tensor;
use burn::tensor::module::linear;

/// Burn's `lstm.forward(x, state)`, computed as the [module docs](self) say; layers that are
/// not batch-first, run in reverse, couple the input and forget gates or clip the cell fall
/// back to Burn's own forward.
///
/// # Shapes
///
/// - `x`: `[batch, seq, d_input]`; `state`: cell and hidden `[batch, d_hidden]`
/// - output: `[batch, seq, d_hidden]` and the final state
pub fn lstm_forward(
    lstm: &Lstm,
    x: Tensor<3>,
    state: Option<LstmState<2>>,
) -> (Tensor<3>, LstmState<2>) {
    let forget = match &lstm.forget_gate {
        Some(f) if lstm.batch_first && !lstm.reverse && lstm.clip.is_none() => f,
        _ => return lstm.forward(x, state),
    };
    let gates = [&lstm.input_gate, forget, &lstm.output_gate, &lstm.cell_gate];
    let w_x = Tensor::cat(
        gates
            .iter()
            .map(|g| g.input_transform.weight.val())
            .collect(),
        1,
    );
    let w_h = Tensor::cat(
        gates
            .iter()
            .map(|g| g.hidden_transform.weight.val())
            .collect(),
        1,
    );
    let d = lstm.d_hidden;
    let device = x.device();
    let biases: Vec<Tensor<1>> = gates
        .iter()
        .map(|g| {
            let b = |l: &burn::nn::Linear| l.bias.as_ref().map(|b| b.val());
            match (b(&g.input_transform), b(&g.hidden_transform)) {
                (Some(a), Some(c)) => a + c,
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => Tensor::zeros([d], &device),
            }
        })
        .collect();
    let bias = Tensor::cat(biases, 0);
    let [batch, seq, d_in] = x.dims();
    let xw = linear(x.reshape([batch * seq, d_in]), w_x, Some(bias)).reshape([batch, seq, 4 * d]);
    let (mut c, mut h) = match state {
        Some(s) => (s.cell, s.hidden),
        None => (
            Tensor::zeros([batch, d], &device),
            Tensor::zeros([batch, d], &device),
        ),
    };
    let mut outputs = Vec::with_capacity(seq);
    for t in 0..seq {
        let z = xw.clone().narrow(1, t, 1).reshape([batch, 4 * d]) + h.matmul(w_h.clone());
        let mut parts = z.chunk(4, 1).into_iter();
        let mut next = || parts.next().expect("four gate blocks");
        let i = lstm.gate_activation.forward(next());
        let f = lstm.gate_activation.forward(next());
        let o = lstm.gate_activation.forward(next());
        let g = lstm.cell_activation.forward(next());
        c = f * c + i * g;
        h = o * lstm.hidden_activation.forward(c.clone());
        outputs.push(h.clone());
    }
    (Tensor::stack(outputs, 1), LstmState::new(c, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::nn::LstmConfig;
    use burn::tensor::{Device, Distribution, Gradients};

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{k}]: {x} vs {y}"
            );
        }
    }

    struct Collect<'a>(&'a Gradients, Vec<Vec<f32>>);

    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = param
                .val()
                .grad(self.0)
                .expect("every parameter has a gradient");
            self.1.push(values(&g));
        }
    }

    #[test]
    fn equals_burns_forward_in_values_and_gradients() {
        let device = Device::flex().autodiff();
        device.seed(7);
        for with_state in [false, true] {
            let lstm = LstmConfig::new(5, 4, true).init(&device);
            let x = Tensor::<3>::random([3, 6, 5], Distribution::Default, &device).require_grad();
            let state = with_state.then(|| {
                LstmState::new(
                    Tensor::<2>::random([3, 4], Distribution::Default, &device),
                    Tensor::<2>::random([3, 4], Distribution::Default, &device),
                )
            });
            let (y_ref, s_ref) = lstm.forward(x.clone(), state.clone());
            let (y, s) = lstm_forward(&lstm, x.clone(), state);
            close(&values(&y), &values(&y_ref), 1e-5, "output");
            close(&values(&s.cell), &values(&s_ref.cell), 1e-5, "cell");
            close(&values(&s.hidden), &values(&s_ref.hidden), 1e-5, "hidden");
            // The same loss through both: every parameter's gradient and the input's.
            let weights = Tensor::<3>::random([3, 6, 4], Distribution::Default, &device);
            let loss = |y: Tensor<3>, c: Tensor<2>| (y * weights.clone()).sum() + c.sum();
            let g_ref = loss(y_ref, s_ref.cell).backward();
            let g = loss(y, s.cell).backward();
            let mut a = Collect(&g, Vec::new());
            let mut b = Collect(&g_ref, Vec::new());
            lstm.visit(&mut a);
            lstm.visit(&mut b);
            assert_eq!(a.1.len(), 16);
            for (k, (ga, gb)) in a.1.iter().zip(&b.1).enumerate() {
                close(ga, gb, 1e-4, &format!("parameter {k}"));
            }
            let dx = values(&x.grad(&g).unwrap());
            let dx_ref = values(&x.grad(&g_ref).unwrap());
            close(&dx, &dx_ref, 1e-4, "input gradient");
        }
    }

    #[test]
    fn layers_it_does_not_cover_run_burns_forward() {
        let device = Device::flex();
        let lstm = LstmConfig::new(3, 2, true)
            .with_input_forget(true)
            .init(&device);
        let x = Tensor::<3>::random([2, 4, 3], Distribution::Default, &device);
        let (y_ref, _) = lstm.forward(x.clone(), None);
        let (y, _) = lstm_forward(&lstm, x, None);
        assert_eq!(values(&y), values(&y_ref));
    }
}
