//! What the fast-path tests share: every parameter's gradient, and a relative comparison.

use burn::module::{ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};

/// Every float parameter's gradient, in visit order.
pub struct Collect<'a>(pub &'a Gradients, pub Vec<(Vec<usize>, Vec<f32>)>);

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let p = param.val();
        let g = p.grad(self.0).expect("every parameter has a gradient");
        self.1.push((p.dims().to_vec(), values(&g)));
    }
}

pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

pub fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: sizes");
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 2e-5 * scale + 1e-6,
            "{what}[{i}]: reference {x}, fast path {y} (largest |value| {scale})"
        );
    }
}
