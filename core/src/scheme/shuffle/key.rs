//! Legacy shuffle keys (the `shuffle` feature): the library's 32-bit integer and its
//! variant, and the permutation they give for each image shape.

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::permutation::Permutation;
use super::values::values_in_range;
use super::variant::{self, Variant, EXT_LEN};
use crate::error::{Error, Result};
use crate::format::{Container, Header, KeyId, Scheme, Shape, ValueRange};
use crate::image::{Image, Plaintext};
use crate::random;
use crate::scheme::interface::{Key, KeyKind, KeyMaterial};

/// A legacy key: the library's 32-bit integer, the variant, and a random id that lets
/// mixing keys fail clearly without revealing the 32-bit key (an id derived from it could
/// be inverted by trying all 2^32 keys).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(super) struct ShuffleKey {
    key: u32,
    #[zeroize(skip)]
    variant: Variant,
    #[zeroize(skip)]
    id: KeyId,
}

fn random_id() -> Result<KeyId> {
    let mut id = [0u8; 16];
    random::fill(&mut id)?;
    Ok(KeyId::from_bytes(id))
}

impl ShuffleKey {
    /// A random 32-bit key from the OS (the original project drew keys from 10001–99999).
    pub(super) fn generate(variant: Variant) -> Result<ShuffleKey> {
        let mut k = Zeroizing::new([0u8; 4]);
        random::fill(&mut *k)?;
        ShuffleKey::legacy(u32::from_le_bytes(*k), variant)
    }

    /// The key an existing imageshuffle deployment used.
    fn legacy(key: u32, variant: Variant) -> Result<ShuffleKey> {
        if let Variant::Block { height, width } = variant {
            if height == 0 || width == 0 {
                return Err(Error::Key("a block size needs two nonzero sides".into()));
            }
        }
        Ok(ShuffleKey {
            key,
            variant,
            id: random_id()?,
        })
    }

    /// Parses a key-file body: the key (u32 LE) and the variant's nine bytes.
    pub(super) fn from_body(body: &[u8], id: KeyId) -> Result<ShuffleKey> {
        if body.len() != 4 + EXT_LEN {
            return Err(Error::Key(format!(
                "shuffle key body must be {} bytes, found {}",
                4 + EXT_LEN,
                body.len()
            )));
        }
        let key = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
        let variant = variant::decode(&body[4..]).map_err(|e| Error::Key(e.to_string()))?;
        Ok(ShuffleKey { key, variant, id })
    }

    fn permutation(&self, shape: Shape) -> Result<Permutation> {
        Permutation::new(
            self.key,
            self.variant,
            shape.height() as usize,
            shape.width() as usize,
            shape.channels() as usize,
        )
        .map_err(|e| Error::Image(e.to_string()))
    }

    /// The scrambled image exactly as the Python library returns it.
    fn scramble(&self, image: &Image) -> Result<Image> {
        let data = self
            .permutation(image.shape())?
            .encrypt(image.data())
            .map_err(|e| Error::Image(e.to_string()))?;
        Image::new(image.width(), image.height(), image.channels(), data)
    }

    /// Undoes [`ShuffleKey::scramble`] (the library's `dec`).
    fn unscramble(&self, image: &Image) -> Result<Image> {
        let data = self
            .permutation(image.shape())?
            .decrypt(image.data())
            .map_err(|e| Error::Image(e.to_string()))?;
        Image::new(image.width(), image.height(), image.channels(), data)
    }
}

impl KeyMaterial for ShuffleKey {
    fn scheme(&self) -> Scheme {
        Scheme::SHUFFLE
    }

    fn id(&self) -> KeyId {
        self.id
    }

    fn kind(&self) -> KeyKind {
        KeyKind::Secret
    }

    fn public(&self) -> Option<Box<dyn KeyMaterial>> {
        None
    }

    fn body(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(self.key.to_le_bytes().to_vec());
        out.extend_from_slice(&variant::encode(self.variant));
        out
    }

    /// The scrambled samples, 8 bits each: exactly the library's output array.
    fn encrypt(&self, image: &Image) -> Result<Container> {
        let scrambled = self.scramble(image)?;
        let shape = image.shape();
        let header = Header {
            scheme: Scheme::SHUFFLE,
            sample_bits: 8,
            modulus_bits: 8,
            shape,
            range: ValueRange::of_samples(8),
            key_id: self.id,
            tag: None,
            terms: Vec::new(),
            ext: variant::encode(self.variant).to_vec(),
            payload_len: shape.samples() as u64,
        };
        Ok(Container {
            header,
            payload: scrambled.into_data(),
        })
    }

    /// Unscrambles a container's values (an image, or a difference).
    fn decrypt(&self, c: &Container) -> Result<Plaintext> {
        let h = &c.header;
        if h.key_id != self.id {
            return Err(Error::KeyMismatch(format!(
                "the ciphertext was made with key {}, this key is {}",
                h.key_id, self.id
            )));
        }
        if variant::decode(&h.ext)? != self.variant {
            return Err(Error::KeyMismatch(
                "the ciphertext was scrambled with another block layout".into(),
            ));
        }
        let mut values =
            values_in_range(h, &c.payload, h.shape.samples()).map_err(|_| Error::Verification)?;
        let plain = self
            .permutation(h.shape)?
            .decrypt(&values)
            .map_err(|e| Error::format(e.to_string()));
        values.zeroize();
        Plaintext::new(h.shape, h.range, plain?)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Key {
    /// The key an existing imageshuffle deployment used: its 32-bit integer and variant
    /// (legacy shuffle scheme, NOT secure; compatibility only).
    pub fn shuffle_legacy(key: u32, variant: Variant) -> Result<Key> {
        Ok(Key(Box::new(ShuffleKey::legacy(key, variant)?)))
    }

    /// A new random legacy key of a variant (legacy shuffle scheme, NOT secure).
    pub fn shuffle_generate(variant: Variant) -> Result<Key> {
        Ok(Key(Box::new(ShuffleKey::generate(variant)?)))
    }

    fn shuffle_key(&self) -> Result<&ShuffleKey> {
        self.0.as_any().downcast_ref::<ShuffleKey>().ok_or_else(|| {
            Error::SchemeMismatch(format!("a {} key is not a shuffle key", self.scheme()))
        })
    }

    /// The image scrambled exactly as imageshuffle's `enc` returns it (shuffle keys only;
    /// file-level compatibility with the Python library, NOT secure).
    pub fn scramble_insecure_legacy(&self, image: &Image) -> Result<Image> {
        self.shuffle_key()?.scramble(image)
    }

    /// Undoes [`Key::scramble_insecure_legacy`] (imageshuffle's `dec`).
    pub fn unscramble(&self, image: &Image) -> Result<Image> {
        self.shuffle_key()?.unscramble(image)
    }

    /// The block layout of a shuffle key.
    pub fn shuffle_variant(&self) -> Result<Variant> {
        Ok(self.shuffle_key()?.variant)
    }
}
