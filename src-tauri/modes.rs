//! Which desk the window shows: this computer's own (kyc-server on a store opened here) or a
//! team server's through the pinned relay (kyc-client), chosen on the connect screen (the
//! window's embedded page) and changed from the Desk menu or Settings; the commands of both
//! pages, their errors mapped once to `{code, message}`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kyc_client::{ClientError, Relay, Server};
use kyc_core::config::{self, normalize_fingerprint, Config};
use kyc_server::{Running, UiAssets};
use serde::Serialize;
use tauri::ipc::{CapabilityBuilder, RuntimeCapability};
use tauri::{AppHandle, Manager, State, Url};

/// What the UI gets when a command fails: `{code, message}`.
#[derive(Debug, Clone, Serialize)]
pub struct UiError {
    pub code: &'static str,
    pub message: String,
}

impl From<ClientError> for UiError {
    fn from(e: ClientError) -> Self {
        UiError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<kyc_core::CoreError> for UiError {
    fn from(e: kyc_core::CoreError) -> Self {
        UiError {
            code: "config",
            message: e.to_string(),
        }
    }
}

impl From<anyhow::Error> for UiError {
    fn from(e: anyhow::Error) -> Self {
        UiError {
            code: "desk",
            message: format!("{e:#}"),
        }
    }
}

impl From<tauri::Error> for UiError {
    fn from(e: tauri::Error) -> Self {
        UiError {
            code: "window",
            message: e.to_string(),
        }
    }
}

/// Where the window opens at start.
pub enum Start {
    Desk { url: String, origin: String },
    Connect,
}

impl Start {
    pub fn desk_origin(&self) -> Option<String> {
        match self {
            Start::Desk { origin, .. } => Some(origin.clone()),
            Start::Connect => None,
        }
    }
}

enum Current {
    None,
    Local(Box<Running>),
    Client(Relay),
}

/// The desktop app's state: the config file it keeps its choice in and the desk it shows.
pub struct Shell {
    /// `--config`, as given.
    explicit: Option<PathBuf>,
    /// The config file (resolved).
    path: PathBuf,
    assets: Arc<dyn UiAssets>,
    current: tokio::sync::Mutex<Current>,
    /// The origin of the desk the window shows (the only one besides its own pages it may visit).
    origin: RwLock<Option<String>>,
    /// Origins already granted the desk's commands.
    granted: Mutex<HashSet<String>>,
    /// Why the last connection failed, for the connect screen.
    error: Mutex<Option<UiError>>,
    notifications: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The window's own pages (the connect screen): `tauri://localhost` here, macOS too;
/// `http://tauri.localhost` on Windows.
fn own_page() -> &'static str {
    if cfg!(windows) {
        "http://tauri.localhost/index.html"
    } else {
        "tauri://localhost/index.html"
    }
}

fn is_own_page(url: &Url) -> bool {
    url.scheme() == "tauri" || url.host_str() == Some("tauri.localhost")
}

fn origin_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

impl Shell {
    pub fn new(explicit: Option<PathBuf>, assets: Arc<dyn UiAssets>) -> anyhow::Result<Shell> {
        let path = config::resolve_path(explicit.as_deref())?;
        let shell = Shell {
            explicit,
            path,
            assets,
            current: tokio::sync::Mutex::new(Current::None),
            origin: RwLock::new(None),
            granted: Mutex::default(),
            error: Mutex::new(None),
            notifications: AtomicBool::new(true),
        };
        if let Some(c) = shell.read_config()? {
            shell
                .notifications
                .store(c.client.notifications, Ordering::Relaxed);
        }
        Ok(shell)
    }

    /// The config as the file says, or None before the first choice (nothing is written).
    fn read_config(&self) -> anyhow::Result<Option<Config>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                Ok(Some(config::parse(&text).map_err(|e| {
                    anyhow::anyhow!("{}: {e}", self.path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", self.path.display())),
        }
    }

    /// `--connect URL [--fingerprint SHA256]`: kept in the config before anything opens.
    pub fn keep_connection(&self, server: &str, fingerprint: Option<&str>) -> anyhow::Result<()> {
        let server = config::check_server_url(server)?;
        let fingerprint = match fingerprint {
            Some(f) => Some(normalize_fingerprint(f).ok_or_else(|| {
                anyhow::anyhow!("--fingerprint: a SHA-256 fingerprint (32 hex bytes, AB:CD:…)")
            })?),
            None => None,
        };
        config::write_connection(&self.path, Some(&server), fingerprint.as_deref())?;
        Ok(())
    }

    /// Opens what the config says: a team server (pinned), this computer's desk, or — on first
    /// start, without a pin, or when the server refuses — the connect screen.
    pub async fn open_configured(&self) -> anyhow::Result<Start> {
        let Some(c) = self.read_config()? else {
            return Ok(Start::Connect);
        };
        match (c.client.server, c.client.fingerprint) {
            (Some(_), None) => Ok(Start::Connect),
            (Some(server), Some(fp)) => match self.open_client(&server, &fp).await {
                Ok((url, origin)) => Ok(Start::Desk { url, origin }),
                Err(e) => {
                    tracing::error!(code = e.code, "cannot open the team server's desk");
                    *lock(&self.error) = Some(e);
                    Ok(Start::Connect)
                }
            },
            (None, _) => {
                let (url, origin) = self
                    .open_local()
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                Ok(Start::Desk { url, origin })
            }
        }
    }

    /// Starts the desk on this computer (writing a config with safe defaults on first start).
    async fn open_local(&self) -> Result<(String, String), UiError> {
        if self
            .read_config()?
            .is_some_and(|c| c.client.server.is_some())
        {
            config::write_connection(&self.path, None, None)?;
        }
        // A file that only held the connection becomes a first start's, fresh secrets and all.
        config::make_desk_config(&self.path)?;
        let loaded = kyc_cli::load_config(self.explicit.as_deref())?;
        let opening = loaded.clone();
        let store = tokio::task::spawn_blocking(move || kyc_cli::open_store(&opening))
            .await
            .map_err(anyhow::Error::from)??;
        let desk = kyc_core::desk::Desk::for_config(store, &loaded);
        let running = kyc_server::start_with(&loaded, desk, Some(self.assets.clone()))
            .await
            .map_err(anyhow::Error::from)?;
        print!("{}", kyc_cli::describe(&loaded, &running));
        let url = running.window_url();
        let origin = running.local_review_url();
        *self.current.lock().await = Current::Local(Box::new(running));
        *self.origin.write().unwrap_or_else(|e| e.into_inner()) = Some(origin.clone());
        Ok((url, origin))
    }

    /// Connects to a team server whose certificate must have `fingerprint`; keeps the choice.
    async fn open_client(
        &self,
        server: &str,
        fingerprint: &str,
    ) -> Result<(String, String), UiError> {
        let relay = Relay::start(Server::parse(server)?, fingerprint).await?;
        config::write_connection(
            &self.path,
            Some(&relay.server.base),
            Some(&relay.fingerprint),
        )?;
        // Said on stdout like `serve` says where it listens (scripts and tests read it).
        println!(
            "connected to the team server {} (certificate SHA-256 {})",
            relay.server.base, relay.fingerprint
        );
        let url = relay.url();
        let origin = origin_of(&url).unwrap_or_else(|| url.clone());
        *self.current.lock().await = Current::Client(relay);
        *self.origin.write().unwrap_or_else(|e| e.into_inner()) = Some(origin.clone());
        *lock(&self.error) = None;
        Ok((url, origin))
    }

    /// Stops the desk shown now (this computer's services, or the relay).
    pub async fn close(&self) {
        let current = std::mem::replace(&mut *self.current.lock().await, Current::None);
        *self.origin.write().unwrap_or_else(|e| e.into_inner()) = None;
        match current {
            Current::None => {}
            Current::Local(running) => running.shutdown(Duration::from_secs(5)).await,
            Current::Client(relay) => relay.stop(),
        }
    }

    /// The window may show its own pages and the desk it was opened on, nothing else.
    pub fn may_navigate(&self, to: &Url) -> bool {
        if is_own_page(to) {
            return true;
        }
        let origin = self.origin.read().unwrap_or_else(|e| e.into_inner());
        origin.as_deref() == Some(to.origin().ascii_serialization().as_str())
    }

    pub fn notifications_on(&self) -> bool {
        self.notifications.load(Ordering::Relaxed)
    }

    /// Grants the desk's commands to its exact origin (once) and shows it in the window.
    fn show_desk(&self, app: &AppHandle, url: &str, origin: &str) -> Result<(), UiError> {
        if lock(&self.granted).insert(origin.to_string()) {
            app.add_capability(desk_capability(origin))?;
        }
        let window = app.get_webview_window("main").ok_or(UiError {
            code: "window",
            message: "the desk window is gone".into(),
        })?;
        window.navigate(Url::parse(url).map_err(|e| UiError {
            code: "window",
            message: e.to_string(),
        })?)?;
        Ok(())
    }

    pub fn note_granted(&self, origin: &str) {
        lock(&self.granted).insert(origin.to_string());
    }
}

/// The notification plugin's script, which the web engine runs on every page of the window, asks
/// at load whether notifications are allowed (`window.Notification.permission`); refused, its
/// promise is rejected unhandled. Reading that state shows nothing: both pages may. Showing a
/// notification stays the shell's own (`notify_waiting`).
const NOTIFICATION_STATE: &str = "notification:allow-is-permission-granted";

/// The commands of the desk's page (served by this computer's review listener or the relay),
/// granted to that exact origin only: not to other pages, ports or windows.
pub fn desk_capability(origin: &str) -> CapabilityBuilder {
    let id = format!(
        "desk-{}",
        origin.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    [
        "allow-save-file",
        "allow-desktop-info",
        "allow-set-notifications",
        "allow-change-server",
        "allow-notify-waiting",
        NOTIFICATION_STATE,
    ]
    .into_iter()
    .fold(
        CapabilityBuilder::new(id)
            .remote(format!("{origin}/*"))
            .local(false)
            .window("main"),
        |c, p| c.permission(p),
    )
}

/// The connect screen's commands, for the window's own embedded page only (never a desk's).
pub fn connect_screen_capability() -> impl RuntimeCapability {
    [
        "allow-connect-state",
        "allow-probe-server",
        "allow-connect-server",
        "allow-start-local",
        NOTIFICATION_STATE,
    ]
    .into_iter()
    .fold(
        CapabilityBuilder::new("connect-screen").window("main"),
        |c, p| c.permission(p),
    )
}

/// Shows the connect screen (the Desk menu's "Change server…"); the desk keeps running until
/// another is chosen.
pub fn show_connect_screen(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        if let Ok(url) = Url::parse(own_page()) {
            if let Err(e) = window.navigate(url) {
                tracing::error!("cannot show the connect screen: {e}");
            }
        }
    }
}

/// What the connect screen shows: the configured server and pin, and the last failure.
#[derive(Serialize)]
pub struct ConnectState {
    server: Option<String>,
    fingerprint: Option<String>,
    error: Option<UiError>,
    /// This computer has a desk of its own (a store), so "open" rather than "start".
    has_local_desk: bool,
}

#[tauri::command]
pub async fn connect_state(shell: State<'_, Arc<Shell>>) -> Result<ConnectState, UiError> {
    let c = shell.read_config()?;
    let has_local_desk = match &*shell.current.lock().await {
        Current::Local(_) => true,
        _ => kyc_cli::load_config_if_present(shell.explicit.as_deref())
            .is_some_and(|l| l.data_dir.join(kyc_core::bootstrap::DB_FILE).exists()),
    };
    Ok(ConnectState {
        server: c.as_ref().and_then(|c| c.client.server.clone()),
        fingerprint: c.and_then(|c| c.client.fingerprint),
        error: lock(&shell.error).clone(),
        has_local_desk,
    })
}

/// The fingerprint of the certificate `server` presents (the handshake stops there).
#[tauri::command]
pub async fn probe_server(server: String) -> Result<String, UiError> {
    Ok(kyc_client::probe(&Server::parse(&server)?).await?)
}

/// Pins `fingerprint` for `server`, keeps the choice and shows the team's desk (this computer's
/// own desk stops).
#[tauri::command]
pub async fn connect_server(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    server: String,
    fingerprint: String,
) -> Result<(), UiError> {
    let server = Server::parse(&server)?;
    // Checked before anything stops: a wrong pin leaves everything as it was.
    kyc_client::pin::check(&server, &fingerprint).await?;
    shell.close().await;
    let (url, origin) = shell.open_client(&server.base, &fingerprint).await?;
    shell.show_desk(&app, &url, &origin)
}

/// Shows this computer's desk, starting it when needed (and forgetting the team server).
#[tauri::command]
pub async fn start_local(app: AppHandle, shell: State<'_, Arc<Shell>>) -> Result<(), UiError> {
    let running_here = match &*shell.current.lock().await {
        Current::Local(r) => Some((r.window_url(), r.local_review_url())),
        _ => None,
    };
    let (url, origin) = match running_here {
        Some(here) => {
            *shell.origin.write().unwrap_or_else(|e| e.into_inner()) = Some(here.1.clone());
            here
        }
        None => {
            shell.close().await;
            shell.open_local().await?
        }
    };
    shell.show_desk(&app, &url, &origin)
}

/// Async, like every command here: a synchronous command runs on the main thread, which the
/// window's own calls (navigate, focus) need free.
#[tauri::command]
pub async fn change_server(app: AppHandle) {
    show_connect_screen(&app);
}

/// This computer's side of Settings.
#[derive(Serialize)]
pub struct DesktopInfo {
    mode: &'static str,
    server: Option<String>,
    fingerprint: Option<String>,
    notifications: bool,
    config_path: String,
}

#[tauri::command]
pub async fn desktop_info(shell: State<'_, Arc<Shell>>) -> Result<DesktopInfo, UiError> {
    let (mode, server, fingerprint) = match &*shell.current.lock().await {
        Current::Local(_) => ("local", None, None),
        Current::Client(r) => (
            "client",
            Some(r.server.base.clone()),
            Some(r.fingerprint.clone()),
        ),
        Current::None => ("none", None, None),
    };
    Ok(DesktopInfo {
        mode,
        server,
        fingerprint,
        notifications: shell.notifications_on(),
        config_path: shell.path.display().to_string(),
    })
}

#[tauri::command]
pub async fn set_notifications(shell: State<'_, Arc<Shell>>, on: bool) -> Result<(), UiError> {
    config::write_notifications(&shell.path, on)?;
    shell.notifications.store(on, Ordering::Relaxed);
    Ok(())
}
