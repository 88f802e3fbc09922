//! The command-line flags that several binaries share, defined once. A binary flattens in
//! (`#[command(flatten)]`) the ones it uses:
//!
//! | struct          | flag         | type              |
//! |-----------------|--------------|-------------------|
//! | [`OutArgs`]     | `--out`      | `Option<PathBuf>` |
//! | [`DataDirArgs`] | `--data-dir` | `Option<PathBuf>` |
//! | [`QuietArgs`]   | `--quiet`    | `bool`            |
//! | [`DeviceArgs`]  | `--device`   | `Option<String>`  |
//!
//! `mnist-depth`, `mnist-conv`, `cifar`, `ptb` and `charlm` take all four; `gates` and `lesion`
//! all but `--quiet`; `sample` `--data-dir` and `--device`; `data` only `--data-dir`;
//! `bench-rhn` and `export` only `--device`
//! (`bench-highway` times a list of devices, `--devices`).
//!
//! `--out` is optional everywhere because most binaries name their default directory after
//! their configuration (`artifacts/ptb-rhn-small`); [`OutArgs::dir_or_else`] supplies it. Each
//! binary states its own default in the flag's help (`#[command(mut_arg("out", |a| a.help(..)))]`
//! on its arguments struct), and one whose default is a fixed path declares it as the flag's
//! default value there too (`.default_value(..)`), so that `--help` shows it as before.

use std::path::{Path, PathBuf};

pub use crate::backend::DeviceArgs;

/// `--out`: where a binary writes its artifacts.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct OutArgs {
    /// Artifact directory (default: a directory under `artifacts/` named after the binary and
    /// its configuration).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl OutArgs {
    /// The directory `--out` names, else `default()`.
    pub fn dir_or_else(&self, default: impl FnOnce() -> PathBuf) -> PathBuf {
        self.out.clone().unwrap_or_else(default)
    }
}

/// `--data-dir`: where the data files are looked for first.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct DataDirArgs {
    /// Directory searched for the data files before the cache ($HIGHWAY_ZOO_DATA or
    /// ~/.cache/highway-zoo, which scripts/fetch-data.sh fills).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    /// The directory `--data-dir` names, if any (the data loaders' `data_dir` argument).
    pub fn dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

/// The flags of a training binary: [`OutArgs`], [`DataDirArgs`], [`QuietArgs`] and
/// [`DeviceArgs`] (with `--devices`), flattened in once.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// `--out`.
    #[command(flatten)]
    pub out: OutArgs,
    /// `--data-dir`.
    #[command(flatten)]
    pub data: DataDirArgs,
    /// `--quiet`.
    #[command(flatten)]
    pub quiet: QuietArgs,
    /// `--device`, `--devices`.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// `--quiet`: no progress output.
#[derive(clap::Args, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuietArgs {
    /// Print no progress lines, only the results.
    #[arg(long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Every shared flag at once, as a training binary flattens them in.
    #[derive(Parser, Debug)]
    struct All {
        #[command(flatten)]
        run: RunArgs,
    }

    /// A binary with a fixed default directory and its own help for `--out` and `--data-dir`.
    #[derive(Parser, Debug)]
    #[command(mut_arg("out", |a| a.help("Output directory").default_value("artifacts/x")))]
    #[command(mut_arg("data_dir", |a| a.help("Where the files are").global(true)))]
    struct Tuned {
        #[command(flatten)]
        out: OutArgs,
        #[command(flatten)]
        data: DataDirArgs,
    }

    #[test]
    fn the_shared_flags_are_a_valid_command_line() {
        All::command().debug_assert();
        Tuned::command().debug_assert();
        for flag in ["--out", "--data-dir", "--quiet", "--device"] {
            assert!(
                All::command().render_help().to_string().contains(flag),
                "{flag}"
            );
        }
    }

    #[test]
    fn the_shared_flags_parse_and_default() {
        let a =
            All::try_parse_from("x --out o --data-dir d --quiet --device cpu".split(' ')).unwrap();
        assert_eq!(
            a.run.out.dir_or_else(|| "unused".into()),
            PathBuf::from("o")
        );
        assert_eq!(a.run.data.dir(), Some(Path::new("d")));
        assert!(a.run.quiet.quiet);
        assert_eq!(a.run.device.device.as_deref(), Some("cpu"));
        let a = All::try_parse_from(["x"]).unwrap();
        assert_eq!(a.run.out, OutArgs::default());
        assert_eq!(
            a.run.out.dir_or_else(|| "dflt".into()),
            PathBuf::from("dflt")
        );
        assert_eq!((a.run.data.dir(), a.run.quiet.quiet), (None, false));
        // A binary's own default and help text replace the shared ones.
        let t = Tuned::try_parse_from(["x"]).unwrap();
        assert_eq!(t.out.out, Some(PathBuf::from("artifacts/x")));
        let help = Tuned::command().render_help().to_string();
        assert!(
            help.contains("Output directory [default: artifacts/x]"),
            "{help}"
        );
        assert!(help.contains("Where the files are"), "{help}");
    }
}
