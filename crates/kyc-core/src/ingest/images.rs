//! An image as received: its format and size read from its header only (never refused for them:
//! what cannot be shown is kept as sent and says why), its base64 decoded in place, and the
//! perceptual hash of the ones the desk can decode.

use std::io::Cursor;

pub use kyc_domain::submission::{Image, ImageFormat};

/// Largest image side shown, in pixels (larger images are stored and flagged, not shown).
pub const MAX_IMAGE_SIDE: u32 = 20_000;
/// Largest image area shown, in pixels: a decompression-bomb guard for what is decoded (JPEG
/// 2000 for display, images in the PDF report) and for the browser; past it an image is stored
/// as sent and flagged.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// Whether an image of `w` x `h` pixels is within the limits for decoding and showing.
pub fn within_limits(w: u32, h: u32) -> bool {
    w > 0
        && h > 0
        && w <= MAX_IMAGE_SIDE
        && h <= MAX_IMAGE_SIDE
        && u64::from(w) * u64::from(h) <= MAX_IMAGE_PIXELS
}

/// Decodes base64 (bare or as a data: URL, whitespace tolerated) inside the string's own buffer
/// (no copy of the image) and checks the image header.
pub fn decode_image(name: &str, text: String) -> Result<Image, String> {
    let mut bytes = text.into_bytes();
    let start = bytes.len() - bytes.trim_ascii_start().len();
    if bytes[start..].starts_with(b"data:") {
        let marker = b";base64,";
        let at = bytes[start..]
            .windows(marker.len())
            .position(|w| w == marker)
            .ok_or("a data: URL must be base64")?;
        bytes.drain(..start + at + marker.len());
    }
    let len = kyc_crypto::jce::decode_base64_in_place(&mut bytes).ok_or("is not valid base64")?;
    bytes.truncate(len);
    Ok(image_of(name, bytes))
}

/// Decoded image bytes as an [`Image`], its format and size read from its header.
pub fn image_of(name: &str, bytes: Vec<u8>) -> Image {
    let sniffed = sniff_image(&bytes);
    Image {
        name: name.to_string(),
        format: sniffed.format,
        width: sniffed.width,
        height: sniffed.height,
        bytes,
        problem: sniffed.problem,
    }
}

/// What the header of an image says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Why it cannot be shown, if it cannot.
    pub problem: Option<String>,
}

/// The formats the `image` crate reads here, each with its name there (the header is sniffed
/// and a selfie hashed through it).
const DECODED: [(ImageFormat, image::ImageFormat); 4] = [
    (ImageFormat::Jpeg, image::ImageFormat::Jpeg),
    (ImageFormat::Png, image::ImageFormat::Png),
    (ImageFormat::Webp, image::ImageFormat::WebP),
    (ImageFormat::Gif, image::ImageFormat::Gif),
];

/// Reads only the header: format and dimensions. Never refuses: a format the desk cannot show,
/// a corrupt header or an image over the pixel limits (a decompression bomb) is reported in
/// `problem`, and the image is kept as sent.
pub fn sniff_image(bytes: &[u8]) -> Sniffed {
    let sniffed = |format, (width, height): (u32, u32), problem: Option<String>| Sniffed {
        format,
        width,
        height,
        problem,
    };
    if bytes.starts_with(b"%PDF-") {
        return sniffed(
            ImageFormat::Pdf,
            (0, 0),
            Some("PDF is shown as a download".into()),
        );
    }
    let jp2 = bytes.starts_with(b"\x00\x00\x00\x0CjP  ") || bytes.starts_with(b"\xFF\x4F\xFF\x51");
    let (format, dims) = if jp2 {
        let header = hayro_jpeg2000::Image::new(bytes, &hayro_jpeg2000::DecodeSettings::default());
        (
            ImageFormat::Jpeg2000,
            header.ok().map(|h| (h.width(), h.height())),
        )
    } else {
        let Ok(reader) = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format() else {
            return sniffed(ImageFormat::Unknown, (0, 0), Some("unknown format".into()));
        };
        let decoded = DECODED.iter().find(|(_, d)| Some(*d) == reader.format());
        let Some(&(format, _)) = decoded else {
            return sniffed(ImageFormat::Unknown, (0, 0), Some("unknown format".into()));
        };
        (format, reader.into_dimensions().ok())
    };
    match dims {
        None => sniffed(
            format,
            (0, 0),
            Some(format!("{} with a corrupt header", format.label())),
        ),
        Some((w, h)) if !within_limits(w, h) => sniffed(
            format,
            (w, h),
            Some(format!(
                "{} of {w}x{h} pixels, over the limit of {MAX_IMAGE_SIDE} per side and {MAX_IMAGE_PIXELS} pixels",
                format.label()
            )),
        ),
        Some(dims) => sniffed(format, dims, None),
    }
}

/// The perceptual hash of an image the desk can decode here (JPEG, PNG, WebP, GIF), or None (a
/// format it cannot decode, an image it cannot show, a corrupt file, one too large, or one too
/// plain to tell from other plain images).
pub(super) fn perceptual_hash(image: &Image) -> Option<u128> {
    decoded_for_hash(image)
        .map(|d| crate::phash::dhash_of(&d))
        .filter(|h| crate::phash::identifies_selfie(*h))
}

/// The document portrait's 512-bit hash (see `phash`), or None like [`perceptual_hash`].
pub(super) fn portrait_hash(image: &Image) -> Option<crate::phash::WideHash> {
    decoded_for_hash(image)
        .map(|d| crate::phash::portrait_hash_of(&d))
        .filter(crate::phash::identifies_portrait)
}

/// The image decoded for a hash: None when it was unreadable, is of a format not decoded here
/// (PDF, JPEG 2000) or is too large.
fn decoded_for_hash(image: &Image) -> Option<image::DynamicImage> {
    if image.problem.is_some() {
        return None;
    }
    let &(_, format) = DECODED.iter().find(|(f, _)| *f == image.format)?;
    let pixels = u64::from(image.width) * u64::from(image.height);
    crate::phash::decode_for_hash(&image.bytes, format, pixels)
}
