//! PICRYPT core: compute the difference of two images on a server that never sees them,
//! and check that the server computed it.
//!
//! The library owns everything that matters for security and interoperability: the
//! [`format`](mod@format) of ciphertext containers, the homomorphic schemes behind one table
//! ([`scheme`]), what a server does without a key ([`ops`]), what a client checks before
//! it decrypts anything ([`verify`]), key files ([`keyfile`]), and — with their features —
//! image decoding ([`image_io`]) and the renders of a decrypted difference ([`render`]). It
//! does no file or network I/O: callers hand it bytes and get bytes back.
//!
//! # The whole flow
//!
//! ```
//! use picrypt_core::{ops, verify, Image, Key, Op, Scheme};
//!
//! # fn main() -> picrypt_core::Result<()> {
//! let before = Image::new(4, 2, 1, vec![10, 20, 30, 40, 50, 60, 70, 80])?;
//! let after = Image::new(4, 2, 1, vec![10, 20, 99, 40, 50, 60, 70, 0])?;
//!
//! // The client: a key, and two ciphertexts.
//! let key = Key::generate(Scheme::MASK)?;
//! let a = key.encrypt(&before)?.to_bytes();
//! let b = key.encrypt(&after)?.to_bytes();
//!
//! // The server: A − B on ciphertexts alone, no key.
//! let result = ops::apply_bytes(Op::Sub, &a, &b)?;
//!
//! // The client again: the result must be A − B of exactly these inputs, then decrypt.
//! let checked = verify::check_result(Op::Sub, &a, &b, &result)?;
//! let difference = checked.decrypt(&key)?;
//! assert_eq!(difference.values(), &[0, 0, -69, 0, 0, 0, 0, 80]);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `parallel` | yes | rayon: encryption, decryption and subtraction on every core |
//! | `png`, `jpeg` | yes | decoding those images ([`image_io`]) and encoding PNG |
//! | `images` | yes | BMP, TIFF and WebP besides |
//! | `render` | yes | pictures and statistics of a difference ([`render`]) |
//! | `bfv` | yes | bfv keys, encryption and decryption (the lattice library) |
//! | `shuffle` | yes | legacy shuffle keys and the imageshuffle permutation |
//! | `kat` | no | fixed keys and nonces, for known-answer tests only |
//!
//! Without any feature the crate still has the container format, the mask scheme, key
//! files, `.npy`, and the server's operations for every scheme; that builds for
//! `wasm32-unknown-unknown`, where randomness comes from the browser's `crypto`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod container;
pub mod demo;
pub mod error;
pub mod format;
pub mod hex;
mod image;
#[cfg(any(feature = "png", feature = "jpeg"))]
pub mod image_io;
pub mod keyfile;
pub mod npy;
mod op;
pub mod ops;
mod packing;
mod par;
pub mod preview;
mod random;
#[cfg(feature = "render")]
pub mod render;
pub mod scheme;
pub mod stream;
mod units;
pub mod verify;

pub use error::{Error, Result};
pub use format::{Container, ContainerRef, Header, KeyId, Scheme, Shape, ValueRange};
pub use image::{Image, Plaintext};
pub use op::Op;
pub use scheme::Key;
