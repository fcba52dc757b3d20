//! One error type for the whole library, with a stable machine-readable code per kind.
//!
//! Messages never contain key bytes: they name fields, sizes and files, nothing secret.

use thiserror::Error;

/// A result whose error is PICRYPT's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library. [`Error::code`] gives a stable name per
/// kind; messages name fields, sizes and files, never key bytes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed container (truncated, corrupted, inconsistent).
    #[error("malformed container: {0}")]
    Format(String),
    /// A container from a newer or unknown version of the format.
    #[error("unsupported container version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the container.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
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
    /// A ciphertext is not what the caller asked for: its integrity tag does not verify,
    /// a value lies outside its range, its terms are not those of the expected operation,
    /// or a server's result is not the operation applied to the inputs sent. Deliberately
    /// one error with one message, so that which check failed is never an oracle.
    #[error(
        "verification failed: the ciphertext was tampered with, corrupted, or is not the result of the expected inputs"
    )]
    Verification,
    /// The ciphertext cannot be tied to inputs the caller checked, and its scheme has no
    /// integrity tag to prove where it came from (bfv): decrypting it could reveal the key.
    #[error("unverifiable ciphertext: {0}")]
    Unverifiable(String),
    /// The operation would use the same ciphertext twice where two are needed.
    #[error("same input: {0}")]
    SameInput(String),
    /// The key belongs to a scheme that is not secure, and the caller did not opt in.
    #[error("insecure scheme: {0}")]
    InsecureScheme(String),
    /// An image could not be decoded or is of a kind PICRYPT does not handle.
    #[error("image: {0}")]
    Image(String),
    /// A key file is malformed or of the wrong kind.
    #[error("key: {0}")]
    Key(String),
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable: {0}")]
    Random(String),
    /// This build leaves out what is needed (a cargo feature of picrypt-core is off).
    #[error("not in this build: {0}")]
    NotBuilt(String),
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
            Error::Verification => "verification_failed",
            Error::Unverifiable(_) => "unverifiable",
            Error::SameInput(_) => "same_input",
            Error::InsecureScheme(_) => "insecure_scheme",
            Error::Image(_) => "bad_image",
            Error::Key(_) => "bad_key",
            Error::Random(_) => "randomness_unavailable",
            Error::NotBuilt(_) => "not_built",
        }
    }

    pub(crate) fn format(msg: impl Into<String>) -> Self {
        Error::Format(msg.into())
    }

    /// Prefixes a malformed-container error with the input it came from (`A` or `B`).
    pub fn in_input(self, which: &str) -> Error {
        match self {
            Error::Format(m) => Error::Format(format!("{which}: {m}")),
            other => other,
        }
    }
}
