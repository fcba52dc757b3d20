//! One error type for the whole library, with a stable machine-readable code per kind.
//!
//! Messages never contain key bytes: they name fields, sizes and files, nothing secret.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// The bytes are not a well-formed container (truncated, corrupted, inconsistent).
    #[error("malformed container: {0}")]
    Format(String),
    /// A container from a newer or unknown version of the format.
    #[error("unsupported container version {found} (this build reads version {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },
    /// Two ciphertexts, or a ciphertext and a key, belong to different keys.
    #[error("key mismatch: {0}")]
    KeyMismatch(String),
    /// Two ciphertexts, or a ciphertext and a key, use different schemes.
    #[error("scheme mismatch: {0}")]
    SchemeMismatch(String),
    /// Two images or ciphertexts differ in width, height or channel count.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// The result of an operation would not fit the ciphertext modulus.
    #[error("range overflow: {0}")]
    RangeOverflow(String),
    /// The operation is not available for this scheme.
    #[error("unsupported operation: {0}")]
    UnsupportedOp(String),
    /// Decryption found the ciphertext does not match its integrity tag.
    #[error(
        "verification failed: the ciphertext was tampered with, corrupted, or computed on other inputs ({0})"
    )]
    Verification(String),
    /// An image could not be decoded or is of a kind PICRYPT does not handle.
    #[error("image: {0}")]
    Image(String),
    /// A key file is malformed or of the wrong kind.
    #[error("key: {0}")]
    Key(String),
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable: {0}")]
    Random(String),
}

impl Error {
    /// Stable code for programs (the HTTP API reports it as `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Format(_) => "bad_container",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::KeyMismatch(_) => "key_mismatch",
            Error::SchemeMismatch(_) => "scheme_mismatch",
            Error::ShapeMismatch(_) => "shape_mismatch",
            Error::RangeOverflow(_) => "range_overflow",
            Error::UnsupportedOp(_) => "unsupported_op",
            Error::Verification(_) => "verification_failed",
            Error::Image(_) => "bad_image",
            Error::Key(_) => "bad_key",
            Error::Random(_) => "randomness_unavailable",
        }
    }

    pub(crate) fn format(msg: impl Into<String>) -> Self {
        Error::Format(msg.into())
    }
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn os_random(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| Error::Random(e.to_string()))
}
