//! greenwood's benchmarks against its peers. Run with `cargo bench -p greenwood-bench`;
//! `BENCHMARKS.md` at the repository root holds the figures.
