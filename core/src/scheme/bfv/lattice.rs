//! The lattice half of the bfv scheme, built on fhe.rs (the `bfv` feature): keys,
//! encryption and decryption.
//!
//! A client encrypts an image under a public key; a server with no key
//! material subtracts two encrypted images; the key holder decrypts the signed
//! per-sample difference. Every run of N = 2048 samples is one BFV plaintext
//! in coefficient encoding (`Encoding::poly()`), the last one zero-padded.
//! Fresh ciphertexts are modulus-switched from `q = q0 * q1` down to `q0`
//! before serialization, and their coefficients are bit-packed at exactly 23
//! bits, so the payload is 5.75 bytes per sample. docs/SECURITY.md ("Noise
//! argument") shows why `q0` is large enough.

use std::fmt;
use std::sync::{Arc, OnceLock};

use fhe::bfv::{
    BfvParameters, BfvParametersBuilder, Ciphertext, Encoding, Plaintext, PublicKey, SecretKey,
};
use fhe_math::rq::{traits::TryConvertFrom, Poly, Representation};
use fhe_traits::{
    DeserializeParametrized, DeserializeWithContext, FheDecoder, FheDecrypter, FheEncoder,
    FheEncrypter, Serialize,
};
use rand::rngs::OsRng;
use rand::TryRngCore;
use rayon::prelude::*;
use zeroize::Zeroizing;

use super::coeffs::{self, CHUNK_BYTES, DEGREE, MODULUS_BITS, PARAMS_ID, POLY_BYTES};
use crate::error::{Error, Result};
use crate::format::{Container, Header, KeyId, Scheme, Shape, ValueRange};
use crate::image::{self, Image};
use crate::scheme::interface::{EncryptStream, KeyKind, KeyMaterial};
use crate::units::Units;

/// Smallest power of two holding signed differences of 8-bit samples.
const PLAINTEXT_MODULUS: u64 = 512;
/// `[q0, q1]`, both prime and 1 mod 2N (fhe needs NTT-friendly moduli).
/// Modulus switching drops the last modulus, so `q0 = 2^23 - 2^13 + 1` is
/// what payloads carry; `q1 ~ 2^25` only absorbs the fresh encryption noise.
const MODULI: [u64; 2] = [coeffs::Q0, 33_550_337];
/// Error (and secret) variance of fhe's centered binomial sampler.
const VARIANCE: usize = 10;
/// fhe's secret coefficients lie in `[-2 * variance, 2 * variance]`.
const MAX_SECRET_COEFF: u64 = 2 * VARIANCE as u64;
/// Keys with a larger L1 norm are rejected: it bounds the modulus-switching
/// noise (docs/SECURITY.md). The mean is about 2.51 * N = 5135 (sd 87), so keygen
/// practically never resamples.
const MAX_SECRET_L1: u64 = 3 * DEGREE as u64;

/// Level of the switched ciphertexts (only `q0` left).
const PAYLOAD_LEVEL: usize = 1;

const SECRET_TAG: u8 = b'S';
const PUBLIC_TAG: u8 = b'P';

/// Errors from parsing keys or payloads; hostile input ends here, never in a
/// panic.
#[derive(Debug, thiserror::Error)]
pub(super) enum BfvError {
    /// The key starts with another parameter-set id.
    #[error("key is for parameter set {found:#04x}, expected {expected:#04x}")]
    WrongParameters {
        /// Id found in the key.
        found: u8,
        /// [`PARAMS_ID`].
        expected: u8,
    },
    /// The key bytes are truncated, of the wrong kind, or not a valid key.
    #[error("malformed {0} key")]
    InvalidKey(&'static str),
    /// The payload length does not match the sample count.
    #[error("payload is {actual} bytes, expected {expected} for {n_samples} samples")]
    PayloadLength {
        /// Length received.
        actual: usize,
        /// [`payload_len`] of `n_samples`.
        expected: usize,
        /// Sample count the caller claimed.
        n_samples: usize,
    },
    /// A packed coefficient is not reduced modulo q'.
    #[error("ciphertext coefficient out of range")]
    CoefficientOutOfRange,
    /// fhe refused an operation on parsed data.
    #[error("fhe: {0}")]
    Fhe(#[from] fhe::Error),
}

/// Secret key; fhe's `SecretKey` zeroizes its coefficients on drop.
pub(super) struct BfvSecretKey(SecretKey);

/// Public key; enough to encrypt, useless for decryption.
#[derive(Clone)]
pub(super) struct BfvPublicKey(PublicKey);

impl fmt::Debug for BfvSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BfvSecretKey(..)")
    }
}

impl fmt::Debug for BfvPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BfvPublicKey(..)")
    }
}

/// The parameter set, built once: fhe requires every key and ciphertext to
/// share the same `Arc`.
fn params() -> &'static Arc<BfvParameters> {
    static PARAMS: OnceLock<Arc<BfvParameters>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        BfvParametersBuilder::new()
            .set_degree(DEGREE)
            .set_plaintext_modulus(PLAINTEXT_MODULUS)
            .set_moduli(&MODULI)
            .set_variance(VARIANCE)
            .build_arc()
            .expect("constant BFV parameters are valid")
    })
}

/// Generates a key pair from OS randomness.
fn keygen() -> (BfvSecretKey, BfvPublicKey) {
    let mut rng = OsRng.unwrap_err();
    let sk = loop {
        let sk = SecretKey::random(params(), &mut rng);
        if secret_in_bounds(&sk) {
            break BfvSecretKey(sk);
        }
    };
    let pk = sk.public_key();
    (sk, pk)
}

/// Whether the secret satisfies the bounds docs/SECURITY.md ("Noise argument") relies on.
fn secret_in_bounds(sk: &SecretKey) -> bool {
    let coeffs = Zeroizing::new(fhe::proto::bfv::SecretKey::from(sk).coeffs);
    coeffs.len() == DEGREE
        && coeffs.iter().all(|c| c.unsigned_abs() <= MAX_SECRET_COEFF)
        && coeffs.iter().map(|c| c.unsigned_abs()).sum::<u64>() <= MAX_SECRET_L1
}

/// Splits `[PARAMS_ID, tag, body..]`, checking the header.
fn key_body<'a>(b: &'a [u8], tag: u8, kind: &'static str) -> Result<&'a [u8], BfvError> {
    match b {
        [id, ..] if *id != PARAMS_ID => Err(BfvError::WrongParameters {
            found: *id,
            expected: PARAMS_ID,
        }),
        [_, t, body @ ..] if *t == tag => Ok(body),
        _ => Err(BfvError::InvalidKey(kind)),
    }
}

impl BfvSecretKey {
    /// `[PARAMS_ID, 'S']` then fhe's serialization (zigzag varints, about one
    /// byte per coefficient, ~2 KB). Treat the bytes as secret.
    fn to_bytes(&self) -> Vec<u8> {
        let body = Zeroizing::new(self.0.to_bytes());
        let mut out = Vec::with_capacity(2 + body.len());
        out.extend_from_slice(&[PARAMS_ID, SECRET_TAG]);
        out.extend_from_slice(&body);
        out
    }

    /// Parses [`Self::to_bytes`]; refuses other parameter sets, non-canonical
    /// encodings and secrets outside the bounds the noise analysis assumes.
    fn from_bytes(b: &[u8]) -> Result<Self, BfvError> {
        const KIND: &str = "secret";
        let body = key_body(b, SECRET_TAG, KIND)?;
        let sk = SecretKey::from_bytes(body, params()).map_err(|_| BfvError::InvalidKey(KIND))?;
        if !secret_in_bounds(&sk) || Zeroizing::new(sk.to_bytes()).as_slice() != body {
            return Err(BfvError::InvalidKey(KIND));
        }
        Ok(Self(sk))
    }

    /// Derives a fresh public key (a new encryption of zero; not byte-equal
    /// to earlier ones, but equivalent).
    fn public_key(&self) -> BfvPublicKey {
        BfvPublicKey(PublicKey::new(&self.0, &mut OsRng.unwrap_err()))
    }
}

impl BfvPublicKey {
    /// `[PARAMS_ID, 'P']` then fhe's serialization: one bit-packed
    /// polynomial plus the 32-byte seed of the other (~12.8 KB).
    fn to_bytes(&self) -> Vec<u8> {
        let body = self.0.to_bytes();
        let mut out = Vec::with_capacity(2 + body.len());
        out.extend_from_slice(&[PARAMS_ID, PUBLIC_TAG]);
        out.extend_from_slice(&body);
        out
    }

    /// Parses [`Self::to_bytes`]. fhe does not check that coefficients are
    /// reduced nor which representation a polynomial claims, so this also
    /// requires the shape fhe itself produces and a byte-identical
    /// re-serialization (which rejects unreduced coefficients).
    fn from_bytes(b: &[u8]) -> Result<Self, BfvError> {
        const KIND: &str = "public";
        let invalid = || BfvError::InvalidKey(KIND);
        let body = key_body(b, PUBLIC_TAG, KIND)?;
        let pk = PublicKey::from_bytes(body, params()).map_err(|_| invalid())?;
        let ct = fhe::proto::bfv::PublicKey::from(&pk)
            .c
            .ok_or_else(invalid)?;
        if ct.level != 0 || ct.c.len() != 1 || ct.seed.len() != 32 {
            return Err(invalid());
        }
        let ctx = params().context_at_level(0)?;
        let c0 = Poly::from_bytes(&ct.c[0], ctx).map_err(|_| invalid())?;
        if *c0.representation() != Representation::Ntt || pk.to_bytes() != body {
            return Err(invalid());
        }
        Ok(Self(pk))
    }
}

/// Exact payload size for `n_samples`: `ceil(n / N)` ciphertexts of two
/// packed polynomials. Saturates at `usize::MAX` (never a real length).
fn payload_len(n_samples: usize) -> usize {
    n_samples.div_ceil(DEGREE).saturating_mul(CHUNK_BYTES)
}

/// Encrypts samples chunk by chunk in parallel, switching each ciphertext to
/// q' and packing it.
/// Encrypts samples into a payload (the last block zero-padded).
fn encrypt(pk: &BfvPublicKey, samples: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload_len(samples.len())];
    encrypt_into(pk, samples, &mut out);
    out
}

/// Encrypts `samples` (the last run of an image may end in a partial block, which is
/// zero-padded) into `out`, one ciphertext of `CHUNK_BYTES` per block of `DEGREE`.
fn encrypt_into(pk: &BfvPublicKey, samples: &[u8], out: &mut [u8]) {
    out.par_chunks_mut(CHUNK_BYTES)
        .zip(samples.par_chunks(DEGREE))
        .for_each(|(dst, chunk)| {
            let values = Zeroizing::new(chunk.iter().map(|&s| u64::from(s)).collect::<Vec<_>>());
            let pt = Plaintext::try_encode(values.as_slice(), Encoding::poly(), params())
                .expect("at most N values below t");
            let mut ct =
                pk.0.try_encrypt(&pt, &mut rand::rng())
                    .expect("plaintext and key share the parameters");
            ct.switch_down().expect("the chain has a second level");
            write_ciphertext(&ct, dst);
        });
}

/// Computes the encryption of `a - b` (per sample, modulo t) without any key, with fhe's
/// own arithmetic: the reference the server's coefficient subtraction is tested against.
#[cfg(test)]
fn sub(a: &[u8], b: &[u8], n_samples: usize) -> Result<Vec<u8>, BfvError> {
    check_payload(a, n_samples)?;
    check_payload(b, n_samples)?;
    let mut out = vec![0u8; a.len()];
    out.par_chunks_mut(CHUNK_BYTES)
        .zip(a.par_chunks(CHUNK_BYTES).zip(b.par_chunks(CHUNK_BYTES)))
        .try_for_each(|(dst, (ca, cb))| {
            let diff = &read_ciphertext(ca)? - &read_ciphertext(cb)?;
            write_ciphertext(&diff, dst);
            Ok::<(), BfvError>(())
        })?;
    Ok(out)
}

/// Decrypts a payload (fresh or a difference) to centered values in
/// `(-t/2, t/2]`, so `a - b` comes back in `-255..=255`. Also reports whether every
/// zero-padded slot after the last sample decrypted to 0, as an honest ciphertext's do.
fn decrypt(
    sk: &BfvSecretKey,
    payload: &[u8],
    n_samples: usize,
) -> Result<(Vec<i16>, bool), BfvError> {
    check_payload(payload, n_samples)?;
    let mut out = vec![0i16; n_samples];
    let padding_ok: Vec<bool> = out
        .par_chunks_mut(DEGREE)
        .zip(payload.par_chunks(CHUNK_BYTES))
        .map(|(dst, chunk)| {
            let pt = sk.0.try_decrypt(&read_ciphertext(chunk)?)?;
            let values = Zeroizing::new(Vec::<u64>::try_decode(
                &pt,
                Encoding::poly_at_level(PAYLOAD_LEVEL),
            )?);
            for (d, &v) in dst.iter_mut().zip(values.iter()) {
                // v < t = 512, so both casts are lossless.
                *d = if v > PLAINTEXT_MODULUS / 2 {
                    v as i16 - PLAINTEXT_MODULUS as i16
                } else {
                    v as i16
                };
            }
            Ok::<bool, BfvError>(
                values[dst.len()..]
                    .iter()
                    .fold(true, |ok, &v| ok & (v == 0)),
            )
        })
        .collect::<Result<_, BfvError>>()?;
    Ok((out, padding_ok.iter().all(|&ok| ok)))
}

/// Refuses a payload whose length does not match, before any allocation.
fn check_payload(payload: &[u8], n_samples: usize) -> Result<(), BfvError> {
    let expected = payload_len(n_samples);
    if payload.len() == expected {
        Ok(())
    } else {
        Err(BfvError::PayloadLength {
            actual: payload.len(),
            expected,
            n_samples,
        })
    }
}

/// Packs a level-1 ciphertext's power-basis coefficients into `dst`
/// (`CHUNK_BYTES`).
fn write_ciphertext(ct: &Ciphertext, dst: &mut [u8]) {
    for (poly, out) in ct.iter().zip(dst.chunks_exact_mut(POLY_BYTES)) {
        let mut p = poly.clone();
        p.change_representation(Representation::PowerBasis);
        coeffs::pack(&Vec::<u64>::from(&p), out);
    }
}

/// Rebuilds a level-1 ciphertext from `CHUNK_BYTES` packed bytes.
fn read_ciphertext(src: &[u8]) -> Result<Ciphertext, BfvError> {
    let ctx = params().context_at_level(PAYLOAD_LEVEL)?;
    let polys = src
        .chunks_exact(POLY_BYTES)
        .map(|bytes| {
            let coeffs = coeffs::unpack(bytes).ok_or(BfvError::CoefficientOutOfRange)?;
            // Public data: variable-time arithmetic is fine.
            let mut p = Poly::try_convert_from(coeffs, ctx, true, Representation::PowerBasis)
                .map_err(fhe::Error::MathError)?;
            p.change_representation(Representation::Ntt);
            Ok(p)
        })
        .collect::<Result<Vec<_>, BfvError>>()?;
    Ok(Ciphertext::new(polys, params())?)
}

// ---------------------------------------------------------------------------------------
// PICRYPT glue: key files, containers and the server operation.
// ---------------------------------------------------------------------------------------

const CONTEXT_KEY_ID: &str = "picrypt 2026-11-26 bfv v1 key id";

/// A BFV key as PICRYPT stores it: the public key (with its serialized bytes, from which
/// the key id derives) and, for the key holder, the secret key.
pub(super) struct BfvKeys {
    secret: Option<BfvSecretKey>,
    public: BfvPublicKey,
    public_bytes: Vec<u8>,
    id: KeyId,
}

impl fmt::Debug for BfvKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BfvKeys {{ id: {}, secret: {} }}",
            self.id,
            self.secret.is_some()
        )
    }
}

fn key_id(public_bytes: &[u8]) -> KeyId {
    let h = blake3::derive_key(CONTEXT_KEY_ID, public_bytes);
    KeyId::from_bytes(h[..16].try_into().expect("32-byte hash"))
}

fn key_error(e: BfvError) -> Error {
    Error::Key(e.to_string())
}

impl BfvKeys {
    /// A new key pair from OS randomness.
    pub(super) fn generate() -> BfvKeys {
        let (secret, public) = keygen();
        let public_bytes = public.to_bytes();
        BfvKeys {
            secret: Some(secret),
            id: key_id(&public_bytes),
            public,
            public_bytes,
        }
    }

    /// The public half, for devices that only encrypt.
    fn public_only(&self) -> BfvKeys {
        BfvKeys {
            secret: None,
            public: self.public.clone(),
            public_bytes: self.public_bytes.clone(),
            id: self.id,
        }
    }

    pub(super) fn id(&self) -> KeyId {
        self.id
    }

    /// Key-file body. Public: the public key bytes. Secret: the secret key's length (u32
    /// LE), the secret key, then the public key (so the key id can be checked).
    fn body(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut out = zeroize::Zeroizing::new(Vec::new());
        if let Some(secret) = &self.secret {
            let sk = zeroize::Zeroizing::new(secret.to_bytes());
            out.extend_from_slice(&(sk.len() as u32).to_le_bytes());
            out.extend_from_slice(&sk);
        }
        out.extend_from_slice(&self.public_bytes);
        out
    }

    /// Parses a key-file body of the given kind; the caller checks the id.
    pub(super) fn from_body(body: &[u8], secret: bool) -> Result<BfvKeys> {
        let (secret_key, public_bytes) = if secret {
            if body.len() < 4 {
                return Err(Error::Key("truncated bfv secret key".into()));
            }
            let len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
            let end = 4usize
                .checked_add(len)
                .filter(|&e| e <= body.len())
                .ok_or_else(|| Error::Key("truncated bfv secret key".into()))?;
            (
                Some(BfvSecretKey::from_bytes(&body[4..end]).map_err(key_error)?),
                &body[end..],
            )
        } else {
            (None, body)
        };
        let public = BfvPublicKey::from_bytes(public_bytes).map_err(key_error)?;
        if let Some(secret) = &secret_key {
            if !pair_matches(secret, &public) {
                return Err(Error::Key(
                    "the secret key does not belong to the public key stored with it (the file is damaged or was put together from two keys)".into(),
                ));
            }
        }
        Ok(BfvKeys {
            secret: secret_key,
            public,
            public_bytes: public_bytes.to_vec(),
            id: key_id(public_bytes),
        })
    }
}

/// Whether `public` was made from `secret`: a block of random values encrypted under the
/// public key must decrypt to themselves under the secret key. With a foreign public key
/// the decryption is noise, and all 2048 values match by chance with probability 2^-18432.
fn pair_matches(secret: &BfvSecretKey, public: &BfvPublicKey) -> bool {
    let mut rng = OsRng.unwrap_err();
    let values: Vec<u8> = (0..DEGREE)
        .map(|_| (rand::RngCore::next_u32(&mut rng) & 0xFF) as u8)
        .collect();
    let payload = encrypt(public, &values);
    match decrypt(secret, &payload, DEGREE) {
        Ok((decrypted, padding_ok)) => {
            padding_ok
                && decrypted
                    .iter()
                    .zip(&values)
                    .all(|(&d, &v)| d == i16::from(v))
        }
        Err(_) => false,
    }
}

/// Decrypts with the secret key. There is no integrity tag (anyone with the public key
/// can encrypt), so this only catches what it can as defence in depth: values outside the
/// header's range and zero-padded slots that do not decrypt to 0, with the one generic
/// verification error. What ties a bfv container to honest inputs is
/// [`crate::verify::check_result`].
fn decrypt_container(keys: &BfvKeys, c: &Container) -> Result<image::Plaintext> {
    let secret = keys.secret.as_ref().ok_or_else(|| {
        Error::Key("this is a public key: it encrypts but cannot decrypt; use the secret key file (KEY, not KEY.pub)".into())
    })?;
    let h = &c.header;
    if h.key_id != keys.id {
        return Err(Error::KeyMismatch(format!(
            "the ciphertext was made with key {}, this key is {}",
            h.key_id, keys.id
        )));
    }
    let (mut values, padding_ok) =
        decrypt(secret, &c.payload, h.shape.samples()).map_err(|e| Error::format(e.to_string()))?;
    let (min, max) = (h.range.min(), h.range.max());
    let in_range = values.iter().fold(true, |ok, &v| {
        ok & ((v as i32) >= min) & ((v as i32) <= max)
    });
    if !(in_range & padding_ok) {
        zeroize::Zeroize::zeroize(&mut values);
        return Err(Error::Verification);
    }
    image::Plaintext::new(h.shape, h.range, values)
}

impl KeyMaterial for BfvKeys {
    fn scheme(&self) -> Scheme {
        Scheme::BFV
    }

    fn id(&self) -> KeyId {
        self.id
    }

    fn kind(&self) -> KeyKind {
        if self.secret.is_some() {
            KeyKind::Secret
        } else {
            KeyKind::Public
        }
    }

    fn public(&self) -> Option<Box<dyn KeyMaterial>> {
        self.secret
            .is_some()
            .then(|| Box::new(self.public_only()) as Box<dyn KeyMaterial>)
    }

    fn body(&self) -> Zeroizing<Vec<u8>> {
        BfvKeys::body(self)
    }

    /// Encrypts with the public key (a secret key file holds one too).
    fn encrypt(&self, image: &Image) -> Result<Container> {
        let mut stream = Box::new(BfvEncryptor::new(self, image.shape()));
        let mut payload = Vec::with_capacity(stream.header.payload_len as usize);
        stream.update(image.data(), &mut payload)?;
        let header = stream.finish(&mut payload)?;
        Ok(Container { header, payload })
    }

    fn encryptor(&self, shape: Shape) -> Option<Result<Box<dyn EncryptStream>>> {
        Some(Ok(Box::new(BfvEncryptor::new(self, shape))))
    }

    fn encrypts_in_chunks(&self) -> bool {
        true
    }

    fn decrypt(&self, c: &Container) -> Result<image::Plaintext> {
        decrypt_container(self, c)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A fresh encryption fed its samples in order: each block of `DEGREE` samples is its
/// own ciphertext, so blocks are encrypted as they fill and the header (which has no tag)
/// is the same before and after.
struct BfvEncryptor {
    public: BfvPublicKey,
    header: Header,
    /// Samples encrypted so far.
    done: usize,
    blocks: Units,
}

impl BfvEncryptor {
    fn new(keys: &BfvKeys, shape: Shape) -> BfvEncryptor {
        BfvEncryptor {
            public: keys.public.clone(),
            header: Header {
                scheme: Scheme::BFV,
                sample_bits: 8,
                modulus_bits: MODULUS_BITS,
                shape,
                range: ValueRange::of_samples(8),
                key_id: keys.id,
                tag: None,
                terms: Vec::new(),
                ext: vec![PARAMS_ID],
                payload_len: payload_len(shape.samples()) as u64,
            },
            done: 0,
            blocks: Units::new(DEGREE),
        }
    }

    fn run(&mut self, samples: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + samples.len().div_ceil(DEGREE) * CHUNK_BYTES, 0);
        encrypt_into(&self.public, samples, &mut out[at..]);
        self.done += samples.len();
    }
}

impl EncryptStream for BfvEncryptor {
    fn header(&self) -> &Header {
        &self.header
    }

    fn update(&mut self, samples: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let shape = self.header.shape;
        if self.done + self.blocks.pending() + samples.len() > shape.samples() {
            return Err(Error::Image(format!(
                "more samples than a {shape} image has ({})",
                shape.samples()
            )));
        }
        let mut blocks = std::mem::replace(&mut self.blocks, Units::new(DEGREE));
        let fed = blocks.feed(samples, |run| {
            self.run(run, out);
            Ok(())
        });
        self.blocks = blocks;
        fed
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<u8>) -> Result<Header> {
        let shape = self.header.shape;
        let given = self.done + self.blocks.pending();
        if given != shape.samples() {
            return Err(Error::Image(format!("{given} samples for a {shape} image")));
        }
        let rest = self.blocks.take_rest();
        if !rest.is_empty() {
            self.run(&rest, out);
        }
        Ok(self.header.clone())
    }
}

#[cfg(test)]
mod tests;
