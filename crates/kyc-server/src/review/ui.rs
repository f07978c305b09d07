//! The embedded web UI's files.

use super::*;

/// Serves the embedded web UI; unknown paths get `index.html` (client-side routes).
pub(crate) async fn ui_asset(State(st): St, uri: Uri) -> Response {
    let Some(ui) = &st.ui else {
        return (
            StatusCode::NOT_FOUND,
            "The web UI is not part of this build; the review API is under /api/.",
        )
            .into_response();
    };
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let (path, bytes) = match ui.get(path) {
        Some(b) => (path, b),
        None => match ui.get("index.html") {
            Some(b) => ("index.html", b),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path == "index.html" {
        "no-cache"
    } else {
        "public, max-age=86400"
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
        ],
        bytes,
    )
        .into_response()
}
