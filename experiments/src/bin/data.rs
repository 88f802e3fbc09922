//! `data`: fetch, verify and describe the data sets.
//!
//! ```text
//! cargo run -p experiments --bin data -- fetch mnist
//! cargo run -p experiments --bin data -- check ptb
//! cargo run -p experiments --bin data -- stats fashion-mnist
//! ```

use clap::{Parser, Subcommand};
use datasets::DatasetName;
use experiments::cli::DataDirArgs;

#[derive(Parser, Debug)]
#[command(about = "Fetch, verify (checksums) and describe the highway-zoo data sets")]
#[command(mut_arg("data_dir", |a| a.global(true)))]
struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    data: DataDirArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Find the files locally or download them, verifying checksums.
    Fetch {
        /// Data set names (mnist, fashion-mnist, cifar10, cifar100, cifar10-samples, ptb, wiki,
        /// enwik8, text8); none = all.
        names: Vec<DatasetName>,
    },
    /// Verify the checksums of the local files.
    Check {
        /// Data set names; none = all.
        names: Vec<DatasetName>,
    },
    /// Print sizes, class counts or vocabulary size and token counts.
    Stats {
        /// Data set names; none = all.
        names: Vec<DatasetName>,
    },
}

fn main() {
    let args = Args::parse();
    let dir = args.data.dir();
    let (Command::Fetch { names } | Command::Check { names } | Command::Stats { names }) =
        &args.command;
    let names: Vec<DatasetName> = if names.is_empty() {
        DatasetName::ALL.to_vec()
    } else {
        names.clone()
    };
    let mut failed = 0;
    for name in names {
        let result = match args.command {
            Command::Fetch { .. } => name.fetch(dir).map(|p| format!("{name}: {}", p.display())),
            Command::Check { .. } => name.check(dir).map(|r| r.to_string()),
            Command::Stats { .. } => name.stats(dir).map(|s| s.to_string()),
        };
        match result {
            Ok(text) => println!("{text}"),
            Err(e) => {
                failed += 1;
                eprintln!("{name}: {e}");
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
