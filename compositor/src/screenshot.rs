//! Screenshots: the output as shown, as RGBA pixels and as a PNG file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;

/// An RGBA image of the output, row by row, 4 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA bytes, `width * height * 4` of them.
    pub rgba: Vec<u8>,
}

impl Screenshot {
    /// The (r, g, b) of the pixel at (x, y), or `None` outside the image.
    pub fn pixel(&self, x: i32, y: i32) -> Option<(u8, u8, u8)> {
        if x < 0 || y < 0 || x as u32 >= self.width || y as u32 >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        Some((self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]))
    }

    /// How many pixels have exactly this colour.
    pub fn count(&self, rgb: (u8, u8, u8)) -> usize {
        self.rgba
            .chunks_exact(4)
            .filter(|p| (p[0], p[1], p[2]) == rgb)
            .count()
    }

    /// Writes the image as a PNG file.
    pub fn write_png(&self, path: &Path) -> anyhow::Result<()> {
        let file = File::create(path)
            .with_context(|| format!("error creating screenshot {}", path.display()))?;
        let mut encoder = png::Encoder::new(BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .with_context(|| format!("error writing screenshot {}", path.display()))?;
        writer
            .write_image_data(&self.rgba)
            .with_context(|| format!("error writing screenshot {}", path.display()))?;
        writer
            .finish()
            .with_context(|| format!("error finishing screenshot {}", path.display()))?;
        Ok(())
    }
}
