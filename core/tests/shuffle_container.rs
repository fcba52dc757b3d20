//! The legacy scheme through PICRYPT containers: encryption, signed and saturating
//! subtraction on the server, key files, and refusals.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use picrypt_core::ops::{self, Op};
use picrypt_core::scheme::shuffle::Variant;
use picrypt_core::{Container, Error, Image, Key, Scheme};
use serde_json::Value;

fn variants() -> [Variant; 2] {
    [
        Variant::Rand,
        Variant::Block {
            height: 4,
            width: 3,
        },
    ]
}

#[test]
fn container_round_trip_and_exact_signed_difference() {
    for variant in variants() {
        let key = Key::shuffle_generate(variant).unwrap();
        for (w, h, c) in [(7, 5, 3), (13, 11, 1), (9, 8, 4), (31, 17, 2)] {
            let a = common::image(w, h, c, 1);
            let b = common::image(w, h, c, 2);
            let ca = key.encrypt_insecure_legacy(&a).unwrap();
            let cb = key.encrypt_insecure_legacy(&b).unwrap();
            let bytes = ca.to_bytes();
            assert_eq!(Container::parse(&bytes).unwrap(), ca);
            assert_eq!(common::open(&key, &ca).unwrap().to_image().unwrap(), a);
            let d = ops::apply_bytes(Op::Sub, &bytes, &cb.to_bytes()).unwrap();
            let d = Container::parse(&d).unwrap();
            assert_eq!(
                (
                    d.header().modulus_bits(),
                    d.header().range().min(),
                    d.header().range().max()
                ),
                (9, -255, 255)
            );
            let expected: Vec<i16> = a
                .data()
                .iter()
                .zip(b.data())
                .map(|(&x, &y)| x as i16 - y as i16)
                .collect();
            assert_eq!(
                common::open(&key, &d).unwrap().values(),
                expected,
                "{variant:?} {w}×{h}×{c}"
            );
            let sat = ops::apply(Op::SubSat, &ca, &cb).unwrap();
            let expected: Vec<u8> = a
                .data()
                .iter()
                .zip(b.data())
                .map(|(&x, &y)| x.saturating_sub(y))
                .collect();
            assert_eq!(
                common::open(&key, &sat).unwrap().to_image().unwrap().data(),
                expected
            );
        }
    }
}

/// The library's own saturating-subtraction cases, through containers: the server's
/// output equals the library's server output, and decrypts to cv2.subtract of the images.
#[test]
fn saturating_vectors_through_containers() {
    let v: Value = serde_json::from_str(include_str!("vectors/imageshuffle_vectors.json")).unwrap();
    let cases = v["saturating_subtract_cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let key = Key::shuffle_legacy(case["key"].as_u64().unwrap() as u32, Variant::Rand).unwrap();
        let shape: Vec<u32> = case["shape_hwc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let img = |field: &str| {
            let data = STANDARD.decode(case[field].as_str().unwrap()).unwrap();
            Image::new(shape[1], shape[0], shape[2] as u8, data).unwrap()
        };
        let (a, b) = (img("a_u8_b64"), img("b_u8_b64"));
        let ca = key.encrypt_insecure_legacy(&a).unwrap();
        let cb = key.encrypt_insecure_legacy(&b).unwrap();
        assert_eq!(ca.payload(), img("enc_a_u8_b64").data());
        assert_eq!(cb.payload(), img("enc_b_u8_b64").data());
        let server = ops::apply(Op::SubSat, &ca, &cb).unwrap();
        assert_eq!(server.payload(), img("server_saturating_sub_u8_b64").data());
        let plain = common::open(&key, &server).unwrap().to_image().unwrap();
        assert_eq!(plain, img("decrypted_u8_b64"));
        let cv2: Vec<u8> = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(&x, &y)| x.saturating_sub(y))
            .collect();
        assert_eq!(plain.data(), cv2);
    }
}

#[test]
fn refusals() {
    let key = Key::shuffle_generate(Variant::Rand).unwrap();
    let other = Key::shuffle_legacy(12345, Variant::Rand).unwrap();
    let a = common::image(5, 5, 3, 1);
    let ca = key.encrypt_insecure_legacy(&a).unwrap();
    let cb = key
        .encrypt_insecure_legacy(&common::image(5, 5, 3, 2))
        .unwrap();
    let c_other = other.encrypt_insecure_legacy(&a).unwrap();
    assert!(matches!(
        ops::apply(Op::Sub, &ca, &c_other),
        Err(Error::KeyMismatch(_))
    ));
    assert!(matches!(
        common::open(&other, &ca),
        Err(Error::KeyMismatch(_))
    ));
    // Saturating subtraction of a difference, and on the mask scheme, are refused.
    let d = ops::apply(Op::Sub, &ca, &cb).unwrap();
    assert!(matches!(
        ops::apply(Op::SubSat, &d, &cb),
        Err(Error::UnsupportedOp(_))
    ));
    let mask_key = Key::generate(Scheme::MASK).unwrap();
    let m1 = mask_key.encrypt(&a).unwrap();
    let m2 = mask_key.encrypt(&a).unwrap();
    let e = ops::apply(Op::SubSat, &m1, &m2).unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedOp(_)) && e.to_string().contains("--render saturate"),
        "{e}"
    );
    assert!(matches!(
        ops::apply(Op::Sub, &m1, &ca),
        Err(Error::SchemeMismatch(_))
    ));
    // A block layout other than the key's.
    let block = Key::shuffle_legacy(
        1,
        Variant::Block {
            height: 2,
            width: 2,
        },
    )
    .unwrap();
    let cblock = block.encrypt_insecure_legacy(&a).unwrap();
    assert!(ops::apply(Op::Sub, &ca, &cblock).is_err());
    // Chained differences widen the modulus instead of wrapping.
    let dd = ops::apply(Op::Sub, &d, &d).unwrap();
    assert_eq!(
        (
            dd.header().modulus_bits(),
            dd.header().range().min(),
            dd.header().range().max()
        ),
        (10, -510, 510)
    );
    assert!(common::open(&key, &dd)
        .unwrap()
        .values()
        .iter()
        .all(|&v| v == 0));
    let d_minus_b = ops::apply(Op::Sub, &d, &cb).unwrap();
    let (pa, pd) = (
        common::open(&key, &cb).unwrap(),
        common::open(&key, &d).unwrap(),
    );
    let expected: Vec<i16> = pd
        .values()
        .iter()
        .zip(pa.values())
        .map(|(x, y)| x - y)
        .collect();
    assert_eq!(common::open(&key, &d_minus_b).unwrap().values(), expected);
}

#[test]
fn key_files_round_trip() {
    for variant in variants() {
        let key = Key::shuffle_legacy(54321, variant).unwrap();
        let bytes = key.to_bytes();
        let back = Key::parse(&bytes).unwrap();
        assert_eq!(back.id(), key.id());
        let img = common::image(6, 8, 3, 9);
        let c = key.encrypt_insecure_legacy(&img).unwrap();
        assert_eq!(common::open(&back, &c).unwrap().to_image().unwrap(), img);
        let mut bad = bytes.to_vec();
        let last = bad.len() - 9;
        bad[last] = 7;
        assert!(Key::parse(&bad).is_err());
    }
}
