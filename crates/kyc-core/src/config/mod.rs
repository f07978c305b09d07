//! The TOML configuration: keys as in contract.md, lookup order, first-start defaults; its
//! validation is in `validate.rs`, the desktop app's `[client]` section in `client.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use kyc_crypto::jce::Envelope;

mod client;
mod validate;

pub use client::*;

/// The identifier shared with `tauri.conf.json`: the data dir is `<platform data dir>/<IDENTIFIER>`,
/// the same folder Tauri's `app_data_dir()` resolves to.
pub const IDENTIFIER: &str = "com.kycdesk.desk";
/// File name of the config inside the data dir.
pub const CONFIG_FILE: &str = "kyc-desk.toml";
/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "KYC_DESK_CONFIG";

/// The receiver's health check, for a load balancer (`GET`; no credentials, no data): neither
/// `receiver.path` nor the token endpoint may take it.
pub const HEALTH_PATH: &str = "/healthz";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database, certificate and keys live; default: the platform's data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub receiver: ReceiverConfig,
    #[serde(default)]
    pub decision: DecisionConfig,
    #[serde(default)]
    pub review: ReviewConfig,
    /// Outbound webhook telling the enterprise's other systems about every final decision.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// Encryption at rest: where the master key comes from.
    #[serde(default)]
    pub storage: StorageConfig,
    /// How long decided cases are kept before they are erased.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Where the audit chain's signed checkpoints are kept.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The desktop app on this computer: a team server it connects to instead of running a desk
    /// of its own, and its notifications. `serve` ignores it.
    #[serde(default, skip_serializing_if = "ClientConfig::is_default")]
    pub client: ClientConfig,
}

/// `[audit]`: the signed checkpoints of the audit chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Folder of `checkpoints.jsonl`; relative paths are relative to the data dir. Default
    /// `<data_dir>/audit-checkpoints`. Better on another disk or a remote mount: a checkpoint
    /// only proves what the trail held if whoever can rewrite the database cannot rewrite it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_dir: Option<PathBuf>,
}

/// Where the master key that wraps every case key comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// A random 256-bit key in a file readable only by its owner (created on first start).
    #[default]
    File,
    /// Derived (Argon2id) from a passphrase given at start (`KYC_DESK_PASSPHRASE` or a prompt).
    Passphrase,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub key_source: KeySource,
    /// The master key file; default `<data_dir>/master.key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// `postgres://user@host:port/database`: the store is on this PostgreSQL database (several
    /// instances may share it). None: the embedded SQLite file in the data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file holding the database role's password (else `KYC_DESK_DB_PASSWORD`, else none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Connections one instance opens to PostgreSQL at most (default 16).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<u32>,
    /// The CA certificate (PEM) that signed the PostgreSQL server's certificate: connections
    /// are then TLS, the server verified against it (none: no TLS to the database).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days a decided case is kept (counted from its final decision); 0 keeps cases forever.
    pub keep_decided_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Where to POST; empty: no webhook.
    pub url: String,
    /// HMAC-SHA256 key for the `X-KYC-Desk-Signature` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Attempts before a delivery is marked failed (it can still be resent by hand).
    pub max_attempts: u32,
    /// First retry delay; doubled on every further attempt (capped at one hour).
    pub retry_base_ms: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            url: String::new(),
            secret: None,
            max_attempts: 8,
            retry_base_ms: 2000,
        }
    }
}

impl NotifyConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiverConfig {
    pub listen: SocketAddr,
    pub path: String,
    pub max_body_mb: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    pub auth: AuthConfig,
    pub request_encryption: EncryptionConfig,
    pub response_encryption: EncryptionConfig,
    /// Where each part of the answer goes (mirrors Ditto ID's `responseBody` locators).
    pub answer: AnswerConfig,
    /// The address Ditto ID uses to reach this receiver (e.g. `https://kyc.example.com:9005`);
    /// default: derived from `listen`. Used by `ditto-config` and the settings page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Custom request bodies (Ditto ID's `requestBody` template): our field → JSON pointer in the
    /// incoming body. Empty: the default payload v3.0.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mapping: BTreeMap<String, String>,
    /// A custom body whose template carries no user id (no `user_id` in `mapping`): the user id
    /// its cases get. Empty: none; the case is flagged `user_id_missing` and the answer leaves
    /// `user_id` out (Ditto ID renames its user to a `user_id` answered, so none is safer than "").
    #[serde(skip_serializing_if = "String::is_empty")]
    pub default_user_id: String,
    /// A custom body whose template carries no requester id: how a POST finds its case.
    pub correlation: Correlation,
}

/// How a custom body without a requester id is matched to a case.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Correlation {
    /// Every POST is a case of its own: a person re-doing KYC never gets an earlier answer.
    #[default]
    Request,
    /// A byte-identical body is the same request (a retry) and gets its first case's answer.
    Body,
}

/// The model fields a custom body can be mapped onto.
pub const MAPPABLE_FIELDS: &[&str] = &[
    "user_id",
    "requester_id",
    "app_id",
    "name",
    "surname",
    "given_names",
    "date_of_birth",
    "document_number",
    "date_of_expiry",
    "nationality",
    "sex",
    "document_type",
    "face_score",
    "liveness_score",
    "selfie_image",
    "portrait_image",
    "front_page",
    "back_page",
];

// `[receiver.answer]`: its type lives in kyc-domain with the shaping it drives.
pub use kyc_domain::answer::AnswerConfig;

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            listen: "0.0.0.0:9005".parse().expect("static address"),
            path: "/kyc".into(),
            max_body_mb: 32,
            tls_cert: None,
            tls_key: None,
            auth: AuthConfig::default(),
            request_encryption: EncryptionConfig::default(),
            response_encryption: EncryptionConfig::default(),
            answer: AnswerConfig::default(),
            public_url: None,
            mapping: BTreeMap::new(),
            default_user_id: String::new(),
            correlation: Correlation::Request,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    None,
    Basic,
    Bearer,
    Oauth2,
    /// A secret in a static header of its own (`header_name`, e.g. `x-api-key`, `header_value`).
    Header,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub token_path: String,
    /// oauth2 mode: how Ditto ID calls the token endpoint (`accessTokenEndpoint.method`): `POST`
    /// (default; form or JSON body) or also `GET` (parameters in the query string, which proxies
    /// may log: only when Ditto ID is configured so).
    pub token_method: TokenMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// More client id/secret pairs accepted besides `client_id` (rotation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<OAuthClient>,
    pub token_ttl_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// header mode: the header's name (e.g. `x-api-key`) and the secret it must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_value: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::None,
            token_path: "/kyc-service-access-token-endpoint".into(),
            token_method: TokenMethod::Post,
            client_id: None,
            client_secret: None,
            clients: Vec::new(),
            token_ttl_secs: 300,
            username: None,
            password: None,
            token: None,
            header_name: None,
            header_value: None,
        }
    }
}

/// The HTTP method of the token endpoint.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum TokenMethod {
    #[default]
    Post,
    /// POST, and GET with the parameters in the query string.
    Get,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionConfig {
    pub enable: bool,
    /// A JCE transformation, e.g. `AES/CBC/PKCS5Padding`.
    pub cipher_spec: String,
    /// `base64:...`, `hex:...` or plain text (its UTF-8 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// `base64`: the body is the base64 ciphertext; `json`: `{"<json_field>": "<base64>"}`.
    pub envelope: Envelope,
    pub json_field: String,
}

/// One OAuth2 client allowed to take tokens (several may be valid at once, for rotation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        EncryptionConfig {
            enable: false,
            cipher_spec: "AES/CBC/PKCS5Padding".into(),
            key: None,
            iv: None,
            envelope: Envelope::Base64,
            json_field: "data".into(),
        }
    }
}

// `[decision]`: its types live in kyc-domain with the rules that read them.
pub use kyc_domain::policy::{AutoApprove, DecisionConfig, OnTimeout, Reason};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    pub listen: SocketAddr,
    /// Lifetime of a review session (login) in minutes.
    pub session_minutes: u64,
    /// Host names (besides the listening address, `localhost` and loopback addresses) the
    /// review listener answers to, e.g. `["kyc-desk.example.lan"]`; any other `Host` gets 421
    /// (a page the reviewer visits cannot reach the desk through a rebinding name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub public_names: Vec<String>,
    /// Serve the review UI and API over HTTPS, with the receiver's certificate (configured or
    /// self-signed). Default: on whenever `listen` is not a loopback address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// Accept plain HTTP on a non-loopback `listen` (with `tls = false`): passwords, sessions and
    /// ID images then cross the network in clear, and every reviewer sees a red banner saying so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_plain_http: bool,
    /// How long a pending case may wait for a review: the queue shows each case's age, amber past
    /// half of this and red past it.
    pub sla_minutes: u32,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            listen: "127.0.0.1:8700".parse().expect("static address"),
            session_minutes: 8 * 60,
            public_names: Vec::new(),
            tls: None,
            allow_plain_http: false,
            sla_minutes: 4 * 60,
        }
    }
}

/// The warning (and the desk's red banner) of `review.allow_plain_http` in use.
pub const PLAIN_HTTP_WARNING: &str = "review.allow_plain_http: the desk is served over plain HTTP \
     on the network; passwords, sessions and ID images cross it in clear. Turn review.tls on.";

/// How the review listener speaks, decided by [`ReviewConfig::transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewTransport {
    Https,
    /// Plain HTTP on a loopback address: nothing leaves this machine.
    PlainLoopback,
    /// Plain HTTP reachable from the network, accepted by `review.allow_plain_http`.
    PlainOnNetwork,
}

impl ReviewConfig {
    /// How the review listener on `ip` speaks, or the error that refuses to start: plain HTTP on
    /// an address other computers can reach needs the explicit `allow_plain_http` opt-in.
    pub fn transport(&self, ip: std::net::IpAddr) -> Result<ReviewTransport, CoreError> {
        let loopback = ip.is_loopback();
        match self.tls.unwrap_or(!loopback) {
            true => Ok(ReviewTransport::Https),
            false if loopback => Ok(ReviewTransport::PlainLoopback),
            false if self.allow_plain_http => Ok(ReviewTransport::PlainOnNetwork),
            false => Err(CoreError::Config(format!(
                "review.tls: plain HTTP on {ip}, an address other computers can reach, would send \
                 passwords and ID images in clear; remove `tls = false` to serve HTTPS, listen on \
                 127.0.0.1, or set review.allow_plain_http = true to accept the risk"
            ))),
        }
    }
}

/// A config as loaded: the parsed values plus where it came from and the resolved data dir.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    pub data_dir: PathBuf,
    /// True when this start wrote the file with defaults.
    pub created: bool,
}

impl Loaded {
    /// The folder of the audit checkpoints (`[audit] checkpoint_dir`, resolved).
    pub fn checkpoint_dir(&self) -> PathBuf {
        // Path::join keeps an absolute path as it is.
        let dir = self.config.audit.checkpoint_dir.as_deref();
        self.data_dir
            .join(dir.unwrap_or(Path::new("audit-checkpoints")))
    }
}

/// The platform's default data dir for KYC Desk (same as Tauri's `app_data_dir`).
pub fn default_data_dir() -> Result<PathBuf, CoreError> {
    let base = directories::BaseDirs::new().ok_or_else(|| {
        CoreError::Config(
            "cannot determine the home directory for the data dir; set data_dir or --config".into(),
        )
    })?;
    Ok(base.data_dir().join(IDENTIFIER))
}

/// Resolves the config path: `--config`, else `$KYC_DESK_CONFIG`, else `<data dir>/kyc-desk.toml`.
pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf, CoreError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    Ok(default_data_dir()?.join(CONFIG_FILE))
}

/// Loads the config from the lookup order; writes one with safe defaults when the file is missing.
pub fn load_or_init(explicit: Option<&Path>) -> Result<Loaded, CoreError> {
    let path = resolve_path(explicit)?;
    let (config, created) = match std::fs::read_to_string(&path) {
        Ok(text) => (parse(&text)?, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let config = Config::first_start();
            write_new(&path, &config)?;
            (config, true)
        }
        Err(e) => {
            return Err(CoreError::Config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )))
        }
    };
    let data_dir = match &config.data_dir {
        Some(d) if d.is_absolute() => d.clone(),
        // A relative data_dir is relative to the config file's folder.
        Some(d) => path.parent().unwrap_or(Path::new(".")).join(d),
        None => default_data_dir()?,
    };
    Ok(Loaded {
        config,
        path,
        data_dir,
        created,
    })
}

/// Before the desktop app starts a desk of its own from a config that only held its `[client]`
/// choice: the file becomes a first start's (safe defaults, fresh secrets) keeping the
/// notifications setting, so a desk never runs on the plain defaults. True when it was rewritten.
pub fn make_desk_config(path: &Path) -> Result<bool, CoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(CoreError::Config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )))
        }
    };
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| CoreError::Config(format!("{}: {e}", path.display())))?;
    if doc.keys().any(|k| k != "client") {
        return Ok(false);
    }
    let mut config = Config::first_start();
    config.client.notifications = parse(&text)?.client.notifications;
    write_new(path, &config)?;
    Ok(true)
}

fn write_new(path: &Path, config: &Config) -> Result<(), CoreError> {
    create_parent(path)?;
    let body = toml::to_string_pretty(config).map_err(|e| CoreError::Config(e.to_string()))?;
    let text = format!(
        "# KYC Desk configuration, written with safe defaults on first start.\n\
         # Keys: see the README (Configuration). Secrets below were generated randomly.\n\n{}",
        annotate_first_start(&body)
    );
    kyc_store::fsutil::write_private(path, text.as_bytes())
        .map_err(|e| CoreError::Config(format!("cannot write config {}: {e}", path.display())))
}

/// The comment written above `on_timeout` in a new config: the trade-off, in the file itself.
pub const ON_TIMEOUT_COMMENT: &str = "\
# on_timeout: what Ditto ID is told when nobody decided within hold_secs.
#   \"reject\" (the safe default for a compliance control): result=false; an expired, mismatched
#     or tampered ID is never waved through unseen. The reviewer's later decision is still
#     recorded and sent by the webhook ([notify]), so a wrongly refused person can be let in.
#   \"accept\": result=true (\"accepted for offline review\"): nobody waits, but everything
#     undecided goes through, flagged or not, until a reviewer looks at it.
# auto_approve = \"clean\" answers cases without any warning or error at once (per policy).
";

/// Puts [`ON_TIMEOUT_COMMENT`] above the `on_timeout` line of a serialised config.
fn annotate_first_start(body: &str) -> String {
    body.replacen(
        "\non_timeout = ",
        &format!("\n{ON_TIMEOUT_COMMENT}on_timeout = "),
        1,
    )
}

/// Parses and validates config text; errors name the key.
pub fn parse(text: &str) -> Result<Config, CoreError> {
    let de = toml::Deserializer::new(text);
    let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.message().to_string();
        let line = inner
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        match (key.as_str(), line) {
            (".", Some(l)) | ("", Some(l)) => CoreError::Config(format!("line {l}: {msg}")),
            (_, Some(l)) => CoreError::Config(format!("{key} (line {l}): {msg}")),
            _ => CoreError::Config(format!("{key}: {msg}")),
        }
    })?;
    config.receiver.share_request_keys();
    config.validate()?;
    Ok(config)
}

impl ReceiverConfig {
    /// `[receiver.response_encryption]` enabled without a key of its own answers with the request
    /// encryption's key and IV ("same keys", as Ditto ID's console is often given one pair for
    /// both directions); its `cipher_spec` and `envelope` stay its own.
    fn share_request_keys(&mut self) {
        let (req, resp) = (&self.request_encryption, &mut self.response_encryption);
        if resp.enable && resp.key.is_none() && req.enable && req.key.is_some() {
            resp.key = req.key.clone();
            if resp.iv.is_none() {
                resp.iv = req.iv.clone();
            }
        }
    }
}

/// Random printable text (letters and digits) of `len` characters: `len` bytes of key as UTF-8.
fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut buf = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    // 62 symbols: a byte modulo 62 is very slightly biased; the key still carries ~5.95 bits/char.
    buf.iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

impl Config {
    /// The config the first start writes: OAuth2 with a random client secret, and request and
    /// answer encryption (AES/CBC/PKCS5Padding) under random keys typed as text, the form a Java
    /// admin pastes into Ditto ID's console.
    pub fn first_start() -> Config {
        let mut c = Config {
            data_dir: None,
            receiver: ReceiverConfig::default(),
            decision: DecisionConfig::default(),
            review: ReviewConfig::default(),
            notify: NotifyConfig::default(),
            storage: StorageConfig::default(),
            retention: RetentionConfig::default(),
            audit: AuditConfig::default(),
            client: ClientConfig::default(),
        };
        let auth = &mut c.receiver.auth;
        auth.mode = AuthMode::Oauth2;
        auth.client_id = Some("ditto-idv".into());
        auth.client_secret = Some(random_secret(24));
        for enc in [
            &mut c.receiver.request_encryption,
            &mut c.receiver.response_encryption,
        ] {
            enc.enable = true;
            enc.cipher_spec = "AES/CBC/PKCS5Padding".into();
            enc.key = Some(random_text(32));
            enc.iv = Some(random_text(16));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_url_must_be_a_postgres_url() {
        for bad in [
            "mysql://db/kyc",
            "postgres://db:notaport/kyc",
            "kyc.sqlite3",
        ] {
            let err = parse(&format!("[storage]\nurl = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("storage.url"), "{bad}: {err}");
        }
        let ok =
            parse("[storage]\nurl = \"postgres://kyc@db.internal:5432/kyc\"\npool = 8\n").unwrap();
        assert_eq!(
            ok.storage.url.as_deref(),
            Some("postgres://kyc@db.internal:5432/kyc")
        );
        let err = parse("[storage]\npool = 1\n").unwrap_err().to_string();
        assert!(err.contains("storage.pool"), "{err}");
    }

    #[test]
    fn a_bad_cipher_setting_is_named_by_its_full_key() {
        let text = "[receiver.request_encryption]\nenable = true\n\
                    cipher_spec = \"AES/CBC/PKCS5Padding\"\nkey = \"0123456789abcdef\"\n";
        let err = parse(text).unwrap_err().to_string();
        let want = "receiver.request_encryption.iv: is required for AES/CBC/PKCS5Padding";
        assert!(err.contains(want), "{err}");
    }

    #[test]
    fn response_encryption_without_keys_uses_the_request_keys() {
        let text = r#"
[receiver.request_encryption]
enable = true
cipher_spec = "AES/CBC/PKCS5Padding"
key = "0123456789abcdef0123456789abcdef"
iv = "fedcba9876543210"

[receiver.response_encryption]
enable = true
"#;
        let c = parse(text).unwrap();
        let (req, resp) = (
            &c.receiver.request_encryption,
            &c.receiver.response_encryption,
        );
        assert_eq!(resp.key, req.key);
        assert_eq!(resp.iv, req.iv);
        // Its own key wins; without request keys there is nothing to share.
        let own = text.replace(
            "[receiver.response_encryption]\nenable = true",
            "[receiver.response_encryption]\nenable = true\nkey = \"hex:000102030405060708090a0b0c0d0e0f\"\niv = \"hex:000102030405060708090a0b0c0d0e0f\"",
        );
        let c = parse(&own).unwrap();
        assert_eq!(
            c.receiver.response_encryption.key.as_deref(),
            Some("hex:000102030405060708090a0b0c0d0e0f")
        );
        let err = parse("[receiver.response_encryption]\nenable = true\n").unwrap_err();
        assert!(
            err.to_string().contains("receiver.response_encryption"),
            "{err}"
        );
    }

    #[test]
    fn first_start_config_round_trips_and_validates() {
        let c = Config::first_start();
        let text = toml::to_string_pretty(&c).unwrap();
        assert_eq!(parse(&text).unwrap(), c);
        assert_eq!(c.receiver.auth.mode, AuthMode::Oauth2);
        assert_eq!(c.receiver.auth.client_secret.as_ref().unwrap().len(), 48);
        assert_ne!(
            Config::first_start().receiver.auth.client_secret,
            c.receiver.auth.client_secret
        );
        let key = c.receiver.request_encryption.key.as_ref().unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(Some(key), c.receiver.response_encryption.key.as_ref());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[receiver]\nlisen = \"1.2.3.4:5\"\n", "receiver"),
            ("[receiver]\nlisten = \"nope\"\n", "receiver.listen"),
            (
                "[decision]\non_timeout = \"maybe\"\n",
                "decision.on_timeout",
            ),
            ("[decision]\nhold_secs = -1\n", "decision.hold_secs"),
            ("[receiver]\nmax_body_mb = 0\n", "receiver.max_body_mb"),
            ("[receiver]\npath = \"kyc\"\n", "receiver.path"),
            ("[receiver]\npath = \"/healthz\"\n", "receiver.path"),
            (
                "[receiver.auth]\ntoken_path = \"/healthz\"\n",
                "receiver.auth.token_path",
            ),
            (
                "[receiver.auth]\nmode = \"basic\"\n",
                "receiver.auth.username",
            ),
            (
                "[receiver.auth]\nmode = \"bearer\"\ntoken = \"short\"\n",
                "receiver.auth.token",
            ),
            ("[review]\nsession_minutes = 1\n", "review.session_minutes"),
            ("[review]\nsla_minutes = 0\n", "review.sla_minutes"),
            ("nonsense = 1\n", "nonsense"),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_fresh_config_fails_closed_and_says_why() {
        assert_eq!(Config::first_start().decision.on_timeout, OnTimeout::Reject);
        // A config that does not say keeps failing closed; one that says keeps what it says.
        assert_eq!(parse("").unwrap().decision.on_timeout, OnTimeout::Reject);
        let accept = parse("[decision]\non_timeout = \"accept\"\n").unwrap();
        assert_eq!(accept.decision.on_timeout, OnTimeout::Accept);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyc-desk.toml");
        load_or_init(Some(&path)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text.find("on_timeout = \"reject\"").expect(&text);
        assert!(text[..at].ends_with(ON_TIMEOUT_COMMENT), "{text}");
        assert_eq!(parse(&text).unwrap().decision.on_timeout, OnTimeout::Reject);
        let err = parse("[review]\npublic_names = [\"https://x\"]\n").unwrap_err();
        assert!(err.to_string().contains("review.public_names[0]"), "{err}");
    }

    #[test]
    fn plain_http_off_loopback_is_refused_unless_opted_in() {
        use ReviewTransport::*;
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let table: &[(&str, &str, Result<ReviewTransport, ()>)] = &[
            ("", "127.0.0.1", Ok(PlainLoopback)),
            ("", "::1", Ok(PlainLoopback)),
            ("", "0.0.0.0", Ok(Https)),
            ("", "192.168.1.20", Ok(Https)),
            ("tls = true\n", "127.0.0.1", Ok(Https)),
            ("tls = false\n", "127.0.0.1", Ok(PlainLoopback)),
            ("tls = false\n", "0.0.0.0", Err(())),
            ("tls = false\n", "10.0.0.5", Err(())),
            (
                "tls = false\nallow_plain_http = true\n",
                "10.0.0.5",
                Ok(PlainOnNetwork),
            ),
            ("allow_plain_http = true\n", "10.0.0.5", Ok(Https)),
        ];
        for (keys, addr, want) in table {
            let cfg: ReviewConfig = toml::from_str(keys).unwrap();
            let got = cfg.transport(ip(addr));
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{keys:?} on {addr}"),
                (Err(()), Err(e)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("review.tls") && text.contains("allow_plain_http"),
                        "{text}"
                    );
                }
                _ => panic!("{keys:?} on {addr}: {got:?}"),
            }
        }
        // Checked when the file is read, naming the key; the opt-in is a warning (the red banner).
        let refused = parse("[review]\nlisten = \"0.0.0.0:8700\"\ntls = false\n").unwrap_err();
        assert!(refused.to_string().contains("review.tls"), "{refused}");
        let opted =
            parse("[review]\nlisten = \"0.0.0.0:8700\"\ntls = false\nallow_plain_http = true\n")
                .unwrap();
        assert!(opted.warnings().contains(&PLAIN_HTTP_WARNING.to_string()));
        assert!(!parse("")
            .unwrap()
            .warnings()
            .contains(&PLAIN_HTTP_WARNING.to_string()));
    }

    #[test]
    fn fingerprints_and_server_addresses_are_read_in_their_common_spellings() {
        let colons = (0..32)
            .map(|i| format!("{i:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        for raw in [
            colons.clone(),
            colons.to_lowercase(),
            colons.replace(':', ""),
            colons.replace(':', " "),
            format!("sha256:{}", colons.replace(':', "")),
        ] {
            assert_eq!(
                normalize_fingerprint(&raw).as_deref(),
                Some(colons.as_str()),
                "{raw}"
            );
        }
        for bad in ["", "AB:CD", &colons[3..], &colons.replace("1F", "ZZ")] {
            assert_eq!(normalize_fingerprint(bad), None, "{bad}");
        }
        assert_eq!(
            check_server_url("https://desk.lan:8700/").unwrap(),
            "https://desk.lan:8700"
        );
        for bad in [
            "http://desk.lan",
            "desk.lan",
            "https://",
            "https://desk.lan/api",
            "https://u@desk",
        ] {
            assert!(
                check_server_url(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("client.server"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_client_section_is_written_into_the_file_keeping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyc-desk.toml");
        // A client-only file from nothing.
        write_connection(&path, Some("https://desk.lan:8700"), Some("AA")).unwrap_err();
        let fp = normalize_fingerprint(&"ab".repeat(32)).unwrap();
        write_connection(&path, Some("https://desk.lan:8700"), Some(&fp)).unwrap();
        let c = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(c.client.server.as_deref(), Some("https://desk.lan:8700"));
        assert_eq!(c.client.fingerprint.as_deref(), Some(fp.as_str()));
        // A desk's file keeps its comments and keys; notifications alone leave the connection.
        std::fs::write(&path, "# mine\n[review]\nsession_minutes = 60\n").unwrap();
        write_notifications(&path, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# mine\n"), "{text}");
        let c = parse(&text).unwrap();
        assert_eq!(
            (c.review.session_minutes, c.client.notifications),
            (60, false)
        );
        assert_eq!(c.client.server, None);
    }

    #[test]
    fn a_client_only_file_becomes_a_first_start_desk_before_a_desk_runs_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyc-desk.toml");
        std::fs::write(&path, "[client]\nnotifications = false\n").unwrap();
        assert!(make_desk_config(&path).unwrap());
        let c = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            c.receiver.auth.mode,
            AuthMode::Oauth2,
            "first-start defaults, not plain ones"
        );
        assert!(c.receiver.auth.client_secret.is_some());
        assert!(!c.client.notifications, "the setting is kept");
        // A desk's own file is left as it is.
        assert!(!make_desk_config(&path).unwrap());
        assert!(!make_desk_config(&dir.path().join("none.toml")).unwrap());
    }

    #[test]
    fn missing_file_is_written_with_defaults_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kyc-desk.toml");
        let first = load_or_init(Some(&path)).unwrap();
        assert!(first.created);
        let again = load_or_init(Some(&path)).unwrap();
        assert!(!again.created);
        assert_eq!(first.config, again.config);
    }

    #[test]
    fn relative_data_dir_is_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyc.toml");
        std::fs::write(&path, "data_dir = \"data\"\n").unwrap();
        let loaded = load_or_init(Some(&path)).unwrap();
        assert_eq!(loaded.data_dir, dir.path().join("data"));
    }
}
