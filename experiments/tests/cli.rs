//! The command lines of the binaries. A debug build runs clap's own checks of a command's
//! definition (`Command::debug_assert`) whenever it parses, so `--help` of each binary checks
//! its definition, and `--help` after a command's flags checks that they are all accepted:
//! clap reads the flags in order and stops at `--help` without running anything.

use std::process::Command;

/// Runs `bin args... --help` and returns the help text; fails if the binary rejects the
/// arguments or its definition.
fn help(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).arg("--help").output().unwrap();
    assert!(
        out.status.success(),
        "{bin} {} --help: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_binary_has_a_valid_command_line_with_the_shared_flags() {
    let all = ["--out", "--data-dir", "--device"];
    let training = ["--out", "--data-dir", "--quiet", "--device"];
    let binaries: [(&str, &[&str]); 12] = [
        (env!("CARGO_BIN_EXE_mnist-depth"), &training),
        (env!("CARGO_BIN_EXE_mnist-conv"), &training),
        (env!("CARGO_BIN_EXE_cifar"), &training),
        (env!("CARGO_BIN_EXE_ptb"), &training),
        (env!("CARGO_BIN_EXE_charlm"), &training),
        (env!("CARGO_BIN_EXE_gates"), &all),
        (env!("CARGO_BIN_EXE_lesion"), &all),
        (env!("CARGO_BIN_EXE_data"), &["--data-dir"]),
        (env!("CARGO_BIN_EXE_bench-rhn"), &["--device"]),
        (env!("CARGO_BIN_EXE_export"), &["--device"]),
        (env!("CARGO_BIN_EXE_bench-highway"), &["--devices"]),
        (
            env!("CARGO_BIN_EXE_sample"),
            &["--run", "--data-dir", "--device", "--top-k", "--top-p"],
        ),
    ];
    for (bin, flags) in binaries {
        let text = help(bin, &[]);
        for flag in flags {
            assert!(text.contains(flag), "{bin} --help lacks {flag}:\n{text}");
        }
    }
    // The fixed default directories are shown; the computed ones are described.
    let gates = help(env!("CARGO_BIN_EXE_gates"), &[]);
    assert!(
        gates.contains("[default: artifacts/analysis/gates]"),
        "{gates}"
    );
    let depth = help(env!("CARGO_BIN_EXE_mnist-depth"), &[]);
    assert!(
        depth.contains("[default: artifacts/mnist-depth]"),
        "{depth}"
    );
    let ptb = help(env!("CARGO_BIN_EXE_ptb"), &[]);
    assert!(ptb.contains("artifacts/ptb-MODEL-PRESET"), "{ptb}");
    // `data` takes --data-dir after its subcommand too.
    let data = env!("CARGO_BIN_EXE_data");
    for sub in ["fetch", "check", "stats"] {
        let text = help(data, &[sub, "--data-dir", "d"]);
        assert!(text.contains("--data-dir"), "data {sub} --help:\n{text}");
    }
}

#[test]
fn the_documented_commands_parse() {
    // The flags of the commands in README.md, docs/ and the binaries' own docs.
    let commands: [(&str, &str); 19] = [
        (
            env!("CARGO_BIN_EXE_mnist-depth"),
            "--depths 50 --kinds highway --runs 1 --epochs 25 --train-examples 60000 --lr 0.03 \
             --momentum 0.9 --decay 0.93 --activation relu --transform-bias=-2 --seed 2 \
             --out artifacts/analysis/mnist50/nets/bt-2 --quiet",
        ),
        (
            env!("CARGO_BIN_EXE_mnist-depth"),
            "--preset quick --device wgpu",
        ),
        (
            env!("CARGO_BIN_EXE_mnist-conv"),
            "--width 32 --epochs 13 --decay-epochs 9,12 --lr 0.05 --out artifacts/table1-m",
        ),
        (
            env!("CARGO_BIN_EXE_mnist-conv"),
            "--width 16 --epochs 9 --lr 0.05 --dataset fashion-mnist --out artifacts/t",
        ),
        (
            env!("CARGO_BIN_EXE_mnist-conv"),
            "--width 16 --transform-bias=-2 --out artifacts/mnist-conv-w16",
        ),
        (
            env!("CARGO_BIN_EXE_cifar"),
            "--samples --net a --augment off --iterations 150 --out artifacts/cifar-a-samples",
        ),
        (
            env!("CARGO_BIN_EXE_cifar"),
            "--samples --net tiny --augment off --iterations 150 --device cpu --out /tmp/smoke",
        ),
        (
            env!("CARGO_BIN_EXE_cifar"),
            "--net table3 --dataset cifar100 --device cuda",
        ),
        (
            env!("CARGO_BIN_EXE_ptb"),
            "--preset small --model lstm --batch-size 20 --optimizer adam --lr 0.002 --decay 2 \
             --decay-start 1 --max-minutes 60 --out artifacts/ptb-hour-lstm",
        ),
        (
            env!("CARGO_BIN_EXE_ptb"),
            "--preset small --epochs 1 --max-windows 200",
        ),
        (
            env!("CARGO_BIN_EXE_charlm"),
            "--corpus wiki --preset small --batch-size 64 --optimizer adam --lr 0.002 --decay 1 \
             --max-minutes 20",
        ),
        (
            env!("CARGO_BIN_EXE_charlm"),
            "--corpus enwik8 --preset sota",
        ),
        (
            env!("CARGO_BIN_EXE_gates"),
            "--run artifacts/analysis/mnist50/nets/bt-2,artifacts/analysis/mnist50/nets/bt-4 \
             --out artifacts/analysis/mnist50/gates",
        ),
        (
            env!("CARGO_BIN_EXE_gates"),
            "--rhn-run artifacts/ptb-hour-rhn --out artifacts/analysis/ptb-hour-rhn/gates",
        ),
        (
            env!("CARGO_BIN_EXE_gates"),
            "--conv-run artifacts/table1-mnist-w32-e13 --out artifacts/analysis/table1-mnist-w32-e13/gates",
        ),
        (
            env!("CARGO_BIN_EXE_lesion"),
            "--cifar-run artifacts/cifar-a-samples --out artifacts/analysis/cifar-a-samples/lesion",
        ),
        (
            env!("CARGO_BIN_EXE_lesion"),
            "--conv-run artifacts/table1-mnist-w32-e13 --train-examples 10000 \
             --out artifacts/analysis/table1-mnist-w32-e13/lesion",
        ),
        (env!("CARGO_BIN_EXE_data"), "fetch mnist"),
        (env!("CARGO_BIN_EXE_data"), "--data-dir d check ptb"),
    ];
    for (bin, args) in commands {
        help(bin, &args.split_whitespace().collect::<Vec<_>>());
    }
}

#[test]
fn bench_json_names_the_backend_plainly() {
    let dir = std::env::temp_dir().join(format!("hz-bench-json-{}", std::process::id()));
    let json = dir.join("rhn.json");
    let out = Command::new(env!("CARGO_BIN_EXE_bench-rhn"))
        .args(["--preset", "small", "--batch", "2", "--seq-len", "3"])
        .args(["--warmup", "0", "--steps", "1", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = value["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["device"], "flex", "{row}");
    }
    std::fs::remove_dir_all(dir).ok();
}
