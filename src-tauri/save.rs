//! The desk window's `save_file` command: the UI hands over a downloaded report or export and the
//! user picks where it goes in the native save dialog (rfd). `KYC_DESK_SAVE_DIR` skips the dialog
//! and saves into that folder (unattended use and the desktop end-to-end test).

use std::path::{Path, PathBuf};

use serde::Serialize;
use tauri::ipc::{InvokeBody, Request};
use tauri::{AppHandle, Runtime, WebviewWindow};

/// Saves without asking, into this folder.
pub const SAVE_DIR_ENV: &str = "KYC_DESK_SAVE_DIR";

/// What the UI gets when saving fails: `{code, message}`.
#[derive(Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct SaveError {
    code: &'static str,
    message: String,
}

impl SaveError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        SaveError {
            code,
            message: message.into(),
        }
    }
}

/// A file name only (no folders), with characters Windows refuses replaced.
fn safe_name(raw: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    let base = Path::new(decoded.as_ref())
        .file_name()?
        .to_string_lossy()
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect::<String>();
    let trimmed = base.trim().trim_start_matches('.').to_string();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Asks where to save (on the main thread, as GTK wants), returning None when cancelled.
async fn ask<R: Runtime>(
    app: &AppHandle<R>,
    window: WebviewWindow<R>,
    name: String,
) -> Result<Option<PathBuf>, SaveError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.run_on_main_thread(move || {
        let dialog = rfd::AsyncFileDialog::new()
            .set_title("Save")
            .set_file_name(&name)
            .set_parent(&window)
            .save_file();
        std::thread::spawn(move || {
            let picked = tauri::async_runtime::block_on(dialog);
            let _ = tx.send(picked.map(|f| f.path().to_path_buf()));
        });
    })
    .map_err(|e| SaveError::new("dialog_failed", e.to_string()))?;
    rx.await
        .map_err(|_| SaveError::new("dialog_failed", "the save dialog closed unexpectedly"))
}

/// `invoke("save_file", bytes, {headers: {"x-file-name": encodeURIComponent(name)}})` → the path
/// saved to, or null when the user cancelled.
#[tauri::command]
pub async fn save_file<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    request: Request<'_>,
) -> Result<Option<String>, SaveError> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(SaveError::new(
            "bad_request",
            "send the file's bytes as the raw body",
        ));
    };
    let name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .and_then(safe_name)
        .ok_or_else(|| SaveError::new("bad_request", "x-file-name: a file name is needed"))?;
    let target = match std::env::var_os(SAVE_DIR_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join(&name)),
        None => ask(&app, window, name).await?,
    };
    let Some(path) = target else {
        return Ok(None);
    };
    let bytes = bytes.clone();
    let written = path.clone();
    tokio::task::spawn_blocking(move || std::fs::write(&written, bytes))
        .await
        .map_err(|e| SaveError::new("save_failed", e.to_string()))?
        .map_err(|e| SaveError::new("save_failed", format!("{}: {e}", path.display())))?;
    tracing::info!("file saved from the desk");
    Ok(Some(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn names_lose_folders_and_forbidden_characters() {
        assert_eq!(
            safe_name("KYC-2026-000001.pdf").as_deref(),
            Some("KYC-2026-000001.pdf")
        );
        assert_eq!(
            safe_name("..%2F..%2Fetc%2Fpasswd").as_deref(),
            Some("passwd")
        );
        assert_eq!(safe_name("a%3Ab%3F.csv").as_deref(), Some("a_b_.csv"));
        assert_eq!(
            safe_name("r%C3%A9sum%C3%A9.pdf").as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(safe_name("..").as_deref(), None);
        assert_eq!(safe_name("").as_deref(), None);
    }
}
