//! The ingest benchmark and its floor. Both servers run as child processes so the OS can say how
//! much CPU each used; the same client posts the same bodies to both.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use kyc_core::config::{AutoApprove, Config};
use kyc_crypto::jce::AesSuite;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::cpu_cap::CpuCap;
use crate::proc_stats;

#[derive(clap::Args)]
pub struct Args {
    /// The kyc-desk binary to measure (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/kyc-desk")]
    bin: PathBuf,
    /// Concurrency levels (simultaneous senders).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,32")]
    concurrency: Vec<usize>,
    /// Submissions per level (at least 4 per sender are sent).
    #[arg(long, default_value_t = 64)]
    per_level: usize,
    /// Unmeasured submissions posted to each server first (caches, files and heaps warm up).
    #[arg(long, default_value_t = 16)]
    warmup: usize,
    /// Size of each encrypted body to aim at, in MB.
    #[arg(long, default_value_t = 5.0)]
    body_mb: f64,
    /// Folder for the servers' data (on the disk being measured: fsync must cost what it costs).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Store the cases on this PostgreSQL database instead of SQLite (`postgres://user@host:port/db`,
    /// the password from KYC_DESK_DB_PASSWORD); it must be empty or hold a desk with this run's key.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// With --postgres: the PostgreSQL server's postmaster process, whose CPU (and its
    /// connections') is added to KYC Desk's (the database's work is part of a submission's cost).
    #[arg(long, value_name = "PID", requires = "postgres")]
    postgres_pid: Option<u32>,
    /// Keep KYC Desk's data in DIR instead of an empty folder: a desk that already holds its
    /// cases (a folder `kyc-bench review --keep DIR` seeded, with its master key and TLS
    /// certificate), to measure ingest on a full store.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// With --postgres: start this many `kyc-desk serve` instances on the one database (the
    /// same master key) and measure every level with the first N of them for each N listed
    /// (`1,2`), the senders' posts spread over them in turn as a load balancer spreads them.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    instances: Vec<usize>,
    /// Cap each instance at this fraction of one core (Linux control groups, as root), so that
    /// on a small machine the load client and the database keep CPU to spare; the floor is then
    /// not run (its figures would not compare).
    #[arg(long, value_name = "CORES")]
    instance_cpu: Option<f64>,
}

#[derive(clap::Args)]
pub struct FloorArgs {
    #[arg(long)]
    listen: SocketAddr,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    /// The file every body is appended to.
    #[arg(long)]
    out: PathBuf,
}

/// The floor: HTTPS with the same TLS stack and configuration as KYC Desk's receiver (rustls,
/// HTTP/1.1); it reads the
/// body, appends it to one file, fsyncs and answers 200. Nothing a receiver could do less.
pub fn floor(a: FloorArgs) -> anyhow::Result<()> {
    let material = kyc_server::tls::TlsMaterial {
        cert_pem: std::fs::read(&a.cert)?,
        key_pem: std::fs::read(&a.key)?,
        fingerprint: String::new(),
        self_signed: true,
    };
    let tls = kyc_server::tls::receiver_config(&material)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.out)?;
    let file = Arc::new(Mutex::new(file));
    let app = axum::Router::new()
        .fallback(axum::routing::post(
            |axum::extract::State(file): axum::extract::State<Arc<Mutex<std::fs::File>>>,
             body: axum::body::Bytes| async move {
                let ok = tokio::task::spawn_blocking(move || {
                    let mut f = file.lock().expect("floor file lock");
                    f.write_all(&body)?;
                    f.sync_data()
                })
                .await;
                match ok {
                    Ok(Ok(())) => (axum::http::StatusCode::OK, "{\"result\":true}"),
                    _ => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{}"),
                }
            },
        ))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(file);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = std::net::TcpListener::bind(a.listen)?;
        listener.set_nonblocking(true)?;
        println!("floor listening on {}", listener.local_addr()?);
        axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(tls),
        )
        .serve(app.into_make_service())
        .await?;
        Ok(())
    })
}

/// A server under test, killed when dropped (then its CPU cap, if any, is removed).
struct Server {
    child: Child,
    addr: SocketAddr,
    cap: Option<CpuCap>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a child and waits for its "<what> listening on ADDR" line.
fn spawn(mut cmd: Command, what: &str) -> anyhow::Result<Server> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let needle = format!("{what} listening on ");
    let addr = loop {
        let Some(line) = lines.next() else {
            bail!("{cmd:?} exited before listening");
        };
        if let Some(rest) = line?.split(&needle).nth(1) {
            break rest.trim().parse::<SocketAddr>()?;
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        addr,
        cap: None,
    })
}

/// A JPEG of noisy texture (it does not compress away) of about `bytes` bytes.
fn big_jpeg(bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut w, mut h) = (1200u32, 900u32);
    let mut out = Vec::new();
    for _ in 0..3 {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let n: u8 = rng.gen();
            image::Rgb([
                ((x / 3) as u8).wrapping_add(n / 2),
                ((y / 3) as u8).wrapping_add(n / 3),
                n,
            ])
        });
        out.clear();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .expect("JPEG encoding in memory");
        let scale = (bytes as f64 / out.len() as f64).sqrt();
        if (0.97..1.03).contains(&scale) {
            break;
        }
        w = ((w as f64 * scale) as u32).max(16);
        h = ((h as f64 * scale) as u32).max(16);
    }
    out
}

/// The images a real capture sends big: the document's two pages, its portrait and the selfie
/// (the hologram check's small crops stay as the simulator drew them).
const BIG_IMAGES: [&str; 4] = ["front_page", "back_page", "portrait_image", "selfie_image"];

/// Replaces the payload's big JPEGs (`BIG_IMAGES`, wherever they sit); counts them in `next`.
fn replace_images(v: &mut Value, images: &[String], next: &mut usize) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| replace_images(x, images, next)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s)
                        if BIG_IMAGES.contains(&k.as_str()) && s.starts_with("/9j/") =>
                    {
                        *s = images[*next % images.len()].clone();
                        *next += 1;
                    }
                    _ => replace_images(x, images, next),
                }
            }
        }
        _ => {}
    }
}

const RID: &str = "00000000-0000-4000-8000-rid000000000";

/// A clean ID-card submission (front, back, portrait, selfie) with big JPEGs, as JSON text with a
/// placeholder requester id.
fn template(body_mb: f64) -> anyhow::Result<String> {
    let (year, month, day) = kyc_store::timefmt::today();
    let today = kyc_sim::Today { year, month, day };
    let sub = (0..64)
        .map(|i| kyc_sim::generate(kyc_sim::Scenario::Clean, i, 7, &today))
        .find(|s| s.payload.to_string().contains("\"back_page\""))
        .context("no ID card among the simulated people")?;
    let mut payload = sub.payload.clone();
    // body = base64(AES(json)); json ≈ base64(images): raw images ≈ body × (3/4)².
    let per_image = (body_mb * 1e6 * 0.75 * 0.75 / 4.0) as usize;
    let images: Vec<String> = (0..4)
        .map(|i| base64::engine::general_purpose::STANDARD.encode(big_jpeg(per_image, i)))
        .collect();
    let mut n = 0;
    replace_images(&mut payload, &images, &mut n);
    if n != 4 {
        bail!("expected 4 images in the simulated payload, found {n}");
    }
    let text = payload.to_string();
    Ok(text.replace(&sub.requester_id, RID))
}

struct Level {
    target: &'static str,
    /// How many instances the senders spread their posts over (1 for the floor).
    instances: usize,
    concurrency: usize,
    count: usize,
    ok: usize,
    secs: f64,
    latencies_ms: Vec<f64>,
    cpu_secs: Option<f64>,
    /// The load client's own CPU over the level (this process).
    client_cpu_secs: Option<f64>,
    peak_rss_mib: Option<f64>,
}

impl Level {
    fn throughput(&self) -> f64 {
        self.ok as f64 / self.secs
    }
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v.get(rank.min(v.len()) - 1).copied().unwrap_or(f64::NAN)
    }
    fn cpu_ms_per_sub(&self) -> Option<f64> {
        self.cpu_secs.map(|c| c * 1000.0 / self.ok.max(1) as f64)
    }
    /// Cores the servers and the load client kept busy together, on average over the level.
    fn busy_cores(&self) -> Option<f64> {
        self.cpu_secs
            .zip(self.client_cpu_secs)
            .map(|(s, c)| (s + c) / self.secs)
    }
    fn is_floor(&self) -> bool {
        self.target == FLOOR
    }
}

const DESK: &str = "KYC Desk";
const FLOOR: &str = "floor";

/// Posts `bodies` with `concurrency` senders, the n-th body to `urls[n % urls.len()]` (as a
/// load balancer spreads them over instances); returns the level's figures.
async fn post_all(
    http: &reqwest::Client,
    urls: &[String],
    token: &str,
    content_type: &str,
    bodies: &[Arc<Vec<u8>>],
    concurrency: usize,
    check: Option<&AesSuite>,
) -> (usize, f64, Vec<f64>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, body) in bodies.iter().enumerate() {
        let (http, url, token, ct, body, permits) = (
            http.clone(),
            urls[n % urls.len()].clone(),
            token.to_string(),
            content_type.to_string(),
            body.clone(),
            permits.clone(),
        );
        let check = check.cloned();
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire_owned().await;
            let t = Instant::now();
            let resp = http
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", ct)
                .body(body.as_ref().clone())
                .send()
                .await;
            let ok = match resp {
                Ok(r) if r.status() == 200 => {
                    let bytes = r.bytes().await.unwrap_or_default();
                    match &check {
                        // KYC Desk: the (encrypted) answer must say result=true.
                        Some(suite) => suite
                            .open_body(&bytes)
                            .ok()
                            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
                            .is_some_and(|v| v["result"] == true),
                        None => true,
                    }
                }
                Ok(r) => {
                    eprintln!(
                        "HTTP {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                    false
                }
                Err(e) => {
                    eprintln!("request failed: {e}");
                    false
                }
            };
            (ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut ok = 0;
    let mut lat = Vec::new();
    for t in tasks {
        if let Ok((good, ms)) = t.await {
            ok += usize::from(good);
            lat.push(ms);
        }
    }
    (ok, started.elapsed().as_secs_f64(), lat)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn write_config(
    path: &Path,
    data: &Path,
    port: u16,
    postgres: Option<&str>,
) -> anyhow::Result<Config> {
    let mut c = Config::first_start();
    c.storage.url = postgres.map(str::to_string);
    c.data_dir = Some(data.to_path_buf());
    c.receiver.listen = format!("127.0.0.1:{port}").parse()?;
    c.receiver.max_body_mb = 32;
    c.receiver.auth.token_ttl_secs = 3600;
    c.review.listen = "127.0.0.1:0".parse()?;
    c.decision.auto_approve = AutoApprove::Clean;
    c.decision.hold_secs = 60;
    std::fs::write(path, toml::to_string_pretty(&c)?)?;
    Ok(c)
}

/// Starts `kyc-desk serve` with the config at `path`, capped at `cpu` of a core if given.
fn serve(bin: &Path, path: &Path, cpu: Option<f64>, n: usize) -> anyhow::Result<Server> {
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(path)
        .arg("serve")
        .env("RUST_LOG", "warn");
    let mut desk = spawn(cmd, "receiver")?;
    if let Some(cores) = cpu {
        let name = format!("kyc-bench-{}-{n}", std::process::id());
        desk.cap = Some(CpuCap::apply(desk.child.id(), cores, &name)?);
    }
    Ok(desk)
}

/// The files every instance shares (README, "Several instances"): the master key, the OAuth2
/// signing key (a token one issued is good on the others) and the receiver's certificate.
const SHARED_FILES: [&str; 4] = [
    kyc_core::bootstrap::MASTER_KEY_FILE,
    kyc_core::bootstrap::SIGNING_KEY_FILE,
    kyc_server::tls::SELF_SIGNED_CERT,
    kyc_server::tls::SELF_SIGNED_KEY,
];

/// Another instance of the first's desk: its own folder holding copies of the first one's
/// shared files.
fn next_instance(
    a: &Args,
    work: &Path,
    first: &Config,
    first_data: &Path,
    n: usize,
) -> anyhow::Result<Server> {
    let data = work.join(format!("desk-{n}"));
    std::fs::create_dir_all(&data)?;
    for file in SHARED_FILES {
        let to = data.join(file);
        std::fs::copy(first_data.join(file), &to)
            .with_context(|| format!("copying the first instance's {file}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let path = work.join(format!("kyc-desk-{n}.toml"));
    // The first instance's configuration (its keys and credentials) with its own folder and port.
    let mut c = first.clone();
    c.data_dir = Some(data);
    c.receiver.listen = format!("127.0.0.1:{}", free_port()?).parse()?;
    std::fs::write(&path, toml::to_string_pretty(&c)?)?;
    serve(&a.bin, &path, a.instance_cpu, n)
}

/// The most instances `--instances` asks for, once the counts are ones the run can start.
fn most_instances(a: &Args) -> anyhow::Result<usize> {
    if a.instances.contains(&0) {
        bail!("--instances: every count must be at least 1");
    }
    let most = a.instances.iter().copied().max().unwrap_or(1);
    if most > 1 && a.postgres.is_none() {
        bail!("--instances above 1 needs --postgres (several instances share one PostgreSQL database)");
    }
    Ok(most)
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if !a.bin.exists() {
        bail!(
            "{} not found: build it with `cargo build --release` (or pass --bin)",
            a.bin.display()
        );
    }
    let most = most_instances(&a)?;
    let with_floor = most == 1 && a.instance_cpu.is_none();
    let work = match &a.work_dir {
        Some(d) => tempfile::Builder::new()
            .prefix("kyc-bench-")
            .tempdir_in(d)?,
        None => tempfile::Builder::new().prefix("kyc-bench-").tempdir()?,
    };
    let data = a
        .data_dir
        .clone()
        .unwrap_or_else(|| work.path().join("desk"));
    let config_path = work.path().join("kyc-desk.toml");
    let config = write_config(&config_path, &data, free_port()?, a.postgres.as_deref())?;
    let mut desks = vec![serve(&a.bin, &config_path, a.instance_cpu, 0)?];
    for n in 1..most {
        desks.push(next_instance(&a, work.path(), &config, &data, n)?);
    }
    let cert = std::fs::read(data.join(kyc_server::tls::SELF_SIGNED_CERT))?;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert)?)
        .timeout(Duration::from_secs(300))
        .pool_max_idle_per_host(64)
        .build()?;
    let request = config.receiver.request_encryption.suite("request")?;
    let response = config.receiver.response_encryption.suite("response")?;
    let auth = &config.receiver.auth;
    let base = format!("https://{}", desks[0].addr);

    println!("building a {} MB submission template...", a.body_mb);
    let template = template(a.body_mb)?;
    let floor = if with_floor {
        let mut floor_cmd = Command::new(std::env::current_exe()?);
        floor_cmd
            .arg("floor")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--cert")
            .arg(data.join(kyc_server::tls::SELF_SIGNED_CERT))
            .arg("--key")
            .arg(data.join(kyc_server::tls::SELF_SIGNED_KEY))
            .arg("--out")
            .arg(work.path().join("floor.bin"));
        Some(spawn(floor_cmd, "floor")?)
    } else {
        None
    };

    let rt = tokio::runtime::Runtime::new()?;
    let levels = rt.block_on(async {
        let token: Value = http
            .post(format!("{base}{}", auth.token_path))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", auth.client_id.as_deref().unwrap_or_default()),
                (
                    "client_secret",
                    auth.client_secret.as_deref().unwrap_or_default(),
                ),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = token["access_token"]
            .as_str()
            .context("no access_token")?
            .to_string();
        let urls: Vec<String> = desks
            .iter()
            .map(|d| format!("https://{}{}", d.addr, config.receiver.path))
            .collect();
        let floor_url = floor.as_ref().map(|f| vec![format!("https://{}/", f.addr)]);
        let run_id: u32 = rand::random();
        let bodies_for = |li: usize, count: usize| {
            let mut ct = "";
            let bodies: Vec<Arc<Vec<u8>>> = (0..count)
                .map(|i| {
                    let rid = format!("{run_id:08x}-{li:04x}-4000-8000-{i:012x}");
                    let (body, t) = request.seal_body(template.replace(RID, &rid).as_bytes());
                    ct = t;
                    Arc::new(body)
                })
                .collect();
            (bodies, ct.to_string())
        };
        if a.warmup > 0 {
            let (bodies, content_type) = bodies_for(0xffff, a.warmup * most);
            // Every instance warms up (the posts go round them), then the floor.
            let mut targets = vec![(urls.as_slice(), Some(&response))];
            if let Some(f) = &floor_url {
                targets.push((f.as_slice(), None));
            }
            for (server_urls, check) in targets {
                let (ok, _, _) =
                    post_all(&http, server_urls, &token, &content_type, &bodies, most, check).await;
                if ok != bodies.len() {
                    bail!("warm-up: {ok}/{} submissions to {server_urls:?} succeeded", bodies.len());
                }
            }
        }
        let pids: Vec<u32> = desks.iter().map(|d| d.child.id()).collect();
        let floor_pid: Vec<u32> = floor.iter().map(|f| f.child.id()).collect();
        let mut levels = Vec::new();
        let mut size = 0;
        let mut li = 0;
        for &k in &a.instances {
            for &c in &a.concurrency {
                let count = a.per_level.max(4 * c);
                let (bodies, content_type) = bodies_for(li, count);
                li += 1;
                size = bodies[0].len();
                let mut targets = vec![(DESK, k, &urls[..k], &pids[..], Some(&response))];
                if let Some(url) = &floor_url {
                    targets.push((FLOOR, 1, url.as_slice(), &floor_pid[..], None));
                }
                for (target, instances, urls, pids, check) in targets {
                    // KYC Desk on PostgreSQL: the database server's CPU is the submission's too.
                    // Every instance started counts, used or idle.
                    let db = a.postgres_pid.filter(|_| target == DESK);
                    let cpu = || {
                        let mut own = 0.0;
                        for &pid in pids {
                            own += proc_stats::cpu_secs(pid)?;
                        }
                        match db {
                            Some(db) => Some(own + proc_stats::tree_cpu_secs(db)?),
                            None => Some(own),
                        }
                    };
                    let client = || proc_stats::cpu_secs(std::process::id());
                    let (cpu0, client0) = (cpu(), client());
                    let (ok, secs, latencies_ms) =
                        post_all(&http, urls, &token, &content_type, &bodies, c, check).await;
                    let (cpu1, client1) = (cpu(), client());
                    let level = Level {
                        target,
                        instances,
                        concurrency: c,
                        count,
                        ok,
                        secs,
                        latencies_ms,
                        cpu_secs: cpu0.zip(cpu1).map(|(a, b)| b - a),
                        client_cpu_secs: client0.zip(client1).map(|(a, b)| b - a),
                        peak_rss_mib: pids
                            .iter()
                            .filter_map(|&p| proc_stats::peak_rss_mib(p))
                            .reduce(f64::max),
                    };
                    eprintln!(
                        "{target:>8} ×{instances} c={c:<2} {ok}/{count} ok in {secs:.1} s: {:.2}/s, p50 {:.0} ms, CPU {:.1} ms/submission, busy {} cores",
                        level.throughput(),
                        level.percentile(50.0),
                        level.cpu_ms_per_sub().unwrap_or(f64::NAN),
                        fmt_opt(level.busy_cores(), 2)
                    );
                    levels.push(level);
                }
            }
        }
        Ok::<_, anyhow::Error>((levels, size))
    })?;
    let (levels, size) = levels;
    let throttled: Vec<String> = desks
        .iter()
        .filter_map(|d| d.cap.as_ref()?.throttled())
        .map(|t| t.to_string())
        .collect();
    if !throttled.is_empty() {
        eprintln!("periods throttled per instance: {}", throttled.join(", "));
    }
    print!("{}", report(&levels, size, &a));
    if levels.iter().any(|l| l.ok != l.count) {
        bail!("some submissions failed (see above)");
    }
    Ok(())
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

fn report(levels: &[Level], size: usize, a: &Args) -> String {
    let mut out = format!(
        "\n### Ingest: {:.2} MB encrypted bodies (AES/CBC, 4 JPEGs), HTTPS + OAuth2, auto-approved\n\n\
         | target | instances | senders | submissions | throughput (/s) | p50 ms | p99 ms | server CPU ms/submission | load client CPU ms/submission | cores busy | server peak RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        size as f64 / 1e6
    );
    for l in levels {
        out += &format!(
            "| {} | {} | {} | {}/{} | {:.2} | {:.0} | {:.0} | {} | {} | {} | {} |\n",
            l.target,
            l.instances,
            l.concurrency,
            l.ok,
            l.count,
            l.throughput(),
            l.percentile(50.0),
            l.percentile(99.0),
            fmt_opt(l.cpu_ms_per_sub(), 1),
            fmt_opt(
                l.client_cpu_secs.map(|c| c * 1000.0 / l.ok.max(1) as f64),
                1
            ),
            fmt_opt(l.busy_cores(), 2),
            fmt_opt(l.peak_rss_mib, 0)
        );
    }
    let pairs: Vec<(&Level, &Level)> = levels
        .windows(2)
        .filter_map(|w| (!w[0].is_floor() && w[1].is_floor()).then_some((&w[0], &w[1])))
        .collect();
    if !pairs.is_empty() {
        out += "\n| senders | CPU/submission vs floor (goal ≤ 1.5×) | throughput vs floor (goal ≥ 0.7×) | peak RSS (goal < 300 MiB at 32) |\n|---:|---:|---:|---:|\n";
    }
    for (desk, floor) in pairs {
        let cpu = desk
            .cpu_ms_per_sub()
            .zip(floor.cpu_ms_per_sub())
            .map(|(d, f)| d / f);
        out += &format!(
            "| {} | {}× | {:.2}× | {} MiB |\n",
            desk.concurrency,
            fmt_opt(cpu, 2),
            desk.throughput() / floor.throughput(),
            fmt_opt(desk.peak_rss_mib, 0)
        );
    }
    let one = |c: usize| {
        levels
            .iter()
            .find(|l| !l.is_floor() && l.instances == 1 && l.concurrency == c)
    };
    let more: Vec<&Level> = levels
        .iter()
        .filter(|l| !l.is_floor() && l.instances > 1)
        .collect();
    if !more.is_empty() {
        out += "\n| instances | senders | throughput vs one instance (goal ≥ 1.7× for two) |\n|---:|---:|---:|\n";
    }
    for l in more {
        if let Some(base) = one(l.concurrency) {
            out += &format!(
                "| {} | {} | {:.2}× |\n",
                l.instances,
                l.concurrency,
                l.throughput() / base.throughput()
            );
        }
    }
    let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    out += &format!(
        "\nCommand: `kyc-bench ingest --concurrency {} --per-level {} --warmup {} --body-mb {}{}{}`\n",
        list(&a.concurrency),
        a.per_level,
        a.warmup,
        a.body_mb,
        if a.instances == [1] {
            String::new()
        } else {
            format!(" --instances {}", list(&a.instances))
        },
        a.instance_cpu
            .map_or(String::new(), |c| format!(" --instance-cpu {c}"))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(line: &[&str]) -> Args {
        Cli::parse_from(std::iter::once("ingest").chain(line.iter().copied())).args
    }

    #[test]
    fn several_instances_need_a_shared_database_and_counts_of_one_or_more() {
        let err = |line: &[&str]| most_instances(&args(line)).unwrap_err().to_string();
        assert!(err(&["--instances", "1,2"]).contains("needs --postgres"));
        assert!(
            err(&["--instances", "0,1", "--postgres", "postgres://x@h/db"]).contains("at least 1")
        );
        let pg = [
            "--postgres",
            "postgres://kyc@127.0.0.1:5432/db",
            "--instances",
            "1,2",
        ];
        assert_eq!(most_instances(&args(&pg)).unwrap(), 2);
        assert_eq!(most_instances(&args(&[])).unwrap(), 1);
    }
}
