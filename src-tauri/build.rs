//! Tauri build step: reads tauri.conf.json and capabilities/ at the crate root.
fn main() {
    tauri_build::build()
}
