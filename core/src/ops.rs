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
    let samples = header.shape.samples();
    scheme::known(header.scheme)?.compute(op, &a, &b, &header, samples, &mut payload)?;
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
    scheme::known(header.scheme)?.compute(op, a, b, &header, header.shape.samples(), out)?;
    Ok(header)
}

/// Parses two encoded ciphertexts, applies `op` and encodes the result: the whole job of
/// the server, with no copy of the inputs and one allocation for the output. The error
/// names which input was malformed.
pub fn apply_bytes(op: Op, a: &[u8], b: &[u8]) -> Result<Vec<u8>> {
    apply_bytes_with(op, a, b, Vec::with_capacity)
}

/// [`apply_bytes`] into a buffer from `buffer(n)`, an empty `Vec` of capacity at least `n`,
/// the result's length: for a caller that keeps its buffers from one call to the next.
pub fn apply_bytes_with(
    op: Op,
    a: &[u8],
    b: &[u8],
    buffer: impl FnOnce(usize) -> Vec<u8>,
) -> Result<Vec<u8>> {
    let a = ContainerRef::parse(a).map_err(|e| e.in_input("A"))?;
    let b = ContainerRef::parse(b).map_err(|e| e.in_input("B"))?;
    let header = result_header(op, &a.header, &b.header)?;
    let header_bytes = header.to_bytes();
    let size = header_bytes.len() + header.payload_len as usize;
    let mut out = buffer(size);
    out.clear();
    out.resize(size, 0);
    let (head, payload) = out.split_at_mut(header_bytes.len());
    head.copy_from_slice(&header_bytes);
    scheme::known(header.scheme)?.compute(op, &a, &b, &header, header.shape.samples(), payload)?;
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

/// `op(a, b)` a chunk at a time, for payloads too large to hold whole (the function
/// streams S3 objects through it). Headers first ([`Chunked::new`]), then the payloads
/// in order as equal runs of samples ([`Chunked::next`]), then [`Chunked::finish`]. Every
/// rule [`apply_bytes`] applies to whole payloads applies to the chunks, the end's rules
/// to the last one; the caller publishes the result only after `finish` succeeded.
pub struct Chunked {
    op: Op,
    a: Header,
    b: Header,
    result: Header,
    scheme: &'static dyn scheme::SchemeImpl,
    unit: scheme::ComputeUnit,
    /// Samples computed so far.
    done: usize,
}

/// The lengths of the next chunk of each payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLens {
    /// Samples the chunk holds.
    pub samples: usize,
    /// Bytes of A's payload.
    pub a: usize,
    /// Bytes of B's payload.
    pub b: usize,
    /// Bytes of the result's payload.
    pub out: usize,
}

impl Chunked {
    /// Starts `op(a, b)` from the two headers alone (parsed with [`Header::parse`]).
    pub fn new(op: Op, a: Header, b: Header) -> Result<Chunked> {
        let result = result_header(op, &a, &b)?;
        let scheme = scheme::known(result.scheme)?;
        let unit = scheme.compute_unit(&a, &b, &result);
        Ok(Chunked {
            op,
            a,
            b,
            result,
            scheme,
            unit,
            done: 0,
        })
    }

    /// The result's header: it leads the result, before any payload is computed.
    pub fn result_header(&self) -> &Header {
        &self.result
    }

    /// The next chunk's lengths: whole units of about `target_bytes` of A (at least one
    /// unit), or what is left; all zero once every sample is done.
    pub fn next_lens(&self, target_bytes: usize) -> ChunkLens {
        let units = (target_bytes / self.unit.a_bytes).max(1);
        let left = self.result.shape.samples() - self.done;
        self.lens_for((units * self.unit.samples).min(left))
    }

    /// The lengths of the next `samples` samples: whole units, or the rest.
    fn lens_for(&self, samples: usize) -> ChunkLens {
        let last = self.done + samples == self.result.shape.samples();
        let bytes = |unit_bytes: usize, payload_len: u64| {
            if last {
                payload_len as usize - self.done / self.unit.samples * unit_bytes
            } else {
                samples / self.unit.samples * unit_bytes
            }
        };
        ChunkLens {
            samples,
            a: bytes(self.unit.a_bytes, self.a.payload_len),
            b: bytes(self.unit.b_bytes, self.b.payload_len),
            out: bytes(self.unit.out_bytes, self.result.payload_len),
        }
    }

    /// Computes the result's bytes of the next `lens.samples` samples into `out`: whole
    /// units, or the rest, as [`Chunked::next_lens`] gives them, with `a`, `b` and `out`
    /// exactly the lengths it gave. The errors name the input at fault as [`apply_bytes`]
    /// does.
    pub fn next(&mut self, lens: ChunkLens, a: &[u8], b: &[u8], out: &mut [u8]) -> Result<()> {
        self.check_lens(lens, (a.len(), b.len(), out.len()))?;
        let last = self.done + lens.samples == self.result.shape.samples();
        if last {
            self.scheme
                .validate_payload_end(&self.a, a, lens.samples)
                .map_err(|e| e.in_input("A"))?;
            self.scheme
                .validate_payload_end(&self.b, b, lens.samples)
                .map_err(|e| e.in_input("B"))?;
        }
        let a = ContainerRef {
            header: self.a.clone(),
            payload: a,
        };
        let b = ContainerRef {
            header: self.b.clone(),
            payload: b,
        };
        self.scheme
            .compute(self.op, &a, &b, &self.result, lens.samples, out)?;
        self.done += lens.samples;
        Ok(())
    }

    /// Moves past the next `lens.samples` samples without computing them: for a client
    /// that checks a result whose integrity its tag proves, and needs only the chunks'
    /// lengths (`verify::StreamedCheck`).
    pub(crate) fn skip(&mut self, lens: ChunkLens) -> Result<()> {
        self.check_lens(lens, (lens.a, lens.b, lens.out))?;
        self.done += lens.samples;
        Ok(())
    }

    /// Whether the result's chunk of `lens` ends the payload.
    pub(crate) fn ends_with(&self, lens: ChunkLens) -> bool {
        self.done + lens.samples == self.result.shape.samples()
    }

    /// Refuses lengths other than those [`Chunked::next_lens`] would give here, or
    /// buffers (`a`, `b`, `out`) of other lengths than they say.
    fn check_lens(&self, lens: ChunkLens, (a, b, out): (usize, usize, usize)) -> Result<()> {
        let left = self.result.shape.samples() - self.done;
        let whole = lens.samples % self.unit.samples == 0;
        if lens.samples == 0
            || lens.samples > left
            || !(whole || lens.samples == left)
            || lens != self.lens_for(lens.samples)
            || (a, b, out) != (lens.a, lens.b, lens.out)
        {
            return Err(Error::format(format!(
                "a chunk of {a}, {b} and {out} bytes where {:?} was due",
                self.lens_for(lens.samples.min(left))
            )));
        }
        Ok(())
    }

    /// Whether every sample has been computed.
    pub fn is_done(&self) -> bool {
        self.done == self.result.shape.samples()
    }

    /// Ends the computation: every sample computed, the result header still the one the
    /// operation gives (the check the function makes before it publishes).
    pub fn finish(self) -> Result<Header> {
        if !self.is_done() {
            return Err(Error::format(format!(
                "the payloads ended after {} of {} samples",
                self.done,
                self.result.shape.samples()
            )));
        }
        check_result_of(self.op, &self.a, &self.b, &self.result)?;
        Ok(self.result)
    }
}
