//! The default scheme: additive stream-cipher masking (Castelluccia–Mykletun–Tsudik) with
//! a linearly homomorphic MAC.
//!
//! * Sample `i` of a fresh ciphertext is `(pixel_i + mask_i) mod 2^k`, where `mask_i` is
//!   the k-bit value at bits `i·k .. (i+1)·k` of the XChaCha20 keystream (keystream
//!   subkey, fresh 192-bit nonce), read in the same bit order as the payload. So the
//!   payload is the packed pixels plus the keystream, lane-wise: uniform masks at 1.125
//!   keystream bytes per sample for k = 9.
//! * Subtraction is lane-wise `(a − b) mod 2^k` and needs no key; the result lists the
//!   nonces with their signs ("terms") so the key holder can remove every mask.
//! * The tag is `Σ_j c_j·P_j + Σ_t ±s(N_t) mod p` with `p = 2^61 − 1`, where `P_j` packs
//!   consecutive plaintext samples injectively into one field element, `c_j` comes from a
//!   PRF of the integrity subkey (the same for every image of the key) and `s(N)` is a
//!   per-nonce one-time pad bound to the image shape. It is linear, so the server
//!   subtracts tags like samples. `docs/SECURITY.md` gives the forgery bound.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::{ChaCha20, XChaCha20};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::format::{
    packed_len, Container, ContainerRef, Header, KeyId, Scheme, Shape, Sign, Term, ValueRange,
};
use crate::image::{Image, Plaintext};
use crate::op::Op;
use crate::packing::{self, LaneOp};
#[allow(unused_imports)]
use crate::par::*;
use crate::random;
#[cfg(feature = "kat")]
use crate::scheme::interface::Key;
use crate::scheme::interface::{
    ComputeUnit, DecryptStream, EncryptStream, Expect, Integrity, KeyKind, KeyMaterial, SchemeImpl,
};
use crate::units::Units;

impl Scheme {
    /// Additive XChaCha20 masking with a homomorphic MAC: the default.
    pub const MASK: Scheme = Scheme::from_id(1);
}

/// Modulus bits of fresh ciphertexts of 8-bit images: the smallest modulus in which the
/// difference of two 8-bit samples (−255..=255) keeps its sign.
const MODULUS_BITS: u8 = 9;
/// The MAC's prime field: p = 2^61 − 1.
const P: u64 = (1 << 61) - 1;
/// Bits per packed MAC element; `⌊60 / (k+1)⌋` signed k+1-bit slots fit below 2^60 < p.
const MAC_ELEMENT_BITS: u32 = 60;
/// Samples per parallel work unit: a whole number of blocks.
const CHUNK_SAMPLES: usize = 32 * BLOCK_SAMPLES;
/// Samples per block inside a chunk: a multiple of 64 (whole lane blocks, see `packing`)
/// and of the MAC's group size, small enough that a block's keystream and coefficients
/// stay in the L1 cache instead of megabyte buffers.
const BLOCK_SAMPLES: usize = 3840;
/// Packed bytes of a block.
const BLOCK_BYTES: usize = BLOCK_SAMPLES * MODULUS_BITS as usize / 8;

const CONTEXT_KEYSTREAM: &str = "picrypt 2026-11-26 mask v1 keystream subkey";
const CONTEXT_MAC_COEFFICIENTS: &str = "picrypt 2026-11-26 mask v1 mac coefficient subkey";
const CONTEXT_MAC_PADS: &str = "picrypt 2026-11-26 mask v1 mac pad subkey";
const CONTEXT_KEY_ID: &str = "picrypt 2026-11-26 mask v1 key id";

/// The mask scheme in the table of schemes.
pub(super) struct Mask;
pub(super) static MASK: Mask = Mask;

impl SchemeImpl for Mask {
    fn scheme(&self) -> Scheme {
        Scheme::MASK
    }

    fn name(&self) -> &'static str {
        "mask"
    }

    fn summary(&self) -> &'static str {
        "additive XChaCha20 masking with a homomorphic MAC (default; results verified)"
    }

    fn integrity(&self) -> Integrity {
        Integrity::Tag
    }

    fn validate_header(&self, h: &Header) -> Result<()> {
        if h.modulus_bits != MODULUS_BITS {
            return Err(Error::format(format!(
                "mask ciphertexts are stored mod 2^{MODULUS_BITS}, not 2^{}",
                h.modulus_bits
            )));
        }
        if h.terms.is_empty() {
            return Err(Error::format("mask ciphertext without terms"));
        }
        let tag = h
            .tag
            .ok_or_else(|| Error::format("mask ciphertext without integrity tag"))?;
        if tag >= P {
            return Err(Error::format("tag is not a field element"));
        }
        if !h.ext.is_empty() {
            return Err(Error::format("mask ciphertext with a scheme extension"));
        }
        let (min, max) = range_of_terms(h.sample_bits, &h.terms);
        if (h.range.min() as i64, h.range.max() as i64) != (min, max) {
            return Err(Error::format(format!(
                "value range {} inconsistent with its terms (expected [{min}, {max}])",
                h.range
            )));
        }
        Ok(())
    }

    fn payload_len(&self, h: &Header) -> Option<u64> {
        Some(packed_len(h.shape.samples(), h.modulus_bits) as u64)
    }

    fn validate_payload_end(&self, h: &Header, end: &[u8], samples: usize) -> Result<()> {
        if !packing::padding_is_zero(end, h.modulus_bits, samples) {
            return Err(Error::format("nonzero padding bits after the last sample"));
        }
        Ok(())
    }

    fn result_header(&self, op: Op, a: &Header, b: &Header) -> Result<Header> {
        match op {
            Op::Sub => sub_header(a, b),
            Op::SubSat => Err(Error::UnsupportedOp(
                "sub_sat (saturating) cannot be computed on masked samples, whose signs the server cannot see: use op sub and render the result with --render saturate".into(),
            )),
        }
    }

    fn compute_unit(&self, a: &Header, b: &Header, result: &Header) -> ComputeUnit {
        ComputeUnit::packed(a.modulus_bits, b.modulus_bits, result.modulus_bits)
    }

    fn compute(
        &self,
        _op: Op,
        a: &ContainerRef<'_>,
        b: &ContainerRef<'_>,
        result: &Header,
        _samples: usize,
        out: &mut [u8],
    ) -> Result<()> {
        packing::sub_packed_into(a.payload, b.payload, result.modulus_bits, out);
        Ok(())
    }

    fn is_expected(&self, h: &Header, expect: Expect) -> bool {
        let signs: Vec<Sign> = h.terms.iter().map(|t| t.sign()).collect();
        match expect {
            Expect::Image => signs == [Sign::Plus],
            Expect::Difference => signs == [Sign::Plus, Sign::Minus],
        }
    }

    fn generate_key(&self) -> Result<Box<dyn KeyMaterial>> {
        Ok(Box::new(MaskKey::generate()?))
    }

    fn parse_key(&self, kind: KeyKind, id: KeyId, body: &[u8]) -> Result<Box<dyn KeyMaterial>> {
        if kind != KeyKind::Secret {
            return Err(Error::Key("mask keys are secret keys only".into()));
        }
        let secret: &[u8; 32] = body
            .try_into()
            .map_err(|_| Error::Key(format!("mask key must be 32 bytes, found {}", body.len())))?;
        let key = MaskKey::from_bytes(secret);
        if key.id != id {
            return Err(Error::Key(
                "key id does not match the key material (the file is damaged)".into(),
            ));
        }
        Ok(Box::new(key))
    }

    fn preview(&self, c: &Container) -> Vec<u8> {
        let h = &c.header;
        let shift = h.modulus_bits - 8;
        packing::unpack(&c.payload, h.modulus_bits, h.shape.samples())
            .into_iter()
            .map(|v| (v >> shift) as u8)
            .collect()
    }
}

impl KeyMaterial for MaskKey {
    fn scheme(&self) -> Scheme {
        Scheme::MASK
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
        Zeroizing::new(self.secret.to_vec())
    }

    fn encrypt(&self, image: &Image) -> Result<Container> {
        let mut nonce = [0u8; 24];
        random::fill(&mut nonce)?;
        encrypt_with_nonce(self, image, &nonce)
    }

    fn decrypt(&self, c: &Container) -> Result<Plaintext> {
        decrypt(self, c)
    }

    fn encryptor(&self, shape: Shape) -> Option<Result<Box<dyn EncryptStream>>> {
        let mut nonce = [0u8; 24];
        Some(
            random::fill(&mut nonce).map(|()| {
                Box::new(MaskEncryptor::new(self, shape, &nonce)) as Box<dyn EncryptStream>
            }),
        )
    }

    fn encrypts_in_chunks(&self) -> bool {
        true
    }

    fn decryptor(&self, header: &Header) -> Option<Result<Box<dyn DecryptStream>>> {
        Some(MaskDecryptor::new(self, header).map(|d| Box::new(d) as Box<dyn DecryptStream>))
    }

    fn decrypts_in_chunks(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Known-answer tests need fixed keys and nonces; nothing else may choose a nonce.
#[cfg(feature = "kat")]
impl Key {
    /// The mask key of these 32 secret bytes. Only for known-answer tests (`kat`).
    pub fn mask_from_secret(secret: &[u8; 32]) -> Key {
        Key(Box::new(MaskKey::from_bytes(secret)))
    }

    /// Encrypts under a caller-chosen nonce (mask keys only). Only for known-answer tests
    /// (`kat`): reusing a nonce with the same key reveals the difference of two images.
    pub fn encrypt_with_nonce(&self, image: &Image, nonce: &[u8; 24]) -> Result<Container> {
        let key = self
            .0
            .as_any()
            .downcast_ref::<MaskKey>()
            .ok_or_else(|| Error::Key("only mask keys take a nonce".into()))?;
        encrypt_with_nonce(key, image, nonce)
    }

    /// [`Key::encryptor`] under a caller-chosen nonce (mask keys only). Only for
    /// known-answer tests (`kat`), for the reason [`Key::encrypt_with_nonce`] gives.
    pub fn encryptor_with_nonce(
        &self,
        shape: Shape,
        nonce: &[u8; 24],
    ) -> Result<crate::stream::Encryptor> {
        let key = self
            .0
            .as_any()
            .downcast_ref::<MaskKey>()
            .ok_or_else(|| Error::Key("only mask keys take a nonce".into()))?;
        Ok(crate::stream::Encryptor::from_stream(Box::new(
            MaskEncryptor::new(key, shape, nonce),
        )))
    }
}

/// A secret key of the mask scheme: 32 random bytes and the subkeys derived from them.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct MaskKey {
    secret: [u8; 32],
    keystream_key: [u8; 32],
    mac_coefficient_key: [u8; 32],
    mac_pad_key: [u8; 32],
    #[zeroize(skip)]
    id: KeyId,
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MaskKey {{ id: {} }}", self.id)
    }
}

impl MaskKey {
    /// A new key from the operating system's CSPRNG.
    fn generate() -> Result<MaskKey> {
        let mut secret = [0u8; 32];
        random::fill(&mut secret)?;
        let key = MaskKey::from_bytes(&secret);
        secret.zeroize();
        Ok(key)
    }

    /// Derives the subkeys of a 32-byte secret with BLAKE3 `derive_key`.
    pub(crate) fn from_bytes(secret: &[u8; 32]) -> MaskKey {
        let id_bytes = blake3::derive_key(CONTEXT_KEY_ID, secret);
        MaskKey {
            secret: *secret,
            keystream_key: blake3::derive_key(CONTEXT_KEYSTREAM, secret),
            mac_coefficient_key: blake3::derive_key(CONTEXT_MAC_COEFFICIENTS, secret),
            mac_pad_key: blake3::derive_key(CONTEXT_MAC_PADS, secret),
            id: KeyId::from_bytes(id_bytes[..16].try_into().expect("32-byte hash")),
        }
    }

    /// The one-time pad `s(N)` of a nonce, bound to everything about the image's layout.
    fn pad(&self, nonce: &[u8; 24], header: &Header) -> u64 {
        let mut h = blake3::Hasher::new_keyed(&self.mac_pad_key);
        h.update(nonce);
        h.update(&[header.sample_bits, header.modulus_bits]);
        h.update(&header.shape.width().to_le_bytes());
        h.update(&header.shape.height().to_le_bytes());
        h.update(&[header.shape.channels()]);
        let out = h.finalize();
        let wide = u128::from_le_bytes(out.as_bytes()[..16].try_into().unwrap());
        (wide % P as u128) as u64
    }

    /// The mask keystream of `nonce`, from byte `byte_offset` on.
    fn masks(&self, nonce: &[u8; 24], byte_offset: u64) -> XChaCha20 {
        let mut cipher = XChaCha20::new((&self.keystream_key).into(), nonce.into());
        cipher.seek(byte_offset);
        cipher
    }

    /// A MAC accumulator for the samples from sample `start` on (a multiple of
    /// [`MAC_SLOTS`]).
    fn mac_from(&self, start: usize) -> Mac {
        debug_assert_eq!(start % MAC_SLOTS, 0);
        let mut coefficients =
            ChaCha20::new((&self.mac_coefficient_key).into(), (&[0u8; 12]).into());
        coefficients.seek(8 * (start / MAC_SLOTS) as u64);
        Mac {
            coefficients,
            buffer: [0; MAC_BLOCK_BYTES],
            acc: 0,
        }
    }
}

/// Bits per MAC slot, k + 1: every plaintext value of the scheme (a pixel, or a difference
/// in −255..=255) fits in it as a signed number.
const MAC_SLOT_BITS: u32 = MODULUS_BITS as u32 + 1;
/// Samples packed into one MAC field element: `⌊60 / 10⌋`.
const MAC_SLOTS: usize = (MAC_ELEMENT_BITS / MAC_SLOT_BITS) as usize;
/// Coefficient bytes of one block of samples, 8 per field element.
const MAC_BLOCK_BYTES: usize = 8 * BLOCK_SAMPLES / MAC_SLOTS;

/// `Σ c_j·P_j mod p` over consecutive samples, fed a block at a time.
struct Mac {
    /// The PRF stream the coefficients `c_j` are read from, 8 bytes each.
    coefficients: ChaCha20,
    /// One block's coefficients, reused from block to block and wiped on drop.
    buffer: [u8; MAC_BLOCK_BYTES],
    acc: u64,
}

impl Drop for Mac {
    fn drop(&mut self) {
        self.buffer.zeroize();
    }
}

impl Mac {
    /// Adds the next `values`: a whole number of MAC groups, except at the very end of
    /// the samples, where the last group is zero-padded.
    fn absorb<T: Copy + Into<i64>>(&mut self, values: &[T]) {
        // Blocks of whole groups (BLOCK_SAMPLES is a multiple of MAC_SLOTS).
        for block in values.chunks(BLOCK_SAMPLES) {
            let c = &mut self.buffer[..8 * block.len().div_ceil(MAC_SLOTS)];
            c.fill(0);
            self.coefficients.apply_keystream(c);
            let mut acc = self.acc;
            let mut groups = block.chunks_exact(MAC_SLOTS);
            let mut coefficients = c.chunks_exact(8);
            for (group, c) in groups.by_ref().zip(coefficients.by_ref()) {
                let group: &[T; MAC_SLOTS] = group.try_into().expect("whole group");
                acc = add_mod(acc, mac_term(group, c));
            }
            let tail = groups.remainder();
            if !tail.is_empty() {
                let c = coefficients.next().expect("a coefficient per group");
                acc = add_mod(acc, mac_term(tail, c));
            }
            self.acc = acc;
        }
    }
}

/// `c·P mod p` of one group of samples (fewer than [`MAC_SLOTS`] only at the very end).
#[inline(always)]
fn mac_term<T: Copy + Into<i64>>(group: &[T], c: &[u8]) -> u64 {
    let mut packed: i64 = 0;
    for (t, &v) in group.iter().enumerate() {
        packed += v.into() << (MAC_SLOT_BITS * t as u32);
    }
    let element = if packed < 0 {
        (packed + P as i64) as u64
    } else {
        packed as u64
    };
    let coefficient = reduce(u64::from_le_bytes(c.try_into().expect("8 bytes")));
    mul_mod(coefficient, element)
}

fn add_mod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= P {
        s - P
    } else {
        s
    }
}

fn sub_mod(a: u64, b: u64) -> u64 {
    add_mod(a, P - b)
}

/// `x mod p` for any 64-bit `x`, without a division: `2^61 ≡ 1`, so the bits above 61 fold
/// onto the low ones, leaving at most `p + 7`.
fn reduce(x: u64) -> u64 {
    let folded = (x & P) + (x >> 61);
    if folded >= P {
        folded - P
    } else {
        folded
    }
}

/// `a·b mod p` for `a, b < p`. Native targets multiply in one 128-bit product.
#[cfg(any(test, not(target_arch = "wasm32")))]
fn mul_mod_wide(a: u64, b: u64) -> u64 {
    let z = a as u128 * b as u128;
    let folded = (z as u64 & P) + (z >> 61) as u64;
    reduce(folded)
}

/// `a·b mod p` for `a, b < p` from four 32×32-bit products. WebAssembly has no 64×64→128
/// multiply, so a `u128` product there is a call to a generic helper (`__multi3`) per MAC
/// element. With `a = a₁·2^32 + a₀` (`a₁ < 2^29`), `2^64 ≡ 8` and `2^61 ≡ 1`:
/// `a·b ≡ 8·a₁b₁ + (a₁b₀ + a₀b₁)·2^32 + a₀b₀`, every part folded below 2^61 first.
#[cfg(any(test, target_arch = "wasm32"))]
fn mul_mod_limbs(a: u64, b: u64) -> u64 {
    const LOW32: u64 = 0xffff_ffff;
    let (a1, a0) = (a >> 32, a & LOW32);
    let (b1, b0) = (b >> 32, b & LOW32);
    let high = (a1 * b1) << 3; // < 2^61
    let middle = a1 * b0 + a0 * b1; // < 2^62
                                    // middle·2^32 = (middle >> 29)·2^61 + (middle mod 2^29)·2^32 ≡ (middle >> 29) + …
    let middle = (middle >> 29) + ((middle & ((1 << 29) - 1)) << 32);
    let low = a0 * b0;
    // Each term < 2^61 and the folds of `low` add less than 2^34: no overflow.
    reduce(high + middle + (low & P) + (low >> 61))
}

#[cfg(target_arch = "wasm32")]
use mul_mod_limbs as mul_mod;
#[cfg(not(target_arch = "wasm32"))]
use mul_mod_wide as mul_mod;

/// The integrity tag every mask header has (parsing guarantees it; a hand-built header may not).
fn tag_of(h: &Header) -> Result<u64> {
    h.tag
        .ok_or_else(|| Error::format("mask ciphertext without integrity tag"))
}

/// The value range a mask ciphertext with these terms must declare: each `+` term adds
/// `[0, 2^s − 1]`, each `−` term subtracts it.
fn range_of_terms(sample_bits: u8, terms: &[Term]) -> (i64, i64) {
    let top = (1i64 << sample_bits) - 1;
    let plus = terms.iter().filter(|t| t.sign() == Sign::Plus).count() as i64;
    let minus = terms.len() as i64 - plus;
    (-top * minus, top * plus)
}

/// Encrypts under a caller-chosen nonce. Reusing a nonce with the same key reveals the
/// difference of the two images, so outside this module only known-answer tests reach it
/// (the `kat` feature).
fn encrypt_with_nonce(key: &MaskKey, image: &Image, nonce: &[u8; 24]) -> Result<Container> {
    let mut stream = MaskEncryptor::new(key, image.shape(), nonce);
    let mut payload = Vec::with_capacity(stream.header.payload_len as usize);
    stream.update(image.data(), &mut payload)?;
    let header = Box::new(stream).finish(&mut payload)?;
    Ok(Container { header, payload })
}

/// A fresh encryption fed its samples in order ([`crate::stream::Encryptor`]): whole
/// blocks are encrypted as they arrive, in parallel pieces of [`CHUNK_SAMPLES`], each
/// piece seeking the keystream and the MAC coefficients to its own offset, so any
/// chunking gives the bytes of one pass over the whole image.
struct MaskEncryptor {
    key: MaskKey,
    nonce: [u8; 24],
    /// The header but for its tag.
    header: Header,
    /// Samples encrypted so far: whole blocks until the last run.
    done: usize,
    blocks: Units,
    mac: u64,
}

impl MaskEncryptor {
    fn new(key: &MaskKey, shape: Shape, nonce: &[u8; 24]) -> MaskEncryptor {
        let header = Header {
            scheme: Scheme::MASK,
            sample_bits: 8,
            modulus_bits: MODULUS_BITS,
            shape,
            range: ValueRange::of_samples(8),
            key_id: key.id,
            tag: None,
            terms: vec![Term::new(*nonce, Sign::Plus)],
            ext: Vec::new(),
            payload_len: packed_len(shape.samples(), MODULUS_BITS) as u64,
        };
        MaskEncryptor {
            key: key.clone(),
            nonce: *nonce,
            header,
            done: 0,
            blocks: Units::new(BLOCK_SAMPLES),
            mac: 0,
        }
    }

    /// Encrypts `pixels`, the samples from `self.done` on (whole blocks, or the last
    /// ones), appending their payload bytes to `out`.
    fn run(&mut self, pixels: &[u8], out: &mut Vec<u8>) {
        let k = MODULUS_BITS;
        let start = self.done;
        let last = start + pixels.len() == self.header.shape.samples();
        let at = out.len();
        out.resize(at + packed_len(pixels.len(), k), 0);
        let chunk_bytes = CHUNK_SAMPLES * k as usize / 8;
        let (key, nonce) = (&self.key, &self.nonce);
        let byte_offset = (start * k as usize / 8) as u64;
        let partials: Vec<u64> = out[at..]
            .par_chunks_mut(chunk_bytes)
            .zip(pixels.par_chunks(CHUNK_SAMPLES))
            .enumerate()
            .map(|(i, (out, pixels))| {
                // The masks are the keystream read as k-bit lanes: add them to the packed
                // pixels lane-wise, a block at a time.
                let mut masks = key.masks(nonce, byte_offset + (i * chunk_bytes) as u64);
                let mut mac = key.mac_from(start + i * CHUNK_SAMPLES);
                let mut ks = [0u8; BLOCK_BYTES];
                for (out, pixels) in out
                    .chunks_mut(BLOCK_BYTES)
                    .zip(pixels.chunks(BLOCK_SAMPLES))
                {
                    packing::pack_into(pixels, k, out);
                    let ks = &mut ks[..out.len()];
                    ks.fill(0);
                    masks.apply_keystream(ks);
                    packing::lanewise_in_place(out, ks, k, LaneOp::Add);
                    mac.absorb(pixels);
                }
                ks.zeroize();
                mac.acc
            })
            .collect();
        self.mac = partials.into_iter().fold(self.mac, add_mod);
        if last {
            packing::clear_padding(&mut out[at..], k, pixels.len());
        }
        self.done += pixels.len();
    }
}

impl EncryptStream for MaskEncryptor {
    fn header(&self) -> &Header {
        &self.header
    }

    fn update(&mut self, samples: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let n = self.header.shape.samples();
        if self.done + self.blocks.pending() + samples.len() > n {
            return Err(too_many_samples(self.header.shape));
        }
        let mut blocks = std::mem::replace(&mut self.blocks, Units::new(BLOCK_SAMPLES));
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
        let mut header = self.header.clone();
        header.tag = Some(add_mod(self.mac, self.key.pad(&self.nonce, &header)));
        Ok(header)
    }
}

fn too_many_samples(shape: Shape) -> Error {
    Error::Image(format!(
        "more samples than a {shape} image has ({})",
        shape.samples()
    ))
}

/// The header of `a − b`: terms concatenated (B's negated), ranges subtracted, tags
/// subtracted. Refuses a result range that would not fit the modulus. The caller has
/// checked that scheme, key, shape and bits agree.
fn sub_header(ha: &Header, hb: &Header) -> Result<Header> {
    let (min, max) = ha.range.minus(&hb.range);
    if !ValueRange::fits(min, max, ha.modulus_bits) {
        return Err(Error::RangeOverflow(format!(
            "{} − {} spans [{min}, {max}], which does not fit modulus 2^{}; subtract fresh ciphertexts",
            ha.range, hb.range, ha.modulus_bits
        )));
    }
    if ha
        .terms
        .iter()
        .any(|ta| hb.terms.iter().any(|tb| ta.nonce() == tb.nonce()))
    {
        return Err(Error::SameInput(
            "A and B share a nonce: they are the same ciphertext (or one was made from the other), and a container may name each nonce once".into(),
        ));
    }
    let mut terms = ha.terms.clone();
    terms.extend(
        hb.terms
            .iter()
            .map(|t| Term::new(*t.nonce(), t.sign().negate())),
    );
    if terms.len() > crate::format::MAX_TERMS {
        return Err(Error::RangeOverflow(format!(
            "the result would have {} terms (at most {})",
            terms.len(),
            crate::format::MAX_TERMS
        )));
    }
    Ok(Header {
        range: ValueRange::fitting(min, max, ha.modulus_bits).expect("checked above"),
        tag: Some(sub_mod(tag_of(ha)?, tag_of(hb)?)),
        terms,
        ..ha.clone()
    })
}

/// Removes every mask and verifies the tag; refuses anything that does not verify.
///
/// The whole tag is computed over every sample, and the range check folded in, before a
/// single constant-time decision: which sample or which check failed is never observable,
/// so a server cannot use accept/reject as an oracle on the plaintext.
fn decrypt(key: &MaskKey, c: &Container) -> Result<Plaintext> {
    let h = &c.header;
    let stream = MaskDecryptor::new(key, h)?;
    let mut values = Vec::with_capacity(h.shape.samples());
    let mut stream = Box::new(stream);
    let decided = stream
        .update(&c.payload, &mut values)
        .and_then(|()| stream.finish(&mut values));
    if let Err(e) = decided {
        values.zeroize();
        return Err(e);
    }
    Plaintext::new(h.shape, h.range, values)
}

/// A decryption fed its payload in order ([`crate::stream::Decryptor`]): every mask
/// removed and the MAC and range accumulated over whole blocks as they arrive, one
/// decision at the end.
struct MaskDecryptor {
    key: MaskKey,
    header: Header,
    tag: u64,
    /// Samples decrypted so far: whole blocks until the last run.
    done: usize,
    /// Payload bytes received.
    received: u64,
    blocks: Units,
    mac: u64,
    /// Branch-free: every sample is decoded and counted, in range or not.
    out_of_range: u8,
    /// Whether the padding bits after the last sample were zero (parsing checks it for a
    /// whole container; a stream is checked here).
    padding_ok: bool,
}

impl MaskDecryptor {
    /// Checks the scheme and the key (public, with errors that say which key to use).
    fn new(key: &MaskKey, h: &Header) -> Result<MaskDecryptor> {
        if h.scheme != Scheme::MASK {
            return Err(Error::SchemeMismatch(format!(
                "the key is for the mask scheme, the ciphertext uses {}",
                h.scheme
            )));
        }
        if h.key_id != key.id {
            return Err(Error::KeyMismatch(format!(
                "the ciphertext was made with key {}, this key is {}",
                h.key_id, key.id
            )));
        }
        let tag = tag_of(h)?;
        if h.modulus_bits != MODULUS_BITS {
            // Parsing refuses such headers; a container is never built otherwise.
            return Err(Error::format("mask ciphertexts are stored mod 2^9"));
        }
        Ok(MaskDecryptor {
            key: key.clone(),
            header: h.clone(),
            tag,
            done: 0,
            received: 0,
            blocks: Units::new(BLOCK_BYTES),
            mac: 0,
            out_of_range: 0,
            padding_ok: true,
        })
    }

    /// Decrypts `bytes`, the payload from sample `self.done` on (whole blocks, or the
    /// last bytes), appending its values to `out`.
    fn run(&mut self, bytes: &[u8], out: &mut Vec<i16>) {
        let h = &self.header;
        let k = h.modulus_bits;
        let n = h.shape.samples();
        let start = self.done;
        let last = packed_len(n - start, k) == bytes.len();
        let samples = if last {
            n - start
        } else {
            bytes.len() * 8 / k as usize
        };
        if last {
            self.padding_ok = packing::padding_is_zero(bytes, k, samples);
        }
        let modulus_mask = (1i32 << k) - 1;
        let (min, max) = (h.range.min(), h.range.max());
        let chunk_bytes = CHUNK_SAMPLES * k as usize / 8;
        let byte_offset = (start * k as usize / 8) as u64;
        let at = out.len();
        out.resize(at + samples, 0);
        let key = &self.key;
        let partials: Vec<(u64, u8)> = out[at..]
            .par_chunks_mut(CHUNK_SAMPLES)
            .zip(bytes.par_chunks(chunk_bytes))
            .enumerate()
            .map(|(i, (out, bytes))| {
                let mut streams: Vec<(XChaCha20, LaneOp)> = h
                    .terms
                    .iter()
                    .map(|term| {
                        let op = match term.sign() {
                            Sign::Plus => LaneOp::Sub,
                            Sign::Minus => LaneOp::Add,
                        };
                        let offset = byte_offset + (i * chunk_bytes) as u64;
                        (key.masks(term.nonce(), offset), op)
                    })
                    .collect();
                let mut mac = key.mac_from(start + i * CHUNK_SAMPLES);
                let (mut plain, mut ks) = ([0u8; BLOCK_BYTES], [0u8; BLOCK_BYTES]);
                let mut raw = [0u16; BLOCK_SAMPLES];
                let mut out_of_range = 0u8;
                for (out, bytes) in out.chunks_mut(BLOCK_SAMPLES).zip(bytes.chunks(BLOCK_BYTES)) {
                    let plain = &mut plain[..bytes.len()];
                    plain.copy_from_slice(bytes);
                    for (masks, op) in &mut streams {
                        let ks = &mut ks[..bytes.len()];
                        ks.fill(0);
                        masks.apply_keystream(ks);
                        packing::lanewise_in_place(plain, ks, k, *op);
                    }
                    let raw = &mut raw[..out.len()];
                    packing::unpack_into(plain, k, raw);
                    for (o, &v) in out.iter_mut().zip(raw.iter()) {
                        let d = ((v as i32 - min) & modulus_mask) + min;
                        out_of_range |= (d > max) as u8;
                        *o = d as i16;
                    }
                    mac.absorb(out);
                }
                plain.zeroize();
                ks.zeroize();
                raw.zeroize();
                (mac.acc, out_of_range)
            })
            .collect();
        for (partial, flag) in partials {
            self.mac = add_mod(self.mac, partial);
            self.out_of_range |= flag;
        }
        self.done += samples;
    }
}

impl DecryptStream for MaskDecryptor {
    fn update(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<()> {
        if self.received + payload.len() as u64 > self.header.payload_len {
            return Err(Error::Verification);
        }
        self.received += payload.len() as u64;
        let mut blocks = std::mem::replace(&mut self.blocks, Units::new(BLOCK_BYTES));
        let fed = blocks.feed(payload, |run| {
            self.run(run, out);
            Ok(())
        });
        self.blocks = blocks;
        fed
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<i16>) -> Result<()> {
        if self.received != self.header.payload_len {
            return Err(Error::Verification);
        }
        let rest = self.blocks.take_rest();
        if !rest.is_empty() {
            self.run(&rest, out);
        }
        let h = &self.header;
        let mut expected = self.mac;
        for term in &h.terms {
            let pad = self.key.pad(term.nonce(), h);
            expected = match term.sign() {
                Sign::Plus => add_mod(expected, pad),
                Sign::Minus => sub_mod(expected, pad),
            };
        }
        let valid = expected.ct_eq(&self.tag)
            & self.out_of_range.ct_eq(&0)
            & subtle::Choice::from(self.padding_ok as u8);
        expected.zeroize();
        self.mac.zeroize();
        if bool::from(valid) {
            Ok(())
        } else {
            Err(Error::Verification)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arithmetic() {
        assert_eq!(mul_mod(P - 1, P - 1), 1);
        for mul in [mul_mod_wide, mul_mod_limbs] {
            assert_eq!(mul(P - 1, P - 1), 1);
            assert_eq!(mul(1 << 60, 4), 2);
            assert_eq!(mul(0, P - 1), 0);
            assert_eq!(mul(P - 1, 1), P - 1);
        }
        assert_eq!(reduce(u64::MAX), u64::MAX % P);
        assert_eq!(reduce(P), 0);
        assert_eq!(reduce(P - 1), P - 1);
        assert_eq!(mul_mod(1 << 60, 4), 2);
        assert_eq!(add_mod(P - 1, 1), 0);
        assert_eq!(sub_mod(0, 1), P - 1);
    }

    proptest::proptest! {
        /// The wasm32 multiply and the division-free reduction agree with plain `u128`
        /// arithmetic, so a browser's tags equal the CLI's.
        #[test]
        fn limb_multiply_and_reduce_match_wide_arithmetic(a in 0..P, b in 0..P, x: u64) {
            let expected = (a as u128 * b as u128 % P as u128) as u64;
            proptest::prop_assert_eq!(mul_mod_limbs(a, b), expected);
            proptest::prop_assert_eq!(mul_mod_wide(a, b), expected);
            proptest::prop_assert_eq!(reduce(x), x % P);
        }
    }

    #[test]
    fn slots_fit_below_the_prime() {
        for k in 8u32..=16 {
            let slot = k + 1;
            let slots = MAC_ELEMENT_BITS / slot;
            assert!(slots * slot <= 60);
            assert_eq!(CHUNK_SAMPLES % slots as usize, 0);
        }
        assert_eq!(MAC_SLOTS, 6);
        assert_eq!(BLOCK_SAMPLES % MAC_SLOTS, 0);
        // Blocks are whole 64-lane blocks of the packing, and chunks whole blocks.
        assert_eq!(BLOCK_SAMPLES % 64, 0);
        assert_eq!(CHUNK_SAMPLES % BLOCK_SAMPLES, 0);
    }
}
