//! Raster drawing primitives on an RGB canvas (anti-aliased shapes, bitmap text) and JPEG output.

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;

use crate::font;

/// An sRGB colour.
pub(crate) type Color = [u8; 3];

/// JPEG quality used for every generated image.
pub(crate) const JPEG_QUALITY: u8 = 85;

/// Multiplies a colour by `k` (darker below 1, lighter above).
pub(crate) fn shade(c: Color, k: f32) -> Color {
    c.map(|v| (f32::from(v) * k).round().clamp(0.0, 255.0) as u8)
}

/// Linear mix: `t = 0` gives `a`, `t = 1` gives `b`.
pub(crate) fn mix(a: Color, b: Color, t: f32) -> Color {
    let mut out = [0u8; 3];
    for i in 0..3 {
        let v = f32::from(a[i]) + (f32::from(b[i]) - f32::from(a[i])) * t;
        out[i] = v.round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// Overlap of the pixel span `[p, p + 1)` with `[a, b)`.
fn overlap(p: i32, a: f32, b: f32) -> f32 {
    let p = p as f32;
    (b.min(p + 1.0) - a.max(p)).clamp(0.0, 1.0)
}

/// Distance from `(px, py)` to the segment `a`-`b`.
fn segment_distance(px: f32, py: f32, ax: f32, ay: f32, bx: f32, by: f32) -> f32 {
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
    (qx * qx + qy * qy).sqrt()
}

/// An RGB image being drawn on.
pub(crate) struct Canvas {
    img: RgbImage,
}

impl Canvas {
    pub(crate) fn new(width: u32, height: u32, background: Color) -> Canvas {
        Canvas {
            img: RgbImage::from_pixel(width, height, image::Rgb(background)),
        }
    }

    pub(crate) fn width(&self) -> u32 {
        self.img.width()
    }

    pub(crate) fn height(&self) -> u32 {
        self.img.height()
    }

    pub(crate) fn into_image(self) -> RgbImage {
        self.img
    }

    /// Blends colour `c` with opacity `a` (0..1) into one pixel; outside pixels are ignored.
    #[inline]
    pub(crate) fn blend(&mut self, x: i32, y: i32, c: Color, a: f32) {
        if a <= 0.0 || x < 0 || y < 0 || x >= self.width() as i32 || y >= self.height() as i32 {
            return;
        }
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        if a >= 1.0 {
            p.0 = c;
            return;
        }
        for (dst, src) in p.0.iter_mut().zip(c) {
            let d = f32::from(*dst);
            *dst = (d + (f32::from(src) - d) * a + 0.5) as u8;
        }
    }

    /// Clamped integer pixel range covering `[a, b)`.
    fn span(a: f32, b: f32, limit: u32) -> (i32, i32) {
        let lo = (a.floor() as i32).max(0);
        let hi = (b.ceil() as i32).min(limit as i32);
        (lo, hi)
    }

    /// Anti-aliased axis-aligned rectangle `[x0, x1) × [y0, y1)`.
    pub(crate) fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Color, alpha: f32) {
        let (xs, xe) = Self::span(x0, x1, self.width());
        let (ys, ye) = Self::span(y0, y1, self.height());
        for py in ys..ye {
            let cy = overlap(py, y0, y1);
            for px in xs..xe {
                self.blend(px, py, c, alpha * cy * overlap(px, x0, x1));
            }
        }
    }

    /// Vertical gradient over a rectangle (integer bounds).
    pub(crate) fn vgradient(
        &mut self,
        x0: u32,
        y0: u32,
        x1: u32,
        y1: u32,
        top: Color,
        bottom: Color,
    ) {
        let (x1, y1) = (x1.min(self.width()), y1.min(self.height()));
        let h = (y1.saturating_sub(y0)).max(1) as f32;
        for y in y0..y1 {
            let c = mix(top, bottom, (y - y0) as f32 / h);
            for x in x0..x1 {
                self.img.put_pixel(x, y, image::Rgb(c));
            }
        }
    }

    /// Anti-aliased filled ellipse whose coverage is further multiplied by `mask(x, y)`
    /// (pixel centre coordinates, result 0..1).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ellipse_masked(
        &mut self,
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        c: Color,
        alpha: f32,
        mask: impl Fn(f32, f32) -> f32,
    ) {
        if rx <= 0.0 || ry <= 0.0 {
            return;
        }
        let rmin = rx.min(ry).max(0.5);
        let inner = (1.0 - 1.0 / rmin).max(0.0).powi(2);
        let outer = (1.0 + 1.0 / rmin).powi(2);
        let (xs, xe) = Self::span(cx - rx - 1.0, cx + rx + 1.0, self.width());
        let (ys, ye) = Self::span(cy - ry - 1.0, cy + ry + 1.0, self.height());
        for py in ys..ye {
            let fy = py as f32 + 0.5;
            let ny = (fy - cy) / ry;
            for px in xs..xe {
                let fx = px as f32 + 0.5;
                let nx = (fx - cx) / rx;
                let f = nx * nx + ny * ny;
                let cov = if f <= inner {
                    1.0
                } else if f >= outer {
                    continue;
                } else {
                    // Signed distance to the boundary, first order.
                    let d = f.sqrt();
                    let g = ((nx / rx).powi(2) + (ny / ry).powi(2)).sqrt() / d.max(1e-6);
                    ((1.0 - d) / g.max(1e-6) + 0.5).clamp(0.0, 1.0)
                };
                let m = mask(fx, fy);
                if m > 0.0 {
                    self.blend(px, py, c, alpha * cov * m.min(1.0));
                }
            }
        }
    }

    pub(crate) fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: Color, alpha: f32) {
        self.ellipse_masked(cx, cy, rx, ry, c, alpha, |_, _| 1.0);
    }

    /// Anti-aliased elliptical outline of the given stroke width, coverage times `mask`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ring_masked(
        &mut self,
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        width: f32,
        c: Color,
        alpha: f32,
        mask: impl Fn(f32, f32) -> f32,
    ) {
        let half = width / 2.0;
        let (xs, xe) = Self::span(cx - rx - half - 1.0, cx + rx + half + 1.0, self.width());
        let (ys, ye) = Self::span(cy - ry - half - 1.0, cy + ry + half + 1.0, self.height());
        for py in ys..ye {
            let fy = py as f32 + 0.5;
            let ny = (fy - cy) / ry;
            for px in xs..xe {
                let fx = px as f32 + 0.5;
                let nx = (fx - cx) / rx;
                let d = (nx * nx + ny * ny).sqrt();
                let g = ((nx / rx).powi(2) + (ny / ry).powi(2)).sqrt() / d.max(1e-6);
                let dist = ((1.0 - d) / g.max(1e-6)).abs();
                let cov = (half - dist + 0.5).clamp(0.0, 1.0);
                if cov > 0.0 {
                    let m = mask(fx, fy);
                    self.blend(px, py, c, alpha * cov * m.min(1.0));
                }
            }
        }
    }

    /// Anti-aliased line segment with round caps.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn line(
        &mut self,
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        width: f32,
        c: Color,
        alpha: f32,
    ) {
        let half = width / 2.0;
        let (xs, xe) = Self::span(
            x0.min(x1) - half - 1.0,
            x0.max(x1) + half + 1.0,
            self.width(),
        );
        let (ys, ye) = Self::span(
            y0.min(y1) - half - 1.0,
            y0.max(y1) + half + 1.0,
            self.height(),
        );
        for py in ys..ye {
            for px in xs..xe {
                let d = segment_distance(px as f32 + 0.5, py as f32 + 0.5, x0, y0, x1, y1);
                let cov = (half - d + 0.5).clamp(0.0, 1.0);
                self.blend(px, py, c, alpha * cov);
            }
        }
    }

    /// Polyline through `points`, drawn into a coverage mask first so joints do not darken.
    pub(crate) fn polyline(&mut self, points: &[(f32, f32)], width: f32, c: Color, alpha: f32) {
        if points.len() < 2 {
            return;
        }
        let half = width / 2.0;
        let minx = points.iter().map(|p| p.0).fold(f32::MAX, f32::min) - half - 1.0;
        let maxx = points.iter().map(|p| p.0).fold(f32::MIN, f32::max) + half + 1.0;
        let miny = points.iter().map(|p| p.1).fold(f32::MAX, f32::min) - half - 1.0;
        let maxy = points.iter().map(|p| p.1).fold(f32::MIN, f32::max) + half + 1.0;
        let (xs, xe) = Self::span(minx, maxx, self.width());
        let (ys, ye) = Self::span(miny, maxy, self.height());
        if xs >= xe || ys >= ye {
            return;
        }
        let mw = (xe - xs) as usize;
        let mut mask = vec![0f32; mw * (ye - ys) as usize];
        for seg in points.windows(2) {
            let ((ax, ay), (bx, by)) = (seg[0], seg[1]);
            let (sx, ex) = Self::span(
                ax.min(bx) - half - 1.0,
                ax.max(bx) + half + 1.0,
                self.width(),
            );
            let (sy, ey) = Self::span(
                ay.min(by) - half - 1.0,
                ay.max(by) + half + 1.0,
                self.height(),
            );
            for py in sy.max(ys)..ey.min(ye) {
                for px in sx.max(xs)..ex.min(xe) {
                    let d = segment_distance(px as f32 + 0.5, py as f32 + 0.5, ax, ay, bx, by);
                    let cov = (half - d + 0.5).clamp(0.0, 1.0);
                    let m = &mut mask[(py - ys) as usize * mw + (px - xs) as usize];
                    *m = m.max(cov);
                }
            }
        }
        self.apply_mask(xs, ys, mw, &mask, c, alpha);
    }

    fn apply_mask(&mut self, x0: i32, y0: i32, mw: usize, mask: &[f32], c: Color, alpha: f32) {
        for (i, &m) in mask.iter().enumerate() {
            if m > 0.0 {
                let x = x0 + (i % mw) as i32;
                let y = y0 + (i / mw) as i32;
                self.blend(x, y, c, alpha * m.min(1.0));
            }
        }
    }

    /// A horizontal curve `y = y_of(x)` from `x0` to `x1`, drawn column by column
    /// (one evaluation of `y_of` per column, no per-pixel trigonometry).
    pub(crate) fn wave(
        &mut self,
        x0: i32,
        x1: i32,
        y_of: impl Fn(f32) -> f32,
        width: f32,
        c: Color,
        alpha: f32,
    ) {
        let half = width / 2.0;
        let mut prev = y_of(x0 as f32 - 0.5);
        let mut cur = y_of(x0 as f32 + 0.5);
        for px in x0.max(0)..x1.min(self.width() as i32) {
            let next = y_of(px as f32 + 1.5);
            let slope = (next - prev) / 2.0;
            let h = half * (1.0 + slope * slope).sqrt();
            let lo = (cur - h - 1.0).floor() as i32;
            let hi = (cur + h + 1.0).ceil() as i32;
            for py in lo..=hi {
                let d = (py as f32 + 0.5 - cur).abs();
                let cov = (h - d + 0.5).clamp(0.0, 1.0);
                self.blend(px, py, c, alpha * cov);
            }
            prev = cur;
            cur = next;
        }
    }

    /// Draws `text` with the bitmap font; `(x, y)` is the top-left of the capital letters,
    /// each font pixel is `sx × sy` image pixels. Returns the x after the last glyph.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn glyphs(
        &mut self,
        x: f32,
        y: f32,
        sx: f32,
        sy: f32,
        text: &str,
        c: Color,
        alpha: f32,
    ) -> f32 {
        let n = text.chars().count() as f32;
        if n == 0.0 {
            return x;
        }
        let total_w = n * font::ADVANCE as f32 * sx;
        let (xs, xe) = Self::span(x - 1.0, x + total_w + 1.0, self.width());
        let (ys, ye) = Self::span(y - 2.5 * sy - 1.0, y + 9.5 * sy + 1.0, self.height());
        if xs >= xe || ys >= ye {
            return x + total_w;
        }
        let mw = (xe - xs) as usize;
        let mut mask = vec![0f32; mw * (ye - ys) as usize];
        let mut add_rect = |rx0: f32, ry0: f32, rx1: f32, ry1: f32| {
            let (sx0, ex0) = Self::span(rx0, rx1, xe as u32);
            let (sy0, ey0) = Self::span(ry0, ry1, ye as u32);
            for py in sy0.max(ys)..ey0 {
                let cy = overlap(py, ry0, ry1);
                for px in sx0.max(xs)..ex0 {
                    mask[(py - ys) as usize * mw + (px - xs) as usize] +=
                        cy * overlap(px, rx0, rx1);
                }
            }
        };
        let mut gx = x;
        for ch in text.chars() {
            if let Some(g) = font::glyph(ch) {
                let rows = g
                    .above
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (i as f32 - 2.25, *r))
                    .chain(g.rows.iter().enumerate().map(|(i, r)| (i as f32, *r)))
                    .chain(
                        g.below
                            .iter()
                            .enumerate()
                            .map(|(i, r)| (i as f32 + 7.2, *r)),
                    );
                for (row, bits) in rows {
                    // Merge runs of set bits into one rectangle.
                    let mut col = 0;
                    while col < font::WIDTH {
                        if bits & (1 << (font::WIDTH - 1 - col)) == 0 {
                            col += 1;
                            continue;
                        }
                        let start = col;
                        while col < font::WIDTH && bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                            col += 1;
                        }
                        add_rect(
                            gx + start as f32 * sx,
                            y + row * sy,
                            gx + col as f32 * sx,
                            y + (row + 1.0) * sy,
                        );
                    }
                }
            }
            gx += font::ADVANCE as f32 * sx;
        }
        self.apply_mask(xs, ys, mw, &mask, c, alpha);
        gx
    }

    /// Text with capital height `size` pixels (square font pixels). Returns the end x.
    pub(crate) fn text(&mut self, x: f32, y: f32, size: f32, text: &str, c: Color) -> f32 {
        let s = size / font::HEIGHT as f32;
        self.glyphs(x, y, s, s, text, c, 1.0)
    }

    /// Width in pixels of `text` at capital height `size`.
    pub(crate) fn text_width(size: f32, text: &str) -> f32 {
        font::text_columns(text) as f32 * size / font::HEIGHT as f32
    }

    /// Monospaced text: every character cell is `advance` pixels wide, capitals `size` high.
    pub(crate) fn mono(&mut self, x: f32, y: f32, advance: f32, size: f32, text: &str, c: Color) {
        let sx = advance / font::ADVANCE as f32;
        let sy = size / font::HEIGHT as f32;
        self.glyphs(x, y, sx, sy, text, c, 1.0);
    }

    /// Replaces the outside of rounded corners (radius `r`) with `outside`.
    pub(crate) fn round_corners(&mut self, r: f32, outside: Color) {
        let (w, h) = (self.width() as f32, self.height() as f32);
        let centres = [(r, r), (w - r, r), (r, h - r), (w - r, h - r)];
        let ri = r.ceil() as i32;
        for (i, &(cx, cy)) in centres.iter().enumerate() {
            let x0 = if i % 2 == 0 {
                0
            } else {
                self.width() as i32 - ri
            };
            let y0 = if i < 2 { 0 } else { self.height() as i32 - ri };
            for py in y0..y0 + ri {
                for px in x0..x0 + ri {
                    let (dx, dy) = (px as f32 + 0.5 - cx, py as f32 + 0.5 - cy);
                    let inside_quadrant = (if i % 2 == 0 { dx <= 0.0 } else { dx >= 0.0 })
                        && (if i < 2 { dy <= 0.0 } else { dy >= 0.0 });
                    if !inside_quadrant {
                        continue;
                    }
                    let d = (dx * dx + dy * dy).sqrt();
                    let cov = (d - r + 0.5).clamp(0.0, 1.0);
                    self.blend(px, py, outside, cov);
                }
            }
        }
    }

    /// Applies `f(x, y, rgb) -> rgb` to every pixel.
    pub(crate) fn map(&mut self, f: impl Fn(u32, u32, [f32; 3]) -> [f32; 3]) {
        for (x, y, p) in self.img.enumerate_pixels_mut() {
            let v = f(x, y, p.0.map(f32::from));
            p.0 = v.map(|c| c.round().clamp(0.0, 255.0) as u8);
        }
    }

    /// Copies `src` onto the canvas at `(x, y)` with opacity `alpha`, after `tint(rgb)`.
    pub(crate) fn blit(
        &mut self,
        src: &RgbImage,
        x: i32,
        y: i32,
        alpha: f32,
        tint: impl Fn(Color) -> Color,
    ) {
        for (sx, sy, p) in src.enumerate_pixels() {
            self.blend(x + sx as i32, y + sy as i32, tint(p.0), alpha);
        }
    }
}

/// Encodes an image as a baseline JPEG at [`JPEG_QUALITY`].
pub(crate) fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::with_capacity((img.width() * img.height() / 6) as usize);
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(img)
        .expect("encoding an in-memory RGB image as JPEG cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_paint_pixels() {
        let mut c = Canvas::new(64, 64, [255, 255, 255]);
        c.ellipse(32.0, 32.0, 10.0, 6.0, [0, 0, 0], 1.0);
        c.text(2.0, 2.0, 7.0, "A", [255, 0, 0]);
        c.line(0.0, 60.0, 63.0, 60.0, 2.0, [0, 0, 255], 1.0);
        let img = c.into_image();
        assert_eq!(img.get_pixel(32, 32).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(32, 20).0, [255, 255, 255]);
        // Row 0 of 'A' is .###. : column 2 is set, column 0 is not.
        assert_eq!(img.get_pixel(4, 2).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(2, 2).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(10, 60).0, [0, 0, 255]);
        let bytes = jpeg(&img);
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    }
}
