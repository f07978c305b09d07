//! KYC Desk's HTTP edges: the HTTPS receiver Ditto ID calls and the review API + web UI, both
//! started by [`services::start`] inside one tokio runtime (used by `serve` and the desktop app).

pub mod error;
pub mod extract;
pub mod hardening;
pub mod notify;
pub mod openapi;
pub mod receiver;
pub mod review;
pub mod services;
pub mod tls;

pub use error::ServerError;
pub use services::{start, start_with, Running};

/// The web UI's files (embedded by the desktop binary), served to browsers by the review listener.
pub trait UiAssets: Send + Sync {
    /// The file at `path` (relative, no leading slash), if it exists.
    fn get(&self, path: &str) -> Option<Vec<u8>>;
}

/// UI files served from a folder on disk (`KYC_DESK_UI_DIR`, for UI development and tests).
pub struct DirAssets(pub std::path::PathBuf);

impl UiAssets for DirAssets {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        let rel = std::path::Path::new(path);
        // Only plain relative names: no `..`, no roots, no drive prefixes.
        if !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return None;
        }
        std::fs::read(self.0.join(rel)).ok()
    }
}
