//! The loopback relay: the desk window opens `http://127.0.0.1:<port>` and every request is
//! forwarded, streamed both ways (live events too), to the team server over HTTPS that trusts
//! only the pinned certificate. The window's own leg never leaves this computer; the relay
//! answers only to its own address (a rebinding name gets 421), drops hop-by-hop headers and
//! the `Secure` cookie attribute the loopback leg cannot honour, and keeps everything else.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::TryStreamExt as _;

use crate::pin::{self, Pinned, Server};
use crate::ClientError;

/// A running relay to one team server.
pub struct Relay {
    pub addr: SocketAddr,
    pub server: Server,
    /// The pinned fingerprint the server presented.
    pub fingerprint: String,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Checks the server's certificate against `pin` (nothing is sent when it differs), then
    /// starts the relay on a free loopback port. Must be called inside a tokio runtime.
    pub async fn start(server: Server, pin: &str) -> Result<Relay, ClientError> {
        let fingerprint = pin::check(&server, pin).await?;
        let tls = Pinned::new(&fingerprint)?.client_config()?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(pin::CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::BadServer(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(RelayState {
            http,
            base: server.base.clone(),
            own: [
                format!("127.0.0.1:{}", addr.port()),
                format!("localhost:{}", addr.port()),
            ],
        });
        let app = Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("relay stopped: {e}");
            }
        });
        tracing::info!(relay = %addr, server = %server.base, "relaying the desk window to the team server");
        Ok(Relay {
            addr,
            server,
            fingerprint,
            task,
        })
    }

    /// The URL the desk window opens.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops relaying (open event streams end with it).
    pub fn stop(self) {
        self.task.abort();
    }
}

struct RelayState {
    http: reqwest::Client,
    base: String,
    /// The `Host` values the relay answers to.
    own: [String; 2],
}

/// Headers that belong to one hop, never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn copy_headers(from: &HeaderMap, skip: &[HeaderName]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in from {
        if HOP_BY_HOP.contains(&k.as_str()) || skip.contains(k) {
            continue;
        }
        out.append(k.clone(), v.clone());
    }
    out
}

/// A `Set-Cookie` without `Secure`: the window's leg is plain HTTP on loopback (the relay's own
/// leg to the server is HTTPS), where a browser would drop a `Secure` cookie.
fn loopback_cookie(v: &HeaderValue) -> Option<HeaderValue> {
    let text = v.to_str().ok()?;
    let kept: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|a| !a.eq_ignore_ascii_case("secure"))
        .collect();
    HeaderValue::from_str(&kept.join("; ")).ok()
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json_body(code, &message);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn serde_json_body(code: &str, message: &str) -> String {
    serde_json::json!({"error": code, "message": message}).to_string()
}

async fn forward(State(st): State<Arc<RelayState>>, req: Request) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !st.own.iter().any(|o| o == host) {
        return refusal(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "the desk relay answers only to its own loopback address".into(),
        );
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", st.base);
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut headers = copy_headers(req.headers(), &[header::HOST]);
    // A same-origin request of the window is a same-origin request of the server.
    for h in [header::ORIGIN, header::REFERER] {
        if headers.contains_key(&h) {
            if let Ok(v) = HeaderValue::from_str(&st.base) {
                headers.insert(h, v);
            }
        }
    }
    let mut out = st.http.request(req.method().clone(), url).headers(headers);
    if has_body {
        let stream = req.into_body().into_data_stream();
        out = out.body(reqwest::Body::wrap_stream(stream));
    }
    match out.send().await {
        Ok(resp) => {
            let status = resp.status();
            let mut headers = copy_headers(
                resp.headers(),
                &[header::SET_COOKIE, header::STRICT_TRANSPORT_SECURITY],
            );
            for c in resp.headers().get_all(header::SET_COOKIE) {
                if let Some(v) = loopback_cookie(c) {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            let body = Body::from_stream(resp.bytes_stream().map_err(std::io::Error::other));
            let mut r = Response::new(body);
            *r.status_mut() = status;
            *r.headers_mut() = headers;
            r
        }
        Err(e) => {
            let text = format!("{e:?}");
            if text.contains(pin::NOT_PINNED) {
                tracing::error!("the team server's certificate changed: request refused");
                refusal(
                    StatusCode::BAD_GATEWAY,
                    "certificate_mismatch",
                    "the team server now presents a different certificate than the pinned one; \
                     nothing was sent. Ask its admin, then connect again from the window's menu."
                        .into(),
                )
            } else {
                refusal(
                    StatusCode::BAD_GATEWAY,
                    "server_unreachable",
                    format!("cannot reach the team server {}", st.base),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_lose_only_secure_and_hop_headers_stay_behind() {
        let v = HeaderValue::from_static(
            "kyc_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure",
        );
        assert_eq!(
            loopback_cookie(&v).unwrap(),
            "kyc_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:1"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let out = copy_headers(&h, &[header::HOST]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[header::AUTHORIZATION], "Bearer t");
    }
}
