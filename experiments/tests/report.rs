//! `report` on a committed fixture (`tests/fixtures/report/`): a 2-depth `mnist-depth` study
//! (`--preset quick` with depths 2 and 3) with its summaries, configs and provenance, one of its
//! runs exported and evaluated in PyTorch, a `cifar --samples` run, a `ptb` RHN run, two
//! `bench-rhn` files with provenance (one with the steps' GFLOP and `--matmul`'s product rates)
//! and one older one without, a `bench-highway` file with round rates (60, 50 and 40 steps/s),
//! four analysis records (`runs/analysis-*`: `gates` and `lesion` output of a 4-layer MLP with
//! the study that trained it, of a depth-2 RHN, of a CIFAR net and of a character-aware LM with
//! two highway layers and its Table 6 neighbours; the MLP's study must not enter the depth-study
//! tables), a `ptb --model kim` run trained as long as the RHN but at another commit (the README
//! row lists both), a `sample --json` record, and a Markdown page with marker sections
//! (`doc.md`). `expected.md` is the page as `report` must write it, every figure worked out by
//! hand from the fixture's numbers. The other tests check the marker sections of
//! `report::markdown`, and sections that `report::generate` makes of inputs built in memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use experiments::provenance::Provenance;
use experiments::report::inputs::{Bench, HighwayBench, HighwayBenchRow};
use experiments::report::markdown::{describe_change, replace, sections};
use experiments::report::{Inputs, Outcome, generate};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");

/// The bench files of the fixture, as the command line gives them.
const BENCH: [&str; 7] = [
    "bench/rhn-a.json",
    "bench/rhn-b.json",
    "bench/rhn-old.json",
    "bench/mlp.json",
    "bench/conv-old.json",
    "bench/conv-a.json",
    "bench/conv-b.json",
];

/// A fresh temporary directory.
fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-report-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the fixture's file `name` in `dir`.
fn copy_of(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join("doc.md");
    std::fs::copy(Path::new(FIXTURE).join(name), &to).unwrap();
    to
}

/// `report ARGS` run in the fixture directory (so that the run paths it prints are the
/// fixture's relative ones).
fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_report"))
        .current_dir(FIXTURE)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// `text` without what is between its markers: the hand-written part.
fn outside_markers(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("<!-- /report:") {
            inside = false;
        }
        if !inside {
            out.push_str(line);
        }
        if line.starts_with("<!-- report:") {
            inside = true;
        }
    }
    out
}

#[test]
fn report_writes_the_expected_tables_and_nothing_else() {
    let dir = temp("write");
    let doc = copy_of("doc.md", &dir);
    let doc_arg = doc.to_str().unwrap();
    let mut args = vec!["--runs", "runs", "--bench"];
    args.extend(BENCH);
    args.extend(["--write", doc_arg]);
    let out = report(&args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let written = read(&doc);
    let expected = read(&Path::new(FIXTURE).join("expected.md"));
    assert_eq!(written, expected);
    // The text outside the markers is the original's, byte for byte.
    let original = read(&Path::new(FIXTURE).join("doc.md"));
    assert_eq!(outside_markers(&written), outside_markers(&original));
    // A section without inputs is left as it is and named; so is the bench file it cannot use
    // and the summary row it keeps.
    assert!(written.contains("| 99.45 | kept |"));
    for note in [
        "not regenerated: no runs for table1",
        "bench/rhn-old.json: rows without provenance",
        "row [MNIST conv net, Table 1](docs/results.md#mnist-conv-net-table-1-and-fashion-mnist) kept as it is",
        "wrote ",
    ] {
        assert!(err.contains(note), "{note}: {err}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn check_fails_on_a_stale_file_and_passes_on_a_fresh_one() {
    let dir = temp("check");
    let mut base = vec!["--check", "--runs", "runs", "--bench"];
    base.extend(BENCH);
    base.push("--write");
    // Stale: exit 1, a diff-like message, the file untouched.
    let stale = copy_of("doc.md", &dir);
    let mut args = base.clone();
    args.push(stale.to_str().unwrap());
    let out = report(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("report:depth-study-quick would change"),
        "{err}"
    );
    assert!(err.contains("-stale content\n"), "{err}");
    assert!(
        err.contains("+| 3 | 2.303e0 | 1.250e-1 | 18.4x | 11.35% | 93.00% |\n"),
        "{err}"
    );
    assert!(err.contains("report --check: out of date"), "{err}");
    assert_eq!(read(&stale), read(&Path::new(FIXTURE).join("doc.md")));
    // Fresh: exit 0.
    let fresh = copy_of("expected.md", &dir);
    let mut args = base.clone();
    args.push(fresh.to_str().unwrap());
    let out = report(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&fresh), read(&Path::new(FIXTURE).join("expected.md")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sections_without_inputs_are_left_as_they_are() {
    let dir = temp("empty");
    let runs = dir.join("no-runs");
    std::fs::create_dir_all(&runs).unwrap();
    let doc = copy_of("doc.md", &dir);
    let out = report(&[
        "--runs",
        runs.to_str().unwrap(),
        "--bench",
        "bench/rhn-old.json",
        "--write",
        doc.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for name in [
        "summary",
        "depth-study-quick",
        "table1",
        "export",
        "speed-rhn",
        "cifar",
    ] {
        assert!(
            err.contains(&format!("not regenerated: no runs for {name}\n")),
            "{name}: {err}"
        );
    }
    // Only `sizes`, which needs no runs, is generated; everything else is the original.
    let original = read(&Path::new(FIXTURE).join("doc.md"));
    let expected_sizes = {
        let e = read(&Path::new(FIXTURE).join("expected.md"));
        let start = e.find("<!-- report:sizes -->\n").unwrap();
        let end = e.find("<!-- /report:sizes -->").unwrap();
        e[start..end].to_string()
    };
    let want = original.replace("<!-- report:sizes -->\n", &expected_sizes);
    assert_eq!(read(&doc), want);
    std::fs::remove_dir_all(dir).ok();
}

/// Copies the directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn a_malformed_summary_is_an_error_naming_the_file() {
    let dir = temp("malformed");
    let runs = dir.join("runs");
    copy_dir(&Path::new(FIXTURE).join("runs"), &runs);
    let doc = copy_of("doc.md", &dir);
    let summary = runs.join("study/plain-002/run-00/summary.json");
    let lesion = runs.join("analysis-mlp/lesion/lesion-bt-2.json");
    let gates = runs.join("analysis-mlp/gates/bt-2/report.json");
    let biases = runs.join("analysis-mlp/gates/bt-2/biases.json");
    let char_report = runs.join("analysis-char/gates/char/report.json");
    let neighbours = runs.join("analysis-char/gates/char/neighbours.json");
    let sample = runs.join("sample-ptb-rhn/sample.json");
    for (file, text, message) in [
        (
            &summary,
            r#"{"kind": "Plain", "depth": 2,"#,
            "is not valid JSON",
        ),
        (
            &summary,
            r#"{"kind": "Plain", "depth": 2, "hyper": {}}"#,
            "is not a valid mnist-depth run summary",
        ),
        (
            &lesion,
            r#"{"label": "b_T=-2"}"#,
            "is not a valid lesion report",
        ),
        (&gates, r#"{"layers": 3}"#, "is not a valid gate report"),
        (
            &biases,
            r#"[{"layer": 2}]"#,
            "is not a valid list of learned gate biases",
        ),
        (
            &char_report,
            r#"{"layers": 1}"#,
            "is not a valid character-aware LM gate report",
        ),
        (
            &neighbours,
            r#"[{"word": "while"}]"#,
            "is not a valid list of nearest neighbours",
        ),
        (
            &sample,
            r#"{"run": "runs/ptb-rhn"}"#,
            "is not a valid sample record",
        ),
    ] {
        let original = std::fs::read(file).unwrap();
        std::fs::write(file, text).unwrap();
        let out = report(&[
            "--runs",
            runs.to_str().unwrap(),
            "--bench",
            "bench/rhn-a.json",
            "--write",
            doc.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{} {message}", file.display())),
            "{err}"
        );
        assert_eq!(read(&doc), read(&Path::new(FIXTURE).join("doc.md")));
        std::fs::write(file, original).unwrap();
    }
    // An MLP's gate report without its biases, a character-aware LM's without its neighbours.
    for (file, message) in [
        (&biases, "an MLP's gate report without biases.json"),
        (
            &neighbours,
            "a character-aware LM's gate report without neighbours.json",
        ),
    ] {
        let original = std::fs::read(file).unwrap();
        std::fs::remove_file(file).unwrap();
        let out = report(&[
            "--runs",
            runs.to_str().unwrap(),
            "--write",
            doc.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{err}");
        std::fs::write(file, original).unwrap();
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_documented_commands_parse() {
    for args in [
        "--write README.md docs/results.md docs/speed.md docs/analysis.md",
        "--check --write README.md docs/results.md docs/speed.md docs/analysis.md",
        "--runs docs/runs --bench docs/bench/rhn-tokens.json --write README.md",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_report"))
            .args(args.split(' '))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args}: {}", stderr(&out));
    }
    // --check needs files to check.
    let out = report(&["--check"]);
    assert!(!out.status.success());
}

#[test]
fn sections_are_found_and_replaced_leaving_the_rest() {
    let text = "a\n<!-- report:x -->\nold\n<!-- /report:x -->\nb\n<!-- report:y -->\n<!-- /report:y -->\nc";
    let file = Path::new("f.md");
    let s = sections(text, file).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].name.as_str(), s[0].line), ("x", 2));
    assert_eq!(&text[s[0].content.clone()], "old\n");
    assert_eq!(&text[s[1].content.clone()], "");
    let out = replace(text, &s, &[None, Some("new\n".into())]);
    assert_eq!(
        out,
        "a\n<!-- report:x -->\nold\n<!-- /report:x -->\nb\n<!-- report:y -->\nnew\n<!-- /report:y -->\nc"
    );
    assert_eq!(
        describe_change("h\nold\nt\n", "h\nnew\nnewer\nt\n", 3),
        "@@ line 4 @@\n-old\n+new\n+newer\n"
    );
}

#[test]
fn bad_markers_name_the_file_and_line() {
    let file = Path::new("f.md");
    for (text, expected) in [
        (
            "<!-- report:x -->\n",
            "f.md:1: <!-- report:x --> is never closed",
        ),
        (
            "\n<!-- /report:x -->\n",
            "f.md:2: <!-- /report:x --> without",
        ),
        (
            "<!-- report:x -->\n<!-- report:y -->\n",
            "f.md:2: <!-- report:y --> inside report:x",
        ),
        (
            "<!-- report:x -->\n<!-- /report:y -->\n",
            "f.md:2: <!-- /report:y --> closes report:x",
        ),
        (
            "<!-- report:x -->\n<!-- /report:x -->\n<!-- report:x -->\n<!-- /report:x -->\n",
            "f.md:3: report:x appears twice",
        ),
    ] {
        let err = sections(text, file).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{err}");
    }
}

/// A `bench-highway` file of `rows` (name, steps/s) with `provenance`.
fn highway_bench(provenance: Provenance, rows: &[(&str, f64)]) -> HighwayBench {
    let row = |&(name, steps_per_s): &(&str, f64)| HighwayBenchRow {
        name: name.into(),
        steps_per_s,
        gflop_per_step: None,
    };
    Bench {
        file: "b.json".into(),
        provenance,
        rows: rows.iter().map(row).collect(),
        matmul: None,
    }
}

/// The content of section `name` generated from `inputs` over `existing`.
fn generated(name: &str, existing: &str, inputs: &Inputs) -> String {
    match generate(name, existing, inputs).unwrap() {
        Outcome::Generated { content, .. } => content,
        Outcome::NotRegenerated(why) => panic!("{name}: {why}"),
    }
}

#[test]
fn sizes_match_the_paper_presets() {
    let content = generated("sizes", "", &Inputs::default());
    assert!(content.contains("| MNIST conv highway, width 16 (Table 1) | 39K | 38,986 |"));
    assert!(content.contains("| RHN `ptb_sota` (depth 10, 830 units, tied) | 23M | 23,482,400 |"));
}

#[test]
fn the_mlp_speed_row_gives_the_range_over_the_newest_commits_runs() {
    let bench = |commit: &str, date: &str, fast: f64, ops: f64| {
        let mut provenance = Provenance::current();
        provenance.git_commit = commit.into();
        provenance.date = date.into();
        highway_bench(
            provenance,
            &[
                ("Mlp flex fast depth 50 width 71 batch 128", fast),
                ("Mlp flex unfused depth 50 width 71 batch 128", ops),
                ("PyTorch mlp depth 50 width 71 batch 128 threads 2", 40.0),
            ],
        )
    };
    let inputs = Inputs {
        bench_highway: vec![
            bench("aaa", "2026-12-01T10:00:00Z", 80.0, 40.0),
            bench("bbb", "2026-12-01T12:00:00Z", 44.0, 36.0),
            bench("bbb", "2026-12-01T12:05:00Z", 60.0, 48.0),
        ],
        ..Inputs::default()
    };
    // The row's `here` cell.
    let content = generated("summary", "", &inputs);
    let here = "| 1.10-1.50× over 2 runs (Burn's own ops: 0.90-1.20×) |";
    assert!(content.contains(here), "{content}");
    let one = Inputs {
        bench_highway: vec![bench("aaa", "2026-12-01T10:00:00Z", 80.0, 40.0)],
        ..Inputs::default()
    };
    let content = generated("summary", "", &one);
    assert!(
        content.contains("| 2.00× (Burn's own ops: 1.00×) |"),
        "{content}"
    );
}

#[test]
fn without_inputs_the_summary_is_not_regenerated_and_rows_are_kept_in_place() {
    let existing = "| a | b |\n|---|---|\n| [X](y) | 1 |\n";
    assert!(matches!(
        generate("summary", existing, &Inputs::default()).unwrap(),
        Outcome::NotRegenerated(_)
    ));
}

#[test]
fn only_files_timed_on_a_gpu_are_speed_gpu_rows() {
    let bench = |gpu: Option<&str>| {
        let mut provenance = Provenance::current();
        provenance.machine.gpu = gpu.map(String::from);
        provenance.backend = "cuda,wgpu".into();
        highway_bench(
            provenance,
            &[
                ("Mlp cuda fused depth 50 width 71 batch 128", 300.0),
                ("PyTorch mlp depth 50 width 71 batch 128 on cuda", 200.0),
            ],
        )
    };
    let cpu = Inputs {
        bench_highway: vec![bench(None)],
        ..Inputs::default()
    };
    assert!(matches!(
        generate("speed-gpu", "", &cpu).unwrap(),
        Outcome::NotRegenerated(_)
    ));
    let gpu = Inputs {
        bench_highway: vec![bench(Some("NVIDIA H100 80GB HBM3, driver 580.95.05"))],
        ..Inputs::default()
    };
    let content = generated("speed-gpu", "", &gpu);
    assert!(
        content.contains("| 50×71 highway MLP, Adam (fused), batch 128 | `cuda` | 300 steps/s | 200 steps/s | 1.50 |"),
        "{content}"
    );
    assert!(content.contains("NVIDIA H100 80GB HBM3"), "{content}");
}
