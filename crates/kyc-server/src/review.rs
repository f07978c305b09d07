//! The review API the desk UI (desktop window or browser) and scripts call: login, cases, images,
//! decisions and live events. Every route but login needs a session (bearer header or cookie).
//! Handlers only translate HTTP to calls on the core's [`Desk`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::Stream;
use kyc_core::audit::AuditFilter;
use kyc_core::desk::{blocking, Desk};
use kyc_core::guard::{LoginGuard, SetupCode};
use kyc_core::store::{CaseQuery, NewDecision};
use kyc_core::users::{Account, AccountChange, Permission, Role, User};
use kyc_core::CoreError;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_stream::wrappers::BroadcastStream;

use crate::error::{ErrorBody, ServerError};
use crate::extract::{ApiJson, ClientIp};
use crate::hardening::HostAllowList;
use crate::UiAssets;

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
                .then(|| kyc_core::crypto::AesSuite::from_config(e, "").ok())
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
    /// Password hashing is memory-hard (19 MiB each): at most this many at once.
    pub hash_permits: Arc<tokio::sync::Semaphore>,
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
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/me/password", post(change_own_password))
        .route("/api/cases", get(list_cases))
        .route("/api/cases/{id}", get(case_detail))
        .route("/api/cases/{id}/images/{name}", get(case_image))
        .route("/api/cases/{id}/decision", post(decide))
        .route("/api/cases/{id}/assign", post(assign))
        .route("/api/cases/{id}/notes", post(add_note))
        .route("/api/cases/{id}/escalate", post(escalate))
        .route("/api/supervisors", get(supervisors))
        .route("/api/cases/{id}/presence", put(present).delete(absent))
        .route("/api/presence", get(presence))
        .route("/api/cases/{id}/report.pdf", get(case_report))
        .route("/api/stats", get(statistics))
        .route("/api/exports/decisions.csv", get(export_decisions))
        .route("/api/cases/{id}/erase", post(erase))
        .route("/api/audit", get(audit_trail))
        .route("/api/audit/verify", get(audit_verify))
        .route("/api/audit/export.csv", get(export_audit))
        .route("/api/events", get(events))
        .route("/api/settings", get(settings))
        .route("/api/setup", get(setup_status).post(setup))
        .route("/api/facets", get(facets))
        .route("/api/deliveries", get(deliveries))
        .route("/api/deliveries/{id}/resend", post(resend_delivery))
        .route("/api/settings/ditto-config", get(ditto_config))
        .route(
            "/api/openapi.json",
            get(move |_who: Reviewer| async move { Json(api_document()) }),
        )
        .route("/api/users", get(list_users).post(add_user))
        .route("/api/users/{name}/disable", post(disable_user))
        .route("/api/users/{name}/enable", post(enable_user))
        .route("/api/users/{name}/role", post(set_user_role))
        .route(
            "/api/users/{name}/reset-password",
            post(reset_user_password),
        )
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ServerError::NotFound }),
        )
        .fallback(get(ui_asset))
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
        let store = state.desk.store().clone();
        let t = token.clone();
        let user = blocking(move || store.session_user(&t)).await?;
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
    let now = kyc_core::timefmt::now_ms();
    match name {
        Some(name) => st.guard.check(name, ip, now),
        None => st.guard.check_anonymous(ip, now),
    }
    .map_err(CoreError::TooManyAttempts)?;
    hash_permit(st).await
}

/// A permit to hash a password (bounded memory and CPU under a flood of attempts).
async fn hash_permit(st: &ReviewState) -> Result<tokio::sync::OwnedSemaphorePermit, ServerError> {
    st.hash_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| CoreError::Internal(e.to_string()).into())
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LoginBody {
    username: String,
    password: String,
}
#[utoipa::path(post, path = "/api/login", tag = "review", request_body = LoginBody,
    responses((status = 200, description = "`{token, user, expires_at}`; also sets the session cookie"), (status = 401, body = ErrorBody)))]
async fn login(
    State(st): St,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody, DOOR_KIB>,
) -> Result<Response, ServerError> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    kyc_core::users::check_name(&body.username)?;
    let _permit = enter_door(&st, Some(&body.username), ip).await?;
    let (store, guard, minutes) = (
        st.desk.store().clone(),
        st.guard.clone(),
        st.session_minutes,
    );
    let name = body.username.clone();
    let session = blocking(move || {
        let agent = agent.as_deref();
        store.login_guarded(&guard, ip, agent, &body.username, &body.password, minutes)
    })
    .await
    .inspect_err(|e| {
        if matches!(e, CoreError::TooManyAttempts(_)) {
            tracing::warn!(address = %ip, "sign-in throttled");
        }
    })?;
    tracing::info!(user = %name, "login");
    Ok(session_response(&st, session))
}
#[utoipa::path(post, path = "/api/logout", tag = "review", responses((status = 204, description = "Signed out")))]
async fn logout(State(st): St, headers: HeaderMap) -> Result<Response, ServerError> {
    if let Some(token) = session_token(&headers) {
        let store = st.desk.store().clone();
        let t = token.clone();
        if let Ok(user) = blocking(move || store.session_user(&t)).await {
            st.desk.presence().leave_all(&user.name);
        }
        let store = st.desk.store().clone();
        blocking(move || store.logout(&token)).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("kyc_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}
#[utoipa::path(get, path = "/api/me", tag = "review", security(("session" = [])), responses((status = 200, body = kyc_core::users::UserView), (status = 401, body = ErrorBody)))]
async fn me(SignedIn { user, .. }: SignedIn) -> Json<User> {
    Json(user)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OwnPasswordBody {
    current_password: String,
    new_password: String,
}

/// Changes the caller's own password (also the forced change after a reset): every session of
/// the account ends and a new one is returned.
#[utoipa::path(post, path = "/api/me/password", tag = "review", security(("session" = [])), request_body = OwnPasswordBody,
    responses((status = 200, description = "`{token, user, expires_at}`: a new session"), (status = 400, body = ErrorBody, description = "Wrong current password or weak new one")))]
async fn change_own_password(
    State(st): St,
    ClientIp(ip): ClientIp,
    SignedIn { user, .. }: SignedIn,
    ApiJson(body): ApiJson<OwnPasswordBody, DOOR_KIB>,
) -> Result<Response, ServerError> {
    let _permit = enter_door(&st, Some(&user.name), ip).await?;
    let (store, guard, minutes) = (
        st.desk.store().clone(),
        st.guard.clone(),
        st.session_minutes,
    );
    let session = blocking(move || {
        let passwords = (body.current_password.as_str(), body.new_password.as_str());
        store.change_own_password(&guard, ip, &user.name, passwords, minutes)
    })
    .await?;
    tracing::info!(user = %session.user.name, "password changed");
    Ok(session_response(&st, session))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    status: Option<String>,
    requester_id: Option<String>,
    user_id: Option<String>,
    q: Option<String>,
    flag: Option<String>,
    document_type: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    from: Option<String>,
    to: Option<String>,
    answered_by: Option<String>,
    /// An account name, or `me`: the cases assigned to it.
    assignee: Option<String>,
    /// `true`: pending cases with a first approval waiting for a second (four-eyes).
    awaiting_second: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn date_param(v: Option<String>, name: &str, end_of_day: bool) -> Result<Option<i64>, ServerError> {
    match non_empty(v) {
        None => Ok(None),
        Some(t) => kyc_core::timefmt::parse_ms(&t, end_of_day)
            .map(Some)
            .ok_or_else(|| {
                ServerError::BadRequest(format!("{name}: use YYYY-MM-DD or an RFC 3339 time"))
            }),
    }
}
#[utoipa::path(get, path = "/api/cases", tag = "review", security(("session" = [])), params(ListParams),
    responses((status = 200, body = kyc_core::store::CasePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_cases(
    State(st): St,
    Reviewer(user): Reviewer,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ServerError> {
    let Query(p) = params.map_err(|e| {
        ServerError::BadRequest(kyc_core::error::redact_serde_message(&e.body_text()))
    })?;
    let status = match p.status.as_deref() {
        None | Some("all") | Some("") => None,
        Some(s @ ("pending" | "approved" | "rejected")) => Some(s.to_string()),
        Some(_) => {
            return Err(ServerError::BadRequest(
                "status: use pending, approved, rejected or all".into(),
            ))
        }
    };
    let cursor = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ServerError::BadRequest("cursor: not a cursor from `next`".into()))?,
        ),
    };
    let answered_by = match non_empty(p.answered_by).as_deref() {
        None => None,
        Some(s @ ("reviewer" | "auto" | "timeout" | "none")) => Some(s.to_string()),
        Some(_) => {
            return Err(ServerError::BadRequest(
                "answered_by: use reviewer, auto, timeout or none".into(),
            ))
        }
    };
    let page =
        st.desk
            .list_seen_by(
                CaseQuery {
                    status,
                    requester_id: non_empty(p.requester_id),
                    user_id: non_empty(p.user_id),
                    q: non_empty(p.q),
                    flag: non_empty(p.flag),
                    document_type: non_empty(p.document_type),
                    from_ms: date_param(p.from, "from", false)?,
                    to_ms: date_param(p.to, "to", true)?,
                    answered_by,
                    assignee: non_empty(p.assignee).map(|a| {
                        if a == "me" {
                            user.name.clone()
                        } else {
                            a
                        }
                    }),
                    awaiting_second: p.awaiting_second.unwrap_or(false),
                    ids: None,
                    count: false,
                    limit: p.limit.unwrap_or(50),
                    cursor,
                },
                &user.name,
            )
            .await?;
    Ok(Json(
        serde_json::to_value(page).map_err(|e| CoreError::Internal(e.to_string()))?,
    ))
}
#[utoipa::path(get, path = "/api/cases/{id}", tag = "review", security(("session" = [])),
    params(("id" = String, Path, description = "Case id or reference")),
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 404, body = ErrorBody)))]
async fn case_detail(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<Response, ServerError> {
    let detail = st.desk.detail_seen_by(&id, &user.name).await?;
    Ok(Json(detail).into_response())
}
#[utoipa::path(get, path = "/api/cases/{id}/images/{name}", tag = "review", security(("session" = [])),
    params(("id" = String, Path), ("name" = String, Path, description = "selfie, portrait_image, front_page, back_page..."),
        ("original" = Option<bool>, Query, description = "the bytes as sent, as a download")),
    responses((status = 200, description = "JPEG, PNG, WebP and GIF as sent; JPEG 2000 as a PNG for display; a PDF or unknown format as a download (Content-Disposition: attachment)"), (status = 404, body = ErrorBody)))]
async fn case_image(
    State(st): St,
    Reviewer(user): Reviewer,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<ImageParams>,
) -> Result<Response, ServerError> {
    let (mime, bytes, download) = st
        .desk
        .image_seen_by(&id, &name, q.original.unwrap_or(false), &user.name)
        .await?;
    let mut resp = ([(header::CONTENT_TYPE, mime)], bytes).into_response();
    if let Some(file) = download {
        // Not shown inline (a PDF, an unknown format, or the original asked for): a download.
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct ImageParams {
    /// The bytes exactly as Ditto ID sent them, as a download.
    original: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
    /// Answer Ditto ID with this user id instead (Ditto ID renames its user to it).
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    comment: String,
}
#[utoipa::path(post, path = "/api/cases/{id}/decision", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already decided")))]
async fn decide(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response, ServerError> {
    allow(&user, Permission::Decide)?;
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(ServerError::BadRequest(
                "decision: use approve or reject".into(),
            ))
        }
    };
    if !approve && body.reasons.is_empty() {
        return Err(ServerError::BadRequest(
            "reasons: a rejection needs at least one reason".into(),
        ));
    }
    let link_user_id = match body
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => None,
        Some(_) if !approve => {
            return Err(ServerError::BadRequest(
                "user_id: a different user id can only be answered with an approval".into(),
            ))
        }
        Some(u) => Some(kyc_core::ingest::validate_user_id(u, "user_id")?),
    };
    if let Some(i) = body
        .reasons
        .iter()
        .position(|r| !st.settings.reasons.iter().any(|k| &k.code == r))
    {
        return Err(ServerError::BadRequest(format!(
            "reasons[{i}]: not a configured reason code"
        )));
    }
    if body.comment.len() > 4000 || body.reasons.iter().any(|r| r.is_empty() || r.len() > 200) {
        return Err(ServerError::BadRequest(
            "comment or reasons too long".into(),
        ));
    }
    let detail = st
        .desk
        .decide(
            &id,
            NewDecision {
                approve,
                reasons: body.reasons,
                comment: body.comment,
                respect_assignment: !user.role.may(Permission::Reassign),
                by_user: Some(user.name),
                rule: None,
                link_user_id,
            },
        )
        .await?;
    Ok(Json(detail).into_response())
}
#[utoipa::path(get, path = "/api/events", tag = "review", security(("session" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "Server-sent events case.created, case.decided, case.answered, case.assigned, case.erased (its case carries only id and reference); data is `{type, case, hold_until?}`")))]
async fn events(
    State(st): St,
    SignedIn { user, token }: SignedIn,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ServerError> {
    use futures::StreamExt as _;
    if user.must_change_password {
        return Err(CoreError::PasswordChangeRequired.into());
    }
    let cases =
        tokio_stream::StreamExt::filter_map(BroadcastStream::new(st.desk.subscribe()), |ev| {
            let ev = ev.ok()?;
            let data = serde_json::to_string(&ev).ok()?;
            Some(Ok(SseEvent::default().event(ev.kind.as_str()).data(data)))
        });
    // Who views what: the current state first, then every change.
    let viewers = tokio_stream::wrappers::WatchStream::new(st.desk.presence().watch()).map(|v| {
        let data = json!({"type": "presence", "viewers": v}).to_string();
        Ok(SseEvent::default().event("presence").data(data))
    });
    let stream = futures::stream::select(cases, viewers);
    // The stream ends within 2 s of its session ending (logout, expiry, or an account change,
    // which revokes every session of the account). The check runs in a task of its own, so it
    // goes on while the client does not read, and no event is sent once it has fired.
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let store = st.desk.store().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SESSION_RECHECK);
        let mut failures = 0;
        while !ended_tx.is_closed() {
            tick.tick().await;
            let (s, t) = (store.clone(), token.clone());
            match blocking(move || s.session_user(&t)).await {
                Ok(u) if !u.must_change_password => failures = 0,
                // A storage hiccup gets one more try; never more (fail closed).
                Err(CoreError::Storage(_) | CoreError::Internal(_)) if failures == 0 => {
                    failures += 1
                }
                _ => break,
            }
        }
        let _ = ended_tx.send(());
    });
    Ok(Sse::new(stream.take_until(ended_rx)).keep_alive(KeepAlive::default()))
}

/// How often an open event stream re-checks its session.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_millis(700);

/// First run: whether an admin must still be created, and where Ditto ID must send.
#[utoipa::path(get, path = "/api/setup", tag = "review", responses((status = 200, description = "`{needs_setup, receiver_url, tls_fingerprint, auth_mode, plain_http_on_network}`")))]
async fn setup_status(State(st): St) -> Result<Json<Value>, ServerError> {
    let store = st.desk.store().clone();
    let users = blocking(move || store.user_count()).await?;
    Ok(Json(json!({
        "needs_setup": users == 0,
        "code_required": true,
        "receiver_url": st.settings.receiver_url,
        "tls_fingerprint": st.settings.tls_fingerprint,
        "auth_mode": st.settings.auth_mode,
        "plain_http_on_network": st.settings.plain_http_on_network,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    /// The one-time code `kyc-desk serve` printed (the desktop window fills it in itself).
    setup_code: String,
    username: String,
    password: String,
}

/// First run: creates the first admin (only with the one-time setup code, only while there are
/// no accounts) and signs them in.
#[utoipa::path(post, path = "/api/setup", tag = "review", request_body = SetupBody,
    responses((status = 200, description = "The first admin is created and signed in"),
        (status = 400, body = ErrorBody, description = "Accounts exist already, or a weak password"),
        (status = 403, body = ErrorBody, description = "Missing or wrong setup code"),
        (status = 429, body = ErrorBody, description = "Too many wrong codes from this address")))]
async fn setup(
    State(st): St,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SetupBody, DOOR_KIB>,
) -> Result<Response, ServerError> {
    let _permit = enter_door(&st, None, ip).await?;
    let (store, guard, code, minutes) = (
        st.desk.store().clone(),
        st.guard.clone(),
        st.setup.clone(),
        st.session_minutes,
    );
    let session = blocking(move || {
        store.setup_first_admin(
            &code,
            &guard,
            ip,
            &body.setup_code,
            (&body.username, &body.password),
            minutes,
        )
    })
    .await
    .inspect_err(|e| {
        if matches!(e, CoreError::BadSetupCode | CoreError::TooManyAttempts(_)) {
            tracing::warn!(address = %ip, "setup refused: wrong setup code");
        }
    })?;
    tracing::info!(user = %session.user.name, "first admin created");
    Ok(session_response(&st, session))
}

#[derive(Deserialize)]
struct DeliveryParams {
    case: Option<String>,
}

/// The webhook delivery log (optionally for one case).
#[utoipa::path(get, path = "/api/deliveries", tag = "review", security(("session" = [])),
    params(("case" = Option<String>, Query, description = "Case id or reference")),
    responses((status = 200, description = "`{deliveries: [DeliveryInfo]}`")))]
async fn deliveries(
    State(st): St,
    _who: Reviewer,
    Query(p): Query<DeliveryParams>,
) -> Result<Json<Value>, ServerError> {
    let store = st.desk.store().clone();
    let log = blocking(move || {
        let case = match p.case.filter(|c| !c.is_empty()) {
            Some(key) => Some(store.resolve(&key)?),
            None => None,
        };
        store.deliveries(case, 200)
    })
    .await?;
    Ok(Json(json!({"deliveries": log})))
}

/// Queues a delivery again at once (supervisors and admins).
#[utoipa::path(post, path = "/api/deliveries/{id}/resend", tag = "review", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 202, description = "Queued again"), (status = 403, body = ErrorBody)))]
async fn resend_delivery(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    allow(&user, Permission::ResendDelivery)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ServerError::BadRequest("delivery id: a number".into()))?;
    let store = st.desk.store().clone();
    blocking(move || store.resend_delivery(id)).await?;
    tracing::info!(delivery = id, user = %user.name, "delivery resent");
    let store = st.desk.store().clone();
    blocking(move || store.audit(&user.name, "delivery.resent", None, json!({"delivery": id})))
        .await?;
    st.desk.deliveries_changed().notify_one();
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    /// The account to assign the case to; null to unassign.
    to: Option<String>,
}

/// Assigns a pending case (a reviewer: take or give back; supervisors and admins: anyone).
#[utoipa::path(post, path = "/api/cases/{id}/assign", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = kyc_core::store::CaseSummary), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn assign(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<kyc_core::store::CaseSummary>, ServerError> {
    allow(&user, Permission::Decide)?;
    Ok(Json(st.desk.assign(&id, body.to.as_deref(), &user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    /// The note (sealed at rest; at most 4,000 characters).
    text: String,
}

/// Adds an internal note to a case (anyone who may decide; audited as `case.note_added`).
#[utoipa::path(post, path = "/api/cases/{id}/notes", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = NoteBody,
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_note(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<kyc_core::view::CaseDetail>, ServerError> {
    Ok(Json(st.desk.add_note(&id, &user, body.text).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EscalateBody {
    /// The supervisor or admin the case goes to (see `/api/supervisors`).
    to: String,
    /// Why (kept as a note, sealed at rest).
    reason: String,
}

/// Escalates a pending case to a supervisor: assigns it to them and keeps the reason as a note
/// (audited as `case.escalated`).
#[utoipa::path(post, path = "/api/cases/{id}/escalate", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = EscalateBody,
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already decided")))]
async fn escalate(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EscalateBody>,
) -> Result<Json<kyc_core::view::CaseDetail>, ServerError> {
    Ok(Json(
        st.desk.escalate(&id, &user, body.to, body.reason).await?,
    ))
}

/// The active supervisors and admins, whom a case can be escalated to.
#[utoipa::path(get, path = "/api/supervisors", tag = "review", security(("session" = [])),
    responses((status = 200, body = Vec<String>)))]
async fn supervisors(
    State(st): St,
    Reviewer(_user): Reviewer,
) -> Result<Json<Vec<String>>, ServerError> {
    Ok(Json(st.desk.supervisors().await?))
}

/// A numeric case id from the path (presence is kept by id).
fn numeric_id(id: &str) -> Result<i64, ServerError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ServerError::BadRequest("the case id must be a positive number".into()))
}

/// A heartbeat of a case open in this reviewer's desk: others see "<name> is viewing" until it
/// closes or beats stop for `presence::TTL_MS`.
#[utoipa::path(put, path = "/api/cases/{id}/presence", tag = "review", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 400, body = ErrorBody)))]
async fn present(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    let id = numeric_id(&id)?;
    st.desk
        .presence()
        .touch(id, &user.name, kyc_core::timefmt::now_ms());
    Ok(StatusCode::NO_CONTENT)
}

/// The case was closed in this reviewer's desk.
#[utoipa::path(delete, path = "/api/cases/{id}/presence", tag = "review", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 400, body = ErrorBody)))]
async fn absent(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    st.desk.presence().leave(numeric_id(&id)?, &user.name);
    Ok(StatusCode::NO_CONTENT)
}

/// Who has which case open now: `{"<case id>": ["name", ...]}` (also sent as `presence` events).
#[utoipa::path(get, path = "/api/presence", tag = "review", security(("session" = [])),
    responses((status = 200, description = "case id → names of the reviewers viewing it")))]
async fn presence(State(st): St, Reviewer(_): Reviewer) -> Json<kyc_core::presence::Viewers> {
    Json(st.desk.presence().viewers())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    /// Why (kept in the audit trail: a ticket number, never personal data).
    reason: String,
}

/// Erases a case on request (admins): its key and rows are destroyed; the audit trail keeps ids.
#[utoipa::path(post, path = "/api/cases/{id}/erase", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = EraseBody,
    responses((status = 200, description = "`{erased: reference, complete: true}`: no copy is left"),
        (status = 202, description = "`{erased: reference, complete: false}`: the case is gone from every query; a reader still holds an older snapshot of the WAL, and the erasure completes (audited as case.erasure_completed) as soon as it lets go"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Ditto ID is still waiting on it")))]
async fn erase(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<Response, ServerError> {
    allow(&user, Permission::Erase)?;
    let (reference, complete) = st.desk.erase(&id, &user.name, &body.reason).await?;
    let status = if complete {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(json!({ "erased": reference, "complete": complete })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct AuditParams {
    before: Option<i64>,
    limit: Option<u32>,
    actor: Option<String>,
    action: Option<String>,
    /// YYYY-MM-DD (UTC days, both included).
    from: Option<String>,
    to: Option<String>,
    /// A case id or reference.
    case: Option<String>,
}

/// The audit filter of a page or an export, its dates and case checked.
async fn audit_filter(st: &ReviewState, p: &AuditParams) -> Result<AuditFilter, ServerError> {
    let day = |v: &Option<String>, name: &str, end: bool| -> Result<Option<i64>, ServerError> {
        match non_empty(v.clone()) {
            None => Ok(None),
            Some(t) => kyc_core::timefmt::parse_ms(&t, end)
                .filter(|_| t.trim().len() == 10)
                .map(Some)
                .ok_or_else(|| ServerError::BadRequest(format!("{name}: use YYYY-MM-DD"))),
        }
    };
    let case_id = match non_empty(p.case.clone()) {
        None => None,
        Some(key) => {
            let store = st.desk.store().clone();
            Some(blocking(move || store.resolve(key.trim())).await?)
        }
    };
    Ok(AuditFilter {
        actor: non_empty(p.actor.clone()),
        action: non_empty(p.action.clone()),
        from_ms: day(&p.from, "from", false)?,
        to_ms: day(&p.to, "to", true)?,
        case_id,
    })
}

/// The whole audit trail, newest first (auditors and admins); `next` pages further back.
#[utoipa::path(get, path = "/api/audit", tag = "review", security(("session" = [])),
    params(("before" = Option<i64>, Query), ("limit" = Option<u32>, Query), ("actor" = Option<String>, Query), ("action" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC)"), ("to" = Option<String>, Query, description = "YYYY-MM-DD (UTC), included"),
        ("case" = Option<String>, Query, description = "a case id or reference")),
    responses((status = 200, description = "`{entries: [AuditEntry], next}`"), (status = 403, body = ErrorBody)))]
async fn audit_trail(
    State(st): St,
    Reviewer(user): Reviewer,
    Query(p): Query<AuditParams>,
) -> Result<Json<Value>, ServerError> {
    allow(&user, Permission::ReadAudit)?;
    let filter = audit_filter(&st, &p).await?;
    let store = st.desk.store().clone();
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let entries = blocking(move || store.audit_page(p.before, limit, &filter)).await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next": next })))
}

/// The audit trail as CSV, oldest first, filtered like the page (auditors and admins); the export
/// is itself audited, and the file ends with a signed checkpoint of the chain's head.
#[utoipa::path(get, path = "/api/audit/export.csv", tag = "review", security(("session" = [])),
    params(("actor" = Option<String>, Query), ("action" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC)"), ("to" = Option<String>, Query, description = "YYYY-MM-DD (UTC), included"),
        ("case" = Option<String>, Query, description = "a case id or reference")),
    responses((status = 200, content_type = "text/csv", description = "id, at, actor, action, case_id, reference, detail (JSON)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn export_audit(
    State(st): St,
    Reviewer(user): Reviewer,
    Query(p): Query<AuditParams>,
) -> Result<Response, ServerError> {
    allow(&user, Permission::ReadAudit)?;
    let filter = audit_filter(&st, &p).await?;
    let store = st.desk.store().clone();
    let noted = json!({"from": p.from, "to": p.to, "actor": filter.actor, "action": filter.action, "case": filter.case_id});
    blocking(move || store.audit(&user.name, "export.audit", None, noted)).await?;
    let checkpoint = st.desk.current_checkpoint().await?.map(|c| c.line());
    let store = st.desk.store().clone();
    let body = csv_body("audit", checkpoint, move |sink| {
        kyc_core::export::audit_csv(&store, &filter, sink)
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"kyc-audit-trail.csv\"".to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Checks the audit trail's hash chain now (auditors and admins).
#[utoipa::path(get, path = "/api/audit/verify", tag = "review", security(("session" = [])),
    responses((status = 200, description = "`{intact: true, entries, checkpoints, last_checkpoint}` or `{intact: false, broken_at, reason, checkpoints}`: the chain and every signed checkpoint in `[audit] checkpoint_dir`"), (status = 403, body = ErrorBody)))]
async fn audit_verify(State(st): St, Reviewer(user): Reviewer) -> Result<Json<Value>, ServerError> {
    allow(&user, Permission::ReadAudit)?;
    let (verdict, checkpoints, last) = st.desk.verify_audit().await?;
    let last =
        last.map(|c| json!({"entry_id": c.entry_id, "hash": c.hash, "at": c.at, "line": c.line()}));
    Ok(Json(match verdict {
        kyc_core::audit::Verdict::Intact { entries } => {
            json!({"intact": true, "entries": entries, "checkpoints": checkpoints, "last_checkpoint": last})
        }
        kyc_core::audit::Verdict::Broken { id, reason } => {
            json!({"intact": false, "broken_at": id, "reason": reason, "checkpoints": checkpoints})
        }
    }))
}

#[derive(Deserialize)]
struct ReportParams {
    /// The reader's clock: minutes east of UTC (JavaScript: `-new Date().getTimezoneOffset()`).
    utc_offset: Option<i32>,
}

/// The PDF case report, as a download (`Content-Disposition: attachment`); audited with the
/// file's SHA-256 (also in `X-Report-SHA256`).
#[utoipa::path(get, path = "/api/cases/{id}/report.pdf", tag = "review", security(("session" = [])),
    params(("id" = String, Path), ("utc_offset" = Option<i32>, Query, description = "times in the report in this offset, minutes east of UTC (-840..840); default UTC")),
    responses((status = 200, content_type = "application/pdf", description = "The case report"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn case_report(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    Query(q): Query<ReportParams>,
) -> Result<Response, ServerError> {
    let offset = kyc_core::timefmt::utc_offset(q.utc_offset.unwrap_or(0)).ok_or_else(|| {
        ServerError::BadRequest("utc_offset: minutes east of UTC, from -840 to 840".into())
    })?;
    let (file_name, pdf, sha256) = st.desk.report(&id, &user.name, offset).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::HeaderName::from_static("x-report-sha256"), sha256),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Deserialize)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// `from`..=`to` as dates (default: the last 30 days) and as `[from_ms, to_ms)`.
fn date_range(p: RangeParams) -> Result<(time::Date, time::Date, i64, i64), ServerError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let parse = |v: Option<String>, name: &str| -> Result<Option<time::Date>, ServerError> {
        match non_empty(v) {
            None => Ok(None),
            Some(t) => time::Date::parse(t.trim(), &fmt)
                .map(Some)
                .map_err(|_| ServerError::BadRequest(format!("{name}: use YYYY-MM-DD"))),
        }
    };
    let to = parse(p.to, "to")?
        .unwrap_or_else(|| kyc_core::timefmt::date_of(kyc_core::timefmt::now_ms()));
    let from = parse(p.from, "from")?.unwrap_or(to - time::Duration::days(29));
    if from > to || (to - from).whole_days() > 3660 {
        return Err(ServerError::BadRequest(
            "from, to: from must not be after to, and the range at most ten years".into(),
        ));
    }
    let ms = |d: time::Date| d.midnight().assume_utc().unix_timestamp() * 1000;
    Ok((from, to, ms(from), ms(to) + 86_400_000))
}

/// Statistics over the cases received in a date range (supervisors, admins, auditors).
#[utoipa::path(get, path = "/api/stats", tag = "review", security(("session" = [])),
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD, default 29 days before `to`"), ("to" = Option<String>, Query, description = "YYYY-MM-DD, default today (UTC)")),
    responses((status = 200, body = kyc_core::stats::Stats), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn statistics(
    State(st): St,
    Reviewer(user): Reviewer,
    Query(p): Query<RangeParams>,
) -> Result<Json<kyc_core::stats::Stats>, ServerError> {
    allow(&user, Permission::Statistics)?;
    let (from, to, from_ms, to_ms) = date_range(p)?;
    let store = st.desk.store().clone();
    Ok(Json(
        blocking(move || kyc_core::stats::statistics(&store, from, to, from_ms, to_ms)).await?,
    ))
}

/// The decisions made in a date range as CSV, streamed; `X-Export-Rows` says how many rows will
/// follow (for a progress bar); the file ends with a `# audit checkpoint …` line, also sent as
/// `X-KYC-Desk-Audit-Checkpoint`. Supervisors, admins, auditors; audited.
#[utoipa::path(get, path = "/api/exports/decisions.csv", tag = "review", security(("session" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, content_type = "text/csv", description = "One row per decision"), (status = 403, body = ErrorBody)))]
async fn export_decisions(
    State(st): St,
    Reviewer(user): Reviewer,
    Query(p): Query<RangeParams>,
) -> Result<Response, ServerError> {
    allow(&user, Permission::Export)?;
    let (from, to, from_ms, to_ms) = date_range(p)?;
    let store = st.desk.store().clone();
    let rows = blocking(move || {
        let rows = kyc_core::export::count(&store, from_ms, to_ms)?;
        store.audit(
            &user.name,
            "export.decisions",
            None,
            json!({"from": from.to_string(), "to": to.to_string(), "rows": rows}),
        )?;
        Ok(rows)
    })
    .await?;
    // A signed checkpoint taken after the export's own audit entry.
    let checkpoint = st.desk.current_checkpoint().await?.map(|c| c.line());
    // The file ends with the signed checkpoint (a comment line, `#`).
    let store = st.desk.store().clone();
    let body = csv_body("decisions", checkpoint.clone(), move |sink| {
        kyc_core::export::decisions_csv(&store, from_ms, to_ms, sink)
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kyc-decisions-{from}-to-{to}.csv\""),
            ),
            (
                header::HeaderName::from_static("x-export-rows"),
                rows.to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-kyc-desk-audit-checkpoint"),
                checkpoint.unwrap_or_default(),
            ),
        ],
        body,
    )
        .into_response())
}

/// Streams a CSV written in chunks by `write` (on a blocking thread) as the response body, ending
/// with the signed checkpoint line (`# …`) when there is one; `what` names the export in the log.
fn csv_body<F>(what: &'static str, checkpoint: Option<String>, write: F) -> axum::body::Body
where
    F: FnOnce(&mut dyn FnMut(Vec<u8>) -> bool) -> Result<u64, CoreError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        match write(&mut |chunk| tx.blocking_send(Ok(chunk)).is_ok()) {
            Ok(_) => {
                if let Some(line) = &checkpoint {
                    let _ = tx.blocking_send(Ok(format!("# {line}\n").into_bytes()));
                }
            }
            Err(e) => {
                tracing::error!("{what} export failed: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
            }
        }
    });
    axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// The role check every guarded handler makes (the table is `Role::may`).
fn allow(user: &User, p: Permission) -> Result<(), ServerError> {
    if user.role.may(p) {
        Ok(())
    } else {
        Err(ServerError::Forbidden(p.refusal()))
    }
}

#[utoipa::path(get, path = "/api/users", tag = "review", security(("session" = [])),
    responses((status = 200, body = Vec<Account>), (status = 403, body = ErrorBody)))]
/// The accounts: names, roles, state and last sign-in (admins, and supervisors who assign cases).
async fn list_users(
    State(st): St,
    Reviewer(user): Reviewer,
) -> Result<Json<Vec<Account>>, ServerError> {
    if !user.role.may(Permission::Reassign) {
        allow(&user, Permission::ManageUsers)?;
    }
    let store = st.desk.store().clone();
    Ok(Json(blocking(move || store.accounts()).await?))
}

/// An admin's change to an account: audited, and every session of the account ends at once.
async fn change_account(
    st: &ReviewState,
    admin: User,
    name: String,
    change: AccountChange,
) -> Result<Json<Account>, ServerError> {
    allow(&admin, Permission::ManageUsers)?;
    let _permit = match change {
        AccountChange::ResetPassword(_) => Some(hash_permit(st).await?),
        _ => None,
    };
    let store = st.desk.store().clone();
    let account = blocking(move || store.change_account(&admin.name, &name, change)).await?;
    tracing::info!(user = %account.name, "account changed; its sessions were revoked");
    Ok(Json(account))
}

/// Disables an account (admins): it can no longer sign in; its sessions end.
#[utoipa::path(post, path = "/api/users/{name}/disable", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), responses((status = 200, body = Account), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The last enabled admin")))]
async fn disable_user(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
) -> Result<Json<Account>, ServerError> {
    change_account(&st, admin, name, AccountChange::Disable).await
}

/// Enables a disabled account again (admins).
#[utoipa::path(post, path = "/api/users/{name}/enable", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), responses((status = 200, body = Account), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn enable_user(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
) -> Result<Json<Account>, ServerError> {
    change_account(&st, admin, name, AccountChange::Enable).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    /// reviewer, supervisor, admin or auditor.
    role: String,
}

/// Changes an account's role (admins); its sessions end.
#[utoipa::path(post, path = "/api/users/{name}/role", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), request_body = RoleBody,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "The last enabled admin")))]
async fn set_user_role(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<Account>, ServerError> {
    let role: Role = body.role.parse().map_err(CoreError::from)?;
    change_account(&st, admin, name, AccountChange::SetRole(role)).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// A temporary password; the account must choose its own at its next sign-in.
    password: String,
}

/// Resets an account's password (admins): its sessions end and it must choose a new one.
#[utoipa::path(post, path = "/api/users/{name}/reset-password", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), request_body = ResetBody,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody, description = "Weak password"), (status = 403, body = ErrorBody)))]
async fn reset_user_password(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ResetBody, DOOR_KIB>,
) -> Result<Json<Account>, ServerError> {
    change_account(
        &st,
        admin,
        name,
        AccountChange::ResetPassword(body.password),
    )
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    /// reviewer, supervisor, admin or auditor.
    role: String,
    password: String,
}

#[utoipa::path(post, path = "/api/users", tag = "review", security(("session" = [])), request_body = NewUserBody,
    responses((status = 200, body = kyc_core::users::UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// Creates an account (admins only).
async fn add_user(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<Json<User>, ServerError> {
    allow(&user, Permission::ManageUsers)?;
    let role: Role = body.role.parse().map_err(CoreError::from)?;
    let _permit = hash_permit(&st).await?;
    let store = st.desk.store().clone();
    let created =
        blocking(move || store.add_user_by(&user.name, &body.username, role, &body.password))
            .await?;
    Ok(Json(created))
}

/// Values the queue's filters offer.
#[utoipa::path(get, path = "/api/facets", tag = "review", security(("session" = [])), responses((status = 200, description = "`{document_types, flag_codes}`")))]
async fn facets(State(st): St, _who: Reviewer) -> Result<Json<Value>, ServerError> {
    let store = st.desk.store().clone();
    let types = blocking(move || store.document_types()).await?;
    Ok(Json(
        json!({"document_types": types, "flag_codes": kyc_core::checks::FLAG_CODES}),
    ))
}
#[utoipa::path(get, path = "/api/settings", tag = "review", security(("session" = [])), responses((status = 200, body = SettingsView)))]
async fn settings(State(st): St, _who: Reviewer) -> Json<SettingsView> {
    Json(st.settings.clone())
}

/// The `kyc.service.api.config` JSON (it holds secrets: admins only).
#[utoipa::path(get, path = "/api/settings/ditto-config", tag = "review", security(("session" = [])),
    responses((status = 200, description = "Ditto ID's kyc.service.api.config JSON (admins only)"), (status = 403, body = ErrorBody)))]
async fn ditto_config(State(st): St, Reviewer(user): Reviewer) -> Result<Json<Value>, ServerError> {
    allow(&user, Permission::DittoConfig)?;
    tracing::info!(user = %user.name, "ditto config viewed");
    let store = st.desk.store().clone();
    blocking(move || store.audit(&user.name, "settings.ditto_config_viewed", None, json!({})))
        .await?;
    Ok(Json(st.settings.ditto_config.clone()))
}

/// Serves the embedded web UI; unknown paths get `index.html` (client-side routes).
async fn ui_asset(State(st): St, uri: Uri) -> Response {
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
