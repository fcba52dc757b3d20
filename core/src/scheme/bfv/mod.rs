//! Public-key BFV encryption of 8-bit samples (via fhe.rs): devices holding only the
//! public key encrypt, a server with no key subtracts, the key holder decrypts.
//!
//! This module has the container rules and the server's subtraction, which need no
//! lattice library: a ciphertext is two polynomials whose coefficients (mod q0) are
//! packed at 23 bits, and subtracting ciphertexts is subtracting coefficients mod q0.
//! Keys, encryption and decryption are in [`lattice`] (the `bfv` feature).
//!
//! bfv has no integrity tag, so nothing here is trusted on decryption; see
//! [`crate::verify`] and docs/SECURITY.md.

mod coeffs;
#[cfg(feature = "bfv")]
mod lattice;

use coeffs::{pack, unpack, CHUNK_BYTES, DEGREE, MODULUS_BITS, PARAMS_ID, POLY_BYTES, Q0};

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header, KeyId, Scheme, ValueRange};
use crate::op::Op;
#[allow(unused_imports)]
use crate::par::*;
use crate::scheme::interface::{ComputeUnit, Expect, Integrity, KeyKind, KeyMaterial, SchemeImpl};

impl Scheme {
    /// Public-key lattice encryption (BFV): devices encrypt with the public key.
    pub const BFV: Scheme = Scheme::from_id(2);
}

/// The bfv scheme in the table of schemes.
pub(super) struct Bfv;
pub(super) static BFV: Bfv = Bfv;

impl SchemeImpl for Bfv {
    fn scheme(&self) -> Scheme {
        Scheme::BFV
    }

    fn name(&self) -> &'static str {
        "bfv"
    }

    fn summary(&self) -> &'static str {
        "public-key lattice encryption (BFV): writes KEY (secret) and KEY.pub (encrypt only)"
    }

    fn integrity(&self) -> Integrity {
        Integrity::Recompute
    }

    fn validate_header(&self, h: &Header) -> Result<()> {
        if !h.terms.is_empty() || h.tag.is_some() {
            return Err(Error::format("bfv ciphertexts carry no terms and no tag"));
        }
        if h.ext != [PARAMS_ID] {
            return Err(Error::format(format!(
                "bfv parameter set {:02x?} (this build has {PARAMS_ID:#04x})",
                h.ext
            )));
        }
        if h.modulus_bits != MODULUS_BITS {
            return Err(Error::format("bfv ciphertexts have plaintext modulus 2^9"));
        }
        Ok(())
    }

    fn payload_len(&self, h: &Header) -> Option<u64> {
        Some((h.shape.samples().div_ceil(DEGREE) * CHUNK_BYTES) as u64)
    }

    fn validate_payload_end(&self, _h: &Header, _end: &[u8], _samples: usize) -> Result<()> {
        // Coefficients are range-checked when the payload is unpacked for an operation.
        Ok(())
    }

    /// Only ranges that t = 512 represents (one subtraction of two images), which is
    /// also what the noise analysis covers.
    fn result_header(&self, op: Op, a: &Header, b: &Header) -> Result<Header> {
        if op != Op::Sub {
            return Err(Error::UnsupportedOp(
                "sub_sat (saturating) cannot be computed on bfv ciphertexts, whose values the server cannot see: use op sub and render the result with --render saturate".into(),
            ));
        }
        let (min, max) = a.range.minus(&b.range);
        let range = ValueRange::fitting(min, max, MODULUS_BITS).ok_or_else(|| {
            Error::RangeOverflow(format!(
                "{} − {} spans [{min}, {max}], more than the plaintext modulus 512 holds; subtract fresh ciphertexts",
                a.range, b.range
            ))
        })?;
        Ok(Header { range, ..a.clone() })
    }

    /// Coefficient-wise `(a − b) mod q0` of both polynomials of every ciphertext: what
    /// fhe's ciphertext subtraction computes, without a key or the lattice library.
    /// A ciphertext of `DEGREE` samples (c0 and c1).
    fn compute_unit(&self, _a: &Header, _b: &Header, _result: &Header) -> ComputeUnit {
        ComputeUnit {
            samples: DEGREE,
            a_bytes: CHUNK_BYTES,
            b_bytes: CHUNK_BYTES,
            out_bytes: CHUNK_BYTES,
        }
    }

    fn compute(
        &self,
        _op: Op,
        a: &ContainerRef<'_>,
        b: &ContainerRef<'_>,
        _result: &Header,
        _samples: usize,
        out: &mut [u8],
    ) -> Result<()> {
        let results: Vec<std::result::Result<(), &'static str>> = out
            .par_chunks_mut(POLY_BYTES)
            .zip(a.payload.par_chunks(POLY_BYTES))
            .zip(b.payload.par_chunks(POLY_BYTES))
            .map(|((dst, pa), pb)| {
                let ca = unpack(pa).ok_or("A")?;
                let cb = unpack(pb).ok_or("B")?;
                let d: Vec<u64> = ca
                    .iter()
                    .zip(&cb)
                    .map(|(&x, &y)| if x >= y { x - y } else { x + Q0 - y })
                    .collect();
                pack(&d, dst);
                Ok(())
            })
            .collect();
        // Name the malformed operand, A when both are, as parse errors do.
        let bad = |which| results.contains(&Err(which));
        match (bad("A"), bad("B")) {
            (false, false) => Ok(()),
            (a_bad, _) => Err(Error::format(format!(
                "{}: ciphertext coefficient out of range",
                if a_bad { "A" } else { "B" }
            ))),
        }
    }

    fn is_expected(&self, h: &Header, expect: Expect) -> bool {
        h.range
            == match expect {
                Expect::Image => ValueRange::of_samples(h.sample_bits),
                Expect::Difference => ValueRange::of_differences(h.sample_bits),
            }
    }

    #[cfg(feature = "bfv")]
    fn generate_key(&self) -> Result<Box<dyn KeyMaterial>> {
        Ok(Box::new(lattice::BfvKeys::generate()))
    }

    #[cfg(feature = "bfv")]
    fn parse_key(&self, kind: KeyKind, id: KeyId, body: &[u8]) -> Result<Box<dyn KeyMaterial>> {
        let keys = lattice::BfvKeys::from_body(body, kind == KeyKind::Secret)?;
        if keys.id() != id {
            return Err(Error::Key(
                "key id does not match the key material (the file is damaged)".into(),
            ));
        }
        Ok(Box::new(keys))
    }

    #[cfg(not(feature = "bfv"))]
    fn generate_key(&self) -> Result<Box<dyn KeyMaterial>> {
        Err(not_built())
    }

    #[cfg(not(feature = "bfv"))]
    fn parse_key(&self, _: KeyKind, _: KeyId, _: &[u8]) -> Result<Box<dyn KeyMaterial>> {
        Err(not_built())
    }

    /// The payload is polynomial coefficients rather than samples: its first bytes.
    fn preview(&self, c: &Container) -> Vec<u8> {
        c.payload[..c.header.shape.samples()].to_vec()
    }
}

#[cfg(not(feature = "bfv"))]
fn not_built() -> Error {
    Error::NotBuilt("bfv keys need picrypt-core's `bfv` feature".into())
}
