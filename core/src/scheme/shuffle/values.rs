//! Reading a shuffle payload's exact integers.

use crate::error::{Error, Result};
use crate::format::Header;
use crate::packing;

/// The first `samples` values of a payload (or of a chunk of one), decoded into the
/// header's range; refuses values outside it.
pub(super) fn values_in_range(h: &Header, payload: &[u8], samples: usize) -> Result<Vec<i16>> {
    let raw = packing::unpack(payload, h.modulus_bits, samples);
    let mask = (1i32 << h.modulus_bits) - 1;
    let (min, max) = (h.range.min(), h.range.max());
    raw.iter()
        .map(|&v| {
            let d = ((v as i32 - min) & mask) + min;
            if d > max {
                Err(Error::format(format!(
                    "sample {d} outside the declared range {}",
                    h.range
                )))
            } else {
                Ok(d as i16)
            }
        })
        .collect()
}
