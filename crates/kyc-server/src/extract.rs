//! The review API's own extractors: JSON bodies with a size bound and errors that name the field
//! but never echo its value, and the client's address (for the sign-in throttles).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ServerError;

/// A JSON body of at most `KIB` KiB (default 64), deserialised with errors that name the field
/// (`reasons[0]: invalid type, expected a string`) and never the value sent.
pub struct ApiJson<T, const KIB: usize = 64>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const KIB: usize> FromRequest<S> for ApiJson<T, KIB> {
    type Rejection = ServerError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json {
            return Err(ServerError::UnsupportedMediaType);
        }
        let limit = KIB * 1024;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ServerError::BodyTooLarge(KIB));
        }
        // Reading stops at the limit, whatever the body claims (chunked bodies have no length).
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ServerError::BodyTooLarge(KIB))?;
        let mut de = serde_json::Deserializer::from_slice(&body);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let message = kyc_core::error::redact_serde_message(&e.into_inner().to_string());
            ServerError::BadRequest(if path == "." {
                message
            } else {
                format!("{path}: {message}")
            })
        })?;
        de.end()
            .map_err(|_| ServerError::BadRequest("trailing characters after the JSON".into()))?;
        Ok(ApiJson(value))
    }
}

/// A query string deserialised into `T`; a value that does not fit is a 400 with the JSON error
/// body every other refusal has (axum's own `Query` answers in plain text), naming the parameter
/// and never echoing the value.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                ServerError::BadRequest(kyc_core::error::redact_serde_message(&e.body_text()))
            })
    }
}

/// The address of the client's end of the connection. A router served without connection info
/// refuses (500) rather than putting every client in one throttle bucket.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| ClientIp(c.0.ip()))
            .ok_or_else(|| {
                kyc_core::CoreError::Internal("no client address (serve with connect info)".into())
                    .into()
            })
    }
}
