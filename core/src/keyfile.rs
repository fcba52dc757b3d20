//! Key files: a small versioned binary envelope around a scheme's key material.
//!
//! ```text
//! offset size field
//!  0      8   magic "PICRYPTK"
//!  8      1   version (1)
//!  9      1   scheme id (as in containers)
//! 10      1   kind: 1 secret, 2 public (public-key schemes only)
//! 11      1   reserved, 0
//! 12     16   key id (as in containers)
//! 28      4   body length, u32 little endian (at most 1 MiB)
//! 32      …   body: the scheme's key material; nothing may follow
//! ```
//! For mask keys the key id is checked against the one derived from the body, so a damaged
//! key file is refused instead of producing garbage. Shuffle keys carry a random id (one
//! derived from a 32-bit key could be inverted by trying every key).

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{KeyId, Scheme};
use crate::scheme::bfv::BfvKeys;
use crate::scheme::mask::MaskKey;
use crate::scheme::shuffle::{ShuffleKey, Variant};

pub const MAGIC: [u8; 8] = *b"PICRYPTK";
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = 32;
const MAX_BODY_LEN: usize = 1 << 20;
const KIND_SECRET: u8 = 1;
const KIND_PUBLIC: u8 = 2;

/// A key as read from a key file.
#[derive(Debug)]
pub enum Key {
    Mask(MaskKey),
    /// Legacy imageshuffle key (not secure; compatibility only).
    Shuffle(ShuffleKey),
    /// BFV key pair (secret key file) or public key alone (`.pub` file).
    Bfv(BfvKeys),
}

impl Key {
    pub fn scheme(&self) -> Scheme {
        match self {
            Key::Mask(_) => Scheme::Mask,
            Key::Shuffle(_) => Scheme::Shuffle,
            Key::Bfv(_) => Scheme::Bfv,
        }
    }

    pub fn id(&self) -> KeyId {
        match self {
            Key::Mask(k) => k.id(),
            Key::Shuffle(k) => k.id(),
            Key::Bfv(k) => k.id(),
        }
    }

    /// Whether the key can decrypt (public keys can only encrypt).
    pub fn is_secret(&self) -> bool {
        match self {
            Key::Mask(_) | Key::Shuffle(_) => true,
            Key::Bfv(k) => k.is_secret(),
        }
    }

    /// The public key of a public-key scheme's secret key, to give to devices.
    pub fn public(&self) -> Option<Key> {
        match self {
            Key::Bfv(k) if k.is_secret() => Some(Key::Bfv(k.public_only())),
            _ => None,
        }
    }

    /// A new random key of a scheme (shuffle keys use the library's Rand variant).
    pub fn generate(scheme: Scheme) -> Result<Key> {
        match scheme {
            Scheme::Mask => Ok(Key::Mask(MaskKey::generate()?)),
            Scheme::Shuffle => Ok(Key::Shuffle(ShuffleKey::generate(Variant::Rand)?)),
            Scheme::Bfv => Ok(Key::Bfv(BfvKeys::generate())),
        }
    }

    /// The key file bytes; wiped from memory when dropped.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let (kind, body): (u8, Zeroizing<Vec<u8>>) = match self {
            Key::Mask(k) => (KIND_SECRET, Zeroizing::new(k.secret_bytes().to_vec())),
            Key::Shuffle(k) => (KIND_SECRET, Zeroizing::new(k.body())),
            Key::Bfv(k) if k.is_secret() => (KIND_SECRET, k.body()),
            Key::Bfv(k) => (KIND_PUBLIC, k.body()),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + body.len()));
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.scheme().id());
        out.push(kind);
        out.push(0);
        out.extend_from_slice(&self.id().0);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses a key file, validating every field. Errors never include key bytes.
    pub fn parse(bytes: &[u8]) -> Result<Key> {
        let bad = |m: String| Error::Key(m);
        if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
            if crate::format::looks_like_container(bytes) {
                return Err(bad("this is a ciphertext, not a key file".into()));
            }
            return Err(bad("not a PICRYPT key file (bad magic bytes)".into()));
        }
        if bytes[8] != VERSION {
            return Err(bad(format!(
                "unsupported key file version {} (this build reads version {VERSION})",
                bytes[8]
            )));
        }
        let scheme = Scheme::from_id(bytes[9])
            .ok_or_else(|| bad(format!("unknown scheme id {}", bytes[9])))?;
        let kind = bytes[10];
        if bytes[11] != 0 {
            return Err(bad("reserved byte is not zero".into()));
        }
        let id = KeyId(bytes[12..28].try_into().unwrap());
        let body_len = u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize;
        if body_len > MAX_BODY_LEN {
            return Err(bad(format!(
                "key body of {body_len} bytes is implausibly large"
            )));
        }
        let body = &bytes[HEADER_LEN..];
        if body.len() != body_len {
            return Err(bad(format!(
                "key body is {} bytes but the header says {body_len} (truncated or damaged)",
                body.len()
            )));
        }
        let key = match (scheme, kind) {
            (Scheme::Mask, KIND_SECRET) => {
                let secret: &[u8; 32] = body
                    .try_into()
                    .map_err(|_| bad(format!("mask key must be 32 bytes, found {body_len}")))?;
                Key::Mask(MaskKey::from_bytes(secret))
            }
            (Scheme::Shuffle, KIND_SECRET) => Key::Shuffle(ShuffleKey::from_body(body, id)?),
            (Scheme::Bfv, KIND_SECRET) => Key::Bfv(BfvKeys::from_body(body, true)?),
            (Scheme::Bfv, KIND_PUBLIC) => Key::Bfv(BfvKeys::from_body(body, false)?),
            (s, k) => return Err(bad(format!("unknown key kind {k} for scheme {s}"))),
        };
        if key.id() != id {
            return Err(bad(
                "key id does not match the key material (the file is damaged)".into(),
            ));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let key = Key::generate(Scheme::Mask).unwrap();
        let bytes = key.to_bytes();
        assert_eq!(bytes.len(), 64);
        let back = Key::parse(&bytes).unwrap();
        assert_eq!(back.id(), key.id());
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] ^= 0x04;
            assert!(Key::parse(&b).is_err(), "flip in byte {i} accepted");
        }
        assert!(Key::parse(&bytes[..40]).is_err());
        assert!(Key::parse(&[]).is_err());
    }
}
