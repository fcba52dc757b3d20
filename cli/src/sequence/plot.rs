//! `changes.png`: the share of pixels that changed, frame by frame — the picture that shows
//! at a glance when something moved. Drawn here into an [`Image`], with axes, ticks, grid
//! lines and labels in a small built-in bitmap font, so it needs no font on the system.

use picrypt_core::Image;

const WIDTH: usize = 880;
const HEIGHT: usize = 400;
const LEFT: usize = 84;
const RIGHT: usize = 24;
const TOP: usize = 64;
const BOTTOM: usize = 64;

const WHITE: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [40, 40, 40];
const GRID: [u8; 3] = [225, 225, 225];
const LINE: [u8; 3] = [31, 119, 180];
const MARK: [u8; 3] = [214, 39, 40];

/// Glyphs 5 pixels wide: 7 rows down to the baseline and 2 of descender, one row per byte
/// (bit 4 is the leftmost pixel).
const FONT: &[(char, [u8; 9])] = &[
    ('0', [14, 17, 19, 21, 25, 17, 14, 0, 0]),
    ('1', [4, 12, 4, 4, 4, 4, 14, 0, 0]),
    ('2', [14, 17, 1, 2, 4, 8, 31, 0, 0]),
    ('3', [31, 2, 4, 2, 1, 17, 14, 0, 0]),
    ('4', [2, 6, 10, 18, 31, 2, 2, 0, 0]),
    ('5', [31, 16, 30, 1, 1, 17, 14, 0, 0]),
    ('6', [6, 8, 16, 30, 17, 17, 14, 0, 0]),
    ('7', [31, 1, 2, 4, 8, 8, 8, 0, 0]),
    ('8', [14, 17, 17, 14, 17, 17, 14, 0, 0]),
    ('9', [14, 17, 17, 15, 1, 2, 12, 0, 0]),
    ('a', [0, 0, 14, 1, 15, 17, 15, 0, 0]),
    ('b', [16, 16, 22, 25, 17, 17, 30, 0, 0]),
    ('c', [0, 0, 14, 16, 16, 17, 14, 0, 0]),
    ('d', [1, 1, 13, 19, 17, 17, 15, 0, 0]),
    ('e', [0, 0, 14, 17, 31, 16, 14, 0, 0]),
    ('f', [6, 9, 8, 28, 8, 8, 8, 0, 0]),
    ('g', [0, 0, 15, 17, 17, 17, 15, 1, 14]),
    ('h', [16, 16, 22, 25, 17, 17, 17, 0, 0]),
    ('i', [4, 0, 12, 4, 4, 4, 14, 0, 0]),
    ('j', [2, 0, 6, 2, 2, 2, 2, 18, 12]),
    ('k', [16, 16, 18, 20, 24, 20, 18, 0, 0]),
    ('l', [12, 4, 4, 4, 4, 4, 14, 0, 0]),
    ('m', [0, 0, 26, 21, 21, 17, 17, 0, 0]),
    ('n', [0, 0, 22, 25, 17, 17, 17, 0, 0]),
    ('o', [0, 0, 14, 17, 17, 17, 14, 0, 0]),
    ('p', [0, 0, 30, 17, 17, 17, 30, 16, 16]),
    ('q', [0, 0, 15, 17, 17, 17, 15, 1, 1]),
    ('r', [0, 0, 22, 25, 16, 16, 16, 0, 0]),
    ('s', [0, 0, 14, 16, 14, 1, 30, 0, 0]),
    ('t', [8, 8, 28, 8, 8, 9, 6, 0, 0]),
    ('u', [0, 0, 17, 17, 17, 19, 13, 0, 0]),
    ('v', [0, 0, 17, 17, 17, 10, 4, 0, 0]),
    ('w', [0, 0, 17, 17, 21, 21, 10, 0, 0]),
    ('x', [0, 0, 17, 10, 4, 10, 17, 0, 0]),
    ('y', [0, 0, 17, 17, 17, 17, 15, 1, 14]),
    ('z', [0, 0, 31, 2, 4, 8, 31, 0, 0]),
    ('.', [0, 0, 0, 0, 0, 12, 12, 0, 0]),
    (',', [0, 0, 0, 0, 0, 12, 12, 4, 8]),
    (':', [0, 12, 12, 0, 12, 12, 0, 0, 0]),
    ('%', [24, 25, 2, 4, 8, 19, 3, 0, 0]),
    ('(', [2, 4, 8, 8, 8, 4, 2, 0, 0]),
    (')', [8, 4, 2, 2, 2, 4, 8, 0, 0]),
    ('|', [4, 4, 4, 4, 4, 4, 4, 0, 0]),
    ('>', [8, 4, 2, 1, 2, 4, 8, 0, 0]),
    ('-', [0, 0, 0, 31, 0, 0, 0, 0, 0]),
    (' ', [0; 9]),
];

/// Each font pixel is drawn as a square this wide.
const SCALE: usize = 2;
/// The horizontal step from one character to the next.
const ADVANCE: usize = 6 * SCALE;
const GLYPH_HEIGHT: usize = 7 * SCALE;

struct Canvas {
    data: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            data: WHITE.repeat(WIDTH * HEIGHT),
        }
    }

    fn put(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let at = 3 * (y as usize * WIDTH + x as usize);
            self.data[at..at + 3].copy_from_slice(&colour);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: [u8; 3]) {
        for dy in 0..h {
            for dx in 0..w {
                self.put(x + dx, y + dy, colour);
            }
        }
    }

    /// A line two pixels thick (Bresenham).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.rect(x, y, 2, 2, colour);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// `text` with its top-left corner at (x, y); characters without a glyph are blank.
    fn text(&mut self, x: usize, y: usize, text: &str, colour: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let Some((_, rows)) = FONT.iter().find(|(c, _)| *c == ch) else {
                continue;
            };
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        let (px, py) = (x + i * ADVANCE + col * SCALE, y + row * SCALE);
                        self.rect(px as i64, py as i64, SCALE as i64, SCALE as i64, colour);
                    }
                }
            }
        }
    }

    fn text_width(text: &str) -> usize {
        (text.chars().count() * ADVANCE).saturating_sub(SCALE)
    }
}

/// Tick positions from 0 (or `lo`) to at least `hi`: a step of 1, 2 or 5 times a power of
/// ten giving about `want` intervals, and the decimals its labels need.
fn ticks(lo: f64, hi: f64, want: f64) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / want;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).floor();
    let out = (0..)
        .map(|i| (first + f64::from(i)) * step)
        .take_while(|t| *t < hi + step * 0.999)
        .collect();
    (out, decimals)
}

/// The plot of `points` — (frame number, percent of pixels changed) — with the change
/// threshold in its title.
pub fn changes(points: &[(f64, f64)], threshold: u16) -> Image {
    let mut c = Canvas::new();
    let title = format!("pixels changed (|d| > {threshold}) per frame");
    c.text((WIDTH - Canvas::text_width(&title)) / 2, 12, &title, INK);
    let (x_lo, x_hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    // A margin on both sides, so the first and last points stand clear of the axes.
    let pad = ((x_hi - x_lo) * 0.02).max(0.5);
    let (x_lo, x_hi) = (x_lo - pad, x_hi + pad);
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let (y_ticks, y_decimals) = ticks(0.0, if y_max > 0.0 { y_max } else { 1.0 }, 5.0);
    let y_top = *y_ticks.last().expect("at least two ticks");
    let (plot_w, plot_h) = (
        (WIDTH - LEFT - RIGHT) as f64,
        (HEIGHT - TOP - BOTTOM) as f64,
    );
    let at_x = |x: f64| LEFT as f64 + (x - x_lo) / (x_hi - x_lo) * plot_w;
    let at_y = |y: f64| TOP as f64 + plot_h - y / y_top * plot_h;
    // Grid and y ticks.
    for &t in &y_ticks {
        let y = at_y(t).round() as i64;
        c.rect(LEFT as i64, y, plot_w as i64, 1, GRID);
        c.rect(LEFT as i64 - 6, y, 6, 1, INK);
        let label = format!("{t:.y_decimals$}");
        let lx = LEFT - 10 - Canvas::text_width(&label);
        c.text(
            lx,
            (y as usize).saturating_sub(GLYPH_HEIGHT / 2),
            &label,
            INK,
        );
    }
    // x ticks: whole frame numbers only.
    let (x_ticks, _) = ticks(x_lo, x_hi, 8.0);
    let step = x_ticks
        .get(1)
        .map_or(1.0, |b| b - x_ticks[0])
        .max(1.0)
        .round();
    let mut t = (x_lo / step).ceil() * step;
    while t <= x_hi + 1e-9 {
        let x = at_x(t).round() as i64;
        c.rect(x, TOP as i64, 1, plot_h as i64, GRID);
        c.rect(x, (TOP as f64 + plot_h) as i64, 1, 6, INK);
        let label = format!("{t:.0}");
        let lx = (x as usize).saturating_sub(Canvas::text_width(&label) / 2);
        c.text(lx, TOP + plot_h as usize + 12, &label, INK);
        t += step;
    }
    // Axes.
    c.rect(LEFT as i64, TOP as i64, 1, plot_h as i64 + 1, INK);
    c.rect(
        LEFT as i64,
        (TOP as f64 + plot_h) as i64,
        plot_w as i64,
        1,
        INK,
    );
    c.text(
        LEFT + (plot_w as usize - Canvas::text_width("frame")) / 2,
        HEIGHT - 24,
        "frame",
        INK,
    );
    c.text(8, TOP - 28, "changed %", INK);
    // The data.
    let pixel = |p: &(f64, f64)| (at_x(p.0).round() as i64, at_y(p.1).round() as i64);
    for pair in points.windows(2) {
        c.line(pixel(&pair[0]), pixel(&pair[1]), LINE);
    }
    if points.len() <= 120 {
        for p in points {
            let (x, y) = pixel(p);
            c.rect(x - 2, y - 2, 5, 5, MARK);
        }
    }
    Image::new(WIDTH as u32, HEIGHT as u32, 3, c.data).expect("the canvas's own size")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, d) = ticks(0.0, 4.2, 5.0);
        assert_eq!(t, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(d, 0);
        let (t, d) = ticks(0.0, 0.37, 5.0);
        assert_eq!(d, 1);
        assert!((t.last().unwrap() - 0.4).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn every_label_character_has_a_glyph() {
        for ch in "pixels changed (|d| > 16) per frame changed % 0123456789.".chars() {
            assert!(FONT.iter().any(|(c, _)| *c == ch), "{ch:?}");
        }
    }
}
