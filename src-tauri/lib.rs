//! The desktop shell (wiring only): parses the command line, runs subcommands through kyc-cli,
//! and otherwise opens the desk window on this computer's own desk (kyc-server) or on a team
//! server through the pinned relay (kyc-client), or on the connect screen to choose.

mod modes;
mod notify;
mod save;

use std::borrow::Cow;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kyc_cli::Cli;
use kyc_server::UiAssets;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};
use tauri::{Assets, Manager, WebviewUrl, WebviewWindowBuilder, Wry};

fn context() -> tauri::Context<Wry> {
    tauri::generate_context!()
}

/// The web UI embedded by Tauri, shared by the window (its connect screen) and the review
/// listener (so browsers get the same build).
#[derive(Clone)]
struct SharedUi(Arc<dyn Assets<Wry>>);

impl UiAssets for SharedUi {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.0.get(&AssetKey::from(path)).map(Cow::into_owned)
    }
}

impl Assets<Wry> for SharedUi {
    fn get(&self, key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        self.0.get(key)
    }
    fn iter(&self) -> Box<AssetsIter<'_>> {
        self.0.iter()
    }
    fn csp_hashes(&self, html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        self.0.csp_hashes(html_path)
    }
}

/// Stands in while the embedded assets are moved into [`SharedUi`].
struct NoAssets;

impl Assets<Wry> for NoAssets {
    fn get(&self, _key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        None
    }
    fn iter(&self) -> Box<AssetsIter<'_>> {
        Box::new(std::iter::empty())
    }
    fn csp_hashes(&self, _html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        Box::new(std::iter::empty())
    }
}

/// The UI for the review listener: `KYC_DESK_UI_DIR` when set, else the build embedded in `ctx`
/// (which keeps serving the window's connect screen).
fn ui_assets(ctx: &mut tauri::Context<Wry>) -> Arc<dyn UiAssets> {
    let embedded = SharedUi(Arc::from(ctx.set_assets(Box::new(NoAssets))));
    ctx.set_assets(Box::new(embedded.clone()));
    if let Some(dir) = std::env::var_os("KYC_DESK_UI_DIR").filter(|d| !d.is_empty()) {
        return Arc::new(kyc_server::DirAssets(dir.into()));
    }
    Arc::new(embedded)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.is_some() {
        return kyc_cli::run(cli, Some(ui_assets(&mut context())));
    }
    kyc_cli::init_logging();
    match desktop(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kyc-desk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The window's menu: Desk → Change server…, Quit.
fn menu(app: &tauri::AppHandle) -> tauri::Result<Menu<Wry>> {
    let change = MenuItem::with_id(app, "change-server", "Change server…", true, None::<&str>)?;
    let quit = PredefinedMenuItem::quit(app, Some("Quit"))?;
    let desk = Submenu::with_items(app, "Desk", true, &[&change, &quit])?;
    Menu::with_items(app, &[&desk])
}

fn desktop(cli: Cli) -> anyhow::Result<()> {
    // One context: building it resolves the capabilities (compiling their URL patterns).
    let mut ctx = context();
    let assets = ui_assets(&mut ctx);
    let rt = tokio::runtime::Runtime::new()?;
    tauri::async_runtime::set(rt.handle().clone());
    let shell = Arc::new(modes::Shell::new(cli.config.clone(), assets)?);
    if let Some(server) = &cli.connect {
        shell.keep_connection(server, cli.fingerprint.as_deref())?;
    }
    // Where the window opens: the desk (local or relayed), or the connect screen.
    let start = rt.block_on(shell.open_configured())?;
    let nav = shell.clone();
    let on_close = shell.clone();
    let granted = shell.clone();
    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .manage(shell.clone())
        .invoke_handler(tauri::generate_handler![
            save::save_file,
            modes::connect_state,
            modes::probe_server,
            modes::connect_server,
            modes::start_local,
            modes::change_server,
            modes::desktop_info,
            modes::set_notifications,
            notify::notify_waiting,
        ])
        .setup(move |app| {
            // The connect screen (the window's own embedded page) may choose the mode; the desk's
            // page gets its commands granted to its exact origin when it opens (modes.rs).
            app.add_capability(modes::connect_screen_capability())?;
            if let Some(origin) = start.desk_origin() {
                app.add_capability(modes::desk_capability(&origin))?;
                granted.note_granted(&origin);
            }
            let url = match &start {
                modes::Start::Desk { url, .. } => WebviewUrl::External(url.parse()?),
                modes::Start::Connect => WebviewUrl::App("index.html".into()),
            };
            let handle = app.handle().clone();
            WebviewWindowBuilder::new(app, "main", url)
                // The window never leaves the desk or its own connect screen.
                .on_navigation(move |to| nav.may_navigate(to))
                .title("KYC Desk")
                .menu(menu(&handle)?)
                .inner_size(1280.0, 800.0)
                .min_inner_size(1024.0, 640.0)
                .build()?;
            app.on_menu_event(|app, event| {
                if event.id() == "change-server" {
                    modes::show_connect_screen(app);
                }
            });
            Ok(())
        })
        .run(ctx)?;
    rt.block_on(on_close.close());
    Ok(())
}
