//! What every review response goes through: the `Host` allow-list (a page the reviewer visits
//! cannot reach the desk through a DNS-rebinding name: 421) and the browser hardening headers
//! (a strict CSP, nosniff, no referrer, no caching of the API and its images, HSTS on HTTPS).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ServerError;

/// The Content-Security-Policy of the desk: scripts only from the desk itself (no inline
/// script, no eval), no framing, no plugins, nothing fetched from elsewhere (`ipc:` and
/// `http://ipc.localhost` are Tauri's IPC in the desktop window on Windows and macOS; the same
/// policy is in tauri.conf.json).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' blob: data:; connect-src 'self' ipc: http://ipc.localhost; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The host names and addresses a review listener answers to.
#[derive(Debug, Clone)]
pub struct HostAllowList {
    listen: IpAddr,
    names: Vec<String>,
}

impl HostAllowList {
    /// `listen`: the address the listener is bound to; `public_names`: `[review] public_names`.
    pub fn new(listen: IpAddr, public_names: &[String]) -> Self {
        let mut names = vec!["localhost".to_string()];
        names.extend(
            public_names
                .iter()
                .map(|n| n.trim_end_matches('.').to_lowercase()),
        );
        HostAllowList { listen, names }
    }

    /// Whether a `Host` value (name or address, with or without port) is on the list: the
    /// literal listening address (any address literal when listening on all interfaces: an
    /// address literal cannot be rebound), loopback addresses, `localhost`, and public_names.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim();
        let bare = if let Some(rest) = host.strip_prefix('[') {
            match rest.split_once(']') {
                Some((inner, tail)) if tail.is_empty() || is_port(tail) => inner,
                _ => return false,
            }
        } else {
            match host.rsplit_once(':') {
                Some((h, port)) if is_port(&format!(":{port}")) => h,
                Some(_) => return false,
                None => host,
            }
        };
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return ip.is_loopback() || ip == self.listen || self.listen.is_unspecified();
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        !name.is_empty() && self.names.contains(&name)
    }
}

fn is_port(s: &str) -> bool {
    s.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Refuses a request whose host is not on the list with 421 `misdirected_request`.
pub async fn require_allowed_host(
    State(list): State<Arc<HostAllowList>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req.uri().host().map(str::to_string).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    match host {
        Some(h) if list.allows(&h) => next.run(req).await,
        _ => {
            tracing::warn!("review request refused: Host not on the allow-list");
            ServerError::MisdirectedRequest.into_response()
        }
    }
}

/// Adds the hardening headers to every review response; `https`: the listener is HTTPS (HSTS).
pub async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if api {
        // Case data and ID images never stay in a browser cache after sign-out.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_and_the_server_send_one_policy() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../../tauri.conf.json")).unwrap();
        assert_eq!(conf["app"]["security"]["csp"], CSP);
    }

    #[test]
    fn host_allow_list() {
        let loopback =
            HostAllowList::new("127.0.0.1".parse().unwrap(), &["Desk.Example.lan".into()]);
        for (host, ok) in [
            ("127.0.0.1:8700", true),
            ("127.0.0.1", true),
            ("127.9.9.9:1", true),
            ("localhost:8700", true),
            ("LOCALHOST.", true),
            ("[::1]:8700", true),
            ("desk.example.lan:8700", true),
            ("desk.example.lan.", true),
            ("rebind.attacker.example:8700", false),
            ("192.168.1.20:8700", false),
            ("localhost.attacker.example", false),
            ("", false),
            ("127.0.0.1:notaport", false),
            ("[::1", false),
        ] {
            assert_eq!(loopback.allows(host), ok, "{host:?}");
        }
        let lan = HostAllowList::new("192.168.1.20".parse().unwrap(), &[]);
        assert!(lan.allows("192.168.1.20:8700"));
        assert!(!lan.allows("192.168.1.21:8700"));
        assert!(!lan.allows("desk.example.lan"));
        let any = HostAllowList::new("0.0.0.0".parse().unwrap(), &[]);
        assert!(any.allows("10.1.2.3:8700"));
        assert!(!any.allows("kyc.attacker.example"));
    }
}
