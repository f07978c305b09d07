//! The `kyc.service.api.config` JSON of Ditto ID's Gateway Management Console, both ways: what
//! to paste there so Ditto ID talks to this KYC Desk (`export`), and the KYC Desk receiver config
//! that matches a given Ditto ID config (`import`).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};

use crate::config::{AnswerConfig, AuthMode, Config, EncryptionConfig, TokenMethod};
use crate::error::CoreError;

/// The header value Ditto ID replaces with the token it fetched.
pub const TOKEN_PLACEHOLDER: &str = "__ACCESS_TOKEN_PLACEHOLDER__";

/// How a key typed into Ditto ID's console turns into bytes (not documented by Ditto ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// The text's UTF-8 bytes (Java's `key.getBytes()`).
    Text,
    Base64,
    Hex,
}

impl std::str::FromStr for KeyEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(KeyEncoding::Text),
            "base64" => Ok(KeyEncoding::Base64),
            "hex" => Ok(KeyEncoding::Hex),
            _ => Err(format!("{s:?}: use text, base64 or hex")),
        }
    }
}

/// Our secret notation → (the text Ditto ID's console gets, how it is encoded).
pub fn console_secret(ours: &str) -> (String, KeyEncoding) {
    if let Some(b) = ours.strip_prefix("base64:") {
        (b.to_string(), KeyEncoding::Base64)
    } else if let Some(h) = ours.strip_prefix("hex:") {
        (h.to_string(), KeyEncoding::Hex)
    } else {
        (ours.to_string(), KeyEncoding::Text)
    }
}

fn our_secret(console: &str, enc: KeyEncoding) -> String {
    match enc {
        KeyEncoding::Text => console.to_string(),
        KeyEncoding::Base64 => format!("base64:{console}"),
        KeyEncoding::Hex => format!("hex:{console}"),
    }
}

/// The base URL Ditto ID uses (`receiver.public_url`, else derived from `receiver.listen`).
pub fn public_base(cfg: &Config) -> String {
    if let Some(u) = &cfg.receiver.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let mut addr = cfg.receiver.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("https://{addr}")
}

fn encryption(e: &EncryptionConfig) -> Value {
    if !e.enable {
        return json!({"enable": false, "algorithm": "AES", "key": "", "ivParamSpec": "", "cipherSpec": "", "blockSizeBytes": 16});
    }
    json!({
        "enable": true,
        "algorithm": "AES",
        "key": console_secret(e.key.as_deref().unwrap_or_default()).0,
        "ivParamSpec": console_secret(e.iv.as_deref().unwrap_or_default()).0,
        "cipherSpec": e.cipher_spec,
        "blockSizeBytes": 16,
    })
}

/// Ditto ID's public macros and our fields (`${name}`, `${dob}`, `${doc_no}`; others by our name).
fn macro_for(field: &str) -> &str {
    match field {
        "name" => "name",
        "date_of_birth" => "dob",
        "document_number" => "doc_no",
        other => other,
    }
}

fn field_for(macro_name: &str) -> &str {
    match macro_name {
        "dob" => "date_of_birth",
        "doc_no" => "document_number",
        other => other,
    }
}

/// The `kyc.service.api.config` JSON for this config.
pub fn export(cfg: &Config) -> Value {
    let r = &cfg.receiver;
    let base = public_base(cfg);
    let mut headers =
        vec![json!({"headerName": "Content-Type", "headerValue": "application/json"})];
    let auth = &r.auth;
    match auth.mode {
        AuthMode::None => {}
        AuthMode::Basic => {
            let creds = format!(
                "{}:{}",
                auth.username.as_deref().unwrap_or_default(),
                auth.password.as_deref().unwrap_or_default()
            );
            headers.push(json!({"headerName": "Authorization", "headerValue": format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(creds))}));
        }
        AuthMode::Header => {
            headers.push(json!({"headerName": auth.header_name.as_deref().unwrap_or_default(), "headerValue": auth.header_value.as_deref().unwrap_or_default()}));
        }
        AuthMode::Bearer => {
            headers.push(json!({"headerName": "Authorization", "headerValue": format!("Bearer {}", auth.token.as_deref().unwrap_or_default())}));
        }
        AuthMode::Oauth2 => {
            headers.push(json!({"headerName": "Authorization", "headerValue": format!("Bearer {TOKEN_PLACEHOLDER}")}));
        }
    }
    let request_body = if r.mapping.is_empty() {
        String::new()
    } else {
        let mut template = Value::Object(serde_json::Map::new());
        for (field, pointer) in &r.mapping {
            crate::ingest::set_pointer(
                &mut template,
                pointer,
                Value::String(format!("${{{}}}", macro_for(field))),
            );
        }
        template.to_string()
    };
    let a = &r.answer;
    let mut out = json!({
        "method": "POST",
        "url": format!("{base}{}", r.path),
        "headers": headers,
        "requestEncryption": encryption(&r.request_encryption),
        "responseDecryption": encryption(&r.response_encryption),
        "requestBody": request_body,
        "responseBody": {
            "resultLocator": a.result,
            "referenceNumberLocator": a.reference_number,
            "userIdLocator": a.user_id,
            "primaryUserIdLocator": a.primary_user_id,
            "loginIdsLocator": a.login_ids,
            "statusCodeLocator": a.status_code,
            "statusMessageLocator": a.status_message,
            "forUserIdLocator": a.for_user_id,
            "orchestrationUseCaseLocator": a.orchestration_use_case,
        },
    });
    if auth.mode == AuthMode::Oauth2 {
        out["accessTokenEndpoint"] = json!({
            "url": format!("{base}{}", auth.token_path),
            "method": if auth.token_method == TokenMethod::Get { "GET" } else { "POST" },
            "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
            "postParameters": [
                {"name": "client_id", "value": auth.client_id.as_deref().unwrap_or_default()},
                {"name": "client_secret", "value": auth.client_secret.as_deref().unwrap_or_default()},
                {"name": "grant_type", "value": "client_credentials"},
            ],
        });
    }
    out
}

fn bad(field: &str, msg: &str) -> CoreError {
    CoreError::BadRequest(format!("kyc.service.api.config {field}: {msg}"))
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn split_url(url: &str, field: &str) -> Result<(String, u16, String), CoreError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad(field, "must be an https:// URL (Ditto ID requires HTTPS)"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| bad(field, "has an invalid port"))?,
        ),
        _ => (authority.to_string(), 443),
    };
    if host.is_empty() {
        return Err(bad(field, "has no host"));
    }
    Ok((
        host,
        port,
        path.split('?').next().unwrap_or(path).to_string(),
    ))
}

fn import_encryption(v: Option<&Value>, enc: KeyEncoding) -> EncryptionConfig {
    let mut e = EncryptionConfig::default();
    let Some(v) = v else { return e };
    e.enable = v.get("enable").and_then(Value::as_bool).unwrap_or(false);
    if e.enable {
        e.cipher_spec = str_at(v, "cipherSpec").to_string();
        e.key = Some(our_secret(str_at(v, "key"), enc));
        let iv = str_at(v, "ivParamSpec");
        e.iv = (!iv.is_empty()).then(|| our_secret(iv, enc));
    }
    e
}

/// Builds the KYC Desk config matching a Ditto ID `kyc.service.api.config`, keeping everything
/// of `base` that the Ditto side does not determine (data dir, review, decision, listen address).
pub fn import(v: &Value, base: &Config, key_encoding: KeyEncoding) -> Result<Config, CoreError> {
    if !v.is_object() {
        return Err(bad("$", "must be a JSON object"));
    }
    let mut cfg = base.clone();
    let r = &mut cfg.receiver;
    let url = str_at(v, "url");
    let (host, port, path) = split_url(url, "url")?;
    r.path = path;
    r.listen.set_port(port);
    r.public_url = Some(if port == 443 {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    });

    let headers = v
        .get("headers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let authorization = headers.iter().find_map(|h| {
        let name = h
            .get("headerName")
            .or_else(|| h.get("name"))
            .and_then(Value::as_str)?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| {
                h.get("headerValue")
                    .or_else(|| h.get("value"))
                    .and_then(Value::as_str)
            })
            .flatten()
    });
    let auth = &mut r.auth;
    let (keep_path, keep_ttl) = (auth.token_path.clone(), auth.token_ttl_secs);
    *auth = crate::config::AuthConfig {
        token_path: keep_path,
        token_ttl_secs: keep_ttl,
        ..Default::default()
    };
    // Without an Authorization header, a static header of another name that carries a value is
    // the shared secret (e.g. `x-api-key`): imported as header auth, never as no auth at all.
    let custom_secret = headers.iter().find_map(|h| {
        let name = h
            .get("headerName")
            .or_else(|| h.get("name"))
            .and_then(Value::as_str)?;
        let value = h
            .get("headerValue")
            .or_else(|| h.get("value"))
            .and_then(Value::as_str)?;
        let ordinary = ["authorization", "content-type", "accept", "user-agent"]
            .iter()
            .any(|o| name.eq_ignore_ascii_case(o));
        (!ordinary && !value.trim().is_empty())
            .then(|| (name.to_string(), value.trim().to_string()))
    });
    match authorization.map(str::trim) {
        None => match custom_secret {
            Some((name, value)) => {
                auth.mode = AuthMode::Header;
                auth.header_name = Some(name);
                auth.header_value = Some(value);
            }
            None => auth.mode = AuthMode::None,
        },
        Some(h) if h.ends_with(TOKEN_PLACEHOLDER) => {
            auth.mode = AuthMode::Oauth2;
            let endpoint = v.get("accessTokenEndpoint").ok_or_else(|| {
                bad(
                    "accessTokenEndpoint",
                    "is required with the access token placeholder",
                )
            })?;
            let (_, _, token_path) = split_url(str_at(endpoint, "url"), "accessTokenEndpoint.url")?;
            auth.token_path = token_path;
            auth.token_method = if str_at(endpoint, "method")
                .trim()
                .eq_ignore_ascii_case("GET")
            {
                TokenMethod::Get
            } else {
                TokenMethod::Post
            };
            let params = endpoint
                .get("postParameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let param = |n: &str| {
                params
                    .iter()
                    .find(|p| str_at(p, "name") == n)
                    .map(|p| str_at(p, "value").to_string())
            };
            auth.client_id = param("client_id");
            auth.client_secret = param("client_secret");
        }
        Some(h) if h.len() > 6 && h[..6].eq_ignore_ascii_case("basic ") => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(h[6..].trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad("headers.Authorization", "is not valid Basic credentials"))?;
            let (user, pass) = decoded
                .split_once(':')
                .ok_or_else(|| bad("headers.Authorization", "is not user:password"))?;
            auth.mode = AuthMode::Basic;
            auth.username = Some(user.into());
            auth.password = Some(pass.into());
        }
        Some(h) if h.len() > 7 && h[..7].eq_ignore_ascii_case("bearer ") => {
            auth.mode = AuthMode::Bearer;
            auth.token = Some(h[7..].trim().to_string());
        }
        Some(_) => return Err(bad("headers.Authorization", "is neither Basic nor Bearer")),
    }
    r.request_encryption = import_encryption(v.get("requestEncryption"), key_encoding);
    r.response_encryption = import_encryption(v.get("responseDecryption"), key_encoding);

    let rb = v.get("responseBody").cloned().unwrap_or(Value::Null);
    let loc = |k: &str, default: &str| {
        let s = str_at(&rb, k);
        if s.is_empty() {
            default.to_string()
        } else {
            s.to_string()
        }
    };
    r.answer = AnswerConfig {
        result: loc("resultLocator", "result"),
        reference_number: loc("referenceNumberLocator", "reference_number"),
        user_id: loc("userIdLocator", "user_id"),
        status_code: str_at(&rb, "statusCodeLocator").to_string(),
        status_message: str_at(&rb, "statusMessageLocator").to_string(),
        primary_user_id: str_at(&rb, "primaryUserIdLocator").to_string(),
        login_ids: str_at(&rb, "loginIdsLocator").to_string(),
        for_user_id: str_at(&rb, "forUserIdLocator").to_string(),
        orchestration_use_case: str_at(&rb, "orchestrationUseCaseLocator").to_string(),
        // Ditto ID's config has no values for the use cases: kept from the current config.
        use_case_approved: r.answer.use_case_approved.clone(),
        use_case_rejected: r.answer.use_case_rejected.clone(),
    };

    r.mapping = BTreeMap::new();
    if let Some(t) = request_template(v)? {
        collect_macros(&t, String::new(), &mut r.mapping);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// The `requestBody` template: a JSON text (as the console stores it) or a JSON object or list
/// (as the docs' short example writes it); `None` when there is none (the default payload).
fn request_template(v: &Value) -> Result<Option<Value>, CoreError> {
    match v.get("requestBody") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => serde_json::from_str(text.trim())
            .map(Some)
            .map_err(|_| bad("requestBody", "is not a JSON template")),
        Some(t @ (Value::Object(_) | Value::Array(_))) => Ok(Some(t.clone())),
        Some(_) => Err(bad(
            "requestBody",
            "is neither a JSON template nor a JSON object",
        )),
    }
}

/// What an import of `v` cannot carry over, said so the admin can act (never dropped silently):
/// macros KYC Desk does not know, and macros inside a longer string (`"Mr ${name}"`).
/// Also a template without a user id or a requester id, and how such bodies are then handled.
pub fn import_notes(v: &Value) -> Vec<String> {
    let mut notes = Vec::new();
    let token_url = v
        .pointer("/accessTokenEndpoint/url")
        .and_then(Value::as_str);
    if let (Ok((host, port, _)), Some(Ok((t_host, t_port, t_path)))) = (
        split_url(str_at(v, "url"), "url"),
        token_url.map(|u| split_url(u, "accessTokenEndpoint.url")),
    ) {
        if !host.eq_ignore_ascii_case(&t_host) || port != t_port {
            notes.push(format!(
                "accessTokenEndpoint.url is on {t_host}:{t_port}, not on the receiver's {host}:{port}: KYC Desk issues the tokens it accepts, so Ditto ID must take them from KYC Desk's own endpoint (path {t_path} kept; point the URL at this receiver)"
            ));
        }
    }
    if let Ok(Some(t)) = request_template(v) {
        macro_notes(&t, String::new(), &mut notes);
        let mut mapping = BTreeMap::new();
        collect_macros(&t, String::new(), &mut mapping);
        if !mapping.contains_key("user_id") {
            notes.push(
                "requestBody has no user-id macro: set receiver.default_user_id, or each case is flagged user_id_missing and its answer leaves user_id out (a reviewer can link it to a customer id)".into(),
            );
        }
        if !mapping.contains_key("requester_id") {
            notes.push(
                "requestBody has no requester-id macro: each POST becomes a case of its own (receiver.correlation = \"request\"); set it to \"body\" to answer a byte-identical retry from its first case".into(),
            );
        }
    }
    notes
}

fn macro_notes(v: &Value, pointer: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                macro_notes(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                macro_notes(child, format!("{pointer}/{i}"), out);
            }
        }
        Value::String(s) => {
            let whole = s
                .trim()
                .strip_prefix("${")
                .and_then(|x| x.strip_suffix('}'))
                .filter(|x| !x.contains("${"));
            match whole {
                Some(name) if crate::config::MAPPABLE_FIELDS.contains(&field_for(name)) => {}
                Some(name) => out.push(format!(
                    "requestBody {pointer}: macro ${{{name}}} is not one KYC Desk maps; the value is kept in the raw payload only"
                )),
                None if s.contains("${") => out.push(format!(
                    "requestBody {pointer}: a macro inside a longer string is not mapped (the field keeps the whole text); map it to a field of its own in Ditto ID's template"
                )),
                None => {}
            }
        }
        _ => {}
    }
}

fn collect_macros(v: &Value, pointer: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                collect_macros(
                    child,
                    format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_macros(child, format!("{pointer}/{i}"), out);
            }
        }
        Value::String(s) => {
            if let Some(name) = s
                .trim()
                .strip_prefix("${")
                .and_then(|x| x.strip_suffix('}'))
            {
                let field = field_for(name);
                if crate::config::MAPPABLE_FIELDS.contains(&field) {
                    out.insert(field.to_string(), pointer);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_public_template_macros() {
        let v = json!({
            "url": "https://kyc.example.com:9443/ditto/kyc",
            "headers": [{"headerName": "Authorization", "headerValue": "Basic ZGl0dG86czNjcmV0LXBhc3M="}],
            "requestBody": "{\"name\": \"${name}\", \"dob\": \"${dob}\", \"documentNumber\": \"${doc_no}\", \"user\": {\"id\": \"${user_id}\"}}",
            "responseBody": {"resultLocator": "data.ok"}
        });
        let cfg = import(&v, &Config::first_start(), KeyEncoding::Text).unwrap();
        let r = &cfg.receiver;
        assert_eq!(r.path, "/ditto/kyc");
        assert_eq!(r.listen.port(), 9443);
        assert_eq!(r.auth.mode, AuthMode::Basic);
        assert_eq!(r.auth.password.as_deref(), Some("s3cret-pass"));
        assert_eq!(r.mapping["date_of_birth"], "/dob");
        assert_eq!(r.mapping["document_number"], "/documentNumber");
        assert_eq!(r.mapping["user_id"], "/user/id");
        assert_eq!(r.answer.result, "data.ok");
        assert_eq!(r.answer.user_id, "user_id");
    }

    #[test]
    fn every_answer_locator_is_imported_and_exported() {
        let v = json!({
            "url": "https://kyc.example.com/kyc",
            "responseBody": {"resultLocator": "ok", "referenceNumberLocator": "ref", "userIdLocator": "uid",
                "primaryUserIdLocator": "customer.id", "loginIdsLocator": "logins",
                "statusCodeLocator": "", "statusMessageLocator": "msg",
                "forUserIdLocator": "agent.forUser", "orchestrationUseCaseLocator": "useCase"}
        });
        let mut start = Config::first_start();
        start.receiver.answer.use_case_approved = "welcome".into();
        let cfg = import(&v, &start, KeyEncoding::Text).unwrap();
        let a = &cfg.receiver.answer;
        assert_eq!(
            (
                a.primary_user_id.as_str(),
                a.login_ids.as_str(),
                a.for_user_id.as_str()
            ),
            ("customer.id", "logins", "agent.forUser")
        );
        assert_eq!(a.orchestration_use_case, "useCase");
        assert_eq!(
            a.use_case_approved, "welcome",
            "kept: Ditto ID's config has no values"
        );
        assert_eq!(export(&cfg)["responseBody"], v["responseBody"]);
    }

    #[test]
    fn a_token_endpoint_by_get_or_on_another_host_is_imported_with_a_warning() {
        let v = |token_url: &str, method: &str| {
            json!({
                "url": "https://kyc.example.com:9443/kyc",
                "headers": [{"headerName": "Authorization", "headerValue": format!("Bearer {TOKEN_PLACEHOLDER}")}],
                "accessTokenEndpoint": {"url": token_url, "method": method, "postParameters": [
                    {"name": "client_id", "value": "ditto"}, {"name": "client_secret", "value": "a-long-client-secret-123"}]}
            })
        };
        let here = v("https://kyc.example.com:9443/oauth/token", "GET");
        let cfg = import(&here, &Config::first_start(), KeyEncoding::Text).unwrap();
        assert_eq!(cfg.receiver.auth.token_method, TokenMethod::Get);
        assert_eq!(cfg.receiver.auth.token_path, "/oauth/token");
        assert!(import_notes(&here)
            .iter()
            .all(|n| !n.contains("accessTokenEndpoint")));
        // Exported again as it came.
        let out = export(&cfg);
        assert_eq!(out["accessTokenEndpoint"]["method"], "GET");
        // A token URL elsewhere: kept (the path), with a warning that names both places.
        let elsewhere = v("https://idp.example.com/oauth/token", "post");
        let cfg = import(&elsewhere, &Config::first_start(), KeyEncoding::Text).unwrap();
        assert_eq!(cfg.receiver.auth.token_method, TokenMethod::Post);
        assert_eq!(cfg.receiver.auth.token_path, "/oauth/token");
        let notes = import_notes(&elsewhere);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("idp.example.com:443") && n.contains("kyc.example.com:9443")),
            "{notes:?}"
        );
    }

    #[test]
    fn the_docs_template_without_a_user_id_imports_with_notes() {
        // Ditto ID's own short example: no user id, no requester id.
        let v = json!({
            "url": "https://kyc.example.com/kyc",
            "requestBody": {"name": "${name}", "dob": "${dob}", "documentNumber": "${doc_no}"}
        });
        let cfg = import(&v, &Config::first_start(), KeyEncoding::Text).unwrap();
        assert!(!cfg.receiver.mapping.contains_key("user_id"));
        assert_eq!(cfg.receiver.mapping["document_number"], "/documentNumber");
        let notes = import_notes(&v);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("no user-id macro") && n.contains("receiver.default_user_id")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.contains("no requester-id macro")));
    }

    #[test]
    fn a_template_given_as_a_json_object_is_imported_as_the_template_it_is() {
        let v = json!({
            "url": "https://kyc.example.com/kyc",
            "requestBody": {"name": "${name}", "dob": "${dob}", "documentNumber": "${doc_no}",
                            "userId": "${user_id}", "greeting": "Mr ${name}", "x": "${unknown_macro}"}
        });
        let cfg = import(&v, &Config::first_start(), KeyEncoding::Text).unwrap();
        let m = &cfg.receiver.mapping;
        assert_eq!(m["name"], "/name");
        assert_eq!(m["date_of_birth"], "/dob");
        assert_eq!(m["user_id"], "/userId");
        let notes = import_notes(&v);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("no requester-id macro")));
        assert!(notes
            .iter()
            .any(|n| n.contains("/greeting") && n.contains("longer string")));
        assert!(notes.iter().any(|n| n.contains("${unknown_macro}")));
        // A text template reads the same.
        let text = json!({"url": "https://kyc.example.com/kyc", "requestBody": v["requestBody"].to_string()});
        assert_eq!(
            import(&text, &Config::first_start(), KeyEncoding::Text)
                .unwrap()
                .receiver
                .mapping,
            *m
        );
    }

    #[test]
    fn a_secret_in_a_header_of_its_own_imports_as_header_auth_and_exports_back() {
        let base = Config::first_start();
        let ditto = json!({
            "url": "https://kyc.example.com:9443/kyc",
            "headers": [
                {"headerName": "Content-Type", "headerValue": "application/json"},
                {"headerName": "x-api-key", "headerValue": "k3y-0123456789abcdef"}
            ]
        });
        let c = import(&ditto, &base, KeyEncoding::Text).unwrap();
        let a = &c.receiver.auth;
        assert_eq!(a.mode, AuthMode::Header, "not imported as no auth at all");
        assert_eq!(a.header_name.as_deref(), Some("x-api-key"));
        assert_eq!(a.header_value.as_deref(), Some("k3y-0123456789abcdef"));
        c.validate().unwrap();
        let back = export(&c);
        assert!(back["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["headerName"] == "x-api-key" && h["headerValue"] == "k3y-0123456789abcdef"));
    }
}
