//! AES exactly as Java's JCE does it for Ditto ID's `requestEncryption` / `responseDecryption`:
//! `AES/CBC/PKCS5Padding`, `AES/GCM/NoPadding` (128-bit tag appended), `AES/CTR/NoPadding`
//! (128-bit big-endian counter), `AES/ECB/PKCS5Padding`; 128/192/256-bit keys given as
//! `base64:`, `hex:` or plain text (its UTF-8 bytes). Bodies travel as base64 text, either as the
//! whole body or in a JSON field. Every failure to open is the same opaque error (no oracle).

use aes::cipher::{
    block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit, StreamCipher,
};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::Aead;
use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use serde::{Deserialize, Serialize};

const B64_IN: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64_OUT: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decodes standard base64 inside `buf`, leniently: ASCII whitespace anywhere (MIME line
/// breaks) and missing padding are accepted, as in WHATWG's forgiving-base64. Returns the decoded
/// length (the bytes are at the start of `buf`), or None when it is not base64. SIMD-accelerated:
/// this runs over every megabyte of a received body and its images.
pub fn decode_base64_in_place(buf: &mut [u8]) -> Option<usize> {
    base64_simd::forgiving_decode_inplace(buf)
        .ok()
        .map(|d| d.len())
}

/// Runs `$body` with `$A` bound to the AES variant for a key of `$len` bytes (16, 24 or 32;
/// lengths are validated when the suite is built).
macro_rules! with_aes {
    ($len:expr, $A:ident => $body:expr) => {
        match $len {
            16 => {
                type $A = aes::Aes128;
                $body
            }
            24 => {
                type $A = aes::Aes192;
                $body
            }
            _ => {
                type $A = aes::Aes256;
                $body
            }
        }
    };
}

/// The JCE transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CipherSpec {
    Cbc,
    Gcm,
    Ctr,
    Ecb,
}

impl CipherSpec {
    /// Parses a JCE transformation string (case-insensitive; bare "AES" is JCE's ECB default).
    pub fn parse(s: &str) -> Option<CipherSpec> {
        match s.trim().to_ascii_uppercase().as_str() {
            "AES/CBC/PKCS5PADDING" | "AES/CBC/PKCS7PADDING" => Some(CipherSpec::Cbc),
            "AES/GCM/NOPADDING" => Some(CipherSpec::Gcm),
            "AES/CTR/NOPADDING" => Some(CipherSpec::Ctr),
            "AES/ECB/PKCS5PADDING" | "AES/ECB/PKCS7PADDING" | "AES" => Some(CipherSpec::Ecb),
            _ => None,
        }
    }

    pub fn jce_name(self) -> &'static str {
        match self {
            CipherSpec::Cbc => "AES/CBC/PKCS5Padding",
            CipherSpec::Gcm => "AES/GCM/NoPadding",
            CipherSpec::Ctr => "AES/CTR/NoPadding",
            CipherSpec::Ecb => "AES/ECB/PKCS5Padding",
        }
    }
}

/// How the base64 ciphertext travels in the HTTP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Envelope {
    /// The whole body is the base64 text (a JSON-quoted string is tolerated on input).
    #[default]
    Base64,
    /// `{"<json_field>": "<base64>"}`.
    Json,
}

/// Decodes `base64:...`, `hex:...` or plain text (UTF-8 bytes, as a Java admin types a key).
pub fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    if let Some(b) = text.strip_prefix("base64:") {
        B64_IN
            .decode(b.trim())
            .map_err(|_| "is not valid base64 after 'base64:'".to_string())
    } else if let Some(h) = text.strip_prefix("hex:") {
        hex::decode(h.trim()).map_err(|_| "is not valid hex after 'hex:'".to_string())
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

/// A configured cipher: transformation, key and IV, validated once.
#[derive(Clone)]
pub struct AesSuite {
    spec: CipherSpec,
    key: Vec<u8>,
    iv: Vec<u8>,
    envelope: Envelope,
    json_field: String,
}

impl std::fmt::Debug for AesSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(
            f,
            "AesSuite({}, {}-bit)",
            self.spec.jce_name(),
            self.key.len() * 8
        )
    }
}

/// The one error for anything that fails to open: callers answer it uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecryptable;

/// Why a suite's settings were refused: the setting (`cipher_spec`, `key`, `iv`, `json_field`) and
/// what is wrong with it (never the key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct SuiteError {
    /// The name of the refused setting, as the configuration spells it.
    pub setting: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// A suite's settings as text, as an admin writes them (a config section, Ditto ID's own file).
#[derive(Debug, Clone, Copy)]
pub struct SuiteSettings<'a> {
    /// The JCE transformation, e.g. `AES/CBC/PKCS5Padding`.
    pub cipher_spec: &'a str,
    /// `base64:…`, `hex:…` or plain text.
    pub key: Option<&'a str>,
    /// Required except for ECB; the same encodings as the key.
    pub iv: Option<&'a str>,
    /// How the ciphertext travels in the body.
    pub envelope: Envelope,
    /// The JSON field that carries the ciphertext when the envelope is JSON.
    pub json_field: &'a str,
}

impl AesSuite {
    /// Builds and validates the suite; an error names the setting that is wrong.
    pub fn new(settings: SuiteSettings<'_>) -> Result<AesSuite, SuiteError> {
        let bad = |setting: &'static str, message: String| SuiteError { setting, message };
        let SuiteSettings {
            cipher_spec,
            key,
            iv,
            envelope,
            json_field,
        } = settings;
        let spec = CipherSpec::parse(cipher_spec).ok_or_else(|| {
            bad(
                "cipher_spec",
                format!(
                    "{cipher_spec:?} is not supported: use AES/CBC/PKCS5Padding, AES/GCM/NoPadding, AES/CTR/NoPadding or AES/ECB/PKCS5Padding"
                ),
            )
        })?;
        let key =
            decode_secret(key.ok_or_else(|| bad("key", "is required when enable = true".into()))?)
                .map_err(|m| bad("key", m))?;
        if ![16, 24, 32].contains(&key.len()) {
            return Err(bad(
                "key",
                format!(
                    "is {} bytes; AES needs 16, 24 or 32 (128/192/256-bit)",
                    key.len()
                ),
            ));
        }
        let iv = match (spec, iv) {
            (CipherSpec::Ecb, _) => Vec::new(),
            (_, None) => return Err(bad("iv", format!("is required for {}", spec.jce_name()))),
            (_, Some(text)) => decode_secret(text).map_err(|m| bad("iv", m))?,
        };
        match spec {
            CipherSpec::Cbc | CipherSpec::Ctr if iv.len() != 16 => {
                return Err(bad(
                    "iv",
                    format!("is {} bytes; {} needs 16", iv.len(), spec.jce_name()),
                ))
            }
            CipherSpec::Gcm if iv.len() != 12 && iv.len() != 16 => {
                return Err(bad(
                    "iv",
                    format!(
                        "is {} bytes; AES/GCM/NoPadding here takes 12 or 16",
                        iv.len()
                    ),
                ))
            }
            _ => {}
        }
        if envelope == Envelope::Json && json_field.trim().is_empty() {
            return Err(bad(
                "json_field",
                "must name the field that carries the ciphertext".into(),
            ));
        }
        Ok(AesSuite {
            spec,
            key,
            iv,
            envelope,
            json_field: json_field.to_string(),
        })
    }

    pub fn spec(&self) -> CipherSpec {
        self.spec
    }

    pub fn key_bits(&self) -> usize {
        self.key.len() * 8
    }

    pub fn envelope(&self) -> Envelope {
        self.envelope
    }

    /// A static IV with GCM repeats the nonce on every message: confidentiality and integrity break.
    pub fn reuses_gcm_nonce(&self) -> bool {
        self.spec == CipherSpec::Gcm
    }

    /// Encrypts raw bytes (what JCE's `doFinal` returns).
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        let (k, iv) = (&self.key[..], &self.iv[..]);
        match self.spec {
            CipherSpec::Cbc => {
                with_aes!(self.key.len(), A => cbc::Encryptor::<A>::new_from_slices(k, iv)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext))
                .unwrap_or_default())
            }
            CipherSpec::Ecb => {
                with_aes!(self.key.len(), A => ecb::Encryptor::<A>::new_from_slice(k)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext))
                .unwrap_or_default())
            }
            CipherSpec::Ctr => with_aes!(self.key.len(), A => {
                let mut buf = plaintext.to_vec();
                if let Ok(mut c) = ctr::Ctr128BE::<A>::new_from_slices(k, iv) {
                    c.apply_keystream(&mut buf);
                }
                buf
            }),
            CipherSpec::Gcm => with_aes!(self.key.len(), A => {
                if iv.len() == 12 {
                    aes_gcm::AesGcm::<A, U12>::new_from_slice(k)
                        .ok()
                        .and_then(|c| c.encrypt(iv.into(), plaintext).ok())
                        .unwrap_or_default()
                } else {
                    aes_gcm::AesGcm::<A, U16>::new_from_slice(k)
                        .ok()
                        .and_then(|c| c.encrypt(iv.into(), plaintext).ok())
                        .unwrap_or_default()
                }
            }),
        }
    }

    /// Decrypts raw bytes; any failure (length, padding, tag) is the same [`Undecryptable`].
    pub fn decrypt_bytes(&self, ciphertext: &[u8]) -> Result<Vec<u8>, Undecryptable> {
        self.decrypt_in_place(ciphertext.to_vec())
    }

    /// Decrypts in the buffer itself (a body's ciphertext is megabytes: no second copy).
    pub fn decrypt_in_place(&self, mut buf: Vec<u8>) -> Result<Vec<u8>, Undecryptable> {
        let (k, iv) = (&self.key[..], &self.iv[..]);
        match self.spec {
            CipherSpec::Cbc => {
                let n = with_aes!(self.key.len(), A => cbc::Decryptor::<A>::new_from_slices(k, iv)
                    .map_err(|_| Undecryptable)?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf)
                    .map_err(|_| Undecryptable)?
                    .len());
                buf.truncate(n);
                Ok(buf)
            }
            CipherSpec::Ecb => {
                let n = with_aes!(self.key.len(), A => ecb::Decryptor::<A>::new_from_slice(k)
                    .map_err(|_| Undecryptable)?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf)
                    .map_err(|_| Undecryptable)?
                    .len());
                buf.truncate(n);
                Ok(buf)
            }
            CipherSpec::Ctr => with_aes!(self.key.len(), A => {
                ctr::Ctr128BE::<A>::new_from_slices(k, iv)
                    .map_err(|_| Undecryptable)?
                    .apply_keystream(&mut buf);
                Ok(buf)
            }),
            CipherSpec::Gcm => self.decrypt_gcm(&buf),
        }
    }

    /// GCM: the tag is checked before anything is returned.
    fn decrypt_gcm(&self, ciphertext: &[u8]) -> Result<Vec<u8>, Undecryptable> {
        let (k, iv) = (&self.key[..], &self.iv[..]);
        with_aes!(self.key.len(), A => {
            if iv.len() == 12 {
                aes_gcm::AesGcm::<A, U12>::new_from_slice(k)
                    .map_err(|_| Undecryptable)?
                    .decrypt(iv.into(), ciphertext)
                    .map_err(|_| Undecryptable)
            } else {
                aes_gcm::AesGcm::<A, U16>::new_from_slice(k)
                    .map_err(|_| Undecryptable)?
                    .decrypt(iv.into(), ciphertext)
                    .map_err(|_| Undecryptable)
            }
        })
    }

    /// Opens an HTTP body: envelope → base64 → plaintext.
    pub fn open_body(&self, body: &[u8]) -> Result<Vec<u8>, Undecryptable> {
        self.open_body_vec(body.to_vec())
    }

    /// Like [`AesSuite::open_body`], but decodes and decrypts inside the received buffer (no copy
    /// of the body for the common bare-base64 envelope).
    pub fn open_body_vec(&self, body: Vec<u8>) -> Result<Vec<u8>, Undecryptable> {
        let text = body.trim_ascii();
        let mut b64 = match self.envelope {
            Envelope::Base64 if text.starts_with(b"\"") => {
                let s: String = serde_json::from_slice(text).map_err(|_| Undecryptable)?;
                s.into_bytes()
            }
            Envelope::Base64 => body,
            Envelope::Json => {
                let v: serde_json::Value =
                    serde_json::from_slice(text).map_err(|_| Undecryptable)?;
                v.get(&self.json_field)
                    .and_then(|f| f.as_str())
                    .ok_or(Undecryptable)?
                    .as_bytes()
                    .to_vec()
            }
        };
        let len = decode_base64_in_place(&mut b64).ok_or(Undecryptable)?;
        b64.truncate(len);
        self.decrypt_in_place(b64)
    }

    /// Seals an HTTP body the way [`AesSuite::open_body`] (and Ditto ID) reads it; returns the body
    /// and its content type.
    pub fn seal_body(&self, plaintext: &[u8]) -> (Vec<u8>, &'static str) {
        let b64 = B64_OUT.encode(self.encrypt_bytes(plaintext));
        match self.envelope {
            Envelope::Base64 => (b64.into_bytes(), "text/plain; charset=utf-8"),
            Envelope::Json => {
                let mut map = serde_json::Map::new();
                map.insert(self.json_field.clone(), serde_json::Value::String(b64));
                (
                    serde_json::Value::Object(map).to_string().into_bytes(),
                    "application/json",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(spec: &'a str, key: &'a str, iv: Option<&'a str>) -> SuiteSettings<'a> {
        SuiteSettings {
            cipher_spec: spec,
            key: Some(key),
            iv,
            envelope: Envelope::Base64,
            json_field: "data",
        }
    }

    fn suite(spec: &str, key: &str, iv: Option<&str>) -> AesSuite {
        AesSuite::new(settings(spec, key, iv)).unwrap()
    }

    #[test]
    fn base64_is_decoded_leniently_in_place() {
        let dec = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            decode_base64_in_place(&mut b).map(|n| b[..n].to_vec())
        };
        assert_eq!(dec("SGVsbG8="), Some(b"Hello".to_vec()));
        assert_eq!(
            dec("SGVsbG8"),
            Some(b"Hello".to_vec()),
            "padding may be left out"
        );
        assert_eq!(
            dec(" SGVs\r\nbG8=\n"),
            Some(b"Hello".to_vec()),
            "MIME line breaks"
        );
        assert_eq!(dec(""), Some(Vec::new()));
        assert_eq!(dec("SGVsbG8=!"), None);
        assert_eq!(dec("SGV=sbG8"), None, "padding inside");
        assert_eq!(dec("SGVsb"), None, "a dangling sextet");
        assert_eq!(
            dec("SGVsbG8-"),
            None,
            "URL-safe alphabet is not standard base64"
        );
    }

    #[test]
    fn round_trips_every_mode_and_key_size() {
        for spec in [
            "AES/CBC/PKCS5Padding",
            "AES/GCM/NoPadding",
            "AES/CTR/NoPadding",
            "AES/ECB/PKCS5Padding",
        ] {
            for key in [
                "0123456789abcdef",
                "0123456789abcdef01234567",
                "0123456789abcdef0123456789abcdef",
            ] {
                let s = suite(spec, key, Some("fedcba9876543210"));
                let body = br#"{"request_info":{"user_id":"u"}}"#;
                let (sealed, _) = s.seal_body(body);
                assert_eq!(s.open_body(&sealed).unwrap(), body, "{spec} {}", key.len());
            }
        }
    }

    #[test]
    fn tampering_is_one_uniform_error() {
        let s = suite(
            "AES/GCM/NoPadding",
            "hex:000102030405060708090a0b0c0d0e0f",
            Some("base64:AAAAAAAAAAAAAAAA"),
        );
        let (sealed, _) = s.seal_body(b"{}");
        let mut raw = B64_IN.decode(&sealed).unwrap();
        raw[0] ^= 1;
        assert_eq!(
            s.open_body(B64_OUT.encode(&raw).as_bytes()),
            Err(Undecryptable)
        );
        assert_eq!(s.open_body(b"%%% not base64"), Err(Undecryptable));
        let cbc = suite(
            "AES/CBC/PKCS5Padding",
            "0123456789abcdef",
            Some("fedcba9876543210"),
        );
        assert_eq!(
            cbc.open_body(B64_OUT.encode([0u8; 17]).as_bytes()),
            Err(Undecryptable)
        );
    }

    #[test]
    fn refusals_name_the_setting() {
        let err = |spec: &str, key: &str, iv: Option<&str>| {
            AesSuite::new(settings(spec, key, iv)).unwrap_err().setting
        };
        assert_eq!(
            err("AES/OFB/NoPadding", "0123456789abcdef", None),
            "cipher_spec"
        );
        assert_eq!(
            err("AES/CBC/PKCS5Padding", "short", Some("fedcba9876543210")),
            "key"
        );
        assert_eq!(err("AES/CBC/PKCS5Padding", "0123456789abcdef", None), "iv");
        assert_eq!(
            err("AES/CBC/PKCS5Padding", "0123456789abcdef", Some("hex:zz")),
            "iv"
        );
        assert_eq!(
            err("AES/GCM/NoPadding", "0123456789abcdef", Some("0123456789")),
            "iv"
        );
        let json = SuiteSettings {
            envelope: Envelope::Json,
            json_field: " ",
            ..settings("AES/ECB/PKCS5Padding", "0123456789abcdef", None)
        };
        assert_eq!(AesSuite::new(json).unwrap_err().setting, "json_field");
        let no_key = SuiteSettings {
            key: None,
            ..settings("AES/ECB/PKCS5Padding", "x", None)
        };
        let e = AesSuite::new(no_key).unwrap_err();
        assert_eq!(e.to_string(), "key: is required when enable = true");
    }
}
