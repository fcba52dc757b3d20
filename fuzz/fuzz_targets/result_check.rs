//! The client's check of what a server returns: arbitrary bytes posing as the result of
//! A − B go through `verify::check_result` (against the two real inputs) and, when they
//! parse, `verify::decrypt` as an image and as a difference. Never panics, and never
//! accepts a forgery: whatever is accepted decrypts to exactly what the MAC guarantees —
//! `a − b` for a checked result, one of the honest images for an image, and the
//! difference of two honest images for a difference. A bfv container that is not tied to
//! checked inputs is never decrypted.
//!
//! Fixture: one mask key and three fixed images encrypted under fixed nonces (so the seeds
//! written by `seedgen` are results of exactly these inputs), and one bfv key pair with
//! two inputs, made once per process.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use picrypt_core::verify::{self, Expect};
use picrypt_core::{Container, Error, Image, Key, Op, Scheme};

struct Fixture {
    key: Key,
    inputs: Vec<Vec<u8>>,
    images: Vec<Vec<i16>>,
    bfv: Key,
    bfv_inputs: [Vec<u8>; 2],
}

/// The images and nonces `seedgen` uses for this target (keep the two in step).
fn image(seed: u32) -> Image {
    let data = (0..5 * 3 * 3u32)
        .map(|i| (i.wrapping_mul(37).wrapping_add(seed.wrapping_mul(101)) % 256) as u8)
        .collect();
    Image::new(5, 3, 3, data).unwrap()
}

fn nonce(i: u8) -> [u8; 24] {
    std::array::from_fn(|j| i.wrapping_mul(31).wrapping_add(j as u8))
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = Key::mask_from_secret(&[7u8; 32]);
        let images: Vec<Image> = (1..=3).map(image).collect();
        let inputs = images
            .iter()
            .enumerate()
            .map(|(i, img)| {
                key.encrypt_with_nonce(img, &nonce(100 + i as u8))
                    .unwrap()
                    .to_bytes()
            })
            .collect();
        let bfv = Key::generate(Scheme::BFV).unwrap();
        let public = bfv.public().unwrap();
        let bfv_inputs = [1, 2].map(|s| public.encrypt(&image(s)).unwrap().to_bytes());
        Fixture {
            key,
            inputs,
            images: images
                .iter()
                .map(|i| i.data().iter().map(|&v| v as i16).collect())
                .collect(),
            bfv,
            bfv_inputs,
        }
    })
}

fn minus(a: &[i16], b: &[i16]) -> Vec<i16> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (a, b) = (&f.inputs[0], &f.inputs[1]);
    if let Ok(checked) = verify::check_result(Op::Sub, a, b, data) {
        if let Ok(pt) = checked.decrypt(&f.key) {
            assert_eq!(pt.values(), minus(&f.images[0], &f.images[1]), "forged result accepted");
        }
    }
    if let Ok(c) = Container::parse(data) {
        if let Ok(pt) = verify::decrypt(&f.key, &c, Expect::Image) {
            assert!(f.images.iter().any(|i| i == pt.values()), "forged image accepted");
        }
        if let Ok(pt) = verify::decrypt(&f.key, &c, Expect::Difference) {
            let honest = (0..3).any(|i| {
                (0..3).any(|j| i != j && pt.values() == minus(&f.images[i], &f.images[j]))
            });
            assert!(honest, "forged difference accepted");
        }
        for expect in [Expect::Image, Expect::Difference] {
            if c.header().scheme() == Scheme::BFV {
                let r = verify::decrypt(&f.bfv, &c, expect);
                assert!(
                    matches!(r, Err(Error::Unverifiable(_)) | Err(Error::KeyMismatch(_))),
                    "an untied bfv container was decrypted"
                );
            }
        }
    }
    let (ba, bb) = (&f.bfv_inputs[0], &f.bfv_inputs[1]);
    if let Ok(checked) = verify::check_result(Op::Sub, ba, bb, data) {
        let expected = picrypt_core::ops::apply_bytes(Op::Sub, ba, bb).unwrap();
        assert_eq!(checked.container().to_bytes(), expected, "bfv result not recomputed");
    }
});
