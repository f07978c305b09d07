//! Images as the reviewer sees them: JPEG, PNG, WebP and GIF are served as sent; JPEG 2000 (the
//! e-Passport chip portrait) is decoded with a pure-Rust decoder and served as a PNG scaled to fit
//! the desk; a PDF or an unknown format is only a download. The bytes as sent stay stored.

use std::io::Cursor;

/// Longest side of a converted image, in pixels.
pub const DISPLAY_SIDE: u32 = 2048;

/// What the desk sends for an image.
#[derive(Debug)]
pub enum Shown {
    /// The bytes as sent: browsers show this format.
    AsSent,
    /// A PNG made for display.
    Converted(Vec<u8>),
    /// Nothing to show: the bytes as sent, as a download.
    Download,
}

/// How an image of `mime` is shown (converting JPEG 2000; `None` when it cannot be decoded).
pub fn for_display(mime: &str, bytes: &[u8]) -> Shown {
    match mime {
        "image/jpeg" | "image/png" | "image/webp" | "image/gif" => Shown::AsSent,
        "image/jp2" => jpeg2000_png(bytes).map_or(Shown::Download, Shown::Converted),
        _ => Shown::Download,
    }
}

/// A JPEG 2000 image (JP2 file or raw codestream) as a PNG no larger than `DISPLAY_SIDE`; the
/// pixel limits of [`crate::ingest::MAX_IMAGE_PIXELS`] hold (checked from the header first).
pub fn jpeg2000_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let header =
        hayro_jpeg2000::Image::new(bytes, &hayro_jpeg2000::DecodeSettings::default()).ok()?;
    if !crate::ingest::within_limits(header.width(), header.height()) {
        return None;
    }
    let decoder = hayro_jpeg2000::integration::Jp2Decoder::new(Cursor::new(bytes)).ok()?;
    let img = image::DynamicImage::from_decoder(decoder).ok()?;
    let img = if img.width() > DISPLAY_SIDE || img.height() > DISPLAY_SIDE {
        img.thumbnail(DISPLAY_SIDE, DISPLAY_SIDE)
    } else {
        img
    };
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_2000_is_shown_as_a_png_and_pdfs_are_downloads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images");
        for file in ["portrait.jp2", "portrait.j2k"] {
            let jp2 = std::fs::read(format!("{dir}/{file}")).unwrap();
            let Shown::Converted(png) = for_display("image/jp2", &jp2) else {
                panic!("{file} is converted")
            };
            let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
            assert_eq!((img.width(), img.height()), (60, 80), "{file}");
            // The drawn face (dark) and background (light) survive the round trip.
            let rgb = img.to_rgb8();
            assert!(
                rgb.get_pixel(30, 35)[0] < 160 && rgb.get_pixel(2, 2)[0] > 170,
                "{file}"
            );
        }
        let pdf = std::fs::read(format!("{dir}/scan.pdf")).unwrap();
        assert!(matches!(
            for_display("application/pdf", &pdf),
            Shown::Download
        ));
        assert!(matches!(
            for_display("image/jp2", b"not jp2"),
            Shown::Download
        ));
        assert!(matches!(for_display("image/webp", b""), Shown::AsSent));
    }
}
