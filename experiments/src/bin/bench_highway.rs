//! `bench-highway`: training-step throughput of the highway nets, fused vs unfused, on every
//! CPU backend compiled in, beside the PyTorch peer (`experiments::bench::highway`).

fn main() -> anyhow::Result<()> {
    experiments::bench::highway::run(std::env::args_os())
}
