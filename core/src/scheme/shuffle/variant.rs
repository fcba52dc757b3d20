//! How a legacy permutation is laid over an image, and its encoding in containers and key
//! files.

use crate::error::{Error, Result};

/// How a permutation is laid over the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Variant {
    /// `imageshuffle.Rand(key)`: one permutation over all samples.
    Rand,
    /// `imageshuffle.RandBlock(key, (height, width))`: the same permutation of
    /// a block's samples is applied inside every full block; the samples right
    /// of and below the last full block stay where they are.
    Block {
        /// Block height in pixels.
        height: u32,
        /// Block width in pixels.
        width: u32,
    },
}

/// Size of the encoding: variant (0 Rand, 1 RandBlock), block height, block width.
pub(super) const EXT_LEN: usize = 9;

/// Nine bytes: `0, 0…` for Rand, `1, height u32 LE, width u32 LE` for RandBlock.
#[cfg(feature = "shuffle")]
pub(super) fn encode(variant: Variant) -> [u8; EXT_LEN] {
    let mut out = [0u8; EXT_LEN];
    if let Variant::Block { height, width } = variant {
        out[0] = 1;
        out[1..5].copy_from_slice(&height.to_le_bytes());
        out[5..9].copy_from_slice(&width.to_le_bytes());
    }
    out
}

/// Inverse of [`encode`], refusing anything it would not write.
pub(super) fn decode(bytes: &[u8]) -> Result<Variant> {
    let bad = |m: &str| Error::format(format!("shuffle variant: {m}"));
    let bytes: &[u8; EXT_LEN] = bytes
        .try_into()
        .map_err(|_| bad("extension must be 9 bytes"))?;
    let height = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let width = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
    match bytes[0] {
        0 if height == 0 && width == 0 => Ok(Variant::Rand),
        1 if height > 0 && width > 0 => Ok(Variant::Block { height, width }),
        _ => Err(bad("unknown variant or block size")),
    }
}
