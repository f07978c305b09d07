//! The review benchmark: a store seeded with many cases (simulated people, flags, decisions over
//! 90 days), then the review API timed over HTTP as the desk uses it: the first queue page, a
//! filtered search, opening a case with its images, and the time from a POST to `case.created`.

use kyc_core::users::Accounts as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use futures::StreamExt;
use kyc_core::config::{AuthMode, Config, Loaded, OnTimeout};
use kyc_core::ingest::OpenedBody;
use kyc_domain::case::NewDecision;
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Cases in the store. A SQLite store is seeded by a store that syncs nothing (a power cut
    /// while seeding may damage it: seed again); the timings run on it as `serve` opens it.
    #[arg(long, default_value_t = 100_000)]
    cases: usize,
    /// Samples per measurement.
    #[arg(long, default_value_t = 30)]
    repeat: usize,
    /// Untimed calls before each measurement's samples. One warms the caches; a long-running desk
    /// is better seen after more: PostgreSQL prepares each statement once per pooled connection
    /// and plans its first five runs there for their values before it keeps a generic plan.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    warmup: u64,
    /// Folder for the data (on the disk being measured).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Store the cases on this (empty) PostgreSQL database instead of SQLite
    /// (`postgres://user@host:port/db`, the password from KYC_DESK_DB_PASSWORD).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Keep the desk's data in DIR (made if missing) and reuse what an earlier run seeded there
    /// (with `--postgres`: its master key, and the cases in that database): a store that already
    /// holds `--cases` cases is timed as it is, without seeding.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// A desk on `work_path` (or on PostgreSQL at `postgres`) for the benchmarks: no caller
/// authentication or body encryption, every case answered at once (accepted), both listeners on
/// free loopback ports.
pub(crate) fn bench_desk(
    work_path: &std::path::Path,
    postgres: Option<String>,
) -> anyhow::Result<Loaded> {
    let mut config = Config::first_start();
    config.receiver.auth.mode = AuthMode::None;
    config.receiver.request_encryption = Default::default();
    config.receiver.response_encryption = Default::default();
    config.receiver.listen = "127.0.0.1:0".parse()?;
    config.review.listen = "127.0.0.1:0".parse()?;
    config.decision.hold_secs = 0;
    config.decision.on_timeout = OnTimeout::Accept;
    config.storage.url = postgres;
    Ok(Loaded {
        config,
        path: work_path.join("kyc-desk.toml"),
        data_dir: work_path.to_path_buf(),
        created: false,
    })
}

/// The bytes of every file under `dir` (0 when it is missing: PostgreSQL keeps the images).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// A tiny valid JPEG (the bulk of the seeded cases do not need real pictures).
fn tiny_jpeg() -> String {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([180, 160, 140]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .expect("JPEG in memory");
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn shrink_images(v: &mut Value, tiny: &str) {
    match v {
        Value::String(s) if s.len() > 4000 && s.starts_with("/9j/") => *s = tiny.to_string(),
        Value::Array(a) => a.iter_mut().for_each(|x| shrink_images(x, tiny)),
        Value::Object(o) => o.values_mut().for_each(|x| shrink_images(x, tiny)),
        _ => {}
    }
}

struct Timing {
    what: &'static str,
    goal_ms: f64,
    samples: Vec<f64>,
}

impl Timing {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.samples.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    }
}

async fn timed<F, Fut>(
    what: &'static str,
    goal_ms: f64,
    n: usize,
    warmup: u64,
    mut f: F,
) -> anyhow::Result<Timing>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // The warm-up calls, then the samples.
    for _ in 0..warmup {
        f(0).await?;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i + 1).await?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Timing {
        what,
        goal_ms,
        samples,
    })
}

/// Cases stored per transaction while seeding ([`kyc_store::Store::import`]).
const SEED_BATCH: usize = 500;

/// Seeds `n` cases spread over 90 days before `now` (the last 20 with the simulator's real
/// pictures, opened as ingest opens a body; the others copies of 40 tiny-pictured templates
/// opened once, each with its own ids and hashes): a thread makes the submissions while this one
/// stores them, a batch per transaction. Returns the ids of the cases with real pictures.
fn seed(
    store: &kyc_store::Store,
    n: usize,
    policy: &kyc_core::config::DecisionConfig,
    sims: &[kyc_sim::Submission],
    templates: &[(String, String, String)],
    now: i64,
) -> anyhow::Result<Vec<i64>> {
    use kyc_store::import::{Import, Then};
    let started = Instant::now();
    let decision = |approve: bool, by: &str, comment: &str| NewDecision {
        approve,
        reasons: if approve {
            vec![]
        } else {
            vec!["data_mismatch".into()]
        },
        comment: comment.into(),
        by_user: Some(by.into()),
        rule: None,
        link_user_id: None,
        respect_assignment: false,
    };
    // The shrunken templates, opened once: each tiny case is a copy with its own ids.
    let opened = templates
        .iter()
        .map(|t| kyc_core::ingest::open(&OpenedBody::plain(t.0.clone().into_bytes())))
        .collect::<Result<Vec<_>, _>>()?;
    let one = |i: usize| -> anyhow::Result<Import> {
        let k = i % templates.len();
        let rid = format!("{:08x}-0000-4000-8000-{i:012x}", 0xbe_u32);
        let user = format!("user-{}@example.com", i % (n * 3 / 10).max(1));
        let ids = |text: &str| {
            text.replace(&templates[k].1, &rid)
                .replace(&templates[k].2, &user)
        };
        let sub = if i + 20 >= n {
            // The realistic tail: opened as ingest opens a body.
            let text = ids(&sims[k].payload.to_string());
            kyc_core::ingest::open(&OpenedBody::plain(text.into_bytes()))?
        } else {
            let mut sub = opened[k].clone();
            sub.raw_json = ids(&sub.raw_json);
            if let Some(info) = sub.payload.request_info.as_mut() {
                info.requester_id = Some(rid.clone());
                info.user_id = Some(user.clone());
            }
            sub.requester_id = rid;
            sub.user_id = user;
            // The templates share one tiny selfie and portrait; each case stands for a
            // different face, so each gets hashes of its own (as different photos do: dozens of
            // bits apart).
            sub.selfie_hash = Some(rand::random());
            sub.portrait_hash = Some(rand::random());
            sub
        };
        // Spread over 90 days, oldest first.
        let at = now - ((n - i) as i64 * 90 * 86_400_000 / n as i64);
        let flags =
            kyc_domain::checks::evaluate(&sub.payload, policy, kyc_domain::time::date_of(at));
        let then = if i + 20 >= n {
            Then::Nothing
        } else if i.is_multiple_of(10) {
            // The checker's queue: a first approval under four-eyes (still pending).
            Then::Decide {
                decision: decision(true, "rob", "first look: fine"),
                four_eyes: true,
            }
        } else if i % 10 == 5 {
            Then::Assign {
                to: "bench".into(),
                by: "bench".into(),
            }
        } else if !i.is_multiple_of(5) {
            Then::Decide {
                decision: decision(!i.is_multiple_of(7), ["rita", "rob", "sam"][i % 3], ""),
                four_eyes: false,
            }
        } else {
            Then::Nothing
        };
        // As the receiver does: repeat users and reused documents are flagged by the store,
        // inside the insert.
        Ok(Import {
            sub,
            flags,
            received_at_ms: at,
            then,
        })
    };
    let (to_store, batches) = std::sync::mpsc::sync_channel::<Vec<Import>>(2);
    let mut real = Vec::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let opener = scope.spawn(move || -> anyhow::Result<()> {
            for first in (0..n).step_by(SEED_BATCH) {
                let batch = (first..(first + SEED_BATCH).min(n))
                    .map(one)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                if to_store.send(batch).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut done = 0;
        for batch in batches {
            let ids = store.import(&batch)?;
            for id in ids {
                // The last 20, with real pictures.
                if done + 20 >= n {
                    real.push(id);
                }
                done += 1;
            }
            if done % 50_000 < SEED_BATCH {
                eprintln!(
                    "seeded {done} cases ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        opener
            .join()
            .map_err(|_| anyhow::anyhow!("the opening thread panicked"))?
    })?;
    Ok(real)
}

/// The bench's accounts: an admin who reads the desk, and the reviewers the seeded decisions
/// name.
fn add_bench_users(store: &kyc_store::Store) -> anyhow::Result<()> {
    store.add_user("bench", kyc_core::users::Role::Admin, "bench password 123")?;
    for r in ["rita", "rob", "sam"] {
        store.add_user(r, kyc_core::users::Role::Reviewer, "bench password 123")?;
    }
    Ok(())
}

/// A store seeded by an earlier run: its newest cases have real images (the last seeded ones,
/// and the POSTs of earlier runs).
async fn newest_cases(store: &Arc<kyc_store::Store>) -> anyhow::Result<Vec<i64>> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<i64>> {
        let q = kyc_domain::case::CaseQuery {
            limit: 20,
            ..Default::default()
        };
        Ok(store.list(&q)?.cases.iter().map(|c| c.id).collect())
    })
    .await?
}

pub fn run(a: Args) -> anyhow::Result<()> {
    // The kept folder, or a temporary one (removed when `_temp` goes at the end).
    let (work_path, _temp) = match (&a.keep, &a.work_dir) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir)?;
            (dir.clone(), None)
        }
        (None, under) => {
            let mut builder = tempfile::Builder::new();
            builder.prefix("kyc-bench-review-");
            let temp = match under {
                Some(d) => builder.tempdir_in(d)?,
                None => builder.tempdir()?,
            };
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let loaded = bench_desk(&work_path, a.postgres.clone())?;
    let config = loaded.config.clone();
    // Seed: 40 simulated people (all scenarios) as templates; real images for the last 20.
    let (year, month, day) = kyc_store::timefmt::today();
    let today = kyc_sim::Today { year, month, day };
    let sims: Vec<kyc_sim::Submission> = (0..40)
        .map(|i| kyc_sim::generate(kyc_sim::Scenario::Mixed, i, 11, &today))
        .collect();
    let tiny = tiny_jpeg();
    let templates: Vec<(String, String, String)> = sims
        .iter()
        .map(|s| {
            let mut p = s.payload.clone();
            shrink_images(&mut p, &tiny);
            (p.to_string(), s.requester_id.clone(), s.user_id.clone())
        })
        .collect();
    let now = kyc_store::timefmt::now_ms();
    // A SQLite store is seeded before the server opens it, by a store of its own that syncs
    // nothing (a power cut meanwhile may damage it: seed again); everything timed afterwards
    // runs on the store as the server opens it, synced as always. A PostgreSQL database is
    // seeded through the server's store.
    let seeded_unsynced = match &a.postgres {
        Some(_) => None,
        None => {
            let master =
                kyc_core::bootstrap::master_key(&loaded.config.storage, &loaded.data_dir, || None)?;
            let store = kyc_store::Store::open_unsynced(
                &work_path.join(kyc_core::bootstrap::DB_FILE),
                master,
            )?;
            Some(if store.count()? >= a.cases as i64 {
                None
            } else {
                let started = Instant::now();
                add_bench_users(&store)?;
                let ids = seed(&store, a.cases, &config.decision, &sims, &templates, now)?;
                Some((ids, started.elapsed().as_secs_f64()))
            })
        }
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let running = kyc_server::start(&loaded, None).await?;
        let store = running.desk.store().clone();
        // The cases with real images, and how long seeding took (None: a kept store).
        let (seeded, seed_secs) = match seeded_unsynced {
            Some(Some((ids, secs))) => (ids, Some(secs)),
            Some(None) => (newest_cases(&store).await?, None),
            None => {
                let reuse = {
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || store.count()).await??
                } >= a.cases as i64;
                if reuse {
                    (newest_cases(&store).await?, None)
                } else {
                    // The store's calls block (PostgreSQL's driver refuses an async thread).
                    let store = store.clone();
                    let policy = config.decision.clone();
                    let n = a.cases;
                    let sims = sims.clone();
                    let started = Instant::now();
                    let ids = tokio::task::spawn_blocking(move || {
                        add_bench_users(&store)?;
                        seed(&store, n, &policy, &sims, &templates, now)
                    })
                    .await??;
                    (ids, Some(started.elapsed().as_secs_f64()))
                }
            }
        };
        // The SQLite file's size (a PostgreSQL database's is its server's: 0 here).
        let db_mib = std::fs::metadata(work_path.join(kyc_core::bootstrap::DB_FILE))
            .map_or(0, |m| m.len()) as f64
            / (1 << 20) as f64;
        let seeding = match seed_secs {
            Some(secs) => format!("seeded in {secs:.0} s"),
            None => "a kept store, seeded by an earlier run".to_string(),
        };
        eprintln!("{} cases, {seeding} ({db_mib:.0} MiB)", a.cases);
        // What the store costs per case, and what verifying its whole audit trail takes.
        let image_mib = dir_bytes(&work_path.join(kyc_store::imagefiles::IMAGES_DIR)) as f64
            / (1 << 20) as f64;
        let (audit_entries, verify_secs) = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, f64)> {
                let t = Instant::now();
                match store.verify_audit()? {
                    kyc_domain::audit::Verdict::Intact { entries } => {
                        Ok((entries, t.elapsed().as_secs_f64()))
                    }
                    broken => anyhow::bail!("the seeded audit trail does not verify: {broken:?}"),
                }
            })
            .await??
        };

        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&running.tls.cert_pem)?)
            .timeout(Duration::from_secs(60))
            .build()?;
        let review = running.review_url();
        let login: Value = http
            .post(format!("{review}/api/login"))
            .json(&json!({"username": "bench", "password": "bench password 123"}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["token"].as_str().context("login")?.to_string();
        let get = |path: String| {
            let (http, token, review) = (http.clone(), token.clone(), review.clone());
            async move {
                let r = http
                    .get(format!("{review}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "{path}: HTTP {}", r.status());
                Ok::<_, anyhow::Error>(r.bytes().await?)
            }
        };
        let surname = sims[3].surname.clone();
        let from = kyc_domain::time::rfc3339(now - 30 * 86_400_000)[..10].to_string();
        let search = format!("/api/cases?status=all&limit=50&q={surname}");
        let filter =
            format!("/api/cases?status=approved&flag=user_seen_before&from={from}&limit=50");
        let checker = "/api/cases?status=pending&awaiting_second=true&limit=50".to_string();
        let mine = "/api/cases?status=pending&assignee=me&limit=50".to_string();
        let mine_search = format!("/api/cases?status=pending&assignee=me&q={surname}&limit=50");
        // A fast empty answer would prove nothing: these queries must find a full first page.
        for (what, path) in [
            ("search", &search),
            ("filter", &filter),
            ("checker's queue", &checker),
            ("assigned to me", &mine),
        ] {
            let page: Value = serde_json::from_slice(&get(path.clone()).await?)?;
            let n = page["cases"].as_array().map_or(0, Vec::len);
            if n < 50 {
                anyhow::bail!("the {what} {path} found {n} cases, not a full page of 50");
            }
        }
        let mut timings = Vec::new();
        timings.push(
            timed("first queue page (pending, 50)", 50.0, a.repeat, a.warmup, |_| {
                let g = get("/api/cases?status=pending&limit=50".into());
                async move { g.await.map(|_| ()) }
            })
            .await?,
        );
        timings.push(
            timed("first page of all cases (50)", 50.0, a.repeat, a.warmup, |_| {
                let g = get("/api/cases?status=all&limit=50".into());
                async move { g.await.map(|_| ()) }
            })
            .await?,
        );
        timings.push(
            timed("search by surname (all statuses)", 100.0, a.repeat, a.warmup, |_| {
                let g = get(search.clone());
                async move { g.await.map(|_| ()) }
            })
            .await?,
        );
        timings.push(
            timed("filter: flag + status + date range", 100.0, a.repeat, a.warmup, |_| {
                let g = get(filter.clone());
                async move { g.await.map(|_| ()) }
            })
            .await?,
        );
        for (what, path) in [
            ("checker's queue: pending, awaiting second approval (50)", &checker),
            ("pending, assigned to me (50)", &mine),
            ("pending, assigned to me, search by surname", &mine_search),
        ] {
            timings.push(
                timed(what, 50.0, a.repeat, a.warmup, |_| {
                    let g = get(path.clone());
                    async move { g.await.map(|_| ()) }
                })
                .await?,
            );
        }
        let real = Arc::new(seeded);
        timings.push(
            timed("open a case with its images", 150.0, a.repeat, a.warmup, |i| {
                let id = real[i % real.len()];
                async move {
                    let detail: Value = serde_json::from_slice(&get(format!("/api/cases/{id}")).await?)?;
                    let images = detail["images"].as_array().context("images")?.clone();
                    let fetches = images.iter().map(|img| {
                        get(format!("/api/cases/{id}/images/{}", img["name"].as_str().unwrap_or("")))
                    });
                    for r in futures::future::join_all(fetches).await {
                        r?;
                    }
                    Ok(())
                }
            })
            .await?,
        );

        // A page deep into the list: the cursor 1,000 pages (50,000 cases) in, or the last.
        let mut deep = None;
        for _ in 0..1000 {
            let path = match &deep {
                None => "/api/cases?status=all&limit=50".to_string(),
                Some(c) => format!("/api/cases?status=all&limit=50&cursor={c}"),
            };
            let page: Value = serde_json::from_slice(&get(path).await?)?;
            match page["next"].as_str() {
                Some(next) => deep = Some(next.to_string()),
                None => break,
            }
        }
        let deep_path = format!(
            "/api/cases?status=all&limit=50&cursor={}",
            deep.context("no second page")?
        );
        timings.push(
            timed("a page deep into all cases (50,000 cases in, or the last)", 50.0, a.repeat, a.warmup, |_| {
                let g = get(deep_path.clone());
                async move { g.await.map(|_| ()) }
            })
            .await?,
        );
        // A rare search: one case's reference.
        let one: Value = serde_json::from_slice(&get(format!("/api/cases/{}", real[0])).await?)?;
        let reference = one["reference"].as_str().context("a reference")?;
        let rare = format!("/api/cases?status=all&limit=50&q={reference}");
        // A fast empty answer would prove nothing: the search must find that case.
        let found: Value = serde_json::from_slice(&get(rare.clone()).await?)?;
        if !found["cases"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["reference"] == reference))
        {
            anyhow::bail!("the search {rare} did not find {reference}");
        }
        timings.push(
            timed("search: one case's reference (rare)", 100.0, a.repeat, a.warmup, |_| {
                let g = get(rare.clone());
                async move { g.await.map(|_| ()) }
            })
            .await?,
        );
        // Whole-word searches that find few cases or none (a miss must not walk the store), and
        // each filter alone, over all statuses.
        // The seed's users each have a few cases (see `seed`).
        let user = format!("user-{}@example.com", 12345 % (a.cases * 3 / 10).max(1));
        let document_type = found["cases"][0]["document_type"]
            .as_str()
            .context("the case's document type")?
            .replace(' ', "%20");
        let few = [
            ("search: a user id (a few cases)", 100.0, format!("/api/cases?status=all&limit=50&q={user}"), 1),
            ("search: a word no case has", 100.0, "/api/cases?status=all&limit=50&q=Zyxwvutsr".to_string(), 0),
            ("filter alone: a flag (all statuses, 50)", 50.0, "/api/cases?status=all&flag=user_seen_before&limit=50".to_string(), 50),
            ("filter alone: the last 30 days (all statuses, 50)", 50.0, format!("/api/cases?status=all&from={from}&limit=50"), 50),
            ("filter alone: a document type (all statuses, 50)", 50.0, format!("/api/cases?status=all&document_type={document_type}&limit=50"), 50),
        ];
        for (what, goal, path, at_least) in few {
            // What each must find, so that a fast wrong answer is not timed.
            let page: Value = serde_json::from_slice(&get(path.clone()).await?)?;
            let n = page["cases"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(
                n >= at_least && (at_least > 0 || n == 0),
                "{path} found {n} cases, expected {}",
                if at_least == 0 { "none".to_string() } else { format!("at least {at_least}") }
            );
            timings.push(
                timed(what, goal, a.repeat, a.warmup, |_| {
                    let g = get(path.clone());
                    async move { g.await.map(|_| ()) }
                })
                .await?,
            );
        }
        // Statistics over 30 days and over a year.
        let day = |ms: i64| kyc_domain::time::rfc3339(ms)[..10].to_string();
        let today_s = day(now);
        for (what, days) in [("statistics over 30 days", 29), ("statistics over a year", 364)] {
            let path = format!("/api/stats?from={}&to={today_s}", day(now - days * 86_400_000));
            timings.push(
                timed(what, 1000.0, a.repeat.min(10), a.warmup, |_| {
                    let g = get(path.clone());
                    async move { g.await.map(|_| ()) }
                })
                .await?,
            );
        }
        // The decisions CSV of a year, streamed: rows per second, and the process's memory meanwhile.
        let export = {
            let path = format!(
                "{review}/api/exports/decisions.csv?from={}&to={today_s}",
                day(now - 364 * 86_400_000)
            );
            let me = std::process::id();
            let rss_before = crate::proc_stats::rss_mib(me).unwrap_or(0.0);
            let mut rss_max = rss_before;
            let t = Instant::now();
            // A year at 10^6 streams for longer than the client's usual minute when the
            // database's pages are not cached.
            let mut body = http
                .get(path)
                .bearer_auth(&token)
                .timeout(Duration::from_secs(900))
                .send()
                .await?
                .bytes_stream();
            let (mut rows, mut chunks) = (0usize, 0usize);
            while let Some(chunk) = body.next().await {
                rows += chunk?.iter().filter(|b| **b == b'\n').count();
                chunks += 1;
                if chunks % 64 == 0 {
                    rss_max = rss_max.max(crate::proc_stats::rss_mib(me).unwrap_or(0.0));
                }
            }
            let secs = t.elapsed().as_secs_f64();
            (rows.saturating_sub(1), secs, rss_before, rss_max)
        };

        // POST → case.created on the event stream.
        let mut events = http
            .get(format!("{review}/api/events"))
            .bearer_auth(&token)
            .send()
            .await?
            .bytes_stream();
        let receiver = format!("https://{}/kyc", running.receiver_addr);
        let mut samples = Vec::new();
        let started_ms = kyc_store::timefmt::now_ms();
        for i in 0..a.repeat.min(20) {
            let sub = kyc_sim::generate(kyc_sim::Scenario::Clean, 1000 + i as u64, 99, &today);
            // A requester id of this run's own (a reused store has the earlier runs' POSTs).
            let rid = format!("{}-{started_ms:x}", sub.requester_id);
            let mut body = sub.payload.clone();
            body["request_info"]["requester_id"] = json!(rid);
            let t = Instant::now();
            let post = {
                let (http, receiver) = (http.clone(), receiver.clone());
                tokio::spawn(async move { http.post(receiver).json(&body).send().await })
            };
            let mut buf = String::new();
            loop {
                let chunk = tokio::time::timeout(Duration::from_secs(10), events.next())
                    .await
                    .context("no case.created within 10 s")?
                    .context("event stream ended")??;
                buf.push_str(&String::from_utf8_lossy(&chunk));
                if buf.contains("event: case.created") && buf.contains(&rid) {
                    break;
                }
            }
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            post.await??;
        }
        timings.push(Timing {
            what: "POST (≈0.5 MB, 4 JPEGs) → case.created event",
            goal_ms: 500.0,
            samples,
        });

        let per_case = |total: f64| total * 1024.0 / a.cases.max(1) as f64;
        println!(
            "\n### Review API with {} cases ({db_mib:.0} MiB database, {seeding})\n\n\
             Per case: database {:.1} KiB, image files {:.1} KiB (the seeded cases carry tiny \
             images, all but the last 20); audit trail {audit_entries} entries ({:.1} per case), \
             verified whole in {verify_secs:.1} s.\n\n\
             | measurement | p50 ms | p95 ms | max ms | goal |\n|---|---:|---:|---:|---:|",
            a.cases,
            per_case(db_mib),
            per_case(image_mib),
            audit_entries as f64 / a.cases.max(1) as f64,
        );
        for t in &timings {
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | < {} ms {} |",
                t.what,
                t.pct(50.0),
                t.pct(95.0),
                t.pct(100.0),
                t.goal_ms,
                if t.pct(95.0) < t.goal_ms { "✓" } else { "✗" }
            );
        }
        let (rows, export_secs, rss_before, rss_max) = export;
        println!(
            "\nThe decisions CSV of a year: {rows} rows in {export_secs:.2} s ({:.0} rows/s), \
             the process's resident memory {rss_before:.0} MiB before and at most {rss_max:.0} MiB \
             while it streamed.",
            rows as f64 / export_secs.max(1e-9)
        );
        running.shutdown(Duration::from_secs(2)).await;
        // Start-up on this store: open it (sweep, hash indexes) and bind both listeners.
        let t = Instant::now();
        let again = kyc_server::start(&loaded, None).await?;
        let startup = t.elapsed().as_secs_f64();
        again.shutdown(Duration::from_secs(2)).await;
        println!("Start-up of the server on this store: {startup:.2} s (goal < 2 s).");
        println!(
            "\nCommand: `kyc-bench review --cases {} --repeat {} --warmup {}` ({} samples after {} warm-up call(s) each)",
            a.cases, a.repeat, a.warmup, a.repeat, a.warmup
        );
        Ok(())
    })
}
