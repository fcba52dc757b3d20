//! Decoding image files into [`Image`]s and encoding PNGs, with the `image` crate. Only
//! the codecs whose cargo features are on are linked: `png` and `jpeg` (what a browser
//! build needs), and `images` for BMP, TIFF and WebP besides.
//!
//! Images stay in the layout they came in (gray, gray + alpha, RGB, RGBA; 8 bits per
//! sample); anything else is refused rather than silently converted.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};

use crate::error::{Error, Result};
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

/// Decodes an image file of any format this build reads, keeping the channel layout.
pub fn decode(bytes: &[u8]) -> Result<Image> {
    let reader = ImageReader::new(Cursor::new(bytes))
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
#[cfg(feature = "png")]
pub fn encode_png(image: &Image) -> Result<Vec<u8>> {
    let color = match image.channels() {
        1 => image::ExtendedColorType::L8,
        2 => image::ExtendedColorType::La8,
        3 => image::ExtendedColorType::Rgb8,
        _ => image::ExtendedColorType::Rgba8,
    };
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        image.data(),
        image.width(),
        image.height(),
        color,
    )
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
