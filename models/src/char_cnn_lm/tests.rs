use super::*;
use crate::spelling::MAX_WORD_LEN;
use burn::tensor::Distribution;

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn spelling(words: &[&str]) -> WordSpelling {
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    WordSpelling::new(&words, MAX_WORD_LEN).unwrap()
}

/// A PTB-sized spelling: 10 000 distinct words over 48 characters (51 with padding and the
/// markers, as the authors' loader finds on PTB), the longest of 19 characters (PTB's).
fn ptb_sized_spelling() -> WordSpelling {
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789.-'&$#/\\*N|+"
        .chars()
        .collect();
    assert_eq!(alphabet.len(), 48);
    let mut words: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    words.push("abcdefghijklmnopqrs".into());
    let mut k = 0usize;
    while words.len() < 10_000 {
        let (a, b, c) = (k % 48, (k / 48) % 48, k / (48 * 48));
        words.push(format!("{}{}{}x", alphabet[a], alphabet[b], alphabet[c]));
        k += 1;
    }
    WordSpelling::new(&words, MAX_WORD_LEN).unwrap()
}

fn tiny_config(s: &WordSpelling) -> CharCnnLmConfig {
    CharCnnLmConfig::new(
        s.num_words(),
        s.num_chars(),
        s.max_word_len(),
        vec![1, 2],
        vec![3, 4],
        2,
        5,
    )
    .with_d_char(4)
}

fn tokens(batch: usize, seq: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
    Tensor::<2>::random(
        [batch, seq],
        Distribution::Uniform(0.0, vocab as f64 - 0.01),
        device,
    )
    .int()
}

#[test]
fn presets_have_the_papers_sizes() {
    let s = ptb_sized_spelling();
    assert_eq!((s.num_chars(), s.max_word_len()), (51, 21));
    let small = CharCnnLmConfig::kim_small(&s);
    let large = CharCnnLmConfig::kim_large(&s);
    assert_eq!(small.d_features(), 525);
    assert_eq!(large.d_features(), 1100);
    // The count the authors' code prints (`params:nElement()`) for these sizes.
    assert_eq!(small.num_params(), 5_312_515);
    assert_eq!(large.num_params(), 19_373_165);
    // The paper's Table 3: 5m and 19m.
    for (n, paper) in [(small.num_params(), 5e6), (large.num_params(), 19e6)] {
        assert!((n as f64 / paper - 1.0).abs() < 0.07, "{n} vs {paper}");
    }
    let device = Device::flex();
    let model = small.init(&s, &device).unwrap();
    assert_eq!(model.num_params(), small.num_params());
    assert_eq!(model.highway.depth(), 1);
    let b = values(&model.highway.layers[0].transform_bias());
    assert!(b.iter().all(|&v| v == -2.0));
}

#[test]
fn init_rejects_a_spelling_of_other_sizes_and_bad_configs() {
    let s = spelling(&["ab", "c"]);
    let other = spelling(&["ab", "c", "d"]);
    let device = Device::flex();
    let err = tiny_config(&s).init(&other, &device).unwrap_err();
    assert!(err.contains("spelling"), "{err}");
    let mut c = tiny_config(&s);
    c.kernel_widths = vec![1, 9];
    assert!(c.validate().unwrap_err().contains("width 9"));
    let c = tiny_config(&s).with_dropout(VariationalDropoutConfig::new().with_embedding(0.1));
    assert!(c.validate().is_err());
    let mut c = tiny_config(&s);
    c.feature_maps = vec![3];
    assert!(c.validate().is_err());
}

#[test]
fn char_features_are_the_papers_max_pooled_tanh_convolutions() {
    let device = Device::flex();
    let s = spelling(&["ab", "b", "<unk>"]);
    let config = CharCnnLmConfig::new(3, s.num_chars(), s.max_word_len(), vec![2], vec![1], 1, 2)
        .with_d_char(2);
    let model = config.init(&s, &device).unwrap();
    let q = values(&model.char_embedding.weight.val());
    let w = values(&model.convs[0].weight.val()); // [1, d_c = 2, width 2]
    let b = values(&model.convs[0].bias.as_ref().unwrap().val())[0];
    let chars = Tensor::<2, Int>::from_data(
        TensorData::new(s.table().to_vec(), [3, s.max_word_len()]),
        &device,
    );
    let got = values(&model.char_features(chars));
    for (k, row) in s.table().chunks(s.max_word_len()).enumerate() {
        let emb = |c: i64, d: usize| {
            if c == PAD as i64 {
                0.0
            } else {
                q[c as usize * 2 + d]
            }
        };
        // f[i] = Σ_d Σ_j w[d, j]·Q[c_{i+j}, d] + b over every window, padding included.
        let best = (0..row.len() - 1)
            .map(|i| {
                (0..2)
                    .flat_map(|d| (0..2).map(move |j| (d, j)))
                    .map(|(d, j)| w[d * 2 + j] * emb(row[i + j], d))
                    .sum::<f32>()
                    + b
            })
            .fold(f32::NEG_INFINITY, f32::max);
        assert!(
            (got[k] - best.tanh()).abs() < 1e-5,
            "word {k}: {} vs {}",
            got[k],
            best.tanh()
        );
    }
}

#[test]
fn the_padding_embedding_has_no_effect() {
    let device = Device::flex();
    let s = spelling(&["abc", "a", "bb"]);
    let mut model = tiny_config(&s).init(&s, &device).unwrap();
    let x = tokens(2, 4, 3, &device);
    let (before, _) = model.forward(x.clone(), None, None);
    let w = model.char_embedding.weight.val();
    let row = Tensor::<2>::ones([1, 4], &device) * 7.0;
    let w = w.slice_assign([0..1, 0..4], row);
    model.char_embedding.weight = Param::from_tensor(w);
    let (after, _) = model.forward(x, None, None);
    assert_eq!(values(&before), values(&after));
}

#[test]
fn forward_shapes_state_carry_masks_and_lesion() {
    let device = Device::flex();
    let s = spelling(&["the", "cat", "sat", "<unk>", "<eos>", "on", "mat"]);
    let model = tiny_config(&s)
        .with_dropout(
            VariationalDropoutConfig::new()
                .with_input(0.3)
                .with_hidden(0.5)
                .with_output(0.5),
        )
        .init(&s, &device)
        .unwrap();
    let x = tokens(2, 6, 7, &device);
    let (logits, state) = model.forward(x.clone(), None, None);
    assert_eq!(logits.dims(), [2, 6, 7]);
    assert_eq!(state.len(), 2);
    assert_eq!(state[1].hidden.dims(), [2, 5]);
    // Two windows with the carried state equal one long window.
    let (first, carried) = model.forward(x.clone().narrow(1, 0, 2), None, None);
    let carried = CharCnnLm::detach_state(carried);
    let (second, _) = model.forward(x.clone().narrow(1, 2, 4), Some(carried), None);
    let joined = values(&Tensor::cat(vec![first, second], 1));
    let whole = values(&logits);
    assert!(joined.iter().zip(&whole).all(|(a, b)| (a - b).abs() < 1e-5));
    // Masks: input [batch, features], hidden and output [batch, d_hidden]; they change the
    // logits.
    let masks = model.sample_masks(2, &device);
    assert_eq!(masks.input.as_ref().unwrap().dims(), [2, 7]);
    assert_eq!(masks.hidden.as_ref().unwrap().dims(), [2, 5]);
    assert!(masks.embedding.is_none());
    let (dropped, _) = model.forward(x.clone(), None, Some(&masks));
    assert_ne!(values(&dropped), whole);
    // Gate means per highway layer, in (0, 1), near σ(−2) at init.
    let (_, _, gates) = model.forward_with_gates(x.clone(), None, None, None);
    let gates = values(&gates.unwrap());
    assert_eq!(gates.len(), 2);
    assert!(gates.iter().all(|&g| (g - 0.119).abs() < 0.05), "{gates:?}");
    // Lesioning the last highway layer makes its output its input.
    let chars = model.spellings.clone();
    let words = model.represent(chars, Some(1));
    assert_eq!(values(&words.layers[1]), values(&words.layers[0]));
}

#[test]
fn default_dropout_follows_the_authors_code() {
    let s = spelling(&["a"]);
    let d = CharCnnLmConfig::kim_small(&s).dropout;
    // Between the LSTM layers and before the softmax; none into the first LSTM layer.
    assert_eq!(
        (d.embedding, d.input, d.hidden, d.output),
        (0.0, 0.0, 0.5, 0.5)
    );
}

#[test]
fn a_training_step_lowers_the_loss() {
    use burn::optim::{AdamConfig, GradientsParams};
    let device = Device::flex().autodiff();
    device.seed(3);
    let s = spelling(&["the", "cat", "sat", "on", "mat", "<eos>"]);
    let mut model = tiny_config(&s).init(&s, &device).unwrap();
    let x = Tensor::<2, Int>::from_data(
        TensorData::new(vec![0i64, 1, 2, 3, 0, 4, 5], [1, 7]),
        &device,
    );
    let y = x.clone().narrow(1, 1, 6);
    let x = x.narrow(1, 0, 6);
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::new();
    for _ in 0..60 {
        let (loss, _, grads) = model.train_step(x.clone(), y.clone(), None, None, 6.0);
        losses.push(loss);
        let grads = GradientsParams::from_grads(grads.unwrap(), &model);
        model = optim.step(0.02, model, grads);
    }
    // Adam at this rate makes the loss oscillate by some 10% late in the run, and the
    // rounding of the softmax's sums moves the oscillation: the mean of the last five steps.
    let last: f64 = losses[55..].iter().sum::<f64>() / 5.0;
    assert!(last < losses[0] * 0.7, "{losses:?}");
}

#[test]
fn the_closed_form_training_step_equals_autodiff() {
    use burn::module::ModuleVisitor;
    use burn::tensor::Gradients;
    struct Collect<'a>(&'a Gradients, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = param
                .val()
                .grad(self.0)
                .expect("a gradient for every parameter");
            self.1.push(values(&g));
        }
    }
    let device = Device::flex().autodiff();
    device.seed(11);
    let s = spelling(&["the", "cat", "sat", "on", "mat", "<eos>", "<unk>"]);
    let model = tiny_config(&s).init(&s, &device).unwrap();
    let x = tokens(3, 5, 7, &device);
    let y = tokens(3, 5, 7, &device);
    let state = Some(model.forward(tokens(3, 2, 7, &device), None, None).1);
    let state = state.map(CharCnnLm::detach_state);
    let masks = model.sample_masks(3, &device);
    let (loss, next, grads) =
        model.train_step(x.clone(), y.clone(), state.clone(), Some(&masks), 5.0);
    // The trait's default: autodiff through the logits and Burn's cross-entropy.
    let (logits, next_ref, ()) = model.forward_train(x, state, Some(&masks));
    let mean = crate::softmax_loss::token_loss(logits, y);
    let loss_ref = mean.clone().into_scalar::<f64>();
    let grads_ref = model.backward_lm(mean * 5.0, ());
    assert!((loss - loss_ref).abs() < 1e-5, "{loss} vs {loss_ref}");
    assert_eq!(values(&next[1].hidden), values(&next_ref[1].hidden));
    let (mut a, mut b) = (
        Collect(grads.as_ref().unwrap(), Vec::new()),
        Collect(&grads_ref, Vec::new()),
    );
    model.visit(&mut a);
    model.visit(&mut b);
    assert_eq!(a.1.len(), b.1.len());
    for (k, (ga, gb)) in a.1.iter().zip(&b.1).enumerate() {
        for (x, y) in ga.iter().zip(gb) {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "parameter {k}: {x} vs {y}"
            );
        }
    }
}
