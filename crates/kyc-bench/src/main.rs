//! `kyc-bench`: reproducible numbers for BENCHMARKS.md. `ingest` posts realistic 5 MB encrypted
//! submissions over HTTPS with OAuth2 to a real `kyc-desk serve` and to a floor (`floor`: the same
//! TLS stack that only appends the bytes to a file and fsyncs), and reports throughput, latency,
//! the server's CPU time per submission and its peak RSS; `review` times the review API with
//! 100,000 cases in the store; `sweep` a retention sweep while a sender posts; `selfies` the reused-selfie index at a million hashes.

mod cpu_cap;
mod ingest;
mod proc_stats;
mod review;
mod selfies;
mod sweep;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "kyc-bench", about = "KYC Desk benchmarks (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest throughput, latency, server CPU per submission and RSS, against the floor.
    Ingest(ingest::Args),
    /// The floor server: HTTPS, receive the body, append it to a file, fsync, answer 200.
    Floor(ingest::FloorArgs),
    /// Review API timings with many cases in the store.
    Review(review::Args),
    /// The reused-selfie index: hashing at ingest, build, memory and lookups at 10^6 hashes.
    Selfies(selfies::Args),
    /// A retention sweep on a kept review store, with ingest latency before and during it.
    Sweep(sweep::Args),
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Ingest(a) => ingest::run(a),
        Command::Floor(a) => ingest::floor(a),
        Command::Review(a) => review::run(a),
        Command::Selfies(a) => selfies::run(a),
        Command::Sweep(a) => sweep::run(a),
    }
}
