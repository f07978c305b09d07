//! A received body once opened: the validated submission, ready to store, and its images as
//! sent. Made by kyc-core's `ingest`; stored by kyc-store.

use crate::model::Payload;

/// A validated submission, ready to store.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Ditto ID's id of the request (`request_info.requester_id`): one case per id.
    pub requester_id: String,
    /// Ditto ID's user id (an e-mail address or phone number, often): personal data.
    pub user_id: String,
    /// The sending app's id, when the body names one.
    pub app_id: Option<String>,
    /// The typed payload (images as markers).
    pub payload: Payload,
    /// The received JSON with each image's base64 replaced by `kyc-desk:image/<name>`.
    pub raw_json: String,
    /// For a custom body: the model it was mapped into (images as markers); None when the body
    /// is in the model's shape already.
    pub model_json: Option<String>,
    /// The images taken out of the body, as sent.
    pub images: Vec<Image>,
    /// For a custom body (`[receiver.mapping]`): which mapped fields it carried and which it lacked.
    pub custom: Option<CustomBody>,
    /// What the tolerant reader did to fit an unexpected value into the model (shown as a flag).
    pub coerced: Vec<Coercion>,
    /// The selfie's perceptual hash (biometric-derived: sealed at rest), to find it reused.
    pub selfie_hash: Option<u128>,
    /// The document portrait's 512-bit perceptual hash (biometric-derived: sealed at rest), to
    /// find a reused document photo.
    pub portrait_hash: Option<[u128; 4]>,
}

/// One value the tolerant reader coerced or set aside: the field (a dotted path) and what was done.
/// Never the value itself (it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coercion {
    /// The field, as a dotted JSON path.
    pub field: String,
    /// What was done to it.
    pub note: String,
}

/// Which of the mappable fields a custom body carried and which it lacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomBody {
    /// Mapped fields the body carried.
    pub carried: Vec<String>,
    /// Mappable fields it did not carry.
    pub missing: Vec<String>,
}

/// What an image was sent as (its bytes are kept exactly as sent, whatever the format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
    /// GIF.
    Gif,
    /// JPEG 2000 (a JP2 file or a raw codestream), as e-Passport chips carry the portrait.
    Jpeg2000,
    /// A PDF document.
    Pdf,
    /// None of these (kept as sent, flagged).
    Unknown,
}

impl ImageFormat {
    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Jpeg2000 => "image/jp2",
            ImageFormat::Pdf => "application/pdf",
            ImageFormat::Unknown => "application/octet-stream",
        }
    }

    /// The format of a MIME type this enum gives.
    pub fn from_mime(mime: &str) -> Option<Self> {
        [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Webp,
            ImageFormat::Gif,
            ImageFormat::Jpeg2000,
            ImageFormat::Pdf,
            ImageFormat::Unknown,
        ]
        .into_iter()
        .find(|f| f.mime() == mime)
    }

    /// The format's name as a reviewer reads it.
    pub fn label(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Webp => "WebP",
            ImageFormat::Gif => "GIF",
            ImageFormat::Jpeg2000 => "JPEG 2000",
            ImageFormat::Pdf => "PDF",
            ImageFormat::Unknown => "an unknown format",
        }
    }
}

/// One image of a submission.
#[derive(Debug, Clone)]
pub struct Image {
    /// Stable name: `selfie`, `front_page`, `portrait_image`, `check-2-0-etalon`...
    pub name: String,
    /// Its format, read from its header.
    pub format: ImageFormat,
    /// Width in pixels, from its header (0 when unknown).
    pub width: u32,
    /// Height in pixels, from its header (0 when unknown).
    pub height: u32,
    /// The bytes exactly as sent (base64 decoded).
    pub bytes: Vec<u8>,
    /// Why the desk cannot show it (stored all the same, downloadable, and flagged).
    pub problem: Option<String>,
}
