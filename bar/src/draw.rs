//! Drawing the strip: chips as filled rectangles, text through the system's
//! fonts (cosmic-text: fontconfig, shaping, rasterising), into a tiny-skia
//! pixmap that becomes the surface's `ARGB8888` buffer.

use cosmic_text::{Attrs, Buffer, Color, FontSystem, Metrics, Shaping, SwashCache};
use tiny_skia::{Paint, Pixmap, Rect, Transform};

use crate::model::{
    Chip, Rgb, Snapshot, Target, BACKGROUND, HEIGHT, IDLE_CHIP, STRIPE, TEXT, WAITING,
};

/// The text's size and line height, in pixels.
const FONT: Metrics = Metrics::new(14.0, 18.0);
/// Space above and below a chip.
const INSET: u32 = 3;

/// The fonts and the glyph cache, kept across frames.
pub struct Painter {
    fonts: FontSystem,
    glyphs: SwashCache,
}

impl Default for Painter {
    fn default() -> Painter {
        Painter::new()
    }
}

impl Painter {
    /// Loads the system's fonts.
    pub fn new() -> Painter {
        Painter {
            fonts: FontSystem::new(),
            glyphs: SwashCache::new(),
        }
    }

    fn shape(&mut self, text: &str) -> Buffer {
        let mut buffer = Buffer::new(&mut self.fonts, FONT);
        buffer.set_size(&mut self.fonts, None, None);
        buffer.set_text(
            &mut self.fonts,
            text,
            &Attrs::new(),
            Shaping::Advanced,
            None,
        );
        buffer.shape_until_scroll(&mut self.fonts, false);
        buffer
    }

    /// How wide `text` is, in pixels.
    pub fn measure(&mut self, text: &str) -> u32 {
        let buffer = self.shape(text);
        let width = buffer.layout_runs().map(|r| r.line_w).fold(0.0, f32::max);
        width.ceil() as u32
    }

    /// The strip `width` wide with `chips` of `snapshot` on it.
    pub fn draw(&mut self, snapshot: &Snapshot, chips: &[Chip], width: u32) -> Pixmap {
        let mut pixmap = Pixmap::new(width.max(1), HEIGHT).expect("a non-empty strip");
        pixmap.fill(colour(BACKGROUND));
        for chip in chips {
            let (fill, ink, stripe) = match &chip.target {
                Target::Desktop(name) => {
                    let desktop = snapshot.desktops.iter().find(|d| &d.name == name);
                    let c = desktop.map_or(IDLE_CHIP, |d| d.colour);
                    if *name == snapshot.shown {
                        (Some(c), c.text_on(), None)
                    } else {
                        (Some(IDLE_CHIP), TEXT, Some(c))
                    }
                }
                Target::Quarantine => match snapshot.waiting {
                    Some(n) if n > 0 => (Some(WAITING), WAITING.text_on(), None),
                    _ => (Some(IDLE_CHIP), TEXT, None),
                },
                Target::Clock => (None, TEXT, None),
            };
            let body = (chip.x, INSET, chip.width, HEIGHT - 2 * INSET);
            if let Some(fill) = fill {
                fill_rect(&mut pixmap, body, fill);
            }
            if let Some(stripe) = stripe {
                let (x, y, w, h) = body;
                fill_rect(&mut pixmap, (x, y + h - STRIPE, w, STRIPE), stripe);
            }
            self.text(&mut pixmap, &chip.text, chip.x + crate::model::PAD, ink);
        }
        pixmap
    }

    /// Writes `text` at `x`, centred in the strip's height.
    fn text(&mut self, pixmap: &mut Pixmap, text: &str, x: u32, ink: Rgb) {
        let buffer = self.shape(text);
        let top = (HEIGHT as f32 - FONT.line_height) / 2.0;
        let (w, h) = (pixmap.width() as i32, pixmap.height() as i32);
        let Rgb(r, g, b) = ink;
        let data = pixmap.data_mut();
        buffer.draw(
            &mut self.fonts,
            &mut self.glyphs,
            Color::rgb(r, g, b),
            |gx, gy, gw, gh, color| {
                let alpha = u32::from(color.a());
                if alpha == 0 {
                    return;
                }
                for py in gy..gy + gh as i32 {
                    for px in gx..gx + gw as i32 {
                        let (sx, sy) = (x as i32 + px, top as i32 + py);
                        if sx < 0 || sy < 0 || sx >= w || sy >= h {
                            continue;
                        }
                        let i = 4 * (sy * w + sx) as usize;
                        // Source over on a premultiplied, opaque pixel.
                        for (k, channel) in
                            [color.r(), color.g(), color.b()].into_iter().enumerate()
                        {
                            let under = u32::from(data[i + k]);
                            data[i + k] =
                                ((u32::from(channel) * alpha + under * (255 - alpha)) / 255) as u8;
                        }
                        data[i + 3] = 255;
                    }
                }
            },
        );
    }
}

fn colour(Rgb(r, g, b): Rgb) -> tiny_skia::Color {
    tiny_skia::Color::from_rgba8(r, g, b, 255)
}

fn fill_rect(pixmap: &mut Pixmap, (x, y, w, h): (u32, u32, u32, u32), c: Rgb) {
    let Some(rect) = Rect::from_xywh(x as f32, y as f32, w as f32, h as f32) else {
        return;
    };
    let mut paint = Paint::default();
    paint.set_color(colour(c));
    paint.anti_alias = false;
    pixmap.fill_rect(rect, &paint, Transform::identity(), None);
}

/// The pixmap's pixels as Wayland's `ARGB8888` (little-endian B, G, R, A),
/// into `out` (as long as the pixmap's data).
pub fn to_argb8888(pixmap: &Pixmap, out: &mut [u8]) {
    for (src, dst) in pixmap.data().chunks_exact(4).zip(out.chunks_exact_mut(4)) {
        dst.copy_from_slice(&[src[2], src[1], src[0], src[3]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{layout, Desktop};

    #[test]
    fn the_shown_desktop_is_filled_with_its_colour_the_others_carry_a_stripe() {
        let work = Rgb(0x34, 0x65, 0xa4);
        let gaming = Rgb(0xcc, 0x00, 0x00);
        let snapshot = Snapshot {
            desktops: vec![
                Desktop {
                    name: "work".into(),
                    colour: work,
                    state: "running".into(),
                    locked: false,
                },
                Desktop {
                    name: "gaming".into(),
                    colour: gaming,
                    state: "running".into(),
                    locked: false,
                },
            ],
            shown: "work".into(),
            waiting: Some(3),
        };
        let mut painter = Painter::new();
        let chips = layout(&snapshot, "Wed 10:00", 600, |t| painter.measure(t));
        assert!(chips[0].width > 2 * crate::model::PAD, "text has a width");
        let pixmap = painter.draw(&snapshot, &chips, 600);
        let at = |x: u32, y: u32| {
            let p = pixmap.pixel(x, y).expect("inside");
            Rgb(p.red(), p.green(), p.blue())
        };
        // A corner of each chip, away from its text.
        assert_eq!(at(chips[0].x + 1, INSET + 1), work);
        assert_eq!(at(chips[1].x + 1, INSET + 1), IDLE_CHIP);
        assert_eq!(at(chips[1].x + 1, HEIGHT - INSET - 1), gaming);
        assert_eq!(at(chips[3].x + 1, INSET + 1), WAITING);
        assert_eq!(at(1, 1), BACKGROUND);
        // The text is drawn: the middle of the shown chip holds ink.
        let row = HEIGHT / 2;
        let inked = (chips[0].x..chips[0].x + chips[0].width).any(|x| at(x, row) != work);
        assert!(inked, "work's name is written on its chip");

        let mut out = vec![0; pixmap.data().len()];
        to_argb8888(&pixmap, &mut out);
        let i = 4 * (INSET * 600 + chips[0].x + 1) as usize;
        assert_eq!(&out[i..i + 4], &[0xa4, 0x65, 0x34, 0xff]);
    }
}
