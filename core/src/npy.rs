//! NumPy `.npy` (format 1.0) encoding and decoding for HWC arrays: the exact difference
//! for scripts (`<i2`), and images as imageshuffle reads and writes them (`|u1`).

use crate::error::{Error, Result};
use crate::format::Shape;
use crate::image::Image;

const MAGIC: &[u8] = b"\x93NUMPY\x01\x00";

/// The header of an array of `descr` values of shape (H, W, C): the data follows it,
/// starting on a 64-byte boundary.
fn header(descr: &str, shape: &Shape) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
        shape.height(),
        shape.width(),
        shape.channels()
    );
    // Pad with spaces and a newline so the data starts on a 64-byte boundary.
    let unpadded = MAGIC.len() + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

fn encode(descr: &str, shape: &Shape, body: &[u8]) -> Vec<u8> {
    let mut out = header(descr, shape);
    out.reserve_exact(body.len());
    out.extend_from_slice(body);
    out
}

/// The header of a signed 16-bit array of shape (H, W, C) (`<i2`), for a writer that
/// streams the values after it, two little-endian bytes each, in HWC order.
pub fn header_i16(shape: &Shape) -> Vec<u8> {
    header("<i2", shape)
}

/// The header of an unsigned 8-bit array of shape (H, W, C) (`|u1`), for a writer that
/// streams the samples after it.
pub fn header_u8(shape: &Shape) -> Vec<u8> {
    header("|u1", shape)
}

/// Signed 16-bit samples (`<i2`), shape (H, W, C).
pub fn encode_i16(shape: &Shape, values: &[i16]) -> Vec<u8> {
    let body: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    encode("<i2", shape, &body)
}

/// Unsigned 8-bit samples (`|u1`), shape (H, W, C).
pub fn encode_u8(image: &Image) -> Vec<u8> {
    encode("|u1", &image.shape(), image.data())
}

/// Reads a C-order uint8 array of shape (H, W) or (H, W, C) as an image.
pub fn decode_u8(bytes: &[u8]) -> Result<Image> {
    let bad = |m: &str| Error::Image(format!("not a uint8 .npy image: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing .npy magic"));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
        _ => return Err(bad("unsupported .npy version")),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("truncated header"))?;
    let dict = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not text"))?;
    let field = |name: &str| -> Option<&str> {
        let at = dict.find(&format!("'{name}'"))? + name.len() + 2;
        let rest = dict[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or_else(|| bad("no descr"))?;
    if !(descr.starts_with("'|u1'") || descr.starts_with("'<u1'")) {
        return Err(bad("dtype is not uint8"));
    }
    let fortran = field("fortran_order").ok_or_else(|| bad("no fortran_order"))?;
    if !fortran.starts_with("False") {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let shape_text = field("shape").ok_or_else(|| bad("no shape"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("malformed shape"))?;
    let dims: Vec<u64> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().map_err(|_| bad("malformed shape")))
        .collect::<Result<_>>()?;
    let (h, w, c) = match dims[..] {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => return Err(bad("shape must be (H, W) or (H, W, C)")),
    };
    if h > u32::MAX as u64 || w > u32::MAX as u64 || !(1..=4).contains(&c) {
        return Err(bad("unsupported dimensions"));
    }
    let shape = Shape::new(w as u32, h as u32, c as u8)?;
    let body = &bytes[end..];
    if body.len() != shape.samples() {
        return Err(bad(&format!(
            "{} data bytes for shape ({h}, {w}, {c})",
            body.len()
        )));
    }
    Image::new(
        shape.width(),
        shape.height(),
        shape.channels(),
        body.to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u8_round_trip() {
        let img = Image::new(7, 2, 3, (0..42).collect()).unwrap();
        let bytes = encode_u8(&img);
        assert_eq!((bytes.len() - 42) % 64, 0);
        assert_eq!(decode_u8(&bytes).unwrap(), img);
    }

    #[test]
    fn i16_header() {
        let shape = Shape::new(2, 1, 1).unwrap();
        let bytes = encode_i16(&shape, &[-1, 300]);
        let text = String::from_utf8_lossy(&bytes[10..bytes.len() - 4]);
        assert!(text.contains("'descr': '<i2'"));
        assert!(text.contains("'shape': (1, 2, 1)"));
        assert_eq!(&bytes[bytes.len() - 4..], &[0xff, 0xff, 0x2c, 0x01]);
    }
}
