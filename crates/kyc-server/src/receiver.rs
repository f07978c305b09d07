//! The endpoint Ditto ID's IDV Server calls: authentication, content checks, body limit, then a
//! thin delegation to the core's decision loop; the answer is `{result, reference_number, user_id}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use kyc_core::config::{AuthConfig, AuthMode, ReceiverConfig};
use kyc_core::desk::Desk;
use kyc_core::ingest::SealedBody;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::error::ServerError;

struct ReceiverState {
    desk: Arc<Desk>,
    auth: AuthConfig,
    max_body_bytes: usize,
    max_body_mb: u32,
}

pub fn router(desk: Arc<Desk>, cfg: &ReceiverConfig) -> Router {
    let state = Arc::new(ReceiverState {
        desk,
        auth: cfg.auth.clone(),
        max_body_bytes: cfg.max_body_mb as usize * 1024 * 1024,
        max_body_mb: cfg.max_body_mb,
    });
    Router::new()
        .route(&cfg.path, post(receive))
        .layer(DefaultBodyLimit::disable())
        .fallback(|| async { ServerError::NotFound })
        .with_state(state)
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Checks the caller's credentials for the configured mode (secrets compared in constant time).
fn authenticate(auth: &AuthConfig, headers: &HeaderMap) -> Result<(), ServerError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match auth.mode {
        AuthMode::None => Ok(()),
        AuthMode::Basic => {
            let challenge = "Basic realm=\"kyc-desk\"";
            let decoded = given
                .and_then(|v| {
                    v.strip_prefix("Basic ")
                        .or_else(|| v.strip_prefix("basic "))
                })
                .and_then(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()
                })
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(ServerError::ReceiverUnauthorized(challenge))?;
            let (user, pass) = decoded
                .split_once(':')
                .ok_or(ServerError::ReceiverUnauthorized(challenge))?;
            let user_ok = ct_eq(user, auth.username.as_deref().unwrap_or_default());
            let pass_ok = ct_eq(pass, auth.password.as_deref().unwrap_or_default());
            if user_ok & pass_ok {
                Ok(())
            } else {
                Err(ServerError::ReceiverUnauthorized(challenge))
            }
        }
        AuthMode::Bearer | AuthMode::Oauth2 => {
            let challenge = "Bearer realm=\"kyc-desk\"";
            let token = given
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .ok_or(ServerError::ReceiverUnauthorized(challenge))?;
            if auth.mode == AuthMode::Bearer
                && ct_eq(token.trim(), auth.token.as_deref().unwrap_or_default())
            {
                Ok(())
            } else {
                Err(ServerError::ReceiverUnauthorized(challenge))
            }
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

async fn read_body(
    body: Body,
    headers: &HeaderMap,
    max: usize,
    max_mb: u32,
) -> Result<Vec<u8>, ServerError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(ServerError::PayloadTooLarge(max_mb));
    }
    match axum::body::to_bytes(body, max).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                Err(ServerError::PayloadTooLarge(max_mb))
            } else {
                Err(ServerError::BodyRead)
            }
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ServerError> {
    authenticate(&state.auth, &headers)?;
    if !is_json(&headers) {
        return Err(ServerError::UnsupportedMediaType);
    }
    let bytes = read_body(body, &headers, state.max_body_bytes, state.max_body_mb).await?;
    let opened = SealedBody(bytes).open_plain();
    let answer = state.desk.submit(opened).await?;
    Ok(Json(json!({
        "result": answer.result,
        "reference_number": answer.reference,
        "user_id": answer.user_id,
    })))
}
