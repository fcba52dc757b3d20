//! Pictures and statistics of a decrypted difference, and previews of ciphertexts.

use crate::error::{Error, Result};
use crate::image::{Image, Plaintext};

/// How a difference `d = a − b` becomes a picture. Every render is opaque: the colour
/// channels of the difference are drawn, and a change in an alpha channel is folded into
/// the magnitude of its pixel's colour channels rather than making the picture
/// transparent. `.npy` keeps every channel exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderMode {
    /// `|d|` per sample: a moved object shows at both its old and new place.
    Abs,
    /// `128 + d/2` per sample: grey where nothing changed.
    Signed,
    /// `max(d, 0)` per sample: what OpenCV's `cv2.subtract(a, b)` returns.
    Saturate,
    /// The largest `|d|` of each pixel on the viridis colormap (RGB), with a colour scale
    /// under the picture when it is at least 64 pixels wide.
    Heatmap,
    /// White where the largest `|d|` of a pixel exceeds the threshold, black elsewhere.
    Mask,
    /// The changes drawn over the "after" image (dimmed to grey): changed pixels tinted
    /// red by how much they changed, and a yellow box around all of them.
    Overlay,
}

impl RenderMode {
    /// Every render, in the order `--help` lists them.
    pub const ALL: [RenderMode; 6] = [
        RenderMode::Abs,
        RenderMode::Signed,
        RenderMode::Saturate,
        RenderMode::Heatmap,
        RenderMode::Mask,
        RenderMode::Overlay,
    ];

    /// The name the CLI uses.
    pub fn name(self) -> &'static str {
        match self {
            RenderMode::Abs => "abs",
            RenderMode::Signed => "signed",
            RenderMode::Saturate => "saturate",
            RenderMode::Heatmap => "heatmap",
            RenderMode::Mask => "mask",
            RenderMode::Overlay => "overlay",
        }
    }

    /// The render of a name.
    pub fn from_name(name: &str) -> Option<RenderMode> {
        RenderMode::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the render draws over the "after" image, which it then needs.
    pub fn needs_after_image(self) -> bool {
        self == RenderMode::Overlay
    }
}

/// Default change threshold: differences of at most this much count as unchanged, which
/// absorbs JPEG noise.
pub const DEFAULT_THRESHOLD: u16 = 16;

/// Renders a difference (or an image, which renders as itself under `Abs`). `after` is
/// the "after" image, which [`RenderMode::Overlay`] draws over and the others ignore.
pub fn render(
    diff: &Plaintext,
    mode: RenderMode,
    threshold: u16,
    after: Option<&Image>,
) -> Result<Image> {
    let shape = diff.shape();
    let image = |channels: u8, data: Vec<u8>| {
        Image::new(shape.width(), shape.height(), channels, data).expect("same shape")
    };
    match mode {
        RenderMode::Abs => Ok(per_sample(diff, |d| d.unsigned_abs().min(255) as u8)),
        RenderMode::Signed => Ok(per_sample(diff, |d| {
            ((256 + d as i32) / 2).clamp(0, 255) as u8
        })),
        RenderMode::Saturate => Ok(per_sample(diff, |d| d.clamp(0, 255) as u8)),
        RenderMode::Heatmap => {
            let data = pixel_magnitudes(diff)
                .flat_map(|m| viridis(m.min(255) as u8))
                .collect();
            Ok(with_colour_scale(image(3, data), threshold))
        }
        RenderMode::Mask => Ok(image(
            1,
            pixel_magnitudes(diff)
                .map(|m| if m > threshold { 255 } else { 0 })
                .collect(),
        )),
        RenderMode::Overlay => {
            let after = after.ok_or_else(|| {
                Error::Image(
                    "the overlay render draws over the after image, which is missing".into(),
                )
            })?;
            if let Some(d) = after.shape().difference(&shape) {
                return Err(Error::ShapeMismatch(format!(
                    "the after image and the difference differ: {d}"
                )));
            }
            Ok(overlay(diff, after, threshold))
        }
    }
}

/// Applies `f` to each colour sample, folding an alpha channel's change into its pixel:
/// a colour sample shows the alpha difference instead when that is the larger.
fn per_sample(diff: &Plaintext, f: impl Fn(i16) -> u8) -> Image {
    let shape = diff.shape();
    let channels = shape.channels() as usize;
    let has_alpha = channels % 2 == 0;
    let colour = if has_alpha { channels - 1 } else { channels };
    if !has_alpha {
        return Image::new(
            shape.width(),
            shape.height(),
            colour as u8,
            diff.values().iter().map(|&d| f(d)).collect(),
        )
        .expect("same shape");
    }
    let mut data = Vec::with_capacity(shape.pixels() * colour);
    for px in diff.values().chunks_exact(channels) {
        let alpha = if has_alpha { px[channels - 1] } else { 0 };
        for &d in &px[..colour] {
            let shown = if alpha.unsigned_abs() > d.unsigned_abs() {
                alpha
            } else {
                d
            };
            data.push(f(shown));
        }
    }
    Image::new(shape.width(), shape.height(), colour as u8, data).expect("same shape")
}

/// The largest `|d|` over each pixel's samples, alpha included.
fn pixel_magnitudes(diff: &Plaintext) -> impl Iterator<Item = u16> + '_ {
    diff.values()
        .chunks_exact(diff.shape().channels() as usize)
        .map(|px| px.iter().map(|d| d.unsigned_abs()).max().unwrap_or(0))
}

fn viridis(v: u8) -> [u8; 3] {
    let c = colorous::VIRIDIS.eval_rational(v as usize, 256);
    [c.r, c.g, c.b]
}

/// Appends a colour scale under a heatmap: the viridis gradient from |d| = 0 to 255 over
/// the full width, a white tick at the threshold, and the labels 0 and 255.
fn with_colour_scale(heatmap: Image, threshold: u16) -> Image {
    let (w, h) = (heatmap.width() as usize, heatmap.height() as usize);
    if w < 64 {
        return heatmap;
    }
    const BAR: usize = 10;
    const LABEL_ROWS: usize = 2 * 5 + 4;
    let rows = BAR + LABEL_ROWS;
    let mut data = heatmap.into_data();
    data.reserve(rows * w * 3);
    let value_at = |x: usize| (x * 255 / (w - 1)) as u8;
    let threshold_x = (threshold.min(255) as usize * (w - 1)).div_ceil(255);
    for y in 0..BAR {
        for x in 0..w {
            let tick = x == threshold_x && y < BAR / 2;
            data.extend(if tick { [255; 3] } else { viridis(value_at(x)) });
        }
    }
    let mut labels = vec![0u8; LABEL_ROWS * w * 3];
    draw_number(&mut labels, w, 1, 2, 0);
    draw_number(&mut labels, w, w.saturating_sub(3 * 8 + 1), 2, 255);
    data.extend(labels);
    Image::new(w as u32, (h + rows) as u32, 3, data).expect("grown by whole rows")
}

/// Draws `n` in white with a 3×5 pixel font at twice the size, top-left at (x, y), into
/// an RGB buffer `w` pixels wide.
fn draw_number(rgb: &mut [u8], w: usize, x: usize, y: usize, n: u32) {
    const DIGITS: [[u8; 5]; 10] = [
        [7, 5, 5, 5, 7],
        [2, 6, 2, 2, 7],
        [7, 1, 7, 4, 7],
        [7, 1, 7, 1, 7],
        [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7],
        [7, 4, 7, 5, 7],
        [7, 1, 1, 1, 1],
        [7, 5, 7, 5, 7],
        [7, 5, 7, 1, 7],
    ];
    for (i, ch) in n.to_string().bytes().enumerate() {
        let glyph = DIGITS[(ch - b'0') as usize];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 0 {
                    continue;
                }
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (px, py) = (x + i * 8 + 2 * col + dx, y + 2 * row + dy);
                    if px < w {
                        let at = 3 * (py * w + px);
                        if let Some(p) = rgb.get_mut(at..at + 3) {
                            p.copy_from_slice(&[255; 3]);
                        }
                    }
                }
            }
        }
    }
}

/// The changes over the after image: the image in dimmed grey, changed pixels tinted red
/// (more opaque the larger the change), and a yellow box around everything that changed.
fn overlay(diff: &Plaintext, after: &Image, threshold: u16) -> Image {
    let shape = diff.shape();
    let (w, h) = (shape.width() as usize, shape.height() as usize);
    let channels = after.channels() as usize;
    let colour = if channels % 2 == 0 {
        channels - 1
    } else {
        channels
    };
    let mut data = Vec::with_capacity(w * h * 3);
    for (px, m) in after
        .data()
        .chunks_exact(channels)
        .zip(pixel_magnitudes(diff))
    {
        let grey = if colour == 1 {
            px[0] as u32
        } else {
            (299 * px[0] as u32 + 587 * px[1] as u32 + 114 * px[2] as u32) / 1000
        };
        let base = 40 + grey * 150 / 255;
        if m > threshold {
            // Opacity 35 %…100 % with the size of the change.
            let a = 89 + (m.min(255) as u32 * 166) / 255;
            let tint = [255u32, 30, 30];
            data.extend(tint.map(|t| ((t * a + base * (255 - a)) / 255) as u8));
        } else {
            data.extend([base as u8; 3]);
        }
    }
    if let Some([x0, y0, x1, y1]) = stats(diff, threshold).bounding_box {
        let (x0, y0, x1, y1) = (x0 as usize, y0 as usize, x1 as usize, y1 as usize);
        let mut put = |x: usize, y: usize| {
            if x < w && y < h {
                data[3 * (y * w + x)..3 * (y * w + x) + 3].copy_from_slice(&[255, 220, 0]);
            }
        };
        // Two pixels wide, just outside the changed region so it hides none of it.
        for t in 1..=2 {
            let (left, top) = (x0.checked_sub(t), y0.checked_sub(t));
            let (right, bottom) = (x1 + t, y1 + t);
            for x in x0.saturating_sub(t)..=right.min(w - 1) {
                if let Some(top) = top {
                    put(x, top);
                }
                put(x, bottom);
            }
            for y in y0.saturating_sub(t)..=bottom.min(h - 1) {
                if let Some(left) = left {
                    put(left, y);
                }
                put(right, y);
            }
        }
    }
    Image::new(w as u32, h as u32, 3, data).expect("same shape")
}

/// What changed between the two images.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ChangeStats {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Differences of at most this much counted as unchanged.
    pub threshold: u16,
    /// Pixels whose largest `|d|` exceeds the threshold.
    pub changed_pixels: u64,
    /// Pixels in the image.
    pub total_pixels: u64,
    /// Smallest rectangle holding every changed pixel: `[x0, y0, x1, y1]`, inclusive.
    pub bounding_box: Option<[u32; 4]>,
    /// Largest `|d|` of any sample.
    pub max_abs: u16,
    /// Mean `|d|` over all samples.
    pub mean_abs: f64,
}

impl ChangeStats {
    /// Changed pixels as a percentage of all pixels.
    pub fn percent_changed(&self) -> f64 {
        100.0 * self.changed_pixels as f64 / self.total_pixels as f64
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let bbox = match self.bounding_box {
            Some([x0, y0, x1, y1]) => format!(
                "bounding box x {x0}..={x1}, y {y0}..={y1} ({}×{} px)",
                x1 - x0 + 1,
                y1 - y0 + 1
            ),
            None => "no change".to_string(),
        };
        format!(
            "{:.2}% of pixels changed (|d| > {}): {} of {}; {bbox}; max |d| {}, mean |d| {:.2}",
            self.percent_changed(),
            self.threshold,
            self.changed_pixels,
            self.total_pixels,
            self.max_abs,
            self.mean_abs
        )
    }
}

/// Change statistics of a difference at a threshold.
pub fn stats(diff: &Plaintext, threshold: u16) -> ChangeStats {
    let shape = diff.shape();
    let (w, channels) = (shape.width() as usize, shape.channels() as usize);
    // One pass, a row at a time: the bounding box needs no division per pixel, and the
    // pixel loop is unrolled for the channel count.
    let rows = diff.values().chunks_exact(w * channels);
    let per_row: Vec<RowStats> = match channels {
        1 => rows.map(|r| row_stats::<1>(r, threshold)).collect(),
        2 => rows.map(|r| row_stats::<2>(r, threshold)).collect(),
        3 => rows.map(|r| row_stats::<3>(r, threshold)).collect(),
        _ => rows.map(|r| row_stats::<4>(r, threshold)).collect(),
    };
    let (mut changed, mut max_abs, mut sum) = (0u64, 0u16, 0u64);
    let mut bbox: Option<[u32; 4]> = None;
    for (y, row) in per_row.iter().enumerate() {
        max_abs = max_abs.max(row.max_abs);
        sum += row.sum_abs;
        changed += row.changed;
        if let Some((first, last)) = row.span {
            let y = y as u32;
            bbox = Some(match bbox {
                None => [first, y, last, y],
                Some([x0, y0, x1, _]) => [x0.min(first), y0, x1.max(last), y],
            });
        }
    }
    ChangeStats {
        width: shape.width(),
        height: shape.height(),
        threshold,
        changed_pixels: changed,
        total_pixels: shape.pixels() as u64,
        bounding_box: bbox,
        max_abs,
        mean_abs: sum as f64 / diff.values().len().max(1) as f64,
    }
}

/// What one row contributes to [`ChangeStats`].
struct RowStats {
    max_abs: u16,
    sum_abs: u64,
    changed: u64,
    /// The first and last changed pixel of the row.
    span: Option<(u32, u32)>,
}

/// [`RowStats`] of a row of pixels of `C` samples.
fn row_stats<const C: usize>(row: &[i16], threshold: u16) -> RowStats {
    let (mut max_abs, mut sum_abs, mut changed) = (0u16, 0u64, 0u64);
    let mut span: Option<(u32, u32)> = None;
    for (x, px) in row.chunks_exact(C).enumerate() {
        let mut m = 0u16;
        for d in px {
            let a = d.unsigned_abs();
            sum_abs += a as u64;
            m = m.max(a);
        }
        max_abs = max_abs.max(m);
        if m > threshold {
            changed += 1;
            let x = x as u32;
            span = Some(span.map_or((x, x), |(first, _)| (first, x)));
        }
    }
    RowStats {
        max_abs,
        sum_abs,
        changed,
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Shape, ValueRange};

    fn diff(values: Vec<i16>, w: u32, h: u32, c: u8) -> Plaintext {
        Plaintext::new(
            Shape::new(w, h, c).unwrap(),
            ValueRange::of_differences(8),
            values,
        )
        .unwrap()
    }

    #[test]
    fn per_sample_renders() {
        let d = diff(vec![-255, -1, 0, 1, 255, 100], 2, 1, 3);
        assert_eq!(
            render(&d, RenderMode::Abs, 0, None).unwrap().data(),
            [255, 1, 0, 1, 255, 100]
        );
        assert_eq!(
            render(&d, RenderMode::Saturate, 0, None).unwrap().data(),
            [0, 0, 0, 1, 255, 100]
        );
        assert_eq!(
            render(&d, RenderMode::Signed, 0, None).unwrap().data(),
            [0, 127, 128, 128, 255, 178]
        );
    }

    #[test]
    fn mask_heatmap_and_stats() {
        // 3×2 grayscale, changes at (1,0) and (2,1).
        let d = diff(vec![0, 40, 3, 0, 0, -200], 3, 2, 1);
        let m = render(&d, RenderMode::Mask, 16, None).unwrap();
        assert_eq!(m.data(), [0, 255, 0, 0, 0, 255]);
        let hm = render(&d, RenderMode::Heatmap, 16, None).unwrap();
        assert_eq!(hm.channels(), 3);
        assert_eq!(hm.data().len(), 18);
        assert_ne!(hm.data()[..3], hm.data()[15..]);
        let s = stats(&d, 16);
        assert_eq!(s.changed_pixels, 2);
        assert_eq!(s.bounding_box, Some([1, 0, 2, 1]));
        assert_eq!(s.max_abs, 200);
        assert!((s.percent_changed() - 100.0 / 3.0).abs() < 1e-9);
    }
}
