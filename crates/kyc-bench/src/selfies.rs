//! `kyc-bench selfies`: the reused-selfie index at a million hashes: the hash's cost at ingest,
//! building the index (what a start does), its memory, and a lookup (what each new case does),
//! over uniform hashes and over clusters of look-alike faces; then the same for the document
//! portraits' 512-bit hashes indexed by their folds, with the candidates each lookup measures.

use std::time::Instant;

use anyhow::Context;
use kyc_core::phash::{
    dhash_bytes, portrait_hash_bytes, Hashed, PhashIndex, WideHash, MAX_DISTANCE,
    PORTRAIT_MAX_DISTANCE,
};
use kyc_crypto::vault::Vault;
use kyc_store::phash::{fold, wide_distance};

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
    /// `h` with `bits` distinct random bits flipped (of 512).
    fn flip_wide(&mut self, mut h: WideHash, bits: u32) -> WideHash {
        let mut flipped = [0u128; 4];
        while flipped.iter().map(|q| q.count_ones()).sum::<u32>() < bits {
            let at = self.next() % 512;
            flipped[(at / 128) as usize] |= 1 << (at % 128);
        }
        for (q, f) in h.iter_mut().zip(flipped) {
            *q ^= f;
        }
        h
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
    let sims: Vec<kyc_sim::Submission> = (0..200)
        .map(|i| kyc_sim::generate(kyc_sim::Scenario::Clean, i, 5, &today))
        .collect();
    let simulated = |pointer: &str| {
        sims.iter()
            .map(|s| {
                let b64 = s
                    .payload
                    .pointer(pointer)
                    .and_then(|v| v.as_str())
                    .context("a simulated image")?;
                Ok(base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    b64,
                )?)
            })
            .collect::<anyhow::Result<Vec<Vec<u8>>>>()
    };
    let faces = simulated(kyc_core::ingest::SELFIE)?;
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
    portraits(&a, &simulated(PORTRAIT_POINTER)?)
}

const PORTRAIT_POINTER: &str = "/kyc_info/document/document_info/document_images/portrait_image";

/// The document portraits: 512-bit hashes, indexed by their folds; a match counts once the full
/// hash is measured (the store reads it from its sealed row: one indexed read per candidate).
fn portraits(a: &Args, photos: &[Vec<u8>]) -> anyhow::Result<()> {
    let n = a.hashes;
    let mut hash_ms = Vec::new();
    let mut real = Vec::new();
    for p in photos {
        let t = Instant::now();
        real.push(portrait_hash_bytes(p).context("a portrait decodes")?);
        hash_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let size = image::load_from_memory(&photos[0])?;
    // Other documents: variants of the 200 real portraits' hashes, 12 to 120 bits apart (another
    // person measured 12 or more, median 116; another photo of the same person 8 or more).
    let mut rng = Rng(0x0dd_ba11_c0ff_ee00);
    let other = |rng: &mut Rng| {
        let base = real[(rng.next() % real.len() as u64) as usize];
        let bits = 12 + (rng.next() % 109) as u32;
        rng.flip_wide(base, bits)
    };
    let before = rss_mib();
    let stored: Vec<WideHash> = (0..n).map(|_| other(&mut rng)).collect();
    let t = Instant::now();
    let index = PhashIndex::from_entries(
        stored
            .iter()
            .enumerate()
            .map(|(i, h)| Hashed {
                case_id: i as i64,
                user: i as u64,
                hash: fold(h),
            })
            .collect(),
    )
    .within(PORTRAIT_MAX_DISTANCE);
    let build_s = t.elapsed().as_secs_f64();
    let mib = rss_mib() - before - (n * std::mem::size_of::<WideHash>()) as f64 / 1048576.0;
    let lookup = |query: WideHash| {
        let t = Instant::now();
        let candidates = index.find(fold(&query), u64::MAX);
        let found = candidates
            .iter()
            .filter(|m| wide_distance(&stored[m.case_id as usize], &query) <= PORTRAIT_MAX_DISTANCE)
            .count();
        (t.elapsed().as_secs_f64() * 1e6, candidates.len(), found)
    };
    let mut rows = Vec::new();
    for kind in ["new document", "reused photo"] {
        let (mut us, mut candidates, mut found) = (Vec::new(), 0, 0);
        for _ in 0..a.lookups {
            let query = if kind == "new document" {
                other(&mut rng)
            } else {
                let at = (rng.next() % n as u64) as usize;
                let bits = (rng.next() % u64::from(PORTRAIT_MAX_DISTANCE + 1)) as u32;
                rng.flip_wide(stored[at], bits)
            };
            let (t, c, f) = lookup(query);
            us.push(t);
            candidates += c;
            found += f;
        }
        rows.push((kind, us, candidates, found));
    }
    anyhow::ensure!(
        rows[1].3 >= a.lookups,
        "every reused portrait must be found: {} of {}",
        rows[1].3,
        a.lookups
    );
    println!(
        "\n### Reused-document-photo index with {n} portrait hashes\n\n\
         The hash at ingest (decode + shrink a {}x{} JPEG portrait): p50 {:.1} ms, p95 {:.1} ms.\n\
         Index of the 128-bit folds: built in {build_s:.2} s, {mib:.0} MiB (the 512-bit hashes \
         themselves stay in their sealed rows).\n\n\
         | lookup | p50 / p95 / p99 / max µs | candidates per lookup (each one row read) | found |\n\
         |---|---:|---:|---:|",
        size.width(),
        size.height(),
        pct(&mut hash_ms.clone(), 50.0),
        pct(&mut hash_ms, 95.0),
    );
    for (kind, mut us, candidates, found) in rows {
        println!(
            "| {kind} | {:.1} / {:.1} / {:.1} / {:.1} | {:.2} | {found} |",
            pct(&mut us, 50.0),
            pct(&mut us, 95.0),
            pct(&mut us, 99.0),
            pct(&mut us, 100.0),
            candidates as f64 / a.lookups as f64,
        );
    }
    Ok(())
}
