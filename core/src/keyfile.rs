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
//! The envelope is the same for every scheme; the body is the scheme's, which checks what
//! it can: a mask key id must be the one derived from the secret, a bfv key id the one
//! derived from the public key (and a secret must belong to its public key); legacy
//! shuffle keys carry a random id (one derived from a 32-bit key could be inverted by
//! trying every key).

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::{looks_like_container, KeyId, Scheme};
use crate::scheme::{self, Key, KeyKind};

/// First eight bytes of every key file.
pub const MAGIC: [u8; 8] = *b"PICRYPTK";
/// The key file version this build writes and reads.
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = 32;
const MAX_BODY_LEN: usize = 1 << 20;
const KIND_SECRET: u8 = 1;
const KIND_PUBLIC: u8 = 2;

/// Whether `bytes` start like a key file of any scheme (to refuse overwriting one).
pub fn looks_like_key_file(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

impl Key {
    /// The key file bytes; wiped from memory when dropped.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let kind = if self.is_secret() {
            KIND_SECRET
        } else {
            KIND_PUBLIC
        };
        let body = self.0.body();
        let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + body.len()));
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.scheme().id());
        out.push(kind);
        out.push(0);
        out.extend_from_slice(self.id().as_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses a key file, validating every field. Errors never include key bytes.
    pub fn parse(bytes: &[u8]) -> Result<Key> {
        let bad = |m: String| Error::Key(m);
        if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
            if looks_like_container(bytes) {
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
        let scheme = Scheme::from_id_byte(bytes[9])
            .ok_or_else(|| bad(format!("unknown scheme id {}", bytes[9])))?;
        let kind = match bytes[10] {
            KIND_SECRET => KeyKind::Secret,
            KIND_PUBLIC => KeyKind::Public,
            k => return Err(bad(format!("unknown key kind {k} for scheme {scheme}"))),
        };
        if bytes[11] != 0 {
            return Err(bad("reserved byte is not zero".into()));
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[12..28]);
        let id = KeyId::from_bytes(id);
        let body_len = u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]) as usize;
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
        let material = scheme::known(scheme)?.parse_key(kind, id, body)?;
        if material.id() != id || material.kind() != kind {
            return Err(bad(
                "key id does not match the key material (the file is damaged)".into(),
            ));
        }
        Ok(Key(material))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let key = Key::generate(Scheme::MASK).unwrap();
        let bytes = key.to_bytes();
        assert_eq!(bytes.len(), 64);
        assert!(looks_like_key_file(&bytes));
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
