//! The server crate's one error type and its single mapping to HTTP: `{"error", "message"}`
//! bodies that never echo secrets or personal data.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kyc_core::CoreError;
use serde_json::json;
use thiserror::Error;

/// The JSON body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code, e.g. `invalid_payload`.
    pub error: String,
    pub message: String,
    /// For invalid payloads: the JSON path of the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than {0} MB")]
    PayloadTooLarge(u32),
    #[error("could not read the body")]
    BodyRead,
    /// Missing or wrong receiver credentials; the value is the `WWW-Authenticate` challenge.
    #[error("missing or invalid credentials")]
    ReceiverUnauthorized(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    /// A review request whose `Host` is not on the allow-list (DNS rebinding).
    #[error("this desk does not answer to that host name; add it to [review] public_names")]
    MisdirectedRequest,
    /// A small JSON body (sign-in, setup, decisions) over its limit.
    #[error("the request body is larger than {0} KiB")]
    BodyTooLarge(usize),
    /// The database does not answer (the health check).
    #[error("the database does not answer; see the KYC Desk log")]
    Unavailable,
    #[error("tls: {0}")]
    Tls(String),
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        key: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl ServerError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ServerError::Core(e) => match e {
                CoreError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
                CoreError::InvalidPayload { .. } => (StatusCode::BAD_REQUEST, "invalid_payload"),
                CoreError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
                CoreError::Conflict(_) => (StatusCode::CONFLICT, "requester_id_conflict"),
                CoreError::AlreadyDecided(_) => (StatusCode::CONFLICT, "already_decided"),
                CoreError::FourEyes => (StatusCode::CONFLICT, "four_eyes"),
                CoreError::Held(_) => (StatusCode::CONFLICT, "held"),
                CoreError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                CoreError::AssignedElsewhere(_) => (StatusCode::CONFLICT, "assigned_elsewhere"),
                CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                CoreError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
                CoreError::TooManyAttempts(_) => {
                    (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
                }
                CoreError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
                CoreError::UserExists(_) => (StatusCode::CONFLICT, "user_exists"),
                CoreError::UnknownUser(_) => (StatusCode::NOT_FOUND, "not_found"),
                CoreError::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
                CoreError::LastAdmin => (StatusCode::CONFLICT, "last_admin"),
                CoreError::WeakPassword(_) => (StatusCode::BAD_REQUEST, "weak_password"),
                CoreError::PasswordChangeRequired => {
                    (StatusCode::FORBIDDEN, "password_change_required")
                }
                CoreError::BadSetupCode => (StatusCode::FORBIDDEN, "bad_setup_code"),
                CoreError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
                CoreError::InvalidTokenRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                CoreError::UnsupportedGrantType => {
                    (StatusCode::BAD_REQUEST, "unsupported_grant_type")
                }
                CoreError::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
                CoreError::Undecryptable => (StatusCode::UNPROCESSABLE_ENTITY, "undecryptable"),
                CoreError::Config(_)
                | CoreError::Storage(_)
                | CoreError::Io(_)
                | CoreError::Backup(_)
                | CoreError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            ServerError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ServerError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ServerError::BodyRead => (StatusCode::BAD_REQUEST, "body_read"),
            ServerError::ReceiverUnauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ServerError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ServerError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ServerError::MisdirectedRequest => {
                (StatusCode::MISDIRECTED_REQUEST, "misdirected_request")
            }
            ServerError::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ServerError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ServerError::Tls(_) | ServerError::Bind { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // A 500's details go to the log only; other answers (a 503 included) say what they are.
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Details go to the log (with ids only), not to the caller.
            tracing::error!(error = %self, "request failed");
            "internal error; see the KYC Desk log".to_string()
        } else {
            self.to_string()
        };
        let oauth_error = matches!(
            self,
            ServerError::Core(
                CoreError::InvalidClient
                    | CoreError::InvalidTokenRequest(_)
                    | CoreError::UnsupportedGrantType
            )
        );
        let mut body = json!({"error": code, "message": message});
        if oauth_error {
            // RFC 6749 §5.2 names the description field `error_description`.
            body["error_description"] = body["message"].clone();
        }
        if let ServerError::Core(CoreError::InvalidPayload { field, .. }) = &self {
            body["field"] = json!(field);
        }
        let mut resp = (status, Json(body)).into_response();
        let challenge = match &self {
            ServerError::ReceiverUnauthorized(challenge) => Some(*challenge),
            ServerError::Core(CoreError::InvalidToken) => {
                Some("Bearer realm=\"kyc-desk\", error=\"invalid_token\"")
            }
            ServerError::Core(CoreError::InvalidClient) => Some("Basic realm=\"kyc-desk\""),
            _ => None,
        };
        let headers = resp.headers_mut();
        if let Some(c) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if oauth_error {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        resp
    }
}
