//! The retention benchmark: on a store seeded by `kyc-bench review --keep`, a retention sweep
//! erases the oldest decided cases while a sender keeps posting submissions, and the sweep's time
//! and the posts' latency (before and during it) are reported.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::review::bench_desk;

#[derive(clap::Args)]
pub struct Args {
    /// The desk's data folder, seeded by `kyc-bench review --keep DIR` (its cases are erased:
    /// sweep a copy).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// About how many decided cases the sweep erases (the oldest).
    #[arg(long, default_value_t = 100_000)]
    erase: usize,
    /// Posts timed before the sweep (the baseline).
    #[arg(long, default_value_t = 100)]
    baseline: usize,
}

/// Latency percentiles of a series of posts, in ms.
fn summary(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    };
    format!(
        "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
        v.len(),
        pct(50.0),
        pct(95.0),
        pct(99.0),
        pct(100.0)
    )
}

pub fn run(a: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.data_dir.join(kyc_core::bootstrap::DB_FILE).exists(),
        "{}: no desk here (seed one with `kyc-bench review --keep DIR`)",
        a.data_dir.display()
    );
    let loaded = bench_desk(&a.data_dir, None)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let running = kyc_server::start(&loaded, None).await?;
        let store = running.desk.store().clone();
        let before = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.count()).await??
        };
        // The decision time before which about `erase` decided cases lie: the `erase`-th oldest
        // final decision.
        let cutoff: i64 = {
            let store = store.clone();
            let want = a.erase as u64;
            tokio::task::spawn_blocking(move || store.final_decision_at_rank(want))
                .await??
                .with_context(|| format!("fewer than {want} final decisions in the store"))?
        };
        eprintln!("{before} cases; the sweep erases what was decided before {cutoff}");

        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&running.tls.cert_pem)?)
            .timeout(Duration::from_secs(60))
            .build()?;
        let receiver = format!("https://{}/kyc", running.receiver_addr);
        let (year, month, day) = kyc_store::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let run_tag = format!("{:x}", kyc_store::timefmt::now_ms());
        // One sender posting one realistic submission after another until `stop`; each post's
        // latency in ms.
        let post_until = |first: u64, stop: Arc<std::sync::atomic::AtomicBool>, most: usize| {
            let (http, receiver, run_tag) = (http.clone(), receiver.clone(), run_tag.clone());
            async move {
                let mut lat = Vec::new();
                let mut i = first;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) && lat.len() < most {
                    let sub = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 77, &today);
                    let mut body = sub.payload.clone();
                    body["request_info"]["requester_id"] =
                        json!(format!("{}-{run_tag}", sub.requester_id));
                    let t = Instant::now();
                    let r = http.post(&receiver).json(&body).send().await?;
                    anyhow::ensure!(r.status() == 200, "POST: HTTP {}", r.status());
                    r.bytes().await?;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    i += 1;
                }
                Ok::<_, anyhow::Error>(lat)
            }
        };
        let never = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Five to warm up (connections, caches), then the baseline.
        post_until(0, never.clone(), 5).await?;
        let baseline = post_until(10, never, a.baseline).await?;

        // The sweep, as the hourly task runs it, with a sender posting throughout.
        let keep_days = 30;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sender = tokio::spawn(post_until(1_000_000, stop.clone(), usize::MAX));
        let t = Instant::now();
        let erased = running
            .desk
            .sweep_retention(cutoff + i64::from(keep_days) * 86_400_000, keep_days)
            .await?;
        let sweep_secs = t.elapsed().as_secs_f64();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let during = sender.await.context("the sender")??;
        let after = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.count()).await??
        };
        anyhow::ensure!(erased > 0, "the sweep erased nothing");
        running.shutdown(Duration::from_secs(2)).await;

        println!(
            "\n### A retention sweep of {erased} decided cases ({before} cases in the store, \
             {after} after; the sender's posts added {})\n\n\
             The sweep took {sweep_secs:.1} s ({:.0} erasures/s).\n\n\
             | posts (≈0.5 MB, 4 JPEGs, one sender) | n | p50 ms | p95 ms | p99 ms | max ms |\n\
             |---|---:|---:|---:|---:|---:|\n\
             | before the sweep {} \n| during the sweep {}",
            after - (before - erased as i64),
            erased as f64 / sweep_secs.max(1e-9),
            summary(&baseline),
            summary(&during),
        );
        println!(
            "\nCommand: `kyc-bench sweep --data-dir {} --erase {}`",
            a.data_dir.display(),
            a.erase
        );
        Ok(())
    })
}
