//! OAuth2 client-credentials tokens that KYC Desk issues to Ditto ID (RFC 6749 §4.4): JWTs signed
//! with HS256 under a key the caller keeps (so tokens outlive a restart), algorithm pinned, and
//! `exp`, `iat`, `iss`, `aud` checked on every use against the time the caller passes in.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::Error;

/// The `iss` of every token.
pub const ISSUER: &str = "kyc-desk";
/// The `aud` of every token.
pub const AUDIENCE: &str = "kyc-desk-receiver";
const LEEWAY_SECS: u64 = 5;

/// A token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: [`ISSUER`].
    pub iss: String,
    /// Audience: [`AUDIENCE`].
    pub aud: String,
    /// The client id the token was issued to.
    pub sub: String,
    /// Issued at (seconds since the Unix epoch).
    pub iat: u64,
    /// Expires at (seconds since the Unix epoch).
    pub exp: u64,
    /// A random token id.
    pub jti: String,
}

/// What the token endpoint answers on success.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the token is valid for.
    pub expires_in: u64,
}

/// Issues and verifies tokens for the configured clients.
pub struct TokenIssuer {
    key: SecretBytes,
    ttl_secs: u64,
    clients: Vec<(String, SecretString)>,
}

/// The signing key: zeroised on drop, never printed.
type SecretBytes = secrecy::SecretBox<[u8]>;

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenIssuer({} clients)", self.clients.len())
    }
}

impl TokenIssuer {
    /// An issuer signing with `key` (at least 32 bytes) for these `(client id, secret)` pairs.
    pub fn new(key: Vec<u8>, ttl_secs: u64, clients: Vec<(String, SecretString)>) -> TokenIssuer {
        TokenIssuer {
            key: SecretBytes::from(key.into_boxed_slice()),
            ttl_secs,
            clients,
        }
    }

    /// A new random 256-bit signing key.
    pub fn generate_key() -> Vec<u8> {
        let mut k = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    }

    /// Checks the client's credentials (constant time, every configured pair) and issues a token.
    pub fn issue(
        &self,
        client_id: &str,
        client_secret: &str,
        now_secs: u64,
    ) -> Result<IssuedToken, Error> {
        let mut ok = subtle::Choice::from(0);
        for (id, secret) in &self.clients {
            let id_ok = id.as_bytes().ct_eq(client_id.as_bytes());
            let secret_ok = secret
                .expose_secret()
                .as_bytes()
                .ct_eq(client_secret.as_bytes());
            ok |= id_ok & secret_ok;
        }
        if !bool::from(ok) {
            return Err(Error::InvalidClient);
        }
        let iat = now_secs;
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: client_id.into(),
            iat,
            exp: iat + self.ttl_secs,
            jti: hex::encode(jti),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.key.expose_secret()),
        )
        .map_err(|e| Error::Signing(e.to_string()))?;
        Ok(IssuedToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.ttl_secs,
        })
    }

    /// Verifies a bearer token: HS256 only, our key, not expired at `now_secs`, not issued in the
    /// future, our issuer and audience.
    pub fn verify(&self, token: &str, now_secs: u64) -> Result<Claims, Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        // Expiry is checked below against the caller's time, not the library's own clock.
        v.validate_exp = false;
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let key = DecodingKey::from_secret(self.key.expose_secret());
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|_| Error::InvalidToken)?;
        let expired = data.claims.exp.saturating_add(LEEWAY_SECS) <= now_secs;
        if expired || data.claims.iat > now_secs + 60 {
            return Err(Error::InvalidToken);
        }
        Ok(data.claims)
    }

    /// Signs arbitrary claims with this issuer's key (tests forge expired or foreign tokens).
    pub fn sign_for_tests(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(self.key.expose_secret()),
        )
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const NOW: u64 = 1_800_000_000;

    fn issuer(key: &[u8]) -> TokenIssuer {
        TokenIssuer::new(
            key.to_vec(),
            300,
            vec![
                ("ditto-idv".into(), "0123456789abcdef-secret".into()),
                ("ditto-next".into(), "fedcba9876543210-secret".into()),
            ],
        )
    }

    #[test]
    fn issues_verifies_and_rotates() {
        let key = TokenIssuer::generate_key();
        let t = issuer(&key)
            .issue("ditto-idv", "0123456789abcdef-secret", NOW)
            .unwrap();
        assert_eq!((t.token_type, t.expires_in), ("Bearer", 300));
        // A new issuer with the same key (a restart) accepts the token until it expires.
        let claims = issuer(&key).verify(&t.access_token, NOW + 299).unwrap();
        assert_eq!((claims.sub.as_str(), claims.exp), ("ditto-idv", NOW + 300));
        assert!(issuer(&key)
            .verify(&t.access_token, NOW + 300 + LEEWAY_SECS)
            .is_err());
        // Rotation: the second pair works too; wrong secrets do not.
        assert!(issuer(&key)
            .issue("ditto-next", "fedcba9876543210-secret", NOW)
            .is_ok());
        for (id, secret) in [
            ("ditto-idv", "wrong"),
            ("nobody", "0123456789abcdef-secret"),
        ] {
            assert!(matches!(
                issuer(&key).issue(id, secret, NOW),
                Err(Error::InvalidClient)
            ));
        }
        assert!(!format!("{:?}", issuer(&key)).contains("secret"));
    }

    #[test]
    fn refuses_forged_expired_future_foreign_and_unsigned_tokens() {
        let iss = issuer(&[7; 32]);
        let good = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "ditto-idv".into(),
            iat: NOW,
            exp: NOW + 300,
            jti: "x".into(),
        };
        assert!(iss.verify(&iss.sign_for_tests(&good), NOW).is_ok());
        let expired = Claims {
            iat: NOW - 600,
            exp: NOW - 300,
            ..good.clone()
        };
        let future = Claims {
            iat: NOW + 120,
            exp: NOW + 420,
            ..good.clone()
        };
        let wrong_aud = Claims {
            aud: "someone-else".into(),
            ..good.clone()
        };
        let wrong_iss = Claims {
            iss: "evil".into(),
            ..good.clone()
        };
        for c in [expired, future, wrong_aud, wrong_iss] {
            assert!(matches!(
                iss.verify(&iss.sign_for_tests(&c), NOW),
                Err(Error::InvalidToken)
            ));
        }
        let foreign = issuer(&[8; 32]).sign_for_tests(&good);
        assert!(iss.verify(&foreign, NOW).is_err(), "wrong key");
        // alg: none with the right claims.
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_vec(&good).unwrap())
        );
        assert!(iss.verify(&none, NOW).is_err(), "alg none");
        assert!(iss.verify("not.a.jwt", NOW).is_err());
    }
}
