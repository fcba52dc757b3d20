//! Tying a ciphertext to what the caller expects it to be, and only then decrypting it.
//!
//! Whoever computes or stores a ciphertext is an adversary: the function, the bucket, the
//! sender of a file. Decryption therefore never starts from what a container says about
//! itself. The caller states what it expects — a fresh image, the difference of two fresh
//! ciphertexts, or the result of an operation on two inputs it holds ([`check_result`]) —
//! and anything else is refused with the one generic [`Error::Verification`], so which
//! check failed is never an oracle.
//!
//! What each scheme can prove differs (docs/SECURITY.md):
//! * mask: the tag proves the plaintext is `Σ ±x(N)` over the container's terms, where
//!   `x(N)` is what was honestly encrypted under nonce `N`; the expectation pins the terms
//!   (`{+N}` for an image, `{+N₁, −N₂}` for a difference, exactly `{+nonce(A), −nonce(B)}`
//!   for a checked result).
//! * bfv has no tag (anyone with the public key encrypts), so a result is accepted only
//!   when it is byte for byte the subtraction recomputed from inputs the caller holds; a
//!   container that cannot be tied to such inputs is refused ([`Error::Unverifiable`])
//!   unless the caller explicitly trusts its source ([`decrypt_trusting_source`]).
//! * shuffle (legacy) has no integrity; results are recomputed like bfv's.

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header, Scheme, ValueRange};
use crate::hex;
use crate::image::Plaintext;
use crate::ops::{self, Op};
use crate::scheme::{self, Integrity, Key};

pub use crate::scheme::Expect;

impl Expect {
    /// What a header claims to be: an image when its range is that of fresh samples, a
    /// difference otherwise. A claim only: [`decrypt`] still checks everything else.
    pub fn claimed_by(h: &Header) -> Expect {
        if h.range == ValueRange::of_samples(h.sample_bits) {
            Expect::Image
        } else {
            Expect::Difference
        }
    }
}

/// How a checked result names one of its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputId {
    short: String,
}

impl InputId {
    /// The nonce for schemes with terms (what a mask result's terms name), else the first
    /// bytes of the container's BLAKE3 digest: only then is the whole input hashed.
    fn of(bytes: &[u8], header: &Header) -> InputId {
        let short = match header.terms.as_slice() {
            [t] => format!("nonce {}", hex::encode(&t.nonce()[..8])),
            _ => format!(
                "digest {}",
                hex::encode(&blake3::hash(bytes).as_bytes()[..8])
            ),
        };
        InputId { short }
    }

    /// Short, human-readable name of the input.
    pub fn short(&self) -> &str {
        &self.short
    }
}

/// A result container checked against the two inputs it claims to be computed from:
/// its header is exactly the one the operation gives for them and, for schemes without
/// an integrity tag, its payload is exactly the one recomputed here. Only a checked
/// result decrypts as a result ([`CheckedResult::decrypt`]).
#[derive(Clone, Debug)]
pub struct CheckedResult {
    op: Op,
    result: Container,
    inputs: [InputId; 2],
}

impl CheckedResult {
    /// The operation the result was checked to be.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The checked container.
    pub fn container(&self) -> &Container {
        &self.result
    }

    /// The checked container, owned.
    pub fn into_container(self) -> Container {
        self.result
    }

    /// The two inputs, A then B.
    pub fn inputs(&self) -> &[InputId; 2] {
        &self.inputs
    }

    /// One line saying what the result was checked to be, e.g.
    /// `A − B of A (nonce 1a2b…) and B (nonce 3c4d…): terms checked, …`.
    pub fn describe(&self) -> String {
        self.describe_as("A", "B")
    }

    /// [`CheckedResult::describe`], calling the inputs `a` and `b`.
    pub fn describe_as(&self, a: &str, b: &str) -> String {
        let [ia, ib] = &self.inputs;
        let what = self.op.formula(a, b);
        let how = if has_tag(self.result.header.scheme) {
            "terms checked, tag verified on decryption"
        } else {
            "recomputed from the inputs and identical"
        };
        format!(
            "{what} of {a} ({}) and {b} ({}): {how}",
            ia.short(),
            ib.short()
        )
    }

    /// Decrypts the checked result (the tag, for mask, is verified here).
    pub fn decrypt(&self, key: &Key) -> Result<Plaintext> {
        check_key(key, &self.result.header)?;
        key.decrypt_unchecked(&self.result)
    }
}

/// Whether a scheme's containers carry an integrity tag that decryption verifies.
fn has_tag(scheme: Scheme) -> bool {
    scheme.integrity() == Integrity::Tag
}

/// Checks that `result` is `op(a, b)` of exactly these two encoded inputs. The inputs
/// are the caller's own (it encrypted or holds them), so their errors are reported as
/// they are, naming A or B; anything wrong with the result is [`Error::Verification`].
pub fn check_result(op: Op, a: &[u8], b: &[u8], result: &[u8]) -> Result<CheckedResult> {
    let (header, at, inputs) = check(op, a, b, result)?;
    let payload = result[at..].to_vec();
    Ok(CheckedResult {
        op,
        result: Container { header, payload },
        inputs,
    })
}

/// [`check_result`] of a result the caller owns: the checked container keeps its
/// allocation (the header is dropped from the front in place) instead of a copy.
pub fn check_result_owned(
    op: Op,
    a: &[u8],
    b: &[u8],
    mut result: Vec<u8>,
) -> Result<CheckedResult> {
    let (header, at, inputs) = check(op, a, b, &result)?;
    result.drain(..at);
    Ok(CheckedResult {
        op,
        result: Container {
            header,
            payload: result,
        },
        inputs,
    })
}

/// The checks of [`check_result`]: the result's header, where its payload starts, and
/// what names the inputs.
fn check(op: Op, a: &[u8], b: &[u8], result: &[u8]) -> Result<(Header, usize, [InputId; 2])> {
    let ca = ContainerRef::parse(a).map_err(|e| e.in_input("A"))?;
    let cb = ContainerRef::parse(b).map_err(|e| e.in_input("B"))?;
    let expected = ops::result_header(op, &ca.header, &cb.header)?;
    let cr = ContainerRef::parse(result).map_err(|e| refuse("the result does not parse", &e))?;
    if cr.header != expected {
        return Err(refuse(
            "the result's header is not the one the operation gives for these inputs",
            &"",
        ));
    }
    if !has_tag(expected.scheme) {
        let recomputed = ops::apply_bytes(op, a, b)?;
        if recomputed != result {
            return Err(refuse(
                "the result's payload differs from the one recomputed from the inputs",
                &"",
            ));
        }
    }
    let inputs = [InputId::of(a, &ca.header), InputId::of(b, &cb.header)];
    let at = result.len() - cr.payload.len();
    Ok((cr.header, at, inputs))
}

/// [`check_result`] for whichever operation the result's header names (the operations
/// give different headers, so at most one can match).
pub fn identify_result(a: &[u8], b: &[u8], result: &[u8]) -> Result<CheckedResult> {
    let mut first_error = None;
    for op in Op::ALL {
        match check_result(op, a, b, result) {
            Ok(checked) => return Ok(checked),
            // An operation the inputs do not support says nothing about the result.
            Err(Error::UnsupportedOp(_)) => continue,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(Error::Verification))
}

/// Logs why a result was refused (at debug level: the caller sees one generic error).
fn refuse(why: &str, detail: &dyn std::fmt::Display) -> Error {
    tracing::debug!(why, %detail, "result refused");
    Error::Verification
}

/// Decrypts a container that is expected to be `expect`, refusing anything else.
///
/// bfv containers are always refused here ([`Error::Unverifiable`]): nothing ties them to
/// an honest encryption. Decrypt bfv results through [`check_result`], or, for a source
/// trusted completely, with [`decrypt_trusting_source`].
pub fn decrypt(key: &Key, c: &Container, expect: Expect) -> Result<Plaintext> {
    if c.header.scheme.integrity() == Integrity::Recompute {
        check_key(key, &c.header)?;
        return Err(Error::Unverifiable(
            "bfv ciphertexts carry no integrity tag, and this one is not tied to inputs that were checked: a crafted ciphertext would make its decryption reveal the secret key".into(),
        ));
    }
    decrypt_trusting_source(key, c, expect)
}

/// [`decrypt`] without refusing bfv containers that are not tied to checked inputs. Use
/// it only for ciphertexts from a source trusted completely (made on this machine, or by
/// a device over a channel no one else can write to): for bfv, a crafted ciphertext makes
/// the output reveal the secret key, and accept or reject reveals it bit by bit. The
/// expectation and every check a scheme has still apply.
pub fn decrypt_trusting_source(key: &Key, c: &Container, expect: Expect) -> Result<Plaintext> {
    check_key(key, &c.header)?;
    if !scheme::known(c.header.scheme)?.is_expected(&c.header, expect) {
        tracing::debug!(?expect, "the container is not what was expected");
        return Err(Error::Verification);
    }
    key.decrypt_unchecked(c)
}

/// Scheme, key id and kind of key first: they are public, and their errors say which key
/// to use.
fn check_key(key: &Key, h: &Header) -> Result<()> {
    if !key.is_secret() {
        return Err(Error::Key(
            "this is a public key: it encrypts but cannot decrypt; use the secret key file (KEY, not KEY.pub)".into(),
        ));
    }
    if key.scheme() != h.scheme {
        return Err(Error::SchemeMismatch(format!(
            "the key is for {}, the ciphertext uses {}",
            key.scheme(),
            h.scheme
        )));
    }
    if key.id() != h.key_id {
        return Err(Error::KeyMismatch(format!(
            "the ciphertext was made with key {}, this key is {}",
            h.key_id,
            key.id()
        )));
    }
    Ok(())
}

/// One line for what [`decrypt`] checked of a container it accepted as `expect`.
pub fn describe(h: &Header, expect: Expect) -> String {
    let nonce = |i: usize| {
        h.terms
            .get(i)
            .map(|t| hex::encode(&t.nonce()[..8]))
            .unwrap_or_default()
    };
    match (h.scheme.integrity(), expect) {
        (Integrity::Tag, Expect::Image) => {
            format!("image encrypted under nonce {}, tag verified", nonce(0))
        }
        (Integrity::Tag, _) => format!(
            "difference of the ciphertexts with nonces {} (A) and {} (B), tag verified",
            nonce(0),
            nonce(1)
        ),
        (Integrity::Recompute, _) => format!(
            "{} ciphertext NOT verified: decrypted because its source is trusted",
            h.scheme
        ),
        (_, Expect::Image) => "image (no integrity check: legacy scheme)".to_string(),
        (_, _) => "difference (no integrity check: legacy scheme)".to_string(),
    }
}
