//! The desktop shell (wiring only): parses the command line, runs subcommands through kyc-cli, and
//! otherwise starts the services in one tokio runtime and opens the desk window on the review URL.

mod save;

use std::borrow::Cow;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kyc_cli::Cli;
use kyc_server::UiAssets;
use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};
use tauri::{Assets, Manager, WebviewUrl, WebviewWindowBuilder, Wry};

fn context() -> tauri::Context<Wry> {
    tauri::generate_context!()
}

/// The web UI embedded by Tauri, lent to the review listener so browsers get the same build.
struct EmbeddedUi(Box<dyn Assets<Wry>>);

impl UiAssets for EmbeddedUi {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.0.get(&AssetKey::from(path)).map(Cow::into_owned)
    }
}

/// Stands in for the assets taken out of a context that is not used for a window.
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
/// (taken out of it: the window shows the review URL, not Tauri's asset protocol).
fn ui_assets(ctx: &mut tauri::Context<Wry>) -> Arc<dyn UiAssets> {
    if let Some(dir) = std::env::var_os("KYC_DESK_UI_DIR").filter(|d| !d.is_empty()) {
        return Arc::new(kyc_server::DirAssets(dir.into()));
    }
    Arc::new(EmbeddedUi(ctx.set_assets(Box::new(NoAssets))))
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

fn desktop(cli: Cli) -> anyhow::Result<()> {
    let loaded = kyc_cli::load_config(cli.config.as_deref())?;
    // One context: building it resolves the capabilities (compiling their URL patterns).
    let mut ctx = context();
    let assets = ui_assets(&mut ctx);
    let rt = tokio::runtime::Runtime::new()?;
    tauri::async_runtime::set(rt.handle().clone());
    let store = kyc_cli::open_store(&loaded)?;
    let running = rt.block_on(kyc_server::start_with(&loaded, store, Some(assets)))?;
    print!("{}", kyc_cli::describe(&loaded, &running));
    // The window's own first-run screen gets the setup code in the URL fragment.
    let url = running.window_url();
    let origin = running.local_review_url();
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![save::save_file])
        .setup(move |app| {
            // `save_file` is granted to the exact origin of this run's desk, nothing else.
            app.add_capability(
                tauri::ipc::CapabilityBuilder::new("desk-window")
                    .remote(format!("{origin}/*"))
                    .window("main")
                    .permission("allow-save-file"),
            )?;
            let desk: tauri::Url = origin.parse()?;
            WebviewWindowBuilder::new(app, "main", WebviewUrl::External(url.parse()?))
                // The window never leaves the desk (a link or a script cannot take it elsewhere).
                .on_navigation(move |to| to.origin() == desk.origin())
                .title("KYC Desk")
                .inner_size(1280.0, 800.0)
                .min_inner_size(1024.0, 640.0)
                .build()?;
            Ok(())
        })
        .run(ctx)?;
    rt.block_on(running.shutdown(std::time::Duration::from_secs(5)));
    Ok(())
}
