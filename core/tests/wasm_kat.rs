//! The browser build under wasm, beyond the known-answer vectors (`kat.rs`, which runs
//! here too): key files, `.npy`, PNG and JPEG decoding, a render, and a fresh random key
//! (the page's `crypto.getRandomValues`). Run by `tests/wasm.sh` with `wasm-bindgen-test-runner` in
//! Node, built with `--no-default-features --features kat,png,jpeg,render`. On any other
//! target this file is empty: `core/tests/kat.rs` and `render.rs` check the same natively.
#![cfg(target_arch = "wasm32")]

use picrypt_core::render::{self, RenderMode};
use picrypt_core::{image_io, npy, ops, verify, Container, Image, Key, Op, Plaintext, Scheme};
use wasm_bindgen_test::wasm_bindgen_test;

// No `wasm_bindgen_test_configure!(run_in_browser)`: the tests run in Node.

mod common;
use common::kat::{container_of, kat_key, unhex, vectors};

/// The decrypted known-answer difference (A − B of the vectors), through `verify`.
fn kat_difference() -> Plaintext {
    let v = vectors();
    let s = &v["subtraction"];
    let (a, b) = (container_of(&v, &s["a"]), container_of(&v, &s["b"]));
    let result = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
    verify::check_result(Op::Sub, &a, &b, &result)
        .unwrap()
        .decrypt(&kat_key(&v))
        .unwrap()
}

#[wasm_bindgen_test]
fn key_file_round_trip() {
    let v = vectors();
    let key = kat_key(&v);
    let bytes = key.to_bytes();
    assert!(picrypt_core::keyfile::looks_like_key_file(&bytes));
    let parsed = Key::parse(&bytes).unwrap();
    assert_eq!(parsed.id(), key.id());
    assert_eq!(parsed.scheme(), Scheme::MASK);
    assert_eq!(&*parsed.to_bytes(), &*bytes);
    // The parsed key decrypts the known-answer ciphertexts.
    let case = &v["encryptions"][0];
    let c = Container::parse(&unhex(case["container_hex"].as_str().unwrap())).unwrap();
    let img = verify::decrypt(&parsed, &c, verify::Expect::Image)
        .unwrap()
        .to_image()
        .unwrap();
    assert_eq!(img.data(), unhex(case["pixels_hex"].as_str().unwrap()));
    // A damaged key file is refused.
    let mut bad = bytes.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(Key::parse(&bad).is_err());
    assert!(Key::parse(&bytes[..bytes.len() - 1]).is_err());
}

#[wasm_bindgen_test]
fn npy_encode_and_decode() {
    let img = Image::new(3, 2, 3, (0..18).map(|i| i * 13).collect()).unwrap();
    let bytes = npy::encode_u8(&img);
    assert!(bytes.starts_with(b"\x93NUMPY"));
    assert_eq!((bytes.len() - img.data().len()) % 64, 0);
    assert_eq!(npy::decode_u8(&bytes).unwrap(), img);

    let d = kat_difference();
    let bytes = npy::encode_i16(&d.shape(), d.values());
    let header_end = bytes.len() - 2 * d.values().len();
    let header = std::str::from_utf8(&bytes[10..header_end]).unwrap();
    assert!(header.contains("'descr': '<i2'"), "{header}");
    assert!(header.contains("'shape': (2, 3, 3)"), "{header}");
    let body: Vec<i16> = bytes[header_end..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(body, d.values());
}

#[wasm_bindgen_test]
fn png_encode_and_decode() {
    for channels in 1..=4u8 {
        let n = 5 * 3 * channels as usize;
        let img = Image::new(
            5,
            3,
            channels,
            (0..n).map(|i| (i * 37 % 256) as u8).collect(),
        )
        .unwrap();
        let png = image_io::encode_png(&img).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(image_io::decode(&png).unwrap(), img, "{channels} channels");
    }
}

/// A 16×8 RGB JPEG made by libjpeg-turbo 3 (Pillow 13: quality 95, no chroma
/// subsampling, optimised Huffman tables): the left 8×8 block rgb(200, 30, 30), the right
/// one rgb(20, 40, 220). libjpeg-turbo decodes it to (200, 30, 30) and (20, 41, 220).
const JPEG_16X8: &str = concat!(
    "ffd8ffe000104a46494600010100000100010000ffdb0043000201010101010201010102020202020403020202020504",
    "040304060506060605060606070908060709070606080b08090a0a0a0a0a06080b0c0b0a0c090a0a0affdb0043010202",
    "02020202050303050a0706070a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
    "0a0a0a0a0a0a0a0a0a0a0a0a0a0affc00011080008001003011100021101031101ffc400150001010000000000000000",
    "0000000000000708ffc40014100100000000000000000000000000000000ffc400150101010000000000000000000000",
    "0000000907ffc40014110100000000000000000000000000000000ffda000c03010002110311003f0090d0b2a8173d01",
    "1dffd9",
);

#[wasm_bindgen_test]
fn jpeg_decode() {
    let jpeg = unhex(JPEG_16X8);
    let img = image_io::decode(&jpeg).unwrap();
    assert_eq!((img.width(), img.height(), img.channels()), (16, 8, 3));
    for (i, px) in img.data().chunks_exact(3).enumerate() {
        let want: [u8; 3] = if i % 16 < 8 {
            [200, 30, 30]
        } else {
            [20, 40, 220]
        };
        for (got, want) in px.iter().zip(want) {
            // JPEG is lossy and decoders round differently: within a few levels.
            assert!(got.abs_diff(want) <= 4, "pixel {i}: {px:?} vs {want:?}");
        }
    }
    // A truncated JPEG is an error, not a panic.
    assert!(image_io::decode(&jpeg[..jpeg.len() / 2]).is_err());
}

#[wasm_bindgen_test]
fn render_a_difference() {
    let d = kat_difference();
    let expected: Vec<u8> = d
        .values()
        .iter()
        .map(|v| v.unsigned_abs().min(255) as u8)
        .collect();
    let abs = render::render(&d, RenderMode::Abs, render::DEFAULT_THRESHOLD, None).unwrap();
    assert_eq!((abs.width(), abs.height(), abs.channels()), (3, 2, 3));
    assert_eq!(abs.data(), expected);
    let mask = render::render(&d, RenderMode::Mask, render::DEFAULT_THRESHOLD, None).unwrap();
    assert_eq!(mask.channels(), 1);
    for (px, m) in d.values().chunks_exact(3).zip(mask.data()) {
        let biggest = px.iter().map(|v| v.unsigned_abs()).max().unwrap();
        assert_eq!(*m == 255, biggest > render::DEFAULT_THRESHOLD);
    }
    let heat = render::render(&d, RenderMode::Heatmap, render::DEFAULT_THRESHOLD, None).unwrap();
    assert_eq!(heat.channels(), 3);
    let stats = render::stats(&d, render::DEFAULT_THRESHOLD);
    assert_eq!((stats.width, stats.height, stats.total_pixels), (3, 2, 6));
    assert_eq!(stats.max_abs, 255);
    // The render encodes as a PNG that decodes back to itself.
    let png = image_io::encode_png(&abs).unwrap();
    assert_eq!(image_io::decode(&png).unwrap(), abs);
}

#[wasm_bindgen_test]
fn fresh_key_round_trip() {
    // Key::generate and the nonces come from crypto.getRandomValues (getrandom's `js`).
    let key = Key::generate(Scheme::MASK).unwrap();
    let other = Key::generate(Scheme::MASK).unwrap();
    assert_ne!(key.id(), other.id());
    let before = Image::new(4, 2, 1, vec![10, 20, 30, 40, 50, 60, 70, 80]).unwrap();
    let after = Image::new(4, 2, 1, vec![10, 20, 99, 40, 50, 60, 70, 0]).unwrap();
    let a = key.encrypt(&before).unwrap().to_bytes();
    let b = key.encrypt(&after).unwrap().to_bytes();
    // Two encryptions under fresh nonces never repeat.
    assert_ne!(a, key.encrypt(&before).unwrap().to_bytes());
    let result = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
    let checked = verify::check_result(Op::Sub, &a, &b, &result).unwrap();
    let difference = checked.decrypt(&key).unwrap();
    assert_eq!(difference.values(), &[0, 0, -69, 0, 0, 0, 0, 80]);
    // The wrong key is refused.
    assert!(checked.decrypt(&other).is_err());
    // Through a key file as the browser would store it.
    let reloaded = Key::parse(&key.to_bytes()).unwrap();
    assert_eq!(checked.decrypt(&reloaded).unwrap(), difference);
}
