//! The homomorphic schemes, and what every decrypted result looks like.

pub mod bfv;
pub mod mask;
pub mod shuffle;

use crate::error::{Error, Result};
use crate::format::{Header, Scheme, Shape, ValueRange};
use crate::image_io::Image;
use crate::packing;

/// A decrypted ciphertext: one signed value per sample, in HWC order. The values are
/// wiped from memory when it is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plaintext {
    pub shape: Shape,
    /// The range the values are guaranteed to lie in (from the header).
    pub range: ValueRange,
    pub values: Vec<i16>,
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.values);
    }
}

impl Plaintext {
    /// A plaintext of `values` (HWC order) guaranteed to lie in `range`.
    pub fn new(shape: Shape, range: ValueRange, values: Vec<i16>) -> Plaintext {
        Plaintext {
            shape,
            range,
            values,
        }
    }

    /// Whether this is an image (every value 0..=255) rather than a difference.
    pub fn is_image(&self) -> bool {
        self.range.min >= 0 && self.range.max <= 255
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
            width: self.shape.width,
            height: self.shape.height,
            channels: self.shape.channels,
            data: self.values.iter().map(|&v| v as u8).collect(),
        })
    }
}

/// Scheme-specific header rules, run by [`Header::parse`].
pub(crate) fn validate_header(h: &Header) -> Result<()> {
    match h.scheme {
        Scheme::Mask => mask::validate_header(h),
        Scheme::Bfv => bfv::validate_header(h),
        Scheme::Shuffle => shuffle::validate_header(h),
    }
}

/// Scheme-specific payload rules, run by [`crate::Container::parse`].
pub(crate) fn validate_payload(h: &Header, payload: &[u8]) -> Result<()> {
    match h.scheme {
        Scheme::Mask | Scheme::Shuffle => {
            if !packing::padding_is_zero(payload, h.modulus_bits, h.shape.samples()) {
                return Err(Error::format("nonzero padding bits after the last sample"));
            }
            Ok(())
        }
        // Coefficients are range-checked when the payload is unpacked for an operation.
        Scheme::Bfv => Ok(()),
    }
}

/// Encrypts an image under a key of any secure scheme. A legacy shuffle key is refused:
/// its ciphertexts can be broken (docs/SECURITY.md), so using one must be a decision
/// ([`encrypt_insecure_legacy`]), not the effect of a key file someone handed over.
pub fn encrypt(key: &crate::keyfile::Key, image: &Image) -> Result<crate::Container> {
    if let crate::keyfile::Key::Shuffle(_) = key {
        return Err(Error::InsecureScheme(format!(
            "this is a legacy shuffle key, and {}",
            shuffle::WARNING
        )));
    }
    encrypt_insecure_legacy(key, image)
}

/// Encrypts an image under a key of any scheme, the insecure legacy shuffle scheme
/// included. Only for compatibility with imageshuffle deployments.
pub fn encrypt_insecure_legacy(
    key: &crate::keyfile::Key,
    image: &Image,
) -> Result<crate::Container> {
    match key {
        crate::keyfile::Key::Mask(k) => mask::encrypt(k, image),
        crate::keyfile::Key::Shuffle(k) => shuffle::encrypt(k, image),
        crate::keyfile::Key::Bfv(k) => bfv::encrypt_image(k, image),
    }
}

/// Decrypts a ciphertext, verifying what the scheme itself can (mask: the tag and the
/// range; bfv: the range and the zero padding; shuffle: the range), but not what it is
/// supposed to be: [`crate::verify::decrypt`] checks that.
pub(crate) fn decrypt_raw(key: &crate::keyfile::Key, c: &crate::Container) -> Result<Plaintext> {
    if key.scheme() != c.header.scheme {
        return Err(Error::SchemeMismatch(format!(
            "the key is for {}, the ciphertext uses {}",
            key.scheme(),
            c.header.scheme
        )));
    }
    match key {
        crate::keyfile::Key::Mask(k) => mask::decrypt(k, c),
        crate::keyfile::Key::Shuffle(k) => shuffle::decrypt(k, c),
        crate::keyfile::Key::Bfv(k) => bfv::decrypt_container(k, c),
    }
}
