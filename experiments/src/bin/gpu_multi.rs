//! `bench-rhn`, `bench-highway` and `ptb` in one executable, run by the name it is called
//! under (a symbolic link of that name, or the program's name as the first argument), as
//! busybox does. A build with the `cuda` and `wgpu` features links Burn's GPU runtimes and
//! LLVM into every binary; `scripts/gpu-pack.sh` carries this one instead of three so that
//! the pack for a GPU machine holds that code once (`scripts/gpu-check.sh` makes the links).
//!
//! ```text
//! gpu-multi bench-rhn --device cuda --preset small      # or: ln -s gpu-multi bench-rhn
//! ```

use std::ffi::OsString;

use experiments::bench::{highway, rhn};

// `ptb`'s own `main` is not called here.
#[allow(dead_code)]
#[path = "ptb.rs"]
mod ptb;

type Program = fn(Vec<OsString>) -> anyhow::Result<()>;

const PROGRAMS: [(&str, Program); 3] = [
    ("bench-rhn", |args| rhn::run(args)),
    ("bench-highway", |args| highway::run(args)),
    ("ptb", |args| ptb::run(args)),
];

fn main() -> anyhow::Result<()> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = |arg: Option<&OsString>| {
        let name = std::path::Path::new(arg?)
            .file_name()?
            .to_str()?
            .to_string();
        PROGRAMS
            .iter()
            .find(|(program, _)| *program == name)
            .map(|(_, run)| run)
    };
    if let Some(run) = program(args.first()) {
        return run(args);
    }
    // `gpu-multi PROGRAM ARGS...`: the program's name becomes the first argument.
    let Some(run) = program(args.get(1)) else {
        let names: Vec<&str> = PROGRAMS.iter().map(|(name, _)| *name).collect();
        anyhow::bail!(
            "gpu-multi: give the program to run first, one of {}",
            names.join(", ")
        );
    };
    run(args[1..].to_vec())
}
