//! The PDF case report: images, scores, flags, Ditto ID's document checks, fields by source,
//! decisions and the timeline, on A4 pages with the PDF base fonts (text stays extractable).

use std::io::Cursor;

use image::ImageDecoder;
use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::error::CoreError;
use crate::store::ImageInfo;
use crate::view::{CaseDetail, Score};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BODY: f32 = 9.5;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// An image ready to place: its PDF encoding and size in pixels.
struct Embedded {
    name: String,
    data: Vec<u8>,
    filter: Filter,
    gray: bool,
    width: u32,
    height: u32,
}

/// JPEGs go in as they are (DCT); other images are decoded and deflated as RGB.
fn embed(info: &ImageInfo, bytes: &[u8]) -> Option<Embedded> {
    if info.mime == "image/jpeg" {
        if let Ok(dec) = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes)) {
            let color = dec.color_type();
            let (w, h) = dec.dimensions();
            if matches!(color, image::ColorType::Rgb8 | image::ColorType::L8) {
                return Some(Embedded {
                    name: info.name.clone(),
                    data: bytes.to_vec(),
                    filter: Filter::DctDecode,
                    gray: color == image::ColorType::L8,
                    width: w,
                    height: h,
                });
            }
        }
    }
    // Within the pixel limits only; JPEG 2000 as its display PNG; a PDF or unknown format is
    // not an image to place (the report lists it).
    if !crate::ingest::within_limits(info.width, info.height) {
        return None;
    }
    let converted;
    let bytes = match crate::picture::for_display(&info.mime, bytes) {
        crate::picture::Shown::AsSent => bytes,
        crate::picture::Shown::Converted(png) => {
            converted = png;
            &converted
        }
        crate::picture::Shown::Download => return None,
    };
    let img = image::load_from_memory(bytes).ok()?.to_rgb8();
    Some(Embedded {
        name: info.name.clone(),
        data: compress_to_vec_zlib(img.as_raw(), 6),
        filter: Filter::FlateDecode,
        gray: false,
        width: img.width(),
        height: img.height(),
    })
}

/// Text in the base fonts' WinAnsi encoding: Latin-1 as is, other letters without their accents
/// (`ē` → `e`), anything else `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    use unicode_normalization::UnicodeNormalization;
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c as u32 {
            0x20..=0x7E | 0xA0..=0xFF => out.push(c as u32 as u8),
            0x2013 | 0x2014 => out.push(b'-'),
            0x2018 | 0x2019 => out.push(b'\''),
            0x201C | 0x201D => out.push(b'"'),
            0x2022 => out.push(0xB7),
            _ => match c
                .nfd()
                .next()
                .filter(|b| (*b as u32) < 0x7F && !b.is_control())
            {
                Some(base) => out.push(base as u8),
                None if c.is_whitespace() => out.push(b' '),
                None => out.push(b'?'),
            },
        }
    }
    out
}

/// Approximate Helvetica advance (em fraction) for wrapping.
fn text_width(bytes: &[u8], size: f32) -> f32 {
    bytes
        .iter()
        .map(|b| match b {
            b'i' | b'l' | b'j' | b'.' | b',' | b':' | b';' | b'\'' | b'|' | b'!' => 0.25,
            b' ' | b'f' | b't' | b'r' | b'I' | b'(' | b')' | b'[' | b']' | b'-' | b'/' => 0.32,
            b'm' | b'w' | b'M' | b'W' | b'@' => 0.85,
            b'A'..=b'Z' | b'0'..=b'9' => 0.64,
            _ => 0.54,
        })
        .sum::<f32>()
        * size
}

/// Greedy word wrap to `width` points.
fn wrap(bytes: &[u8], size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in bytes.split(|b| *b == b' ') {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if text_width(&candidate, size) <= width || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line.extend_from_slice(word);
        }
        // A single word wider than the line is cut.
        while text_width(&line, size) > width && line.len() > 1 {
            let mut cut = line.len();
            while cut > 1 && text_width(&line[..cut], size) > width {
                cut -= 1;
            }
            let rest = line.split_off(cut);
            lines.push(std::mem::replace(&mut line, rest));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Flows text and images down A4 pages.
struct Layout {
    pages: Vec<Content>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        let mut l = Layout {
            pages: Vec::new(),
            y: 0.0,
        };
        l.new_page();
        l
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page exists")
    }

    fn text_at(&mut self, x: f32, y: f32, font: Name<'static>, size: f32, bytes: &[u8]) {
        let c = self.page();
        c.begin_text();
        c.set_font(font, size);
        c.next_line(x, y);
        c.show(Str(bytes));
        c.end_text();
    }

    fn paragraph(&mut self, font: Name<'static>, size: f32, indent: f32, text: &str) {
        for line in wrap(&win_ansi(text), size, PAGE_W - 2.0 * MARGIN - indent) {
            self.room(size * 1.35);
            self.y -= size * 1.35;
            let y = self.y;
            self.text_at(MARGIN + indent, y, font, size, &line);
        }
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y -= 8.0;
        self.paragraph(BOLD, 12.0, 0.0, text);
        let y = self.y - 4.0;
        let c = self.page();
        c.set_line_width(0.5);
        c.move_to(MARGIN, y);
        c.line_to(PAGE_W - MARGIN, y);
        c.stroke();
        self.y -= 6.0;
    }

    fn field(&mut self, label: &str, value: &str) {
        let size = BODY;
        let label_w = 130.0;
        let lines = wrap(&win_ansi(value), size, PAGE_W - 2.0 * MARGIN - label_w);
        for (i, line) in lines.iter().enumerate() {
            self.room(size * 1.35);
            self.y -= size * 1.35;
            let y = self.y;
            if i == 0 {
                self.text_at(MARGIN, y, BOLD, size, &win_ansi(label));
            }
            self.text_at(MARGIN + label_w, y, REGULAR, size, line);
        }
    }

    /// A row of images scaled to one height, with captions under them.
    fn images(&mut self, row: &[(usize, &Embedded)], height: f32) {
        self.room(height + 20.0);
        let mut x = MARGIN;
        let top = self.y - 6.0;
        for (index, img) in row {
            let w = height * img.width as f32 / img.height.max(1) as f32;
            let name = format!("Im{index}");
            let c = self.page();
            c.save_state();
            c.transform([w, 0.0, 0.0, height, x, top - height]);
            c.x_object(Name(name.as_bytes()));
            c.restore_state();
            self.text_at(x, top - height - 11.0, REGULAR, 8.0, &win_ansi(&img.name));
            x += w + 12.0;
        }
        self.y = top - height - 16.0;
    }
}

fn score_text(s: &Score) -> String {
    match (s.value, s.passed) {
        (Some(v), Some(p)) => format!(
            "{v} (threshold {}) - {}",
            s.threshold,
            if p { "passed" } else { "below threshold" }
        ),
        _ => format!("not reported (threshold {})", s.threshold),
    }
}

/// Renders the report. `images` are the case's images with their bytes (opened).
pub fn case_pdf(
    detail: &CaseDetail,
    images: &[(ImageInfo, Vec<u8>)],
    generated_by: &str,
    generated_at: &str,
) -> Result<Vec<u8>, CoreError> {
    let s = &detail.summary;
    let embedded: Vec<Embedded> = images.iter().filter_map(|(i, b)| embed(i, b)).collect();
    let mut l = Layout::new();
    l.paragraph(BOLD, 18.0, 0.0, "KYC Desk case report");
    l.paragraph(
        REGULAR,
        BODY,
        0.0,
        &format!(
            "{} - generated {generated_at} by {generated_by}",
            s.reference
        ),
    );
    l.heading("Case");
    l.field("Reference", &s.reference);
    l.field("Status", &s.status);
    let answer = match &s.answer {
        Some(a) => format!(
            "result={} (by {}, at {}), user_id {}",
            a.result, a.by, a.at, a.user_id
        ),
        None => "not answered yet".into(),
    };
    l.field("Ditto ID answer", &answer);
    l.field("Received", &s.received_at);
    l.field("Requester id", &s.requester_id);
    l.field("User id", &s.user_id);
    if let Some(app) = &detail.app_id {
        l.field("App id", app);
    }
    l.field("Holder", s.holder_name.as_deref().unwrap_or("-"));
    l.field(
        "Document",
        &format!(
            "{} {}",
            s.document_type.as_deref().unwrap_or("-"),
            s.document_number.as_deref().unwrap_or("")
        ),
    );
    if let Some(a) = &s.assignee {
        l.field("Assigned to", a);
    }

    l.heading("Scores");
    l.field("Face match", &score_text(&detail.face_match));
    l.field("Liveness", &score_text(&detail.liveness));

    if !embedded.is_empty() {
        l.heading("Images");
        let faces = ["portrait_image", "selfie"];
        let (first, rest): (Vec<_>, Vec<_>) = embedded
            .iter()
            .enumerate()
            .partition(|(_, e)| faces.contains(&e.name.as_str()));
        if !first.is_empty() {
            l.images(&first, 150.0);
        }
        for pair in rest.chunks(2) {
            l.images(pair, 150.0);
        }
    }

    l.heading("Flags");
    if s.flags.is_empty() {
        l.paragraph(
            REGULAR,
            BODY,
            0.0,
            "No flags: every automatic check passed.",
        );
    }
    for f in &s.flags {
        let sev = serde_json::to_value(f.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        l.paragraph(
            REGULAR,
            BODY,
            0.0,
            &format!("[{sev}] {}: {}", f.code, f.message),
        );
    }

    if let Some(doc) = &detail.document {
        l.heading("Document checks (Ditto ID)");
        l.field("Type", &doc.names.join(", "));
        l.field(
            "Overall status",
            doc.overall_status.as_deref().unwrap_or("-"),
        );
        if !doc.errors.is_empty() {
            l.field("Errors", &doc.errors.join("; "));
        }
        if !doc.warnings.is_empty() {
            l.field("Warnings", &doc.warnings.join("; "));
        }
        if let Some(nfc) = &doc.nfc_scan_status {
            l.field("Chip (NFC)", nfc);
        }
    }

    if !detail.fields.is_empty() {
        l.heading("Fields by source");
        for f in &detail.fields {
            let mut text = f.value.clone().unwrap_or_else(|| "-".into());
            if !f.sources.is_empty() {
                let by: Vec<String> = f.sources.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                text += &format!("   [{}]", by.join("; "));
            }
            if f.mismatch {
                text += "   SOURCES DISAGREE";
            }
            l.field(&f.name, &text);
        }
    }

    l.heading("Decisions");
    if detail.decisions.is_empty() {
        l.paragraph(REGULAR, BODY, 0.0, "No decision yet.");
    }
    for d in &detail.decisions {
        let who = d.by_user.clone().unwrap_or_else(|| d.by.clone());
        let mut text = format!("{} {} by {who}", d.at, d.decision);
        if !d.is_final {
            text += " (first approval, waiting for a second reviewer)";
        }
        if !d.reasons.is_empty() {
            text += &format!("; reasons: {}", d.reasons.join(", "));
        }
        if let Some(rule) = &d.rule {
            text += &format!("; rule {rule}");
        }
        if !d.comment.is_empty() {
            text += &format!("; comment: {}", d.comment);
        }
        l.paragraph(REGULAR, BODY, 0.0, &text);
    }

    l.heading("Timeline");
    for e in &detail.timeline {
        l.paragraph(
            REGULAR,
            BODY,
            0.0,
            &format!("{}  {}  {}", e.at, e.actor, e.action),
        );
    }

    Ok(assemble(l.pages, &embedded, &s.reference))
}

/// Writes the page tree, fonts, images and content streams.
fn assemble(pages: Vec<Content>, images: &[Embedded], title: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        next += 1;
        Ref::new(next - 1)
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let (regular, bold) = (alloc(), alloc());
    let image_refs: Vec<Ref> = images.iter().map(|_| alloc()).collect();
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(p, _)| *p))
        .count(page_refs.len() as i32);
    pdf.document_info(info)
        .title(TextStr(&format!("KYC Desk case report {title}")))
        .producer(TextStr("KYC Desk"));
    for (id, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (img, id) in images.iter().zip(&image_refs) {
        let mut x = pdf.image_xobject(*id, &img.data);
        x.filter(img.filter);
        x.width(img.width as i32);
        x.height(img.height as i32);
        if img.gray {
            x.color_space().device_gray();
        } else {
            x.color_space().device_rgb();
        }
        x.bits_per_component(8);
        x.finish();
    }
    for ((page_id, content_id), content) in page_refs.iter().zip(pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(*content_id);
        let mut res = page.resources();
        res.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        let mut xo = res.x_objects();
        for (i, id) in image_refs.iter().enumerate() {
            let name = format!("Im{i}");
            xo.pair(Name(name.as_bytes()), *id);
        }
        xo.finish();
        res.finish();
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_keeps_latin1_and_folds_other_accents() {
        assert_eq!(win_ansi("Müller"), b"M\xfcller");
        assert_eq!(win_ansi("Bērziņa"), b"Berzina");
        assert_eq!(win_ansi("Ж"), b"?");
    }

    #[test]
    fn wrap_respects_the_width_and_cuts_long_words() {
        let text = win_ansi(&"word ".repeat(60));
        let lines = wrap(&text, 10.0, 200.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| text_width(l, 10.0) <= 200.0));
        let long = wrap(&[b'W'; 200], 10.0, 100.0);
        assert!(long.len() > 5 && long.iter().all(|l| text_width(l, 10.0) <= 100.0));
    }
}
