//! What a malicious server can hand back, and that the key holder refuses it: the checks
//! of `verify` (result against its inputs, what a container is expected to be) and the
//! scheme-level checks under them (repeated nonces, the tag, bfv padding), property-tested
//! over random term multisets, coefficients and tags.
//!
//! Containers are built as bytes (docs/FORMAT.md), the way an attacker builds them.

mod common;

use picrypt_core::format::Container;
use picrypt_core::ops::{self, Op};
use picrypt_core::Key;

use picrypt_core::verify::{self, Expect};
use picrypt_core::{Error, Image, Scheme};
use proptest::prelude::*;

const P: u64 = (1 << 61) - 1;

/// A container's parts, as an attacker edits them.
#[derive(Clone, Debug)]
struct Parts {
    fixed: [u8; 68],
    terms: Vec<([u8; 24], i8)>,
    ext: Vec<u8>,
    payload: Vec<u8>,
}

impl Parts {
    fn of(bytes: &[u8]) -> Parts {
        let count = u16::from_le_bytes([bytes[22], bytes[23]]) as usize;
        let ext_len = u32::from_le_bytes(bytes[56..60].try_into().unwrap()) as usize;
        let terms = (0..count)
            .map(|i| {
                let t = &bytes[68 + 25 * i..68 + 25 * (i + 1)];
                (t[..24].try_into().unwrap(), if t[24] == 1 { 1 } else { -1 })
            })
            .collect();
        let ext_start = 68 + 25 * count;
        Parts {
            fixed: bytes[..68].try_into().unwrap(),
            terms,
            ext: bytes[ext_start..ext_start + ext_len].to_vec(),
            payload: bytes[ext_start + ext_len..].to_vec(),
        }
    }

    fn tag(&self) -> u64 {
        u64::from_le_bytes(self.fixed[48..56].try_into().unwrap())
    }

    fn set_tag(&mut self, tag: u64) {
        self.fixed[48..56].copy_from_slice(&tag.to_le_bytes());
    }

    fn set_range(&mut self, min: i32, max: i32) {
        self.fixed[24..28].copy_from_slice(&min.to_le_bytes());
        self.fixed[28..32].copy_from_slice(&max.to_le_bytes());
    }

    /// The range the mask rules tie to these terms.
    fn set_range_of_terms(&mut self) {
        let plus = self.terms.iter().filter(|t| t.1 > 0).count() as i32;
        let minus = self.terms.len() as i32 - plus;
        self.set_range(-255 * minus, 255 * plus);
    }

    fn bytes(&self) -> Vec<u8> {
        let mut fixed = self.fixed;
        fixed[22..24].copy_from_slice(&(self.terms.len() as u16).to_le_bytes());
        let mut out = fixed.to_vec();
        for (nonce, sign) in &self.terms {
            out.extend_from_slice(nonce);
            out.push(if *sign > 0 { 0x01 } else { 0xFF });
        }
        out.extend_from_slice(&self.ext);
        out.extend_from_slice(&self.payload);
        out
    }
}

/// The 9-bit lanes of a packed payload (docs/FORMAT.md, "Payload").
fn lanes(payload: &[u8], n: usize) -> Vec<i32> {
    (0..n)
        .map(|i| {
            (0..9).fold(0, |v, b| {
                let bit = 9 * i + b;
                v | (((payload[bit / 8] >> (bit % 8)) & 1) as i32) << b
            })
        })
        .collect()
}

fn pack(lanes: &[i32]) -> Vec<u8> {
    let mut out = vec![0u8; (lanes.len() * 9).div_ceil(8)];
    for (i, &v) in lanes.iter().enumerate() {
        let v = v.rem_euclid(512);
        for b in 0..9 {
            if (v >> b) & 1 == 1 {
                let bit = 9 * i + b;
                out[bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    out
}

/// `Σ coefficient·input` of fresh mask ciphertexts, payload and tag alike: what the
/// server can compute without a key, and what the tag then verifies as honest.
fn combine(inputs: &[(&Parts, i32)], n: usize) -> (Vec<u8>, u64) {
    let mut sum = vec![0i32; n];
    let mut tag = 0u64;
    for (parts, c) in inputs {
        for (s, v) in sum.iter_mut().zip(lanes(&parts.payload, n)) {
            *s += c * v;
        }
        let t = parts.tag();
        let t = if *c >= 0 {
            (t as u128 * *c as u128 % P as u128) as u64
        } else {
            (P - t) % P * (-*c) as u64 % P
        };
        tag = (tag + t) % P;
    }
    (pack(&sum), tag)
}

struct Fixture {
    key: Key,
    images: Vec<Image>,
    bytes: Vec<Vec<u8>>,
    parts: Vec<Parts>,
}

const W: u32 = 7;
const H: u32 = 5;
const C: u8 = 3;
const N: usize = (W * H) as usize * C as usize;

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let key = Key::generate(Scheme::MASK).unwrap();
        let images: Vec<Image> = (0..3).map(|s| common::image(W, H, C, s)).collect();
        let bytes: Vec<Vec<u8>> = images
            .iter()
            .map(|i| key.encrypt(i).unwrap().to_bytes())
            .collect();
        let parts = bytes.iter().map(|b| Parts::of(b)).collect();
        Fixture {
            key,
            images,
            bytes,
            parts,
        }
    })
}

fn difference(a: &Image, b: &Image) -> Vec<i16> {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect()
}

fn decrypt_as(bytes: &[u8], expect: Expect) -> picrypt_core::Result<Vec<i16>> {
    let c = Container::parse(bytes)?;
    Ok(verify::decrypt(&fixture().key, &c, expect)?
        .values()
        .to_vec())
}

#[test]
fn the_honest_difference_is_accepted_everywhere() {
    let f = fixture();
    let honest = ops::apply_bytes(Op::Sub, &f.bytes[0], &f.bytes[1]).unwrap();
    let want = difference(&f.images[0], &f.images[1]);
    let checked = verify::check_result(Op::Sub, &f.bytes[0], &f.bytes[1], &honest).unwrap();
    assert_eq!(checked.decrypt(&f.key).unwrap().values(), want);
    assert_eq!(decrypt_as(&honest, Expect::Difference).unwrap(), want);
    assert_eq!(
        decrypt_as(&f.bytes[0], Expect::Image).unwrap(),
        f.images[0]
            .data()
            .iter()
            .map(|&v| v as i16)
            .collect::<Vec<_>>()
    );
    let d = checked.describe();
    assert!(d.starts_with("A − B of A (nonce "), "{d}");
}

/// The forgery of issue 12: two cancelling terms, an all-zero payload and tag 0 verify
/// under any key for a fresh R. A repeated nonce is malformed, so it never parses.
#[test]
fn the_cancelling_zero_forgery_is_malformed() {
    let f = fixture();
    let mut forged = f.parts[0].clone();
    let r = [0x42u8; 24];
    forged.terms = vec![(r, 1), (r, -1)];
    forged.set_range_of_terms();
    forged.payload.fill(0);
    forged.set_tag(0);
    let e = Container::parse(&forged.bytes()).unwrap_err();
    assert!(matches!(e, Error::Format(_)), "{e}");
    assert!(e.to_string().contains("repeats the nonce"), "{e}");
    // Nor does any other repeated nonce: +A +A, or a nonce named three times.
    let na = f.parts[0].terms[0].0;
    for terms in [vec![(na, 1), (na, 1)], vec![(na, 1), (na, -1), (na, 1)]] {
        let mut p = f.parts[0].clone();
        p.terms = terms;
        p.set_range_of_terms();
        assert!(Container::parse(&p.bytes()).is_err());
    }
    // And a server cannot produce one by subtracting a ciphertext from itself.
    let e = ops::apply_bytes(Op::Sub, &f.bytes[0], &f.bytes[0]).unwrap_err();
    assert!(matches!(e, Error::SameInput(_)), "{e}");
}

/// Well-formed combinations the tag verifies (the server can compute each without a key)
/// but that are not a difference: `+A +B`, a lone `−A`, `−A +B`, three terms.
#[test]
fn combinations_that_are_not_a_difference_are_refused() {
    let f = fixture();
    let (a, b, c) = (&f.parts[0], &f.parts[1], &f.parts[2]);
    let cases: Vec<(&str, Vec<(&Parts, i32)>)> = vec![
        ("+A +B", vec![(a, 1), (b, 1)]),
        ("−A", vec![(a, -1)]),
        ("−A +B", vec![(a, -1), (b, 1)]),
        ("+A −B −C", vec![(a, 1), (b, -1), (c, -1)]),
        ("+A +B −C", vec![(a, 1), (b, 1), (c, -1)]),
    ];
    for (name, combination) in cases {
        let (payload, tag) = combine(&combination, N);
        let mut forged = a.clone();
        forged.terms = combination
            .iter()
            .map(|(p, s)| (p.terms[0].0, *s as i8))
            .collect();
        forged.set_range_of_terms();
        forged.payload = payload;
        forged.set_tag(tag);
        let bytes = forged.bytes();
        if Container::parse(&bytes).is_err() {
            // Ranges that do not fit 9 bits are malformed already.
            continue;
        }
        // The tag is the honest combination's (`combine`), so the MAC alone accepts it:
        // only the expectation refuses it.
        for expect in [Expect::Image, Expect::Difference] {
            let r = decrypt_as(&bytes, expect);
            assert!(
                matches!(r, Err(Error::Verification)),
                "{name} as {expect:?}: {r:?}"
            );
        }
        let r = verify::check_result(Op::Sub, &f.bytes[0], &f.bytes[1], &bytes);
        assert!(matches!(r, Err(Error::Verification)), "{name}: {r:?}");
    }
}

/// Every way of answering "A − B" with something else is refused by the check against
/// the inputs, with the one generic error.
#[test]
fn results_of_other_inputs_are_refused() {
    let f = fixture();
    let (a, b, c) = (&f.bytes[0], &f.bytes[1], &f.bytes[2]);
    let honest = ops::apply_bytes(Op::Sub, a, b).unwrap();
    let cheats: Vec<(&str, Vec<u8>)> = vec![
        ("B − A", ops::apply_bytes(Op::Sub, b, a).unwrap()),
        ("A − C", ops::apply_bytes(Op::Sub, a, c).unwrap()),
        ("C − B", ops::apply_bytes(Op::Sub, c, b).unwrap()),
        ("A itself", a.clone()),
        ("B itself", b.clone()),
        ("truncated", honest[..honest.len() - 1].to_vec()),
        ("empty", Vec::new()),
    ];
    for (name, cheat) in cheats {
        let r = verify::check_result(Op::Sub, a, b, &cheat);
        assert!(matches!(r, Err(Error::Verification)), "{name}: {r:?}");
        assert!(
            verify::identify_result(a, b, &cheat).is_err(),
            "{name} identified as some result of A and B"
        );
    }
    // The message gives nothing away about which check failed.
    assert_eq!(
        Error::Verification.to_string(),
        "verification failed: the ciphertext was tampered with, corrupted, or is not the result of the expected inputs"
    );
}

/// Out-of-range samples and a wrong tag give the same error: accept/reject is the only
/// thing a server learns, not which check failed (a plaintext oracle otherwise).
#[test]
fn range_and_tag_failures_are_indistinguishable() {
    let f = fixture();
    let honest = ops::apply_bytes(Op::Sub, &f.bytes[0], &f.bytes[1]).unwrap();
    let parts = Parts::of(&honest);
    let want = difference(&f.images[0], &f.images[1]);
    // Push sample 0 to the one residue outside [−255, 255] (256), keeping the tag.
    let mut out_of_range = parts.clone();
    let mut l = lanes(&out_of_range.payload, N);
    l[0] += 256 - want[0] as i32;
    out_of_range.payload = pack(&l);
    let mut bad_tag = parts.clone();
    bad_tag.set_tag((parts.tag() + 1) % P);
    let e1 = decrypt_as(&out_of_range.bytes(), Expect::Difference).unwrap_err();
    let e2 = decrypt_as(&bad_tag.bytes(), Expect::Difference).unwrap_err();
    assert!(matches!(e1, Error::Verification));
    assert_eq!(e1.to_string(), e2.to_string());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random term multisets over the honest nonces and an unused one, random signs, and
    /// an honest or random tag: a repeated nonce never parses, and only the exact honest
    /// difference of A and B is accepted as their result.
    #[test]
    fn random_term_multisets(
        picks in proptest::collection::vec((0usize..4, any::<bool>()), 1..5),
        honest_tag in any::<bool>(),
        random_tag in 0u64..P,
    ) {
        let f = fixture();
        let unused = {
            let mut p = f.parts[0].clone();
            p.terms[0].0 = [0x99; 24];
            p
        };
        let pool = [&f.parts[0], &f.parts[1], &f.parts[2], &unused];
        let combination: Vec<(&Parts, i32)> = picks
            .iter()
            .map(|&(i, plus)| (pool[i], if plus { 1 } else { -1 }))
            .collect();
        let (payload, tag) = combine(&combination, N);
        let mut forged = f.parts[0].clone();
        forged.terms = combination.iter().map(|(p, s)| (p.terms[0].0, *s as i8)).collect();
        forged.set_range_of_terms();
        forged.payload = payload;
        forged.set_tag(if honest_tag { tag } else { random_tag });
        let bytes = forged.bytes();
        let mut seen = std::collections::HashSet::new();
        let repeated = picks.iter().any(|&(i, _)| !seen.insert(i));
        let parsed = Container::parse(&bytes);
        if repeated {
            prop_assert!(parsed.is_err());
            return Ok(());
        }
        let is_a_minus_b = picks == [(0, true), (1, false)] && (honest_tag || random_tag == tag);
        let checked = verify::check_result(Op::Sub, &f.bytes[0], &f.bytes[1], &bytes);
        prop_assert_eq!(checked.is_ok(), is_a_minus_b);
        if let Ok(checked) = checked {
            let pt = checked.decrypt(&f.key).unwrap();
            let want = difference(&f.images[0], &f.images[1]);
            prop_assert_eq!(pt.values(), want.as_slice());
        }
        // As a difference of unknown inputs: accepted exactly for {+X, −Y} of two honest
        // ciphertexts with their honest tag, and then it is X − Y.
        let honest_pair = picks.len() == 2
            && picks[0].1 && !picks[1].1
            && picks.iter().all(|&(i, _)| i < 3)
            && (honest_tag || random_tag == tag);
        if let Ok(container) = parsed {
            let r = verify::decrypt(&f.key, &container, Expect::Difference);
            prop_assert_eq!(r.is_ok(), honest_pair, "{:?}", picks);
            if let Ok(pt) = r {
                let (x, y) = (picks[0].0, picks[1].0);
                prop_assert_eq!(&pt.values(), &difference(&f.images[x], &f.images[y]));
            }
        }
    }

    /// Any random tag other than the honest one is refused, whatever the terms claim.
    #[test]
    fn random_tags_are_refused(tag in 0u64..P) {
        let f = fixture();
        let honest = ops::apply_bytes(Op::Sub, &f.bytes[0], &f.bytes[1]).unwrap();
        let mut p = Parts::of(&honest);
        prop_assume!(tag != p.tag());
        p.set_tag(tag);
        prop_assert!(matches!(decrypt_as(&p.bytes(), Expect::Difference), Err(Error::Verification)));
        prop_assert!(matches!(
            verify::check_result(Op::Sub, &f.bytes[0], &f.bytes[1], &p.bytes()),
            Err(Error::Verification)
        ));
    }
}

// ---------------------------------------------------------------------------------------
// bfv: no tag. A result is accepted only when it is the subtraction recomputed from the
// inputs; a container that cannot be tied to inputs is refused.
// ---------------------------------------------------------------------------------------

const Q0: u64 = 8_380_417;
const DELTA: u64 = 16_368; // round(q0 / t), t = 512
const BLOCK: usize = 2048;
const POLY_BYTES: usize = BLOCK * 23 / 8;

fn bfv_keys() -> &'static Key {
    static K: std::sync::OnceLock<Key> = std::sync::OnceLock::new();
    K.get_or_init(|| Key::generate(Scheme::BFV).unwrap())
}

/// A bfv payload whose every block is (c0, c1) with the given coefficient functions.
fn bfv_payload(blocks: usize, c0: impl Fn(usize) -> u64, c1: impl Fn(usize) -> u64) -> Vec<u8> {
    let mut out = vec![0u8; blocks * 2 * POLY_BYTES];
    let mut put = |poly: usize, i: usize, v: u64| {
        for b in 0..23 {
            if (v >> b) & 1 == 1 {
                let bit = poly * POLY_BYTES * 8 + 23 * i + b;
                out[bit / 8] |= 1 << (bit % 8);
            }
        }
    };
    for block in 0..blocks {
        for i in 0..BLOCK {
            put(2 * block, i, c0(i) % Q0);
            put(2 * block + 1, i, c1(i) % Q0);
        }
    }
    out
}

/// The crafted results of issue 12, which decrypt to (functions of) the secret key:
/// c0 = 0, c1 = Δ as a difference; c0 = 20Δ·Σxⁱ, c1 = Δ claiming to be a fresh image.
#[test]
fn bfv_key_leaking_results_are_refused() {
    let key = bfv_keys();
    let public = key.public().unwrap();
    // 40×40 gray: 1600 samples, one block with 448 zero-padded slots.
    let (ia, ib) = (common::image(40, 40, 1, 1), common::image(40, 40, 1, 2));
    let a = public.encrypt(&ia).unwrap().to_bytes();
    let b = public.encrypt(&ib).unwrap().to_bytes();
    let honest = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
    let header_len = honest.len() - 2 * POLY_BYTES;

    let mut leak = honest[..header_len].to_vec();
    leak.extend(bfv_payload(1, |_| 0, |i| if i == 0 { DELTA } else { 0 }));
    let mut fresh_leak = a[..header_len].to_vec();
    fresh_leak.extend(bfv_payload(
        1,
        |_| 20 * DELTA,
        |i| if i == 0 { DELTA } else { 0 },
    ));

    for (name, bytes) in [("c0 = 0, c1 = Δ", &leak), ("fresh 20Δ, Δ", &fresh_leak)] {
        let c = Container::parse(bytes).unwrap();
        // Tied to inputs: the recomputation differs.
        let r = verify::check_result(Op::Sub, &a, &b, bytes);
        assert!(matches!(r, Err(Error::Verification)), "{name}: {r:?}");
        // Not tied to anything: refused before decryption, whatever it claims to be.
        for expect in [Expect::Image, Expect::Difference] {
            let r = verify::decrypt(key, &c, expect);
            assert!(matches!(r, Err(Error::Unverifiable(_))), "{name}: {r:?}");
        }
        // Trusted by mistake: defence in depth still refuses these two, because the
        // padding slots decrypt to the key's coefficients, not to 0.
        let r = verify::decrypt_trusting_source(key, &c, Expect::claimed_by(c.header()));
        assert!(matches!(r, Err(Error::Verification)), "{name}: {r:?}");
    }
    // The honest result goes through.
    let checked = verify::check_result(Op::Sub, &a, &b, &honest).unwrap();
    assert_eq!(checked.decrypt(key).unwrap().values(), difference(&ia, &ib));
    assert!(checked.describe().contains("recomputed from the inputs"));
    // Tampering with any coefficient of the honest result is refused by the check.
    let mut tampered = honest.clone();
    let last = tampered.len() - 1;
    tampered[last - 100] ^= 0x01;
    assert!(verify::check_result(Op::Sub, &a, &b, &tampered).is_err());
}

/// A bfv key file whose secret does not belong to its public key is refused.
#[test]
fn bfv_key_pair_mismatch_is_refused() {
    let k1 = Key::generate(Scheme::BFV).unwrap();
    let k2 = Key::generate(Scheme::BFV).unwrap();
    let b1 = k1.to_bytes();
    let p2 = k2.public().unwrap().to_bytes();
    // Secret key file: header (32) | u32 secret length | secret | public key.
    let secret_len = u32::from_le_bytes(b1[32..36].try_into().unwrap()) as usize;
    let mut spliced = b1[..36 + secret_len].to_vec();
    spliced.extend_from_slice(&p2[32..]);
    let body_len = (spliced.len() - 32) as u32;
    spliced[28..32].copy_from_slice(&body_len.to_le_bytes());
    // The key id must also be the second key's (it derives from the public part).
    spliced[12..28].copy_from_slice(&p2[12..28]);
    let e = Key::parse(&spliced).unwrap_err();
    assert!(
        e.to_string().contains("does not belong to the public key"),
        "{e}"
    );
    assert!(Key::parse(&b1).is_ok());
}

/// The owning check (`check_result_owned`, which keeps the result's allocation) accepts
/// and refuses exactly what `check_result` does, and `Container::into_bytes` encodes as
/// `to_bytes` does.
#[test]
fn the_owning_check_and_in_place_encoding_agree_with_the_copying_ones() {
    for scheme in [Scheme::MASK, Scheme::BFV] {
        let key = Key::generate(scheme).unwrap();
        let image = Image::new(9, 5, 3, (0..135).map(|i| (i * 7) as u8).collect()).unwrap();
        let (ca, cb) = (key.encrypt(&image).unwrap(), key.encrypt(&image).unwrap());
        let (a, b) = (ca.to_bytes(), cb.to_bytes());
        assert_eq!(ca.into_bytes(), a);
        assert_eq!(cb.into_bytes(), b);
        let result = ops::apply_bytes(Op::Sub, &a, &b).unwrap();
        let copied = verify::check_result(Op::Sub, &a, &b, &result).unwrap();
        let owned = verify::check_result_owned(Op::Sub, &a, &b, result.clone()).unwrap();
        assert_eq!(owned.container(), copied.container());
        assert_eq!(owned.container().to_bytes(), result);
        assert_eq!(owned.describe(), copied.describe());
        // Swapped inputs: refused by both, with the same error.
        let refused = verify::check_result_owned(Op::Sub, &b, &a, result.clone()).unwrap_err();
        assert!(matches!(refused, Error::Verification), "{refused:?}");
        assert!(matches!(
            verify::check_result(Op::Sub, &b, &a, &result).unwrap_err(),
            Error::Verification
        ));
    }
}
