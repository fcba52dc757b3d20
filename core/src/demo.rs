//! A procedural before/after pair for `picrypt demo`: a textured orange background and a
//! red pentagon that moved, like the earlier Python version's own demo pair.

use crate::image::Image;

/// Default demo width.
pub const WIDTH: u32 = 640;
/// Default demo height.
pub const HEIGHT: u32 = 400;

/// The before and after images, RGB, deterministic.
pub fn pair(width: u32, height: u32) -> (Image, Image) {
    let (w, h) = (width as f64, height as f64);
    let radius = 0.14 * w.min(h);
    let before = scene(width, height, (0.27 * w, 0.55 * h), radius);
    let after = scene(width, height, (0.68 * w, 0.40 * h), radius);
    (before, after)
}

fn scene(width: u32, height: u32, center: (f64, f64), radius: f64) -> Image {
    let mut data = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f64, y as f64);
            let px = if in_pentagon(fx - center.0, fy - center.1, radius) {
                let shade = 1.0 - 0.25 * ((fy - center.1) / radius + 1.0) / 2.0;
                [210.0 * shade, 25.0 * shade, 35.0 * shade]
            } else {
                let weave = (fx / 23.0).sin() * (fy / 17.0).cos();
                let ripple = ((fx + 2.0 * fy) / 41.0).sin();
                let grain = hash_noise(x, y);
                [
                    225.0 + 20.0 * weave + 6.0 * grain,
                    140.0 + 25.0 * ripple + 10.0 * weave + 6.0 * grain,
                    40.0 + 15.0 * ripple + 8.0 * grain,
                ]
            };
            data.extend(px.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
    }
    Image::new(width, height, 3, data).expect("demo shape is valid")
}

/// Whether (dx, dy) lies in a regular pentagon of circumradius `r`, pointing up.
fn in_pentagon(dx: f64, dy: f64, r: f64) -> bool {
    let apothem = r * (std::f64::consts::PI / 5.0).cos();
    (0..5).all(|i| {
        // Outward normal of edge i, between vertices at angles −90° + 72°·i and + 72°.
        let angle =
            -std::f64::consts::FRAC_PI_2 + (i as f64 + 0.5) * 2.0 * std::f64::consts::PI / 5.0;
        dx * angle.cos() + dy * angle.sin() <= apothem
    })
}

/// Deterministic grain in [−1, 1].
fn hash_noise(x: u32, y: u32) -> f64 {
    let mut v = (x as u64) << 32 | y as u64;
    v = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    v ^= v >> 31;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^= v >> 29;
    (v >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_object_moved_and_nothing_else_did() {
        let (a, b) = super::pair(160, 100);
        let changed: Vec<usize> = (0..a.data().len() / 3)
            .filter(|&i| a.data()[3 * i..3 * i + 3] != b.data()[3 * i..3 * i + 3])
            .collect();
        assert!(!changed.is_empty());
        assert!(changed.len() < a.data().len() / 3 / 4);
    }
}
