//! Encryption, decryption, the client's check, renders and statistics a chunk at a time
//! (`stream::Encryptor`, `stream::Decryptor`, `verify::StreamedCheck`, `render::Renderer`,
//! `render::StatsBuilder`): for any chunking they give exactly the bytes and the decisions
//! of the whole-buffer functions, and they refuse what those refuse, once, at the end.

mod common;

use picrypt_core::render::{self, RenderMode, Renderer, StatsBuilder};
use picrypt_core::verify::{self, Expect, StreamedCheck};
use picrypt_core::{ops, Container, Error, Header, Image, Key, Op, Scheme};
use proptest::prelude::*;

/// Cuts `len` into pieces whose sizes cycle through `sizes` (none empty).
fn pieces(len: usize, sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < len {
        let n = sizes[i % sizes.len()].max(1).min(len - at);
        out.push(at..at + n);
        at += n;
        i += 1;
    }
    out
}

/// An encrypted image through the encryptor, fed in `sizes`: the encoded container,
/// with the header written last into the space reserved for it.
fn encrypt_streamed(
    key: &Key,
    image: &Image,
    nonce: &[u8; 24],
    sizes: &[usize],
) -> picrypt_core::Result<Vec<u8>> {
    let mut e = key.encryptor_with_nonce(image.shape(), nonce)?;
    let mut out = vec![0u8; e.header_len()];
    for r in pieces(image.data().len(), sizes) {
        e.update(&image.data()[r], &mut out)?;
    }
    let header = e.finish(&mut out)?;
    let bytes = header.to_bytes();
    out[..bytes.len()].copy_from_slice(&bytes);
    Ok(out)
}

/// A container's payload through a decryptor, fed in `sizes`: the values, or the error
/// `finish` decided.
fn decrypt_streamed(
    key: &Key,
    c: &Container,
    expect: Expect,
    sizes: &[usize],
) -> picrypt_core::Result<Vec<i16>> {
    let mut d = verify::decryptor(key, c.header(), expect)?;
    let mut values = Vec::new();
    for r in pieces(c.payload().len(), sizes) {
        d.update(&c.payload()[r], &mut values)?;
    }
    d.finish(&mut values)?;
    Ok(values)
}

/// A result checked through `StreamedCheck`, chunks of about `target` bytes of A, its
/// payload also decrypted as it goes when `key` is given (mask).
fn check_streamed(
    op: Op,
    a: &[u8],
    b: &[u8],
    result: &[u8],
    target: usize,
    key: Option<&Key>,
) -> picrypt_core::Result<(verify::StreamedResult, Vec<i16>)> {
    let mut check = StreamedCheck::new(op, a, b)?;
    let [la, lb] = check.payload_starts();
    let (mut a, mut b) = (&a[la..], &b[lb..]);
    let at = check.check_header(result)?;
    let mut r = &result[at..];
    let mut decryptor = key.map(|k| check.decryptor(k)).transpose()?;
    let mut values = Vec::new();
    while !check.is_done() {
        let lens = check.next_lens(target);
        if r.len() < lens.out {
            return Err(Error::Verification);
        }
        let (ia, ib): (&[u8], &[u8]) = if check.needs_inputs() {
            (&a[..lens.a], &b[..lens.b])
        } else {
            (&[], &[])
        };
        check.next(lens, ia, ib, &r[..lens.out])?;
        if let Some(d) = decryptor.as_mut() {
            d.update(&r[..lens.out], &mut values)?;
        }
        (a, b, r) = (&a[lens.a..], &b[lens.b..], &r[lens.out..]);
    }
    if !r.is_empty() {
        return Err(Error::Verification);
    }
    if let Some(d) = decryptor {
        d.finish(&mut values)?;
    }
    Ok((check.finish()?, values))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The encryptor gives the bytes of `encrypt_with_nonce` (and so the known-answer
    /// vectors) for any chunking, and the decryptor the values of `decrypt`.
    #[test]
    fn any_chunking_encrypts_and_decrypts_as_whole_buffers(
        w in 1u32..400, h in 1u32..40, channels in 1u8..=4,
        sizes in proptest::collection::vec(1usize..20_000, 1..6), seed: u64,
    ) {
        let key = Key::mask_from_secret(&[7; 32]);
        let image = common::image(w, h, channels, seed);
        let nonce = [seed as u8; 24];
        let whole = key.encrypt_with_nonce(&image, &nonce).unwrap();
        let streamed = encrypt_streamed(&key, &image, &nonce, &sizes).unwrap();
        prop_assert_eq!(&streamed, &whole.to_bytes());
        let values = decrypt_streamed(&key, &whole, Expect::Image, &sizes).unwrap();
        let pt = common::open(&key, &whole).unwrap();
        prop_assert_eq!(values.as_slice(), pt.values());
    }

    /// The streamed check accepts exactly the honest result, for every scheme and any
    /// chunking, and names the inputs as `check_result` does; mask's result decrypts to
    /// the same values as it is checked.
    #[test]
    fn any_chunking_checks_as_check_result(
        w in 1u32..300, h in 1u32..9, channels in 1u8..=4, target in 1usize..6000,
    ) {
        for scheme in [Scheme::MASK, Scheme::BFV, Scheme::SHUFFLE] {
            let key = Key::generate(scheme).unwrap();
            let enc = |seed| key.encrypt_insecure_legacy(&common::image(w, h, channels, seed)).unwrap().to_bytes();
            let (a, b) = (enc(1), enc(2));
            let result = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
            let whole = verify::check_result(Op::Sub, &a, &b, &result).unwrap();
            let tag = scheme == Scheme::MASK;
            let (checked, values) =
                check_streamed(Op::Sub, &a, &b, &result, target, tag.then_some(&key)).unwrap();
            prop_assert_eq!(checked.describe(), whole.describe());
            prop_assert_eq!(checked.header(), whole.container().header());
            let pt = whole.decrypt(&key).unwrap();
            if tag {
                prop_assert_eq!(values.as_slice(), pt.values());
            }
            let payload = result[result.len() - checked.header().payload_len() as usize..].to_vec();
            let streamed_pt = checked.decrypt(&key, payload).unwrap();
            prop_assert_eq!(streamed_pt.values(), pt.values());
        }
    }

    /// Renders and statistics row by row are the whole-buffer ones.
    #[test]
    fn renders_and_stats_row_by_row_are_the_whole_ones(
        w in 1u32..120, h in 1u32..12, channels in 1u8..=4, rows in 1usize..5, threshold in 0u16..300,
    ) {
        let key = Key::generate(Scheme::MASK).unwrap();
        let (x, y) = (common::image(w, h, channels, 5), common::image(w, h, channels, 6));
        let (a, b) = (key.encrypt(&x).unwrap().to_bytes(), key.encrypt(&y).unwrap().to_bytes());
        let result = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
        let diff = verify::check_result(Op::Sub, &a, &b, &result).unwrap().decrypt(&key).unwrap();
        let row = (w * channels as u32) as usize;
        for mode in RenderMode::ALL {
            let whole = render::render(&diff, mode, threshold, Some(&y)).unwrap();
            let mut renderer = Renderer::new(diff.shape(), mode, threshold);
            let mut out = Vec::new();
            for (d, af) in diff.values().chunks(rows * row).zip(y.data().chunks(rows * row)) {
                renderer.push_rows(d, Some(af), &mut out).unwrap();
            }
            prop_assert_eq!(renderer.out_shape(), (whole.width(), whole.height(), whole.channels()));
            renderer.finish(&mut out).unwrap();
            prop_assert_eq!(&out, whole.data(), "{}", mode.name());
        }
        let mut stats = StatsBuilder::new(diff.shape(), threshold);
        for d in diff.values().chunks(rows * row) {
            stats.push_rows(d);
        }
        prop_assert_eq!(stats.finish(), render::stats(&diff, threshold));
    }
}

#[test]
fn the_known_answer_vectors_hold_streamed() {
    use common::kat::{kat_key, unhex, vectors};
    let v = vectors();
    let key = kat_key(&v);
    for case in v["encryptions"].as_array().unwrap() {
        let image = Image::new(
            case["width"].as_u64().unwrap() as u32,
            case["height"].as_u64().unwrap() as u32,
            case["channels"].as_u64().unwrap() as u8,
            unhex(case["pixels_hex"].as_str().unwrap()),
        )
        .unwrap();
        let nonce: [u8; 24] = unhex(case["nonce_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let expected = unhex(case["container_hex"].as_str().unwrap());
        for sizes in [&[1usize][..], &[7, 3840, 5], &[1 << 20]] {
            let got = encrypt_streamed(&key, &image, &nonce, sizes).unwrap();
            assert_eq!(got, expected, "{} in pieces of {sizes:?}", case["name"]);
            let c = Container::parse(&expected).unwrap();
            let values = decrypt_streamed(&key, &c, Expect::Image, sizes).unwrap();
            assert!(values
                .iter()
                .zip(image.data())
                .all(|(&v, &p)| v == p as i16));
        }
    }
}

#[test]
fn the_decryptor_decides_once_at_the_end() {
    let key = Key::generate(Scheme::MASK).unwrap();
    let x = common::image(300, 20, 3, 9);
    let c = key.encrypt(&x).unwrap();
    let whole = c.to_bytes();
    let at = c.header().encoded_len();
    // A flipped payload bit anywhere: every update goes through, finish refuses.
    for bit in [0, 7 * 8 + 3, (whole.len() - at - 1) * 8] {
        let mut bad = whole.clone();
        bad[at + bit / 8] ^= 1 << (bit % 8);
        let bad = Container::parse(&bad).unwrap();
        let e = decrypt_streamed(&key, &bad, Expect::Image, &[4321, 17]).unwrap_err();
        assert!(matches!(e, Error::Verification), "{e:?}");
    }
    // Fewer or more payload bytes than the header declares.
    let mut d = verify::decryptor(&key, c.header(), Expect::Image).unwrap();
    let mut values = Vec::new();
    d.update(&c.payload()[..c.payload().len() - 1], &mut values)
        .unwrap();
    assert!(matches!(d.finish(&mut values), Err(Error::Verification)));
    assert!(values.iter().all(|&v| v == 0), "refused values are wiped");
    let mut d = verify::decryptor(&key, c.header(), Expect::Image).unwrap();
    let mut long = c.payload().to_vec();
    long.push(0);
    assert!(d.update(&long, &mut Vec::new()).is_err());
    // Expectations are checked up front, as by `verify::decrypt`.
    assert!(matches!(
        verify::decryptor(&key, c.header(), Expect::Difference),
        Err(Error::Verification)
    ));
    let other = Key::generate(Scheme::MASK).unwrap();
    assert!(matches!(
        verify::decryptor(&other, c.header(), Expect::Image),
        Err(Error::KeyMismatch(_))
    ));
    // bfv is never decrypted untied, and shuffle has no streaming decryptor.
    let bfv = Key::generate(Scheme::BFV).unwrap();
    let cb = bfv.encrypt(&x).unwrap();
    assert!(matches!(
        verify::decryptor(&bfv, cb.header(), Expect::Image),
        Err(Error::Unverifiable(_))
    ));
    let shuffle = Key::generate(Scheme::SHUFFLE).unwrap();
    let cs = shuffle.encrypt_insecure_legacy(&x).unwrap();
    assert!(verify::decryptor(&shuffle, cs.header(), Expect::Image).is_err());
}

#[test]
fn the_encryptor_refuses_the_wrong_number_of_samples_and_legacy_keys() {
    let key = Key::generate(Scheme::MASK).unwrap();
    let x = common::image(10, 10, 1, 1);
    let mut e = key.encryptor(x.shape()).unwrap();
    let mut out = Vec::new();
    e.update(&x.data()[..99], &mut out).unwrap();
    assert!(matches!(e.finish(&mut out), Err(Error::Image(_))));
    let mut e = key.encryptor(x.shape()).unwrap();
    assert!(e.update(&[0; 101], &mut out).is_err());
    // Two encryptions of one image draw different nonces, as `encrypt` does.
    let one = |k: &Key| {
        let mut e = k.encryptor(x.shape()).unwrap();
        let mut out = Vec::new();
        e.update(x.data(), &mut out).unwrap();
        e.finish(&mut out).unwrap()
    };
    assert_ne!(one(&key).terms(), one(&key).terms());
    // bfv encrypts in chunks: exactly the payload length, and it decrypts as a whole one.
    let bfv = Key::generate(Scheme::BFV).unwrap();
    let y = common::image(70, 70, 3, 2);
    let mut e = bfv.encryptor(y.shape()).unwrap();
    let mut payload = Vec::new();
    for piece in y.data().chunks(1000) {
        e.update(piece, &mut payload).unwrap();
    }
    let header = e.finish(&mut payload).unwrap();
    assert_eq!(payload.len() as u64, header.payload_len());
    let mut bytes = header.to_bytes();
    bytes.extend_from_slice(&payload);
    let c = Container::parse(&bytes).unwrap();
    assert_eq!(common::open(&bfv, &c).unwrap().to_image().unwrap(), y);
    // The legacy key is refused, as `Key::encrypt` refuses it.
    let shuffle = Key::generate(Scheme::SHUFFLE).unwrap();
    assert!(!shuffle.encrypts_in_chunks());
    assert!(matches!(
        shuffle.encryptor(x.shape()),
        Err(Error::InsecureScheme(_))
    ));
}

#[test]
fn the_streamed_check_refuses_what_check_result_refuses() {
    for scheme in [Scheme::MASK, Scheme::BFV, Scheme::SHUFFLE] {
        let key = Key::generate(scheme).unwrap();
        let enc = |seed| {
            key.encrypt_insecure_legacy(&common::image(211, 7, 3, seed))
                .unwrap()
                .to_bytes()
        };
        let (a, b, c) = (enc(1), enc(2), enc(3));
        let honest = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
        let tag = scheme == Scheme::MASK;
        let k = tag.then_some(&key);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "another pair's result",
                ops::apply_bytes(Op::Sub, &a, &c).unwrap(),
            ),
            ("swapped", ops::apply_bytes(Op::Sub, &b, &a).unwrap()),
            ("truncated", honest[..honest.len() - 1].to_vec()),
            ("one byte more", [&honest[..], &[0]].concat()),
            ("an input", a.clone()),
        ];
        let at = Header::parse(&honest).unwrap().1;
        for byte in [at, at + 1000, honest.len() - 1] {
            let mut flipped = honest.clone();
            flipped[byte] ^= 0x01;
            cases.push(("a flipped payload bit", flipped));
        }
        let mut header_flip = honest.clone();
        header_flip[30] ^= 0x01;
        cases.push(("a flipped header bit", header_flip));
        for (what, result) in cases {
            let whole = verify::check_result(Op::Sub, &a, &b, &result)
                .and_then(|c| c.decrypt(&key).map(|_| ()));
            assert!(whole.is_err(), "{scheme} {what}: check_result took it");
            for target in [1, 999, 1 << 20] {
                let streamed = check_streamed(Op::Sub, &a, &b, &result, target, k);
                let e = streamed.map(|_| ()).unwrap_err();
                assert!(
                    matches!(e, Error::Verification),
                    "{scheme} {what} at {target}: {e:?}"
                );
            }
        }
        // bfv and shuffle results are decrypted whole after the check, never before.
        let mut check = StreamedCheck::new(Op::Sub, &a, &b).unwrap();
        check.check_header(&honest).unwrap();
        if !tag {
            assert!(matches!(check.decryptor(&key), Err(Error::Unverifiable(_))));
        }
        // The checked payload is the only one that decrypts afterwards.
        let (checked, _) = check_streamed(Op::Sub, &a, &b, &honest, 4096, k).unwrap();
        let mut other = honest[at..].to_vec();
        other[5] ^= 1;
        assert!(checked.decrypt(&key, other).is_err(), "{scheme}");
    }
    // The inputs' own faults name them.
    let key = Key::generate(Scheme::MASK).unwrap();
    let a = key.encrypt(&common::image(9, 9, 1, 1)).unwrap().to_bytes();
    let Err(e) = StreamedCheck::new(Op::Sub, &a[..40], &a) else {
        panic!("a truncated A was accepted")
    };
    assert!(e.to_string().contains("A:"), "{e}");
    assert!(matches!(
        StreamedCheck::new(Op::Sub, &a, &a),
        Err(Error::SameInput(_))
    ));
}
