//! Images as PICRYPT handles them, and decrypted ciphertexts.
//!
//! An image is 8-bit samples in row-major HWC order: grayscale (1 channel), grayscale +
//! alpha (2), RGB (3) or RGBA (4). Nothing is converted, so a round trip gives back
//! exactly what went in.

use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::format::{Shape, ValueRange};

/// An 8-bit image as a flat HWC array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    shape: Shape,
    data: Vec<u8>,
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
        Ok(Image { shape, data })
    }

    /// Width, height and channels.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.shape.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.shape.height()
    }

    /// Samples per pixel.
    pub fn channels(&self) -> u8 {
        self.shape.channels()
    }

    /// The samples, HWC.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The samples, HWC, owned.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Refuses two images that cannot be subtracted, saying which dimension differs.
    pub fn check_same_shape(&self, other: &Image) -> Result<()> {
        match self.shape.difference(&other.shape) {
            None => Ok(()),
            Some(d) => Err(Error::ShapeMismatch(format!("the images differ: {d}"))),
        }
    }
}

/// A decrypted ciphertext: one signed value per sample, in HWC order. The values are
/// wiped from memory when it is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plaintext {
    shape: Shape,
    range: ValueRange,
    values: Vec<i16>,
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.values.zeroize();
    }
}

impl Plaintext {
    /// A plaintext of `values` (HWC order) that lie in `range`.
    pub fn new(shape: Shape, range: ValueRange, values: Vec<i16>) -> Result<Plaintext> {
        if values.len() != shape.samples() {
            return Err(Error::Image(format!(
                "{} values for a {shape} image",
                values.len()
            )));
        }
        Ok(Plaintext {
            shape,
            range,
            values,
        })
    }

    /// An image as a plaintext (range `[0, 255]`).
    pub fn of_image(image: &Image) -> Plaintext {
        Plaintext {
            shape: image.shape,
            range: ValueRange::of_samples(8),
            values: image.data.iter().map(|&v| v as i16).collect(),
        }
    }

    /// Width, height and channels.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The range the values are guaranteed to lie in (from the verified header).
    pub fn range(&self) -> ValueRange {
        self.range
    }

    /// The values, HWC.
    pub fn values(&self) -> &[i16] {
        &self.values
    }

    /// Whether this is an image (every value 0..=255) rather than a difference.
    pub fn is_image(&self) -> bool {
        self.range.min() >= 0 && self.range.max() <= 255
    }

    /// The image, when this plaintext is one.
    pub fn to_image(&self) -> Result<Image> {
        if !self.is_image() {
            return Err(Error::Image(format!(
                "values span {}, this is a difference, not an image (render it)",
                self.range
            )));
        }
        Ok(Image {
            shape: self.shape,
            data: self.values.iter().map(|&v| v as u8).collect(),
        })
    }
}
