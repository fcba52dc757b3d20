//! The PICRYPT container, version 1, as bytes: a fixed 68-byte header, the terms, a
//! scheme extension, then the payload as one flat array. `docs/FORMAT.md` specifies it
//! byte for byte.
//!
//! This module knows bytes and headers only. It applies the rules every container obeys
//! (lengths, limits, ranges, terms); what a particular scheme additionally requires is
//! checked by [`Container::parse`](crate::Container::parse), which asks the scheme table.
//! The header comes first and the payload has a size fixed by the header, so a server can
//! combine two large ciphertexts chunk by chunk, and every length is validated against
//! the bytes actually present before anything is allocated.

use crate::error::{Error, Result};

/// First eight bytes of every container.
pub const MAGIC: [u8; 8] = *b"PICRYPT\0";
/// The container version this build writes and reads.
pub const VERSION: u8 = 1;
/// File extension for containers; no image format uses it.
pub const FILE_EXTENSION: &str = "picrypt";
/// Size of the fixed part of the header.
pub const FIXED_HEADER_LEN: usize = 68;
/// Size of one term: 24-byte nonce and a sign byte.
pub const TERM_LEN: usize = 25;
/// Most terms a container may carry (keeps headers under 1 KiB).
pub const MAX_TERMS: usize = 32;
/// Most samples (width × height × channels) an image may have: 2^28.
pub const MAX_SAMPLES: u64 = 1 << 28;
/// Largest scheme extension accepted.
pub const MAX_EXT_LEN: usize = 4096;
/// Longest header any container may have: the bytes a reader needs before it can parse
/// one, whatever follows.
pub const MAX_HEADER_LEN: usize = FIXED_HEADER_LEN + TERM_LEN * MAX_TERMS + MAX_EXT_LEN;
/// Flag bit 0: the `tag` field holds an integrity tag.
const FLAG_HAS_TAG: u8 = 0x01;

/// The homomorphic scheme a container or key belongs to, by its id byte. The schemes
/// themselves, their names and what they can do are in [`crate::scheme`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scheme(u8);

impl Scheme {
    /// The scheme with this id byte (whether this build knows it is for
    /// [`crate::scheme`] to say).
    pub(crate) const fn from_id(id: u8) -> Scheme {
        Scheme(id)
    }

    /// The id byte containers and key files carry.
    pub const fn id(self) -> u8 {
        self.0
    }
}

/// Width, height and channel count of an image, in samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    width: u32,
    height: u32,
    channels: u8,
}

impl Shape {
    /// A shape that satisfies the container's limits: no zero side, 1 to 4 channels, at
    /// most 2^28 samples.
    pub fn new(width: u32, height: u32, channels: u8) -> Result<Shape> {
        if width == 0 || height == 0 {
            return Err(Error::format(format!("empty image {width}×{height}")));
        }
        if !(1..=4).contains(&channels) {
            return Err(Error::format(format!(
                "{channels} channels (1 to 4 are supported)"
            )));
        }
        let samples = width as u128 * height as u128 * channels as u128;
        if samples > MAX_SAMPLES as u128 {
            return Err(Error::format(format!(
                "{width}×{height}×{channels} is {samples} samples, more than the limit of 2^28"
            )));
        }
        Ok(Shape {
            width,
            height,
            channels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Number of samples (width × height × channels); at most 2^28, so it fits `usize`
    /// on every target this crate builds for.
    pub fn samples(&self) -> usize {
        self.width as usize * self.height as usize * self.channels as usize
    }

    /// Number of pixels (width × height).
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Explains how two shapes differ, or `None` when they are equal.
    pub fn difference(&self, other: &Shape) -> Option<String> {
        let mut parts = Vec::new();
        if self.width != other.width {
            parts.push(format!("width {} vs {}", self.width, other.width));
        }
        if self.height != other.height {
            parts.push(format!("height {} vs {}", self.height, other.height));
        }
        if self.channels != other.channels {
            parts.push(format!("channels {} vs {}", self.channels, other.channels));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.width, self.height, self.channels)
    }
}

/// The closed interval every plaintext sample is guaranteed to lie in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRange {
    min: i32,
    max: i32,
}

impl ValueRange {
    /// The interval `[min, max]`, which must not be empty.
    pub fn new(min: i32, max: i32) -> Result<ValueRange> {
        if min > max {
            return Err(Error::format(format!("empty value range [{min}, {max}]")));
        }
        Ok(ValueRange { min, max })
    }

    /// The range of a fresh image with `sample_bits`-bit samples: `[0, 2^bits − 1]`.
    pub fn of_samples(sample_bits: u8) -> ValueRange {
        ValueRange {
            min: 0,
            max: (1i32 << sample_bits) - 1,
        }
    }

    /// The range of `a − b` of two fresh images with `sample_bits`-bit samples.
    pub fn of_differences(sample_bits: u8) -> ValueRange {
        let top = (1i32 << sample_bits) - 1;
        ValueRange {
            min: -top,
            max: top,
        }
    }

    /// Smallest value.
    pub fn min(&self) -> i32 {
        self.min
    }

    /// Largest value.
    pub fn max(&self) -> i32 {
        self.max
    }

    /// Number of distinct values in the range.
    pub fn width(&self) -> i64 {
        self.max as i64 - self.min as i64 + 1
    }

    /// Range of `a − b` for any `a` in `self` and `b` in `other`.
    pub fn minus(&self, other: &ValueRange) -> (i64, i64) {
        (
            self.min as i64 - other.max as i64,
            self.max as i64 - other.min as i64,
        )
    }

    /// Whether `[min, max]` can be represented unambiguously modulo 2^`modulus_bits`,
    /// with every value of magnitude below 2^`modulus_bits`.
    pub fn fits(min: i64, max: i64, modulus_bits: u8) -> bool {
        let m = 1i64 << modulus_bits;
        min <= max && max - min < m && min > -m && max < m
    }

    /// `[min, max]` when it fits `modulus_bits` (see [`ValueRange::fits`]).
    pub(crate) fn fitting(min: i64, max: i64, modulus_bits: u8) -> Option<ValueRange> {
        ValueRange::fits(min, max, modulus_bits).then_some(ValueRange {
            min: min as i32,
            max: max as i32,
        })
    }
}

impl std::fmt::Display for ValueRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}]", self.min, self.max)
    }
}

/// Whether a term's mask is added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sign {
    /// The term's encryption was added (`+`).
    Plus,
    /// The term's encryption was subtracted (`−`).
    Minus,
}

impl Sign {
    fn to_byte(self) -> u8 {
        match self {
            Sign::Plus => 0x01,
            Sign::Minus => 0xFF,
        }
    }

    fn from_byte(b: u8) -> Option<Sign> {
        match b {
            0x01 => Some(Sign::Plus),
            0xFF => Some(Sign::Minus),
            _ => None,
        }
    }

    /// The opposite sign.
    pub fn negate(self) -> Sign {
        match self {
            Sign::Plus => Sign::Minus,
            Sign::Minus => Sign::Plus,
        }
    }

    /// `+` or `−`, for people.
    pub fn symbol(self) -> char {
        match self {
            Sign::Plus => '+',
            Sign::Minus => '−',
        }
    }
}

/// One fresh encryption that contributed to a ciphertext: its nonce and sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    nonce: [u8; 24],
    sign: Sign,
}

impl Term {
    /// A term of `nonce` with `sign`.
    pub(crate) fn new(nonce: [u8; 24], sign: Sign) -> Term {
        Term { nonce, sign }
    }

    /// The nonce of the fresh encryption.
    pub fn nonce(&self) -> &[u8; 24] {
        &self.nonce
    }

    /// Whether it was added or subtracted.
    pub fn sign(&self) -> Sign {
        self.sign
    }
}

/// A 16-byte identifier derived from a key (or, for legacy keys, random); not secret. It
/// lets mixing keys fail clearly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 16]);

impl KeyId {
    /// The id of these 16 bytes.
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> KeyId {
        KeyId(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Lower-case hex, as the CLI prints it.
    pub fn hex(&self) -> String {
        crate::hex::encode(&self.0)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

/// Everything before the payload. Built by the schemes; read through accessors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub(crate) scheme: Scheme,
    pub(crate) sample_bits: u8,
    pub(crate) modulus_bits: u8,
    pub(crate) shape: Shape,
    pub(crate) range: ValueRange,
    pub(crate) key_id: KeyId,
    /// Integrity tag, for schemes that have one.
    pub(crate) tag: Option<u64>,
    pub(crate) terms: Vec<Term>,
    /// Scheme-specific parameters (empty for `mask`).
    pub(crate) ext: Vec<u8>,
    /// The payload length, which the scheme computes from the rest.
    pub(crate) payload_len: u64,
}

impl Header {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Bits per plaintext sample (8).
    pub fn sample_bits(&self) -> u8 {
        self.sample_bits
    }

    /// `k`: payload values are integers mod 2^k.
    pub fn modulus_bits(&self) -> u8 {
        self.modulus_bits
    }

    /// The image's width, height and channels.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The interval every plaintext value lies in.
    pub fn range(&self) -> ValueRange {
        self.range
    }

    /// The key the ciphertext was made under.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The integrity tag, for schemes that have one.
    pub fn tag(&self) -> Option<u64> {
        self.tag
    }

    /// The fresh encryptions combined in this ciphertext, with their signs.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Scheme parameters.
    pub fn ext(&self) -> &[u8] {
        &self.ext
    }

    /// Length of the payload that follows the header.
    pub fn payload_len(&self) -> u64 {
        self.payload_len
    }

    /// Length of the encoded header (everything before the payload).
    pub fn encoded_len(&self) -> usize {
        FIXED_HEADER_LEN + TERM_LEN * self.terms.len() + self.ext.len()
    }

    /// Parses every field and applies the rules all containers obey; returns the header
    /// and its encoded length. The scheme's own rules, and the payload length the scheme
    /// gives, are checked by the caller ([`crate::Container::parse`]).
    pub(crate) fn parse_generic(bytes: &[u8]) -> Result<(Header, usize)> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.take(8, "magic")?;
        if magic != MAGIC {
            return Err(Error::format(
                "not a PICRYPT container (bad magic bytes; is this an image or a key file?)",
            ));
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let scheme = Scheme(r.u8("scheme")?);
        let sample_bits = r.u8("sample_bits")?;
        let modulus_bits = r.u8("modulus_bits")?;
        let width = r.u32("width")?;
        let height = r.u32("height")?;
        let channels = r.u8("channels")?;
        let flags = r.u8("flags")?;
        let term_count = r.u16("term_count")? as usize;
        let range_min = r.i32("range_min")?;
        let range_max = r.i32("range_max")?;
        let key_id = KeyId(r.array("key_id")?);
        let tag = r.u64("tag")?;
        let ext_len = r.u32("ext_len")? as usize;
        let payload_len = r.u64("payload_len")?;

        if sample_bits != 8 {
            return Err(Error::format(format!(
                "sample_bits {sample_bits} (only 8-bit samples are supported)"
            )));
        }
        if !(8..=16).contains(&modulus_bits) {
            return Err(Error::format(format!(
                "modulus_bits {modulus_bits} outside 8..=16"
            )));
        }
        let shape = Shape::new(width, height, channels)?;
        if flags & !FLAG_HAS_TAG != 0 {
            return Err(Error::format(format!("unknown flags {flags:#04x}")));
        }
        let range = ValueRange::fitting(range_min as i64, range_max as i64, modulus_bits)
            .ok_or_else(|| {
                Error::format(format!(
                    "value range [{range_min}, {range_max}] does not fit modulus 2^{modulus_bits}"
                ))
            })?;
        if term_count > MAX_TERMS {
            return Err(Error::format(format!(
                "{term_count} terms (at most {MAX_TERMS})"
            )));
        }
        if ext_len > MAX_EXT_LEN {
            return Err(Error::format(format!(
                "extension of {ext_len} bytes (at most {MAX_EXT_LEN})"
            )));
        }
        // Lengths are bounded above, so the header is known to fit before anything is read
        // into owned memory.
        let header_len = FIXED_HEADER_LEN + TERM_LEN * term_count + ext_len;
        if bytes.len() < header_len {
            return Err(Error::format(format!(
                "truncated header: {header_len} bytes declared, {} present",
                bytes.len()
            )));
        }
        let mut terms: Vec<Term> = Vec::with_capacity(term_count);
        for i in 0..term_count {
            let nonce: [u8; 24] = r.array("term nonce")?;
            let sign_byte = r.u8("term sign")?;
            let sign = Sign::from_byte(sign_byte).ok_or_else(|| {
                Error::format(format!("term {i} has invalid sign byte {sign_byte:#04x}"))
            })?;
            if terms.iter().any(|t| t.nonce == nonce) {
                return Err(Error::format(format!(
                    "term {i} repeats the nonce of an earlier term (every nonce may appear once)"
                )));
            }
            terms.push(Term { nonce, sign });
        }
        let ext = r.take(ext_len, "extension")?.to_vec();
        let has_tag = flags & FLAG_HAS_TAG != 0;
        if !has_tag && tag != 0 {
            return Err(Error::format("tag field set but flagged absent"));
        }
        let header = Header {
            scheme,
            sample_bits,
            modulus_bits,
            shape,
            range,
            key_id,
            tag: has_tag.then_some(tag),
            terms,
            ext,
            payload_len,
        };
        Ok((header, header_len))
    }

    /// Encodes the header (without payload).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.scheme.0);
        out.push(self.sample_bits);
        out.push(self.modulus_bits);
        out.extend_from_slice(&self.shape.width.to_le_bytes());
        out.extend_from_slice(&self.shape.height.to_le_bytes());
        out.push(self.shape.channels);
        out.push(if self.tag.is_some() { FLAG_HAS_TAG } else { 0 });
        out.extend_from_slice(&(self.terms.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.range.min.to_le_bytes());
        out.extend_from_slice(&self.range.max.to_le_bytes());
        out.extend_from_slice(&self.key_id.0);
        out.extend_from_slice(&self.tag.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&(self.ext.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
        for t in &self.terms {
            out.extend_from_slice(&t.nonce);
            out.push(t.sign.to_byte());
        }
        out.extend_from_slice(&self.ext);
    }
}

/// A complete ciphertext: header and payload. Parse one with
/// [`Container::parse`](crate::Container::parse); the schemes make them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
}

impl Container {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload (the scheme's encrypted samples).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Encodes header and payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.header.write_to(&mut out);
        out.extend_from_slice(&self.payload);
        out
    }

    /// The encoded container, built in the payload's own allocation: a payload of
    /// megabytes is moved up once in place instead of copied into fresh memory.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut header = Vec::with_capacity(self.header.encoded_len());
        self.header.write_to(&mut header);
        let mut out = self.payload;
        out.splice(0..0, header);
        out
    }

    /// Size of the encoded container.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + self.payload.len()
    }
}

/// A parsed container that borrows its payload, so a server can combine large
/// ciphertexts without copying them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef<'a> {
    pub(crate) header: Header,
    pub(crate) payload: &'a [u8],
}

impl ContainerRef<'_> {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload, borrowed from the parsed bytes.
    pub fn payload(&self) -> &[u8] {
        self.payload
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Container {
        Container {
            header: self.header.clone(),
            payload: self.payload.to_vec(),
        }
    }
}

/// Whether `bytes` start like a container (cheap sniffing for CLIs).
pub fn looks_like_container(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Size in bytes of `samples` values packed at `bits` bits each.
pub(crate) fn packed_len(samples: usize, bits: u8) -> usize {
    (samples * bits as usize).div_ceil(8)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::format(format!(
                "truncated at {field}: need {n} bytes at offset {}, only {} present",
                self.pos,
                self.bytes.len().saturating_sub(self.pos)
            ))),
        }
    }
    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }
    fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.take(1, field)?[0])
    }
    fn u16(&mut self, field: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }
    fn u32(&mut self, field: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }
    fn i32(&mut self, field: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }
    fn u64(&mut self, field: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }
}
