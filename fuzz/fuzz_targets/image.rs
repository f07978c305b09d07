//! Images as sent: `ingest::sniff_image` on any bytes names a format and never fails; what it
//! calls showable is within the pixel limits; `picture::for_display` under every MIME type
//! (JPEG 2000 decoding included) returns, never panics, and a converted image is a small PNG.
#![no_main]

use kyc_core::ingest::{self, ImageFormat};
use kyc_core::picture::{self, Shown};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sniffed = ingest::sniff_image(data);
    if sniffed.problem.is_none() {
        assert_ne!(sniffed.format, ImageFormat::Unknown);
        assert!(ingest::within_limits(sniffed.width, sniffed.height));
    }
    for mime in [
        sniffed.format.mime(),
        "image/jp2",
        "application/pdf",
        "image/webp",
    ] {
        if let Shown::Converted(png) = picture::for_display(mime, data) {
            assert!(png.starts_with(b"\x89PNG"), "a converted image is a PNG");
            let img = image::load_from_memory(&png).expect("the PNG made for display decodes");
            assert!(img.width() <= picture::DISPLAY_SIDE && img.height() <= picture::DISPLAY_SIDE);
        }
    }
});
