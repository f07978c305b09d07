//! The endpoint Ditto ID's IDV Server calls: authentication (none, Basic, static bearer, or OAuth2
//! tokens issued by our own token endpoint), content checks, body limit, request decryption, then a
//! thin delegation to the core's decision loop; the answer is shaped by `[receiver.answer]` and
//! encrypted when `[receiver.response_encryption]` is on.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use http_body_util::BodyExt;
use kyc_core::config::{AuthConfig, AuthMode, ReceiverConfig, TokenMethod};
use kyc_core::desk::Desk;
use kyc_core::ingest::SealedBody;
use kyc_core::CoreError;
use kyc_crypto::jce::AesSuite;
use kyc_crypto::token::TokenIssuer;
use subtle::ConstantTimeEq;

use crate::error::{ErrorBody, ServerError};

/// Largest token request body we read.
const TOKEN_BODY_LIMIT: usize = 16 * 1024;

struct ReceiverState {
    desk: Arc<Desk>,
    /// Refused requests whose bodies are being read and discarded (lingering close) at once.
    lingering: tokio::sync::Semaphore,
    /// How much of a refused request's body is read and discarded at most.
    linger_bytes: usize,
    /// Throttles failed client authentication at the token endpoint, per client address.
    guard: Arc<kyc_core::guard::LoginGuard>,
    auth: AuthConfig,
    issuer: Option<TokenIssuer>,
    request_suite: Option<AesSuite>,
    response_suite: Option<AesSuite>,
    answer: kyc_core::config::AnswerConfig,
    max_body_bytes: usize,
    max_body_mb: u32,
    /// Bodies read, decrypted, parsed and stored at once: bounds memory (a body costs several
    /// times its size while it is opened) and CPU contention.
    ingest: tokio::sync::Semaphore,
    /// The last health check's outcome and when it was made ([`health`]); held across a check,
    /// so checks that come together wait for one answer rather than each asking.
    health: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

/// How long a health check's outcome answers the next ones: however often they come, the
/// database is asked at most this often.
const HEALTH_REUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Builds the receiver's routes; the OAuth2 token endpoint exists only in `oauth2` mode.
pub fn router(
    desk: Arc<Desk>,
    cfg: &ReceiverConfig,
    data_dir: &Path,
    guard: Arc<kyc_core::guard::LoginGuard>,
) -> Result<Router, ServerError> {
    let suite = |enc: &kyc_core::config::EncryptionConfig,
                 section: &str|
     -> Result<Option<AesSuite>, ServerError> {
        Ok(if enc.enable {
            Some(enc.suite(section)?)
        } else {
            None
        })
    };
    let issuer = match cfg.auth.mode {
        AuthMode::Oauth2 => Some(kyc_core::bootstrap::token_issuer(data_dir, &cfg.auth)?),
        _ => None,
    };
    let state = Arc::new(ReceiverState {
        desk,
        guard,
        auth: cfg.auth.clone(),
        issuer,
        request_suite: suite(&cfg.request_encryption, "receiver.request_encryption")?,
        response_suite: suite(&cfg.response_encryption, "receiver.response_encryption")?,
        answer: cfg.answer.clone(),
        max_body_bytes: cfg.max_body_mb as usize * 1024 * 1024,
        max_body_mb: cfg.max_body_mb,
        ingest: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        lingering: tokio::sync::Semaphore::new(LINGERING_AT_ONCE),
        linger_bytes: cfg.max_body_mb as usize * 1024 * 1024 + LINGER_MARGIN,
        health: Default::default(),
    });
    let mut router = Router::new()
        .route(&cfg.path, post(receive))
        .route(kyc_core::config::HEALTH_PATH, get(health));
    if cfg.auth.mode == AuthMode::Oauth2 {
        router = match cfg.auth.token_method {
            TokenMethod::Post => router.route(&cfg.auth.token_path, post(token)),
            TokenMethod::Get => router.route(&cfg.auth.token_path, post(token).get(token)),
        };
    }
    Ok(router
        .layer(DefaultBodyLimit::disable())
        .fallback(not_found)
        .with_state(state))
}

/// A wrong path: 404, readable by a sender that writes its whole body before reading.
async fn not_found(State(state): State<Arc<ReceiverState>>, body: Body) -> ServerError {
    linger(&state, body, None).await;
    ServerError::NotFound
}

/// Extra bytes read past `max_body_mb` when a refused body is discarded.
const LINGER_MARGIN: usize = 16 * 1024 * 1024;
/// How long a refused body is read and discarded at most.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// Refused bodies discarded at once; past that a refusal closes at once (as before).
const LINGERING_AT_ONCE: usize = 64;

/// Lingering close, as nginx does: before a refusal is sent, the rest of the request body is read
/// and thrown away (never buffered; at most `linger_bytes` and `LINGER_TIME`, without an ingest
/// permit), so a client that writes its whole body before reading the answer (Java's HttpClient,
/// which Ditto ID runs, and Python `requests`) reads the JSON error instead of a broken pipe.
/// A body declared larger than the bound is not waited for.
async fn linger(state: &ReceiverState, mut body: Body, declared: Option<usize>) {
    if declared.is_some_and(|n| n > state.linger_bytes) {
        return;
    }
    let Ok(_slot) = state.lingering.try_acquire() else {
        return;
    };
    let mut seen = 0usize;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len();
                if seen > state.linger_bytes {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// The body length the request declares, if any.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `user:pass` from an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = authorization(headers)?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = authorization(headers)?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Checks the caller's credentials for the configured mode (secrets compared in constant time).
fn authenticate(state: &ReceiverState, headers: &HeaderMap) -> Result<(), ServerError> {
    let auth = &state.auth;
    match auth.mode {
        AuthMode::None => Ok(()),
        AuthMode::Basic => {
            let challenge = "Basic realm=\"kyc-desk\"";
            let (user, pass) =
                basic_credentials(headers).ok_or(ServerError::ReceiverUnauthorized(challenge))?;
            let user_ok = ct_eq(&user, auth.username.as_deref().unwrap_or_default());
            let pass_ok = ct_eq(&pass, auth.password.as_deref().unwrap_or_default());
            if user_ok & pass_ok {
                Ok(())
            } else {
                Err(ServerError::ReceiverUnauthorized(challenge))
            }
        }
        AuthMode::Bearer => {
            let challenge = "Bearer realm=\"kyc-desk\"";
            let token =
                bearer_token(headers).ok_or(ServerError::ReceiverUnauthorized(challenge))?;
            if ct_eq(token, auth.token.as_deref().unwrap_or_default()) {
                Ok(())
            } else {
                Err(ServerError::ReceiverUnauthorized(challenge))
            }
        }
        AuthMode::Header => {
            let challenge = "ApiKey realm=\"kyc-desk\"";
            let name = auth.header_name.as_deref().unwrap_or_default();
            let sent = headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .ok_or(ServerError::ReceiverUnauthorized(challenge))?;
            if ct_eq(sent, auth.header_value.as_deref().unwrap_or_default()) {
                Ok(())
            } else {
                Err(ServerError::ReceiverUnauthorized(challenge))
            }
        }
        AuthMode::Oauth2 => {
            let token = bearer_token(headers).ok_or(ServerError::ReceiverUnauthorized(
                "Bearer realm=\"kyc-desk\"",
            ))?;
            let issuer = state.issuer.as_ref().ok_or(CoreError::InvalidToken)?;
            let claims = issuer
                .verify(token, state.desk.now_secs())
                .map_err(CoreError::from)?;
            tracing::debug!(client = %claims.sub, "token accepted");
            Ok(())
        }
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
}

fn is_json(media: Option<&str>) -> bool {
    media.is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    })
}

/// What can be refused before reading the body: credentials, content type, declared size.
fn admissible(
    state: &ReceiverState,
    headers: &HeaderMap,
    declared: Option<usize>,
) -> Result<(), ServerError> {
    authenticate(state, headers)?;
    let media = media_type(headers);
    let acceptable = match state.request_suite {
        None => is_json(media.as_deref()),
        // An encrypted body is base64 text, whatever the sender calls it.
        Some(_) => {
            is_json(media.as_deref())
                || matches!(
                    media.as_deref(),
                    Some("text/plain" | "application/octet-stream") | None
                )
        }
    };
    if !acceptable {
        return Err(ServerError::UnsupportedMediaType);
    }
    if declared.is_some_and(|n| n > state.max_body_bytes) {
        return Err(ServerError::PayloadTooLarge(state.max_body_mb));
    }
    Ok(())
}

/// Reads the body into one buffer sized by Content-Length, refusing it past `max` bytes (the
/// rest stays in `body`, for [`linger`]).
async fn read_body(
    body: &mut Body,
    declared: Option<usize>,
    max: usize,
    max_mb: u32,
) -> Result<Vec<u8>, ServerError> {
    // Straight from hyper's chunks into one buffer sized by Content-Length: one copy of the body
    // (collecting into `Bytes` and then into a `Vec` made two).
    let mut out = Vec::with_capacity(declared.unwrap_or(0).min(max));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ServerError::BodyRead)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(ServerError::PayloadTooLarge(max_mb));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

#[utoipa::path(post, path = "/kyc", tag = "receiver",
    description = "Ditto ID's KYC result (default payload v3.0, or a mapped custom body; AES-encrypted when configured). \
                   Held until a decision; the path is `receiver.path`.",
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "`{result, reference_number, user_id}` shaped by `[receiver.answer]`, encrypted when configured"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let declared = declared_length(&headers);
    // Refused before the body is read: the body is discarded first, so the sender reads the error.
    if let Err(refusal) = admissible(&state, &headers, declared) {
        linger(&state, body, declared).await;
        return Err(refusal);
    }
    let mut body = body;
    let case = {
        // Only `ingest` bodies are in memory at once: the others wait, unread, in their own
        // connections (the receiver speaks HTTP/1.1 only; see `tls::receiver_config`).
        let permit = state
            .ingest
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let read = read_body(&mut body, declared, state.max_body_bytes, state.max_body_mb).await;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(refusal) => {
                drop(permit);
                linger(&state, body, None).await;
                return Err(refusal);
            }
        };
        let suite = state.request_suite.clone();
        let opened = tokio::task::spawn_blocking(move || SealedBody(bytes).open(suite.as_ref()))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??;
        state.desk.accept(opened).await?
    };
    // Waiting for the reviewer holds no permit.
    let answer = state.desk.answer(case).await?;
    let shaped = kyc_domain::answer::shape(&answer, &state.answer);
    // Who answered (reviewer, auto or timeout): Ditto ID ignores it; `simulate` and an admin's
    // tools read it to tell a decision from the timeout fallback.
    let by = HeaderValue::from_str(&answer.by).unwrap_or(HeaderValue::from_static("unknown"));
    let mut resp = match &state.response_suite {
        None => Json(shaped).into_response(),
        Some(suite) => {
            let (body, content_type) = suite.seal_body(shaped.to_string().as_bytes());
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                body,
            )
                .into_response()
        }
    };
    resp.headers_mut().insert(ANSWERED_BY, by);
    Ok(resp)
}

/// The answer's header naming who decided it: `reviewer`, `auto` or `timeout`.
pub const ANSWERED_BY: header::HeaderName =
    header::HeaderName::from_static("x-kyc-desk-answered-by");

#[utoipa::path(get, path = "/healthz", tag = "receiver",
    description = "A load balancer's health check: no credentials, no data. The database is asked at most once a second.",
    responses((status = 200, description = "`{\"status\": \"ok\"}`: the database answers"),
        (status = 503, description = "`unavailable`: the database does not answer (send Ditto ID to another instance)")))]
/// 200 while this instance's database answers, 503 while it does not.
async fn health(
    State(state): State<Arc<ReceiverState>>,
) -> Result<Json<serde_json::Value>, ServerError> {
    let mut last = state.health.lock().await;
    let ok = match *last {
        Some((at, ok)) if at.elapsed() < HEALTH_REUSE => ok,
        _ => {
            let ok = match state.desk.healthy().await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "health check: the database does not answer");
                    false
                }
            };
            *last = Some((std::time::Instant::now(), ok));
            ok
        }
    };
    drop(last);
    if ok {
        Ok(Json(serde_json::json!({"status": "ok"})))
    } else {
        Err(ServerError::Unavailable)
    }
}

#[utoipa::path(post, path = "/kyc-service-access-token-endpoint", tag = "receiver",
    description = "OAuth2 client credentials (RFC 6749 §4.4); the path is `receiver.auth.token_path`.",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "grant_type=client_credentials, client_id, client_secret (or HTTP Basic)"),
    responses((status = 200, description = "`{access_token, token_type: \"Bearer\", expires_in}`"),
        (status = 400, description = "invalid_request / unsupported_grant_type"), (status = 401, description = "invalid_client")))]
/// RFC 6749 §4.4 client credentials: client authenticated by HTTP Basic or by form fields.
async fn token(
    State(state): State<Arc<ReceiverState>>,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    state
        .guard
        .check_anonymous(ip, state.desk.now_ms())
        .map_err(CoreError::TooManyAttempts)?;
    let bad = |m: &str| ServerError::Core(CoreError::InvalidTokenRequest(m.to_string()));
    let media = media_type(&headers);
    let form = media.as_deref() == Some("application/x-www-form-urlencoded");
    let get = method == axum::http::Method::GET;
    // RFC 6749 says form; a sender configured to post JSON (some Ditto ID token endpoint configs
    // do) gets the same answer rather than a refusal it cannot explain. GET (only routed when
    // `token_method = "GET"`) carries the parameters in the query string.
    if !get && !form && !is_json(media.as_deref()) {
        return Err(bad(
            "the token request must be application/x-www-form-urlencoded (or JSON)",
        ));
    }
    let bytes = if get {
        axum::body::Bytes::from(uri.query().unwrap_or_default().to_string())
    } else {
        axum::body::to_bytes(body, TOKEN_BODY_LIMIT)
            .await
            .map_err(|_| bad("the token request body is too large or unreadable"))?
    };
    let pairs: Vec<(String, String)> = if get || form {
        serde_urlencoded::from_bytes(&bytes).map_err(|_| bad("the form body cannot be parsed"))?
    } else {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
            .map_err(|_| bad("the JSON body must be an object of text parameters"))?;
        object
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(text) => Ok((k, text)),
                _ => Err(bad("the JSON body must be an object of text parameters")),
            })
            .collect::<Result<_, _>>()?
    };
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(bad(&format!("parameter {dup} appears more than once")));
    }
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let grant = field("grant_type").ok_or_else(|| bad("grant_type is required"))?;
    // Client auth: HTTP Basic (ids form-urlencoded per RFC 6749 §2.3.1) or form fields, not both.
    let basic = basic_credentials(&headers).map(|(id, secret)| {
        let decode = |s: &str| form_urlencoded_decode(s);
        (decode(&id), decode(&secret))
    });
    let (client_id, client_secret) = match (basic, field("client_id"), field("client_secret")) {
        (Some(_), _, Some(_)) => return Err(bad("use one client authentication method, not both")),
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(bad("client_id differs from the authenticated client"));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
        (None, Some(_), None) | (None, None, Some(_)) | (None, None, None) => {
            if authorization(&headers).is_some() {
                return Err(CoreError::InvalidClient.into());
            }
            return Err(bad("client_id and client_secret are required"));
        }
    };
    if grant != "client_credentials" {
        return Err(CoreError::UnsupportedGrantType.into());
    }
    let issuer = state.issuer.as_ref().ok_or(CoreError::InvalidClient)?;
    let issued = match issuer.issue(&client_id, &client_secret, state.desk.now_secs()) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(address = %ip, "token request refused: invalid client");
            state.guard.failed_anonymous(ip, state.desk.now_ms());
            return Err(CoreError::from(e).into());
        }
    };
    tracing::info!(client = %client_id, "token issued");
    let mut resp = Json(issued).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

fn form_urlencoded_decode(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|mut v| v.pop())
        .map(|(_, v)| v)
        .unwrap_or_else(|| s.to_string())
}
