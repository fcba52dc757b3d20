//! Decoding image files into [`Image`]s and encoding PNGs, with the `image` crate. Only
//! the codecs whose cargo features are on are linked: `png` and `jpeg` (what a browser
//! build needs), and `images` for BMP, TIFF and WebP besides.
//!
//! Images stay in the layout they came in (gray, gray + alpha, RGB, RGBA; 8 bits per
//! sample); anything else is refused rather than silently converted.

use std::io::{BufRead, Cursor, Seek};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::format::MAX_SAMPLES;
use crate::image::Image;

/// The image formats this build decodes, for messages.
pub fn readable_formats() -> String {
    FORMATS
        .iter()
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

const FORMATS: &[(ImageFormat, &str)] = &[
    #[cfg(feature = "png")]
    (ImageFormat::Png, "PNG"),
    #[cfg(feature = "jpeg")]
    (ImageFormat::Jpeg, "JPEG"),
    #[cfg(feature = "images")]
    (ImageFormat::Bmp, "BMP"),
    #[cfg(feature = "images")]
    (ImageFormat::Tiff, "TIFF"),
    #[cfg(feature = "images")]
    (ImageFormat::WebP, "WebP"),
];

/// Largest allocation a decoder may make: a 2^28-sample image at 8 bits is 256 MiB, and
/// decoders work with some slack.
const MAX_DECODE_ALLOC: u64 = 1 << 30;

/// Decodes an image file of any format this build reads, keeping the channel layout and
/// applying its EXIF orientation (so a phone photo is the right way up).
pub fn decode(bytes: &[u8]) -> Result<Image> {
    Ok(decode_oriented(bytes)?.0)
}

/// An image file's EXIF orientation, as applied by [`decode_oriented`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Orientation {
    /// As stored (no EXIF orientation, or "top-left").
    AsStored,
    /// Rotated by this many degrees clockwise, then mirrored left-right when `flipped`.
    Turned {
        /// 0, 90, 180 or 270.
        degrees: u16,
        /// Whether the image was also mirrored.
        flipped: bool,
    },
}

impl std::fmt::Display for Orientation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Orientation::AsStored => f.write_str("as stored"),
            Orientation::Turned { degrees, flipped } => {
                write!(f, "turned {degrees}°")?;
                if *flipped {
                    f.write_str(" and mirrored")?;
                }
                Ok(())
            }
        }
    }
}

fn orientation_of(o: image::metadata::Orientation) -> Orientation {
    use image::metadata::Orientation as O;
    let (degrees, flipped) = match o {
        O::NoTransforms => return Orientation::AsStored,
        O::Rotate90 => (90, false),
        O::Rotate180 => (180, false),
        O::Rotate270 => (270, false),
        O::FlipHorizontal => (0, true),
        O::FlipVertical => (180, true),
        O::Rotate90FlipH => (90, true),
        O::Rotate270FlipH => (270, true),
    };
    Orientation::Turned { degrees, flipped }
}

/// [`decode`], also saying which EXIF orientation was applied.
///
/// The dimensions in the file's header are checked against the container's limit of
/// 2^28 samples before any pixel is decoded, so a file claiming an enormous image is
/// refused at once, with the limit in the message.
pub fn decode_oriented(bytes: &[u8]) -> Result<(Image, Orientation)> {
    decode_oriented_from(Cursor::new(bytes))
}

/// [`decode_oriented`] from a reader (a file), so that the file's bytes need not be
/// held beside the decoded image.
pub fn decode_oriented_from<R: BufRead + Seek>(reader: R) -> Result<(Image, Orientation)> {
    let (mut decoder, format) = open_decoder(reader)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder)
        .map_err(|e| Error::Image(format!("cannot decode {format:?}: {e}")))?;
    decoded.apply_orientation(orientation);
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
    Ok((
        Image::new(width, height, channels, data)?,
        orientation_of(orientation),
    ))
}

/// How many samples (width × height × channels) an image file decodes to, from its
/// header alone: what a caller needs to choose how to handle it before decoding it.
pub fn samples_in<R: BufRead + Seek>(reader: R) -> Result<u64> {
    let (decoder, _) = open_decoder(reader)?;
    let (width, height) = decoder.dimensions();
    Ok(width as u64 * height as u64 * decoder.color_type().channel_count() as u64)
}

/// A decoder for a file in a format this build reads, its dimensions checked against
/// the container's limit before any pixel is decoded.
fn open_decoder<'a, R: BufRead + Seek + 'a>(
    reader: R,
) -> Result<(impl ImageDecoder + 'a, ImageFormat)> {
    let reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|e| Error::Image(e.to_string()))?;
    let format = reader.format().ok_or_else(|| {
        Error::Image(format!(
            "unrecognised image format (PICRYPT reads {})",
            readable_formats()
        ))
    })?;
    if !FORMATS.iter().any(|(f, _)| *f == format) {
        return Err(Error::Image(format!(
            "{format:?} images are not supported (PICRYPT reads {})",
            readable_formats()
        )));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = reader;
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| Error::Image(format!("cannot decode {format:?}: {e}")))?;
    let (width, height) = decoder.dimensions();
    let channels = decoder.color_type().channel_count() as u64;
    let samples = width as u64 * height as u64 * channels;
    if samples > MAX_SAMPLES {
        return Err(Error::Image(format!(
            "a {width}×{height} image with {channels} channels is {samples} samples, over PICRYPT's limit of 2^28 = {MAX_SAMPLES} (for example 9459×9459 RGB): crop or downscale it"
        )));
    }
    Ok((decoder, format))
}

/// Encodes an image as PNG.
#[cfg(feature = "png")]
pub fn encode_png(image: &Image) -> Result<Vec<u8>> {
    let color = match image.channels() {
        1 => image::ExtendedColorType::L8,
        2 => image::ExtendedColorType::La8,
        3 => image::ExtendedColorType::Rgb8,
        _ => image::ExtendedColorType::Rgba8,
    };
    let mut out = Vec::new();
    // Fast deflate: renders and previews are written on every run, and at demo size the
    // default level costs more than the subtraction; the file stays a valid, compressed
    // PNG (a difference render is mostly flat and shrinks well either way).
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    image::ImageEncoder::write_image(encoder, image.data(), image.width(), image.height(), color)
        .map_err(|e| Error::Image(e.to_string()))?;
    Ok(out)
}

#[cfg(all(test, feature = "png"))]
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
}
