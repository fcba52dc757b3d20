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
use crate::stream::Decryptor;

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
        match InputId::of_nonce(header) {
            Some(id) => id,
            None => InputId::of_digest(&blake3::hash(bytes)),
        }
    }

    /// The nonce of a container with one term, which names it.
    fn of_nonce(header: &Header) -> Option<InputId> {
        match header.terms.as_slice() {
            [t] => Some(InputId {
                short: format!("nonce {}", hex::encode(&t.nonce()[..8])),
            }),
            _ => None,
        }
    }

    fn of_digest(digest: &blake3::Hash) -> InputId {
        InputId {
            short: format!("digest {}", hex::encode(&digest.as_bytes()[..8])),
        }
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
        describe_checked(self.op, self.result.header.scheme, &self.inputs, a, b)
    }

    /// Decrypts the checked result (the tag, for mask, is verified here).
    pub fn decrypt(&self, key: &Key) -> Result<Plaintext> {
        check_key(key, &self.result.header)?;
        key.decrypt_unchecked(&self.result)
    }
}

/// One line saying what a result was checked to be.
fn describe_checked(op: Op, scheme: Scheme, [ia, ib]: &[InputId; 2], a: &str, b: &str) -> String {
    let what = op.formula(a, b);
    let how = if has_tag(scheme) {
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

/// [`check_result`] for results too large to hold, with the same refusals and the same
/// one generic error: the two inputs' headers first ([`StreamedCheck::new`]), then the
/// result's header ([`StreamedCheck::check_header`]), then the result's payload in chunks
/// of the lengths [`StreamedCheck::next_lens`] gives ([`StreamedCheck::next`]), then
/// [`StreamedCheck::finish`]. For a scheme with a tag (mask) the header against the
/// inputs' is the whole check, and decryption ([`StreamedCheck::decryptor`]) verifies the
/// tag; for the others (bfv, shuffle) each chunk is recomputed from the inputs' chunks the
/// caller hands over alongside ([`StreamedCheck::needs_inputs`]) and must be identical.
/// Nothing is accepted until `finish` succeeded.
pub struct StreamedCheck {
    op: Op,
    chunked: ops::Chunked,
    inputs: [Header; 2],
    /// Digests of the inputs, for schemes whose inputs are named by one.
    digests: Option<Box<[blake3::Hasher; 2]>>,
    recompute: bool,
    header_checked: bool,
    /// The recomputed chunk, reused.
    scratch: Vec<u8>,
    /// The digest of the checked payload, for a scheme without a tag: what is handed
    /// back to [`StreamedResult::decrypt`] must be what was checked.
    checked_payload: Option<blake3::Hasher>,
    /// Where each input's payload starts.
    payload_starts: [usize; 2],
}

impl StreamedCheck {
    /// Starts checking `op(a, b)` from the start of each input (its header, at least).
    /// The inputs are the caller's own: their errors name A or B, as [`check_result`]'s.
    pub fn new(op: Op, a: &[u8], b: &[u8]) -> Result<StreamedCheck> {
        let (ha, la) = Header::parse(a).map_err(|e| e.in_input("A"))?;
        let (hb, lb) = Header::parse(b).map_err(|e| e.in_input("B"))?;
        let chunked = ops::Chunked::new(op, ha.clone(), hb.clone())?;
        let recompute = !has_tag(ha.scheme);
        let named_by_digest = InputId::of_nonce(&ha).is_none() || InputId::of_nonce(&hb).is_none();
        let digests = named_by_digest.then(|| {
            let mut hashers = Box::new([blake3::Hasher::new(), blake3::Hasher::new()]);
            hashers[0].update(&a[..la]);
            hashers[1].update(&b[..lb]);
            hashers
        });
        Ok(StreamedCheck {
            op,
            chunked,
            inputs: [ha, hb],
            digests,
            recompute,
            header_checked: false,
            scratch: Vec::new(),
            checked_payload: recompute.then(blake3::Hasher::new),
            payload_starts: [la, lb],
        })
    }

    /// Where A's and B's payloads start (their headers' lengths).
    pub fn payload_starts(&self) -> [usize; 2] {
        self.payload_starts
    }

    /// The header the result must have: the one the operation gives for these inputs.
    pub fn result_header(&self) -> &Header {
        self.chunked.result_header()
    }

    /// The length the encoded result must have.
    pub fn result_len(&self) -> u64 {
        let h = self.result_header();
        h.encoded_len() as u64 + h.payload_len()
    }

    /// Whether [`StreamedCheck::next`] needs the inputs' chunks (a scheme without a tag,
    /// whose result is recomputed, or inputs named by their digest); otherwise it takes
    /// empty slices for them.
    pub fn needs_inputs(&self) -> bool {
        self.recompute || self.digests.is_some()
    }

    /// Checks the result's header, from the start of the result (at least
    /// [`Header::encoded_len`] of [`StreamedCheck::result_header`] bytes); returns its
    /// length, where the payload starts.
    pub fn check_header(&mut self, result: &[u8]) -> Result<usize> {
        let (header, len) =
            Header::parse(result).map_err(|e| refuse("the result's header does not parse", &e))?;
        if &header != self.result_header() {
            return Err(refuse(
                "the result's header is not the one the operation gives for these inputs",
                &"",
            ));
        }
        self.header_checked = true;
        Ok(len)
    }

    /// The next chunk's lengths: about `target_bytes` of A, whole units; all zero once
    /// the payloads are done.
    pub fn next_lens(&self, target_bytes: usize) -> ops::ChunkLens {
        self.chunked.next_lens(target_bytes)
    }

    /// Whether every chunk has been checked.
    pub fn is_done(&self) -> bool {
        self.chunked.is_done()
    }

    /// Checks the result's next chunk: `result` holds `lens.out` bytes of its payload, `a`
    /// and `b` the inputs' `lens.a` and `lens.b` bytes when [`StreamedCheck::needs_inputs`]
    /// (else they are ignored). Errors in the inputs name them; anything wrong with the
    /// result is [`Error::Verification`].
    pub fn next(&mut self, lens: ops::ChunkLens, a: &[u8], b: &[u8], result: &[u8]) -> Result<()> {
        if !self.header_checked {
            return Err(refuse("a payload chunk before the header was checked", &""));
        }
        if result.len() != lens.out {
            return Err(refuse(
                "the result's chunk is not the length due",
                &result.len(),
            ));
        }
        if let Some(digests) = self.digests.as_mut() {
            digests[0].update(a);
            digests[1].update(b);
        }
        let last = self.chunked.ends_with(lens);
        if self.recompute {
            self.scratch.resize(lens.out, 0);
            self.chunked.next(lens, a, b, &mut self.scratch)?;
            if self.scratch != result {
                return Err(refuse(
                    "the result's payload differs from the one recomputed from the inputs",
                    &"",
                ));
            }
        } else {
            self.chunked.skip(lens)?;
            let header = self.chunked.result_header();
            if last {
                scheme::known(header.scheme)?
                    .validate_payload_end(header, result, lens.samples)
                    .map_err(|e| refuse("the result's payload does not end as it must", &e))?;
            }
        }
        if let Some(digest) = self.checked_payload.as_mut() {
            digest.update(result);
        }
        Ok(())
    }

    /// A decryptor for the result's payload, for a scheme whose tag the decryption
    /// verifies: fed the same chunks as [`StreamedCheck::next`], it emits values that are
    /// unverified until both its own `finish` and [`StreamedCheck::finish`] succeeded.
    /// Refused for schemes without a tag: their results are decrypted only once checked
    /// whole ([`StreamedResult`]).
    pub fn decryptor(&self, key: &Key) -> Result<Decryptor> {
        let header = self.result_header();
        check_key(key, header)?;
        if !has_tag(header.scheme) || !self.header_checked {
            return Err(Error::Unverifiable(format!(
                "{} results are decrypted only once they were checked whole against their inputs",
                header.scheme
            )));
        }
        Decryptor::new(key, header)
    }

    /// Ends the check: every chunk checked, the header the operation gives.
    pub fn finish(self) -> Result<StreamedResult> {
        if !self.header_checked {
            return Err(refuse("the result's header was never checked", &""));
        }
        let op_header = self
            .chunked
            .finish()
            .map_err(|e| refuse("the result's payload is incomplete", &e))?;
        let [ha, hb] = &self.inputs;
        let inputs = match self.digests {
            Some(digests) => {
                let [da, db] = *digests;
                [
                    InputId::of_nonce(ha).unwrap_or_else(|| InputId::of_digest(&da.finalize())),
                    InputId::of_nonce(hb).unwrap_or_else(|| InputId::of_digest(&db.finalize())),
                ]
            }
            None => [
                InputId::of_nonce(ha).expect("named by nonce"),
                InputId::of_nonce(hb).expect("named by nonce"),
            ],
        };
        Ok(StreamedResult {
            op: self.op,
            header: op_header,
            inputs,
            checked_payload: self.checked_payload.map(|d| d.finalize()),
        })
    }
}

/// A result checked in chunks by [`StreamedCheck`]: what [`CheckedResult`] says of a
/// whole one, without its payload (the caller wrote it where it belongs).
#[derive(Clone, Debug)]
pub struct StreamedResult {
    op: Op,
    header: Header,
    inputs: [InputId; 2],
    checked_payload: Option<blake3::Hash>,
}

impl StreamedResult {
    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The two inputs, A then B.
    pub fn inputs(&self) -> &[InputId; 2] {
        &self.inputs
    }

    /// One line saying what the result was checked to be (see [`CheckedResult::describe`]).
    pub fn describe(&self) -> String {
        self.describe_as("A", "B")
    }

    /// [`StreamedResult::describe`], calling the inputs `a` and `b`.
    pub fn describe_as(&self, a: &str, b: &str) -> String {
        describe_checked(self.op, self.header.scheme, &self.inputs, a, b)
    }

    /// The operation the result was checked to be.
    pub fn op(&self) -> Op {
        self.op
    }

    /// Decrypts the checked result's whole payload, handed back by the caller (who wrote
    /// it somewhere while it was checked): for schemes decrypted whole. For a scheme
    /// without a tag the payload must be, byte for byte, the one checked (its digest was
    /// kept); for mask the tag decides, as for any container.
    pub fn decrypt(&self, key: &Key, payload: Vec<u8>) -> Result<Plaintext> {
        check_key(key, &self.header)?;
        let same = match &self.checked_payload {
            Some(digest) => blake3::hash(&payload) == *digest,
            None => payload.len() as u64 == self.header.payload_len(),
        };
        if !same {
            return Err(refuse("not the payload that was checked", &""));
        }
        key.decrypt_unchecked(&Container {
            header: self.header.clone(),
            payload,
        })
    }
}

/// Decrypts a container that is expected to be `expect`, refusing anything else.
///
/// bfv containers are always refused here ([`Error::Unverifiable`]): nothing ties them to
/// an honest encryption. Decrypt bfv results through [`check_result`], or, for a source
/// trusted completely, with [`decrypt_trusting_source`].
pub fn decrypt(key: &Key, c: &Container, expect: Expect) -> Result<Plaintext> {
    refuse_untied(key, &c.header)?;
    decrypt_trusting_source(key, c, expect)
}

/// [`decrypt`] a chunk at a time, for containers too large to hold: what the header says
/// is refused here already, the rest at [`Decryptor::finish`]. Only for schemes with a
/// streaming decryptor (mask).
pub fn decryptor(key: &Key, header: &Header, expect: Expect) -> Result<Decryptor> {
    refuse_untied(key, header)?;
    check_key(key, header)?;
    if !scheme::known(header.scheme)?.is_expected(header, expect) {
        tracing::debug!(?expect, "the container is not what was expected");
        return Err(Error::Verification);
    }
    Decryptor::new(key, header)
}

/// Refuses a container of a scheme without a tag: nothing ties it to an honest encryption.
fn refuse_untied(key: &Key, h: &Header) -> Result<()> {
    if h.scheme.integrity() == Integrity::Recompute {
        check_key(key, h)?;
        return Err(Error::Unverifiable(
            "bfv ciphertexts carry no integrity tag, and this one is not tied to inputs that were checked: a crafted ciphertext would make its decryption reveal the secret key".into(),
        ));
    }
    Ok(())
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
