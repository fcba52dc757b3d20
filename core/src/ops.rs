//! What the server does: combine two ciphertexts without any key.

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header};
pub use crate::op::Op;
use crate::scheme;

/// Checks that two ciphertexts can be combined at all, naming what differs.
pub fn check_compatible(a: &Header, b: &Header) -> Result<()> {
    if a.scheme != b.scheme {
        return Err(Error::SchemeMismatch(format!(
            "A uses {} and B uses {}",
            a.scheme, b.scheme
        )));
    }
    if a.key_id != b.key_id {
        return Err(Error::KeyMismatch(format!(
            "A was encrypted under key {} and B under key {}",
            a.key_id, b.key_id
        )));
    }
    if let Some(d) = a.shape.difference(&b.shape) {
        return Err(Error::ShapeMismatch(format!("A and B differ: {d}")));
    }
    if !scheme::known(a.scheme)?.same_bits(a, b) {
        return Err(Error::ShapeMismatch(format!(
            "A has {}-bit samples mod 2^{}, B {}-bit mod 2^{}",
            a.sample_bits, a.modulus_bits, b.sample_bits, b.modulus_bits
        )));
    }
    if a.ext != b.ext {
        return Err(Error::SchemeMismatch(
            "A and B use different scheme parameters".into(),
        ));
    }
    Ok(())
}

/// The header of `op(a, b)`, or why the operation is refused.
pub fn result_header(op: Op, a: &Header, b: &Header) -> Result<Header> {
    check_compatible(a, b)?;
    scheme::known(a.scheme)?.result_header(op, a, b)
}

/// Applies `op` to two parsed ciphertexts.
pub fn apply(op: Op, a: &Container, b: &Container) -> Result<Container> {
    let a = ContainerRef {
        header: a.header.clone(),
        payload: &a.payload,
    };
    let b = ContainerRef {
        header: b.header.clone(),
        payload: &b.payload,
    };
    let header = result_header(op, &a.header, &b.header)?;
    let mut payload = vec![0u8; header.payload_len as usize];
    scheme::known(header.scheme)?.compute(op, &a, &b, &header, &mut payload)?;
    Ok(Container { header, payload })
}

/// Computes the payload of `op(a, b)` into `out`, a buffer the caller reuses (it must
/// be exactly [`Header::payload_len`] of the returned header), and returns the result's
/// header.
pub fn apply_into(
    op: Op,
    a: &ContainerRef<'_>,
    b: &ContainerRef<'_>,
    out: &mut [u8],
) -> Result<Header> {
    let header = result_header(op, &a.header, &b.header)?;
    if out.len() as u64 != header.payload_len {
        return Err(Error::format(format!(
            "output buffer of {} bytes for a {}-byte payload",
            out.len(),
            header.payload_len
        )));
    }
    scheme::known(header.scheme)?.compute(op, a, b, &header, out)?;
    Ok(header)
}

/// Parses two encoded ciphertexts, applies `op` and encodes the result: the whole job of
/// the server, with no copy of the inputs and one allocation for the output. The error
/// names which input was malformed.
pub fn apply_bytes(op: Op, a: &[u8], b: &[u8]) -> Result<Vec<u8>> {
    let a = ContainerRef::parse(a).map_err(|e| e.in_input("A"))?;
    let b = ContainerRef::parse(b).map_err(|e| e.in_input("B"))?;
    let header = result_header(op, &a.header, &b.header)?;
    let header_bytes = header.to_bytes();
    let mut out = vec![0u8; header_bytes.len() + header.payload_len as usize];
    let (head, payload) = out.split_at_mut(header_bytes.len());
    head.copy_from_slice(&header_bytes);
    scheme::known(header.scheme)?.compute(op, &a, &b, &header, payload)?;
    Ok(out)
}

/// Checks that a result header is the one [`result_header`] gives for these inputs: the
/// function's check of its own computation before it publishes anything. A client checks
/// a server's result with [`crate::verify::check_result`], which also covers the payload.
pub fn check_result_of(op: Op, a: &Header, b: &Header, result: &Header) -> Result<()> {
    if &result_header(op, a, b)? != result {
        return Err(Error::Verification);
    }
    Ok(())
}
