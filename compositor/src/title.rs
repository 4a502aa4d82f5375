//! The title bar's text: `[work] <title>` drawn by the compositor, so a
//! window cannot claim another profile's name. Text is rasterized with
//! ab_glyph from a system font (DejaVu Sans, Debian's fonts-dejavu-core, or
//! `$ZION_TITLE_FONT`) into a premultiplied ARGB buffer; without a font the
//! frame keeps its colour and only the text is missing (logged once).

use std::sync::OnceLock;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use tracing::warn;
use zion_config::Colour;

/// The fonts tried, in order, after `$ZION_TITLE_FONT`.
pub const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
];

/// Text height in pixels inside a title bar.
pub const TEXT_PX: f32 = 14.0;
/// Space left of the text.
pub const PADDING: i32 = 8;

/// The font, loaded once.
pub fn font() -> Option<&'static FontVec> {
    static FONT: OnceLock<Option<FontVec>> = OnceLock::new();
    FONT.get_or_init(|| {
        let env = std::env::var_os("ZION_TITLE_FONT").map(std::path::PathBuf::from);
        let candidates = env
            .into_iter()
            .chain(FONTS.iter().map(std::path::PathBuf::from));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                match FontVec::try_from_vec(bytes) {
                    Ok(font) => return Some(font),
                    Err(err) => warn!("{} is not a usable font: {err}", path.display()),
                }
            }
        }
        warn!(
            "no font for window titles (tried $ZION_TITLE_FONT and {}); frames are drawn without text",
            FONTS.join(", ")
        );
        None
    })
    .as_ref()
}

/// The width in pixels of `text` at `px`.
pub fn width(font: &impl Font, px: f32, text: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            w += scaled.kern(p, id);
        }
        w += scaled.h_advance(id);
        prev = Some(id);
    }
    w
}

/// `text`, cut with an ellipsis to fit `max` pixels; the profile's label
/// in brackets at its start is what is kept longest.
pub fn fit(font: &impl Font, px: f32, text: &str, max: f32) -> String {
    if width(font, px, text) <= max {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (0..chars.len()).rev() {
        let candidate: String = chars[..keep].iter().collect::<String>() + "…";
        if width(font, px, &candidate) <= max {
            return candidate;
        }
    }
    String::new()
}

/// `text` drawn in `colour` on a transparent `w`×`h` buffer, vertically
/// centred, as premultiplied ARGB8888 (bytes B, G, R, A).
pub fn rasterize(font: &impl Font, text: &str, colour: Colour, w: i32, h: i32) -> Vec<u8> {
    let (w, h) = (w.max(0) as usize, h.max(0) as usize);
    let mut out = vec![0u8; w * h * 4];
    let scale = PxScale::from(TEXT_PX);
    let scaled = font.as_scaled(scale);
    let baseline = (h as f32 + scaled.ascent() + scaled.descent()) / 2.0;
    let mut x = PADDING as f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(x, baseline));
        x += scaled.h_advance(id);
        prev = Some(id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= w as i64 || py >= h as i64 {
                return;
            }
            let i = (py as usize * w + px as usize) * 4;
            let a = coverage.clamp(0.0, 1.0);
            let old = f32::from(out[i + 3]) / 255.0;
            let alpha = a.max(old);
            let premul = |c: u8| (f32::from(c) * alpha).round() as u8;
            out[i] = premul(colour.b);
            out[i + 1] = premul(colour.g);
            out[i + 2] = premul(colour.r);
            out[i + 3] = (alpha * 255.0).round() as u8;
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: Colour = Colour {
        r: 255,
        g: 255,
        b: 255,
    };

    #[test]
    fn long_titles_are_cut_to_fit_and_short_ones_kept() {
        let Some(font) = font() else {
            zion_tests::skip::not_installed("no title font installed (fonts-dejavu-core)");
            return;
        };
        let text = "[work] a very long title that will never fit in a small window";
        let fitted = fit(font, TEXT_PX, text, 120.0);
        assert!(
            fitted.ends_with('…') && fitted.starts_with("[work]"),
            "{fitted}"
        );
        assert!(width(font, TEXT_PX, &fitted) <= 120.0);
        assert_eq!(fit(font, TEXT_PX, "[work]", 500.0), "[work]");
    }

    #[test]
    fn text_is_drawn_inside_the_buffer() {
        let Some(font) = font() else {
            zion_tests::skip::not_installed("no title font installed (fonts-dejavu-core)");
            return;
        };
        let (w, h) = (200, 24);
        let buf = rasterize(font, "[work] foot", WHITE, w, h);
        assert_eq!(buf.len(), (w * h * 4) as usize);
        let inked = buf.chunks(4).filter(|p| p[3] > 128).count();
        assert!(inked > 50, "only {inked} pixels drawn");
        // Nothing left of the padding.
        for y in 0..h as usize {
            for x in 0..(PADDING as usize - 1) {
                assert_eq!(buf[(y * w as usize + x) * 4 + 3], 0, "ink at {x},{y}");
            }
        }
    }
}
