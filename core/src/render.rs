//! Pictures and statistics of a decrypted difference, and previews of ciphertexts.

use crate::image::{Image, Plaintext};

/// How a difference `d = a − b` becomes a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderMode {
    /// `|d|` per sample: a moved object shows at both its old and new place.
    Abs,
    /// `128 + d/2` per sample: grey where nothing changed.
    Signed,
    /// `max(d, 0)` per sample: what OpenCV's `cv2.subtract(a, b)` returns.
    Saturate,
    /// The largest `|d|` of each pixel on the viridis colormap (RGB).
    Heatmap,
    /// White where the largest `|d|` of a pixel exceeds the threshold, black elsewhere.
    Mask,
}

impl RenderMode {
    /// Every render, in the order `--help` lists them.
    pub const ALL: [RenderMode; 5] = [
        RenderMode::Abs,
        RenderMode::Signed,
        RenderMode::Saturate,
        RenderMode::Heatmap,
        RenderMode::Mask,
    ];

    /// The name the CLI uses.
    pub fn name(self) -> &'static str {
        match self {
            RenderMode::Abs => "abs",
            RenderMode::Signed => "signed",
            RenderMode::Saturate => "saturate",
            RenderMode::Heatmap => "heatmap",
            RenderMode::Mask => "mask",
        }
    }

    /// The render of a name.
    pub fn from_name(name: &str) -> Option<RenderMode> {
        RenderMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Default change threshold: differences of at most this much count as unchanged, which
/// absorbs JPEG noise.
pub const DEFAULT_THRESHOLD: u16 = 16;

/// Renders a difference (or an image, which renders as itself under `Abs`).
pub fn render(diff: &Plaintext, mode: RenderMode, threshold: u16) -> Image {
    let shape = diff.shape();
    let image = |channels: u8, data: Vec<u8>| {
        Image::new(shape.width(), shape.height(), channels, data).expect("same shape")
    };
    let per_sample = |f: &dyn Fn(i16) -> u8| {
        image(
            shape.channels(),
            diff.values().iter().map(|&d| f(d)).collect(),
        )
    };
    match mode {
        RenderMode::Abs => per_sample(&|d| d.unsigned_abs().min(255) as u8),
        RenderMode::Signed => per_sample(&|d| ((256 + d as i32) / 2).clamp(0, 255) as u8),
        RenderMode::Saturate => per_sample(&|d| d.clamp(0, 255) as u8),
        RenderMode::Heatmap => image(
            3,
            pixel_magnitudes(diff)
                .flat_map(|m| {
                    let c = colorous::VIRIDIS.eval_rational(m.min(255) as usize, 256);
                    [c.r, c.g, c.b]
                })
                .collect(),
        ),
        RenderMode::Mask => image(
            1,
            pixel_magnitudes(diff)
                .map(|m| if m > threshold { 255 } else { 0 })
                .collect(),
        ),
    }
}

/// The largest `|d|` over each pixel's samples.
fn pixel_magnitudes(diff: &Plaintext) -> impl Iterator<Item = u16> + '_ {
    diff.values()
        .chunks_exact(diff.shape().channels() as usize)
        .map(|px| px.iter().map(|d| d.unsigned_abs()).max().unwrap_or(0))
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
    let w = diff.shape().width();
    let mut changed = 0u64;
    let mut bbox: Option<[u32; 4]> = None;
    let mut max_abs = 0u16;
    for (i, m) in pixel_magnitudes(diff).enumerate() {
        max_abs = max_abs.max(m);
        if m > threshold {
            changed += 1;
            let (x, y) = ((i as u64 % w as u64) as u32, (i as u64 / w as u64) as u32);
            bbox = Some(match bbox {
                None => [x, y, x, y],
                Some([x0, y0, x1, y1]) => [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
            });
        }
    }
    let sum: u64 = diff.values().iter().map(|d| d.unsigned_abs() as u64).sum();
    ChangeStats {
        width: w,
        height: diff.shape().height(),
        threshold,
        changed_pixels: changed,
        total_pixels: diff.shape().pixels() as u64,
        bounding_box: bbox,
        max_abs,
        mean_abs: sum as f64 / diff.values().len().max(1) as f64,
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
            render(&d, RenderMode::Abs, 0).data(),
            [255, 1, 0, 1, 255, 100]
        );
        assert_eq!(
            render(&d, RenderMode::Saturate, 0).data(),
            [0, 0, 0, 1, 255, 100]
        );
        assert_eq!(
            render(&d, RenderMode::Signed, 0).data(),
            [0, 127, 128, 128, 255, 178]
        );
    }

    #[test]
    fn mask_heatmap_and_stats() {
        // 3×2 grayscale, changes at (1,0) and (2,1).
        let d = diff(vec![0, 40, 3, 0, 0, -200], 3, 2, 1);
        let m = render(&d, RenderMode::Mask, 16);
        assert_eq!(m.data(), [0, 255, 0, 0, 0, 255]);
        let hm = render(&d, RenderMode::Heatmap, 16);
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
