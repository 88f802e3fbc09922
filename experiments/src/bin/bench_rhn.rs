//! `bench-rhn`: tokens per second of one RHN (or character-aware) language-model training
//! step, beside the PyTorch peer (`experiments::bench::rhn`).

fn main() -> anyhow::Result<()> {
    experiments::bench::rhn::run(std::env::args_os())
}
