//! The native notification of a case Ditto ID is waiting on, when the window is not focused:
//! "Ditto ID is waiting: KYC-… — 2 min left"; clicking it brings the window up on that case.
//! Tauri's notification plugin answers whether notifications are allowed; the notification
//! itself goes through notify-rust (the library the plugin wraps), because the plugin drops the
//! handle a click arrives on (desktop clicks are not in the plugin: tauri-apps/plugins-workspace
//! issue 2150).

use std::sync::Arc;

use tauri::{AppHandle, Manager, State};
use tauri_plugin_notification::{NotificationExt as _, PermissionState};

use crate::modes::{Shell, UiError};

/// "2 min left" / "45 s left".
fn time_left(secs: u64) -> String {
    if secs >= 120 {
        format!("{} min left", secs / 60)
    } else {
        format!("{secs} s left")
    }
}

/// A case reference as shown (it is an id: letters, digits and '-' only).
fn clean_reference(r: &str) -> String {
    r.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect()
}

/// Brings the window up and opens case `id` in it.
fn open_case(app: &AppHandle, id: i64) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
    let _ = window.eval(format!("location.hash = '#/case/{id}'"));
}

/// Shows the notification unless the window has focus or the setting is off; true when shown.
#[tauri::command]
pub async fn notify_waiting(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    case_id: i64,
    reference: String,
    seconds_left: u64,
) -> Result<bool, UiError> {
    if !shell.notifications_on() {
        return Ok(false);
    }
    let focused = app
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return Ok(false);
    }
    if !matches!(
        app.notification().permission_state(),
        Ok(PermissionState::Granted)
    ) {
        return Ok(false);
    }
    let summary = format!(
        "Ditto ID is waiting: {} — {}",
        clean_reference(&reference),
        time_left(seconds_left)
    );
    #[cfg(windows)]
    let identifier = app.config().identifier.clone();
    std::thread::spawn(move || {
        let mut note = notify_rust::Notification::new();
        note.appname("KYC Desk")
            .summary(&summary)
            .body("Open KYC Desk to review the case before the window closes.")
            .action("default", "Open the case");
        #[cfg(windows)]
        note.app_id(&identifier);
        let shown = note.show();
        match shown {
            Ok(handle) => handle.wait_for_action(|action| {
                if action != "__closed" {
                    tracing::info!(case = case_id, "notification clicked: opening the case");
                    open_case(&app, case_id);
                }
            }),
            Err(e) => tracing::warn!(case = case_id, "cannot show a notification: {e}"),
        }
    });
    tracing::info!(case = case_id, "notified: Ditto ID is waiting");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notification_says_the_reference_and_the_time_left() {
        assert_eq!(time_left(150), "2 min left");
        assert_eq!(time_left(45), "45 s left");
        assert_eq!(clean_reference("KYC-2026-000123"), "KYC-2026-000123");
        assert_eq!(clean_reference("KYC-1<script>"), "KYC-1script");
    }
}
