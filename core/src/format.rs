//! The PICRYPT container, version 1: a fixed 68-byte header, the terms, a scheme
//! extension, then the payload as one flat array. `docs/FORMAT.md` specifies it byte for
//! byte.
//!
//! The header comes first and the payload has a size fixed by the header, so a server can
//! combine two large ciphertexts chunk by chunk. [`Header::parse`] validates every length
//! against the bytes actually present before anything is allocated.

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
/// Flag bit 0: the `tag` field holds an integrity tag.
pub const FLAG_HAS_TAG: u8 = 0x01;

/// The homomorphic scheme a container (or key) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Additive XChaCha20 masking with a homomorphic MAC (the default).
    Mask,
    /// Public-key lattice encryption (BFV via fhe.rs).
    Bfv,
    /// Legacy imageshuffle permutation (not secure; compatibility only).
    Shuffle,
}

impl Scheme {
    /// Every scheme this build supports.
    pub const ALL: [Scheme; 3] = [Scheme::Mask, Scheme::Bfv, Scheme::Shuffle];

    pub fn id(self) -> u8 {
        match self {
            Scheme::Mask => 1,
            Scheme::Bfv => 2,
            Scheme::Shuffle => 3,
        }
    }

    pub fn from_id(id: u8) -> Option<Scheme> {
        match id {
            1 => Some(Scheme::Mask),
            2 => Some(Scheme::Bfv),
            3 => Some(Scheme::Shuffle),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Mask => "mask",
            Scheme::Bfv => "bfv",
            Scheme::Shuffle => "shuffle",
        }
    }

    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Width, height and channel count of an image, in samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
}

impl Shape {
    /// A shape that satisfies the container's limits.
    pub fn new(width: u32, height: u32, channels: u8) -> Result<Shape> {
        let shape = Shape {
            width,
            height,
            channels,
        };
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
        Ok(shape)
    }

    fn samples_u64(&self) -> u64 {
        self.width as u64 * self.height as u64 * self.channels as u64
    }

    /// Number of samples (width × height × channels).
    pub fn samples(&self) -> usize {
        self.samples_u64() as usize
    }

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
    pub min: i32,
    pub max: i32,
}

impl ValueRange {
    /// The range of a fresh image with `sample_bits`-bit samples.
    pub fn of_samples(sample_bits: u8) -> ValueRange {
        ValueRange {
            min: 0,
            max: (1i32 << sample_bits) - 1,
        }
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

    /// Whether the range can be represented unambiguously modulo 2^`modulus_bits`, with
    /// every value of magnitude below 2^`modulus_bits`.
    pub fn fits(min: i64, max: i64, modulus_bits: u8) -> bool {
        let m = 1i64 << modulus_bits;
        min <= max && max - min < m && min > -m && max < m
    }
}

impl std::fmt::Display for ValueRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}]", self.min, self.max)
    }
}

/// Whether a term's mask is added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    Plus,
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

    pub fn negate(self) -> Sign {
        match self {
            Sign::Plus => Sign::Minus,
            Sign::Minus => Sign::Plus,
        }
    }

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
    pub nonce: [u8; 24],
    pub sign: Sign,
}

/// A 16-byte identifier derived from a key; not secret. It lets mixing keys fail clearly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

/// Everything before the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub scheme: Scheme,
    pub sample_bits: u8,
    pub modulus_bits: u8,
    pub shape: Shape,
    pub range: ValueRange,
    pub key_id: KeyId,
    /// Integrity tag, for schemes that have one.
    pub tag: Option<u64>,
    pub terms: Vec<Term>,
    /// Scheme-specific parameters (empty for `mask` and `shuffle`).
    pub ext: Vec<u8>,
}

/// A complete ciphertext: header and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub header: Header,
    pub payload: Vec<u8>,
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
    fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.take(1, field)?[0])
    }
    fn u16(&mut self, field: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, field)?.try_into().unwrap()))
    }
    fn u32(&mut self, field: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, field)?.try_into().unwrap()))
    }
    fn i32(&mut self, field: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4, field)?.try_into().unwrap()))
    }
    fn u64(&mut self, field: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, field)?.try_into().unwrap()))
    }
}

/// Size in bytes of `samples` values packed at `bits` bits each.
pub fn packed_len(samples: usize, bits: u8) -> usize {
    (samples * bits as usize).div_ceil(8)
}

impl Header {
    /// Length of the encoded header (everything before the payload).
    pub fn encoded_len(&self) -> usize {
        FIXED_HEADER_LEN + TERM_LEN * self.terms.len() + self.ext.len()
    }

    /// The payload size this header implies.
    pub fn payload_len(&self) -> Result<usize> {
        match self.scheme {
            Scheme::Mask | Scheme::Shuffle => {
                Ok(packed_len(self.shape.samples(), self.modulus_bits))
            }
            Scheme::Bfv => Ok(crate::scheme::bfv::payload_len(self.shape.samples())),
        }
    }

    /// Parses and validates a header from the start of `bytes`, which must hold at least
    /// the header (the payload may follow, or not, for streaming). Returns the header, its
    /// encoded length, and the payload length it declares, all validated for consistency.
    pub fn parse(bytes: &[u8]) -> Result<(Header, usize, usize)> {
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
        let scheme_id = r.u8("scheme")?;
        let scheme = Scheme::from_id(scheme_id)
            .ok_or_else(|| Error::format(format!("unknown scheme id {scheme_id}")))?;
        let sample_bits = r.u8("sample_bits")?;
        let modulus_bits = r.u8("modulus_bits")?;
        let width = r.u32("width")?;
        let height = r.u32("height")?;
        let channels = r.u8("channels")?;
        let flags = r.u8("flags")?;
        let term_count = r.u16("term_count")? as usize;
        let range_min = r.i32("range_min")?;
        let range_max = r.i32("range_max")?;
        let key_id = KeyId(r.take(16, "key_id")?.try_into().unwrap());
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
        if !ValueRange::fits(range_min as i64, range_max as i64, modulus_bits) {
            return Err(Error::format(format!(
                "value range [{range_min}, {range_max}] does not fit modulus 2^{modulus_bits}"
            )));
        }
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
        let mut terms = Vec::with_capacity(term_count);
        for i in 0..term_count {
            let nonce: [u8; 24] = r.take(24, "term nonce")?.try_into().unwrap();
            let sign_byte = r.u8("term sign")?;
            let sign = Sign::from_byte(sign_byte).ok_or_else(|| {
                Error::format(format!("term {i} has invalid sign byte {sign_byte:#04x}"))
            })?;
            if terms.iter().any(|t: &Term| t.nonce == nonce) {
                return Err(Error::format(format!(
                    "term {i} repeats the nonce of an earlier term (every nonce may appear once)"
                )));
            }
            terms.push(Term { nonce, sign });
        }
        let ext = r.take(ext_len, "extension")?.to_vec();
        let header = Header {
            scheme,
            sample_bits,
            modulus_bits,
            shape,
            range: ValueRange {
                min: range_min,
                max: range_max,
            },
            key_id,
            tag: (flags & FLAG_HAS_TAG != 0).then_some(tag),
            terms,
            ext,
        };
        if header.tag.is_none() && tag != 0 {
            return Err(Error::format("tag field set but flagged absent"));
        }
        crate::scheme::validate_header(&header)?;
        let expected = header.payload_len()?;
        if payload_len != expected as u64 {
            return Err(Error::format(format!(
                "payload_len {payload_len} but a {} {shape} image at {modulus_bits} bits needs {expected}",
                scheme.name()
            )));
        }
        Ok((header, header_len, expected))
    }

    /// Encodes the header (without payload).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        let payload_len = self.payload_len().expect("header built by this library") as u64;
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.scheme.id());
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
        out.extend_from_slice(&payload_len.to_le_bytes());
        for t in &self.terms {
            out.extend_from_slice(&t.nonce);
            out.push(t.sign.to_byte());
        }
        out.extend_from_slice(&self.ext);
    }
}

/// A parsed container that borrows its payload, so a server can combine large
/// ciphertexts without copying them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef<'a> {
    pub header: Header,
    pub payload: &'a [u8],
}

impl<'a> ContainerRef<'a> {
    /// Parses a complete container. Nothing may follow the payload.
    pub fn parse(bytes: &'a [u8]) -> Result<ContainerRef<'a>> {
        let (header, header_len, payload_len) = Header::parse(bytes)?;
        let present = bytes.len() - header_len;
        if present != payload_len {
            return Err(Error::format(format!(
                "payload is {present} bytes but the header declares {payload_len}{}",
                if present < payload_len {
                    " (truncated)"
                } else {
                    " (trailing bytes)"
                }
            )));
        }
        let payload = &bytes[header_len..];
        crate::scheme::validate_payload(&header, payload)?;
        Ok(ContainerRef { header, payload })
    }

    pub fn to_owned(&self) -> Container {
        Container {
            header: self.header.clone(),
            payload: self.payload.to_vec(),
        }
    }
}

impl Container {
    /// Parses a complete container. Nothing may follow the payload.
    pub fn parse(bytes: &[u8]) -> Result<Container> {
        Ok(ContainerRef::parse(bytes)?.to_owned())
    }

    /// Encodes header and payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.encoded_len() + self.payload.len());
        self.header.write_to(&mut out);
        out.extend_from_slice(&self.payload);
        out
    }

    /// Size of the encoded container.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + self.payload.len()
    }
}

/// Whether `bytes` start like a container (cheap sniffing for CLIs).
pub fn looks_like_container(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}
