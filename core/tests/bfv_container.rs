//! The public-key scheme through PICRYPT containers and key files: devices encrypt with
//! the public key alone, the server subtracts without keys, only the secret key decrypts.

mod common;

use picrypt_core::ops::{self, Op};
use picrypt_core::Key;
use picrypt_core::{Container, Error, Image, Scheme};

fn diff(a: &Image, b: &Image) -> Vec<i16> {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect()
}

#[test]
fn public_key_encrypts_server_subtracts_secret_key_decrypts() {
    let secret = Key::generate(Scheme::BFV).unwrap();
    let public = Key::parse(&secret.public().unwrap().to_bytes()).unwrap();
    assert!(!public.is_secret());
    assert_eq!(public.id(), secret.id());
    for channels in 1..=4u8 {
        for (w, h) in [(1, 1), (1, 13), (37, 1), (31, 29), (2048, 1), (45, 47)] {
            let a = common::image(w, h, channels, 5);
            let b = common::image(w, h, channels, 6);
            let ca = public.encrypt(&a).unwrap();
            let cb = public.encrypt(&b).unwrap();
            let bytes = ca.to_bytes();
            assert_eq!(Container::parse(&bytes).unwrap(), ca);
            assert_eq!(common::open(&secret, &ca).unwrap().to_image().unwrap(), a);
            let d = ops::apply_bytes(Op::Sub, &bytes, &cb.to_bytes()).unwrap();
            let pt = common::open(&secret, &Container::parse(&d).unwrap()).unwrap();
            assert_eq!(pt.values(), diff(&a, &b), "{w}×{h}×{channels}");
            assert_eq!((pt.range().min(), pt.range().max()), (-255, 255));
        }
    }
}

#[test]
fn extremes_and_refusals() {
    let secret = Key::generate(Scheme::BFV).unwrap();
    let public = secret.public().unwrap();
    let zeros = Image::new(3, 1, 1, vec![0, 255, 128]).unwrap();
    let ones = Image::new(3, 1, 1, vec![255, 0, 128]).unwrap();
    let c0 = public.encrypt(&zeros).unwrap();
    let c1 = public.encrypt(&ones).unwrap();
    let d = ops::apply(Op::Sub, &c0, &c1).unwrap();
    assert_eq!(common::open(&secret, &d).unwrap().values(), [-255, 255, 0]);
    // One subtraction only: the plaintext modulus (and the noise analysis) end there.
    assert!(matches!(
        ops::apply(Op::Sub, &d, &c1),
        Err(Error::RangeOverflow(_))
    ));
    // The public key cannot decrypt, and says so.
    let e = common::open(&public, &c0).unwrap_err().to_string();
    assert!(e.contains("public key") && e.contains("secret key"), "{e}");
    // Another key pair: key mismatch, before any arithmetic.
    let other = Key::generate(Scheme::BFV).unwrap();
    let c_other = other.encrypt(&zeros).unwrap();
    assert!(matches!(
        ops::apply(Op::Sub, &c0, &c_other),
        Err(Error::KeyMismatch(_))
    ));
    assert!(matches!(
        common::open(&other, &c0),
        Err(Error::KeyMismatch(_))
    ));
    // Mixing schemes.
    let mask = Key::generate(Scheme::MASK).unwrap();
    let cm = mask.encrypt(&zeros).unwrap();
    assert!(matches!(
        ops::apply(Op::Sub, &c0, &cm),
        Err(Error::SchemeMismatch(_))
    ));
    assert!(matches!(
        common::open(&mask, &c0),
        Err(Error::SchemeMismatch(_))
    ));
    assert!(matches!(
        ops::apply(Op::SubSat, &c0, &c1),
        Err(Error::UnsupportedOp(_))
    ));
    // No tag: the header says so. A coefficient that is not reduced mod q0 (all 23 bits
    // set) is refused, by the server's operation and by decryption.
    assert!(c0.header().tag().is_none());
    let mut bytes = c0.to_bytes();
    let n = bytes.len();
    bytes[n - 3..].fill(0xff);
    let corrupt = Container::parse(&bytes).unwrap();
    assert!(matches!(
        ops::apply(Op::Sub, &corrupt, &c1),
        Err(Error::Format(_))
    ));
    assert!(common::open(&secret, &corrupt).is_err());
    bytes.truncate(n - 1);
    assert!(Container::parse(&bytes).is_err());
}

#[test]
fn key_files_round_trip_and_refuse_damage() {
    let secret = Key::generate(Scheme::BFV).unwrap();
    let public = secret.public().unwrap();
    for key in [&secret, &public] {
        let bytes = key.to_bytes();
        let back = Key::parse(&bytes).unwrap();
        assert_eq!((back.id(), back.is_secret()), (key.id(), key.is_secret()));
        // Damage anywhere in the header or the public key is refused.
        for i in (0..bytes.len()).step_by(97) {
            let mut bad = bytes.to_vec();
            bad[i] ^= 0x40;
            assert!(
                Key::parse(&bad).is_err(),
                "flip at {i} of {} accepted",
                bytes.len()
            );
        }
        assert!(Key::parse(&bytes[..bytes.len() - 1]).is_err());
    }
    let img = common::image(9, 9, 3, 1);
    let c = Key::parse(&public.to_bytes())
        .unwrap()
        .encrypt(&img)
        .unwrap();
    let back = Key::parse(&secret.to_bytes()).unwrap();
    assert_eq!(common::open(&back, &c).unwrap().to_image().unwrap(), img);
}

#[test]
fn size_goal() {
    let public = Key::generate(Scheme::BFV).unwrap().public().unwrap();
    let img = common::image(256, 64, 3, 2);
    let c = public.encrypt(&img).unwrap();
    let ratio = c.encoded_len() as f64 / img.data().len() as f64;
    assert!(ratio <= 8.0, "ciphertext is {ratio:.2}× the raw bytes");
}
