//! Pictures and statistics of a decrypted difference, and previews of ciphertexts.

use crate::error::{Error, Result};
use crate::format::Shape;
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
    let mut renderer = Renderer::new(shape, mode, threshold);
    let after = match mode.needs_after_image() {
        true => Some(after_image(after, shape)?.data()),
        false => None,
    };
    let (width, height, channels) = renderer.out_shape();
    let mut data = Vec::with_capacity(width as usize * height as usize * channels as usize);
    renderer.push_rows(diff.values(), after, &mut data)?;
    renderer.finish(&mut data)?;
    Ok(Image::new(width, height, channels, data).expect("rendered whole rows"))
}

/// The after image an overlay draws over, of the difference's shape.
fn after_image(after: Option<&Image>, shape: Shape) -> Result<&Image> {
    let after = after.ok_or_else(|| {
        Error::Image("the overlay render draws over the after image, which is missing".into())
    })?;
    if let Some(d) = after.shape().difference(&shape) {
        return Err(Error::ShapeMismatch(format!(
            "the after image and the difference differ: {d}"
        )));
    }
    Ok(after)
}

/// A render made a few rows at a time, for differences too large to hold with their
/// picture: rows of the difference in, rows of the picture out, as [`render`] draws them.
/// Every render but [`RenderMode::Overlay`] is drawn per pixel, so its rows come out as
/// they go in (the heatmap's colour scale after the last); the overlay's box needs every
/// change first, so it holds its picture (3 bytes a pixel) and gives it at
/// [`Renderer::finish`].
#[derive(Debug)]
pub struct Renderer {
    mode: RenderMode,
    threshold: u16,
    shape: Shape,
    rows: u32,
    /// The overlay's picture so far, and the statistics that place its box.
    held: Option<(Vec<u8>, StatsBuilder)>,
}

impl Renderer {
    /// A render of a difference of `shape`.
    pub fn new(shape: Shape, mode: RenderMode, threshold: u16) -> Renderer {
        let held = (mode == RenderMode::Overlay).then(|| {
            (
                Vec::with_capacity(shape.pixels() * 3),
                StatsBuilder::new(shape, threshold),
            )
        });
        Renderer {
            mode,
            threshold,
            shape,
            rows: 0,
            held,
        }
    }

    /// Width, height and channels of the picture: the colour channels of the difference
    /// for per-sample renders, RGB for heatmap and overlay, gray for mask; a heatmap at
    /// least 64 pixels wide has its colour scale under it.
    pub fn out_shape(&self) -> (u32, u32, u8) {
        let (w, h, c) = (
            self.shape.width(),
            self.shape.height(),
            self.shape.channels(),
        );
        match self.mode {
            RenderMode::Abs | RenderMode::Signed | RenderMode::Saturate => {
                (w, h, colour_channels(c))
            }
            RenderMode::Heatmap => (w, h + colour_scale_rows(w), 3),
            RenderMode::Mask => (w, h, 1),
            RenderMode::Overlay => (w, h, 3),
        }
    }

    /// Whether the whole picture is held until [`Renderer::finish`] (the overlay).
    pub fn holds_picture(&self) -> bool {
        self.held.is_some()
    }

    /// Draws the next whole rows of the difference (`diff`, HWC), appending the
    /// picture's rows to `out` (held instead, for the overlay). `after` holds the same
    /// rows of the after image, which only the overlay needs.
    pub fn push_rows(
        &mut self,
        diff: &[i16],
        after: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let row = self.shape.width() as usize * self.shape.channels() as usize;
        if diff.len() % row != 0
            || self.rows as usize + diff.len() / row > self.shape.height() as usize
        {
            return Err(Error::Image(format!(
                "{} values are not whole rows of a {} difference",
                diff.len(),
                self.shape
            )));
        }
        let channels = self.shape.channels() as usize;
        let threshold = self.threshold;
        match self.mode {
            RenderMode::Abs => per_sample(diff, channels, out, |d| d.unsigned_abs().min(255) as u8),
            RenderMode::Signed => per_sample(diff, channels, out, |d| {
                ((256 + d as i32) / 2).clamp(0, 255) as u8
            }),
            RenderMode::Saturate => per_sample(diff, channels, out, |d| d.clamp(0, 255) as u8),
            RenderMode::Heatmap => {
                out.extend(pixel_magnitudes(diff, channels).flat_map(|m| viridis(m.min(255) as u8)))
            }
            RenderMode::Mask => out.extend(pixel_magnitudes(diff, channels).map(|m| {
                if m > threshold {
                    255
                } else {
                    0
                }
            })),
            RenderMode::Overlay => {
                let after = after.filter(|a| a.len() == diff.len()).ok_or_else(|| {
                    Error::Image("the overlay render needs the same rows of the after image".into())
                })?;
                let (picture, stats) = self.held.as_mut().expect("an overlay holds its picture");
                overlay_rows(diff, after, channels, threshold, picture);
                stats.push_rows(diff);
            }
        }
        self.rows += (diff.len() / row) as u32;
        Ok(())
    }

    /// Ends the picture, appending what is left of it to `out`: the heatmap's colour
    /// scale, or the overlay's whole picture with its box. Refuses a difference that was
    /// not drawn to its last row.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        if self.rows != self.shape.height() {
            return Err(Error::Image(format!(
                "{} of the {} rows of the difference were drawn",
                self.rows,
                self.shape.height()
            )));
        }
        match self.held {
            Some((mut picture, stats)) => {
                draw_box(&mut picture, self.shape, stats.finish().bounding_box);
                out.append(&mut picture);
            }
            None if self.mode == RenderMode::Heatmap => {
                colour_scale(self.shape.width() as usize, self.threshold, out)
            }
            None => {}
        }
        Ok(())
    }
}

/// The colour channels of a layout with `channels`: an alpha channel is not drawn.
fn colour_channels(channels: u8) -> u8 {
    if channels % 2 == 0 {
        channels - 1
    } else {
        channels
    }
}

/// Applies `f` to each colour sample, folding an alpha channel's change into its pixel:
/// a colour sample shows the alpha difference instead when that is the larger.
fn per_sample(diff: &[i16], channels: usize, out: &mut Vec<u8>, f: impl Fn(i16) -> u8) {
    let has_alpha = channels % 2 == 0;
    if !has_alpha {
        out.extend(diff.iter().map(|&d| f(d)));
        return;
    }
    let colour = channels - 1;
    for px in diff.chunks_exact(channels) {
        let alpha = px[colour];
        for &d in &px[..colour] {
            let shown = if alpha.unsigned_abs() > d.unsigned_abs() {
                alpha
            } else {
                d
            };
            out.push(f(shown));
        }
    }
}

/// The largest `|d|` over each pixel's samples, alpha included.
fn pixel_magnitudes(diff: &[i16], channels: usize) -> impl Iterator<Item = u16> + '_ {
    diff.chunks_exact(channels)
        .map(|px| px.iter().map(|d| d.unsigned_abs()).max().unwrap_or(0))
}

fn viridis(v: u8) -> [u8; 3] {
    let c = colorous::VIRIDIS.eval_rational(v as usize, 256);
    [c.r, c.g, c.b]
}

/// Rows of the colour scale under a heatmap `w` pixels wide: none below 64 pixels.
fn colour_scale_rows(w: u32) -> u32 {
    if w < 64 {
        0
    } else {
        (SCALE_BAR + SCALE_LABEL_ROWS) as u32
    }
}

/// Rows of the colour scale's gradient, and of its labels.
const SCALE_BAR: usize = 10;
const SCALE_LABEL_ROWS: usize = 2 * 5 + 4;

/// Appends the colour scale under a heatmap `w` pixels wide (nothing below 64 pixels):
/// the viridis gradient from |d| = 0 to 255 over the full width, a white tick at the
/// threshold, and the labels 0 and 255.
fn colour_scale(w: usize, threshold: u16, out: &mut Vec<u8>) {
    if colour_scale_rows(w as u32) == 0 {
        return;
    }
    out.reserve((SCALE_BAR + SCALE_LABEL_ROWS) * w * 3);
    let value_at = |x: usize| (x * 255 / (w - 1)) as u8;
    let threshold_x = (threshold.min(255) as usize * (w - 1)).div_ceil(255);
    for y in 0..SCALE_BAR {
        for x in 0..w {
            let tick = x == threshold_x && y < SCALE_BAR / 2;
            out.extend(if tick { [255; 3] } else { viridis(value_at(x)) });
        }
    }
    let mut labels = vec![0u8; SCALE_LABEL_ROWS * w * 3];
    draw_number(&mut labels, w, 1, 2, 0);
    draw_number(&mut labels, w, w.saturating_sub(3 * 8 + 1), 2, 255);
    out.extend(labels);
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

/// The changes over the after image, a few rows at a time: the image in dimmed grey,
/// changed pixels tinted red (more opaque the larger the change). The yellow box around
/// everything that changed is drawn at the end ([`draw_box`]).
fn overlay_rows(diff: &[i16], after: &[u8], channels: usize, threshold: u16, out: &mut Vec<u8>) {
    let colour = colour_channels(channels as u8);
    for (px, m) in after
        .chunks_exact(channels)
        .zip(pixel_magnitudes(diff, channels))
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
            out.extend(tint.map(|t| ((t * a + base * (255 - a)) / 255) as u8));
        } else {
            out.extend([base as u8; 3]);
        }
    }
}

/// The overlay's yellow box around `bbox`, two pixels wide, just outside the changed
/// region so it hides none of it.
fn draw_box(data: &mut [u8], shape: Shape, bbox: Option<[u32; 4]>) {
    let Some([x0, y0, x1, y1]) = bbox else {
        return;
    };
    let (w, h) = (shape.width() as usize, shape.height() as usize);
    let (x0, y0, x1, y1) = (x0 as usize, y0 as usize, x1 as usize, y1 as usize);
    let mut put = |x: usize, y: usize| {
        if x < w && y < h {
            data[3 * (y * w + x)..3 * (y * w + x) + 3].copy_from_slice(&[255, 220, 0]);
        }
    };
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
    let mut stats = StatsBuilder::new(diff.shape(), threshold);
    stats.push_rows(diff.values());
    stats.finish()
}

/// [`ChangeStats`] gathered a few whole rows at a time, for differences too large to
/// hold.
#[derive(Clone, Debug)]
pub struct StatsBuilder {
    shape: Shape,
    threshold: u16,
    /// Rows seen so far.
    rows: u32,
    changed: u64,
    max_abs: u16,
    sum_abs: u64,
    bbox: Option<[u32; 4]>,
}

impl StatsBuilder {
    /// Statistics of a difference of `shape` at `threshold`.
    pub fn new(shape: Shape, threshold: u16) -> StatsBuilder {
        StatsBuilder {
            shape,
            threshold,
            rows: 0,
            changed: 0,
            max_abs: 0,
            sum_abs: 0,
            bbox: None,
        }
    }

    /// Adds the next rows (HWC values; whole rows, a partial one is ignored).
    pub fn push_rows(&mut self, diff: &[i16]) {
        let (w, channels) = (self.shape.width() as usize, self.shape.channels() as usize);
        // A row at a time: the bounding box needs no division per pixel, and the pixel
        // loop is unrolled for the channel count.
        for row in diff.chunks_exact(w * channels) {
            let row = match channels {
                1 => row_stats::<1>(row, self.threshold),
                2 => row_stats::<2>(row, self.threshold),
                3 => row_stats::<3>(row, self.threshold),
                _ => row_stats::<4>(row, self.threshold),
            };
            self.max_abs = self.max_abs.max(row.max_abs);
            self.sum_abs += row.sum_abs;
            self.changed += row.changed;
            if let Some((first, last)) = row.span {
                let y = self.rows;
                self.bbox = Some(match self.bbox {
                    None => [first, y, last, y],
                    Some([x0, y0, x1, _]) => [x0.min(first), y0, x1.max(last), y],
                });
            }
            self.rows += 1;
        }
    }

    /// The statistics of the rows seen.
    pub fn finish(self) -> ChangeStats {
        ChangeStats {
            width: self.shape.width(),
            height: self.shape.height(),
            threshold: self.threshold,
            changed_pixels: self.changed,
            total_pixels: self.shape.pixels() as u64,
            bounding_box: self.bbox,
            max_abs: self.max_abs,
            mean_abs: self.sum_abs as f64 / self.shape.samples().max(1) as f64,
        }
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
    use crate::format::ValueRange;

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
