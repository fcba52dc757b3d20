//! PICRYPT core: compute the difference of two images on a server that never sees them.
//!
//! The library owns everything that matters for security and interoperability: the
//! [`format`] of ciphertext containers, the homomorphic [`scheme`]s, the server-side
//! [`ops`], key files ([`keyfile`]), image decoding ([`image_io`]) and the renders of a
//! decrypted difference ([`render`]). It does no file or network I/O: callers hand it
//! bytes and get bytes back.

pub mod demo;
pub mod error;
pub mod format;
pub mod image_io;
pub mod keyfile;
pub mod ops;
pub mod packing;
pub mod render;
pub mod scheme;
pub mod verify;

pub use error::{Error, Result};
pub use format::{Container, Scheme, Shape, ValueRange};
pub use image_io::Image;
pub use scheme::Plaintext;
