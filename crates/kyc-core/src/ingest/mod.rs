//! Opening a received body into a validated [`Submission`]: JSON parse, typed model, id checks, and
//! every image field decoded from base64 and checked to be a real JPEG/PNG by its header only.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Correlation, MAPPABLE_FIELDS};
use crate::error::CoreError;
use kyc_domain::model::{KycInfo, Payload, RequestInfo};

mod images;
mod rehash;

pub use images::*;
pub use kyc_domain::submission::{Coercion, CustomBody, Submission};
pub use rehash::rehash_stale;

/// Prefix of the marker that replaces an image's base64 in the stored raw payload.
pub const IMAGE_MARKER: &str = "kyc-desk:image/";

/// A body as it arrived, possibly encrypted: only [`SealedBody::open`] looks inside.
#[derive(Debug, Clone)]
pub struct SealedBody(pub Vec<u8>);

/// The plaintext JSON body (after decryption, when request encryption is on).
#[derive(Debug, Clone)]
pub struct OpenedBody {
    pub bytes: Vec<u8>,
    /// Whether it was decrypted: then "not JSON" is a decryption failure, answered uniformly.
    pub was_encrypted: bool,
}

impl OpenedBody {
    pub fn plain(bytes: Vec<u8>) -> OpenedBody {
        OpenedBody {
            bytes,
            was_encrypted: false,
        }
    }
}

impl SealedBody {
    /// Decrypts with the configured suite, or passes the body through when encryption is off.
    /// Every failure is the same [`CoreError::Undecryptable`].
    pub fn open(self, suite: Option<&kyc_crypto::jce::AesSuite>) -> Result<OpenedBody, CoreError> {
        match suite {
            None => Ok(OpenedBody::plain(self.0)),
            Some(s) => Ok(OpenedBody {
                bytes: s
                    .open_body_vec(self.0)
                    .map_err(|_| CoreError::Undecryptable)?,
                was_encrypted: true,
            }),
        }
    }
}

/// Where each mappable field sits in the default payload (JSON pointer).
pub fn model_pointer(field: &str) -> Option<&'static str> {
    Some(match field {
        "user_id" => "/request_info/user_id",
        "requester_id" => "/request_info/requester_id",
        "app_id" => "/request_info/app_id",
        "name" => "/kyc_info/document/identity_data/Surname and given names",
        "surname" => "/kyc_info/document/identity_data/Surname",
        "given_names" => "/kyc_info/document/identity_data/Given names",
        "date_of_birth" => "/kyc_info/document/identity_data/Date of birth",
        "document_number" => "/kyc_info/document/identity_data/Document number",
        "date_of_expiry" => "/kyc_info/document/identity_data/Date of expiry",
        "nationality" => "/kyc_info/document/identity_data/Nationality",
        "sex" => "/kyc_info/document/identity_data/Sex",
        "document_type" => "/kyc_info/document/document_info/document_type",
        "face_score" => "/kyc_info/face_matcher_result/score",
        "liveness_score" => "/kyc_info/liveness_check/video/liveness_result/score",
        "selfie_image" => SELFIE,
        "portrait_image" => "/kyc_info/document/document_info/document_images/portrait_image",
        "front_page" => "/kyc_info/document/document_info/document_images/front_page",
        "back_page" => "/kyc_info/document/document_info/document_images/back_page",
        _ => return None,
    })
}

/// Sets `value` at a JSON pointer, creating objects on the way.
pub fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    let mut node = root;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let key = part.replace("~1", "/").replace("~0", "~");
        if !node.is_object() {
            *node = Value::Object(serde_json::Map::new());
        }
        let map = node.as_object_mut().expect("made an object");
        if i + 1 == parts.len() {
            map.insert(key, value);
            return;
        }
        node = map
            .entry(key)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

pub const SELFIE: &str = "/kyc_info/liveness_check/video/autocapture_result/selfie_image";

/// The document images' names. The API doc shows `document_images` inside `document_info`;
/// next to it (`document.document_images`) is accepted too.
const DOCUMENT_IMAGES: &[&str] = &[
    "front_page",
    "back_page",
    "portrait_image",
    "signature_image",
    "ghostportrait_image",
    "visualportrait_image",
];
/// Where `document_images` may be (the first is the documented place).
pub const DOCUMENT_IMAGE_PARENTS: &[&str] = &[
    "/kyc_info/document/document_info/document_images",
    "/kyc_info/document/document_images",
];

/// Parses and validates a plaintext body in the default payload v3.0. Errors name the field (as
/// a dotted JSON path).
pub fn open(body: &OpenedBody) -> Result<Submission, CoreError> {
    open_mapped(body, &BTreeMap::new())
}

/// How custom bodies are read: `[receiver] mapping`, `default_user_id` and `correlation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomRules {
    pub mapping: BTreeMap<String, String>,
    pub default_user_id: String,
    pub correlation: Correlation,
}

impl CustomRules {
    pub fn of(receiver: &crate::config::ReceiverConfig) -> CustomRules {
        CustomRules {
            mapping: receiver.mapping.clone(),
            default_user_id: receiver.default_user_id.clone(),
            correlation: receiver.correlation,
        }
    }
}

/// Like [`open`], but with a non-empty `mapping` the body is a custom one (Ditto ID's `requestBody`
/// template): mapped fields are read from their JSON pointers into the model. No default user id;
/// a body without a requester id is a case of its own.
pub fn open_mapped(
    body: &OpenedBody,
    mapping: &BTreeMap<String, String>,
) -> Result<Submission, CoreError> {
    open_with(
        body,
        &CustomRules {
            mapping: mapping.clone(),
            ..CustomRules::default()
        },
    )
}

/// [`open`] or [`open_mapped`] by `rules`.
pub fn open_with(body: &OpenedBody, rules: &CustomRules) -> Result<Submission, CoreError> {
    let mapping = &rules.mapping;
    let root: Value = serde_json::from_slice(&body.bytes).map_err(|e| {
        if body.was_encrypted {
            CoreError::Undecryptable
        } else {
            CoreError::InvalidJson(e.to_string())
        }
    })?;
    let mut sub = if mapping.is_empty() {
        open_default(root, UserId::Required)
    } else {
        open_custom(root, rules, &body.bytes)
    }?;
    sub.selfie_hash = sub
        .images
        .iter()
        .find(|i| i.name == crate::phash::HASHED_IMAGE)
        .and_then(perceptual_hash);
    sub.portrait_hash = sub
        .images
        .iter()
        .find(|i| i.name == crate::phash::PORTRAIT)
        .and_then(portrait_hash);
    Ok(sub)
}

/// Whether a body must name its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserId {
    Required,
    /// A custom body whose template has no user id (and no default is configured).
    MayBeEmpty,
}

fn open_custom(
    mut original: Value,
    rules: &CustomRules,
    body: &[u8],
) -> Result<Submission, CoreError> {
    let mapping = &rules.mapping;
    if !original.is_object() {
        return Err(CoreError::invalid("$", "the body must be a JSON object"));
    }
    let mut synthetic = Value::Object(serde_json::Map::new());
    let mut renames: Vec<(String, String)> = Vec::new();
    let (mut carried, mut missing) = (Vec::new(), Vec::new());
    for (field, pointer) in mapping {
        let Some(target) = model_pointer(field) else {
            continue;
        };
        match original.pointer_mut(pointer) {
            Some(v) if !v.is_null() => {
                let value = if field.ends_with("image") || field.ends_with("_page") {
                    // Images move (no copy of megabytes); the original keeps a marker.
                    let name = if field == "selfie_image" {
                        "selfie"
                    } else {
                        field.as_str()
                    };
                    std::mem::replace(v, Value::String(format!("{IMAGE_MARKER}{name}")))
                } else if field == "document_type" {
                    Value::Array(vec![v.clone()])
                } else {
                    v.clone()
                };
                set_pointer(&mut synthetic, target, value);
                renames.push((dotted(target), pointer.clone()));
                carried.push(field.clone());
            }
            _ => missing.push(field.clone()),
        }
    }
    for field in MAPPABLE_FIELDS {
        if !mapping.contains_key(*field) && *field != "requester_id" && *field != "app_id" {
            missing.push((*field).to_string());
        }
    }
    if synthetic.pointer("/request_info/requester_id").is_none() {
        // No correlation id in the template: each POST is a case of its own, or (configured)
        // the body itself is the identity of the request.
        let id = match rules.correlation {
            Correlation::Request => {
                let mut bytes = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
                format!("post-{}", hex::encode(bytes))
            }
            Correlation::Body => format!("body-{}", hex::encode(&Sha256::digest(body)[..16])),
        };
        set_pointer(
            &mut synthetic,
            "/request_info/requester_id",
            Value::String(id),
        );
    }
    // A template without a user id: the configured default, or none. (A mapped user id the body
    // lacks still refuses it.)
    let mut user_rule = UserId::Required;
    if !mapping.contains_key("user_id") {
        user_rule = UserId::MayBeEmpty;
        set_pointer(
            &mut synthetic,
            "/request_info/user_id",
            Value::String(rules.default_user_id.clone()),
        );
    }
    let mut sub = open_default(synthetic, user_rule).map_err(|e| match e {
        CoreError::InvalidPayload { field, message } => {
            let named = renames
                .iter()
                .find(|(d, _)| field == *d || field.starts_with(&format!("{d}.")))
                .map(|(_, p)| p.clone())
                .unwrap_or(field);
            CoreError::InvalidPayload {
                field: named,
                message,
            }
        }
        other => other,
    })?;
    missing.sort();
    missing.dedup();
    sub.model_json = Some(std::mem::replace(&mut sub.raw_json, original.to_string()));
    sub.custom = Some(CustomBody { carried, missing });
    Ok(sub)
}

fn open_default(mut root: Value, user_rule: UserId) -> Result<Submission, CoreError> {
    if !root.is_object() {
        return Err(CoreError::invalid("$", "the body must be a JSON object"));
    }
    let mut images = Vec::new();
    take_image(&mut root, SELFIE, "selfie", &mut images)?;
    for parent in DOCUMENT_IMAGE_PARENTS {
        for name in DOCUMENT_IMAGES {
            if images.iter().any(|i| i.name == *name) {
                continue; // the first location wins; a duplicate elsewhere stays raw
            }
            take_image(&mut root, &format!("{parent}/{name}"), name, &mut images)?;
        }
    }
    let check_count = root
        .pointer("/kyc_info/document/document_status/checks_performed")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 0..check_count {
        let details = root
            .pointer(&format!(
                "/kyc_info/document/document_status/checks_performed/{i}/check_detail"
            ))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for j in 0..details {
            for which in ["etalon_image", "actual_image"] {
                let pointer = format!(
                    "/kyc_info/document/document_status/checks_performed/{i}/check_detail/{j}/{which}"
                );
                let name = format!("check-{i}-{j}-{}", which.trim_end_matches("_image"));
                take_image(&mut root, &pointer, &name, &mut images)?;
            }
        }
    }

    let (payload, mut coerced) = read_tolerantly(&root)?;
    let info = payload
        .request_info
        .as_ref()
        .ok_or_else(|| CoreError::invalid("request_info", "is required"))?;
    let user_id = match (user_rule, info.user_id.as_deref()) {
        (UserId::MayBeEmpty, Some("")) => String::new(),
        (_, sent) => check_user_id(sent)?,
    };
    let requester_id = match info.requester_id.as_deref().map(str::trim) {
        // A braced UUID (`{...}`, as some Windows tools write them) is the UUID inside.
        Some(braced) if braced.len() > 2 && braced.starts_with('{') && braced.ends_with('}') => {
            coerced.push(Coercion {
                field: "request_info.requester_id".into(),
                note: "sent in braces; read without them".into(),
            });
            check_requester_id(Some(&braced[1..braced.len() - 1]))?
        }
        other => check_requester_id(other)?,
    };
    let app_id = info.app_id.clone();
    let raw_json = root.to_string();
    Ok(Submission {
        requester_id,
        user_id,
        app_id,
        payload,
        raw_json,
        model_json: None,
        images,
        custom: None,
        coerced,
        selfie_hash: None,
        portrait_hash: None,
    })
}

/// Fields the desk cannot work without: a wrong type there still refuses the submission.
const REQUIRED: &[&str] = &["request_info.user_id", "request_info.requester_id"];
/// Repairs at most this many values before giving up on a body.
const MAX_REPAIRS: usize = 64;

/// The typed model, read tolerantly: a known optional field with an unexpected type is coerced
/// where that is unambiguous (`"true"` for a boolean, `"3"` for an integer) or set aside (read as
/// absent), and each such repair is noted; only the required fields refuse the body. The
/// repairs are made on a copy: what was sent is stored as it was.
fn read_tolerantly(sent: &Value) -> Result<(Payload, Vec<Coercion>), CoreError> {
    if let Ok(payload) = serde_path_to_error::deserialize::<_, Payload>(sent) {
        return Ok((payload, Vec::new()));
    }
    if !sent.is_object() {
        return Err(CoreError::invalid("$", "the body must be a JSON object"));
    }
    let mut copy = sent.clone();
    let root = &mut copy;
    let mut notes: Vec<Coercion> = Vec::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, Payload>(&*root) {
            Ok(payload) => return Ok((payload, notes)),
            Err(e) => e,
        };
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let refuse =
            || CoreError::invalid(path.clone(), crate::error::redact_serde_message(&message));
        let pointer = json_pointer(err.path());
        let seen_before = notes.iter().filter(|n| n.field == path).count();
        let at_root = err.path().iter().next().is_none();
        if at_root
            || REQUIRED.contains(&path.as_str())
            || notes.len() >= MAX_REPAIRS
            || seen_before > 1
        {
            return Err(refuse());
        }
        if seen_before == 1 {
            // Absent did not fit either (not an optional slot): drop the entry itself.
            if !remove_pointer(root, &pointer) {
                return Err(refuse());
            }
            notes.push(Coercion {
                field: path,
                note: "could not be read; left out".into(),
            });
            continue;
        }
        let Some(slot) = root.pointer_mut(&pointer) else {
            return Err(refuse());
        };
        let note = coerce(slot, &message);
        notes.push(Coercion { field: path, note });
    }
}

/// What a JSON value is, in words (never the value).
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Coerces `slot` to what the model expected (from serde's message) or sets it aside (null);
/// returns the note.
fn coerce(slot: &mut Value, message: &str) -> String {
    let sent = kind_of(slot);
    let expected_bool = message.contains("expected a boolean");
    let expected_int = [
        "expected i64",
        "expected u64",
        "expected i32",
        "expected u32",
    ]
    .iter()
    .any(|e| message.contains(e));
    let expected_text = message.contains("expected a string");
    let replacement = match (&*slot, expected_bool, expected_int, expected_text) {
        (Value::String(t), true, _, _) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(Value::Bool(true)),
            "false" | "no" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        (Value::Number(n), true, _, _) => match n.as_i64() {
            Some(1) => Some(Value::Bool(true)),
            Some(0) => Some(Value::Bool(false)),
            _ => None,
        },
        (Value::String(t), _, true, _) => t.trim().parse::<i64>().ok().map(Value::from),
        (Value::Number(n), _, true, _) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| Value::from(f as i64)),
        (Value::Number(_) | Value::Bool(_), _, _, true) => Some(Value::String(slot.to_string())),
        _ => None,
    };
    match replacement {
        Some(v) => {
            let read = kind_of(&v);
            *slot = v;
            format!("sent as {sent}; read as {read}")
        }
        None => {
            *slot = Value::Null;
            format!("sent as {sent}, which it cannot be; read as absent")
        }
    }
}

/// The JSON pointer of a serde path.
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out += &index.to_string(),
            Segment::Map { key } => out += &key.replace('~', "~0").replace('/', "~1"),
            Segment::Enum { variant } => out += variant,
            Segment::Unknown => out += "?",
        }
    }
    out
}

/// Removes the value at `pointer` from its parent object or list; false when there is none.
fn remove_pointer(root: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&key).is_some(),
        Some(Value::Array(items)) => match key.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Checks a user id the way one from Ditto ID is checked (also for reviewer-linked ids).
pub fn validate_user_id(v: &str, field: &str) -> Result<String, CoreError> {
    check_user_id_at(Some(v), field)
}

fn check_user_id(v: Option<&str>) -> Result<String, CoreError> {
    check_user_id_at(v, "request_info.user_id")
}

fn check_user_id_at(v: Option<&str>, field: &str) -> Result<String, CoreError> {
    let v = v.ok_or_else(|| CoreError::invalid(field, "is required"))?;
    if v.trim().is_empty() {
        return Err(CoreError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > 256 {
        return Err(CoreError::invalid(field, "is longer than 256 characters"));
    }
    if v.chars().any(char::is_control) || v.trim() != v {
        return Err(CoreError::invalid(
            field,
            "must not contain control characters or surrounding spaces",
        ));
    }
    Ok(v.to_string())
}

fn check_requester_id(v: Option<&str>) -> Result<String, CoreError> {
    let field = "request_info.requester_id";
    let v = v.ok_or_else(|| CoreError::invalid(field, "is required"))?;
    if v.is_empty() || v.len() > 128 {
        return Err(CoreError::invalid(field, "must be 1 to 128 characters"));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(CoreError::invalid(
            field,
            "may contain only letters, digits, '-', '_', '.' and ':'",
        ));
    }
    Ok(v.to_string())
}

fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// Takes the base64 image at `pointer` (if present and non-empty), validates it and leaves a marker.
fn take_image(
    root: &mut Value,
    pointer: &str,
    name: &str,
    out: &mut Vec<Image>,
) -> Result<(), CoreError> {
    let Some(slot) = root.pointer_mut(pointer) else {
        return Ok(());
    };
    let text = match slot {
        Value::Null => return Ok(()),
        Value::String(s) if s.trim().is_empty() => return Ok(()),
        Value::String(s) => std::mem::take(s),
        _ => {
            return Err(CoreError::invalid(
                dotted(pointer),
                "expected a base64 string",
            ))
        }
    };
    let image = decode_image(name, text).map_err(|m| CoreError::invalid(dotted(pointer), m))?;
    *slot = Value::String(format!("{IMAGE_MARKER}{name}"));
    out.push(image);
    Ok(())
}

/// Reads a stored raw payload back into the typed model (images are markers there).
///
/// A default body was stored in the model's shape. A custom body (`[receiver.mapping]`) is stored
/// as it was received, and its own top-level `request_info` or `kyc_info`, if it has one, need not
/// have the model's shape: such a part is left out instead of making the whole case unreadable.
pub fn reparse(raw_json: &str) -> Result<Payload, CoreError> {
    let mut de = serde_json::Deserializer::from_str(raw_json);
    let err = match Payload::deserialize(&mut de) {
        Ok(payload) => return Ok(payload),
        Err(e) => CoreError::Internal(format!("stored payload: {e}")),
    };
    let Ok(value) = serde_json::from_str::<Value>(raw_json) else {
        return Err(err);
    };
    // Stored as sent: read it back as tolerantly as it was read when it arrived.
    if let Ok((payload, _)) = read_tolerantly(&value) {
        return Ok(payload);
    }
    let Value::Object(body) = value else {
        return Err(err);
    };
    Ok(Payload {
        request_info: body
            .get("request_info")
            .and_then(|v| Option::<RequestInfo>::deserialize(v).ok())
            .flatten(),
        kyc_info: body
            .get("kyc_info")
            .and_then(|v| Option::<KycInfo>::deserialize(v).ok())
            .flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;
    use std::io::Cursor;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(w, h)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn body(v: Value) -> OpenedBody {
        OpenedBody::plain(serde_json::to_vec(&v).unwrap())
    }

    fn err_field(v: Value) -> String {
        match open(&body(v)) {
            Err(CoreError::InvalidPayload { field, .. }) => field,
            other => panic!("expected an invalid payload, got {other:?}"),
        }
    }

    #[test]
    fn extracts_images_and_leaves_markers() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(png(4, 3));
        let sub = open(&body(json!({
            "request_info": {"user_id": "u1", "requester_id": "r-1"},
            "unknown": {"kept": true},
            "kyc_info": {"document": {"document_info": {"document_images": {"front_page": b64, "back_page": ""}}}}
        })))
        .unwrap();
        assert_eq!(sub.images.len(), 1);
        assert_eq!((sub.images[0].width, sub.images[0].height), (4, 3));
        assert!(sub.raw_json.contains("kyc-desk:image/front_page"));
        assert!(sub.raw_json.contains("\"kept\":true"));
    }

    #[test]
    fn names_the_failing_field() {
        let ids = json!({"user_id": "u1", "requester_id": "r-1"});
        assert_eq!(err_field(json!({})), "request_info");
        assert_eq!(
            err_field(json!({"request_info": {"requester_id": "r"}})),
            "request_info.user_id"
        );
        assert_eq!(
            err_field(json!({"request_info": {"user_id": "u", "requester_id": "a b"}})),
            "request_info.requester_id"
        );
        assert_eq!(
            err_field(json!({"request_info": {"user_id": 5, "requester_id": "r"}})),
            "request_info.user_id"
        );
        assert_eq!(
            err_field(
                json!({"request_info": ids, "kyc_info": {"document": {"document_images": {"portrait_image": "%%%"}}}})
            ),
            "kyc_info.document.document_images.portrait_image"
        );
        assert_eq!(
            err_field(
                json!({"request_info": ids, "kyc_info": {"document": {"document_info": {"document_images": {"back_page": 7}}}}})
            ),
            "kyc_info.document.document_info.document_images.back_page"
        );
        assert!(matches!(
            open(&OpenedBody::plain(b"{nope".to_vec())),
            Err(CoreError::InvalidJson(_))
        ));
    }

    /// The tolerant reader: (field pointer, value sent, what the model reads, the note's ending).
    #[test]
    fn unexpected_types_in_optional_fields_are_coerced_or_set_aside_and_noted() {
        let status = "/kyc_info/document/document_status";
        let doc_status = |p: &Payload| {
            p.document()
                .and_then(|d| d.document_status.clone())
                .unwrap_or_default()
        };
        let nfc = |p: &Payload| format!("{:?}", doc_status(p).is_nfc_document);
        let field_count = |p: &Payload| {
            let info = p.document().and_then(|d| d.document_info.clone());
            format!("{:?}", info.unwrap_or_default().field_count)
        };
        let face = |p: &Payload| format!("{:?}", p.face_score());
        let checks = |p: &Payload| doc_status(p).checks_performed.len().to_string();
        type Read<'a> = &'a dyn Fn(&Payload) -> String;
        let table: Vec<(String, Value, Read, &str)> = vec![
            (
                format!("{status}/is_nfc_document"),
                json!("true"),
                &nfc,
                "sent as text; read as a boolean",
            ),
            (
                format!("{status}/is_nfc_document"),
                json!("+447911123456"),
                &nfc,
                "sent as text, which it cannot be; read as absent",
            ),
            (
                "/kyc_info/document/document_info/field_count".into(),
                json!("3"),
                &field_count,
                "sent as text; read as a number",
            ),
            (
                "/kyc_info/face_matcher_result/score".into(),
                json!(""),
                &face,
                "read as absent",
            ),
            (
                "/kyc_info/face_matcher_result/score".into(),
                json!("NaN"),
                &face,
                "read as absent",
            ),
            (
                "/kyc_info/face_matcher_result/score".into(),
                json!({"x": 1}),
                &face,
                "read as absent",
            ),
            (
                format!("{status}/checks_performed"),
                json!([5, {"check_type": "x"}]),
                &checks,
                "left out",
            ),
        ];
        let wanted = ["Some(true)", "None", "Some(3)", "None", "None", "None", "1"];
        for ((pointer, sent, read, note), want) in table.into_iter().zip(wanted) {
            let mut v = json!({"request_info": {"user_id": "u", "requester_id": "r-1"}});
            kyc_put(&mut v, &pointer, sent.clone());
            let sub = open(&body(v)).unwrap_or_else(|e| panic!("{pointer} = {sent}: {e}"));
            assert_eq!(read(&sub.payload), want, "{pointer} = {sent}");
            let last = sub
                .coerced
                .last()
                .unwrap_or_else(|| panic!("{pointer}: no note"));
            assert!(last.note.ends_with(note), "{pointer}: {last:?}");
            assert!(
                !format!("{:?}", sub.coerced).contains("447911123456"),
                "notes never hold values"
            );
            // What was sent is kept as it was, and reads back the same way (the case view).
            assert!(sub.raw_json.contains(&sent.to_string()), "{pointer}");
            assert_eq!(
                read(&reparse(&sub.raw_json).unwrap()),
                want,
                "{pointer} read back"
            );
        }
        // A braced UUID is the UUID inside.
        let sub = open(&body(json!({"request_info": {"user_id": "u", "requester_id": "{0f8fad5b-d9cb-469f-a165-70867728950e}"}}))).unwrap();
        assert_eq!(sub.requester_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
        assert_eq!(sub.coerced[0].field, "request_info.requester_id");
        // What the desk cannot work without still refuses.
        assert_eq!(
            err_field(json!({"request_info": {"user_id": ["u"], "requester_id": "r"}})),
            "request_info.user_id"
        );
        let clean = open(&body(
            json!({"request_info": {"user_id": "u", "requester_id": "r-1"}}),
        ))
        .unwrap();
        assert!(clean.coerced.is_empty());
    }

    /// Sets `v` at `pointer`, making the objects on the way.
    fn kyc_put(root: &mut Value, pointer: &str, v: Value) {
        set_pointer(root, pointer, v);
    }

    #[test]
    fn a_png_bomb_is_kept_but_not_shown() {
        // A valid PNG header claiming 60000 x 60000 pixels: found out without decoding.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc_of(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let s = sniff_image(&bytes);
        assert_eq!(
            (s.format, s.width, s.height),
            (ImageFormat::Png, 60_000, 60_000)
        );
        assert!(s.problem.unwrap().contains("60000x60000"));
    }

    /// Every format Ditto ID may send is kept; what cannot be shown says why.
    #[test]
    fn images_of_every_kind_are_sniffed_from_their_headers() {
        let fixture = |f: &str| {
            std::fs::read(format!(
                "{}/tests/fixtures/images/{f}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        for (bytes, format, dims, problem) in [
            (png(4, 3), ImageFormat::Png, (4, 3), None),
            (
                fixture("portrait.jp2"),
                ImageFormat::Jpeg2000,
                (60, 80),
                None,
            ),
            (
                fixture("portrait.j2k"),
                ImageFormat::Jpeg2000,
                (60, 80),
                None,
            ),
            (fixture("page.webp"), ImageFormat::Webp, (60, 80), None),
            (fixture("page.gif"), ImageFormat::Gif, (60, 80), None),
            (fixture("scan.pdf"), ImageFormat::Pdf, (0, 0), Some("PDF")),
            (
                b"hello world, not an image".to_vec(),
                ImageFormat::Unknown,
                (0, 0),
                Some("unknown"),
            ),
            (
                b"\x00\x00\x00\x0CjP  \r\n\x87\nbroken".to_vec(),
                ImageFormat::Jpeg2000,
                (0, 0),
                Some("corrupt"),
            ),
        ] {
            let s = sniff_image(&bytes);
            assert_eq!(
                (s.format, (s.width, s.height)),
                (format, dims),
                "{format:?}"
            );
            match (problem, &s.problem) {
                (None, None) => {}
                (Some(want), Some(got)) => assert!(got.contains(want), "{format:?}: {got}"),
                _ => panic!("{format:?}: {:?}", s.problem),
            }
            assert_eq!(ImageFormat::from_mime(format.mime()), Some(format));
        }
        // In a submission: stored as sent, none of them refuses the case.
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let sub = open(&body(json!({
            "request_info": {"user_id": "u1", "requester_id": "r-1"},
            "kyc_info": {"document": {"document_images": {
                "portrait_image": b64(&fixture("portrait.jp2")),
                "front_page": b64(&fixture("scan.pdf")),
                "back_page": b64(b"??")
            }}}
        })))
        .unwrap();
        let by_name = |n: &str| sub.images.iter().find(|i| i.name == n).unwrap();
        assert_eq!(by_name("portrait_image").bytes, fixture("portrait.jp2"));
        assert_eq!(by_name("front_page").format, ImageFormat::Pdf);
        assert!(by_name("back_page").problem.is_some());
    }

    fn crc_of(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}

#[cfg(test)]
mod custom_tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> BTreeMap<String, String> {
        [
            ("user_id", "/userId"),
            ("name", "/name"),
            ("date_of_birth", "/dob"),
            ("document_number", "/documentNumber"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn a_template_body_maps_into_the_model_and_says_what_is_missing() {
        let body = json!({"userId": "cust-42", "name": "Anna Berzina", "dob": "1985-03-12", "documentNumber": "PA9992592", "x": 1});
        let sub = open_mapped(
            &OpenedBody::plain(serde_json::to_vec(&body).unwrap()),
            &mapping(),
        )
        .unwrap();
        assert_eq!(sub.user_id, "cust-42");
        assert!(sub.requester_id.starts_with("post-"));
        assert_eq!(sub.payload.holder_name().as_deref(), Some("Anna Berzina"));
        assert_eq!(sub.payload.document_number(), Some("PA9992592"));
        assert!(
            sub.raw_json.contains("\"x\":1"),
            "the original body is what is kept"
        );
        let custom = sub.custom.unwrap();
        assert!(custom.carried.contains(&"date_of_birth".to_string()));
        assert!(custom.missing.contains(&"selfie_image".to_string()));
        assert!(custom.missing.contains(&"face_score".to_string()));
    }

    /// Found by the `payload_mapped` fuzz target (the crashing input, byte for byte, with the
    /// target's mapping): a custom body whose own `kyc_info` is not the model's shape (here an
    /// array) was accepted, but its stored form did not read back, so the case view failed.
    #[test]
    fn fuzz_a_custom_body_with_its_own_kyc_info_reads_back() {
        let mapping: BTreeMap<String, String> = [
            ("user_id", "/userId"),
            ("requester_id", "/ref"),
            ("name", "/holder"),
            ("surname", "/holder/surname"),
            ("given_names", "/holder/given~1names"),
            ("date_of_birth", "/dob"),
            ("document_number", "/doc/number"),
            ("document_type", "/doc/type"),
            ("date_of_expiry", "/doc/expiry"),
            ("face_score", "/scores/0"),
            ("liveness_score", "/scores/1"),
            ("selfie_image", "/selfie"),
            ("front_page", "/pages/0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let crasher: &[u8] = b"\n\n\n\n\n{\"holzer\":{\"given/names\":\"Anna\",\"surname\":\"Berzina\"},\"page'\":[\"iVBOR=\"],\"r.ef\":\"req-43\",\"scholzer\":{\"given/names\":\"Anna\",\"surname\":\"Berzina\"},\"page'\":[\"iVBOR=\"],\"r.ef\":\"req-43\",\"scores\":[1.4,\"99.1\"],\"lsfeie\":\"/BCSMzUvreq/Z\",\"kyc_info\":[1.4,\"99.1\"],\"lsfeie\":\"/BCSMzUvreq/Z\",\"userId\":\"cuholst-43\"}";
        let sub = open_mapped(&OpenedBody::plain(crasher.to_vec()), &mapping).unwrap();
        assert_eq!(sub.user_id, "cuholst-43");
        assert_eq!(sub.payload.face_score(), Some(1.4));
        let stored = reparse(&sub.raw_json).unwrap();
        let own = stored.kyc_info.unwrap_or_default();
        assert!(
            own.face_matcher_result.is_none()
                && own.liveness_check.is_none()
                && own.document.is_none(),
            "the body's own kyc_info brings nothing into the model"
        );
    }

    #[test]
    fn a_custom_bodys_own_model_keys_are_kept_where_they_fit() {
        let body = json!({"userId": "u", "request_info": 5, "kyc_info": {"face_matcher_result": {"score": 2}}});
        let sub = open_mapped(
            &OpenedBody::plain(serde_json::to_vec(&body).unwrap()),
            &mapping(),
        )
        .unwrap();
        let stored = reparse(&sub.raw_json).unwrap();
        assert!(stored.request_info.is_none());
        assert_eq!(stored.face_score(), Some(2.0));
        // What is not a JSON object at all is still an error.
        assert!(matches!(reparse("[1]"), Err(CoreError::Internal(_))));
        assert!(matches!(reparse("{nope"), Err(CoreError::Internal(_))));
    }

    #[test]
    fn errors_name_the_senders_pointer() {
        let body = json!({"userId": 17, "name": "A"});
        let err = open_mapped(
            &OpenedBody::plain(serde_json::to_vec(&body).unwrap()),
            &mapping(),
        )
        .unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidPayload { ref field, .. } if field == "/userId"),
            "{err}"
        );
        let body = json!({"name": "A"});
        let err = open_mapped(
            &OpenedBody::plain(serde_json::to_vec(&body).unwrap()),
            &mapping(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("user_id"), "{err}");
    }

    #[test]
    fn a_custom_body_without_user_or_requester_id_gets_a_default_and_a_case_of_its_own() {
        let body = OpenedBody::plain(
            br#"{"name": "Anna Berzina", "dob": "1985-03-12", "documentNumber": "PA9992592"}"#
                .to_vec(),
        );
        let mapping: BTreeMap<String, String> = [
            ("name", "/name"),
            ("date_of_birth", "/dob"),
            ("document_number", "/documentNumber"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut rules = CustomRules {
            mapping,
            ..CustomRules::default()
        };
        // No user id and no default: empty (flagged by the desk), and every POST is new.
        let a = open_with(&body, &rules).unwrap();
        let b = open_with(&body, &rules).unwrap();
        assert_eq!(a.user_id, "");
        assert!(a.requester_id.starts_with("post-"), "{}", a.requester_id);
        assert_ne!(a.requester_id, b.requester_id);
        // A default user id; byte-identical bodies are one request when so configured.
        rules.default_user_id = "kyc-web".into();
        rules.correlation = Correlation::Body;
        let a = open_with(&body, &rules).unwrap();
        let b = open_with(&body, &rules).unwrap();
        assert_eq!(a.user_id, "kyc-web");
        assert!(a.requester_id.starts_with("body-"));
        assert_eq!(a.requester_id, b.requester_id);
        // A user id the body does carry is still checked.
        rules.mapping.insert("user_id".into(), "/name".into());
        let blank = OpenedBody::plain(br#"{"name": "", "dob": "1985-03-12"}"#.to_vec());
        assert!(open_with(&blank, &rules).is_err());
    }
}
