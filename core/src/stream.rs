//! Encrypting and decrypting images too large to hold twice: samples in, payload out (or
//! payload in, values out), a chunk at a time, in any chunking, with the same bytes and
//! the same decisions as the whole-buffer [`Key::encrypt`] and [`crate::verify::decrypt`].
//!
//! * An [`Encryptor`] ([`Key::encryptor`]) takes an image's samples in order and emits the
//!   payload as it goes; the header comes last, because its tag covers every sample. The
//!   header leads the container and its length is known from the start
//!   ([`Encryptor::header_len`]), so a file writer reserves it and writes it last, and a
//!   multipart upload sends its first part last.
//! * A [`Decryptor`] ([`crate::verify::decryptor`], or
//!   [`crate::verify::StreamedCheck::decryptor`] for a result) takes a payload in order and
//!   emits values that are **not yet verified**: only [`Decryptor::finish`] makes the one
//!   constant-time decision over every sample (tag and range for mask). Nothing it emitted
//!   may be shown or published before `finish` succeeded: write it to temporary files and
//!   rename them only then.
//!
//! The mask scheme does both. bfv encrypts a chunk at a time too (its blocks of 2048
//! samples are independent ciphertexts) but decrypts whole payloads only: a bfv result is
//! decrypted only once it was checked whole against its inputs, and the function's object
//! limit keeps bfv payloads to a few hundred MB. The legacy shuffle scheme does neither:
//! its permutation spans the whole image.

use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::format::{Header, Shape};
use crate::scheme::Key;
use crate::scheme::{DecryptStream, EncryptStream};

impl Key {
    /// Starts a fresh encryption of an image of `shape`, fed its samples in order (HWC,
    /// as [`crate::Image::data`]). Refused for the legacy shuffle key, as
    /// [`Key::encrypt`] refuses it, and for any scheme that encrypts whole images only.
    pub fn encryptor(&self, shape: Shape) -> Result<Encryptor> {
        if let Some(warning) = self.scheme().warning() {
            return Err(Error::InsecureScheme(format!(
                "this is a legacy {} key, and {warning}",
                self.scheme()
            )));
        }
        let inner = self.0.encryptor(shape).ok_or_else(|| {
            Error::UnsupportedOp(format!("{} keys encrypt whole images only", self.scheme()))
        })??;
        Ok(Encryptor { inner })
    }

    /// Whether [`Key::encryptor`] can encrypt images of this key a chunk at a time.
    pub fn encrypts_in_chunks(&self) -> bool {
        self.scheme().warning().is_none() && self.0.encrypts_in_chunks()
    }

    /// Whether containers of this key can be decrypted a chunk at a time
    /// ([`crate::verify::decryptor`], [`crate::verify::StreamedCheck::decryptor`]).
    pub fn decrypts_in_chunks(&self) -> bool {
        self.is_secret() && self.0.decrypts_in_chunks()
    }
}

/// A fresh encryption of one image, fed its samples in order. The bytes are exactly those
/// of [`Key::encrypt`] with the same randomness, whatever the chunking.
pub struct Encryptor {
    inner: Box<dyn EncryptStream>,
}

impl Encryptor {
    /// An encryptor around a scheme's stream (known-answer tests choose the nonce).
    #[cfg(feature = "kat")]
    pub(crate) fn from_stream(inner: Box<dyn EncryptStream>) -> Encryptor {
        Encryptor { inner }
    }

    /// Length of the encoded header, which leads the container: known before any sample.
    pub fn header_len(&self) -> usize {
        self.inner.header().encoded_len()
    }

    /// Length of the payload that follows the header.
    pub fn payload_len(&self) -> u64 {
        self.inner.header().payload_len()
    }

    /// The shape being encrypted.
    pub fn shape(&self) -> Shape {
        self.inner.header().shape()
    }

    /// Encrypts the next samples and appends the payload bytes they complete (some
    /// samples may wait for the next call: the scheme works in whole blocks).
    pub fn update(&mut self, samples: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.inner.update(samples, out)
    }

    /// Encrypts the last samples, appends the rest of the payload, and returns the
    /// header. Refuses an image that was fed more or fewer samples than its shape has.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<Header> {
        self.inner.finish(out)
    }
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encryptor {{ shape: {} }}", self.shape())
    }
}

/// A decryption of one container's payload fed in order. What [`Decryptor::update`]
/// emits is unverified until [`Decryptor::finish`] succeeds; see the [module](self).
pub struct Decryptor {
    inner: Box<dyn DecryptStream>,
    header: Header,
}

impl Decryptor {
    /// The decryptor of `header`'s payload under `key`, when its scheme has one. The
    /// caller ([`crate::verify`]) has tied the header to what it expects.
    pub(crate) fn new(key: &Key, header: &Header) -> Result<Decryptor> {
        let inner = key.0.decryptor(header).ok_or_else(|| {
            Error::UnsupportedOp(format!(
                "{} ciphertexts are decrypted whole, not a chunk at a time",
                header.scheme()
            ))
        })??;
        Ok(Decryptor {
            inner,
            header: header.clone(),
        })
    }

    /// The header of the container being decrypted.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Decrypts the next payload bytes and appends the values they complete, in HWC
    /// order. **Unverified** until [`Decryptor::finish`] succeeds.
    pub fn update(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()> {
        self.inner.update(payload, out)
    }

    /// Decrypts the rest, appends the last values, and decides once, in constant time,
    /// over every sample: [`Error::Verification`] for any failure (the tag, a value out
    /// of range, a payload that is not the length the header declares). On failure
    /// `out` is wiped; what earlier calls emitted the caller must discard.
    pub fn finish(self, out: &mut Vec<i16>) -> Result<()> {
        let decided = self.inner.finish(out);
        if decided.is_err() {
            out.zeroize();
        }
        decided
    }
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decryptor {{ shape: {} }}", self.header.shape())
    }
}
