//! PICRYPT in the browser.
//!
//! Built for `wasm32-unknown-unknown`, this crate is the page's client: a [`Session`]
//! (wasm-bindgen) that decodes, encrypts, checks, decrypts and renders with picrypt-core,
//! so keys and pixels never leave the page. `web/build.sh` turns it into the files under
//! `web/page/`.
//!
//! Built natively, it is those files: [`asset`] hands them, with the headers every answer
//! carrying them must have ([`SECURITY_HEADERS`]), to `picrypt web` and to the function,
//! which both serve the page from their own binary.

#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
mod assets;
#[cfg(not(target_arch = "wasm32"))]
pub use assets::{asset, Asset, ASSETS, CONTENT_SECURITY_POLICY, SECURITY_HEADERS};

#[cfg(target_arch = "wasm32")]
mod session;
#[cfg(target_arch = "wasm32")]
pub use session::Session;
