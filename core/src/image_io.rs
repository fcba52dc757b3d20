//! Decoding images into 8-bit sample arrays, encoding PNGs, and NumPy `.npy` arrays.
//!
//! Images stay in the layout they came in: grayscale (1 channel), grayscale + alpha (2),
//! RGB (3) or RGBA (4), 8 bits per sample, row-major HWC. Anything else is refused rather
//! than silently converted, so a round trip gives back exactly what went in.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::format::Shape;

/// An 8-bit image as a flat HWC array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

impl Image {
    /// An image from raw HWC samples, checking that the length matches the shape.
    pub fn new(width: u32, height: u32, channels: u8, data: Vec<u8>) -> Result<Image> {
        let shape = Shape::new(width, height, channels)?;
        if data.len() != shape.samples() {
            return Err(Error::Image(format!(
                "{} samples for a {shape} image",
                data.len()
            )));
        }
        Ok(Image {
            width,
            height,
            channels,
            data,
        })
    }

    pub fn shape(&self) -> Result<Shape> {
        Shape::new(self.width, self.height, self.channels)
    }

    /// Refuses two images that cannot be subtracted, saying which dimension differs.
    pub fn check_same_shape(&self, other: &Image) -> Result<()> {
        match self.shape()?.difference(&other.shape()?) {
            None => Ok(()),
            Some(d) => Err(Error::ShapeMismatch(format!("the images differ: {d}"))),
        }
    }
}

/// Image formats PICRYPT reads.
pub const READABLE_FORMATS: &str = "PNG, JPEG, BMP, TIFF, WebP";

/// Decodes PNG, JPEG, BMP, TIFF or WebP bytes, keeping the channel layout.
pub fn decode(bytes: &[u8]) -> Result<Image> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(e.to_string()))?;
    let format = reader.format().ok_or_else(|| {
        Error::Image(format!(
            "unrecognised image format (PICRYPT reads {READABLE_FORMATS})"
        ))
    })?;
    if !matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::WebP
    ) {
        return Err(Error::Image(format!(
            "{format:?} images are not supported (PICRYPT reads {READABLE_FORMATS})"
        )));
    }
    let mut reader = reader;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| Error::Image(format!("cannot decode {format:?}: {e}")))?;
    let (width, height) = (decoded.width(), decoded.height());
    let (channels, data) = match decoded {
        DynamicImage::ImageLuma8(i) => (1, i.into_raw()),
        DynamicImage::ImageLumaA8(i) => (2, i.into_raw()),
        DynamicImage::ImageRgb8(i) => (3, i.into_raw()),
        DynamicImage::ImageRgba8(i) => (4, i.into_raw()),
        other => {
            return Err(Error::Image(format!(
                "{:?} samples are not supported: PICRYPT handles 8-bit images (convert it to 8 bits per channel first)",
                other.color()
            )))
        }
    };
    Image::new(width, height, channels, data)
}

/// Encodes an image as PNG.
pub fn encode_png(image: &Image) -> Result<Vec<u8>> {
    let color = match image.channels {
        1 => image::ExtendedColorType::L8,
        2 => image::ExtendedColorType::La8,
        3 => image::ExtendedColorType::Rgb8,
        4 => image::ExtendedColorType::Rgba8,
        c => return Err(Error::Image(format!("cannot write {c} channels as PNG"))),
    };
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &image.data,
        image.width,
        image.height,
        color,
    )
    .map_err(|e| Error::Image(e.to_string()))?;
    Ok(out)
}

/// NumPy `.npy` (format 1.0) encoding and decoding for HWC arrays.
pub mod npy {
    use super::*;

    const MAGIC: &[u8] = b"\x93NUMPY\x01\x00";

    fn encode(descr: &str, shape: &Shape, body: &[u8]) -> Vec<u8> {
        let mut dict = format!(
            "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
            shape.height, shape.width, shape.channels
        );
        // Pad with spaces and a newline so the data starts on a 64-byte boundary.
        let unpadded = MAGIC.len() + 2 + dict.len() + 1;
        dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        dict.push('\n');
        let mut out = Vec::with_capacity(MAGIC.len() + 2 + dict.len() + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Signed 16-bit samples (`<i2`), shape (H, W, C).
    pub fn encode_i16(shape: &Shape, values: &[i16]) -> Vec<u8> {
        let body: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        encode("<i2", shape, &body)
    }

    /// Unsigned 8-bit samples (`|u1`), shape (H, W, C).
    pub fn encode_u8(image: &Image) -> Result<Vec<u8>> {
        Ok(encode("|u1", &image.shape()?, &image.data))
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
        let dict =
            std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not text"))?;
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
        Image::new(shape.width, shape.height, shape.channels, body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_keeps_channels() {
        for channels in 1..=4u8 {
            let data: Vec<u8> = (0..5 * 3 * channels as usize)
                .map(|i| (i * 37) as u8)
                .collect();
            let img = Image::new(5, 3, channels, data).unwrap();
            let back = decode(&encode_png(&img).unwrap()).unwrap();
            assert_eq!(back, img);
        }
    }

    #[test]
    fn npy_u8_round_trip() {
        let img = Image::new(7, 2, 3, (0..42).collect()).unwrap();
        let bytes = npy::encode_u8(&img).unwrap();
        assert_eq!((bytes.len() - 42) % 64, 0);
        assert_eq!(npy::decode_u8(&bytes).unwrap(), img);
    }

    #[test]
    fn npy_i16_header() {
        let shape = Shape::new(2, 1, 1).unwrap();
        let bytes = npy::encode_i16(&shape, &[-1, 300]);
        let text = String::from_utf8_lossy(&bytes[10..bytes.len() - 4]);
        assert!(text.contains("'descr': '<i2'"));
        assert!(text.contains("'shape': (1, 2, 1)"));
        assert_eq!(&bytes[bytes.len() - 4..], &[0xff, 0xff, 0x2c, 0x01]);
    }
}
