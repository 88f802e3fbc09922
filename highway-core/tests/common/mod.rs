//! What the fast-path tests share: every parameter's gradient, and a relative comparison.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};
use highway_core::{DeferredLayer, LayerStack};

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

/// The fast path against the reference on `net`: the stack's output, every parameter's
/// gradient (`parameters` of them, each non-zero) and the input's gradient, which the
/// reference has in `ref_grads` and the fast path in the `upstream` gradients its tape
/// returned.
pub fn assert_same<M: Module, const D: usize, const E: usize>(
    name: &str,
    net: &M,
    parameters: usize,
    (reference, ref_grads): (&Tensor<D>, &Gradients),
    (fast, grads, upstream): (&Tensor<D>, &Gradients, &Gradients),
    x: &Tensor<E>,
) {
    assert_close(&format!("{name} output"), &values(reference), &values(fast));
    let mut a = Collect(ref_grads, Vec::new());
    net.visit(&mut a);
    let mut b = Collect(grads, Vec::new());
    net.visit(&mut b);
    assert_eq!(a.1.len(), parameters);
    for (i, ((dims, u), (_, v))) in a.1.iter().zip(&b.1).enumerate() {
        assert!(
            u.iter().any(|g| *g != 0.0),
            "{name}: parameter {i} has a gradient"
        );
        assert_close(&format!("{name} parameter {i} {dims:?}"), u, v);
    }
    let dx_ref = values(&x.grad(ref_grads).expect("input gradient"));
    let dx_fast = values(&x.grad(upstream).expect("input gradient"));
    assert_close(&format!("{name} input"), &dx_ref, &dx_fast);
}

/// The stack's output and every parameter's gradient on the fast path with 1 and with 3
/// threads are equal bit for bit.
pub fn assert_thread_independent<L, const D: usize>(stack: &LayerStack<L>, x: &Tensor<D>)
where
    L: DeferredLayer<D> + Sync,
    LayerStack<L>: Module,
{
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (y, tape) = stack.forward_deferred(x.clone());
            let mut grads = (y.clone() * y.clone()).sum().backward();
            tape.complete(stack, stack, &mut grads);
            let mut c = Collect(&grads, Vec::new());
            stack.visit(&mut c);
            (values(&y), c.1)
        })
    };
    let (y1, g1) = run(1);
    let (y3, g3) = run(3);
    assert_eq!(y1, y3);
    for ((_, a), (_, b)) in g1.iter().zip(&g3) {
        assert_eq!(a, b, "bit for bit");
    }
}

/// Runs `stack` on `stem(x)` both ways, the reference (its `forward` under autodiff) and the
/// fast path, with the loss `Σ r·y` (an arbitrary `∂L/∂y`), and checks them equal with
/// [`assert_same`]. `net` holds the stem's and the stack's `parameters` parameters.
pub fn check_against_autodiff<M, L, const D: usize, const E: usize>(
    name: &str,
    net: &M,
    parameters: usize,
    stack: &LayerStack<L>,
    stem: impl Fn(Tensor<E>) -> Tensor<D>,
    x: &Tensor<E>,
    r: &Tensor<D>,
) where
    M: Module,
    L: DeferredLayer<D>,
{
    let reference = stack.forward(stem(x.clone()));
    let ref_grads = (reference.clone() * r.clone()).sum().backward();
    let (fast, tape) = stack.forward_deferred(stem(x.clone()));
    assert!(!tape.is_empty(), "{name}: the fast path applies");
    assert_eq!(fast.dims(), reference.dims());
    let mut grads = (fast.clone() * r.clone()).sum().backward();
    let upstream = tape
        .complete(stack, net, &mut grads)
        .expect("the input is tracked");
    assert_same(
        name,
        net,
        parameters,
        (&reference, &ref_grads),
        (&fast, &grads, &upstream),
        x,
    );
}
