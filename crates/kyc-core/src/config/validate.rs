//! What types alone cannot check in a config: every error names its key; warnings name what
//! works but is dangerous.

use kyc_crypto::jce::{AesSuite, CipherSpec, SuiteSettings};

use super::*;

impl EncryptionConfig {
    /// The cipher suite this section configures; an error names the key (`{section}.iv`).
    pub fn suite(&self, section: &str) -> Result<AesSuite, CoreError> {
        AesSuite::new(SuiteSettings {
            cipher_spec: &self.cipher_spec,
            key: self.key.as_deref(),
            iv: self.iv.as_deref(),
            envelope: self.envelope,
            json_field: &self.json_field,
        })
        .map_err(|e| CoreError::Config(format!("{section}.{e}")))
    }
}

impl Config {
    /// Things that work but are dangerous; shown loudly in the log and the desk.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (section, enc) in [
            (
                "receiver.request_encryption",
                &self.receiver.request_encryption,
            ),
            (
                "receiver.response_encryption",
                &self.receiver.response_encryption,
            ),
        ] {
            if enc.enable && CipherSpec::parse(&enc.cipher_spec) == Some(CipherSpec::Gcm) {
                out.push(format!(
                    "{section}: AES/GCM/NoPadding with the static IV from the config reuses one nonce for \
                     every message, which breaks GCM's confidentiality and integrity; prefer \
                     AES/CBC/PKCS5Padding"
                ));
            }
        }
        if self.receiver.auth.mode == AuthMode::None {
            out.push(
                "receiver.auth.mode = \"none\": anyone who can reach the receiver can submit cases"
                    .into(),
            );
        }
        if let Ok(ReviewTransport::PlainOnNetwork) = self.review.transport(self.review.listen.ip())
        {
            out.push(PLAIN_HTTP_WARNING.into());
        }
        out
    }

    /// Checks what types alone cannot; each error names its key.
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |key: &str, msg: &str| Err(CoreError::Config(format!("{key}: {msg}")));
        let r = &self.receiver;
        if !r.path.starts_with('/') || r.path.contains(char::is_whitespace) {
            return bad("receiver.path", "must start with '/' and contain no spaces");
        }
        if r.path == super::HEALTH_PATH {
            return bad(
                "receiver.path",
                &format!(
                    "must not be {} (the load balancer's check)",
                    super::HEALTH_PATH
                ),
            );
        }
        if !(1..=1024).contains(&r.max_body_mb) {
            return bad("receiver.max_body_mb", "must be between 1 and 1024");
        }
        if r.tls_cert.is_some() != r.tls_key.is_some() {
            return bad(
                "receiver.tls_cert",
                "tls_cert and tls_key must be given together (or neither, for a self-signed certificate)",
            );
        }
        let a = &r.auth;
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        match a.mode {
            AuthMode::None => {}
            AuthMode::Basic => {
                if !present(&a.username) || a.username.as_deref().is_some_and(|u| u.contains(':')) {
                    return bad(
                        "receiver.auth.username",
                        "basic mode needs a username without ':'",
                    );
                }
                if !present(&a.password) {
                    return bad("receiver.auth.password", "basic mode needs a password");
                }
            }
            AuthMode::Bearer => {
                if a.token.as_deref().map_or(0, str::len) < 16 {
                    return bad(
                        "receiver.auth.token",
                        "bearer mode needs a token of at least 16 characters",
                    );
                }
            }
            AuthMode::Header => {
                let name_ok = a.header_name.as_deref().is_some_and(|n| {
                    !n.is_empty()
                        && n.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                        && !n.eq_ignore_ascii_case("authorization")
                        && !n.eq_ignore_ascii_case("content-type")
                });
                if !name_ok {
                    return bad(
                        "receiver.auth.header_name",
                        "header mode needs a header name such as \"x-api-key\" (not Authorization: use basic or bearer)",
                    );
                }
                if a.header_value.as_deref().map_or(0, str::len) < 16 {
                    return bad(
                        "receiver.auth.header_value",
                        "header mode needs a secret of at least 16 characters",
                    );
                }
            }
            AuthMode::Oauth2 => {
                if !present(&a.client_id) {
                    return bad("receiver.auth.client_id", "oauth2 mode needs a client_id");
                }
                if a.client_secret.as_deref().map_or(0, str::len) < 16 {
                    return bad(
                        "receiver.auth.client_secret",
                        "oauth2 mode needs a client_secret of at least 16 characters",
                    );
                }
                for (i, c) in a.clients.iter().enumerate() {
                    if c.client_id.is_empty() || c.client_secret.len() < 16 {
                        return bad(
                            &format!("receiver.auth.clients[{i}]"),
                            "needs a client_id and a client_secret of at least 16 characters",
                        );
                    }
                }
            }
        }
        if !a.token_path.starts_with('/')
            || a.token_path == r.path
            || a.token_path == super::HEALTH_PATH
        {
            return bad(
                "receiver.auth.token_path",
                &format!(
                    "must start with '/' and differ from receiver.path and {}",
                    super::HEALTH_PATH
                ),
            );
        }
        if !(30..=86_400).contains(&a.token_ttl_secs) {
            return bad(
                "receiver.auth.token_ttl_secs",
                "must be between 30 and 86400",
            );
        }
        for (section, enc) in [
            ("receiver.request_encryption", &r.request_encryption),
            ("receiver.response_encryption", &r.response_encryption),
        ] {
            if enc.enable {
                enc.suite(section)?;
            }
        }
        if let Some(u) = &r.public_url {
            if !u.starts_with("https://") || u.len() <= "https://".len() {
                return bad(
                    "receiver.public_url",
                    "must be an https:// URL (Ditto ID requires HTTPS)",
                );
            }
        }
        for (field, pointer) in &r.mapping {
            if !MAPPABLE_FIELDS.contains(&field.as_str()) {
                return bad(
                    &format!("receiver.mapping.{field}"),
                    &format!("unknown field; mappable: {}", MAPPABLE_FIELDS.join(", ")),
                );
            }
            if !pointer.starts_with('/') {
                return bad(
                    &format!("receiver.mapping.{field}"),
                    "must be a JSON pointer such as \"/documentNumber\"",
                );
            }
        }
        let default_user = r.default_user_id.as_str();
        if default_user.trim() != default_user
            || default_user.chars().count() > 256
            || default_user.chars().any(char::is_control)
        {
            return bad(
                "receiver.default_user_id",
                "must be at most 256 characters, without control characters or surrounding spaces",
            );
        }
        let locators = r.answer.locators();
        for key in ["result", "user_id"] {
            if !locators.iter().any(|(k, _)| *k == key) {
                return bad(
                    &format!("receiver.answer.{key}"),
                    "must not be empty: Ditto ID needs it",
                );
            }
        }
        for (i, (key, path)) in locators.iter().enumerate() {
            if path.split('.').any(|seg| seg.trim().is_empty()) {
                return bad(
                    &format!("receiver.answer.{key}"),
                    "a dotted path with no empty parts, e.g. \"data.result\"",
                );
            }
            for (other_key, other) in &locators[i + 1..] {
                let clash = path == other
                    || path.starts_with(&format!("{other}."))
                    || other.starts_with(&format!("{path}."));
                if clash {
                    return bad(
                        &format!("receiver.answer.{other_key}"),
                        &format!("clashes with receiver.answer.{key} ({path:?})"),
                    );
                }
            }
        }
        let d = &self.decision;
        if d.hold_secs > 600 {
            return bad(
                "decision.hold_secs",
                "must be at most 600 (Ditto ID's request is waiting)",
            );
        }
        if !(d.face_match_threshold.is_finite() && d.face_match_threshold >= 0.0) {
            return bad(
                "decision.face_match_threshold",
                "must be a non-negative number",
            );
        }
        for (i, code) in d.auto_reject.iter().enumerate() {
            if !kyc_domain::flag::FLAG_CODES.contains(&code.as_str()) {
                return bad(
                    &format!("decision.auto_reject[{i}]"),
                    &format!(
                        "unknown flag code {code:?}; known: {}",
                        kyc_domain::flag::FLAG_CODES.join(", ")
                    ),
                );
            }
        }
        if !(0..=3650).contains(&d.expiring_days) {
            return bad("decision.expiring_days", "must be between 0 and 3650");
        }
        if d.minimum_age > 120 {
            return bad("decision.minimum_age", "must be at most 120");
        }
        let n = &self.notify;
        if n.enabled() {
            let u = n.url.trim();
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return bad("notify.url", "must be an http(s):// URL");
            }
            if n.secret.as_deref().map_or(0, str::len) < 16 {
                return bad(
                    "notify.secret",
                    "needs at least 16 characters to sign deliveries",
                );
            }
            if !(1..=100).contains(&n.max_attempts) {
                return bad("notify.max_attempts", "must be between 1 and 100");
            }
            if !(10..=3_600_000).contains(&n.retry_base_ms) {
                return bad("notify.retry_base_ms", "must be between 10 and 3600000");
            }
        }
        if d.reasons.is_empty() || d.reasons.len() > 30 {
            return bad("decision.reasons", "needs 1 to 30 reasons");
        }
        for (i, r) in d.reasons.iter().enumerate() {
            let code_ok = !r.code.is_empty()
                && r.code.len() <= 64
                && r.code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !code_ok || r.label.trim().is_empty() {
                return bad(
                    &format!("decision.reasons[{i}]"),
                    "needs a code (lowercase letters, digits, '_') and a label",
                );
            }
            if d.reasons[..i].iter().any(|o| o.code == r.code) {
                return bad(&format!("decision.reasons[{i}]"), "repeats a code");
            }
            if let Some(j) = r
                .flags
                .iter()
                .position(|f| !kyc_domain::flag::FLAG_CODES.contains(&f.as_str()))
            {
                return bad(
                    &format!("decision.reasons[{i}].flags[{j}]"),
                    "not a flag code (see the README's list of findings)",
                );
            }
        }
        if !(0.0..=100.0).contains(&d.liveness_threshold) {
            return bad("decision.liveness_threshold", "must be between 0 and 100");
        }
        if !(5..=7 * 24 * 60).contains(&self.review.session_minutes) {
            return bad("review.session_minutes", "must be between 5 and 10080");
        }
        if !(1..=30 * 24 * 60).contains(&self.review.sla_minutes) {
            return bad("review.sla_minutes", "must be between 1 and 43200");
        }
        for (i, name) in self.review.public_names.iter().enumerate() {
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !ok {
                return bad(
                    &format!("review.public_names[{i}]"),
                    "a host name (letters, digits, '.', '-'), without scheme or port",
                );
            }
        }
        if self.review.listen == r.listen && r.listen.port() != 0 {
            return bad("review.listen", "must differ from receiver.listen");
        }
        self.review.transport(self.review.listen.ip())?;
        if let Some(server) = &self.client.server {
            check_server_url(server)?;
        }
        if let Some(fp) = &self.client.fingerprint {
            if normalize_fingerprint(fp).is_none() {
                return bad(
                    "client.fingerprint",
                    "a SHA-256 fingerprint: 32 hex bytes, e.g. AB:CD:… as the server prints it",
                );
            }
        }
        if let Some(url) = &self.storage.url {
            let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
            if !scheme_ok || kyc_store::pg::check_url(url).is_err() {
                return bad(
                    "storage.url",
                    "a PostgreSQL URL, postgres://user@host:port/database (or leave it out for \
                     the embedded SQLite store)",
                );
            }
        }
        if self.storage.pool.is_some_and(|n| !(2..=256).contains(&n)) {
            return bad("storage.pool", "must be between 2 and 256");
        }
        Ok(())
    }
}
