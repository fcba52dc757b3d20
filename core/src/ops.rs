//! What the server does: combine two ciphertexts without any key.

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header, Scheme};
use crate::packing;
use crate::scheme::mask;

/// A homomorphic operation on two ciphertexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `a − b`, exact and signed.
    Sub,
}

impl Op {
    pub const ALL: [Op; 1] = [Op::Sub];

    pub fn name(self) -> &'static str {
        match self {
            Op::Sub => "sub",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Checks that two ciphertexts can be combined at all, naming what differs.
pub fn check_compatible(ha: &Header, hb: &Header) -> Result<()> {
    if ha.scheme != hb.scheme {
        return Err(Error::SchemeMismatch(format!(
            "A uses {} and B uses {}",
            ha.scheme, hb.scheme
        )));
    }
    if ha.key_id != hb.key_id {
        return Err(Error::KeyMismatch(format!(
            "A was encrypted under key {} and B under key {}",
            ha.key_id, hb.key_id
        )));
    }
    if let Some(d) = ha.shape.difference(&hb.shape) {
        return Err(Error::ShapeMismatch(format!("A and B differ: {d}")));
    }
    if (ha.sample_bits, ha.modulus_bits) != (hb.sample_bits, hb.modulus_bits) {
        return Err(Error::ShapeMismatch(format!(
            "A has {}-bit samples mod 2^{}, B {}-bit mod 2^{}",
            ha.sample_bits, ha.modulus_bits, hb.sample_bits, hb.modulus_bits
        )));
    }
    if ha.ext != hb.ext {
        return Err(Error::SchemeMismatch(
            "A and B use different scheme parameters".into(),
        ));
    }
    Ok(())
}

/// The header of `op(a, b)`, or why the operation is refused.
pub fn result_header(op: Op, ha: &Header, hb: &Header) -> Result<Header> {
    check_compatible(ha, hb)?;
    match (op, ha.scheme) {
        (Op::Sub, Scheme::Mask) => mask::sub_header(ha, hb),
    }
}

/// Computes the payload of `op(a, b)` into `out` (sized by the result header).
fn compute(op: Op, result: &Header, a: &[u8], b: &[u8], out: &mut [u8]) {
    match (op, result.scheme) {
        (Op::Sub, Scheme::Mask) => packing::sub_packed_into(a, b, result.modulus_bits, out),
    }
}

/// Applies `op` to two parsed ciphertexts.
pub fn apply(op: Op, a: &Container, b: &Container) -> Result<Container> {
    let header = result_header(op, &a.header, &b.header)?;
    let mut payload = vec![0u8; header.payload_len()?];
    compute(op, &header, &a.payload, &b.payload, &mut payload);
    Ok(Container { header, payload })
}

/// Parses two encoded ciphertexts, applies `op` and encodes the result: the whole job of
/// the server, with no copy of the inputs and one allocation for the output. The error
/// names which input was malformed.
pub fn apply_bytes(op: Op, a: &[u8], b: &[u8]) -> Result<Vec<u8>> {
    let a = ContainerRef::parse(a).map_err(|e| in_input("A", e))?;
    let b = ContainerRef::parse(b).map_err(|e| in_input("B", e))?;
    let header = result_header(op, &a.header, &b.header)?;
    let header_bytes = header.to_bytes();
    let mut out = vec![0u8; header_bytes.len() + header.payload_len()?];
    let (head, payload) = out.split_at_mut(header_bytes.len());
    head.copy_from_slice(&header_bytes);
    compute(op, &header, a.payload, b.payload, payload);
    Ok(out)
}

/// Checks that `result` claims to be `op(a, b)` of exactly these inputs (its header is the
/// one [`result_header`] gives). With the mask scheme's tag this proves, after decryption,
/// that the server combined these two ciphertexts and not others.
pub fn check_result_of(op: Op, a: &Header, b: &Header, result: &Header) -> Result<()> {
    let expected = result_header(op, a, b)?;
    if &expected != result {
        return Err(Error::Verification(
            "the result does not claim to be computed from these inputs".into(),
        ));
    }
    Ok(())
}

/// Prefixes a parse error with the input it came from.
pub fn in_input(which: &str, e: Error) -> Error {
    match e {
        Error::Format(m) => Error::Format(format!("{which}: {m}")),
        other => other,
    }
}
