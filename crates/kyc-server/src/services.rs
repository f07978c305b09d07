//! Starting and stopping the two listeners (receiver over HTTPS; review over HTTPS unless it is on
//! loopback or `[review] tls` says otherwise) around one shared [`Desk`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use kyc_core::config::{Loaded, ReviewTransport};
use kyc_core::desk::Desk;
use kyc_core::guard::{LoginGuard, SetupCode};

use crate::error::ServerError;
use crate::review::ReviewState;
use crate::tls::{self, TlsMaterial};
use crate::UiAssets;

/// File name of the database inside the data dir.
pub use kyc_core::bootstrap::DB_FILE;

/// The running services: where they listen and how to stop them.
pub struct Running {
    pub receiver_addr: SocketAddr,
    pub review_addr: SocketAddr,
    pub review_https: bool,
    /// Plain HTTP on loopback for this machine's desktop window (the review listener itself when
    /// it is already loopback).
    pub local_review_addr: SocketAddr,
    pub tls: TlsMaterial,
    pub desk: Arc<Desk>,
    /// Dangerous-but-working settings (also shown in the desk).
    pub warnings: Vec<String>,
    /// The first-run setup code while no account exists (shown by `serve`, given to the window).
    pub setup: Arc<SetupCode>,
    guard: Arc<LoginGuard>,
    /// The receiver's listener: stopped first when the desk drains ([`Running::drain`]).
    receiver: Listening,
    /// The review desk's listeners.
    review: Vec<Listening>,
    /// Periodic jobs (retention); stopped on shutdown.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The review UI's address as a URL a browser can open.
    pub fn review_url(&self) -> String {
        let scheme = if self.review_https { "https" } else { "http" };
        format!("{scheme}://{}", browsable(self.review_addr))
    }

    /// The URL the desktop window opens.
    pub fn local_review_url(&self) -> String {
        format!("http://{}", self.local_review_addr)
    }

    /// The URL the desktop window opens, carrying the setup code in its fragment while setup is
    /// pending (a fragment never reaches a server or its logs), so the owner need not type it.
    pub fn window_url(&self) -> String {
        match self.setup.display() {
            Some(code) => format!("{}/#setup={code}", self.local_review_url()),
            None => self.local_review_url(),
        }
    }

    /// Stops both listeners, letting requests in flight finish for up to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        self.receiver.handle.graceful_shutdown(Some(grace));
        self.finish(grace).await;
    }

    /// Stops as a member of a load balancer's pool should (a rolling restart): the receiver at
    /// once takes no new connection (its port closes: the balancer's check sends Ditto ID to the
    /// other instances), while the requests it holds are still answered, by a reviewer's decision
    /// on any instance or by the fallback when their windows close. The review desk serves
    /// meanwhile, so a reviewer here can still decide them. The wait ends when the last of them is
    /// answered, and at the latest `margin` after the last window a request here waits in (a
    /// request still arriving opens its window later: `hold_secs` from now is waited for at
    /// least); a connection still open then is cut. `at_once` (a second stop signal) cuts the wait
    /// short. Then as [`Running::shutdown`] with `grace`.
    pub async fn drain(
        mut self,
        margin: Duration,
        at_once: impl Future<Output = ()>,
        grace: Duration,
    ) {
        let margin_ms = i64::try_from(margin.as_millis()).unwrap_or(i64::MAX);
        let hold_ms = self.desk.hold_ms();
        let first_deadline = self
            .desk
            .now_ms()
            .saturating_add(hold_ms)
            .saturating_add(margin_ms);
        self.receiver.handle.graceful_shutdown(None);
        tokio::pin!(at_once);
        loop {
            let deadline =
                first_deadline.max(self.desk.last_window_end().saturating_add(margin_ms));
            let left = deadline.saturating_sub(self.desk.now_ms());
            if left <= 0 {
                tracing::warn!(
                    connections = self.receiver.handle.connection_count(),
                    "stopping: connections still open past every hold window are cut"
                );
                self.receiver.handle.shutdown();
                break;
            }
            let tick = Duration::from_millis(u64::try_from(left).unwrap_or(0)).min(DRAIN_TICK);
            tokio::select! {
                ended = &mut self.receiver.task => {
                    self.receiver.ended = Some(ended);
                    break;
                }
                _ = &mut at_once => {
                    tracing::warn!("stopping at once: requests still held are cut");
                    self.receiver.handle.shutdown();
                    break;
                }
                _ = tokio::time::sleep(tick) => {}
            }
        }
        self.finish(grace).await;
    }

    /// Connections open to the receiver now (requests held or arriving, and idle ones).
    pub fn receiver_connections(&self) -> usize {
        self.receiver.handle.connection_count()
    }

    /// The end of a stop, once the receiver is stopping: the review desk's listeners get
    /// `grace`, folded sign-in failures are written, and the audit trail's head is signed.
    async fn finish(self, grace: Duration) {
        for l in &self.review {
            l.handle.graceful_shutdown(Some(grace));
        }
        // Everything still folded is written, the current minute's too.
        flush_failed_logins(&self.desk, &self.guard, i64::MAX).await;
        for b in &self.background {
            b.abort();
        }
        for l in std::iter::once(self.receiver).chain(self.review) {
            let ended = match l.ended {
                Some(ended) => ended,
                None => l.task.await,
            };
            if let Err(e) = ended.map_err(std::io::Error::other).and_then(|r| r) {
                tracing::error!("a listener ended with an error: {e}");
            }
        }
        // The last word of this run, signed.
        if let Err(e) = self.desk.checkpoint().await {
            tracing::error!("audit checkpoint at shutdown failed: {e}");
        }
    }

    /// Waits until a listener stops (normally never).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        let tasks = std::iter::once(&mut self.receiver)
            .chain(self.review.iter_mut())
            .map(|l| &mut l.task);
        let (result, _, _) = futures::future::select_all(tasks).await;
        result.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

type Serving = tokio::task::JoinHandle<std::io::Result<()>>;

/// How often a draining server looks again at how long it may still wait.
const DRAIN_TICK: Duration = Duration::from_secs(1);

/// One listener's serving task and the handle that stops it.
struct Listening {
    handle: Handle,
    task: Serving,
    /// How the task ended, once it was awaited (a task is awaited once).
    ended: Option<<Serving as Future>::Output>,
}

impl Listening {
    fn new(task: Serving, handle: Handle) -> Listening {
        Listening {
            handle,
            task,
            ended: None,
        }
    }
}

/// Turns 0.0.0.0 / [::] into the loopback address for printing a URL that works here.
pub fn browsable(addr: SocketAddr) -> SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

fn bind(key: &'static str, addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
    let l = std::net::TcpListener::bind(addr).map_err(|source| ServerError::Bind {
        key,
        addr,
        source,
    })?;
    l.set_nonblocking(true)
        .map_err(|source| ServerError::Bind { key, addr, source })?;
    Ok(l)
}

/// Signs the audit chain's head at start, then whenever it is `CHECKPOINT_EVERY_ENTRIES` past
/// the last checkpoint or has moved for `CHECKPOINT_EVERY_MS` (checked every 5 s).
fn spawn_checkpoints(desk: Arc<Desk>) -> tokio::task::JoinHandle<()> {
    use kyc_core::desk::{
        CHECKPOINT_EVERY_ENTRIES as EVERY_ENTRIES, CHECKPOINT_EVERY_MS as EVERY_MS,
    };
    tokio::spawn(async move {
        let mut last: Option<(i64, i64)> = None; // (entry id, when)
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            let now = desk.now_ms();
            let head = match desk.audit_head_id().await {
                Ok(Some(h)) => h,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!("audit head: {e}");
                    continue;
                }
            };
            let due = match last {
                None => true,
                Some((id, at)) => head - id >= EVERY_ENTRIES || (head > id && now - at >= EVERY_MS),
            };
            if due {
                match desk.checkpoint().await {
                    Ok(_) => last = Some((head, now)),
                    Err(e) => tracing::error!("audit checkpoint failed: {e}"),
                }
            }
        }
    })
}

/// Forgets reviewers whose open case stopped beating (closed tab, lost connection), every second.
fn spawn_presence_sweep(desk: Arc<Desk>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            desk.presence().expire(desk.now_ms());
        }
    })
}

/// Erases decided cases past the retention period: at start, then every hour.
fn spawn_retention(desk: Arc<Desk>, keep_days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = desk.sweep_retention(desk.now_ms(), keep_days).await {
                tracing::error!("retention sweep failed: {e}");
            }
        }
    })
}

/// Writes the failed sign-ins folded into minutes that have ended (one entry per name, address
/// and minute, with its count).
async fn flush_failed_logins(desk: &Desk, guard: &LoginGuard, now: i64) {
    for (name, addr, count) in guard.flush(now) {
        if let Err(e) = desk.record_failed_sign_ins(name, addr, count).await {
            tracing::error!("recording failed sign-ins: {e}");
        }
    }
}

/// Flushes folded failed sign-ins every 30 s.
fn spawn_failed_login_flush(
    desk: Arc<Desk>,
    guard: Arc<LoginGuard>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            flush_failed_logins(&desk, &guard, desk.now_ms()).await;
        }
    })
}

/// Opens the store (a passphrase only from `KYC_DESK_PASSPHRASE`) and starts both listeners.
/// Must be called inside a tokio runtime.
pub async fn start(loaded: &Loaded, ui: Option<Arc<dyn UiAssets>>) -> Result<Running, ServerError> {
    start_with(loaded, Desk::open_async(loaded).await?, ui).await
}

/// Starts both listeners on a desk (`Desk::for_config` on the store the caller opened). Must be
/// called inside a tokio runtime.
pub async fn start_with(
    loaded: &Loaded,
    desk: Desk,
    ui: Option<Arc<dyn UiAssets>>,
) -> Result<Running, ServerError> {
    let cfg = &loaded.config;
    let desk = Arc::new(desk);
    // No account yet: the first admin needs the one-time code this process prints.
    let setup = Arc::new(if desk.needs_setup().await? {
        SetupCode::generate()
    } else {
        SetupCode::closed()
    });
    let guard = Arc::new(LoginGuard::default());
    if desk.erasures_pending().await? {
        // Erasures a restart interrupted before the WAL could be truncated.
        desk.finish_erasures_in_background();
    }
    // Several instances on one PostgreSQL database: their events are this desk's too.
    desk.hear_other_instances().await?;
    let material = tls::load_or_create(&cfg.receiver, &loaded.data_dir)?;
    let rustls_config = RustlsConfig::from_config(tls::server_config(&material)?);

    let receiver_listener = bind("receiver.listen", cfg.receiver.listen)?;
    let review_listener = bind("review.listen", cfg.review.listen)?;
    let receiver_addr = receiver_listener
        .local_addr()
        .map_err(kyc_core::CoreError::from)?;
    let review_addr = review_listener
        .local_addr()
        .map_err(kyc_core::CoreError::from)?;
    // Refused here too for a config built in code (a loaded file was checked when read).
    let transport = cfg.review.transport(review_addr.ip())?;
    let review_https = transport == ReviewTransport::Https;

    let warnings = cfg.warnings();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let receiver_app =
        crate::receiver::router(desk.clone(), &cfg.receiver, &loaded.data_dir, guard.clone())?;
    // What the desk shows uses the address actually bound (port 0 in the config means "any").
    let mut bound = loaded.clone();
    bound.config.receiver.listen = receiver_addr;
    let mut settings = crate::review::SettingsView::new(&bound, &material, &warnings);
    settings.plain_http_on_network = transport == ReviewTransport::PlainOnNetwork;
    let review_state = |https: bool| {
        Arc::new(ReviewState {
            desk: desk.clone(),
            session_minutes: cfg.review.session_minutes,
            ui: ui.clone(),
            https,
            settings: settings.clone(),
            guard: guard.clone(),
            setup: setup.clone(),
        })
    };
    let hosts = |addr: SocketAddr| {
        crate::hardening::HostAllowList::new(addr.ip(), &cfg.review.public_names)
    };
    let review_app = crate::review::router(
        review_state(review_https),
        hosts(review_addr),
        crate::openapi::document,
    );

    if cfg.notify.enabled() {
        // Runs for the life of the runtime; deliveries live in the database between restarts.
        crate::notify::spawn(desk.clone(), cfg.notify.clone());
    }
    let receiver_handle = Handle::new();
    let review_handle = Handle::new();
    let mut background = vec![
        spawn_failed_login_flush(desk.clone(), guard.clone()),
        spawn_checkpoints(desk.clone()),
        spawn_presence_sweep(desk.clone()),
    ];
    if cfg.retention.keep_decided_days > 0 {
        background.push(spawn_retention(
            desk.clone(),
            cfg.retention.keep_decided_days,
        ));
    }
    let receiver = Listening::new(
        tokio::spawn(
            axum_server::from_tcp_rustls(
                receiver_listener,
                RustlsConfig::from_config(tls::receiver_config(&material)?),
            )
            .handle(receiver_handle.clone())
            .serve(receiver_app.into_make_service_with_connect_info::<SocketAddr>()),
        ),
        receiver_handle,
    );
    let mut review = Vec::new();
    let mut local_review_addr = review_addr;
    if review_https {
        review.push(Listening::new(
            tokio::spawn(
                axum_server::from_tcp_rustls(review_listener, rustls_config)
                    .handle(review_handle.clone())
                    .serve(review_app.into_make_service_with_connect_info::<SocketAddr>()),
            ),
            review_handle,
        ));
        // The team listens over HTTPS with the (maybe self-signed) certificate; this machine's own
        // window gets a loopback HTTP listener of its own, so it never meets a certificate warning.
        let local = bind(
            "review.listen (local)",
            (std::net::Ipv4Addr::LOCALHOST, 0).into(),
        )?;
        local_review_addr = local.local_addr().map_err(kyc_core::CoreError::from)?;
        let local_handle = Handle::new();
        review.push(Listening::new(
            tokio::spawn(
                axum_server::from_tcp(local)
                    .handle(local_handle.clone())
                    .serve(
                        crate::review::router(
                            review_state(false),
                            hosts(local_review_addr),
                            crate::openapi::document,
                        )
                        .into_make_service_with_connect_info::<SocketAddr>(),
                    ),
            ),
            local_handle,
        ));
    } else {
        review.push(Listening::new(
            tokio::spawn(
                axum_server::from_tcp(review_listener)
                    .handle(review_handle.clone())
                    .serve(review_app.into_make_service_with_connect_info::<SocketAddr>()),
            ),
            review_handle,
        ));
    }
    tracing::info!(
        receiver = %receiver_addr,
        review = %review_addr,
        fingerprint = %material.fingerprint,
        "listening"
    );
    if let Some(code) = setup.display() {
        let scheme = if review_https { "https" } else { "http" };
        tracing::warn!(
            "no account yet: open {scheme}://{} and enter the setup code {code} to create the first admin",
            browsable(review_addr)
        );
    }
    Ok(Running {
        receiver_addr,
        review_addr,
        review_https,
        tls: material,
        desk,
        warnings,
        local_review_addr,
        setup,
        guard,
        receiver,
        review,
        background,
    })
}
