//! What a user sees: renders of differences checked pixel by pixel, including images with
//! alpha (which must never come out transparent), the overlay and the heatmap's scale, and
//! photos whose EXIF orientation must be applied when decoding.

use picrypt_core::image_io::{self, Orientation};
use picrypt_core::render::{self, RenderMode};
use picrypt_core::{Image, Plaintext, Shape, ValueRange};

fn difference(a: &Image, b: &Image) -> Plaintext {
    let values = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect();
    Plaintext::new(a.shape(), ValueRange::of_differences(8), values).unwrap()
}

/// A 4×1 pair with alpha: pixel 0 unchanged, pixel 1 changed in colour, pixel 2 changed in
/// alpha only (a shape appearing on a transparent background), pixel 3 unchanged.
fn pair_with_alpha(channels: u8) -> (Image, Image) {
    let px = |c: u8, a: u8| -> Vec<u8> {
        let mut v = vec![c; channels as usize - 1];
        v.push(a);
        v
    };
    let before = [px(10, 255), px(10, 255), px(0, 0), px(200, 255)].concat();
    let after = [px(10, 255), px(90, 255), px(0, 255), px(200, 255)].concat();
    (
        Image::new(4, 1, channels, before).unwrap(),
        Image::new(4, 1, channels, after).unwrap(),
    )
}

#[test]
fn renders_of_images_with_alpha_are_opaque_and_show_alpha_changes() {
    for channels in [2u8, 4] {
        let (a, b) = pair_with_alpha(channels);
        let d = difference(&a, &b);
        let colour = channels as usize - 1;
        for mode in [RenderMode::Abs, RenderMode::Signed, RenderMode::Saturate] {
            let img = render::render(&d, mode, 16, None).unwrap();
            // No alpha channel at all: nothing can be see-through.
            assert_eq!(
                img.channels() as usize,
                colour,
                "{mode:?}, {channels} channels"
            );
            let px = |i: usize| &img.data()[i * colour..(i + 1) * colour];
            match mode {
                RenderMode::Abs => {
                    assert!(px(0).iter().all(|&v| v == 0));
                    assert!(px(1).iter().all(|&v| v == 80), "{:?}", px(1));
                    // The alpha-only change shows, at its magnitude.
                    assert!(px(2).iter().all(|&v| v == 255), "{:?}", px(2));
                    assert!(px(3).iter().all(|&v| v == 0));
                }
                RenderMode::Signed => {
                    assert!(px(0).iter().all(|&v| v == 128));
                    assert!(px(1).iter().all(|&v| v == 88));
                    assert!(px(2).iter().all(|&v| v == 0));
                }
                _ => {
                    // before − after is negative where something appeared: 0 when saturated.
                    assert!(px(1).iter().all(|&v| v == 0));
                    assert!(px(2).iter().all(|&v| v == 0));
                }
            }
        }
        // Heatmap and mask are opaque RGB and gray, and count the alpha change.
        let hm = render::render(&d, RenderMode::Heatmap, 16, None).unwrap();
        assert_eq!(hm.channels(), 3);
        assert_ne!(hm.data()[6..9], hm.data()[0..3]);
        let mask = render::render(&d, RenderMode::Mask, 16, None).unwrap();
        assert_eq!(mask.data(), &[0, 255, 255, 0]);
    }
}

#[test]
fn heatmap_has_a_colour_scale_when_wide_enough() {
    let (w, h) = (100u32, 20u32);
    let zero = Image::new(w, h, 3, vec![0; (w * h * 3) as usize]).unwrap();
    let d = difference(&zero, &zero);
    let hm = render::render(&d, RenderMode::Heatmap, 16, None).unwrap();
    assert_eq!(hm.width(), w);
    assert!(hm.height() > h, "no scale under the heatmap");
    // The picture itself is unchanged: zero difference is viridis(0) everywhere.
    let row = |y: u32| &hm.data()[(y * w * 3) as usize..((y + 1) * w * 3) as usize];
    assert_eq!(&row(0)[..3], &row(h - 1)[(w as usize - 1) * 3..]);
    // The bar runs from viridis(0) (dark) on the left to viridis(255) (yellow) on the right.
    let bar = row(h + 8);
    let (left, right) = (&bar[..3], &bar[bar.len() - 3..]);
    assert_eq!(left, &row(0)[..3]);
    assert!(
        right[0] > 200 && right[1] > 200 && right[2] < 80,
        "{right:?}"
    );
    // Narrow heatmaps keep their size.
    let small = Image::new(3, 2, 1, vec![0; 6]).unwrap();
    let hm = render::render(&difference(&small, &small), RenderMode::Heatmap, 16, None).unwrap();
    assert_eq!((hm.width(), hm.height()), (3, 2));
}

#[test]
fn overlay_draws_changes_over_the_after_image() {
    let (w, h) = (10u32, 8u32);
    let before = Image::new(w, h, 3, vec![100; (w * h * 3) as usize]).unwrap();
    let mut data = before.data().to_vec();
    // Pixel (4, 3) changed a lot, (5, 3) a little (below the threshold).
    let at = |x: u32, y: u32| ((y * w + x) * 3) as usize;
    data[at(4, 3)..at(4, 3) + 3].copy_from_slice(&[250, 250, 250]);
    data[at(5, 3)] = 105;
    let after = Image::new(w, h, 3, data).unwrap();
    let d = difference(&before, &after);
    assert!(render::render(&d, RenderMode::Overlay, 16, None).is_err());
    let o = render::render(&d, RenderMode::Overlay, 16, Some(&after)).unwrap();
    assert_eq!((o.width(), o.height(), o.channels()), (w, h, 3));
    let px = |x: u32, y: u32| &o.data()[at(x, y)..at(x, y) + 3];
    // Unchanged: dimmed grey. Changed: red. The box (one pixel, grown by two) is yellow.
    assert!(px(0, 0)[0] == px(0, 0)[1] && px(0, 0)[1] == px(0, 0)[2]);
    let changed = px(4, 3);
    assert!(changed[0] > 200 && changed[1] < 120, "{changed:?}");
    assert_eq!(px(3, 2), &[255, 220, 0]);
    assert_eq!(px(5, 4), &[255, 220, 0]);
    let small = px(8, 7);
    assert_eq!(small[0], small[1]);
}

/// A baseline JPEG with an APP1 Exif segment setting `orientation`.
fn jpeg_with_orientation(img: &Image, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100)
        .encode(
            img.data(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    let mut tiff = b"II*\x00\x08\x00\x00\x00".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // padding, no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied_when_decoding() {
    // 16×8, left half black, right half white: after a 90° turn it is 8×16, top half black.
    let (w, h) = (16u32, 8u32);
    let data = (0..h)
        .flat_map(|_| (0..w).flat_map(|x| [if x < w / 2 { 0u8 } else { 255 }; 3]))
        .collect();
    let img = Image::new(w, h, 3, data).unwrap();
    let (plain, o) = image_io::decode_oriented(&jpeg_with_orientation(&img, 1)).unwrap();
    assert_eq!(
        (plain.width(), plain.height(), o),
        (16, 8, Orientation::AsStored)
    );
    let (turned, o) = image_io::decode_oriented(&jpeg_with_orientation(&img, 6)).unwrap();
    assert_eq!(
        o,
        Orientation::Turned {
            degrees: 90,
            flipped: false
        }
    );
    assert_eq!((turned.width(), turned.height()), (8, 16));
    let px = |x: u32, y: u32| turned.data()[((y * 8 + x) * 3) as usize];
    assert!(
        px(4, 2) < 30 && px(4, 13) > 225,
        "{} {}",
        px(4, 2),
        px(4, 13)
    );
}

#[test]
fn an_enormous_image_is_refused_before_decoding() {
    // A PNG header claiming 100 000 × 100 000 RGB, with no pixel data at all.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let crc = crc32(&ihdr);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.to_be_bytes());
    for chunk in [&b"IDAT"[..], b"IEND"] {
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(chunk);
        png.extend_from_slice(&crc32(chunk).to_be_bytes());
    }
    let e = image_io::decode(&png).unwrap_err().to_string();
    assert!(e.contains("2^28") && e.contains("100000×100000"), "{e}");
    assert!(e.contains("crop or downscale"), "{e}");
    let _ = Shape::new(1, 1, 1).unwrap();
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The statistics, computed the plain way: per pixel, its largest `|d|` against the
/// threshold, coordinates by division.
#[cfg(not(target_arch = "wasm32"))]
fn naive_stats(d: &Plaintext, threshold: u16) -> (u64, Option<[u32; 4]>, u16, f64) {
    let (w, c) = (d.shape().width() as usize, d.shape().channels() as usize);
    let mut changed = 0;
    let mut bbox: Option<[u32; 4]> = None;
    for (i, px) in d.values().chunks_exact(c).enumerate() {
        let m = px.iter().map(|v| v.unsigned_abs()).max().unwrap();
        if m > threshold {
            changed += 1;
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            bbox = Some(match bbox {
                None => [x, y, x, y],
                Some([x0, y0, x1, y1]) => [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
            });
        }
    }
    let max = d.values().iter().map(|v| v.unsigned_abs()).max().unwrap();
    let sum: u64 = d.values().iter().map(|v| v.unsigned_abs() as u64).sum();
    (changed, bbox, max, sum as f64 / d.values().len() as f64)
}

#[cfg(not(target_arch = "wasm32"))]
proptest::proptest! {
    /// `render::stats` (one pass, a row at a time) agrees with the plain computation for
    /// every channel count, shape and threshold.
    #[test]
    fn stats_match_the_plain_computation(
        w in 1u32..40, h in 1u32..12, c in 1u8..=4, threshold in 0u16..300, seed: u64,
        sparse in proptest::bool::ANY,
    ) {
        let mut x = seed | 1;
        let values: Vec<i16> = (0..w as usize * h as usize * c as usize)
            .map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                // Sparse differences leave most pixels unchanged, as a real pair does.
                if sparse && x % 8 != 0 { 0 } else { (x % 511) as i16 - 255 }
            })
            .collect();
        let d = Plaintext::new(Shape::new(w, h, c).unwrap(), ValueRange::of_differences(8), values).unwrap();
        let s = render::stats(&d, threshold);
        let (changed, bbox, max, mean) = naive_stats(&d, threshold);
        proptest::prop_assert_eq!(s.changed_pixels, changed);
        proptest::prop_assert_eq!(s.bounding_box, bbox);
        proptest::prop_assert_eq!(s.max_abs, max);
        proptest::prop_assert_eq!(s.mean_abs, mean);
    }
}
