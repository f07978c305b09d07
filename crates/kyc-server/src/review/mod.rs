//! The review API the desk UI (desktop window or browser) and scripts call: login, cases, images,
//! decisions and live events. Every route but login needs a session (bearer header or cookie).
//! Handlers only translate HTTP to calls on the core's [`Desk`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::Stream;
use kyc_core::desk::Desk;
use kyc_core::guard::{LoginGuard, SetupCode};
use kyc_core::users::{Account, AccountChange, Role, User};
use kyc_core::CoreError;
use kyc_domain::audit::AuditFilter;
use kyc_domain::case::CaseQuery;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_stream::wrappers::BroadcastStream;

use crate::error::{ErrorBody, ServerError};
use crate::extract::{ApiJson, ApiQuery, ClientIp};
use crate::hardening::HostAllowList;
use crate::UiAssets;

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod cases;
pub(crate) mod exports;
pub(crate) mod live;
pub(crate) mod session;
pub(crate) mod ui;

pub const SESSION_COOKIE: &str = "kyc_session";

/// What the settings page shows (no secrets; the Ditto ID config is for admins only).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub receiver_url: String,
    pub tls_fingerprint: String,
    pub tls_self_signed: bool,
    pub auth_mode: kyc_core::config::AuthMode,
    pub token_url: Option<String>,
    pub request_encryption: Option<String>,
    pub response_encryption: Option<String>,
    pub custom_body_fields: Vec<String>,
    pub hold_secs: u64,
    pub on_timeout: kyc_core::config::OnTimeout,
    pub auto_approve: kyc_core::config::AutoApprove,
    pub face_match_threshold: f64,
    pub liveness_threshold: f64,
    pub reasons: Vec<kyc_core::config::Reason>,
    pub four_eyes: bool,
    /// `[review] sla_minutes`: the queue colours a pending case's age against it.
    pub sla_minutes: u32,
    pub config_path: String,
    pub data_dir: String,
    pub warnings: Vec<String>,
    /// The review listener is plain HTTP on a network address (`review.allow_plain_http`): every
    /// reviewer sees a red banner, the sign-in page too.
    pub plain_http_on_network: bool,
    /// Every value here is read from the config file at start: changing it needs a restart.
    pub restart_needed_to_change: bool,
    #[serde(skip)]
    #[schema(ignore)]
    pub ditto_config: Value,
}

impl SettingsView {
    pub fn new(
        loaded: &kyc_core::config::Loaded,
        tls: &crate::tls::TlsMaterial,
        warnings: &[String],
    ) -> Self {
        let c = &loaded.config;
        let r = &c.receiver;
        let base = kyc_core::ditto::public_base(c);
        let enc = |e: &kyc_core::config::EncryptionConfig| {
            e.enable
                .then(|| e.suite("").ok())
                .flatten()
                .map(|s| format!("{} ({}-bit key)", s.spec().jce_name(), s.key_bits()))
        };
        SettingsView {
            receiver_url: format!("{base}{}", r.path),
            tls_fingerprint: tls.fingerprint.clone(),
            tls_self_signed: tls.self_signed,
            auth_mode: r.auth.mode,
            token_url: (r.auth.mode == kyc_core::config::AuthMode::Oauth2)
                .then(|| format!("{base}{}", r.auth.token_path)),
            request_encryption: enc(&r.request_encryption),
            response_encryption: enc(&r.response_encryption),
            custom_body_fields: r.mapping.keys().cloned().collect(),
            hold_secs: c.decision.hold_secs,
            on_timeout: c.decision.on_timeout,
            auto_approve: c.decision.auto_approve,
            face_match_threshold: c.decision.face_match_threshold,
            liveness_threshold: c.decision.liveness_threshold,
            reasons: c.decision.reasons.clone(),
            four_eyes: c.decision.four_eyes,
            sla_minutes: c.review.sla_minutes,
            config_path: loaded.path.display().to_string(),
            data_dir: loaded.data_dir.display().to_string(),
            warnings: warnings.to_vec(),
            plain_http_on_network: false,
            restart_needed_to_change: true,
            ditto_config: kyc_core::ditto::export(c),
        }
    }
}

pub struct ReviewState {
    pub settings: SettingsView,
    pub desk: Arc<Desk>,
    pub session_minutes: u64,
    pub ui: Option<Arc<dyn UiAssets>>,
    /// Whether the review listener is HTTPS (cookies get `Secure`, responses HSTS).
    pub https: bool,
    /// Throttles of the sign-in, setup and password doors (shared by every review listener).
    pub guard: Arc<LoginGuard>,
    /// The first-run setup code (closed once an account exists).
    pub setup: Arc<SetupCode>,
}

/// Sign-in, setup and password bodies: small, so a flood cannot make the process buffer much.
const DOOR_KIB: usize = 8;

type St = State<Arc<ReviewState>>;

/// The review routes behind the `Host` allow-list and the hardening headers. `api_document` is
/// the OpenAPI description served at `/api/openapi.json` (to signed-in users): the caller passes
/// it in (services.rs: `openapi::document`), since that document is built from these handlers.
pub fn router(
    state: Arc<ReviewState>,
    hosts: HostAllowList,
    api_document: fn() -> Value,
) -> Router {
    let https = state.https;
    Router::new()
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route("/api/me/password", post(session::change_own_password))
        .route("/api/cases", get(cases::list_cases))
        .route("/api/cases/{id}", get(cases::case_detail))
        .route("/api/cases/{id}/images/{name}", get(cases::case_image))
        .route("/api/cases/{id}/decision", post(cases::decide))
        .route("/api/cases/{id}/assign", post(cases::assign))
        .route("/api/cases/{id}/notes", post(cases::add_note))
        .route("/api/cases/{id}/escalate", post(cases::escalate))
        .route("/api/supervisors", get(cases::supervisors))
        .route(
            "/api/cases/{id}/presence",
            put(cases::present).delete(cases::absent),
        )
        .route("/api/presence", get(cases::presence))
        .route("/api/cases/{id}/report.pdf", get(cases::case_report))
        .route("/api/stats", get(exports::statistics))
        .route("/api/exports/decisions.csv", get(exports::export_decisions))
        .route("/api/cases/{id}/erase", post(cases::erase))
        .route("/api/audit", get(audit::audit_trail))
        .route("/api/audit/verify", get(audit::audit_verify))
        .route("/api/audit/export.csv", get(audit::export_audit))
        .route("/api/events", get(live::events))
        .route("/api/settings", get(admin::settings))
        .route(
            "/api/setup",
            get(session::setup_status).post(session::setup),
        )
        .route("/api/facets", get(admin::facets))
        .route("/api/deliveries", get(admin::deliveries))
        .route("/api/deliveries/{id}/resend", post(admin::resend_delivery))
        .route("/api/settings/ditto-config", get(admin::ditto_config))
        .route(
            "/api/openapi.json",
            get(move |_who: Reviewer| async move { Json(api_document()) }),
        )
        .route("/api/users", get(admin::list_users).post(admin::add_user))
        .route("/api/users/{name}/disable", post(admin::disable_user))
        .route("/api/users/{name}/enable", post(admin::enable_user))
        .route("/api/users/{name}/role", post(admin::set_user_role))
        .route(
            "/api/users/{name}/reset-password",
            post(admin::reset_user_password),
        )
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ServerError::NotFound }),
        )
        .fallback(get(ui::ui_asset))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(hosts),
            crate::hardening::require_allowed_host,
        ))
        .layer(axum::middleware::from_fn_with_state(
            https,
            crate::hardening::security_headers,
        ))
}

/// Any signed-in account, from `Authorization: Bearer` or the session cookie, even one that must
/// change its password first (only `me`, `logout` and the password change take this).
pub struct SignedIn {
    pub user: User,
    pub token: String,
}

/// A signed-in account that may use the desk (not one that must change its password first).
pub struct Reviewer(pub User);

fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<Arc<ReviewState>> for SignedIn {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ReviewState>,
    ) -> Result<Self, Self::Rejection> {
        let token =
            session_token(&parts.headers).ok_or(ServerError::Core(CoreError::Unauthenticated))?;
        let user = state.desk.session_user(token.clone()).await?;
        Ok(SignedIn { user, token })
    }
}

impl FromRequestParts<Arc<ReviewState>> for Reviewer {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ReviewState>,
    ) -> Result<Self, Self::Rejection> {
        let SignedIn { user, .. } = SignedIn::from_request_parts(parts, state).await?;
        if user.must_change_password {
            return Err(CoreError::PasswordChangeRequired.into());
        }
        Ok(Reviewer(user))
    }
}

/// The session answer of sign-in, setup and a password change: `{token, user, expires_at}` and
/// the session cookie (`HttpOnly; SameSite=Strict`, `Secure` on HTTPS).
fn session_response(st: &ReviewState, session: kyc_core::users::Session) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session.token,
        st.session_minutes * 60,
        if st.https { "; Secure" } else { "" }
    );
    let mut resp = Json(
        json!({"token": session.token, "user": session.user, "expires_at": session.expires_at}),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The way through a door that hashes a password (sign-in, setup, own password): refused at
/// once while `name` from `ip` (or, with no name, `ip`) must wait, so a flood never queues behind
/// real hashing; then a hash permit. The core checks the guard again once the permit is held.
async fn enter_door(
    st: &ReviewState,
    name: Option<&str>,
    ip: std::net::IpAddr,
) -> Result<tokio::sync::OwnedSemaphorePermit, ServerError> {
    let now = st.desk.now_ms();
    match name {
        Some(name) => st.guard.check(name, ip, now),
        None => st.guard.check_anonymous(ip, now),
    }
    .map_err(CoreError::TooManyAttempts)?;
    Ok(st.desk.hash_permit().await?)
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}
