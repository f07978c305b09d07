//! Perceptual hashes of selfies (a 128-bit difference hash) and the in-memory index that finds
//! earlier cases of other users whose selfie is within a few bits of a new one's.
//!
//! The hash is computed at ingest from the decoded image: grey, shrunk to 9x8 and 8x9, one bit
//! per brightness step left-to-right and top-to-bottom. A re-encoded, resized or lightly edited
//! copy of the same photo lands within a bit or two; different photos differ in dozens. A face's
//! hash is biometric-derived data: the store keeps it sealed, erases it with the case, and this
//! index lives in memory only, rebuilt from the store at start.
//!
//! Only the selfie is hashed. Document images were measured (the simulator's, one template per
//! country): different documents of one design sit within 0-5 bits of each other at this size,
//! and at 256 bits (a 17x16 difference hash) within 1-3 bits, while the same photo re-encoded
//! (JPEG quality 75 at 70 % of the size) moves up to 19: no threshold tells a reused document
//! photo from another card of the same design. A 255-bit DCT hash does better on the front page
//! (a re-encoded copy within 6, the closest other card at 8, over 200 cards) but leaves no margin,
//! and the document's cropped portrait tells no better: drawn faces on a plain backdrop, even with
//! a different pose per document, meet other portraits at 0-1 bits of 128. The document number's
//! keyed tag catches the reused document instead (`document_reused`).
//!
//! The index that finds stored cases by hash is the store's ([`kyc_store::phash`]).

use std::io::Cursor;

pub use kyc_store::phash::{user_key, Hashed, Match, PhashIndex, HASHED_IMAGE, MAX_DISTANCE};

/// Images larger than this are not decoded for a hash (a phone's full photo is 12 Mpx).
const MAX_HASH_PIXELS: u64 = 40_000_000;

/// The difference hash of an encoded image (JPEG, PNG, WebP or GIF: `format`) of `pixels` pixels
/// as its header says, or None (a corrupt file, or one over the pixel limit).
pub fn dhash_encoded(bytes: &[u8], format: image::ImageFormat, pixels: u64) -> Option<u128> {
    if pixels > MAX_HASH_PIXELS {
        return None;
    }
    let decoded = image::load_from_memory_with_format(bytes, format).ok()?;
    Some(dhash_of(&decoded))
}

/// The 128-bit difference hash of a decoded image (64 horizontal steps, then 64 vertical).
pub fn dhash_of(img: &image::DynamicImage) -> u128 {
    use image::imageops::{resize, FilterType};
    let grey = img.to_luma8();
    // A cheap nearest pre-shrink keeps the filtered resize fast on large photos.
    let grey = if grey.width() > 288 || grey.height() > 288 {
        resize(&grey, 144, 144, FilterType::Nearest)
    } else {
        grey
    };
    let wide = resize(&grey, 9, 8, FilterType::Triangle);
    let tall = resize(&grey, 8, 9, FilterType::Triangle);
    let mut hash = 0u128;
    for y in 0..8 {
        for x in 0..8 {
            hash = (hash << 1) | u128::from(wide.get_pixel(x, y)[0] > wide.get_pixel(x + 1, y)[0]);
        }
    }
    for y in 0..8 {
        for x in 0..8 {
            hash = (hash << 1) | u128::from(tall.get_pixel(x, y)[0] > tall.get_pixel(x, y + 1)[0]);
        }
    }
    hash
}

/// Decodes and hashes raw image bytes of any format the `image` crate reads (tests, benches).
pub fn dhash_bytes(bytes: &[u8]) -> Option<u128> {
    let img = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .decode()
        .ok()?;
    Some(dhash_of(&img))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_survives_re_encoding_and_resizing_but_tells_selfies_apart() {
        let today = kyc_sim::Today {
            year: 2025,
            month: 6,
            day: 1,
        };
        let selfie = |i: u64| {
            let s = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 7, &today);
            let b64 = s
                .payload
                .pointer(crate::ingest::SELFIE)
                .unwrap()
                .as_str()
                .unwrap();
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap()
        };
        let one = selfie(1);
        let h = dhash_bytes(&one).unwrap();
        // Re-encoded as PNG at 70 % of the size: the same picture.
        let img = image::load_from_memory(&one).unwrap();
        let smaller = img.resize(
            img.width() * 7 / 10,
            img.height() * 7 / 10,
            image::imageops::FilterType::Lanczos3,
        );
        let mut png = Vec::new();
        smaller
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let d = (dhash_bytes(&png).unwrap() ^ h).count_ones();
        assert!(d <= MAX_DISTANCE, "re-encoded copy at distance {d}");
        // Other people's selfies: far apart.
        for i in 2..30 {
            let d = (dhash_bytes(&selfie(i)).unwrap() ^ h).count_ones();
            assert!(d > MAX_DISTANCE, "selfie {i} at distance {d}");
        }
    }
}
