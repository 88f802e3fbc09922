//! Language-model training through the Learner path (`models::train::tbptt::fit_lm`): learns a
//! repeating token stream, clips the global gradient norm, resumes to the same result as an
//! uninterrupted run, stops on its time budget. (In this crate for Burn's ndarray backend, the
//! second device of the data-parallel tests, a dev-dependency here.)

#[path = "../../models/tests/common/mod.rs"]
mod common;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use datasets::Bptt;
use models::train::tbptt::{LmEpoch, LmTrainConfig, evaluate_lm, evaluate_lm_mc, fit_lm};
use models::train::{Devices, FitOptions, LrSchedule, OptimizerConfig, RunDir, clip_global_norm};
use models::{RecurrentLm, RhnLmConfig};
use rhn::VariationalDropoutConfig;

fn model(device: &Device) -> models::RhnLm {
    RhnLmConfig::new(7, 16, 2)
        .with_tied_embeddings(true)
        .with_dropout(VariationalDropoutConfig::none())
        .init(device)
}

fn opts<'a>(run: &'a RunDir, resume: bool, device: &'a Devices) -> FitOptions<'a> {
    FitOptions {
        resume,
        ..FitOptions::resuming(run, "t", true, device)
    }
}

fn stream(n: usize) -> Vec<u32> {
    (0..n).map(|i| [0, 1, 2, 3, 4, 5, 6, 2, 4][i % 9]).collect()
}

fn config(epochs: usize) -> LmTrainConfig {
    LmTrainConfig {
        epochs,
        batch_size: 4,
        seq_len: 8,
        lr: 0.5,
        schedule: LrSchedule::InverseDecay {
            decay: 1.1,
            start: 1,
        },
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 1e-7,
        },
        clip_norm: 10.0,
        max_windows: 0,
        max_train_seconds: 0.0,
        seed: 5,
    }
}

#[test]
fn learns_a_repeating_stream_and_resumes_exactly() {
    let _rng = common::rng_lock();
    let device = Devices::from(Device::flex().autodiff());
    let train = Bptt::new(&stream(3000), 4, 8).unwrap();
    let valid = Bptt::new(&stream(300), 4, 8).unwrap();
    let dir = |n: &str| std::env::temp_dir().join(format!("hz-lm-{n}-{}", std::process::id()));
    let (a_dir, b_dir) = (dir("a"), dir("b"));
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
    device.seed(1);
    let m = model(&device);
    let run_a = RunDir::create(&a_dir).unwrap();
    let (_, hist_a) = fit_lm(
        m.clone(),
        &train,
        &valid,
        &config(3),
        &opts(&run_a, false, &device),
    )
    .unwrap();
    // Perplexity of a 7-symbol stream starts near 7 and must fall well below it.
    assert!(hist_a[2].valid_ppl < 3.0, "{hist_a:?}");
    assert!(hist_a[2].train_ppl < hist_a[0].train_ppl);

    let run_b = RunDir::create(&b_dir).unwrap();
    fit_lm(
        m.clone(),
        &train,
        &valid,
        &config(2),
        &opts(&run_b, false, &device),
    )
    .unwrap();
    let (_, hist_b) = fit_lm(m, &train, &valid, &config(3), &opts(&run_b, true, &device)).unwrap();
    for (x, y) in hist_a.iter().zip(&hist_b) {
        assert_eq!(x.train_ppl, y.train_ppl);
        assert_eq!(x.valid_ppl, y.valid_ppl);
    }
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
}

#[test]
fn global_norm_clipping_bounds_the_norm_and_keeps_the_direction() {
    let _rng = common::rng_lock();
    let device = Devices::from(Device::flex().autodiff());
    let m = model(&device);
    let x = Tensor::<2, Int>::from_ints([[0, 1, 2], [3, 4, 5]], &device);
    let (logits, _) = m.forward_lm(x, None, None);
    let loss = logits.powi_scalar(2).sum() * 100.0;
    let mut grads = GradientsParams::from_grads(loss.backward(), &m);
    let norm = |n: Option<Tensor<1>>| n.expect("gradients").into_scalar::<f64>();
    let before = norm(clip_global_norm(&m, &mut grads, 0.5));
    assert!(before > 0.5, "{before}");
    let after = norm(clip_global_norm(&m, &mut grads, 0.0));
    assert!((after - 0.5).abs() < 1e-3, "{after}");
    let _ = m.num_params();
}

#[test]
fn time_budget_stops_training_after_the_window_that_crosses_it() {
    let _rng = common::rng_lock();
    let device = Devices::from(Device::flex().autodiff());
    let train = Bptt::new(&stream(3000), 4, 8).unwrap();
    let valid = Bptt::new(&stream(300), 4, 8).unwrap();
    let dir = std::env::temp_dir().join(format!("hz-lm-budget-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let run = RunDir::create(&dir).unwrap();
    let mut config = config(5);
    // Any window takes longer than a nanosecond: one window, then stop (no second epoch).
    config.max_train_seconds = 1e-9;
    let (_, history) = fit_lm(
        model(&device),
        &train,
        &valid,
        &config,
        &opts(&run, false, &device),
    )
    .unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].windows, 1);
    assert!(history[0].valid_ppl.is_finite());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mc_dropout_evaluation_matches_plain_evaluation_without_dropout() {
    let _rng = common::rng_lock();
    let device = Device::flex();
    let data = Bptt::new(&stream(400), 3, 6).unwrap();
    let plain = model(&device);
    let exact = evaluate_lm(&plain, &data, &device);
    let mc = evaluate_lm_mc(&plain, &data, 3, &device);
    assert!((exact - mc).abs() < 1e-4, "{exact} vs {mc}");
    // With dropout the sampled predictions differ from the deterministic ones.
    let dropped = RhnLmConfig::new(7, 16, 2)
        .with_tied_embeddings(true)
        .with_dropout(VariationalDropoutConfig::ptb_sota())
        .init(&device);
    let (a, b) = (
        evaluate_lm(&dropped, &data, &device),
        evaluate_lm_mc(&dropped, &data, 4, &device),
    );
    assert!(b.is_finite() && (a - b).abs() > 1e-6, "{a} vs {b}");
}

/// Epochs of the SIGKILL test's language-model run.
const KILL_EPOCHS: usize = 120;

fn kill_config() -> LmTrainConfig {
    let mut c = config(KILL_EPOCHS);
    c.schedule = LrSchedule::Constant;
    c.lr = 0.1;
    c
}

/// The SIGKILL tests' run: [`kill_config`] on a 400-token stream into `run` from weights drawn
/// after seeding with 1, resuming from `run`'s newest checkpoint when `resume` is set.
fn kill_run(
    run: &RunDir,
    resume: bool,
    devices: &Devices,
    model: fn(&Device) -> models::RhnLm,
) -> Vec<LmEpoch> {
    let train = Bptt::new(&stream(400), 4, 8).unwrap();
    let valid = Bptt::new(&stream(100), 4, 8).unwrap();
    devices.seed(1);
    let opts = opts(run, resume, devices);
    fit_lm(model(devices), &train, &valid, &kill_config(), &opts)
        .unwrap()
        .1
}

/// The child of [`sigkill_during_checkpoints_resumes_the_language_model_exactly`].
#[test]
#[ignore = "run by sigkill_during_checkpoints_resumes_the_language_model_exactly"]
fn child_trains_the_lm_until_killed() {
    let _rng = common::rng_lock();
    let run = RunDir::create(std::env::var("HZ_CHILD_RUN").expect("HZ_CHILD_RUN")).unwrap();
    kill_run(&run, true, &Device::flex().autodiff().into(), model);
}

#[cfg(unix)]
#[test]
fn sigkill_during_checkpoints_resumes_the_language_model_exactly() {
    let _rng = common::rng_lock();
    let device = Devices::from(Device::flex().autodiff());
    let dir = |n: &str| std::env::temp_dir().join(format!("hz-lm-{n}-{}", std::process::id()));
    let (a_dir, b_dir) = (dir("kill-straight"), dir("kill"));
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
    let straight = kill_run(&RunDir::create(&a_dir).unwrap(), false, &device, model);
    let run_b = RunDir::create(&b_dir).unwrap();
    let delays = [500, 700, 900, 1100, 1300];
    common::kill_repeatedly(
        "child_trains_the_lm_until_killed",
        &run_b,
        &delays,
        KILL_EPOCHS,
    );
    let resumed = kill_run(&run_b, true, &device, model);
    assert_eq!(straight.len(), KILL_EPOCHS);
    for (x, y) in straight.iter().zip(&resumed) {
        assert_eq!(x.train_ppl, y.train_ppl, "epoch {}", x.epoch);
        assert_eq!(x.valid_ppl, y.valid_ppl, "epoch {}", x.epoch);
        assert_eq!(x.windows, y.windows, "epoch {}", x.epoch);
    }
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
}

/// A language model on two handles of the CPU device: each window's rows split in two, each
/// slice carrying its own rows' state. Same perplexities as on one device, to float rounding.
#[test]
fn two_devices_train_the_language_model_to_the_one_device_perplexities() {
    let _rng = common::rng_lock();
    let train = Bptt::new(&stream(1200), 4, 8).unwrap();
    let valid = Bptt::new(&stream(300), 4, 8).unwrap();
    let dir = |n: &str| std::env::temp_dir().join(format!("hz-lm-{n}-{}", std::process::id()));
    let (a_dir, b_dir) = (dir("one-device"), dir("two-devices"));
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
    let cpu = Device::flex().autodiff();
    let m = model(&cpu);
    let one = Devices::from(cpu.clone());
    let two = Devices {
        main: cpu.clone(),
        replicas: vec![cpu],
    };
    let run_a = RunDir::create(&a_dir).unwrap();
    let (_, a) = fit_lm(
        m.clone(),
        &train,
        &valid,
        &config(2),
        &opts(&run_a, false, &one),
    )
    .unwrap();
    let run_b = RunDir::create(&b_dir).unwrap();
    let (_, b) = fit_lm(m, &train, &valid, &config(2), &opts(&run_b, false, &two)).unwrap();
    for (x, y) in a.iter().zip(&b) {
        for (p, q) in [(x.train_ppl, y.train_ppl), (x.valid_ppl, y.valid_ppl)] {
            assert!((p - q).abs() <= 1e-5 * p, "epoch {}: {p} vs {q}", x.epoch);
        }
        assert_eq!(x.windows, y.windows);
    }
    assert!(b[1].valid_ppl < b[0].train_ppl, "{b:?}");
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
}

/// Two different devices of one CPU: Burn's `flex` backend (the main device) and its `ndarray`
/// backend (the replica), each with its own random generator. (Burn 0.22 deprecates ndarray in
/// favour of flex; here it is only the second device.)
#[allow(deprecated)]
fn flex_and_ndarray() -> Devices {
    Devices {
        main: Device::flex().autodiff(),
        replicas: vec![Device::ndarray().autodiff()],
    }
}

fn dropout_model(device: &Device) -> models::RhnLm {
    RhnLmConfig::new(7, 16, 2)
        .with_tied_embeddings(true)
        .with_dropout(VariationalDropoutConfig::ptb_sota())
        .init(device)
}

/// The child of [`two_devices_with_dropout_are_reproducible_and_resume_exactly_after_a_kill`].
#[test]
#[ignore = "run by two_devices_with_dropout_are_reproducible_and_resume_exactly_after_a_kill"]
fn child_trains_on_two_devices_until_killed() {
    let _rng = common::rng_lock();
    let run = RunDir::create(std::env::var("HZ_CHILD_RUN").expect("HZ_CHILD_RUN")).unwrap();
    kill_run(&run, true, &flex_and_ndarray(), dropout_model);
}

/// Data parallelism with dropout over two different devices: each slice's masks come from
/// `(seed, epoch, step, slice)`, not from the devices' generators or the threads' order, so two
/// runs give the same perplexities bit for bit, and a run killed (SIGKILL) several times
/// resumes to them.
#[cfg(unix)]
#[test]
fn two_devices_with_dropout_are_reproducible_and_resume_exactly_after_a_kill() {
    let _rng = common::rng_lock();
    let devices = flex_and_ndarray();
    let dir = |n: &str| std::env::temp_dir().join(format!("hz-lm2-{n}-{}", std::process::id()));
    let fresh = |name: &str| {
        std::fs::remove_dir_all(dir(name)).ok();
        RunDir::create(dir(name)).unwrap()
    };
    let a = kill_run(&fresh("a"), false, &devices, dropout_model);
    let b = kill_run(&fresh("b"), false, &devices, dropout_model);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.train_ppl, y.train_ppl, "epoch {}", x.epoch);
        assert_eq!(x.valid_ppl, y.valid_ppl, "epoch {}", x.epoch);
    }
    // Dropout is on: the same run without it trains to other perplexities.
    let plain = kill_run(&fresh("no-dropout"), false, &devices, model);
    assert_ne!(plain[0].train_ppl, a[0].train_ppl);
    for name in ["a", "b", "no-dropout"] {
        std::fs::remove_dir_all(dir(name)).ok();
    }

    let killed = dir("kill");
    std::fs::remove_dir_all(&killed).ok();
    let run = RunDir::create(&killed).unwrap();
    let delays = [700, 900, 1100, 1300, 1500];
    common::kill_repeatedly(
        "child_trains_on_two_devices_until_killed",
        &run,
        &delays,
        KILL_EPOCHS,
    );
    let resumed = kill_run(&run, true, &devices, dropout_model);
    assert_eq!(resumed.len(), KILL_EPOCHS);
    for (x, y) in a.iter().zip(&resumed) {
        assert_eq!(x.train_ppl, y.train_ppl, "epoch {}", x.epoch);
        assert_eq!(x.valid_ppl, y.valid_ppl, "epoch {}", x.epoch);
    }
    std::fs::remove_dir_all(&killed).ok();
}

#[test]
fn a_character_aware_lm_with_dropout_and_the_plateau_rule_resumes_exactly() {
    use models::{CharCnnLmConfig, WordSpelling};
    let _rng = common::rng_lock();
    let device = Devices::from(Device::flex().autodiff());
    let words: Vec<String> = ["a", "bb", "ccc", "d", "ee", "fa", "gb"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let spelling = WordSpelling::new(&words, 65).unwrap();
    let kim = CharCnnLmConfig::new(
        7,
        spelling.num_chars(),
        spelling.max_word_len(),
        vec![1, 2],
        vec![4, 4],
        1,
        8,
    )
    .with_d_char(4)
    .with_dropout(
        VariationalDropoutConfig::new()
            .with_hidden(0.3)
            .with_output(0.3),
    );
    let train = Bptt::new(&stream(1200), 4, 8).unwrap();
    let valid = Bptt::new(&stream(300), 4, 8).unwrap();
    let mut cfg = config(4);
    cfg.lr = 0.3;
    cfg.schedule = LrSchedule::Plateau {
        factor: 0.5,
        threshold: 1.0,
    };
    let dir = |n: &str| std::env::temp_dir().join(format!("hz-kim-{n}-{}", std::process::id()));
    let (a_dir, b_dir) = (dir("a"), dir("b"));
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
    device.seed(3);
    let m = kim.init(&spelling, &device).unwrap();
    let run_a = RunDir::create(&a_dir).unwrap();
    let (_, hist_a) = fit_lm(
        m.clone(),
        &train,
        &valid,
        &cfg,
        &opts(&run_a, false, &device),
    )
    .unwrap();
    assert!(hist_a[3].valid_ppl < hist_a[0].valid_ppl, "{hist_a:?}");
    // The rule: from the fourth epoch on, the rate is halved once per earlier stall.
    let ppl: Vec<f64> = hist_a.iter().map(|e| e.valid_ppl).collect();
    let stalls = usize::from(ppl[1] - ppl[2] < 1.0);
    assert_eq!(hist_a[3].lr, 0.3 * 0.5f64.powi(stalls as i32), "{hist_a:?}");
    let run_b = RunDir::create(&b_dir).unwrap();
    let mut two = cfg.clone();
    two.epochs = 2;
    fit_lm(
        m.clone(),
        &train,
        &valid,
        &two,
        &opts(&run_b, false, &device),
    )
    .unwrap();
    let (_, hist_b) = fit_lm(m, &train, &valid, &cfg, &opts(&run_b, true, &device)).unwrap();
    assert_eq!(hist_b.len(), 4);
    for (x, y) in hist_a.iter().zip(&hist_b) {
        assert_eq!(x.train_ppl, y.train_ppl);
        assert_eq!(x.valid_ppl, y.valid_ppl);
        assert_eq!(x.lr, y.lr);
    }
    std::fs::remove_dir_all(&a_dir).ok();
    std::fs::remove_dir_all(&b_dir).ok();
}
