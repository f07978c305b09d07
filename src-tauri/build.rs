//! Tauri build step: reads tauri.conf.json and capabilities/ at the crate root.
//! The app's own commands are declared (AppManifest) so the capability can grant them to the
//! window, whose page is served over loopback HTTP (a "remote" origin to Tauri's ACL).
fn main() {
    let attributes =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
            "save_file",
            "connect_state",
            "probe_server",
            "connect_server",
            "start_local",
            "change_server",
            "desktop_info",
            "set_notifications",
            "notify_waiting",
        ]));
    tauri_build::try_build(attributes).expect("tauri build step");
}
