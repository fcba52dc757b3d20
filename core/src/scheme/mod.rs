//! The homomorphic schemes, behind one table.
//!
//! Each scheme lives in its own module and implements the two traits of `interface`:
//! its container rules and server operations (always built: a server needs them for
//! every scheme, and they need no heavy dependency), and its keys (behind the scheme's
//! cargo feature where they need one: `bfv` links the lattice library, `shuffle` the
//! permutation code). Everything else in the crate asks the table instead of matching on
//! the scheme, so adding a scheme is a new module and one line in `SCHEMES`
//! (docs/ARCHITECTURE.md walks through it).

mod bfv;
mod interface;
mod mask;
pub mod shuffle;

pub(crate) use interface::{ComputeUnit, DecryptStream, EncryptStream, KeyKind, SchemeImpl};
pub use interface::{Expect, Integrity, Key};

use crate::error::{Error, Result};
use crate::format::{Container, Scheme};
use crate::image::{Image, Plaintext};

/// Every scheme this build knows, in id order.
static SCHEMES: &[&dyn SchemeImpl] = &[&mask::MASK, &bfv::BFV, &shuffle::SHUFFLE];

/// The scheme of an id, or `None` when this build does not know it.
pub(crate) fn get(scheme: Scheme) -> Option<&'static dyn SchemeImpl> {
    SCHEMES.iter().copied().find(|s| s.scheme() == scheme)
}

/// The scheme of an id, or the error a container or key file of an unknown one gets.
pub(crate) fn known(scheme: Scheme) -> Result<&'static dyn SchemeImpl> {
    get(scheme).ok_or_else(|| Error::format(format!("unknown scheme id {}", scheme.id())))
}

impl Scheme {
    /// Every scheme this build knows.
    pub fn all() -> impl Iterator<Item = Scheme> {
        SCHEMES.iter().map(|s| s.scheme())
    }

    /// The scheme of a name (`mask`, `bfv`, `shuffle`).
    pub fn from_name(name: &str) -> Option<Scheme> {
        SCHEMES
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.scheme())
    }

    /// The scheme of an id byte, when this build knows it.
    pub fn from_id_byte(id: u8) -> Option<Scheme> {
        get(Scheme::from_id(id)).map(|s| s.scheme())
    }

    /// Its name in files, flags and the API.
    pub fn name(self) -> &'static str {
        get(self).map_or("unknown", |s| s.name())
    }

    /// One line describing it.
    pub fn summary(self) -> &'static str {
        get(self).map_or("", |s| s.summary())
    }

    /// What it protects.
    pub fn integrity(self) -> Integrity {
        get(self).map_or(Integrity::Insecure, |s| s.integrity())
    }

    /// The warning every tool prints when it touches an insecure scheme.
    pub fn warning(self) -> Option<&'static str> {
        (self.integrity() == Integrity::Insecure).then_some(shuffle::WARNING)
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Debug for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scheme({})", self.name())
    }
}

impl Key {
    /// A new random key of a scheme (a legacy shuffle key uses imageshuffle's `Rand`).
    pub fn generate(scheme: Scheme) -> Result<Key> {
        known(scheme)?.generate_key().map(Key)
    }

    /// Encrypts an image under a fresh nonce. A legacy shuffle key is refused: its
    /// ciphertexts can be broken (docs/SECURITY.md), so using one must be a decision
    /// ([`Key::encrypt_insecure_legacy`]), not the effect of a key file someone handed
    /// over.
    pub fn encrypt(&self, image: &Image) -> Result<Container> {
        if let Some(warning) = self.scheme().warning() {
            return Err(Error::InsecureScheme(format!(
                "this is a legacy {} key, and {warning}",
                self.scheme()
            )));
        }
        self.0.encrypt(image)
    }

    /// Encrypts an image under any key, the insecure legacy shuffle scheme included. Only
    /// for compatibility with imageshuffle deployments.
    pub fn encrypt_insecure_legacy(&self, image: &Image) -> Result<Container> {
        self.0.encrypt(image)
    }

    /// Decrypts with every check the scheme itself has, but not what the container is
    /// supposed to be: [`crate::verify`] checks that first.
    pub(crate) fn decrypt_unchecked(&self, c: &Container) -> Result<Plaintext> {
        self.0.decrypt(c)
    }
}
