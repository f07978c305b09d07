//! The PDF case report: images, scores, flags, Ditto ID's document checks, fields by source,
//! decisions and the timeline, on A4 pages, in an embedded subset of DejaVu Sans so every name
//! prints as sent (Latin, Cyrillic, Greek; text stays extractable through a ToUnicode map).

use std::io::Cursor;

use image::ImageDecoder;
use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::error::CoreError;
use crate::view::{CaseDetail, Score};
use kyc_domain::case::ImageInfo;

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

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE`): Latin, Cyrillic, Greek and more,
/// embedded as a subset of the glyphs a report uses.
const REGULAR_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// One glyph placed: its id in the subset (the CID written on the page), the character it shows
/// and its advance in thousandths of an em.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Glyph {
    cid: u16,
    ch: char,
    width: f32,
}

/// A font as the report uses it: the face, the glyphs used so far (renumbered for the subset)
/// and what each shows.
struct Font {
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    remapper: subsetter::GlyphRemapper,
    used: std::collections::BTreeMap<u16, (char, f32)>,
}

impl Font {
    fn new(data: &'static [u8]) -> Font {
        Font {
            data,
            face: ttf_parser::Face::parse(data, 0).expect("the bundled font parses"),
            remapper: subsetter::GlyphRemapper::new(),
            used: std::collections::BTreeMap::new(),
        }
    }

    /// The glyphs of `text`: a character the font lacks as its base letter (accent dropped),
    /// else `?`; control characters as spaces.
    fn glyphs(&mut self, text: &str) -> Vec<Glyph> {
        use unicode_normalization::UnicodeNormalization;
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let c = if c.is_control() { ' ' } else { c };
            let found = self.face.glyph_index(c).map(|g| (c, g)).or_else(|| {
                let base = c.nfd().next()?;
                self.face.glyph_index(base).map(|g| (base, g))
            });
            let (ch, gid) = found
                .or_else(|| self.face.glyph_index('?').map(|g| ('?', g)))
                .unwrap_or(('?', ttf_parser::GlyphId(0)));
            let units = f32::from(self.face.units_per_em().max(1));
            let width = f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0)) * 1000.0 / units;
            let cid = self.remapper.remap(gid.0);
            self.used.entry(cid).or_insert((ch, width));
            out.push(Glyph { cid, ch, width });
        }
        out
    }
}

/// Width of placed glyphs at `size` points.
fn text_width(glyphs: &[Glyph], size: f32) -> f32 {
    glyphs.iter().map(|g| g.width).sum::<f32>() * size / 1000.0
}

/// Greedy word wrap to `width` points.
fn wrap(glyphs: &[Glyph], size: f32, width: f32) -> Vec<Vec<Glyph>> {
    let mut lines = Vec::new();
    let mut line: Vec<Glyph> = Vec::new();
    let space = glyphs.iter().find(|g| g.ch == ' ').copied();
    for word in glyphs.split(|g| g.ch == ' ') {
        let mut candidate = line.clone();
        if let (false, Some(space)) = (candidate.is_empty(), space) {
            candidate.push(space);
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

/// The bytes a page shows for glyphs (Identity-H: two bytes per CID).
fn encoded(glyphs: &[Glyph]) -> Vec<u8> {
    glyphs.iter().flat_map(|g| g.cid.to_be_bytes()).collect()
}

/// Flows text and images down A4 pages.
struct Layout {
    pages: Vec<Content>,
    y: f32,
    /// Regular and bold.
    fonts: [Font; 2],
}

impl Layout {
    fn new() -> Layout {
        let mut l = Layout {
            pages: Vec::new(),
            y: 0.0,
            fonts: [Font::new(REGULAR_TTF), Font::new(BOLD_TTF)],
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

    fn glyphs(&mut self, font: Name<'static>, text: &str) -> Vec<Glyph> {
        self.fonts[usize::from(font == BOLD)].glyphs(text)
    }

    fn text_at(&mut self, x: f32, y: f32, font: Name<'static>, size: f32, glyphs: &[Glyph]) {
        let c = self.page();
        c.begin_text();
        c.set_font(font, size);
        c.next_line(x, y);
        c.show(Str(&encoded(glyphs)));
        c.end_text();
    }

    fn paragraph(&mut self, font: Name<'static>, size: f32, indent: f32, text: &str) {
        let glyphs = self.glyphs(font, text);
        for line in wrap(&glyphs, size, PAGE_W - 2.0 * MARGIN - indent) {
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

    /// A label and its value side by side, each wrapped in its own column.
    fn field(&mut self, label: &str, value: &str) {
        let size = BODY;
        let label_w = 130.0;
        let value = self.glyphs(REGULAR, value);
        let label = self.glyphs(BOLD, label);
        let values = wrap(&value, size, PAGE_W - 2.0 * MARGIN - label_w);
        let labels = wrap(&label, size, label_w - 8.0);
        for i in 0..values.len().max(labels.len()) {
            self.room(size * 1.35);
            self.y -= size * 1.35;
            let y = self.y;
            if let Some(line) = labels.get(i) {
                self.text_at(MARGIN, y, BOLD, size, line);
            }
            if let Some(line) = values.get(i) {
                self.text_at(MARGIN + label_w, y, REGULAR, size, line);
            }
        }
    }

    /// "KYC-… · page x / y" at the foot of every page (once all pages are laid out).
    fn footers(&mut self, reference: &str) {
        let total = self.pages.len();
        for i in 0..total {
            let text = format!("{reference} - page {} / {total}", i + 1);
            let glyphs = self.glyphs(REGULAR, &text);
            let x = PAGE_W - MARGIN - text_width(&glyphs, 8.0);
            let c = &mut self.pages[i];
            c.begin_text();
            c.set_font(REGULAR, 8.0);
            c.next_line(x, MARGIN / 2.0);
            c.show(Str(&encoded(&glyphs)));
            c.end_text();
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
            let caption = self.glyphs(REGULAR, &image_label(&img.name));
            self.text_at(x, top - height - 11.0, REGULAR, 8.0, &caption);
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

/// Who made a report, when, for which time zone, and the audit trail's state then.
pub struct ReportMeta<'a> {
    pub generated_by: &'a str,
    /// RFC 3339.
    pub generated_at: &'a str,
    /// Times print in this offset (the reader's), with the zone named.
    pub offset: time::UtcOffset,
    /// The audit chain's head when the report was made (entry id and link), if any.
    pub audit_head: Option<(i64, String)>,
    /// The signed checkpoint line of that head, if one could be taken.
    pub checkpoint: Option<&'a str>,
}

/// A human label for an image name (`front_page` → "Document front").
pub fn image_label(name: &str) -> String {
    match name {
        "front_page" => "Document front".into(),
        "back_page" => "Document back".into(),
        "portrait_image" => "Document portrait".into(),
        "selfie" => "Selfie (liveness)".into(),
        "ghostportrait_image" => "Ghost portrait".into(),
        "visualportrait_image" => "Portrait (visual zone)".into(),
        other => humanize(other),
    }
}

/// `face_mismatch` → "Face mismatch"; `case.note_added` → "Case note added".
fn humanize(code: &str) -> String {
    let text = code.replace(['_', '.', '-'], " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Where an image goes in the report: faces first, then the document front before its back.
fn image_rank(name: &str) -> usize {
    ["portrait_image", "selfie", "front_page", "back_page"]
        .iter()
        .position(|n| *n == name)
        .unwrap_or(4)
}

/// Renders the report. `images` are the case's images with their bytes (opened).
pub fn case_pdf(
    detail: &CaseDetail,
    images: &[(ImageInfo, Vec<u8>)],
    meta: &ReportMeta<'_>,
) -> Result<Vec<u8>, CoreError> {
    let s = &detail.summary;
    let local = |t: &str| kyc_domain::time::local_label(t, meta.offset);
    let mut embedded: Vec<Embedded> = images.iter().filter_map(|(i, b)| embed(i, b)).collect();
    embedded.sort_by_key(|e| image_rank(&e.name));
    let mut l = Layout::new();
    l.paragraph(BOLD, 18.0, 0.0, "KYC Desk case report");
    l.paragraph(
        REGULAR,
        BODY,
        0.0,
        &format!(
            "{} - generated {} by {}",
            s.reference,
            local(meta.generated_at),
            meta.generated_by
        ),
    );
    l.heading("Case");
    l.field("Reference", &s.reference);
    l.field("Status", &s.status);
    let answer = match &s.answer {
        Some(a) => format!(
            "result={} (by {}, at {}), user_id {}",
            a.result,
            a.by,
            local(&a.at),
            a.user_id
        ),
        None => "not answered yet".into(),
    };
    l.field("Ditto ID answer", &answer);
    l.field("Received", &local(&s.received_at));
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
        // Faces side by side, then the rest two by two, the document front before its back.
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

    l.heading("Findings");
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
            &format!("{} - {}: {}", humanize(&sev), humanize(&f.code), f.message),
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
        let verb = match d.decision.as_str() {
            "approve" => "Approved",
            "reject" => "Rejected",
            other => other,
        };
        let mut text = format!("{} {verb} by {who}", local(&d.at));
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

    l.heading("Internal notes");
    if detail.notes.is_empty() {
        l.paragraph(REGULAR, BODY, 0.0, "No notes.");
    }
    for n in &detail.notes {
        let what = match &n.escalated_to {
            Some(to) => format!("escalated to {to}"),
            None => "note".into(),
        };
        l.paragraph(
            BOLD,
            BODY,
            0.0,
            &format!("{} {} by {}", local(&n.at), what, n.by),
        );
        l.paragraph(REGULAR, BODY, 12.0, &n.text);
    }

    l.heading("Timeline");
    for e in &detail.timeline {
        l.paragraph(
            REGULAR,
            BODY,
            0.0,
            &format!("{}  {}  {}", local(&e.at), e.actor, humanize(&e.action)),
        );
    }

    l.heading("Audit trail");
    if let Some((id, link)) = &meta.audit_head {
        l.field("Chain head", &format!("entry {id}, link {link}"));
    }
    l.paragraph(
        REGULAR,
        BODY,
        0.0,
        &match meta.checkpoint {
            Some(line) => format!(
                "Signed {line}. It proves what the trail held when this report was made: \
                 kyc-desk audit verify checks it."
            ),
            None => "No signed audit checkpoint was available.".into(),
        },
    );
    l.paragraph(
        REGULAR,
        BODY,
        0.0,
        "This file's SHA-256 is recorded in the audit trail (case.report_exported, by the same \
         person at the same time): a copy whose SHA-256 differs is not this report.",
    );
    l.footers(&s.reference);
    Ok(assemble(l.pages, l.fonts, &embedded, &s.reference))
}

/// Writes the page tree, fonts, images and content streams.
fn assemble(pages: Vec<Content>, fonts: [Font; 2], images: &[Embedded], title: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        next += 1;
        Ref::new(next - 1)
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    // Per font: Type0 font, CIDFont, descriptor, font file, ToUnicode map.
    let font_refs: Vec<[Ref; 5]> = fonts
        .iter()
        .map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()])
        .collect();
    let (regular, bold) = (font_refs[0][0], font_refs[1][0]);
    let image_refs: Vec<Ref> = images.iter().map(|_| alloc()).collect();
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(p, _)| *p))
        .count(page_refs.len() as i32);
    pdf.document_info(info)
        .title(TextStr(&format!("KYC Desk case report {title}")))
        .producer(TextStr("KYC Desk"));
    for ((font, refs), tag) in fonts.iter().zip(&font_refs).zip(["KYCDRA", "KYCDBA"]) {
        write_font(&mut pdf, font, *refs, tag);
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

/// A font as a Type0 font with an Identity-H CIDFontType2 descendant over the subset, with the
/// widths of the glyphs used and a ToUnicode map (so text can be searched and copied).
fn write_font(
    pdf: &mut Pdf,
    font: &Font,
    [type0, cid, descriptor, file, cmap]: [Ref; 5],
    tag: &str,
) {
    use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
    let face = &font.face;
    let ps_name = face
        .names()
        .into_iter()
        .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
        .and_then(|n| n.to_string())
        .unwrap_or_else(|| "DejaVuSans".into());
    let base = format!("{tag}+{ps_name}");
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(Name(base.as_bytes()))
        .system_info(system_info)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let mut widths = c.widths();
    for (cid, (_, width)) in &font.used {
        widths.consecutive(*cid, [*width]);
    }
    widths.finish();
    c.finish();
    let units = f32::from(face.units_per_em().max(1));
    let scale = |v: i16| f32::from(v) * 1000.0 / units;
    let bbox = face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(scale(face.ascender()))
        .descent(scale(face.descender()))
        .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(80.0)
        .font_file2(file);
    let data = font.data;
    let subset = subsetter::subset(data, 0, &font.remapper).unwrap_or_else(|_| data.to_vec());
    let packed = compress_to_vec_zlib(&subset, 6);
    pdf.stream(file, &packed).filter(Filter::FlateDecode);
    pdf.cmap(cmap, &to_unicode(&font.used));
}

/// The ToUnicode CMap of the glyphs used: the minimal form of the PDF specification's example
/// (ISO 32000-1 §9.10.3), which every text extractor reads; at most 100 entries per section.
fn to_unicode(used: &std::collections::BTreeMap<u16, (char, f32)>) -> Vec<u8> {
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(&u16, &(char, f32))> = used.iter().collect();
    for chunk in entries.chunks(100) {
        out += &format!("{} beginbfchar\n", chunk.len());
        for (cid, (ch, _)) in chunk {
            let mut units = [0u16; 2];
            let utf16: String = ch
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            out += &format!("<{cid:04X}> <{utf16}>\n");
        }
        out += "endbfchar\n";
    }
    out += "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_go_faces_first_then_the_front_before_the_back() {
        let mut names = vec![
            "back_page",
            "check-1-0-actual",
            "front_page",
            "selfie",
            "portrait_image",
        ];
        names.sort_by_key(|n| image_rank(n));
        assert_eq!(
            names,
            [
                "portrait_image",
                "selfie",
                "front_page",
                "back_page",
                "check-1-0-actual"
            ]
        );
        assert_eq!(image_label("back_page"), "Document back");
        assert_eq!(image_label("check-1-0-actual"), "Check 1 0 actual");
        assert_eq!(humanize("case.note_added"), "Case note added");
    }

    #[test]
    fn every_letter_has_a_glyph_or_its_base_letter() {
        let mut font = Font::new(REGULAR_TTF);
        let chars = |text: &str, font: &mut Font| -> String {
            font.glyphs(text).iter().map(|g| g.ch).collect()
        };
        for name in [
            "Müller",
            "Bērziņa",
            "ŅEMCOVA",
            "Иванов",
            "ΠΑΠΑΔΟΠΟΥΛΟΣ",
            "Łukasz Żółć",
        ] {
            assert_eq!(chars(name, &mut font), name);
        }
        // A letter the font lacks: its base letter, else "?".
        assert_eq!(chars("山田", &mut font), "??");
        assert_eq!(chars("a\tb", &mut font), "a b");
        // One CID per glyph, the same each time.
        let a = font.glyphs("Ņ")[0];
        assert_eq!(font.glyphs("Ņ")[0], a);
        assert_ne!(font.glyphs("N")[0].cid, a.cid);
    }

    #[test]
    fn wrap_respects_the_width_and_cuts_long_words() {
        let mut font = Font::new(REGULAR_TTF);
        let text = font.glyphs(&"word ".repeat(60));
        let lines = wrap(&text, 10.0, 200.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| text_width(l, 10.0) <= 200.0));
        let long = wrap(&font.glyphs(&"W".repeat(200)), 10.0, 100.0);
        assert!(long.len() > 5 && long.iter().all(|l| text_width(l, 10.0) <= 100.0));
    }
}
