//! The default scheme end to end: round trips, exact differences, integrity and limits.

mod common;

use picrypt_core::format::{Container, Header, FIXED_HEADER_LEN};
use picrypt_core::ops::{self, Op};
use picrypt_core::{Error, Image, Key, Scheme};
use proptest::prelude::*;

fn key() -> Key {
    Key::generate(Scheme::MASK).unwrap()
}

fn diff_of(a: &Image, b: &Image) -> Vec<i16> {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect()
}

#[test]
fn round_trip_every_layout_and_odd_sizes() {
    let k = key();
    let sizes = [
        (1, 1),
        (1, 17),
        (17, 1),
        (13, 7),
        (31, 29),
        (257, 3),
        (101, 103),
    ];
    for channels in 1..=4u8 {
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let img = common::image(w, h, channels, i as u64);
            let ct = k.encrypt(&img).unwrap();
            let bytes = ct.to_bytes();
            let parsed = Container::parse(&bytes).unwrap();
            assert_eq!(parsed, ct);
            let pt = common::open(&k, &parsed).unwrap();
            assert_eq!(pt.to_image().unwrap(), img, "{w}×{h}×{channels}");
        }
    }
}

#[test]
fn large_image_spans_many_parallel_chunks() {
    let k = key();
    let a = common::image(1005, 642, 3, 1);
    let b = common::image(1005, 642, 3, 2);
    let ca = k.encrypt(&a).unwrap();
    let cb = k.encrypt(&b).unwrap();
    let d = ops::apply(Op::Sub, &ca, &cb).unwrap();
    assert_eq!(common::open(&k, &d).unwrap().values(), diff_of(&a, &b));
    // The size goal: ≤ 1.125 × raw bytes plus a header under 1 KiB.
    let raw = a.data().len();
    assert!(ca.encoded_len() <= raw * 9 / 8 + 1024);
    assert!(d.encoded_len() <= raw * 9 / 8 + 1024);
}

#[test]
fn fresh_nonces_make_ciphertexts_differ() {
    let k = key();
    let img = common::image(8, 8, 3, 7);
    let a = k.encrypt(&img).unwrap();
    let b = k.encrypt(&img).unwrap();
    assert_ne!(a.header().terms()[0].nonce(), b.header().terms()[0].nonce());
    assert_ne!(a.payload(), b.payload());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn decrypt_of_diff_is_exact_difference(
        w in 1u32..40, h in 1u32..40, c in 1u8..=4, seed_a in any::<u64>(), seed_b in any::<u64>()
    ) {
        let k = key();
        let a = common::image(w, h, c, seed_a);
        let b = common::image(w, h, c, seed_b);
        let ca = k.encrypt(&a).unwrap();
        let cb = k.encrypt(&b).unwrap();
        let d = ops::apply_bytes(Op::Sub, &ca.to_bytes(), &cb.to_bytes()).unwrap();
        let pt = common::open(&k, &Container::parse(&d).unwrap()).unwrap();
        prop_assert_eq!(&pt.values(), &diff_of(&a, &b));
        prop_assert_eq!((pt.range().min(), pt.range().max()), (-255, 255));
    }
}

#[test]
fn extremes_survive_subtraction() {
    let k = key();
    let zeros = Image::new(4, 1, 1, vec![0, 255, 0, 255]).unwrap();
    let ones = Image::new(4, 1, 1, vec![255, 0, 0, 255]).unwrap();
    let ca = k.encrypt(&zeros).unwrap();
    let cb = k.encrypt(&ones).unwrap();
    let d = ops::apply(Op::Sub, &ca, &cb).unwrap();
    assert_eq!(common::open(&k, &d).unwrap().values(), [-255, 255, 0, 0]);
    // The same ciphertext twice would name its nonce twice: refused, not computed.
    let e = ops::apply(Op::Sub, &ca, &ca).unwrap_err();
    assert!(matches!(e, Error::SameInput(_)), "{e}");
    // Two encryptions of the same image subtract to zero.
    let again = k.encrypt(&zeros).unwrap();
    let same = ops::apply(Op::Sub, &ca, &again).unwrap();
    assert_eq!(common::open(&k, &same).unwrap().values(), [0, 0, 0, 0]);
}

/// Every single-bit flip anywhere in a fresh or a subtracted container is refused.
#[test]
fn every_bit_flip_is_refused() {
    let k = key();
    let a = common::image(5, 3, 3, 11);
    let b = common::image(5, 3, 3, 12);
    let ca = k.encrypt(&a).unwrap();
    let cb = k.encrypt(&b).unwrap();
    let d = ops::apply(Op::Sub, &ca, &cb).unwrap();
    for c in [ca, d] {
        let bytes = c.to_bytes();
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let result = Container::parse(&flipped).and_then(|c| common::open(&k, &c));
            assert!(
                result.is_err(),
                "flip of bit {bit} (byte {}) accepted",
                bit / 8
            );
        }
    }
}

#[test]
fn truncation_at_every_length_is_refused() {
    let k = key();
    let bytes = k.encrypt(&common::image(4, 4, 3, 1)).unwrap().to_bytes();
    for len in 0..bytes.len() {
        let err = Container::parse(&bytes[..len]).unwrap_err();
        assert!(matches!(err, Error::Format(_)), "len {len}: {err}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Container::parse(&longer).is_err());
}

#[test]
fn wrong_inputs_fail_verification() {
    // The server claims to have computed A − B but used C.
    let k = key();
    let imgs: Vec<Image> = (0..3).map(|s| common::image(9, 9, 1, s)).collect();
    let cts: Vec<Container> = imgs.iter().map(|i| k.encrypt(i).unwrap()).collect();
    let honest = ops::apply(Op::Sub, &cts[0], &cts[1]).unwrap();
    let other = ops::apply(Op::Sub, &cts[0], &cts[2]).unwrap();
    // Bytes 68..118 are the two terms, 48..56 the tag; the payload follows the terms.
    let (honest, other) = (honest.to_bytes(), other.to_bytes());
    let lie = [&other[..68], &honest[68..118], &other[118..]].concat();
    assert!(matches!(open_bytes(&k, &lie), Err(Error::Verification)));
    let lie = [&honest[..118], &other[118..]].concat();
    assert!(matches!(open_bytes(&k, &lie), Err(Error::Verification)));
    // Swapped operands: the terms say A − B, the data is B − A.
    let swapped = ops::apply(Op::Sub, &cts[1], &cts[0]).unwrap().to_bytes();
    let lie = [
        &honest[..48],
        &swapped[48..56],
        &honest[56..118],
        &swapped[118..],
    ]
    .concat();
    assert!(matches!(open_bytes(&k, &lie), Err(Error::Verification)));
}

fn open_bytes(k: &Key, bytes: &[u8]) -> picrypt_core::Result<picrypt_core::Plaintext> {
    common::open(k, &Container::parse(bytes)?)
}

#[test]
fn a_result_of_other_inputs_is_caught() {
    let k = key();
    let cts: Vec<Container> = (0..3)
        .map(|s| k.encrypt(&common::image(4, 4, 3, s)).unwrap())
        .collect();
    let honest = ops::apply(Op::Sub, &cts[0], &cts[1]).unwrap();
    ops::check_result_of(Op::Sub, cts[0].header(), cts[1].header(), honest.header()).unwrap();
    // A valid, verifiable result, but of A − C: decrypt accepts it, the check does not.
    let other = ops::apply(Op::Sub, &cts[0], &cts[2]).unwrap();
    assert!(common::open(&k, &other).is_ok());
    let e = ops::check_result_of(Op::Sub, cts[0].header(), cts[1].header(), other.header())
        .unwrap_err();
    assert!(matches!(e, Error::Verification), "{e}");
}

#[test]
fn reshaped_ciphertext_fails_verification() {
    let k = key();
    let ct = k.encrypt(&common::image(6, 4, 1, 3)).unwrap();
    let mut reshaped = ct.to_bytes();
    reshaped[12..16].copy_from_slice(&4u32.to_le_bytes());
    reshaped[16..20].copy_from_slice(&6u32.to_le_bytes());
    assert!(matches!(
        open_bytes(&k, &reshaped),
        Err(Error::Verification)
    ));
}

#[test]
fn key_mismatch() {
    let (k1, k2) = (key(), key());
    let img = common::image(3, 3, 3, 0);
    let c1 = k1.encrypt(&img).unwrap();
    let c2 = k2.encrypt(&img).unwrap();
    let e = ops::apply(Op::Sub, &c1, &c2).unwrap_err();
    assert!(matches!(e, Error::KeyMismatch(_)), "{e}");
    assert!(e.to_string().starts_with("key mismatch"));
    let e = common::open(&k2, &c1).unwrap_err();
    assert!(matches!(e, Error::KeyMismatch(_)), "{e}");
}

#[test]
fn shape_mismatch_names_the_dimension() {
    let k = key();
    let a = k.encrypt(&common::image(3, 4, 3, 0)).unwrap();
    let b = k.encrypt(&common::image(3, 5, 1, 0)).unwrap();
    let e = ops::apply(Op::Sub, &a, &b).unwrap_err().to_string();
    assert!(
        e.contains("height 4 vs 5") && e.contains("channels 3 vs 1"),
        "{e}"
    );
    assert!(!e.contains("width"), "{e}");
}

#[test]
fn range_overflow_is_refused() {
    let k = key();
    let cts: Vec<Container> = (0..4)
        .map(|s| k.encrypt(&common::image(2, 2, 1, s)).unwrap())
        .collect();
    let d1 = ops::apply(Op::Sub, &cts[0], &cts[1]).unwrap();
    let d2 = ops::apply(Op::Sub, &cts[2], &cts[3]).unwrap();
    for (a, b) in [(&d1, &d2), (&d1, &cts[2]), (&cts[2], &d1)] {
        let e = ops::apply(Op::Sub, a, b).unwrap_err();
        assert!(matches!(e, Error::RangeOverflow(_)), "{e}");
    }
}

#[test]
fn header_claiming_huge_image_fails_before_allocating() {
    let k = key();
    let ct = k.encrypt(&common::image(2, 2, 3, 0)).unwrap();
    let mut bytes = ct.to_bytes();
    bytes[12..16].copy_from_slice(&100_000u32.to_le_bytes());
    bytes[16..20].copy_from_slice(&100_000u32.to_le_bytes());
    let e = Container::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("2^28"), "{e}");
    // Within the sample limit but far beyond the bytes present.
    bytes[12..16].copy_from_slice(&8000u32.to_le_bytes());
    bytes[16..20].copy_from_slice(&8000u32.to_le_bytes());
    let e = Container::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("payload"), "{e}");
    // Header fields alone parse without the payload (streaming), and say its size.
    let (h, hl): (Header, usize) = Header::parse(&ct.to_bytes()[..FIXED_HEADER_LEN + 25]).unwrap();
    assert_eq!((hl, h.payload_len()), (FIXED_HEADER_LEN + 25, 14));
    assert_eq!(&h, ct.header());
}

#[test]
fn header_stays_small() {
    let k = Key::generate(Scheme::MASK).unwrap();
    let ct = k.encrypt(&common::image(1, 1, 1, 0)).unwrap();
    assert_eq!(ct.header().encoded_len(), FIXED_HEADER_LEN + 25);
}
