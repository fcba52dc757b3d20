//! What the server does: combine two ciphertexts without any key.

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header, Scheme};
use crate::packing;
use crate::scheme::{bfv, mask, shuffle};

/// A homomorphic operation on two ciphertexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `a − b`, exact and signed.
    Sub,
    /// `max(a − b, 0)` per 8-bit sample, as OpenCV's `cv2.subtract` (shuffle scheme only).
    SubSat,
}

impl Op {
    pub const ALL: [Op; 2] = [Op::Sub, Op::SubSat];

    pub fn name(self) -> &'static str {
        match self {
            Op::Sub => "sub",
            Op::SubSat => "sub_sat",
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
    // Shuffle values are exact integers stored at whatever width holds them; masked values
    // only combine at the same modulus.
    let same_bits = match ha.scheme {
        Scheme::Shuffle => ha.sample_bits == hb.sample_bits,
        _ => (ha.sample_bits, ha.modulus_bits) == (hb.sample_bits, hb.modulus_bits),
    };
    if !same_bits {
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
        (Op::SubSat, Scheme::Mask) => Err(sub_sat_on_mask()),
        (Op::Sub, Scheme::Bfv) => bfv::sub_header(ha, hb),
        (Op::SubSat, Scheme::Bfv) => Err(Error::UnsupportedOp(
            "sub_sat (saturating) cannot be computed on bfv ciphertexts, whose values the server cannot see: use op sub and render the result with --render saturate".into(),
        )),
        (Op::Sub, Scheme::Shuffle) => shuffle::sub_header(ha, hb),
        (Op::SubSat, Scheme::Shuffle) => shuffle::sub_sat_header(ha, hb),
    }
}

fn sub_sat_on_mask() -> Error {
    Error::UnsupportedOp(
        "sub_sat (saturating) cannot be computed on masked samples, whose signs the server cannot see: use op sub and render the result with --render saturate".into(),
    )
}

/// Computes the payload of `op(a, b)` into `out` (sized by the result header).
fn compute(
    op: Op,
    ha: &Header,
    a: &[u8],
    hb: &Header,
    b: &[u8],
    result: &Header,
    out: &mut [u8],
) -> Result<()> {
    match (op, result.scheme) {
        (Op::Sub, Scheme::Mask) => packing::sub_packed_into(a, b, result.modulus_bits, out),
        (Op::Sub, Scheme::Bfv) => bfv::sub_payload(a, b, result, out)?,
        (Op::SubSat, Scheme::Bfv) => return Err(sub_sat_on_mask()),
        (Op::Sub, Scheme::Shuffle) => shuffle::sub_payload(ha, a, hb, b, result, out)?,
        (Op::SubSat, Scheme::Shuffle) => shuffle::sub_sat_payload(a, b, out),
        (Op::SubSat, Scheme::Mask) => return Err(sub_sat_on_mask()),
    }
    Ok(())
}

/// Applies `op` to two parsed ciphertexts.
pub fn apply(op: Op, a: &Container, b: &Container) -> Result<Container> {
    let header = result_header(op, &a.header, &b.header)?;
    let mut payload = vec![0u8; header.payload_len()?];
    compute(
        op,
        &a.header,
        &a.payload,
        &b.header,
        &b.payload,
        &header,
        &mut payload,
    )?;
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
    compute(
        op, &a.header, a.payload, &b.header, b.payload, &header, payload,
    )?;
    Ok(out)
}

/// Checks that a result header is the one [`result_header`] gives for these inputs: the
/// function's check of its own computation before it publishes anything. A client checks
/// a server's result with [`crate::verify::check_result`], which also covers the payload.
pub fn check_result_of(op: Op, a: &Header, b: &Header, result: &Header) -> Result<()> {
    let expected = result_header(op, a, b)?;
    if &expected != result {
        return Err(Error::Verification);
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
