//! Perceptual hashes of selfies (a 128-bit difference hash) and the in-memory index that finds
//! earlier cases of other users whose selfie is within a few bits of a new one's.
//!
//! The hash is computed at ingest from the image decoded small (a JPEG at 1/8 to 1/2 of its size
//! through its DCT, [`decode_for_hash`]): grey, shrunk to 9x8 and 8x9, one bit
//! per brightness step left-to-right and top-to-bottom. A re-encoded, resized or lightly edited
//! copy of the same photo lands within a bit or two; different photos differ in dozens. A face's
//! hash is biometric-derived data: the store keeps it sealed, erases it with the case, and this
//! index lives in memory only, rebuilt from the store at start.
//!
//! The document is found again through its portrait (`portrait_image`, the face Ditto ID crops
//! from the document): a reused document photo carries the same crop even when its printed
//! fields were edited. It gets a finer hash, 512 bits (16 steps by 16, each way) with a dead
//! zone: a step counts only when it is brighter by more than [`DEAD_ZONE`] grey levels, so the
//! flat backdrop of a passport photo, where neighbours are nearly equal, reads as a steady 0
//! instead of re-encoding noise. Measured on 300 simulated documents (16 people, each document
//! its own sitting): a re-encoded copy (JPEG quality 70-90, PNG, 50-100 % of the size) within 5
//! bits; another document of the same person at 8 or more, another person's at 12 or more
//! (median 116). (Measured with the `image` crate's grey conversion; the tests check the threshold
//! with `grey_of`'s.) The 128-bit hash of the selfie, tried on these portraits, left no margin (copies
//! up to 11, other people from 2).
//!
//! The whole front page is not hashed: different cards of one design differ only in their text
//! and portrait, and even at 512 bits another card of the same person came as close (6) as a
//! re-encoded copy (6). The document number's keyed tag catches the unedited reused document
//! (`document_reused`).
//!
//! The index that finds stored cases by hash is the store's ([`kyc_store::phash`]).

pub use kyc_store::phash::{
    user_key, Hashed, Match, PhashIndex, WideHash, HASHED_IMAGE, MAX_DISTANCE, PORTRAIT,
    PORTRAIT_MAX_DISTANCE,
};

/// Grey levels (of 255) by which a step of the portrait hash must brighten to count as a 1.
pub const DEAD_ZONE: i16 = 6;

/// Fewest 1 bits a selfie's hash must have to be indexed: a plain image (a placeholder, a blank
/// frame) hashes to all or nearly all 0s, and would match every other plain image.
pub const MIN_SELFIE_BITS: u32 = 8;

/// The same for a portrait's 512-bit hash, whose dead zone turns flat areas into 0s: a plain
/// placeholder with a small mark on it has 6; the tests' simulated portraits have 19 to 158.
pub const MIN_PORTRAIT_BITS: u32 = 12;

/// Whether a selfie's hash carries enough of a picture to tell it from others.
pub fn identifies_selfie(hash: u128) -> bool {
    hash.count_ones() >= MIN_SELFIE_BITS
}

/// Whether a portrait's hash carries enough of a picture to tell it from others.
pub fn identifies_portrait(hash: &WideHash) -> bool {
    hash.iter().map(|q| q.count_ones()).sum::<u32>() >= MIN_PORTRAIT_BITS
}

/// Images larger than this are not decoded for a hash (a phone's full photo is 12 Mpx).
const MAX_HASH_PIXELS: u64 = 40_000_000;

/// Decodes an encoded image (JPEG, PNG, WebP or GIF: `format`) of `pixels` pixels as its header
/// says, or None (a corrupt file, or one over the pixel limit).
pub fn decode_for_hash(
    bytes: &[u8],
    format: image::ImageFormat,
    pixels: u64,
) -> Option<image::DynamicImage> {
    if pixels > MAX_HASH_PIXELS {
        return None;
    }
    if format == image::ImageFormat::Jpeg {
        return jpeg_for_hash(bytes);
    }
    image::load_from_memory_with_format(bytes, format).ok()
}

/// Fewest pixels a JPEG is decoded at for a hash, on its longer side: about six samples per cell
/// of the portrait hash's 17x16 thumbnail. Measured on 300 simulated documents and the tests'
/// re-encoded copies (JPEG 70-90, 50-100 % of the size): at 100 the copies, the same person's
/// other documents and other people's hashes lie as far apart as with the whole image decoded
/// (copies within 6 bits of 512, other people 13 or more); at 68 copies reached 13.
const HASH_DECODE_SIDE: u16 = 100;

/// A JPEG decoded at the smallest scale (1/8, 1/4, 1/2 or whole, by its DCT) that keeps
/// [`HASH_DECODE_SIDE`] pixels on a side: a hash needs a thumbnail, and at 1/8 the decoder
/// keeps each 8x8 block's mean (its DC term) instead of running the inverse DCT, colour conversion
/// and the shrink over every pixel (the whole decode was most of ingest's CPU, BENCHMARKS.md).
fn jpeg_for_hash(bytes: &[u8]) -> Option<image::DynamicImage> {
    use jpeg_decoder::PixelFormat;
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.scale(HASH_DECODE_SIDE, HASH_DECODE_SIDE).ok()?;
    let pixels = decoder.decode().ok()?;
    let info = decoder.info()?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    match info.pixel_format {
        PixelFormat::RGB24 => image::RgbImage::from_raw(w, h, pixels).map(Into::into),
        PixelFormat::L8 => image::GrayImage::from_raw(w, h, pixels).map(Into::into),
        // CMYK and 16-bit greys are rare in captures; the full decoder reads them.
        PixelFormat::CMYK32 | PixelFormat::L16 => {
            image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).ok()
        }
    }
}

/// The document portrait's 512-bit hash (see the module's text): 256 horizontal steps of a 17x16
/// grey thumbnail, then 256 vertical ones of a 16x17, a 1 where the step brightens by more than
/// [`DEAD_ZONE`].
pub fn portrait_hash_of(img: &image::DynamicImage) -> WideHash {
    use image::imageops::{resize, FilterType};
    let grey = grey_of(img);
    let wide = resize(&grey, 17, 16, FilterType::Triangle);
    let tall = resize(&grey, 16, 17, FilterType::Triangle);
    let level = |img: &image::GrayImage, x: u32, y: u32| i16::from(img.get_pixel(x, y)[0]);
    let mut hash = [0u128; 4];
    let mut bit = 0usize;
    let mut push = |on: bool| {
        hash[bit / 128] |= u128::from(on) << (127 - bit % 128);
        bit += 1;
    };
    for y in 0..16 {
        for x in 0..16 {
            push(level(&wide, x, y) > level(&wide, x + 1, y) + DEAD_ZONE);
        }
    }
    for y in 0..16 {
        for x in 0..16 {
            push(level(&tall, x, y) > level(&tall, x, y + 1) + DEAD_ZONE);
        }
    }
    hash
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

/// A grey image (Rec. 709 weights, truncated) in one tight loop for the RGB images JPEG decodes
/// to: the `image` crate's generic conversion was a third of a portrait hash's time (2.2 ms, now
/// 1.7 ms at p50 in `kyc-bench selfies`). Not `to_luma8`'s grey levels to the last level, which
/// is why the selfie hash, whose stored values must stay comparable, keeps that one.
fn grey_of(img: &image::DynamicImage) -> image::GrayImage {
    let image::DynamicImage::ImageRgb8(rgb) = img else {
        return img.to_luma8();
    };
    let grey: Vec<u8> = rgb
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            let l = 2126 * u32::from(p[0]) + 7152 * u32::from(p[1]) + 722 * u32::from(p[2]);
            (l / 10_000) as u8
        })
        .collect();
    image::GrayImage::from_raw(rgb.width(), rgb.height(), grey).expect("one byte per pixel")
}

fn decode_any(bytes: &[u8]) -> Option<image::DynamicImage> {
    let format = image::guess_format(bytes).ok()?;
    decode_for_hash(bytes, format, 0)
}

/// Decodes and hashes raw image bytes of any format the `image` crate reads (tests, benches).
pub fn dhash_bytes(bytes: &[u8]) -> Option<u128> {
    decode_any(bytes).map(|i| dhash_of(&i))
}

/// [`portrait_hash_of`] raw image bytes of any format the `image` crate reads (tests, benches).
pub fn portrait_hash_bytes(bytes: &[u8]) -> Option<WideHash> {
    decode_any(bytes).map(|i| portrait_hash_of(&i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn the_portrait_hash_survives_re_encoding_but_tells_documents_apart() {
        let today = kyc_sim::Today {
            year: 2025,
            month: 6,
            day: 1,
        };
        // The simulator has 16 people: documents i and i + 16 are the same person's, each with
        // its own photo of the same face.
        let portraits: Vec<Vec<u8>> = (0..24)
            .map(|i| {
                let s = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 7, &today);
                let b64 = s
                    .payload
                    .pointer("/kyc_info/document/document_info/document_images/portrait_image")
                    .unwrap()
                    .as_str()
                    .unwrap();
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap()
            })
            .collect();
        let hashes: Vec<WideHash> = portraits
            .iter()
            .map(|p| portrait_hash_bytes(p).unwrap())
            .collect();
        assert!(hashes.iter().all(identifies_portrait));
        let distance = kyc_store::phash::wide_distance;
        for (i, bytes) in portraits.iter().enumerate().take(6) {
            let img = image::load_from_memory(bytes).unwrap();
            for (scale, quality) in [(10, 90), (7, 75), (5, 70)] {
                let smaller = img.resize(
                    img.width() * scale / 10,
                    img.height() * scale / 10,
                    image::imageops::FilterType::Lanczos3,
                );
                let mut jpeg = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
                    .encode_image(&smaller.to_rgb8())
                    .unwrap();
                let d = distance(&portrait_hash_bytes(&jpeg).unwrap(), &hashes[i]);
                assert!(d <= PORTRAIT_MAX_DISTANCE, "copy of {i} at {d}");
            }
        }
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                let d = distance(&hashes[i], &hashes[j]);
                assert!(d > PORTRAIT_MAX_DISTANCE, "documents {i} and {j} at {d}");
            }
        }
    }

    #[test]
    fn a_plain_image_has_no_identifying_hash() {
        let mut plain = image::RgbImage::from_pixel(300, 400, image::Rgb([200, 200, 205]));
        let blank = image::DynamicImage::ImageRgb8(plain.clone());
        assert!(!identifies_selfie(dhash_of(&blank)));
        assert!(!identifies_portrait(&portrait_hash_of(&blank)));
        // A placeholder with a small mark on it is no photo either (for the finer hash).
        for x in 140..160 {
            for y in 190..210 {
                plain.put_pixel(x, y, image::Rgb([90, 90, 90]));
            }
        }
        let marked = image::DynamicImage::ImageRgb8(plain);
        assert!(!identifies_portrait(&portrait_hash_of(&marked)));
    }

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
        assert!(identifies_selfie(h));
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
