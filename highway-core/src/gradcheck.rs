//! Finite-difference gradient checks for any Burn [`Module`].
//!
//! Compares the gradients that autodiff computes for every parameter element and every input
//! element with central differences `(L(θ + ε) − L(θ − ε)) / 2ε`. Used by this workspace's
//! tests (highway layers, RHN cells) and usable by anyone writing a layer of their own.
//! Enabled by the `gradcheck` feature (it needs Burn's `autodiff`).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor, TensorData};

/// One compared element.
#[derive(Debug, Clone)]
pub struct GradEntry {
    /// `"input"` or `"param <k>"` (the k-th float parameter in visit order).
    pub name: String,
    /// Index of the element inside that tensor (row-major).
    pub index: usize,
    /// The gradient autodiff computed.
    pub analytic: f64,
    /// The central finite difference.
    pub numeric: f64,
}

/// The result of [`check_gradients`].
#[derive(Debug, Clone, Default)]
pub struct GradCheck {
    /// Every compared element.
    pub entries: Vec<GradEntry>,
}

impl GradCheck {
    /// The entries whose analytic and numeric gradients differ by more than
    /// `atol + rtol·|numeric|`.
    pub fn mismatches(&self, atol: f64, rtol: f64) -> Vec<&GradEntry> {
        self.entries
            .iter()
            .filter(|e| {
                let within = (e.analytic - e.numeric).abs() <= atol + rtol * e.numeric.abs();
                !within || !e.analytic.is_finite()
            })
            .collect()
    }

    /// Panics, listing the worst offenders, if any entry is outside the tolerance.
    pub fn assert_close(&self, atol: f64, rtol: f64) {
        let bad = self.mismatches(atol, rtol);
        assert!(
            bad.is_empty(),
            "{} of {} gradient entries differ from finite differences (atol {atol}, rtol {rtol}); first: {:?}",
            bad.len(),
            self.entries.len(),
            &bad[..bad.len().min(5)]
        );
    }
}

fn to_f64(tensor: Tensor<1>) -> f64 {
    tensor.into_scalar::<f64>()
}

fn values<const D: usize>(tensor: &Tensor<D>) -> Vec<f64> {
    tensor
        .to_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("float tensor data")
}

fn perturbed<const D: usize>(tensor: Tensor<D>, index: usize, delta: f64) -> Tensor<D> {
    let shape = tensor.shape();
    let device = tensor.device();
    let dtype = tensor.dtype();
    let mut data = values(&tensor);
    data[index] += delta;
    Tensor::from_data(TensorData::new(data, shape).convert_dtype(dtype), &device)
}

struct Sizes(Vec<usize>);

impl ModuleVisitor for Sizes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.shape().num_elements());
    }
}

struct Grads<'a> {
    grads: &'a Gradients,
    out: Vec<Vec<f64>>,
}

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        let grad = value
            .grad(self.grads)
            .map(|g| values(&g))
            // A parameter that does not reach the loss has a zero gradient.
            .unwrap_or_else(|| vec![0.0; n]);
        self.out.push(grad);
    }
}

struct Perturb {
    param: usize,
    index: usize,
    delta: f64,
    seen: usize,
}

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let this = self.seen;
        self.seen += 1;
        if this == self.param {
            let (index, delta) = (self.index, self.delta);
            param.map(|t| perturbed(t, index, delta))
        } else {
            param
        }
    }
}

/// Checks the gradient of `loss(module, input)` (a scalar) with respect to every element of
/// `input` and of every float parameter of `module`.
///
/// `module` and `input` must live on an autodiff device. `eps` is the finite-difference step;
/// with `f32` tensors `1e-2` on smooth functions gives errors around `1e-4`.
pub fn check_gradients<M, const D: usize>(
    module: &M,
    input: Tensor<D>,
    loss: impl Fn(&M, Tensor<D>) -> Tensor<1>,
    eps: f64,
) -> GradCheck
where
    M: Module + Clone,
{
    let input = input.detach().require_grad();
    let value = loss(module, input.clone());
    let grads = value.backward();

    let mut check = GradCheck::default();

    // Input.
    let analytic = input
        .grad(&grads)
        .map(|g| values(&g))
        .unwrap_or_else(|| vec![0.0; input.shape().num_elements()]);
    for (index, a) in analytic.into_iter().enumerate() {
        let plus = to_f64(loss(module, perturbed(input.clone().detach(), index, eps)));
        let minus = to_f64(loss(module, perturbed(input.clone().detach(), index, -eps)));
        check.entries.push(GradEntry {
            name: "input".into(),
            index,
            analytic: a,
            numeric: (plus - minus) / (2.0 * eps),
        });
    }

    // Parameters.
    let mut collect = Grads {
        grads: &grads,
        out: Vec::new(),
    };
    module.visit(&mut collect);
    let mut sizes = Sizes(Vec::new());
    module.visit(&mut sizes);
    let input = input.detach();
    for (param, analytic) in collect.out.into_iter().enumerate() {
        assert_eq!(analytic.len(), sizes.0[param]);
        for (index, a) in analytic.into_iter().enumerate() {
            let eval = |delta: f64| {
                let moved = module.clone().map(&mut Perturb {
                    param,
                    index,
                    delta,
                    seen: 0,
                });
                to_f64(loss(&moved, input.clone()))
            };
            check.entries.push(GradEntry {
                name: format!("param {param}"),
                index,
                analytic: a,
                numeric: (eval(eps) - eval(-eps)) / (2.0 * eps),
            });
        }
    }
    check
}
