//! `kyc-bench selfies`: the reused-selfie index at a million hashes: the hash's cost at ingest,
//! building the index (what a start does), its memory, and a lookup (what each new case does),
//! over uniform hashes and over clusters of look-alike faces.

use std::time::Instant;

use anyhow::Context;
use kyc_core::phash::{dhash_bytes, Hashed, PhashIndex, MAX_DISTANCE};
use kyc_crypto::vault::Vault;

#[derive(clap::Args)]
pub struct Args {
    /// Hashes in the index.
    #[arg(long, default_value_t = 1_000_000)]
    hashes: usize,
    /// Lookups timed per kind.
    #[arg(long, default_value_t = 20_000)]
    lookups: usize,
}

/// A deterministic generator (xorshift): the same numbers every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn hash(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
    /// `h` with `bits` distinct random bits flipped.
    fn flip(&mut self, mut h: u128, bits: u32) -> u128 {
        let mut flipped = 0u128;
        while flipped.count_ones() < bits {
            flipped |= 1 << (self.next() % 128);
        }
        h ^= flipped;
        h
    }
}

fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize;
    samples[rank.min(samples.len()) - 1]
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Times `lookups` finds of `query(i)`; returns (p50, p95, p99, max) in µs and the matches found.
fn time_lookups(
    index: &PhashIndex,
    lookups: usize,
    mut query: impl FnMut(usize) -> u128,
) -> ([f64; 4], usize) {
    let mut samples = Vec::with_capacity(lookups);
    let mut found = 0;
    for i in 0..lookups {
        let q = query(i);
        let t = Instant::now();
        found += index.find(q, u64::MAX).len();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let p = [
        pct(&mut samples, 50.0),
        pct(&mut samples, 95.0),
        pct(&mut samples, 99.0),
        pct(&mut samples, 100.0),
    ];
    (p, found)
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let n = a.hashes;
    // The hash at ingest: real simulated selfies (decode + shrink + compare).
    let today = kyc_sim::Today {
        year: 2026,
        month: 1,
        day: 1,
    };
    let faces: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let s = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 5, &today);
            let b64 = s
                .payload
                .pointer(kyc_core::ingest::SELFIE)
                .and_then(|v| v.as_str())
                .context("a simulated selfie")?;
            Ok(base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                b64,
            )?)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut hash_ms = Vec::new();
    let mut face_hashes = Vec::new();
    for f in &faces {
        let t = Instant::now();
        face_hashes.push(dhash_bytes(f).context("a selfie decodes")?);
        hash_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let size = image::load_from_memory(&faces[0])?;
    let kib = faces.iter().map(Vec::len).sum::<usize>() as f64 / faces.len() as f64 / 1024.0;

    let mut rng = Rng(0x5eed_cafe_f00d_beef);
    let mut rows = Vec::new();
    for kind in ["uniform", "clustered"] {
        let before = rss_mib();
        let mut entries = Vec::with_capacity(n);
        let mut stored = Vec::with_capacity(n);
        for i in 0..n {
            let hash = match kind {
                // Different photos: independent hashes.
                "uniform" => rng.hash(),
                // Look-alike faces: variants of 200 real selfie hashes, 8 to 40 bits apart.
                _ => {
                    let base = face_hashes[i % face_hashes.len()];
                    let bits = 8 + (rng.next() % 33) as u32;
                    rng.flip(base, bits)
                }
            };
            stored.push(hash);
            entries.push(Hashed {
                case_id: i as i64 + 1,
                user: i as u64,
                hash,
            });
        }
        let t = Instant::now();
        let mut index = PhashIndex::from_entries(entries);
        let build_s = t.elapsed().as_secs_f64();
        // Then a day's worth of new cases, each added as it is stored (hashes since the build
        // are scanned one by one until a rebuild).
        let t = Instant::now();
        for i in 0..10_000 {
            index.insert(Hashed {
                case_id: (n + i) as i64 + 1,
                user: (n + i) as u64,
                hash: rng.hash(),
            });
        }
        let insert_us = t.elapsed().as_secs_f64() * 1e6 / 10_000.0;
        let mib = rss_mib() - before;
        // A new photo (no match expected) and a reused one (a stored hash, 0-2 bits changed).
        let (miss, miss_found) = time_lookups(&index, a.lookups, |_| match kind {
            "uniform" => rng.hash(),
            _ => {
                let base = face_hashes[(rng.next() % 200) as usize];
                let bits = 8 + (rng.next() % 33) as u32;
                rng.flip(base, bits)
            }
        });
        let mut pick = Rng(0x1234_5678_9abc_def1);
        let (hit, hit_found) = time_lookups(&index, a.lookups, |_| {
            let at = (pick.next() % n as u64) as usize;
            let bits = (pick.next() % u64::from(MAX_DISTANCE + 1)) as u32;
            pick.flip(stored[at], bits)
        });
        anyhow::ensure!(
            hit_found >= a.lookups,
            "every reused photo must be found: {hit_found} of {}",
            a.lookups
        );
        rows.push((
            kind, build_s, insert_us, mib, miss, miss_found, hit, hit_found,
        ));
        drop(index);
    }

    // What a start reads: every sealed hash opened (the index build is timed above).
    let vault = Vault::from_key(&[9; 32]);
    let sealed: Vec<Vec<u8>> = (0..n)
        .map(|i| vault.seal_image_hash(i as i64, u128::from(i as u64)))
        .collect();
    let t = Instant::now();
    for (i, s) in sealed.iter().enumerate() {
        let _ = vault.open_image_hash(i as i64, s)?;
    }
    let open_s = t.elapsed().as_secs_f64();

    println!(
        "\n### Reused-selfie index with {n} hashes\n\n\
         The hash at ingest (decode + shrink a {}x{} JPEG selfie of {kib:.0} KiB): p50 {:.1} ms, \
         p95 {:.1} ms.\n\
         Opening {n} sealed hashes at start: {open_s:.2} s.\n\n\
         | hashes | build at start, s | add one, µs | memory MiB | new photo: p50 / p95 / p99 / max µs | \
         reused photo (0-{MAX_DISTANCE} bits): p50 / p95 / p99 / max µs |\n|---|---:|---:|---:|---:|---:|",
        size.width(),
        size.height(),
        pct(&mut hash_ms.clone(), 50.0),
        pct(&mut hash_ms, 95.0),
    );
    for (kind, build_s, insert_us, mib, miss, miss_found, hit, hit_found) in rows {
        println!(
            "| {kind} | {build_s:.2} | {insert_us:.1} | {mib:.0} | {:.1} / {:.1} / {:.1} / {:.1} ({miss_found} found) | \
             {:.1} / {:.1} / {:.1} / {:.1} ({hit_found} found) |",
            miss[0], miss[1], miss[2], miss[3], hit[0], hit[1], hit[2], hit[3]
        );
    }
    Ok(())
}
