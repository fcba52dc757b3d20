//! The bad-input battery's matrix: hostile `POST /diff` requests (and requests to the
//! other routes) with the answer docs/API.md documents for each, written into the table.
//!
//! Shared by `function/tests/battery.rs` (the handler in-process) and
//! `cli/tests/battery_http.rs` (a real `picrypt serve` over HTTP). Cases are plain data
//! (method, path, content type, body bytes), generated group by group so only one group's
//! bodies are in memory at a time. `cli/tests/bad_files.rs` uses its header table.

use base64::Engine;
use picrypt_core::format::{Scheme, FIXED_HEADER_LEN};
use picrypt_core::ops::{self, Op};
use picrypt_core::scheme::shuffle::Variant;
use picrypt_core::{verify, Container, Error, Image, Key};
use serde_json::{json, Value};

/// The function's request and response limit (docs/API.md: 6 291 456 bytes).
pub const LIMIT: usize = 6 * 1024 * 1024;
/// The key prefix the S3-configured function serves.
pub const PREFIX: &str = "picrypt/";
/// `PICRYPT_MAX_OBJECT_BYTES` of the S3-configured function: larger objects are refused.
pub const MAX_OBJECT_BYTES: u64 = 64 * 1024;
/// Where results of diffs that must fail would go: nothing may ever appear under it.
pub const NEVER_PREFIX: &str = "picrypt/out/never/";

/// What the function must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The documented error status and code.
    Refused { status: u16, code: &'static str },
    /// 200: the server cannot tell (it holds no key). With `tampered`, decrypting the
    /// result with the fixture's key must fail; otherwise it must succeed.
    Computed { tampered: bool },
}

/// Which configuration of the function a case is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Same answer with or without a bucket.
    Any,
    /// The function with a bucket (`PICRYPT_BUCKET`, prefix [`PREFIX`]).
    Bucket,
    /// The function without a bucket: inline only.
    NoBucket,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub category: &'static str,
    pub name: String,
    pub method: &'static str,
    pub path: String,
    pub content_type: Option<String>,
    /// The `Accept` header, if any.
    pub accept: Option<String>,
    pub body: Vec<u8>,
    pub expect: Expect,
    pub needs: Needs,
    /// A substring the error message must contain (e.g. which operand was malformed).
    pub mentions: Option<String>,
    /// The `Allow` header a 405 must carry.
    pub allow: Option<&'static str>,
    /// The scheme whose key decrypts a computed result.
    pub scheme: Scheme,
}

impl Case {
    pub fn post(category: &'static str, name: impl Into<String>, body: impl Into<Vec<u8>>) -> Case {
        Case {
            category,
            name: name.into(),
            method: "POST",
            path: "/diff".into(),
            content_type: Some("application/json".into()),
            accept: None,
            body: body.into(),
            expect: Expect::Refused {
                status: 400,
                code: "bad_json",
            },
            needs: Needs::Any,
            mentions: None,
            allow: None,
            scheme: Scheme::MASK,
        }
    }

    pub fn json(category: &'static str, name: impl Into<String>, body: &Value) -> Case {
        Case::post(category, name, body.to_string())
    }

    pub fn refused(mut self, status: u16, code: &'static str) -> Case {
        self.expect = Expect::Refused { status, code };
        self
    }

    pub fn expect(mut self, expect: Expect) -> Case {
        self.expect = expect;
        self
    }

    pub fn needs(mut self, needs: Needs) -> Case {
        self.needs = needs;
        self
    }

    pub fn mentions(mut self, text: impl Into<String>) -> Case {
        self.mentions = Some(text.into());
        self
    }

    pub fn scheme(mut self, scheme: Scheme) -> Case {
        self.scheme = scheme;
        self
    }

    /// A refusal (4xx), as opposed to a result the server cannot judge.
    pub fn is_refusal(&self) -> bool {
        matches!(self.expect, Expect::Refused { .. })
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn inline(bytes: &[u8]) -> Value {
    json!({ "inline": b64(bytes) })
}

fn diff_body(a: &[u8], b: &[u8]) -> Value {
    json!({"a": inline(a), "b": inline(b)})
}

fn s3(key: &str) -> Value {
    json!({"s3": {"key": key}})
}

/// Two fresh ciphertexts of one scheme under one key.
pub struct Pair {
    pub scheme: Scheme,
    pub a: Vec<u8>,
    pub b: Vec<u8>,
}

/// Valid inputs, from which every hostile variant is derived.
pub struct Fixture {
    pub mask_key: Key,
    pub bfv_key: Key,
    pub shuffle_key: Key,
    /// Fresh pairs: mask, bfv, shuffle.
    pub pairs: Vec<Pair>,
    /// Per scheme: an encryption of the same image under another key.
    pub other_key: Vec<(Scheme, Vec<u8>)>,
    /// Per scheme: encryptions under the pair's key of images of other shapes.
    pub other_shapes: Vec<(Scheme, &'static str, Vec<u8>)>,
    /// Per scheme: A − B.
    pub diffs: Vec<(Scheme, Vec<u8>)>,
    /// Shuffle: the widest difference that still fits 16 bits (subtracting it from itself
    /// overflows).
    pub shuffle_widest: Vec<u8>,
    /// The bucket of the S3-configured function, when there is one.
    pub bucket: Option<String>,
}

/// 5×4 RGB. Sample 0 is 0 in A and 255 in B and sample 1 the reverse, so A − B reaches
/// both ends of [−255, 255] and every narrowing of a declared range is detectable.
pub const W: u32 = 5;
pub const H: u32 = 4;
pub const C: u8 = 3;

pub fn image(w: u32, h: u32, c: u8, first: [u8; 2], seed: usize) -> Image {
    let n = w as usize * h as usize * c as usize;
    let mut data: Vec<u8> = (0..n).map(|i| ((i * 37 + seed) % 256) as u8).collect();
    data[..2].copy_from_slice(&first);
    Image::new(w, h, c, data).unwrap()
}

pub fn image_a() -> Image {
    image(W, H, C, [0, 255], 11)
}

pub fn image_b() -> Image {
    image(W, H, C, [255, 0], 200)
}

impl Fixture {
    pub fn new(bucket: Option<String>) -> Fixture {
        let mask_key = Key::mask_from_secret(&[7; 32]);
        let bfv_key = Key::generate(Scheme::BFV).unwrap();
        let shuffle_key = Key::shuffle_legacy(31337, Variant::Rand).unwrap();
        let (ia, ib) = (image_a(), image_b());
        let enc = |key: &Key, img: &Image| -> Vec<u8> {
            if key.scheme() == Scheme::MASK {
                // Fixed nonces: the table's expectations for tag bits are exact.
                let data = img.data();
                let nonce = [data.len() as u8 ^ data[data.len() - 1]; 24];
                key.encrypt_with_nonce(img, &nonce).unwrap().to_bytes()
            } else {
                key.encrypt_insecure_legacy(img).unwrap().to_bytes()
            }
        };
        let keys = [&mask_key, &bfv_key, &shuffle_key];
        let pairs = keys
            .iter()
            .map(|k| Pair {
                scheme: k.scheme(),
                a: enc(k, &ia),
                b: enc(k, &ib),
            })
            .collect::<Vec<_>>();
        let strangers = [
            Key::mask_from_secret(&[8; 32]),
            Key::generate(Scheme::BFV).unwrap(),
            Key::shuffle_legacy(31337, Variant::Rand).unwrap(),
        ];
        let other_key = strangers
            .iter()
            .map(|k| (k.scheme(), enc(k, &ib)))
            .collect();
        let mut other_shapes = Vec::new();
        for k in keys {
            for (what, img) in [
                ("width", image(W - 1, H, C, [255, 0], 5)),
                ("height", image(W, H + 1, C, [255, 0], 5)),
                ("channels", image(W, H, C + 1, [255, 0], 5)),
                ("shape, 1×2 gray", image(1, 2, 1, [255, 0], 5)),
            ] {
                other_shapes.push((k.scheme(), what, enc(k, &img)));
            }
        }
        let diffs = pairs
            .iter()
            .map(|p| (p.scheme, ops::apply_bytes(Op::Sub, &p.a, &p.b).unwrap()))
            .collect::<Vec<_>>();
        // Shuffle differences widen by one bit per subtraction until 16 bits are full.
        let mut widest = diffs[2].1.clone();
        let shuffle_widest = loop {
            match ops::apply_bytes(Op::Sub, &widest, &widest) {
                Ok(next) => widest = next,
                Err(Error::RangeOverflow(_)) => break widest,
                Err(e) => panic!("shuffle chain: {e}"),
            }
        };
        Fixture {
            mask_key,
            bfv_key,
            shuffle_key,
            pairs,
            other_key,
            other_shapes,
            diffs,
            shuffle_widest,
            bucket,
        }
    }

    pub fn key(&self, scheme: Scheme) -> &Key {
        match scheme {
            Scheme::MASK => &self.mask_key,
            Scheme::BFV => &self.bfv_key,
            Scheme::SHUFFLE => &self.shuffle_key,
            other => panic!("no fixture for {other}"),
        }
    }

    fn pair(&self, scheme: Scheme) -> &Pair {
        self.pairs.iter().find(|p| p.scheme == scheme).unwrap()
    }

    fn diff(&self, scheme: Scheme) -> &[u8] {
        &self.diffs.iter().find(|d| d.0 == scheme).unwrap().1
    }

    /// Objects the S3-configured function's bucket holds during the battery.
    pub fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let p = self.pair(Scheme::MASK);
        let mut big = p.a.clone();
        big.resize(MAX_OBJECT_BYTES as usize + 1, 0);
        vec![
            ("picrypt/in/a.picrypt".into(), p.a.clone()),
            ("picrypt/in/b.picrypt".into(), p.b.clone()),
            (
                "picrypt/in/junk.picrypt".into(),
                b"not a container".to_vec(),
            ),
            ("picrypt/in/empty.picrypt".into(), Vec::new()),
            (
                "picrypt/in/truncated.picrypt".into(),
                p.a[..p.a.len() - 1].to_vec(),
            ),
            ("picrypt/in/big.picrypt".into(), big),
            ("picrypt/in/ünïcødé \u{202e}.picrypt".into(), p.a.clone()),
            ("secret/a.picrypt".into(), p.a.clone()),
        ]
    }

    /// Checks a computed result: decrypting it must fail when the input was tampered
    /// with, and give the image difference otherwise.
    pub fn check_result(&self, case: &Case, result: &[u8]) -> Result<(), String> {
        let Expect::Computed { tampered } = case.expect else {
            return Err("a refusal was expected".into());
        };
        let container =
            Container::parse(result).map_err(|e| format!("result does not parse: {e}"))?;
        // What the scheme itself can check (the tag, ranges, padding): the inputs were
        // tampered with on purpose, so there is nothing honest to check them against.
        let decrypted = verify::decrypt_trusting_source(
            self.key(case.scheme),
            &container,
            verify::Expect::claimed_by(container.header()),
        );
        match (tampered, decrypted) {
            (true, Err(_)) => Ok(()),
            (true, Ok(_)) => Err("decrypting a tampered result succeeded".into()),
            (false, Ok(_)) => Ok(()),
            (false, Err(e)) => Err(format!("decrypting the result failed: {e}")),
        }
    }
}

/// A valid diff of the fresh mask pair: it must work before and after the battery.
pub fn valid_diff(fx: &Fixture) -> Case {
    let p = fx.pair(Scheme::MASK);
    Case::json("valid", "valid diff", &diff_body(&p.a, &p.b))
        .expect(Expect::Computed { tampered: false })
}

/// Generates one group of cases.
pub type Group = fn(&Fixture) -> Vec<Case>;

/// Every group of the matrix, generated on demand.
pub fn groups() -> Vec<(&'static str, Group)> {
    vec![
        ("truncations", truncations),
        ("header bit flips", bit_flips),
        ("length fields", length_fields),
        ("mismatched operands", mismatches),
        ("json", json_cases),
        ("wrong types and numbers", wrong_types),
        ("base64", base64_cases),
        ("unicode and empty values", unicode_and_empty),
        ("s3 sources and outputs", s3_cases),
        ("oversized bodies", oversized),
        ("methods and routes", methods),
        ("content types", content_types),
    ]
}

/// The fixed header of docs/FORMAT.md: (name, offset, size).
pub const FIELDS: [(&str, usize, usize); 16] = [
    ("magic", 0, 8),
    ("version", 8, 1),
    ("scheme", 9, 1),
    ("sample_bits", 10, 1),
    ("modulus_bits", 11, 1),
    ("width", 12, 4),
    ("height", 16, 4),
    ("channels", 20, 1),
    ("flags", 21, 1),
    ("term_count", 22, 2),
    ("range_min", 24, 4),
    ("range_max", 28, 4),
    ("key_id", 32, 16),
    ("tag", 48, 8),
    ("ext_len", 56, 4),
    ("payload_len", 60, 8),
];

/// The fixed fields, then what follows them before the payload in a fresh container.
pub fn header_fields(scheme: Scheme) -> Vec<(&'static str, usize, usize)> {
    let mut fields = FIELDS.to_vec();
    match scheme {
        Scheme::MASK => {
            fields.push(("term nonce", 68, 24));
            fields.push(("term sign", 92, 1));
        }
        Scheme::BFV => fields.push(("extension", 68, 1)),
        Scheme::SHUFFLE => fields.push(("extension", 68, 9)),
        other => panic!("no header table for {other}"),
    }
    fields
}

fn header_len(scheme: Scheme) -> usize {
    header_fields(scheme)
        .last()
        .map(|&(_, o, l)| o + l)
        .unwrap()
}

/// Replaces A or B of a fresh pair and expects the documented answer.
fn operand_case(
    category: &'static str,
    p: &Pair,
    which: char,
    name: String,
    bytes: &[u8],
    expect: Expect,
) -> Case {
    let (a, b) = match which {
        'A' => (bytes, &p.b[..]),
        _ => (&p.a[..], bytes),
    };
    let bad_container = expect
        == Expect::Refused {
            status: 400,
            code: "bad_container",
        };
    let case = Case::json(
        category,
        format!("{} {which}: {name}", p.scheme),
        &diff_body(a, b),
    )
    .expect(expect)
    .scheme(p.scheme);
    if bad_container {
        case.mentions(format!("malformed container: {which}: "))
    } else {
        case
    }
}

const BAD_CONTAINER: Expect = Expect::Refused {
    status: 400,
    code: "bad_container",
};

/// Every prefix of the header (so a cut at every field boundary and inside every field),
/// cuts inside the payload, and a trailing byte.
fn truncations(fx: &Fixture) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in &fx.pairs {
        for which in ['A', 'B'] {
            let full = if which == 'A' { &p.a } else { &p.b };
            let mut cuts: Vec<usize> = (0..=header_len(p.scheme)).collect();
            cuts.extend([full.len() / 2, full.len() - 1]);
            for cut in cuts {
                cases.push(operand_case(
                    "truncations",
                    p,
                    which,
                    format!("cut at byte {cut} of {}", full.len()),
                    &full[..cut],
                    BAD_CONTAINER,
                ));
            }
            let mut longer = full.clone();
            longer.push(0);
            cases.push(operand_case(
                "truncations",
                p,
                which,
                "one trailing byte".into(),
                &longer,
                BAD_CONTAINER,
            ));
        }
    }
    cases
}

/// The answer to flipping `bit` of header field `field` in a fresh operand, from the rules
/// of docs/FORMAT.md.
pub fn flip_expect(scheme: Scheme, field: &str, original: &[u8], bit: usize) -> Expect {
    let refused = |status, code| Expect::Refused { status, code };
    match (scheme, field) {
        (_, "version") => refused(400, "unsupported_version"),
        (_, "key_id") => refused(422, "key_mismatch"),
        // The tag must be a field element; below p the server cannot tell (no key), but
        // decryption must.
        (Scheme::MASK, "tag") => {
            let tag = u64::from_le_bytes(original.try_into().unwrap()) ^ (1 << bit);
            if tag >= (1 << 61) - 1 {
                BAD_CONTAINER
            } else {
                Expect::Computed { tampered: true }
            }
        }
        (Scheme::MASK, "term nonce") => Expect::Computed { tampered: true },
        // bfv headers carry no MAC: a narrower declared range ([2^i, 255] or [0, 255 − 2^i])
        // still combines, and decryption refuses the values outside it. Shuffle operands
        // are checked against their range when combined, so they are refused.
        (Scheme::BFV, "range_min" | "range_max") if bit < 8 => Expect::Computed { tampered: true },
        // [0, 511] fits 2^9 alone, but A − B then spans 767 values.
        (Scheme::BFV, "range_max") if bit == 8 => refused(422, "range_overflow"),
        _ => BAD_CONTAINER,
    }
}

/// The answer to an operand whose header claims another shape. A bfv payload is whole
/// blocks of 2048 samples, so a shape of up to 2048 samples is still a well-formed
/// ciphertext, of a shape the other operand does not have; any other claim contradicts
/// `payload_len` or the limits.
pub fn shape_expect(scheme: Scheme, bytes: &[u8]) -> Expect {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
    let (w, h, c) = (word(12), word(16), bytes[20] as u64);
    if scheme == Scheme::BFV && w > 0 && h > 0 && (1..=4).contains(&c) && w * h * c <= 2048 {
        Expect::Refused {
            status: 422,
            code: "shape_mismatch",
        }
    } else {
        BAD_CONTAINER
    }
}

pub fn is_shape(field: &str) -> bool {
    matches!(field, "width" | "height" | "channels")
}

/// Each bit of each header field (and of the terms and extension) of A and of B.
fn bit_flips(fx: &Fixture) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in &fx.pairs {
        for which in ['A', 'B'] {
            let full = if which == 'A' { &p.a } else { &p.b };
            for (field, offset, len) in header_fields(p.scheme) {
                for bit in 0..len * 8 {
                    let mut bytes = full.clone();
                    bytes[offset + bit / 8] ^= 1 << (bit % 8);
                    let expect = if is_shape(field) {
                        shape_expect(p.scheme, &bytes)
                    } else {
                        flip_expect(p.scheme, field, &full[offset..offset + len], bit)
                    };
                    cases.push(operand_case(
                        "header bit flips",
                        p,
                        which,
                        format!("{field} bit {bit}"),
                        &bytes,
                        expect,
                    ));
                }
            }
        }
        // Beyond the header: padding bits of the last payload byte must be zero, and a
        // payload the server cannot check is caught by decryption.
        let samples = (W * H) as usize * C as usize;
        if p.scheme != Scheme::BFV {
            let bits = if p.scheme == Scheme::MASK { 9 } else { 8 };
            if samples * bits % 8 != 0 {
                let mut bytes = p.a.clone();
                *bytes.last_mut().unwrap() |= 0x80;
                cases.push(operand_case(
                    "header bit flips",
                    p,
                    'A',
                    "payload padding bit".into(),
                    &bytes,
                    BAD_CONTAINER,
                ));
            }
        }
        if p.scheme == Scheme::MASK {
            let mut bytes = p.a.clone();
            bytes[FIXED_HEADER_LEN + 25] ^= 1;
            cases.push(operand_case(
                "header bit flips",
                p,
                'A',
                "payload bit 0".into(),
                &bytes,
                Expect::Computed { tampered: true },
            ));
        }
        if p.scheme == Scheme::BFV {
            // A 23-bit coefficient of all ones is ≥ q0.
            for which in ['A', 'B'] {
                let mut bytes = if which == 'A' {
                    p.a.clone()
                } else {
                    p.b.clone()
                };
                let start = header_len(Scheme::BFV);
                bytes[start..start + 3].copy_from_slice(&[0xff, 0xff, 0x7f]);
                cases.push(operand_case(
                    "header bit flips",
                    p,
                    which,
                    "payload coefficient ≥ q0".into(),
                    &bytes,
                    BAD_CONTAINER,
                ));
            }
        }
    }
    cases
}

/// Length and size fields set to 0, 1, their maximum and enormous values, alone and
/// consistently with each other (so only the bytes present reveal the lie).
fn length_fields(fx: &Fixture) -> Vec<Case> {
    let mut cases = Vec::new();
    let huge: [u64; 8] = [
        0,
        1,
        2,
        1 << 28,
        (1 << 28) + 1,
        u32::MAX as u64 - 1,
        u32::MAX as u64,
        u64::MAX,
    ];
    for p in &fx.pairs {
        for which in ['A', 'B'] {
            let full = if which == 'A' { &p.a } else { &p.b };
            for (field, offset, len) in FIELDS {
                if !matches!(
                    field,
                    "width" | "height" | "channels" | "term_count" | "ext_len" | "payload_len"
                ) {
                    continue;
                }
                let original = full[offset..offset + len].to_vec();
                let mut values = huge.to_vec();
                values.extend([4096, 4097, u16::MAX as u64, 32, 33, u8::MAX as u64]);
                for value in values {
                    let encoded = value.to_le_bytes()[..len].to_vec();
                    // Values that do not fit the field, or leave it as it was, say nothing.
                    if (len < 8 && value >> (len * 8) != 0) || encoded == original {
                        continue;
                    }
                    let mut bytes = full.clone();
                    bytes[offset..offset + len].copy_from_slice(&encoded);
                    cases.push(operand_case(
                        "length fields",
                        p,
                        which,
                        format!("{field} = {value}"),
                        &bytes,
                        if is_shape(field) {
                            shape_expect(p.scheme, &bytes)
                        } else {
                            BAD_CONTAINER
                        },
                    ));
                }
            }
            // Consistent enormous shapes: width, height, channels and payload_len agree.
            for (w, h, c) in [
                (16384u32, 16384u32, 1u8),
                (65536, 4096, 1),
                (u32::MAX, u32::MAX, 4),
                (1, 1 << 28, 1),
                (1 << 27, 1, 2),
            ] {
                let n = w as u128 * h as u128 * c as u128;
                let payload = match p.scheme {
                    Scheme::MASK => (n * 9).div_ceil(8),
                    Scheme::SHUFFLE => n,
                    Scheme::BFV => n.div_ceil(2048) * 11_776,
                    other => panic!("no payload rule for {other}"),
                };
                let mut bytes = full.clone();
                bytes[12..16].copy_from_slice(&w.to_le_bytes());
                bytes[16..20].copy_from_slice(&h.to_le_bytes());
                bytes[20] = c;
                bytes[60..68]
                    .copy_from_slice(&(payload.min(u64::MAX as u128) as u64).to_le_bytes());
                cases.push(operand_case(
                    "length fields",
                    p,
                    which,
                    format!("consistent {w}×{h}×{c} claim, {payload}-byte payload"),
                    &bytes,
                    BAD_CONTAINER,
                ));
            }
        }
    }
    cases
}

/// Well-formed ciphertexts that cannot be combined: keys, schemes, shapes, ranges, k, op.
fn mismatches(fx: &Fixture) -> Vec<Case> {
    let cat = "mismatched operands";
    let mut cases = Vec::new();
    let pair = |a: &[u8], b: &[u8], op: Option<&str>| {
        let mut v = diff_body(a, b);
        if let Some(op) = op {
            v["op"] = json!(op);
        }
        v
    };
    for p in &fx.pairs {
        let s = p.scheme;
        let (_, stranger) = fx.other_key.iter().find(|o| o.0 == s).unwrap();
        cases.push(
            Case::json(
                cat,
                format!("{s}: B under another key"),
                &pair(&p.a, stranger, None),
            )
            .refused(422, "key_mismatch"),
        );
        cases.push(
            Case::json(
                cat,
                format!("{s}: A under another key"),
                &pair(stranger, &p.b, None),
            )
            .refused(422, "key_mismatch"),
        );
        for (_, what, other) in fx.other_shapes.iter().filter(|o| o.0 == s) {
            cases.push(
                Case::json(
                    cat,
                    format!("{s}: B of another {what}"),
                    &pair(&p.a, other, None),
                )
                .refused(422, "shape_mismatch"),
            );
            cases.push(
                Case::json(
                    cat,
                    format!("{s}: A of another {what}"),
                    &pair(other, &p.b, None),
                )
                .refused(422, "shape_mismatch"),
            );
        }
        for q in fx.pairs.iter().filter(|q| q.scheme != s) {
            cases.push(
                Case::json(cat, format!("{s} − {}", q.scheme), &pair(&p.a, &q.b, None))
                    .refused(422, "scheme_mismatch"),
            );
        }
        let d = fx.diff(s);
        if s != Scheme::SHUFFLE {
            for (name, a, b) in [
                ("difference − fresh", d, &p.b[..]),
                ("fresh − difference", &p.a[..], d),
                ("difference − difference", d, d),
            ] {
                cases.push(
                    Case::json(cat, format!("{s}: {name}"), &pair(a, b, None))
                        .refused(422, "range_overflow"),
                );
            }
        }
        // Only the shuffle scheme's 8-bit samples saturate.
        let expect = if s == Scheme::SHUFFLE {
            Expect::Computed { tampered: false }
        } else {
            Expect::Refused {
                status: 422,
                code: "unsupported_op",
            }
        };
        cases.push(
            Case::json(
                cat,
                format!("{s}: sub_sat of fresh"),
                &pair(&p.a, &p.b, Some("sub_sat")),
            )
            .expect(expect)
            .scheme(s),
        );
    }
    let sh = fx.pair(Scheme::SHUFFLE);
    let d = fx.diff(Scheme::SHUFFLE);
    cases.push(
        Case::json(
            cat,
            "shuffle: widest − widest spans more than 16 bits",
            &pair(&fx.shuffle_widest, &fx.shuffle_widest, None),
        )
        .refused(422, "range_overflow"),
    );
    // Shuffle operands may differ in k (documented); sub_sat needs k = 8 on both.
    cases.push(
        Case::json(cat, "shuffle: k 9 − k 8", &pair(d, &sh.b, None))
            .expect(Expect::Computed { tampered: false })
            .scheme(Scheme::SHUFFLE),
    );
    for (name, a, b) in [
        ("shuffle: sub_sat of k 9 − k 8", d, &sh.b[..]),
        ("shuffle: sub_sat of k 8 − k 9", &sh.a[..], d),
    ] {
        cases.push(
            Case::json(cat, name, &pair(a, b, Some("sub_sat"))).refused(422, "unsupported_op"),
        );
    }
    cases
}

/// Bodies that are not JSON, or not a diff request.
fn json_cases(fx: &Fixture) -> Vec<Case> {
    let cat = "json";
    let p = fx.pair(Scheme::MASK);
    let (a, b) = (b64(&p.a), b64(&p.b));
    let valid = format!(r#"{{"a": {{"inline": "{a}"}}, "b": {{"inline": "{b}"}}}}"#);
    let mut bodies: Vec<(String, Vec<u8>)> = vec![
        ("empty body".into(), Vec::new()),
        ("whitespace".into(), b" \n\t ".to_vec()),
        ("{".into(), b"{".to_vec()),
        ("}".into(), b"}".to_vec()),
        ("null".into(), b"null".to_vec()),
        ("true".into(), b"true".to_vec()),
        ("number".into(), b"12".to_vec()),
        ("string".into(), br#""diff""#.to_vec()),
        ("array".into(), b"[]".to_vec()),
        ("array of the request".into(), format!("[{valid}]").into_bytes()),
        ("array of the fields".into(), json!([inline(&p.a), inline(&p.b)]).to_string().into_bytes()),
        ("array of the fields and op".into(), json!([inline(&p.a), inline(&p.b), "sub", null]).to_string().into_bytes()),
        ("s3 location as an array".into(), json!({"a": {"s3": ["picrypt/in/a.picrypt"]}, "b": inline(&p.b)}).to_string().into_bytes()),
        ("s3 output as an array".into(), json!({"a": inline(&p.a), "b": inline(&p.b), "output": {"s3": ["picrypt/out/never/x"]}}).to_string().into_bytes()),
        ("empty object".into(), b"{}".to_vec()),
        ("missing value".into(), br#"{"a":}"#.to_vec()),
        ("trailing comma".into(), format!("{},}}", &valid[..valid.len() - 1]).into_bytes()),
        ("trailing garbage".into(), format!("{valid} x").into_bytes()),
        ("two documents".into(), format!("{valid}{valid}").into_bytes()),
        ("single quotes".into(), valid.replace('"', "'").into_bytes()),
        ("comment".into(), format!("/* c */ {valid}").into_bytes()),
        ("unquoted keys".into(), valid.replace("\"a\"", "a").into_bytes()),
        ("NaN".into(), br#"{"a": NaN}"#.to_vec()),
        ("byte order mark".into(), [b"\xef\xbb\xbf".as_slice(), valid.as_bytes()].concat()),
        ("invalid UTF-8".into(), [valid.as_bytes(), b"\xff\xfe"].concat()),
        ("UTF-16".into(), valid.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        ("NUL byte".into(), b"\0".to_vec()),
        ("lone surrogate".into(), br#"{"a": {"inline": "\ud800"}, "b": {"inline": ""}}"#.to_vec()),
        ("unterminated string".into(), br#"{"a": {"inline": "AAAA"#.to_vec()),
        ("control character in string".into(), b"{\"a\": {\"inline\": \"AA\x01A\"}}".to_vec()),
        ("missing a".into(), json!({"b": inline(&p.b)}).to_string().into_bytes()),
        ("missing b".into(), json!({"a": inline(&p.a)}).to_string().into_bytes()),
        ("capitalised keys".into(), valid.replace("\"a\"", "\"A\"").replace("\"b\"", "\"B\"").into_bytes()),
        ("duplicate a".into(), format!(r#"{{"a": {{"inline": "{a}"}}, "a": {{"inline": "{a}"}}, "b": {{"inline": "{b}"}}}}"#).into_bytes()),
        ("duplicate op".into(), format!(r#"{{"a": {{"inline": "{a}"}}, "b": {{"inline": "{b}"}}, "op": "sub", "op": "sub"}}"#).into_bytes()),
        ("duplicate inline".into(), format!(r#"{{"a": {{"inline": "{a}", "inline": "{a}"}}, "b": {{"inline": "{b}"}}}}"#).into_bytes()),
        ("inline and s3".into(), format!(r#"{{"a": {{"inline": "{a}", "s3": {{"key": "picrypt/in/a.picrypt"}}}}, "b": {{"inline": "{b}"}}}}"#).into_bytes()),
        ("duplicate s3 key".into(), br#"{"a": {"s3": {"key": "picrypt/x", "key": "picrypt/y"}}, "b": {"s3": {"key": "picrypt/z"}}}"#.to_vec()),
    ];
    for (place, field) in [
        ("top level", "/"),
        ("source", "/a"),
        ("s3 location", "/a/s3"),
        ("s3 output", "/output/s3"),
    ] {
        for unknown in ["key", "bucket", "extra", "", "A", "__proto__"] {
            let mut v = json!({"a": {"s3": {"key": "picrypt/in/a.picrypt"}}, "b": inline(&p.b), "output": {"s3": {"key": "picrypt/out/never/x"}}});
            if field == "/" {
                v[unknown] = json!("x");
            } else {
                let target = v.pointer_mut(field).unwrap();
                // `bucket` is a field of S3 locations (but not of outputs).
                if target.get(unknown).is_some() || (place == "s3 location" && unknown == "bucket")
                {
                    continue;
                }
                target[unknown] = json!("x");
            }
            bodies.push((
                format!("unknown field {unknown:?} in {place}"),
                v.to_string().into_bytes(),
            ));
        }
    }
    for depth in [129, 10_000, 100_000] {
        bodies.push((
            format!("[ nested {depth} deep"),
            "[".repeat(depth).into_bytes(),
        ));
        bodies.push((
            format!("closed [] nested {depth} deep"),
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
        ));
        bodies.push((
            format!("{{ nested {depth} deep"),
            r#"{"a":"#.repeat(depth).into_bytes(),
        ));
        bodies.push((
            format!("nested {depth} deep inside inline"),
            format!(
                r#"{{"a": {{"inline": {}{}}}, "b": {{"inline": "{b}"}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
            .into_bytes(),
        ));
        bodies.push((
            format!("nested {depth} deep in an unknown field"),
            format!(
                r#"{{"a": {{"inline": "{a}"}}, "b": {{"inline": "{b}"}}, "x": {}{}}}"#,
                r#"{"x":"#.repeat(depth),
                "}".repeat(depth)
            )
            .into_bytes(),
        ));
    }
    let mut cases: Vec<Case> = bodies
        .into_iter()
        .map(|(name, body)| Case::post(cat, name, body))
        .collect();
    // Absent means the default: an explicit null is the same as leaving the field out.
    for (name, extra) in [
        ("op null", json!({"op": null})),
        ("output null", json!({"output": null})),
    ] {
        let mut v = diff_body(&p.a, &p.b);
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        cases.push(Case::json(cat, name, &v).expect(Expect::Computed { tampered: false }));
    }
    cases
}

/// Every field with a value of every wrong type, and numbers of every awkward kind.
fn wrong_types(fx: &Fixture) -> Vec<Case> {
    let cat = "wrong types and numbers";
    let p = fx.pair(Scheme::MASK);
    let wrong: Vec<(&str, Value)> = vec![
        ("null", json!(null)),
        ("true", json!(true)),
        ("0", json!(0)),
        ("-1", json!(-1)),
        ("1.5", json!(1.5)),
        ("1e308", json!(1e308)),
        ("-1e308", json!(-1e308)),
        ("u64::MAX", json!(u64::MAX)),
        ("i64::MIN", json!(i64::MIN)),
        ("string", json!("x")),
        ("array", json!([])),
        ("array of strings", json!(["sub"])),
        ("object", json!({})),
    ];
    // (field, pointer, types that are right for it)
    let fields: [(&str, &str, &[&str]); 7] = [
        ("a", "/a", &["object"]),
        ("b", "/b", &["object"]),
        ("a.inline", "/a/inline", &["string"]),
        ("a.s3", "/a/s3", &["object"]),
        ("a.s3.key", "/a/s3/key", &["string"]),
        ("a.s3.bucket", "/a/s3/bucket", &["string", "null"]),
        ("output.s3.key", "/output/s3/key", &["string"]),
    ];
    let mut cases = Vec::new();
    for (field, pointer, right) in fields {
        for (tname, value) in &wrong {
            if right.contains(tname) {
                continue;
            }
            let mut v = if pointer.starts_with("/a/s3") {
                json!({"a": {"s3": {"key": "picrypt/in/a.picrypt", "bucket": "b"}}, "b": inline(&p.b)})
            } else if pointer.starts_with("/output") {
                json!({"a": inline(&p.a), "b": inline(&p.b), "output": {"s3": {"key": "picrypt/out/never/x"}}})
            } else {
                diff_body(&p.a, &p.b)
            };
            *v.pointer_mut(pointer).unwrap() = value.clone();
            cases.push(Case::json(cat, format!("{field} = {tname}"), &v));
        }
    }
    for (tname, value) in &wrong {
        for field in ["op", "output"] {
            if *tname == "null" {
                continue; // absent, see the json group
            }
            let mut v = diff_body(&p.a, &p.b);
            v[field] = value.clone();
            let expect = if field == "op" && *tname == "string" {
                Expect::Refused {
                    status: 400,
                    code: "unknown_op",
                }
            } else {
                Expect::Refused {
                    status: 400,
                    code: "bad_json",
                }
            };
            cases.push(Case::json(cat, format!("{field} = {tname}"), &v).expect(expect));
        }
    }
    // Numbers JSON itself cannot hold, written out literally.
    let (a, b) = (b64(&p.a), b64(&p.b));
    for literal in [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "-0",
        "0x10",
        "+1",
        ".5",
        "1.",
        "01",
    ] {
        cases.push(Case::post(
            cat,
            format!("op = {literal}"),
            format!(r#"{{"a": {{"inline": "{a}"}}, "b": {{"inline": "{b}"}}, "op": {literal}}}"#),
        ));
    }
    for (name, output) in [
        ("output = \"s3\"", json!("s3")),
        ("output = \"INLINE\"", json!("INLINE")),
        ("output = \"\"", json!("")),
        (
            "output = {\"s3\": \"key\"}",
            json!({"s3": "picrypt/out/never/x"}),
        ),
        ("output = {\"s3\": {}}", json!({"s3": {}})),
        (
            "output with a bucket",
            json!({"s3": {"key": "picrypt/out/never/x", "bucket": "b"}}),
        ),
        ("output = {\"inline\": {}}", json!({"inline": {}})),
    ] {
        let mut v = diff_body(&p.a, &p.b);
        v["output"] = output;
        cases.push(Case::json(cat, name, &v));
    }
    for (name, op) in [
        ("op = \"SUB\"", "SUB"),
        ("op = \"Sub\"", "Sub"),
        ("op = \"sub \"", "sub "),
        ("op = \" sub\"", " sub"),
        ("op = \"add\"", "add"),
        ("op = \"mul\"", "mul"),
        ("op = \"sub-sat\"", "sub-sat"),
        ("op = \"subsat\"", "subsat"),
        ("op = 100 000 letters", &"s".repeat(100_000)),
    ] {
        let mut v = diff_body(&p.a, &p.b);
        v["op"] = json!(op);
        cases.push(Case::json(cat, name, &v).refused(400, "unknown_op"));
    }
    cases
}

/// Inline sources that are not standard padded base64.
fn base64_cases(fx: &Fixture) -> Vec<Case> {
    let cat = "base64";
    let mut cases = Vec::new();
    let p = fx.pair(Scheme::MASK);
    let encoded = b64(&p.a);
    let with_symbols = {
        let mut x = p.a.clone();
        x[0..3].copy_from_slice(&[0xfb, 0xef, 0xff]);
        b64(&x)
    };
    assert!(with_symbols.contains('+') || with_symbols.contains('/'));
    assert!(encoded.ends_with('='), "the fixture's base64 needs padding");
    let mime: String = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let variants: Vec<(&str, String)> = vec![
        ("not base64", "!!!not base64".into()),
        ("one character", "A".into()),
        ("two characters", "AA".into()),
        ("three characters", "AAA".into()),
        ("padding only", "====".into()),
        ("padding in the middle", format!("AA==AAAA{encoded}")),
        ("too much padding", format!("{encoded}==")),
        ("padding removed", encoded.trim_end_matches('=').into()),
        ("non-canonical trailing bits", "AB==".into()),
        (
            "url-safe alphabet",
            with_symbols.replace('+', "-").replace('/', "_"),
        ),
        (
            "space inside",
            format!("{} {}", &encoded[..8], &encoded[8..]),
        ),
        ("leading space", format!(" {encoded}")),
        ("trailing newline", format!("{encoded}\n")),
        ("MIME line breaks", mime),
        (
            "tab inside",
            format!("{}\t{}", &encoded[..4], &encoded[4..]),
        ),
        (
            "data URL",
            format!("data:application/octet-stream;base64,{encoded}"),
        ),
        (
            "NUL inside",
            format!("{}\u{0}{}", &encoded[..4], &encoded[4..]),
        ),
        (
            "RTL mark inside",
            format!("{}\u{200f}{}", &encoded[..4], &encoded[4..]),
        ),
        ("right-to-left override", format!("\u{202e}{encoded}")),
        ("full-width letters", "ＡＡＡＡ".into()),
        ("emoji", "🙂🙂🙂🙂".into()),
        (
            "hex instead",
            p.a.iter().map(|b| format!("{b:02x}")).collect(),
        ),
    ];
    for which in ["a", "b"] {
        for (name, text) in &variants {
            let mut v = diff_body(&p.a, &p.b);
            v[which] = json!({ "inline": text });
            cases.push(
                Case::json(cat, format!("{which}: {name}"), &v)
                    .refused(400, "bad_base64")
                    .mentions(format!("{}: invalid base64", which.to_uppercase())),
            );
        }
        // Valid base64 of bytes that are not a container.
        for (name, bytes) in [
            ("base64 of text", b"hello, world".to_vec()),
            ("base64 of a PNG signature", b"\x89PNG\r\n\x1a\n".to_vec()),
            ("base64 of a key file", b"PICRYPTK\x01\x01\x01\x00".to_vec()),
        ] {
            let mut v = diff_body(&p.a, &p.b);
            v[which] = inline(&bytes);
            cases.push(
                Case::json(cat, format!("{which}: {name}"), &v)
                    .refused(400, "bad_container")
                    .mentions(format!("malformed container: {}: ", which.to_uppercase())),
            );
        }
    }
    cases
}

/// NUL, bidi controls and other unicode where strings go; empty values everywhere.
fn unicode_and_empty(fx: &Fixture) -> Vec<Case> {
    let cat = "unicode and empty values";
    let p = fx.pair(Scheme::MASK);
    let mut cases = Vec::new();
    let texts = [
        "",
        "\u{0}",
        "sub\u{0}",
        "\u{200f}sub",
        "sub\u{202e}",
        "\u{feff}sub",
        "ѕub",
        "🙂",
        "s\u{301}ub",
    ];
    for text in texts {
        let mut v = diff_body(&p.a, &p.b);
        v["op"] = json!(text);
        cases.push(Case::json(cat, format!("op = {text:?}"), &v).refused(400, "unknown_op"));
        let mut v = diff_body(&p.a, &p.b);
        v[format!("a{text}")] = json!("x");
        if !text.is_empty() {
            cases.push(Case::json(cat, format!("field name a{text:?}"), &v));
        }
        let mut v = diff_body(&p.a, &p.b);
        v["output"] = json!(format!("inline{text}"));
        if !text.is_empty() {
            cases.push(Case::json(cat, format!("output = inline{text:?}"), &v));
        }
    }
    for (name, body) in [
        ("a = {}", json!({"a": {}, "b": inline(&p.b)})),
        ("a = \"\"", json!({"a": "", "b": inline(&p.b)})),
        ("a.s3 = {}", json!({"a": {"s3": {}}, "b": inline(&p.b)})),
        (
            "a = {\"inline\": \"\"} and b = {\"inline\": \"\"}",
            json!({"a": {"inline": ""}, "b": {"inline": ""}}),
        ),
    ] {
        let expect = if name.contains("inline\": \"\"") {
            Expect::Refused {
                status: 400,
                code: "bad_container",
            }
        } else {
            Expect::Refused {
                status: 400,
                code: "bad_json",
            }
        };
        cases.push(Case::json(cat, name, &body).expect(expect));
    }
    cases
}

/// S3 sources and outputs. With a bucket: the documented confinement; without one: every
/// S3 location is refused as not configured.
fn s3_cases(fx: &Fixture) -> Vec<Case> {
    let cat = "s3 sources and outputs";
    let p = fx.pair(Scheme::MASK);
    let mut cases = Vec::new();
    let long_ok = format!("{PREFIX}{}", "k".repeat(1024 - PREFIX.len()));
    let too_long = format!("{long_ok}k");
    let forbidden = |status, code| Expect::Refused { status, code };
    // (key, answer with the bucket)
    let keys: Vec<(String, Expect)> = vec![
        ("secret/a.picrypt".into(), forbidden(403, "key_forbidden")),
        (
            "picrypt/../secret/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt/in/../../secret/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        ("..".into(), forbidden(403, "key_forbidden")),
        ("picrypt/..".into(), forbidden(403, "key_forbidden")),
        (
            "picrypt/./in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "/picrypt/in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "//picrypt/in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt//in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt\\..\\secret\\a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt/in/a.picrypt\u{0}".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt/in/a.picrypt\n".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt/in/\u{7f}.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "picrypt/in/\u{85}.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "Picrypt/in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        ("picrypt".into(), forbidden(403, "key_forbidden")),
        (
            "\u{202e}picrypt/in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (
            "ｐicrypt/in/a.picrypt".into(),
            forbidden(403, "key_forbidden"),
        ),
        (String::new(), forbidden(400, "bad_request")),
        (too_long, forbidden(400, "bad_request")),
        ("picrypt/".repeat(200), forbidden(400, "bad_request")),
        (long_ok, forbidden(404, "object_not_found")),
        (
            "picrypt/in/missing.picrypt".into(),
            forbidden(404, "object_not_found"),
        ),
        ("picrypt/".into(), forbidden(404, "object_not_found")),
        ("picrypt/in/".into(), forbidden(404, "object_not_found")),
        ("picrypt/in/...".into(), forbidden(404, "object_not_found")),
        (
            "picrypt/in/%2e%2e/a.picrypt".into(),
            forbidden(404, "object_not_found"),
        ),
        (
            "picrypt/in/a.picrypt?versionId=1".into(),
            forbidden(404, "object_not_found"),
        ),
        (
            "picrypt/in/a.picrypt#x".into(),
            forbidden(404, "object_not_found"),
        ),
        (
            "picrypt/in/ünïcødé.picrypt".into(),
            forbidden(404, "object_not_found"),
        ),
        (
            "picrypt/in/\u{200f}a.picrypt".into(),
            forbidden(404, "object_not_found"),
        ),
        (
            "picrypt/in/junk.picrypt".into(),
            forbidden(400, "bad_container"),
        ),
        (
            "picrypt/in/empty.picrypt".into(),
            forbidden(400, "bad_container"),
        ),
        (
            "picrypt/in/truncated.picrypt".into(),
            forbidden(400, "bad_container"),
        ),
        (
            "picrypt/in/big.picrypt".into(),
            forbidden(413, "object_too_large"),
        ),
    ];
    let bucket = fx
        .bucket
        .clone()
        .unwrap_or_else(|| "picrypt-battery".into());
    let buckets = [
        "other-bucket".to_string(),
        String::new(),
        bucket.to_uppercase(),
        format!("{bucket} "),
        format!("{bucket}/.."),
        format!("../{bucket}"),
        format!("{bucket}\u{0}"),
        "ünïcødé".into(),
        "x".repeat(10_000),
    ];
    let not_configured = Expect::Refused {
        status: 400,
        code: "s3_not_configured",
    };
    for which in ["a", "b"] {
        let other = if which == "a" { "b" } else { "a" };
        let other_source = inline(if which == "a" { &p.b } else { &p.a });
        for (key, expect) in &keys {
            let mut v = json!({});
            v[which] = s3(key);
            v[other] = other_source.clone();
            v["output"] = s3(&format!("{NEVER_PREFIX}{which}"));
            let name = format!("{which} key {key:?}");
            let mentions = match expect {
                Expect::Refused {
                    code: "bad_container",
                    ..
                } => Some(format!("malformed container: {}: ", which.to_uppercase())),
                Expect::Refused {
                    code: "object_not_found" | "object_too_large",
                    ..
                } => Some(format!("{}: ", which.to_uppercase())),
                _ => None,
            };
            let mut case = Case::json(cat, name.clone(), &v)
                .expect(expect.clone())
                .needs(Needs::Bucket);
            case.mentions = mentions;
            cases.push(case);
            cases.push(
                Case::json(cat, name, &v)
                    .expect(not_configured.clone())
                    .needs(Needs::NoBucket),
            );
        }
        for b in &buckets {
            let mut v = json!({});
            v[which] = json!({"s3": {"key": "picrypt/in/a.picrypt", "bucket": b}});
            v[other] = other_source.clone();
            let name = format!("{which} in bucket {:?}", truncate(b));
            cases.push(
                Case::json(cat, name.clone(), &v)
                    .refused(403, "bucket_forbidden")
                    .needs(Needs::Bucket),
            );
            cases.push(
                Case::json(cat, name, &v)
                    .expect(not_configured.clone())
                    .needs(Needs::NoBucket),
            );
        }
    }
    // Output keys: refused before any work, whatever the inputs are.
    for (key, expect) in &keys {
        let refused_early = matches!(expect, Expect::Refused { status: 403 | 400, code } if *code != "bad_container");
        if !refused_early {
            continue;
        }
        for (inputs, v) in [
            ("valid inputs", diff_body(&p.a, &p.b)),
            (
                "junk inputs",
                json!({"a": {"inline": "!!"}, "b": {"s3": {"key": "picrypt/in/missing"}}}),
            ),
        ] {
            let mut v = v;
            v["output"] = s3(key);
            let name = format!("output key {key:?}, {inputs}");
            cases.push(
                Case::json(cat, name.clone(), &v)
                    .expect(expect.clone())
                    .needs(Needs::Bucket),
            );
            cases.push(
                Case::json(cat, name, &v)
                    .expect(not_configured.clone())
                    .needs(Needs::NoBucket),
            );
        }
    }
    // An S3 object that exists and combines: unicode keys are fine.
    let v = json!({"a": s3("picrypt/in/ünïcødé \u{202e}.picrypt"), "b": s3("picrypt/in/b.picrypt"), "output": "inline"});
    cases.push(
        Case::json(cat, "unicode key that exists", &v)
            .expect(Expect::Computed { tampered: false })
            .needs(Needs::Bucket),
    );
    cases
}

fn truncate(s: &str) -> String {
    s.chars().take(24).collect()
}

/// Bodies at and over the 6 MB limit.
fn oversized(fx: &Fixture) -> Vec<Case> {
    let cat = "oversized bodies";
    let p = fx.pair(Scheme::MASK);
    let mut cases = vec![
        Case::post(cat, "limit + 1 bytes of x", vec![b'x'; LIMIT + 1])
            .refused(413, "request_too_large"),
        Case::post(cat, "limit bytes of x", vec![b'x'; LIMIT]).refused(400, "bad_json"),
        Case::post(cat, "16 MB of x", vec![b'x'; 16 << 20]).refused(413, "request_too_large"),
    ];
    // A request that would be valid but for its size: padded base64 is refused unread.
    let mut v = diff_body(&p.a, &p.b);
    let padding = LIMIT + 1 - v.to_string().len() - r#","op":"#.len() - 2;
    v["op"] = json!(" ".repeat(padding));
    let body = v.to_string();
    assert_eq!(body.len(), LIMIT + 1);
    cases.push(
        Case::post(cat, "a diff request one byte over the limit", body)
            .refused(413, "request_too_large"),
    );
    let mut wrong_type = Case::post(cat, "over the limit as text/plain", vec![b'x'; LIMIT + 1])
        .refused(415, "unsupported_media_type");
    wrong_type.content_type = Some("text/plain".into());
    cases.push(wrong_type);
    let mut wrong_method = Case::post(cat, "over the limit with PUT", vec![b'x'; LIMIT + 1])
        .refused(405, "method_not_allowed");
    wrong_method.method = "PUT";
    wrong_method.allow = Some("POST");
    cases.push(wrong_method);
    cases
}

/// Every method on every route, and routes that do not exist.
fn methods(_: &Fixture) -> Vec<Case> {
    let cat = "methods and routes";
    let mut cases = Vec::new();
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "post",
    ];
    for route in [
        "/diff",
        "/health",
        "/openapi.json",
        "/prod/diff",
        "/lambda-url/picrypt-function/health",
        "/diff/",
    ] {
        let is_diff = route.trim_end_matches('/').ends_with("/diff");
        for method in methods {
            let allowed = if is_diff {
                method == "POST"
            } else {
                method == "GET" || method == "HEAD"
            };
            let mut case = Case::post(cat, format!("{method} {route}"), Vec::new());
            case.method = method;
            case.path = route.into();
            case.content_type = None;
            case = if allowed && is_diff {
                case.refused(400, "bad_json") // POST /diff with an empty body
            } else if allowed {
                continue;
            } else {
                case.allow = Some(if is_diff { "POST" } else { "GET, HEAD" });
                case.refused(405, "method_not_allowed")
            };
            cases.push(case);
        }
    }
    // The page's files (web/page) answer GET and HEAD; the page tests check what.
    for route in [
        "/",
        "/index.html",
        "/app.js",
        "/lambda-url/picrypt-function/",
    ] {
        for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
            let mut case = Case::post(cat, format!("{method} {route}"), Vec::new());
            case.method = method;
            case.path = route.into();
            case.content_type = None;
            case.allow = Some("GET, HEAD");
            cases.push(case.refused(405, "method_not_allowed"));
        }
    }
    for route in [
        "/diff/x",
        "/DIFF",
        "/Diff",
        "/admin",
        "/%64iff",
        "/diff.json",
        "/health.json",
        "/openapi",
        "/diff%00",
        "/diff;x",
        "/.diff",
        "/diff%2F",
    ] {
        for method in ["GET", "POST", "DELETE"] {
            let mut case =
                Case::post(cat, format!("{method} {route}"), Vec::new()).refused(404, "not_found");
            case.method = method;
            case.path = route.into();
            cases.push(case);
        }
    }
    cases
}

/// Content types other than application/json, and the spellings of it that are fine.
fn content_types(fx: &Fixture) -> Vec<Case> {
    let cat = "content types";
    let p = fx.pair(Scheme::MASK);
    let body = diff_body(&p.a, &p.b).to_string();
    let mut cases = Vec::new();
    for ct in [
        "text/plain",
        "text/json",
        "text/html",
        "",
        "json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "application/xml",
        "application/javascript",
        "application/jsonp",
        "application/json5",
        "application/json-seq",
        "application/jsonx; charset=utf-8",
        "application/json+x",
        "application/problem+json",
        "application/*",
        "*/*",
        "application /json",
        "application\\json",
        "application/jsön",
    ] {
        let mut case = Case::post(cat, format!("Content-Type {ct:?}"), body.clone())
            .refused(415, "unsupported_media_type");
        case.content_type = Some(ct.into());
        cases.push(case);
    }
    for ct in [
        "application/json",
        "APPLICATION/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
    ] {
        let mut case = Case::post(cat, format!("Content-Type {ct:?}"), body.clone())
            .expect(Expect::Computed { tampered: false });
        case.content_type = Some(ct.into());
        cases.push(case);
    }
    cases
}

/// Checks an answer against the case: status, code, the documented error body, and the
/// `Allow` header of a 405. `body` is `None` where HTTP carries no body (HEAD).
pub fn check_error(
    case: &Case,
    status: u16,
    allow: Option<&str>,
    body: Option<&[u8]>,
) -> Result<(), String> {
    let Expect::Refused { status: want, code } = case.expect else {
        return Err("not a refusal".into());
    };
    if status != want {
        return Err(format!(
            "status {status}, expected {want} {code}: {}",
            body.map(String::from_utf8_lossy).unwrap_or_default()
        ));
    }
    if status == 405 && allow != case.allow {
        return Err(format!("Allow {allow:?}, expected {:?}", case.allow));
    }
    let Some(body) = body else { return Ok(()) };
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| format!("error body is not JSON: {}", String::from_utf8_lossy(body)))?;
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1 && o.contains_key("error"));
    let err = obj
        .and_then(|o| o["error"].as_object())
        .ok_or_else(|| format!("not {{\"error\": {{…}}}}: {v}"))?;
    if let Some(extra) = err
        .keys()
        .find(|k| !["code", "message", "request_id"].contains(&k.as_str()))
    {
        return Err(format!("undocumented member {extra:?} in {v}"));
    }
    if err.get("code").and_then(Value::as_str) != Some(code) {
        return Err(format!(
            "code {:?}, expected {code:?}: {v}",
            err.get("code")
        ));
    }
    let message = err.get("message").and_then(Value::as_str).unwrap_or("");
    if message.is_empty() {
        return Err(format!("empty message: {v}"));
    }
    if !err.get("request_id").is_some_and(Value::is_string) {
        return Err(format!("no request_id: {v}"));
    }
    if let Some(needle) = &case.mentions {
        if !message.contains(needle.as_str()) {
            return Err(format!("message does not mention {needle:?}: {message}"));
        }
    }
    Ok(())
}

/// The case as a framed body (`application/vnd.picrypt.framed`, asking for a framed
/// answer), when it is one a framed body can say: a `POST` of a JSON request written as
/// `serde_json` writes it (so that no duplicate key or odd spacing is lost in the
/// translation), whose inline sources are valid base64, with a JSON content type, and not
/// about the size limit (which a framed body counts on its base64 form). Each inline
/// source becomes a part; everything else stays as it was, and so does the answer expected.
pub fn framed(case: &Case) -> Option<Case> {
    if case.method != "POST"
        || case.content_type.as_deref() != Some("application/json")
        || matches!(case.expect, Expect::Refused { status: 413, .. })
    {
        return None;
    }
    let mut doc: Value = serde_json::from_slice(&case.body).ok()?;
    if doc.to_string().as_bytes() != case.body.as_slice() {
        return None;
    }
    let mut parts = Vec::new();
    for name in ["a", "b"] {
        let Some(source) = doc.get_mut(name) else {
            continue;
        };
        let Some(text) = source.get("inline").and_then(Value::as_str) else {
            continue;
        };
        if source.as_object().map(|o| o.len()) != Some(1) {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?;
        *source = json!({"part": parts.len()});
        parts.push(bytes);
    }
    let doc = doc.to_string();
    // A document over the framing's limit is refused by the framing (api/src/framed.rs).
    if parts.is_empty() || doc.len() > picrypt_api::framed::MAX_JSON_BYTES {
        return None;
    }
    let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let mut framed_case = case.clone();
    framed_case.name = format!("{} (framed)", case.name);
    framed_case.content_type = Some(picrypt_api::framed::MEDIA_TYPE.into());
    framed_case.accept = Some(picrypt_api::framed::MEDIA_TYPE.into());
    framed_case.body = picrypt_api::framed::encode(doc.as_bytes(), &slices);
    Some(framed_case)
}

/// Checks an answer's content type: JSON, except a 200 to a case that asked for a framed
/// answer, which is framed unless its result went to S3 (then there is nothing to frame).
pub fn check_content_type(
    case: &Case,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let framed_type = picrypt_api::framed::MEDIA_TYPE;
    let in_s3 =
        || serde_json::from_slice::<Value>(body).is_ok_and(|v| v["result"]["s3"].is_object());
    let want = if case.accept.is_some() && status == 200 && !in_s3() {
        framed_type
    } else {
        "application/json"
    };
    if content_type != Some(want) {
        return Err(format!("content type {content_type:?}, expected {want}"));
    }
    Ok(())
}

/// The result container of a 200 answer: framed when its content type says so, else JSON
/// with the result inline.
pub fn answer_result(content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    if content_type.is_some_and(picrypt_api::framed::is_media_type) {
        let (_, part) = picrypt_api::DiffResponse::from_framed(body)
            .map_err(|e| format!("framed answer: {e}"))?;
        return Ok(body[part].to_vec());
    }
    inline_result(body)
}

/// The result container of a 200 answer (inline).
pub fn inline_result(body: &[u8]) -> Result<Vec<u8>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("200 body is not JSON: {e}"))?;
    let text = v["result"]["inline"]
        .as_str()
        .ok_or_else(|| format!("no inline result: {v}"))?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("result is not base64: {e}"))
}
