//! `[client]`: the desktop app on this computer (a team server it connects to, its pinned
//! certificate, notifications), and the edits that write those keys into an existing file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// `[client]`: what the desktop app does on this computer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// `https://host:port` of the team's KYC Desk server; unset: the app runs a desk itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The SHA-256 fingerprint of the server's certificate (`AB:CD:…`, as the server prints it);
    /// the app refuses any other certificate. Unset: the app shows the server's and asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A native notification when a case arrives that Ditto ID waits on and the window is not
    /// focused.
    pub notifications: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            server: None,
            fingerprint: None,
            notifications: true,
        }
    }
}

impl ClientConfig {
    pub(super) fn is_default(&self) -> bool {
        *self == ClientConfig::default()
    }
}

/// A SHA-256 certificate fingerprint in the form the server prints (`AB:CD:…`, 32 bytes), from
/// any common spelling: upper or lower case, with colons, spaces or nothing between the bytes,
/// with or without a `sha256:` prefix.
pub fn normalize_fingerprint(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw
        .strip_prefix("sha256:")
        .or_else(|| raw.strip_prefix("SHA256:"))
        .unwrap_or(raw);
    let hex: String = raw
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let upper = hex.to_ascii_uppercase();
    let bytes: Vec<&str> = (0..32).map(|i| &upper[2 * i..2 * i + 2]).collect();
    Some(bytes.join(":"))
}

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:…` (what the server prints and the
/// desktop app pins).
pub fn cert_fingerprint(der: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Checks a team server address: `https://host[:port]`, nothing after it.
pub fn check_server_url(raw: &str) -> Result<String, CoreError> {
    let bad = |why: &str| Err(CoreError::Config(format!("client.server: {why}")));
    let url = raw.trim().trim_end_matches('/');
    let Some(rest) = url.strip_prefix("https://") else {
        return bad("must start with https:// (the team server speaks HTTPS)");
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return bad("a server address like https://kyc-desk.example.lan:8700, without a path");
    }
    Ok(url.to_string())
}

/// Keeps the team server and its pin in `[client]` of the config file at `path` (`None`
/// removes them), keeping everything else in the file, comments too.
pub fn write_connection(
    path: &Path,
    server: Option<&str>,
    fingerprint: Option<&str>,
) -> Result<(), CoreError> {
    edit_client(path, |table| {
        for (key, value) in [("server", server), ("fingerprint", fingerprint)] {
            match value {
                Some(v) => {
                    table.insert(key, toml_edit::value(v));
                }
                None => {
                    table.remove(key);
                }
            }
        }
    })
}

/// Keeps `[client] notifications` in the config file at `path`, keeping everything else.
pub fn write_notifications(path: &Path, on: bool) -> Result<(), CoreError> {
    edit_client(path, |table| {
        table.insert("notifications", toml_edit::value(on));
    })
}

/// Edits `[client]` of the config file at `path` in place (creating the file with only that
/// section when it does not exist); a result that would not load is never written.
fn edit_client(path: &Path, edit: impl FnOnce(&mut toml_edit::Table)) -> Result<(), CoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CoreError::Config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )))
        }
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| CoreError::Config(format!("{}: {e}", path.display())))?;
    let table = doc
        .entry("client")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| CoreError::Config("client: must be a table".into()))?;
    edit(table);
    let out = doc.to_string();
    super::parse(&out)?;
    create_parent(path)?;
    kyc_store::fsutil::write_private(path, out.as_bytes())
        .map_err(|e| CoreError::Config(format!("cannot write {}: {e}", path.display())))
}

/// Creates the folder a config file goes into.
pub(super) fn create_parent(path: &Path) -> Result<(), CoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            CoreError::Config(format!(
                "cannot create config folder {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}
