use super::*;
use burn::tensor::Distribution;

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn tokens(batch: usize, seq: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
    Tensor::<2>::random(
        [batch, seq],
        Distribution::Uniform(0.0, vocab as f64),
        device,
    )
    .int()
    .clamp(0, vocab as i64 - 1)
}

fn tiny(tied: bool) -> RhnLmConfig {
    RhnLmConfig::new(13, 6, 3)
        .with_tied_embeddings(tied)
        .with_initializer(Initializer::Uniform {
            min: -0.5,
            max: 0.5,
        })
        .with_dropout(VariationalDropoutConfig::ptb_sota())
}

#[test]
fn ptb_sota_has_about_23m_parameters() {
    let config = RhnLmConfig::ptb_sota();
    let n = config.num_params();
    // 10000·830 embedding + 830·1660 input + 10·(830·1660 + 1660) + 10000 softmax bias.
    println!("ptb_sota parameters: {n}");
    assert_eq!(n, 8_300_000 + 1_377_800 + 13_794_600 + 10_000);
    assert!((n as f64 / 23e6 - 1.0).abs() < 0.03, "{n}");
    for (vocab, depth, d_hidden, paper) in [
        (205, 10, 1500, 46e6),
        (205, 10, 1000, 21e6),
        (205, 5, 1500, 23e6),
        (27, 10, 1500, 45e6),
        (27, 10, 1000, 20e6),
    ] {
        let mut config = RhnLmConfig::enwik8_sota().with_vocab_size(vocab);
        (config.depth, config.d_hidden) = (depth, d_hidden);
        let n = config.num_params() as f64;
        println!("{} x {}: {n}", config.depth, config.d_hidden);
        assert!((n / paper - 1.0).abs() < 0.03, "{n} vs {paper}");
    }
}

#[test]
fn presets_match_the_paper_configurations() {
    let sota = RhnLmConfig::ptb_sota();
    assert_eq!((sota.depth, sota.d_hidden, sota.d_embed()), (10, 830, 830));
    assert!(sota.tied_embeddings && sota.dropout == VariationalDropoutConfig::ptb_sota());
    assert_eq!(sota.transform_bias, -2.0);
    for (config, depth, d) in [
        (RhnLmConfig::ptb_depth1_1275(), 1, 1275),
        (RhnLmConfig::ptb_depth5_1000(), 5, 1000),
        (RhnLmConfig::ptb_depth8_890(), 8, 890),
        (RhnLmConfig::ptb_depth10_830(), 10, 830),
    ] {
        assert_eq!(
            (config.depth, config.d_hidden, config.d_embed()),
            (depth, d, d)
        );
        assert!(!config.tied_embeddings);
        assert!(config.with_tied_embeddings(true).validate().is_ok());
    }
    for (config, vocab) in [
        (RhnLmConfig::enwik8_sota(), 205),
        (RhnLmConfig::text8_sota(), 27),
    ] {
        assert_eq!((config.depth, config.d_hidden), (10, 1500));
        assert_eq!((config.vocab_size, config.d_embed()), (vocab, vocab));
        assert_eq!(config.transform_bias, -4.0);
        assert!(!config.tied_embeddings);
    }
    for config in [RhnLmConfig::ptb_small(), RhnLmConfig::char_small()] {
        assert!(config.validate().is_ok());
        assert!((3..=5).contains(&config.depth) && config.d_hidden <= 256);
    }
    let err = RhnLmConfig::char_small()
        .with_tied_embeddings(true)
        .with_embed_size(Some(16))
        .validate()
        .unwrap_err();
    assert!(err.contains("tied"), "{err}");
}

#[test]
fn module_parameter_count_agrees_with_the_config() {
    let device = Device::flex();
    for config in [
        tiny(true),
        tiny(false),
        RhnLmConfig::char_small().with_vocab_size(30),
        RhnLmConfig::new(50, 8, 2).with_carry(CarryMode::Free),
    ] {
        let model = config.init(&device);
        assert_eq!(model.num_params(), config.num_params());
    }
}

#[test]
fn forward_shapes_and_tied_softmax() {
    let device = Device::flex();
    for tied in [true, false] {
        let model = tiny(tied).init(&device);
        assert_eq!(model.is_tied(), tied);
        let x = tokens(2, 5, 13, &device);
        let (logits, state) = model.forward(x.clone(), None, None);
        assert_eq!(logits.dims(), [2, 5, 13]);
        assert_eq!(state.s.dims(), [2, 6]);
        // logits = y·W + b, with W = Eᵀ when tied.
        let (y, _) = model.rhn.forward(model.embedding.forward(x), None, None);
        let w = if tied {
            model.embedding.weight.val().transpose()
        } else {
            model.softmax_w.as_ref().unwrap().val()
        };
        let expected = y.matmul(w.unsqueeze()) + model.softmax_b.val().unsqueeze();
        let (a, b) = (values(&logits), values(&expected));
        assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5));
    }
}

#[test]
fn masks_apply_evaluation_is_deterministic_and_state_carries() {
    let device = Device::flex();
    let model = tiny(true).init(&device);
    let x = tokens(2, 6, 13, &device);
    let (a, _) = model.forward(x.clone(), None, None);
    let (b, _) = model.forward(x.clone(), None, None);
    assert_eq!(values(&a), values(&b));
    let masks = model.sample_masks(2, &device);
    assert_eq!(masks.embedding.as_ref().unwrap().dims(), [2, 13]);
    let (c, _) = model.forward(x.clone(), None, Some(&masks));
    assert_ne!(values(&a), values(&c));
    // Two windows with the carried state equal one long window (same masks).
    let (full, _) = model.forward(x.clone(), None, Some(&masks));
    let (first, state) = model.forward(x.clone().narrow(1, 0, 2), None, Some(&masks));
    let (second, _) = model.forward(
        x.narrow(1, 2, 4),
        Some(<RhnLm as RecurrentLm>::detach_state(state)),
        Some(&masks),
    );
    let joined = values(&Tensor::cat(vec![first, second], 1));
    assert!(
        joined
            .iter()
            .zip(values(&full))
            .all(|(a, b)| (a - b).abs() < 1e-5)
    );
}

#[test]
fn gates_and_lesion_through_the_language_model() {
    let device = Device::flex();
    let model = tiny(false).init(&device);
    let x = tokens(1, 4, 13, &device);
    let (logits, out) = model.forward_with_gates(x.clone(), None, None, Some(0));
    assert_eq!(logits.dims(), [1, 4, 13]);
    assert_eq!(values(&out.gates.per_micro_layer())[0], 0.0);
}

#[test]
fn gradients_reach_every_parameter_and_the_tied_embedding_twice() {
    let device = Device::flex().autodiff();
    let model = tiny(true).init(&device);
    // No dropout: with `ptb_sota`'s output dropout of 6 units, a mask that drops every unit
    // of both rows (about 3% of draws) leaves the softmax part of the gradient at zero.
    let (logits, _) = model.forward(tokens(2, 4, 13, &device), None, None);
    let grads = logits.sum().backward();
    assert!(model.embedding.weight.val().grad(&grads).is_some());
    assert!(model.softmax_b.val().grad(&grads).is_some());
    assert!(
        model.rhn.cell.layers[2]
            .r_t
            .weight
            .val()
            .grad(&grads)
            .is_some()
    );
    // Tied: the embedding gradient includes the softmax part, so unused words get one too.
    let g = values(&model.embedding.weight.val().grad(&grads).unwrap());
    assert!(g.chunks(6).all(|row| row.iter().any(|v| *v != 0.0)));
}

#[test]
fn training_forward_gives_the_same_logits_and_gradients() {
    let device = Device::flex().autodiff();
    let model = tiny(true).init(&device);
    let x = tokens(2, 4, 13, &device);
    let masks = model.sample_masks(2, &device);
    let (a, _) = model.forward(x.clone(), None, Some(&masks));
    let plain = a.clone().sum().backward();
    let (b, _, tape) = model.forward_deferred(x.clone(), None, Some(&masks));
    assert!(!tape.is_empty());
    let close = |u: &[f32], v: &[f32], tol: f32| u.iter().zip(v).all(|(u, v)| (u - v).abs() < tol);
    assert!(close(&values(&a), &values(&b), 1e-5));
    let mut deferred = b.sum().backward();
    model.complete_gradients(&mut deferred, tape);
    let (c, _, tape) = model.forward_train(x, None, Some(&masks));
    let via_trait = model.backward_lm(c.sum(), tape);
    for p in [
        model.embedding.weight.val(),
        model.rhn.cell.w_t.weight.val(),
        model.rhn.cell.layers[1].r_t.weight.val(),
        model.rhn.cell.layers[2].r_h.weight.val(),
    ] {
        let u = values(&p.grad(&plain).unwrap());
        for other in [&deferred, &via_trait] {
            let v = values(&p.grad(other).unwrap());
            assert!(close(&u, &v, 1e-4), "{u:?} vs {v:?}");
        }
    }
}

/// Every float parameter's gradient, in visit order.
struct Collect<'a>(&'a Gradients, Vec<Vec<f32>>);
impl burn::module::ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = param
            .val()
            .grad(self.0)
            .expect("every parameter has a gradient");
        self.1.push(values(&g));
    }
}

#[test]
fn train_step_equals_autodiff_of_the_token_loss() {
    let device = Device::flex().autodiff();
    device.seed(3);
    for tied in [true, false] {
        // Every mask, mild enough that no parameter's gradient is all zero.
        let dropout = VariationalDropoutConfig::new()
            .with_embedding(0.2)
            .with_input(0.3)
            .with_hidden(0.3)
            .with_output(0.3);
        let model = tiny(tied).with_dropout(dropout).init(&device);
        let (x, y) = (tokens(2, 4, 13, &device), tokens(2, 4, 13, &device));
        let masks = model.sample_masks(2, &device);
        let s0 = RhnState::new(Tensor::random([2, 6], Distribution::Default, &device));
        let (logits, s1) = model.forward(x.clone(), Some(s0.clone()), Some(&masks));
        let mean = token_loss(logits, y.clone());
        let expected = mean.clone().into_scalar::<f64>();
        let plain = (mean * 4.0).backward();
        let (value, s2, grads) = model.train_step(x, y, Some(s0), Some(&masks), 4.0);
        let grads = grads.expect("a finite loss");
        assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
        assert!(
            values(&s1.s)
                .iter()
                .zip(values(&s2.s))
                .all(|(u, v)| (u - v).abs() < 1e-5)
        );
        let mut a = Collect(&plain, Vec::new());
        model.visit(&mut a);
        let mut b = Collect(&grads, Vec::new());
        model.visit(&mut b);
        assert_eq!(a.1.len(), b.1.len());
        for (i, (pa, pb)) in a.1.iter().zip(&b.1).enumerate() {
            assert!(
                pa.iter().any(|g| *g != 0.0),
                "param {i} of {}: {pa:?}",
                a.1.len()
            );
            for (u, v) in pa.iter().zip(pb) {
                assert!(
                    (u - v).abs() <= 1e-5 + 1e-4 * u.abs(),
                    "tied {tied}: {u} vs {v}"
                );
            }
        }
    }
}

#[test]
fn config_round_trips_through_json() {
    let config = RhnLmConfig::ptb_sota().with_embed_size(Some(830));
    let json = serde_json::to_string(&config).unwrap();
    let back: RhnLmConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.dropout, VariationalDropoutConfig::ptb_sota());
    assert_eq!(back.num_params(), config.num_params());
}

#[test]
fn save_and_load_gives_the_same_outputs() {
    let device = Device::flex();
    let config = tiny(false);
    let model = config.init(&device);
    let dir = std::env::temp_dir().join(format!("models-rhn-lm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rhn_lm.bpk");
    model.clone().save_file(&path).unwrap();
    let x = tokens(2, 3, 13, &device);
    let before = values(&model.forward(x.clone(), None, None).0);
    let fresh = config.init(&device);
    assert_ne!(values(&fresh.forward(x.clone(), None, None).0), before);
    let loaded = fresh.try_load_file(&path).unwrap();
    assert_eq!(values(&loaded.forward(x, None, None).0), before);
    assert_eq!(loaded.dropout, config.dropout);
    std::fs::remove_dir_all(dir).ok();
}
