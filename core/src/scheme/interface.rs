//! What every scheme provides: [`SchemeImpl`] (container rules, the server's operations,
//! what decryption can verify) and [`KeyMaterial`] (a key that encrypts and decrypts),
//! and the [`Key`] that wraps one. A scheme implements both traits in its own module and
//! is listed once in the table in `scheme/mod.rs`.

use zeroize::Zeroizing;

use crate::error::Result;
use crate::format::{Container, ContainerRef, Header, KeyId, Scheme, Shape};
use crate::image::{Image, Plaintext};
use crate::op::Op;

/// What the caller expects a container to be; decryption refuses anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// A fresh encryption of one image.
    Image,
    /// The difference of two fresh ciphertexts whose inputs are not at hand. Only a
    /// scheme with a tag can prove this without the inputs.
    Difference,
}

/// How much a scheme protects a result, for people choosing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Integrity {
    /// An integrity tag, verified on decryption: results are checked even without their
    /// inputs (mask).
    Tag,
    /// No tag: a result is accepted only when recomputed from inputs the caller holds,
    /// and never decrypted otherwise (bfv).
    Recompute,
    /// None at all, and the scheme is not secure either (the legacy shuffle scheme).
    Insecure,
}

/// The smallest piece of a payload a scheme computes on its own: `samples` samples are
/// exactly `a_bytes` bytes of A, `b_bytes` of B and `out_bytes` of the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ComputeUnit {
    pub samples: usize,
    pub a_bytes: usize,
    pub b_bytes: usize,
    pub out_bytes: usize,
}

impl ComputeUnit {
    /// The unit of packed streams of `k`-bit samples: eight samples are `k` bytes (and 64
    /// are whole 64-bit words of every lane width, as `packing` needs).
    pub fn packed(a_bits: u8, b_bits: u8, out_bits: u8) -> ComputeUnit {
        ComputeUnit {
            samples: 64,
            a_bytes: 8 * a_bits as usize,
            b_bytes: 8 * b_bits as usize,
            out_bytes: 8 * out_bits as usize,
        }
    }
}

/// Whether a key file holds a secret key or only a public one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Secret,
    Public,
}

/// A scheme's rules and operations, without any key.
pub(crate) trait SchemeImpl: Sync {
    /// Its id.
    fn scheme(&self) -> Scheme;
    /// Its name in files, flags and the API.
    fn name(&self) -> &'static str;
    /// One line for `--help`.
    fn summary(&self) -> &'static str;
    /// What it protects.
    fn integrity(&self) -> Integrity;

    /// Scheme rules for a header that passed the generic ones.
    fn validate_header(&self, h: &Header) -> Result<()>;
    /// The payload length a header implies, or `None` when it cannot exist.
    fn payload_len(&self, h: &Header) -> Option<u64>;
    /// Scheme rules on the end of a payload of the right length: `end` holds its last
    /// `samples` samples and starts on a [`ComputeUnit`] boundary (a whole payload is its
    /// own end). Rules on every sample are checked by [`SchemeImpl::compute`].
    fn validate_payload_end(&self, h: &Header, end: &[u8], samples: usize) -> Result<()>;

    /// Whether two compatible-looking inputs may be combined bit-wise (sample and modulus
    /// bits), with a message when not.
    fn same_bits(&self, a: &Header, b: &Header) -> bool {
        (a.sample_bits, a.modulus_bits) == (b.sample_bits, b.modulus_bits)
    }
    /// The header of `op(a, b)`, or why the operation is refused. The caller has checked
    /// scheme, key, shape, bits and extension.
    fn result_header(&self, op: Op, a: &Header, b: &Header) -> Result<Header>;
    /// How payloads split into independent pieces of `op(a, b)`: the same count of
    /// samples of A, of B and of the result, in whole bytes of each.
    fn compute_unit(&self, a: &Header, b: &Header, result: &Header) -> ComputeUnit;
    /// The payload of `op(a, b)` into `out`, sized by `result`: the whole payload, or a
    /// chunk of it. `a.payload` and `b.payload` then hold the same `samples` samples of
    /// their inputs, starting on a [`ComputeUnit`] boundary (whole units but at the very
    /// end), and `out` the result's bytes of those samples.
    fn compute(
        &self,
        op: Op,
        a: &ContainerRef<'_>,
        b: &ContainerRef<'_>,
        result: &Header,
        samples: usize,
        out: &mut [u8],
    ) -> Result<()>;

    /// Whether a header is what `expect` says.
    fn is_expected(&self, h: &Header, expect: Expect) -> bool;

    /// A new key.
    fn generate_key(&self) -> Result<Box<dyn KeyMaterial>>;
    /// The key of a key file's body (the envelope is checked already).
    fn parse_key(&self, kind: KeyKind, id: KeyId, body: &[u8]) -> Result<Box<dyn KeyMaterial>>;

    /// One byte per sample that shows what the server sees of a ciphertext.
    fn preview(&self, c: &Container) -> Vec<u8>;
}

/// Key material of one scheme.
pub(crate) trait KeyMaterial: Send + Sync {
    /// The scheme.
    fn scheme(&self) -> Scheme;
    /// Its id, as containers carry it.
    fn id(&self) -> KeyId;
    /// Secret (decrypts) or public (only encrypts).
    fn kind(&self) -> KeyKind;
    /// The public half of a secret key of a public-key scheme.
    fn public(&self) -> Option<Box<dyn KeyMaterial>>;
    /// The key file's body.
    fn body(&self) -> Zeroizing<Vec<u8>>;
    /// Encrypts an image under a fresh nonce.
    fn encrypt(&self, image: &Image) -> Result<Container>;
    /// Decrypts a container of this key, with every check the scheme itself has.
    fn decrypt(&self, c: &Container) -> Result<Plaintext>;
    /// A fresh encryption of an image of this shape fed its samples in order, for
    /// schemes that can encrypt a chunk at a time; `None` for those that need the whole
    /// image at once.
    fn encryptor(&self, _shape: Shape) -> Option<Result<Box<dyn EncryptStream>>> {
        None
    }
    /// Whether [`KeyMaterial::encryptor`] gives one.
    fn encrypts_in_chunks(&self) -> bool {
        false
    }
    /// A decryption of a container with this header fed its payload in order, with every
    /// check [`KeyMaterial::decrypt`] makes, decided at the end; `None` for schemes that
    /// decrypt whole payloads only.
    fn decryptor(&self, _header: &Header) -> Option<Result<Box<dyn DecryptStream>>> {
        None
    }
    /// Whether [`KeyMaterial::decryptor`] gives one.
    fn decrypts_in_chunks(&self) -> bool {
        false
    }
    /// The concrete type, for the few scheme-specific operations (legacy file
    /// interop, known-answer tests).
    #[cfg_attr(not(any(feature = "kat", feature = "shuffle")), allow(dead_code))]
    fn as_any(&self) -> &dyn std::any::Any;
}

/// An encryption in progress: the image's samples in, the payload out, the header last
/// (see [`crate::stream::Encryptor`]).
pub(crate) trait EncryptStream: Send {
    /// The header the ciphertext will have, but for its tag (the tag covers every sample).
    fn header(&self) -> &Header;
    /// Encrypts the next samples, appending whatever payload bytes are complete.
    fn update(&mut self, samples: &[u8], out: &mut Vec<u8>) -> Result<()>;
    /// Encrypts what is left, appending the rest of the payload; the whole header.
    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<Header>;
}

/// A decryption in progress: the payload in, values out, one decision at the end (see
/// [`crate::stream::Decryptor`]).
pub(crate) trait DecryptStream: Send {
    /// Decrypts the next payload bytes, appending the values that are complete.
    fn update(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()>;
    /// Decrypts what is left, appending the last values, and decides: every check the
    /// scheme has, over every sample, at once.
    fn finish(self: Box<Self>, out: &mut Vec<i16>) -> Result<()>;
}

/// A key of any scheme: secret (decrypts) or, for public-key schemes, public (encrypts
/// only). Read one with [`Key::parse`], make one with [`Key::generate`]. Key material is
/// wiped from memory when dropped, and `Debug` shows only the scheme and id.
pub struct Key(pub(crate) Box<dyn KeyMaterial>);

impl Key {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.0.scheme()
    }

    /// The key id containers made with it carry.
    pub fn id(&self) -> KeyId {
        self.0.id()
    }

    /// Whether the key can decrypt (public keys only encrypt).
    pub fn is_secret(&self) -> bool {
        self.0.kind() == KeyKind::Secret
    }

    /// The public key of a public-key scheme's secret key, to give to devices that only
    /// encrypt; `None` for symmetric schemes and for public keys.
    pub fn public(&self) -> Option<Key> {
        self.0.public().map(Key)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Key {{ scheme: {}, id: {}, secret: {} }}",
            self.scheme(),
            self.id(),
            self.is_secret()
        )
    }
}
