//! The legacy scheme (NOT secure): bit-exact with the Python library imageshuffle 0.2.2,
//! so people with images and keys from the earlier Python version can read, write and
//! subtract them. The server sees every pixel value; only positions are permuted
//! (docs/SECURITY.md).
//!
//! This module has the container rules and the server's operations (exact integers, so
//! they need no key). Keys and the permutation itself are behind the `shuffle` feature;
//! [`permutation`] is the algorithm, public for checking it against the library.

#[cfg(feature = "shuffle")]
mod key;
#[cfg(feature = "shuffle")]
pub mod permutation;
mod values;
mod variant;

pub use variant::Variant;

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header, KeyId, Scheme, ValueRange};
use crate::op::Op;
use crate::packing;
use crate::scheme::interface::{ComputeUnit, Expect, Integrity, KeyKind, KeyMaterial, SchemeImpl};
use values::values_in_range;

impl Scheme {
    /// The legacy imageshuffle permutation: compatibility only, NOT secure.
    pub const SHUFFLE: Scheme = Scheme::from_id(3);
}

/// Said once by every tool that touches this scheme.
pub const WARNING: &str = "the shuffle scheme exists only for compatibility with the Python library imageshuffle and is NOT secure: the server sees every pixel value (only their positions are permuted) and can recover the key (see docs/SECURITY.md)";

/// The shuffle scheme in the table of schemes.
pub(super) struct Shuffle;
pub(super) static SHUFFLE: Shuffle = Shuffle;

impl SchemeImpl for Shuffle {
    fn scheme(&self) -> Scheme {
        Scheme::SHUFFLE
    }

    fn name(&self) -> &'static str {
        "shuffle"
    }

    fn summary(&self) -> &'static str {
        "legacy imageshuffle permutation: compatibility only, NOT secure"
    }

    fn integrity(&self) -> Integrity {
        Integrity::Insecure
    }

    fn validate_header(&self, h: &Header) -> Result<()> {
        if !h.terms.is_empty() || h.tag.is_some() {
            return Err(Error::format(
                "shuffle ciphertexts carry no terms and no tag",
            ));
        }
        variant::decode(&h.ext)?;
        Ok(())
    }

    fn payload_len(&self, h: &Header) -> Option<u64> {
        Some(crate::format::packed_len(h.shape.samples(), h.modulus_bits) as u64)
    }

    fn validate_payload_end(&self, h: &Header, end: &[u8], samples: usize) -> Result<()> {
        if !packing::padding_is_zero(end, h.modulus_bits, samples) {
            return Err(Error::format("nonzero padding bits after the last sample"));
        }
        Ok(())
    }

    /// Values are exact integers stored at whatever width holds them.
    fn same_bits(&self, a: &Header, b: &Header) -> bool {
        a.sample_bits == b.sample_bits
    }

    fn result_header(&self, op: Op, a: &Header, b: &Header) -> Result<Header> {
        match op {
            // Exact signed values, stored at the fewest bits that hold them.
            Op::Sub => {
                let (min, max) = a.range.minus(&b.range);
                let (bits, range) = (9..=16u8)
                    .find_map(|k| ValueRange::fitting(min, max, k).map(|r| (k, r)))
                    .ok_or_else(|| {
                        Error::RangeOverflow(format!(
                            "{} − {} spans [{min}, {max}], more than 16 bits",
                            a.range, b.range
                        ))
                    })?;
                let mut h = Header {
                    modulus_bits: bits,
                    range,
                    ..a.clone()
                };
                h.payload_len = self.payload_len(&h).expect("always some");
                Ok(h)
            }
            // The saturating max(a − b, 0), which only 8-bit images have.
            Op::SubSat => {
                let eight_bit =
                    |h: &Header| h.modulus_bits == 8 && h.range.min() >= 0 && h.range.max() <= 255;
                if !eight_bit(a) || !eight_bit(b) {
                    return Err(Error::UnsupportedOp(
                        "sub_sat (saturating, as cv2.subtract) needs two 8-bit scrambled images, not differences".into(),
                    ));
                }
                Ok(Header {
                    range: ValueRange::of_samples(8),
                    ..a.clone()
                })
            }
        }
    }

    fn compute_unit(&self, a: &Header, b: &Header, result: &Header) -> ComputeUnit {
        ComputeUnit::packed(a.modulus_bits, b.modulus_bits, result.modulus_bits)
    }

    fn compute(
        &self,
        op: Op,
        a: &ContainerRef<'_>,
        b: &ContainerRef<'_>,
        result: &Header,
        samples: usize,
        out: &mut [u8],
    ) -> Result<()> {
        match op {
            Op::Sub => {
                let va =
                    values_in_range(&a.header, a.payload, samples).map_err(|e| e.in_input("A"))?;
                let vb =
                    values_in_range(&b.header, b.payload, samples).map_err(|e| e.in_input("B"))?;
                let mask = (1i32 << result.modulus_bits) - 1;
                let d: Vec<u16> = va
                    .iter()
                    .zip(&vb)
                    .map(|(&x, &y)| ((x as i32 - y as i32) & mask) as u16)
                    .collect();
                packing::pack_into(&d, result.modulus_bits, out);
            }
            Op::SubSat => {
                for ((o, &x), &y) in out.iter_mut().zip(a.payload).zip(b.payload) {
                    *o = x.saturating_sub(y);
                }
            }
        }
        Ok(())
    }

    /// Chained subtractions give exact integers at up to 16 bits and there is no
    /// integrity to protect: any range other than an image's is a difference.
    fn is_expected(&self, h: &Header, expect: Expect) -> bool {
        let image = h.range == ValueRange::of_samples(h.sample_bits);
        match expect {
            Expect::Image => image,
            Expect::Difference => !image,
        }
    }

    #[cfg(feature = "shuffle")]
    fn generate_key(&self) -> Result<Box<dyn KeyMaterial>> {
        Ok(Box::new(key::ShuffleKey::generate(Variant::Rand)?))
    }

    #[cfg(feature = "shuffle")]
    fn parse_key(&self, kind: KeyKind, id: KeyId, body: &[u8]) -> Result<Box<dyn KeyMaterial>> {
        if kind != KeyKind::Secret {
            return Err(Error::Key("shuffle keys are secret keys only".into()));
        }
        Ok(Box::new(key::ShuffleKey::from_body(body, id)?))
    }

    #[cfg(not(feature = "shuffle"))]
    fn generate_key(&self) -> Result<Box<dyn KeyMaterial>> {
        Err(not_built())
    }

    #[cfg(not(feature = "shuffle"))]
    fn parse_key(&self, _: KeyKind, _: KeyId, _: &[u8]) -> Result<Box<dyn KeyMaterial>> {
        Err(not_built())
    }

    fn preview(&self, c: &Container) -> Vec<u8> {
        let h = &c.header;
        let shift = h.modulus_bits - 8;
        packing::unpack(&c.payload, h.modulus_bits, h.shape.samples())
            .into_iter()
            .map(|v| (v >> shift) as u8)
            .collect()
    }
}

#[cfg(not(feature = "shuffle"))]
fn not_built() -> Error {
    Error::NotBuilt("shuffle keys need picrypt-core's `shuffle` feature".into())
}
