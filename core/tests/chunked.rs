//! `ops::Chunked`, the server's operation a chunk at a time (the function streams large
//! S3 objects through it): for every scheme and any chunking it gives exactly the bytes
//! of `ops::apply_bytes`, and it refuses what `apply_bytes` refuses, naming the input.

mod common;

use picrypt_core::ops::{self, ChunkLens, Chunked, Op};
use picrypt_core::{Container, Error, Header, Key, Scheme};
use proptest::prelude::*;

/// `op(a, b)` through `Chunked`, chunks of about `target` bytes of A: the encoded result.
fn chunked(op: Op, a: &[u8], b: &[u8], target: usize) -> picrypt_core::Result<Vec<u8>> {
    let (ha, la) = Header::parse(a)?;
    let (hb, lb) = Header::parse(b)?;
    let (mut a, mut b) = (&a[la..], &b[lb..]);
    let mut c = Chunked::new(op, ha, hb)?;
    let mut out = c.result_header().to_bytes();
    while !c.is_done() {
        let lens: ChunkLens = c.next_lens(target);
        let mut chunk = vec![0u8; lens.out];
        c.next(lens, &a[..lens.a], &b[..lens.b], &mut chunk)?;
        (a, b) = (&a[lens.a..], &b[lens.b..]);
        out.extend_from_slice(&chunk);
    }
    assert!(a.is_empty() && b.is_empty(), "every byte consumed");
    c.finish()?;
    Ok(out)
}

/// Pairs of every scheme and a few shapes, with the ops each supports.
fn pairs(w: u32, h: u32, channels: u8) -> Vec<(Op, Vec<u8>, Vec<u8>)> {
    let (x, y) = (
        common::image(w, h, channels, 3),
        common::image(w, h, channels, 4),
    );
    let mut out = Vec::new();
    for scheme in [Scheme::MASK, Scheme::BFV, Scheme::SHUFFLE] {
        let key = Key::generate(scheme).unwrap();
        let enc = |i| key.encrypt_insecure_legacy(i).unwrap().to_bytes();
        let (a, b) = (enc(&x), enc(&y));
        out.push((Op::Sub, a.clone(), b.clone()));
        if scheme == Scheme::SHUFFLE {
            out.push((Op::SubSat, a.clone(), b.clone()));
            // A chained difference: inputs of different modulus widths.
            let d = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
            out.push((Op::Sub, d, enc(&x)));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_chunking_gives_the_whole_computation(
        w in 1u32..300, h in 1u32..9, channels in 1u8..=4, target in 1usize..5000,
    ) {
        for (op, a, b) in pairs(w, h, channels) {
            let whole = ops::apply_bytes(op, &a, &b).unwrap();
            prop_assert_eq!(chunked(op, &a, &b, target).unwrap(), whole);
        }
    }
}

#[test]
fn chunks_are_refused_as_whole_payloads_are() {
    for (op, a, b) in pairs(97, 5, 3) {
        let scheme = Container::parse(&a).unwrap().header().scheme();
        // A nonzero padding bit in A's last byte (mask and shuffle have padding bits).
        let mut bad = a.clone();
        *bad.last_mut().unwrap() |= 0x80;
        let whole = ops::apply_bytes(op, &bad, &b);
        let streamed = chunked(op, &bad, &b, 512);
        match whole {
            Ok(_) => assert!(streamed.is_ok(), "{scheme} {op:?}"),
            Err(e) => {
                let s = streamed.unwrap_err();
                assert_eq!(s.to_string(), e.to_string(), "{scheme} {op:?}");
                assert!(s.to_string().contains('A'), "{s}");
            }
        }
    }
    // A bfv coefficient out of range in B's first chunk: refused, naming B.
    let key = Key::generate(Scheme::BFV).unwrap();
    let x = common::image(3000, 1, 1, 1);
    let a = key.encrypt(&x).unwrap().to_bytes();
    let mut b = key.encrypt(&x).unwrap().to_bytes();
    let at = Header::parse(&b).unwrap().1;
    b[at..at + 3].copy_from_slice(&[0xff; 3]);
    let e = chunked(Op::Sub, &a, &b, 1).unwrap_err();
    assert!(matches!(e, Error::Format(_)), "{e:?}");
    assert!(e.to_string().contains("B"), "{e}");
}

#[test]
fn chunks_of_the_wrong_length_and_early_ends_are_refused() {
    let key = Key::generate(Scheme::MASK).unwrap();
    let x = common::image(500, 3, 3, 1);
    let (a, b) = (
        key.encrypt(&x).unwrap().to_bytes(),
        key.encrypt(&x).unwrap().to_bytes(),
    );
    let (ha, la) = Header::parse(&a).unwrap();
    let (hb, lb) = Header::parse(&b).unwrap();
    let mut c = Chunked::new(Op::Sub, ha.clone(), hb.clone()).unwrap();
    let lens = c.next_lens(720);
    assert_eq!((lens.samples, lens.a), (640, 720));
    let mut out = vec![0u8; lens.out];
    // One byte short of A: refused, nothing counted.
    let short = ChunkLens {
        a: lens.a - 1,
        ..lens
    };
    assert!(c
        .next(
            short,
            &a[la..la + lens.a - 1],
            &b[lb..lb + lens.b],
            &mut out
        )
        .is_err());
    // Not a whole unit, and not the end.
    let ragged = ChunkLens {
        samples: 100,
        ..lens
    };
    assert!(c
        .next(ragged, &a[la..la + lens.a], &b[lb..lb + lens.b], &mut out)
        .is_err());
    c.next(lens, &a[la..la + lens.a], &b[lb..lb + lens.b], &mut out)
        .unwrap();
    // The payloads end early: no result.
    let e = c.finish().unwrap_err();
    assert!(
        e.to_string().contains("ended after 640 of 4500 samples"),
        "{e}"
    );
    // Headers that cannot be combined are refused before any payload.
    let other = Key::generate(Scheme::MASK).unwrap();
    let (hc, _) = Header::parse(&other.encrypt(&x).unwrap().to_bytes()).unwrap();
    assert!(matches!(
        Chunked::new(Op::Sub, ha, hc),
        Err(Error::KeyMismatch(_))
    ));
}
