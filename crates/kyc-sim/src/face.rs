//! Stylised, person-specific faces: the same `Look` always draws a recognisably similar face.

use crate::draw::{mix, shade, Canvas, Color};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HairStyle {
    Short,
    Long,
    Bob,
    Bun,
    Curly,
    Receding,
}

impl HairStyle {
    /// Every style.
    pub(crate) const ALL: [HairStyle; 6] = [
        HairStyle::Short,
        HairStyle::Long,
        HairStyle::Bob,
        HairStyle::Bun,
        HairStyle::Curly,
        HairStyle::Receding,
    ];
}

/// Everything that makes a face look like one person.
#[derive(Clone, Debug)]
pub(crate) struct Look {
    pub skin: Color,
    pub hair: Color,
    pub eyes: Color,
    pub style: HairStyle,
    pub beard: bool,
    pub glasses: bool,
    /// Proportions around 1.0.
    pub face_w: f32,
    pub face_h: f32,
    pub eye_gap: f32,
    pub nose: f32,
    pub mouth: f32,
    pub brow: f32,
    pub clothes: Color,
}

fn soft_step(v: f32) -> f32 {
    (v + 0.5).clamp(0.0, 1.0)
}

/// Draws head and shoulders of `look` into the box `(x, y, w, h)`; `smile` 0..1.
pub(crate) fn draw(cv: &mut Canvas, look: &Look, x: f32, y: f32, w: f32, h: f32, smile: f32) {
    let u = w.min(h * 0.75);
    let cx = x + w / 2.0;
    let cy = y + h * 0.42;
    let rx = u * 0.27 * look.face_w;
    let ry = u * 0.36 * look.face_h;
    let skin = look.skin;
    let hair = look.hair;
    let bottom = y + h;

    // Hair behind the head.
    match look.style {
        HairStyle::Long => cv.ellipse_masked(
            cx,
            cy + ry * 0.45,
            rx * 1.34,
            ry * 1.45,
            hair,
            1.0,
            |_, py| soft_step(bottom - 2.0 - py),
        ),
        HairStyle::Bob => cv.ellipse(cx, cy + ry * 0.02, rx * 1.27, ry * 1.1, hair, 1.0),
        HairStyle::Curly => cv.ellipse(cx, cy - ry * 0.05, rx * 1.35, ry * 1.12, hair, 1.0),
        _ => {}
    }

    // Shoulders and neck.
    cv.ellipse_masked(
        cx,
        bottom + h * 0.02,
        u * 0.62,
        h * 0.27,
        look.clothes,
        1.0,
        |_, py| soft_step(bottom - py),
    );
    let neck = shade(skin, 0.9);
    cv.fill_rect(
        cx - rx * 0.42,
        cy + ry * 0.5,
        cx + rx * 0.42,
        bottom - h * 0.2,
        neck,
        1.0,
    );
    cv.ellipse(cx, bottom - h * 0.2, rx * 0.42, h * 0.06, neck, 1.0);
    cv.ellipse(
        cx,
        cy + ry * 0.93,
        rx * 0.5,
        ry * 0.16,
        shade(skin, 0.75),
        0.55,
    );

    // Ears, then the head.
    for side in [-1.0f32, 1.0] {
        cv.ellipse(
            cx + side * rx * 0.97,
            cy + ry * 0.02,
            rx * 0.15,
            ry * 0.19,
            shade(skin, 0.93),
            1.0,
        );
    }
    cv.ellipse(cx, cy, rx, ry, skin, 1.0);
    // Soft shading on one side of the face and blush on the cheeks.
    cv.ellipse_masked(cx, cy, rx, ry, shade(skin, 0.85), 0.35, |px, _| {
        ((px - (cx + rx * 0.55)) / (rx * 0.45)).clamp(0.0, 1.0)
    });
    for side in [-1.0f32, 1.0] {
        cv.ellipse(
            cx + side * rx * 0.5,
            cy + ry * 0.3,
            rx * 0.2,
            ry * 0.1,
            mix(skin, [220, 90, 90], 0.5),
            0.12,
        );
    }

    // Hair on top of the head.
    let cap = |hl: f32, spread: f32| {
        move |px: f32, py: f32| {
            let dx = (px - cx) / rx;
            soft_step(cy - ry * hl + dx * dx * ry * spread - py)
        }
    };
    match look.style {
        HairStyle::Receding => {
            // Hair only at the sides and back: a bald crown.
            cv.ellipse_masked(
                cx,
                cy - ry * 0.06,
                rx * 1.05,
                ry * 0.98,
                hair,
                1.0,
                |px, py| {
                    let side = ((px - cx).abs() - rx * 0.62).max(0.0) / 1.5;
                    side.min(1.0)
                        * soft_step(py - (cy - ry * 0.75))
                        * soft_step(cy - ry * 0.12 - py)
                },
            );
        }
        HairStyle::Bun => {
            cv.ellipse(cx, cy - ry * 1.08, rx * 0.4, ry * 0.28, hair, 1.0);
            cv.ellipse_masked(
                cx,
                cy - ry * 0.08,
                rx * 1.06,
                ry * 1.0,
                hair,
                1.0,
                cap(0.55, 0.6),
            );
        }
        HairStyle::Curly => {
            cv.ellipse_masked(
                cx,
                cy - ry * 0.1,
                rx * 1.12,
                ry * 1.04,
                hair,
                1.0,
                cap(0.45, 0.5),
            );
            for k in 0..15 {
                let a = std::f32::consts::PI * (1.05 + 0.9 * k as f32 / 14.0);
                let (s, c) = a.sin_cos();
                cv.ellipse(
                    cx + c * rx * 1.12,
                    cy - ry * 0.1 + s * ry * 1.02,
                    rx * 0.2,
                    rx * 0.2,
                    hair,
                    1.0,
                );
            }
        }
        HairStyle::Short => {
            cv.ellipse_masked(
                cx,
                cy - ry * 0.1,
                rx * 1.05,
                ry * 0.97,
                hair,
                1.0,
                cap(0.55, 0.22),
            );
        }
        HairStyle::Long | HairStyle::Bob => {
            cv.ellipse_masked(
                cx,
                cy - ry * 0.1,
                rx * 1.08,
                ry * 1.0,
                hair,
                1.0,
                cap(0.5, 0.6),
            );
            let low = if look.style == HairStyle::Long {
                0.95
            } else {
                0.55
            };
            cv.ellipse_masked(
                cx,
                cy + ry * 0.1,
                rx * 1.12,
                ry * 1.05,
                hair,
                1.0,
                |px, py| {
                    let side = ((px - cx).abs() - rx * 0.8).max(0.0);
                    let top = soft_step(cy + ry * low - py);
                    (side / 1.5).min(1.0) * top
                },
            );
        }
    }

    // Eyes and brows.
    let ey = cy - ry * 0.05;
    let ex = rx * 0.4 * look.eye_gap;
    let (ew, eh) = (rx * 0.17, ry * 0.075);
    let brow_color = if look.hair.iter().map(|&v| u32::from(v)).sum::<u32>() > 500 {
        shade(look.hair, 0.7)
    } else {
        shade(look.hair, 0.85)
    };
    for side in [-1.0f32, 1.0] {
        let ex = cx + side * ex;
        cv.ellipse(ex, ey, ew, eh, [246, 244, 240], 1.0);
        let inside = |px: f32, py: f32| {
            let (nx, ny) = ((px - ex) / ew, (py - ey) / eh);
            soft_step((1.0 - (nx * nx + ny * ny)) * eh)
        };
        cv.ellipse_masked(ex, ey, eh * 0.95, eh * 0.95, look.eyes, 1.0, inside);
        cv.ellipse(ex, ey, eh * 0.42, eh * 0.42, [20, 16, 16], 1.0);
        cv.ellipse(
            ex - eh * 0.3,
            ey - eh * 0.3,
            eh * 0.18,
            eh * 0.18,
            [255, 255, 255],
            0.9,
        );
        cv.ring_masked(
            ex,
            ey,
            ew,
            eh,
            (ry * 0.018).max(1.2),
            shade(skin, 0.45),
            1.0,
            |_, py| soft_step(ey - py),
        );
        let bw = rx * 0.2;
        let (outer_y, inner_y) = (ey - ry * 0.16, ey - ry * 0.2);
        let (left_y, right_y) = if side < 0.0 {
            (outer_y, inner_y)
        } else {
            (inner_y, outer_y)
        };
        cv.line(
            ex - bw,
            left_y,
            ex + bw,
            right_y,
            ry * 0.04 * look.brow,
            brow_color,
            1.0,
        );
    }

    // Nose.
    let nose_len = ry * 0.32 * look.nose;
    let nose_color = shade(skin, 0.78);
    cv.ellipse(
        cx + rx * 0.05,
        ey + nose_len * 0.55,
        rx * 0.045,
        nose_len * 0.5,
        nose_color,
        0.35,
    );
    cv.ellipse(
        cx,
        ey + nose_len * 0.98,
        rx * 0.11,
        ry * 0.045,
        shade(skin, 0.9),
        0.6,
    );
    for side in [-1.0f32, 1.0] {
        cv.ellipse(
            cx + side * rx * 0.09,
            ey + nose_len + ry * 0.02,
            rx * 0.05,
            ry * 0.022,
            shade(skin, 0.6),
            0.6,
        );
    }

    // Beard, then mouth.
    let my = cy + ry * 0.5;
    let mw = rx * 0.3 * look.mouth;
    if look.beard {
        cv.ellipse_masked(cx, cy, rx * 1.01, ry * 1.01, hair, 0.9, |px, py| {
            let dx = (px - cx) / rx;
            soft_step(py - (cy + ry * 0.34 - dx * dx * ry * 0.12))
        });
        cv.ellipse(cx, my - ry * 0.09, mw * 1.1, ry * 0.055, hair, 0.95);
    }
    let lips = mix(skin, [180, 60, 70], 0.45);
    cv.ellipse(cx, my, mw, ry * 0.06, lips, 1.0);
    let lift = smile * ry * 0.05;
    cv.polyline(
        &[
            (cx - mw * 0.95, my - lift),
            (cx - mw * 0.45, my + lift * 0.35),
            (cx, my + lift * 0.5),
            (cx + mw * 0.45, my + lift * 0.35),
            (cx + mw * 0.95, my - lift),
        ],
        (ry * 0.018).max(1.2),
        shade(lips, 0.55),
        1.0,
    );

    if look.glasses {
        let frame = [35, 35, 40];
        for side in [-1.0f32, 1.0] {
            cv.ring_masked(
                cx + side * ex,
                ey,
                rx * 0.26,
                ry * 0.13,
                (ry * 0.022).max(1.5),
                frame,
                1.0,
                |_, _| 1.0,
            );
        }
        cv.line(
            cx - ex + rx * 0.26,
            ey,
            cx + ex - rx * 0.26,
            ey,
            (ry * 0.02).max(1.5),
            frame,
            1.0,
        );
    }
}
