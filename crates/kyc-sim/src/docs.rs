//! Document images: ID card front and back, passport data page, portrait and selfie.

use std::f32::consts::{PI, TAU};

use image::RgbImage;

use crate::draw::{mix, shade, Canvas, Color};
use crate::face::{self, Look};
use crate::people::Country;
use crate::rng::Rng;

/// ID-1 card scans (front and back): 85.6 × 54 mm.
pub const CARD_SIZE: (u32, u32) = (1000, 630);
/// Passport data page scan (TD3, 125 × 88 mm).
pub const PASSPORT_PAGE_SIZE: (u32, u32) = (1000, 704);
/// Portrait cropped from the document.
pub const PORTRAIT_SIZE: (u32, u32) = (300, 400);
/// Selfie from the liveness video.
pub const SELFIE_SIZE: (u32, u32) = (480, 640);

const TEXT: Color = [28, 28, 34];
const WHITE: Color = [255, 255, 255];
const TABLE: Color = [58, 60, 64];

/// What is printed on a document, as the visual zone shows it.
pub(crate) struct DocArt<'a> {
    pub country: &'a Country,
    pub look: &'a Look,
    /// The document's photo ([`portrait`] of its [`Sitting`]), printed in the portrait box.
    pub photo: &'a RgbImage,
    pub title: &'a str,
    /// Printed (visual) values, upper case with diacritics.
    pub surname: String,
    pub given_names: String,
    pub sex: char,
    pub nationality: &'a str,
    pub birth: String,
    pub expiry: String,
    pub issue: String,
    pub number: &'a str,
    pub personal: Option<&'a str>,
    pub authority: &'a str,
    pub mrz: &'a [String],
    /// Tampered documents: pasted-looking photo, dull hologram.
    pub tampered: bool,
    /// Varies the artwork (guilloche phase, signature, barcode).
    pub art_seed: u64,
}

fn guilloche(cv: &mut Canvas, y_start: f32, y_end: f32, ink: Color, phase: f32) {
    let w = cv.width() as i32;
    let mut y0 = y_start;
    let mut i = 0;
    while y0 < y_end {
        let p = phase + i as f32 * 0.61;
        cv.wave(
            0,
            w,
            |x| y0 + 9.0 * (x * 0.019 + p).sin() + 3.5 * (x * 0.061 + p * 1.7).sin(),
            1.0,
            ink,
            0.28,
        );
        cv.wave(
            0,
            w,
            |x| y0 + 9.0 * (x * 0.019 + p + PI).sin() + 3.0 * (x * 0.047 + p).sin(),
            1.0,
            ink,
            0.18,
        );
        y0 += 17.0;
        i += 1;
    }
}

fn rosette(cv: &mut Canvas, cx: f32, cy: f32, scale: f32, ink: Color, phase: f32) {
    for k in 0..4 {
        let r0 = scale * (0.45 + 0.2 * k as f32);
        let n = (10 + 4 * k) as f32;
        let points: Vec<(f32, f32)> = (0..=360)
            .map(|t| {
                let a = t as f32 / 360.0 * TAU;
                let r = r0 + scale * 0.07 * (n * a + phase + k as f32).sin();
                let (s, c) = a.sin_cos();
                (cx + r * c, cy + r * s * 0.82)
            })
            .collect();
        cv.polyline(&points, 1.0, ink, 0.25);
    }
}

fn paper(cv: &mut Canvas, c: &Country, top: u32, phase: f32) {
    let (w, h) = (cv.width(), cv.height());
    cv.vgradient(0, top, w, h, c.paper, shade(c.paper, 0.95));
    guilloche(cv, top as f32 + 6.0, h as f32 + 10.0, c.ink, phase);
    rosette(
        cv,
        w as f32 * 0.7,
        h as f32 * 0.56,
        h as f32 * 0.42,
        c.ink,
        phase,
    );
}

fn eu_emblem(cv: &mut Canvas, x: f32, y: f32, code: &str) {
    let (w, h) = (88.0, 64.0);
    cv.fill_rect(x, y, x + w, y + h, [0, 51, 153], 1.0);
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    for k in 0..12 {
        let (s, c) = (k as f32 / 12.0 * TAU).sin_cos();
        cv.ellipse(cx + c * 24.0, cy + s * 24.0, 2.8, 2.8, [255, 204, 0], 1.0);
    }
    let size = 14.0;
    let tw = Canvas::text_width(size, code);
    cv.text(cx - tw / 2.0, cy - size / 2.0, size, code, WHITE);
}

fn portrait_box(cv: &mut Canvas, photo: &RgbImage, x: f32, y: f32, w: f32, h: f32, tampered: bool) {
    if tampered {
        // A pasted-over photo: hard shadow and a white paper edge, slightly off the printed frame.
        cv.fill_rect(
            x + 9.0,
            y + 11.0,
            x + w + 9.0,
            y + h + 11.0,
            [90, 90, 96],
            0.45,
        );
        cv.fill_rect(
            x + 2.0,
            y + 3.0,
            x + w + 6.0,
            y + h + 7.0,
            [250, 250, 246],
            1.0,
        );
    }
    let (x, y) = if tampered { (x + 5.0, y + 6.0) } else { (x, y) };
    let printed = image::imageops::resize(
        photo,
        w as u32,
        h as u32,
        image::imageops::FilterType::Triangle,
    );
    cv.blit(&printed, x as i32, y as i32, 1.0, |c| c);
    if !tampered {
        let edge = [150, 150, 156];
        cv.fill_rect(x, y, x + w, y + 1.0, edge, 0.8);
        cv.fill_rect(x, y + h - 1.0, x + w, y + h, edge, 0.8);
        cv.fill_rect(x, y, x + 1.0, y + h, edge, 0.8);
        cv.fill_rect(x + w - 1.0, y, x + w, y + h, edge, 0.8);
    }
}

fn portrait_background(
    cv: &mut Canvas,
    (top, bottom): (Color, Color),
    x: f32,
    y: f32,
    w: f32,
    h: f32,
) {
    let steps = 16;
    for i in 0..steps {
        let t = i as f32 / steps as f32;
        let c = mix(top, bottom, t);
        cv.fill_rect(
            x,
            y + h * t,
            x + w,
            y + h * (t + 1.0 / steps as f32),
            c,
            1.0,
        );
    }
}

fn signature(cv: &mut Canvas, x: f32, y: f32, w: f32, seed: u64) {
    let mut r = Rng::new(seed ^ 0x5167);
    let (f1, f2) = (r.range_f32(0.05, 0.11), r.range_f32(0.17, 0.3));
    let (p1, p2) = (r.range_f32(0.0, TAU), r.range_f32(0.0, TAU));
    let (a1, a2) = (r.range_f32(8.0, 16.0), r.range_f32(3.0, 7.0));
    let points: Vec<(f32, f32)> = (0..=(w / 3.0) as i32)
        .map(|i| {
            let t = i as f32 * 3.0;
            let env = (t / w * PI).sin();
            (
                x + t,
                y + a1 * env * (t * f1 + p1).sin() + a2 * (t * f2 + p2).sin() - t * 0.05,
            )
        })
        .collect();
    cv.polyline(&points, 2.2, [28, 40, 110], 0.9);
}

fn field(cv: &mut Canvas, x: f32, y: f32, label: &str, value: &str, label_color: Color, size: f32) {
    cv.text(x, y, 11.0, label, label_color);
    cv.text(x, y + 20.0, size, value, TEXT);
}

fn hologram(cv: &mut Canvas, cx: f32, cy: f32, r: f32, genuine: bool) {
    if !genuine {
        cv.ellipse(cx, cy, r, r, [150, 150, 150], 0.1);
        return;
    }
    const RAINBOW: [Color; 6] = [
        [255, 120, 200],
        [255, 230, 90],
        [120, 230, 120],
        [90, 220, 240],
        [110, 130, 255],
        [200, 110, 255],
    ];
    for (i, c) in RAINBOW.iter().enumerate() {
        let rr = r * (1.0 - i as f32 / 7.0);
        cv.ring_masked(cx, cy, rr, rr, r / 7.0, *c, 0.22, |_, _| 1.0);
    }
    let star: Vec<(f32, f32)> = (0..=10)
        .map(|k| {
            let a = k as f32 / 10.0 * TAU - PI / 2.0;
            let rr = if k % 2 == 0 { r * 0.55 } else { r * 0.25 };
            let (s, c) = a.sin_cos();
            (cx + rr * c, cy + rr * s)
        })
        .collect();
    cv.polyline(&star, 2.0, [220, 220, 235], 0.5);
}

fn ghost(cv: &mut Canvas, look: &Look, x: i32, y: i32, w: u32, h: u32, c: &Country) {
    let mut small = Canvas::new(w, h, WHITE);
    face::draw(
        &mut small,
        look,
        0.0,
        h as f32 * 0.05,
        w as f32,
        h as f32 * 0.95,
        0.0,
    );
    let (ink, paper) = (shade(c.band, 0.9), c.paper);
    cv.blit(&small.into_image(), x, y, 0.35, |p| {
        let lum = (0.3 * f32::from(p[0]) + 0.59 * f32::from(p[1]) + 0.11 * f32::from(p[2])) / 255.0;
        mix(ink, paper, lum)
    });
}

fn mrz_zone(cv: &mut Canvas, y0: f32, lines: &[String], advance: f32, size: f32, pitch: f32) {
    let (w, h) = (cv.width() as f32, cv.height() as f32);
    cv.fill_rect(0.0, y0, w, h, [246, 246, 240], 0.75);
    let chars = lines.iter().map(|l| l.len()).max().unwrap_or(0) as f32;
    let x = ((w - chars * advance) / 2.0).max(10.0);
    let block = pitch * (lines.len() as f32 - 1.0) + size;
    let mut y = y0 + ((h - y0) - block) / 2.0;
    for line in lines {
        cv.mono(x, y, advance, size, line, [18, 18, 22]);
        y += pitch;
    }
}

fn barcode(cv: &mut Canvas, x: f32, y: f32, w: f32, h: f32, seed: u64) {
    let mut r = Rng::new(seed ^ 0xBA2C);
    let rows = 10;
    let rh = h / rows as f32;
    cv.fill_rect(x - 6.0, y - 6.0, x + w + 6.0, y + h + 6.0, WHITE, 0.9);
    let module = 3.0;
    // PDF417-like start and stop patterns (module widths, bar first).
    let start = [8.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0];
    let stop = [7.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0, 1.0];
    let mut bx = x;
    for (i, m) in start.iter().enumerate() {
        if i % 2 == 0 {
            cv.fill_rect(bx, y, bx + m * module, y + h, [10, 10, 10], 1.0);
        }
        bx += m * module;
    }
    let stop_w: f32 = stop.iter().sum::<f32>() * module;
    let mut sx = x + w - stop_w;
    for (i, m) in stop.iter().enumerate() {
        if i % 2 == 0 {
            cv.fill_rect(sx, y, sx + m * module, y + h, [10, 10, 10], 1.0);
        }
        sx += m * module;
    }
    let (x, w) = (bx + 2.0 * module, w - (bx - x) - stop_w - 4.0 * module);
    for row in 0..rows {
        let mut cx = x;
        let mut black = true;
        while cx < x + w {
            let bw = (1 + r.below(4)) as f32 * module;
            if black {
                let end = (cx + bw).min(x + w);
                cv.fill_rect(
                    cx,
                    y + row as f32 * rh,
                    end,
                    y + (row + 1) as f32 * rh,
                    [10, 10, 10],
                    1.0,
                );
            }
            cx += bw;
            black = !black;
        }
    }
}

fn chip(cv: &mut Canvas, x: f32, y: f32) {
    let (w, h) = (110.0, 84.0);
    cv.fill_rect(x, y, x + w, y + h, [196, 160, 72], 1.0);
    cv.fill_rect(
        x + 4.0,
        y + 4.0,
        x + w - 4.0,
        y + h - 4.0,
        [222, 190, 104],
        1.0,
    );
    let line = [150, 118, 50];
    cv.line(
        x + w / 2.0,
        y + 4.0,
        x + w / 2.0,
        y + h - 4.0,
        2.0,
        line,
        1.0,
    );
    for k in 1..3 {
        let yy = y + h * k as f32 / 3.0;
        cv.line(x + 4.0, yy, x + w - 4.0, yy, 2.0, line, 1.0);
    }
}

fn label_color(c: &Country) -> Color {
    mix(c.band, [40, 40, 60], 0.3)
}

/// Front of an ID card: header, portrait, printed data, signature, hologram.
pub(crate) fn id_front(a: &DocArt) -> RgbImage {
    let (w, h) = CARD_SIZE;
    let c = a.country;
    let mut cv = Canvas::new(w, h, c.paper);
    let phase = (a.art_seed % 1000) as f32 / 159.0;
    paper(&mut cv, c, 96, phase);
    cv.fill_rect(0.0, 0.0, w as f32, 92.0, c.band, 1.0);
    cv.fill_rect(0.0, 92.0, w as f32, 97.0, mix(c.band, WHITE, 0.5), 1.0);
    cv.text(40.0, 18.0, 26.0, c.heading, WHITE);
    let title = format!("{} / IDENTITY CARD", a.title);
    cv.text(40.0, 58.0, 17.0, &title, mix(c.band, WHITE, 0.85));
    eu_emblem(&mut cv, 890.0, 14.0, &c.code[..c.code.len().min(3)]);

    portrait_box(&mut cv, a.photo, 40.0, 120.0, 270.0, 350.0, a.tampered);
    signature(&mut cv, 55.0, 530.0, 230.0, a.art_seed);

    let lc = label_color(c);
    let x = 350.0;
    field(&mut cv, x, 122.0, "SURNAME", &a.surname, lc, 24.0);
    field(&mut cv, x, 192.0, "GIVEN NAMES", &a.given_names, lc, 24.0);
    field(&mut cv, x, 262.0, "SEX", &a.sex.to_string(), lc, 22.0);
    field(
        &mut cv,
        x + 110.0,
        262.0,
        "NATIONALITY",
        a.nationality,
        lc,
        22.0,
    );
    field(
        &mut cv,
        x + 330.0,
        262.0,
        "DATE OF BIRTH",
        &a.birth,
        lc,
        22.0,
    );
    field(&mut cv, x, 332.0, "DOCUMENT NO", a.number, lc, 22.0);
    field(
        &mut cv,
        x + 330.0,
        332.0,
        "DATE OF EXPIRY",
        &a.expiry,
        lc,
        22.0,
    );
    if let Some(p) = a.personal {
        field(&mut cv, x, 402.0, "PERSONAL CODE", p, lc, 22.0);
    }
    // Card number in the top-right corner, as many cards print it.
    let nw = Canvas::text_width(18.0, a.number);
    cv.text(w as f32 - 40.0 - nw, 110.0, 18.0, a.number, [180, 30, 40]);

    ghost(&mut cv, a.look, 560, 470, 90, 120, c);
    hologram(&mut cv, 860.0, 520.0, 62.0, !a.tampered);
    cv.round_corners(32.0, TABLE);
    cv.into_image()
}

/// Back of an ID card: issue data, chip, barcode and the TD1 MRZ.
pub(crate) fn id_back(a: &DocArt) -> RgbImage {
    let (w, h) = CARD_SIZE;
    let c = a.country;
    let mut cv = Canvas::new(w, h, c.paper);
    let phase = (a.art_seed % 997) as f32 / 97.0;
    paper(&mut cv, c, 0, phase);
    let lc = label_color(c);
    field(&mut cv, 40.0, 40.0, "DATE OF ISSUE", &a.issue, lc, 22.0);
    field(&mut cv, 40.0, 110.0, "AUTHORITY", a.authority, lc, 22.0);
    if let Some(p) = a.personal {
        field(&mut cv, 40.0, 180.0, "PERSONAL CODE", p, lc, 22.0);
    }
    chip(&mut cv, 840.0, 40.0);
    barcode(&mut cv, 40.0, 262.0, 920.0, 100.0, a.art_seed);
    mrz_zone(&mut cv, 400.0, a.mrz, 30.0, 40.0, 62.0);
    cv.round_corners(32.0, TABLE);
    cv.into_image()
}

/// Passport data page with the TD3 MRZ at the bottom.
pub(crate) fn passport_page(a: &DocArt) -> RgbImage {
    let (w, h) = PASSPORT_PAGE_SIZE;
    let c = a.country;
    let mut cv = Canvas::new(w, h, c.paper);
    let phase = (a.art_seed % 991) as f32 / 113.0;
    paper(&mut cv, c, 0, phase);
    cv.text(40.0, 22.0, 24.0, c.heading, c.band);
    let title = format!("{} / PASSPORT", a.title);
    cv.text(40.0, 58.0, 16.0, &title, label_color(c));

    let lc = label_color(c);
    let x = 340.0;
    field(&mut cv, x, 96.0, "TYPE", "P", lc, 20.0);
    field(&mut cv, x + 90.0, 96.0, "CODE", c.code, lc, 20.0);
    field(&mut cv, x + 250.0, 96.0, "PASSPORT NO", a.number, lc, 20.0);
    field(&mut cv, x, 160.0, "SURNAME", &a.surname, lc, 24.0);
    field(&mut cv, x, 224.0, "GIVEN NAMES", &a.given_names, lc, 24.0);
    field(&mut cv, x, 288.0, "NATIONALITY", a.nationality, lc, 20.0);
    field(
        &mut cv,
        x + 250.0,
        288.0,
        "DATE OF BIRTH",
        &a.birth,
        lc,
        20.0,
    );
    field(&mut cv, x, 348.0, "SEX", &a.sex.to_string(), lc, 20.0);
    if let Some(p) = a.personal {
        field(&mut cv, x + 250.0, 348.0, "PERSONAL NO", p, lc, 20.0);
    }
    field(&mut cv, x, 408.0, "DATE OF ISSUE", &a.issue, lc, 20.0);
    field(
        &mut cv,
        x + 250.0,
        408.0,
        "AUTHORITY",
        a.authority,
        lc,
        20.0,
    );
    field(&mut cv, x, 468.0, "DATE OF EXPIRY", &a.expiry, lc, 20.0);

    portrait_box(&mut cv, a.photo, 40.0, 100.0, 260.0, 340.0, a.tampered);
    hologram(&mut cv, 268.0, 408.0, 44.0, !a.tampered);
    signature(&mut cv, 50.0, 500.0, 230.0, a.art_seed);
    ghost(&mut cv, a.look, 830, 160, 100, 130, c);
    mrz_zone(&mut cv, 560.0, a.mrz, 21.0, 34.0, 60.0);
    cv.into_image()
}

/// One photo session for a document: the person's look in that day's clothes, framed, lit and
/// exposed the way that photographer did it. Every document gets its own sitting (a new photo
/// when it is issued), within what a passport photo allows: a light plain backdrop, the head
/// centred and of about the same size.
pub(crate) struct Sitting {
    look: Look,
    backdrop: (Color, Color),
    /// Head offset (fractions of the width and height) and size (around 1.0).
    dx: f32,
    dy: f32,
    scale: f32,
    /// Exposure (around 1.0) and light from one side (-1 left .. 1 right).
    gain: f32,
    side: f32,
}

impl Sitting {
    /// A sitting of `look`, varied by `r` (the document's own stream).
    pub(crate) fn new(look: &Look, r: &mut Rng) -> Sitting {
        const BACKDROPS: [Color; 5] = [
            [230, 234, 238],
            [238, 238, 236],
            [214, 224, 236],
            [226, 226, 222],
            [204, 210, 218],
        ];
        let top = mix(
            *r.pick(&BACKDROPS),
            *r.pick(&BACKDROPS),
            r.range_f32(0.0, 1.0),
        );
        let bottom = shade(top, r.range_f32(0.84, 1.0));
        let mut look = look.clone();
        look.clothes = shade(*r.pick(&crate::people::CLOTHES), r.range_f32(0.7, 1.25));
        // Years apart, hair and glasses change too.
        if r.chance(0.4) {
            look.style = *r.pick(&face::HairStyle::ALL);
        }
        if r.chance(0.25) {
            look.glasses = !look.glasses;
        }
        Sitting {
            look,
            backdrop: (top, bottom),
            dx: r.range_f32(-0.07, 0.07),
            dy: r.range_f32(0.0, 0.05),
            scale: r.range_f32(0.9, 1.06),
            gain: r.range_f32(0.9, 1.06),
            side: r.range_f32(-0.25, 0.25),
        }
    }
}

/// The document's photo (what `portrait_image` carries as cropped from it, and what the front
/// page prints); one pixel when the pictures are not `drawn`.
pub(crate) fn portrait(s: &Sitting, drawn: bool) -> RgbImage {
    if !drawn {
        return RgbImage::new(1, 1);
    }
    let (w, h) = PORTRAIT_SIZE;
    let (wf, hf) = (w as f32, h as f32);
    let mut cv = Canvas::new(w, h, WHITE);
    portrait_background(&mut cv, s.backdrop, 0.0, 0.0, wf, hf);
    let (fw, fh) = (wf * s.scale, hf * 0.95 * s.scale);
    face::draw(
        &mut cv,
        &s.look,
        (wf - fw) / 2.0 + s.dx * wf,
        hf - fh + s.dy * hf,
        fw,
        fh,
        0.1,
    );
    let (gain, side) = (s.gain, s.side);
    cv.map(|x, _, p| {
        let k = gain * (1.0 + side * (x as f32 / wf - 0.5));
        p.map(|c| c * k)
    });
    cv.into_image()
}

/// A selfie frame from the liveness video: a room behind, the face closer, different light.
pub(crate) fn selfie(look: &Look, r: &mut Rng) -> RgbImage {
    const WALLS: [Color; 5] = [
        [214, 206, 190],
        [196, 210, 200],
        [200, 208, 222],
        [222, 212, 212],
        [186, 186, 194],
    ];
    let (w, h) = SELFIE_SIZE;
    let (wf, hf) = (w as f32, h as f32);
    let wall = *r.pick(&WALLS);
    let mut cv = Canvas::new(w, h, wall);
    cv.vgradient(0, 0, w, h, shade(wall, 1.04), shade(wall, 0.82));
    // A door or window frame and a picture on the wall.
    let dx = r.range_f32(0.0, wf * 0.7);
    let light = mix(wall, WHITE, 0.45);
    cv.fill_rect(dx, 40.0, dx + 150.0, hf, light, 1.0);
    cv.fill_rect(dx - 8.0, 32.0, dx, hf, shade(wall, 0.7), 1.0);
    cv.fill_rect(dx + 150.0, 32.0, dx + 158.0, hf, shade(wall, 0.7), 1.0);
    cv.fill_rect(dx - 8.0, 32.0, dx + 158.0, 40.0, shade(wall, 0.7), 1.0);
    let px = r.range_f32(10.0, wf - 130.0);
    cv.fill_rect(px, 70.0, px + 120.0, 160.0, [90, 70, 50], 1.0);
    cv.fill_rect(px + 8.0, 78.0, px + 112.0, 152.0, *r.pick(&WALLS), 1.0);

    let shift = r.range_f32(-30.0, 30.0);
    face::draw(
        &mut cv,
        look,
        20.0 + shift,
        60.0 + r.range_f32(0.0, 30.0),
        440.0,
        620.0,
        r.range_f32(0.5, 1.0),
    );

    // Lighting: side light, colour temperature and vignette.
    let side = r.range_f32(-0.35, 0.35);
    let tint = if r.chance(0.5) {
        [1.06, 1.0, 0.88]
    } else {
        [0.92, 0.98, 1.07]
    };
    let gain = r.range_f32(0.88, 1.05);
    let (cx, cy) = (wf / 2.0, hf * 0.45);
    let rr = 1.0 / (cx * cx + cy * cy);
    cv.map(|x, y, p| {
        let (fx, fy) = (x as f32 - cx, y as f32 - cy);
        let k = gain
            * (1.0 + side * (x as f32 / wf - 0.5) * 2.0)
            * (1.0 - 0.35 * (fx * fx + fy * fy) * rr);
        [p[0] * k * tint[0], p[1] * k * tint[1], p[2] * k * tint[2]]
    });
    cv.into_image()
}
