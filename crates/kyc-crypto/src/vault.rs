//! Encryption at rest: a master key (key file or passphrase) wraps one random AES-256-GCM data key
//! per case; personal data is sealed under the case key, and search uses keyed blind-index tags.
//! Destroying a case's wrapped key makes everything sealed under it unreadable (crypto-shredding).

use std::borrow::Cow;
use std::marker::PhantomData;

use hmac::{Hmac, Mac};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{de::DeserializeOwned, Serialize};
use sha2::Sha256;

use crate::error::Error;

/// Format byte in front of every sealed value (nonce and ciphertext follow).
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
/// Bytes a sealed value has beyond its plaintext: format byte, nonce and GCM tag.
pub const SEAL_OVERHEAD: i64 = 1 + NONCE_LEN as i64 + 16;
const CHECK_PLAINTEXT: &[u8] = b"kyc-desk master key check v1";

/// The unlocked master key: wraps case keys and derives the blind-index key.
pub struct Vault {
    master: LessSafeKey,
    index_key: [u8; 32],
    /// Keys the audit chain's links (HMAC-SHA256).
    audit_key: [u8; 32],
    /// The Ed25519 seed that signs audit checkpoints.
    checkpoint_seed: [u8; 32],
    /// Seals the selfies' perceptual hashes (read all at start, without unwrapping case keys).
    hash_key: LessSafeKey,
}

/// A 32-byte key derived from the master key for one purpose.
fn derive(key: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

impl Vault {
    pub fn from_key(key: &[u8; 32]) -> Vault {
        Vault {
            master: gcm_key(key),
            index_key: derive(key, b"kyc-desk blind index v1"),
            audit_key: derive(key, b"kyc-desk audit chain v1"),
            checkpoint_seed: derive(key, b"kyc-desk audit checkpoint v1"),
            hash_key: gcm_key(&derive(key, b"kyc-desk image hashes v1")),
        }
    }

    /// HMAC-SHA256 of `parts` (each length-prefixed) under the audit chain's key.
    pub fn audit_mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.audit_key)
            .expect("HMAC takes any key size");
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// The key pair that signs audit checkpoints (derived from the master key).
    pub fn checkpoint_key(&self) -> ring::signature::Ed25519KeyPair {
        ring::signature::Ed25519KeyPair::from_seed_unchecked(&self.checkpoint_seed)
            .expect("any 32 bytes are an Ed25519 seed")
    }

    /// A case's selfie hash sealed (AES-256-GCM, bound to the case): biometric-derived data.
    pub fn seal_image_hash(&self, case_id: i64, hash: u128) -> Vec<u8> {
        seal(&self.hash_key, &hash_aad(case_id), &hash.to_be_bytes())
    }

    pub fn open_image_hash(&self, case_id: i64, sealed: &[u8]) -> Result<u128, Error> {
        let plain = open(&self.hash_key, &hash_aad(case_id), sealed)?;
        let bytes: [u8; 16] = plain.try_into().map_err(|_| Error::BadLength {
            what: "image hash",
            case_id,
        })?;
        Ok(u128::from_be_bytes(bytes))
    }

    /// Another image's hash (`bytes`, of any length) sealed, bound to the case and the image.
    pub fn seal_named_hash(&self, case_id: i64, image: &str, bytes: &[u8]) -> Vec<u8> {
        seal(&self.hash_key, &named_hash_aad(case_id, image), bytes)
    }

    /// Opens what [`seal_named_hash`](Vault::seal_named_hash) sealed for the same case and image.
    pub fn open_named_hash(
        &self,
        case_id: i64,
        image: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, Error> {
        open(&self.hash_key, &named_hash_aad(case_id, image), sealed)
    }

    /// Derives the master key from a passphrase with Argon2id (19 MiB, 2 passes).
    pub fn from_passphrase(passphrase: &str, salt: &[u8]) -> Result<Vault, Error> {
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| Error::KeyDerivation(e.to_string()))?;
        Ok(Vault::from_key(&key))
    }

    /// A sealed constant: stored once, it tells a wrong key or passphrase apart from damage.
    pub fn check_value(&self) -> Vec<u8> {
        seal(&self.master, b"check", CHECK_PLAINTEXT)
    }

    pub fn verify_check_value(&self, sealed: &[u8]) -> bool {
        open(&self.master, b"check", sealed).is_ok_and(|p| p == CHECK_PLAINTEXT)
    }

    /// A fresh random key for a new case, and its wrapped form to store.
    pub fn new_case_key(&self, case_id: i64) -> (CaseKey, Vec<u8>) {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let wrapped = seal(&self.master, &wrap_aad(case_id), &key);
        (CaseKey::new(&key, case_id), wrapped)
    }

    pub fn unwrap_case_key(&self, case_id: i64, wrapped: &[u8]) -> Result<CaseKey, Error> {
        let key = open(&self.master, &wrap_aad(case_id), wrapped)?;
        let key: [u8; 32] = key.try_into().map_err(|_| Error::BadLength {
            what: "case key",
            case_id,
        })?;
        Ok(CaseKey::new(&key, case_id))
    }

    /// Keyed tag of a normalised value (`kind` keeps names and document numbers apart): equal
    /// values give equal tags, and without the master key a tag says nothing about its value.
    pub fn tag(&self, kind: &str, value: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key size");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(normalise(value).as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// Search tags for a holder's name words and document number.
    pub fn search_tags(&self, name: Option<&str>, document_number: Option<&str>) -> Vec<Vec<u8>> {
        let mut tags: Vec<Vec<u8>> = name
            .into_iter()
            .flat_map(words)
            .map(|w| self.tag("word", &w))
            .collect();
        if let Some(n) = document_number.filter(|n| !normalise(n).is_empty()) {
            tags.push(self.tag("word", n));
        }
        tags.sort();
        tags.dedup();
        tags
    }

    /// The tags a search text must all match (one per word), or None when it has no words.
    pub fn query_tags(&self, text: &str) -> Option<Vec<Vec<u8>>> {
        let tags: Vec<Vec<u8>> = words(text).map(|w| self.tag("word", &w)).collect();
        (!tags.is_empty()).then_some(tags)
    }
}

/// Upper-case, accents folded, only letters and digits: "Bērziņa" and "BERZINA" match.
fn normalise(value: &str) -> String {
    kyc_domain::text::fold(value, false)
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '<')
        .map(normalise)
        .filter(|w| !w.is_empty())
}

fn hash_aad(case_id: i64) -> Vec<u8> {
    format!("kyc-desk/image-hash/{case_id}").into_bytes()
}

fn named_hash_aad(case_id: i64, image: &str) -> Vec<u8> {
    format!("kyc-desk/image-hash/{case_id}/{image}").into_bytes()
}

fn wrap_aad(case_id: i64) -> Vec<u8> {
    format!("kyc-desk/case-key/{case_id}").into_bytes()
}

/// What a case's sealed value is. Its label is bound into the ciphertext (AES-GCM's associated
/// data, with the case id), so a value sealed as one field of one case opens as nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealField<'a> {
    /// The case's personal data summary (name, document number, flags' messages, …).
    Pii,
    /// The body as Ditto ID sent it (after decryption).
    Raw,
    /// The body mapped into Ditto ID's model (custom bodies only).
    Model,
    /// The user id Ditto ID was answered with.
    AnswerUser,
    /// One of the case's images, by its name.
    Image(&'a str),
    /// A decision's comment, by the decision's row id.
    Comment(i64),
    /// A decision's linked customer id, by the decision's row id.
    Link(i64),
    /// A webhook delivery's body, by the delivery's id.
    Delivery(i64),
    /// An internal note, by its id.
    Note(i64),
}

impl SealField<'_> {
    /// The label sealed into the value (these strings are in every stored database: never change
    /// one).
    pub fn label(&self) -> Cow<'static, str> {
        match self {
            SealField::Pii => "pii".into(),
            SealField::Raw => "raw".into(),
            SealField::Model => "model".into(),
            SealField::AnswerUser => "answer_user".into(),
            SealField::Image(name) => format!("image/{name}").into(),
            SealField::Comment(row) => format!("comment/{row}").into(),
            SealField::Link(row) => format!("link/{row}").into(),
            SealField::Delivery(id) => format!("delivery/{id}").into(),
            SealField::Note(id) => format!("note/{id}").into(),
        }
    }
}

/// A sealed value of type `T`: ciphertext that only [`CaseKey::open_json`] or
/// [`CaseKey::open_text`] turns back into a `T`, so plaintext and ciphertext cannot be mixed up.
pub struct Sealed<T: ?Sized> {
    bytes: Vec<u8>,
    of: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized> Sealed<T> {
    /// Ciphertext as it was stored (its type is what the caller says the column holds).
    pub fn from_stored(bytes: Vec<u8>) -> Sealed<T> {
        Sealed {
            bytes,
            of: PhantomData,
        }
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes to store, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl<T: ?Sized> std::fmt::Debug for Sealed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.bytes.len())
    }
}

/// One case's data key; every value is bound to the case and the field it was sealed for.
pub struct CaseKey {
    cipher: LessSafeKey,
    case_id: i64,
}

impl CaseKey {
    fn new(key: &[u8; 32], case_id: i64) -> CaseKey {
        CaseKey {
            cipher: gcm_key(key),
            case_id,
        }
    }

    fn aad(&self, field: SealField<'_>) -> Vec<u8> {
        format!("kyc-desk/case/{}/{}", self.case_id, field.label()).into_bytes()
    }

    /// Seals bytes as `field` of this case.
    pub fn seal(&self, field: SealField<'_>, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD as usize);
        self.seal_append(field, plaintext, &mut out);
        out
    }

    /// Appends the sealed form of `plaintext` to `out` (no intermediate copy): for writing several
    /// sealed values into one buffer.
    pub fn seal_append(&self, field: SealField<'_>, plaintext: &[u8], out: &mut Vec<u8>) {
        seal_append(&self.cipher, &self.aad(field), plaintext, out)
    }

    /// Opens bytes sealed as `field` of this case.
    pub fn open(&self, field: SealField<'_>, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        open(&self.cipher, &self.aad(field), sealed)
    }

    /// Seals a value as JSON.
    pub fn seal_json<T: Serialize>(
        &self,
        field: SealField<'_>,
        value: &T,
    ) -> Result<Sealed<T>, Error> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Encoding(e.to_string()))?;
        Ok(Sealed::from_stored(self.seal(field, &bytes)))
    }

    /// Opens a value sealed by [`CaseKey::seal_json`].
    pub fn open_json<T: DeserializeOwned>(
        &self,
        field: SealField<'_>,
        sealed: &Sealed<T>,
    ) -> Result<T, Error> {
        serde_json::from_slice(&self.open(field, sealed.as_bytes())?)
            .map_err(|e| Error::Encoding(e.to_string()))
    }

    /// Seals text.
    pub fn seal_text(&self, field: SealField<'_>, text: &str) -> Sealed<str> {
        Sealed::from_stored(self.seal(field, text.as_bytes()))
    }

    /// Opens text sealed by [`CaseKey::seal_text`].
    pub fn open_text(&self, field: SealField<'_>, sealed: &Sealed<str>) -> Result<String, Error> {
        String::from_utf8(self.open(field, sealed.as_bytes())?)
            .map_err(|e| Error::Encoding(e.to_string()))
    }
}

/// AES-256-GCM through ring (the same implementation rustls uses: AES-NI/VAES + CLMUL).
fn gcm_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key fits AES-256-GCM"))
}

fn seal(cipher: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD as usize);
    seal_append(cipher, aad, plaintext, &mut out);
    out
}

/// Layout: format byte, random 96-bit nonce, ciphertext, 16-byte tag.
fn seal_append(cipher: &LessSafeKey, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    out.reserve(plaintext.len() + SEAL_OVERHEAD as usize);
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[start..],
        )
        .expect("AES-GCM sealing of an in-memory buffer cannot fail");
    out.extend_from_slice(tag.as_ref());
}

fn open(cipher: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    let damaged = || Error::Damaged;
    if sealed.len() < SEAL_OVERHEAD as usize || sealed[0] != FORMAT_V1 {
        return Err(damaged());
    }
    let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
    let mut buf = ct.to_vec();
    let len = cipher
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| damaged())?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_hash_is_bound_to_its_case_and_image() {
        let vault = Vault::from_key(&[7; 32]);
        let sealed = vault.seal_named_hash(3, "portrait_image", &[1; 64]);
        assert_eq!(
            vault.open_named_hash(3, "portrait_image", &sealed).unwrap(),
            [1; 64]
        );
        assert!(vault.open_named_hash(4, "portrait_image", &sealed).is_err());
        assert!(vault.open_named_hash(3, "selfie", &sealed).is_err());
        assert!(vault.open_image_hash(3, &sealed).is_err());
    }

    #[test]
    fn sealed_values_are_bound_to_case_and_field() {
        let vault = Vault::from_key(&[7; 32]);
        let (key, wrapped) = vault.new_case_key(1);
        let sealed = key.seal(SealField::Pii, b"Anna");
        assert_eq!(key.open(SealField::Pii, &sealed).unwrap(), b"Anna");
        assert!(key.open(SealField::Raw, &sealed).is_err(), "another field");
        let other = vault.unwrap_case_key(1, &wrapped).unwrap();
        assert_eq!(other.open(SealField::Pii, &sealed).unwrap(), b"Anna");
        assert!(vault.unwrap_case_key(2, &wrapped).is_err(), "another case");
        assert!(Vault::from_key(&[8; 32])
            .unwrap_case_key(1, &wrapped)
            .is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open(SealField::Pii, &flipped).is_err());
    }

    #[test]
    fn values_sealed_before_ring_still_open() {
        // Databases written before the switch to ring hold values sealed with the aes-gcm crate.
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let key = [9u8; 32];
        let nonce = [3u8; NONCE_LEN];
        let ct = aes_gcm::Aes256Gcm::new((&key).into())
            .encrypt(
                aes_gcm::Nonce::from_slice(&nonce),
                Payload {
                    msg: b"Anna",
                    aad: b"kyc-desk/case/5/pii",
                },
            )
            .unwrap();
        let mut old = vec![FORMAT_V1];
        old.extend_from_slice(&nonce);
        old.extend_from_slice(&ct);
        let case = CaseKey::new(&key, 5);
        assert_eq!(case.open(SealField::Pii, &old).unwrap(), b"Anna");
        let mut many = Vec::new();
        case.seal_append(SealField::Image("a"), b"first", &mut many);
        let first_len = many.len();
        case.seal_append(SealField::Image("b"), b"second", &mut many);
        let a = SealField::Image("a");
        assert_eq!(case.open(a, &many[..first_len]).unwrap(), b"first");
        let b = SealField::Image("b");
        assert_eq!(case.open(b, &many[first_len..]).unwrap(), b"second");
    }

    #[test]
    fn check_value_tells_keys_apart() {
        let a = Vault::from_passphrase("correct horse battery", b"0123456789abcdef").unwrap();
        let b = Vault::from_passphrase("correct horse battery", b"0123456789abcdef").unwrap();
        let c = Vault::from_passphrase("wrong horse battery", b"0123456789abcdef").unwrap();
        assert!(b.verify_check_value(&a.check_value()));
        assert!(!c.verify_check_value(&a.check_value()));
    }

    #[test]
    fn tags_normalise_and_differ_by_key() {
        let v = Vault::from_key(&[1; 32]);
        assert_eq!(v.tag("word", "Bērziņa"), v.tag("word", "BERZINA"));
        assert_ne!(v.tag("word", "Anna"), v.tag("word", "Anne"));
        assert_ne!(
            v.tag("word", "Anna"),
            Vault::from_key(&[2; 32]).tag("word", "Anna")
        );
        assert_eq!(v.query_tags("  anna  "), Some(vec![v.tag("word", "Anna")]));
        assert_eq!(v.query_tags(" ,, "), None);
    }

    #[test]
    fn labels_are_the_stored_ones() {
        // Stored databases hold values sealed under these labels: a change would lock them out.
        let table = [
            (SealField::Pii, "pii"),
            (SealField::Raw, "raw"),
            (SealField::Model, "model"),
            (SealField::AnswerUser, "answer_user"),
            (SealField::Image("selfie"), "image/selfie"),
            (SealField::Comment(7), "comment/7"),
            (SealField::Link(7), "link/7"),
            (SealField::Delivery(3), "delivery/3"),
            (SealField::Note(9), "note/9"),
        ];
        for (field, label) in table {
            assert_eq!(field.label(), label);
        }
    }

    #[test]
    fn typed_values_round_trip_and_stay_bound() {
        let vault = Vault::from_key(&[4; 32]);
        let (key, _) = vault.new_case_key(3);
        let names = vec!["Anna".to_string(), "Bērziņa".to_string()];
        let sealed = key.seal_json(SealField::Pii, &names).unwrap();
        let back: Vec<String> = key.open_json(SealField::Pii, &sealed).unwrap();
        assert_eq!(back, ["Anna", "Bērziņa"]);
        assert!(
            format!("{sealed:?}").starts_with("Sealed("),
            "no plaintext in Debug"
        );
        let text = key.seal_text(SealField::Comment(1), "fine");
        assert_eq!(key.open_text(SealField::Comment(1), &text).unwrap(), "fine");
        assert!(matches!(
            key.open_text(SealField::Comment(2), &text),
            Err(Error::Damaged)
        ));
        let not_json = Sealed::<Vec<String>>::from_stored(key.seal(SealField::Pii, b"{"));
        assert!(matches!(
            key.open_json(SealField::Pii, &not_json),
            Err(Error::Encoding(_))
        ));
    }
}
