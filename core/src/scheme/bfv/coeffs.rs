//! The parameters both halves of the bfv scheme share, and the packing of ciphertext
//! coefficients in payloads (docs/FORMAT.md, "The bfv scheme").

/// Identifies the parameter set (N, moduli, t, variance) in containers and keys, so
/// material made for other parameters is refused.
pub(super) const PARAMS_ID: u8 = 0xB1;
/// Ring degree N: samples per ciphertext.
pub(super) const DEGREE: usize = 2048;
/// Plaintext modulus t = 2^9 as the container's `modulus_bits`.
pub(super) const MODULUS_BITS: u8 = 9;
/// The modulus q0 payloads are reduced by (after modulus switching).
pub(super) const Q0: u64 = 8_380_417;
/// ceil(log2 q0): bits per packed coefficient.
pub(super) const COEFF_BITS: usize = 23;
/// Bytes of one packed polynomial.
pub(super) const POLY_BYTES: usize = DEGREE * COEFF_BITS / 8;
/// Bytes of one ciphertext (two polynomials) per DEGREE samples.
pub(super) const CHUNK_BYTES: usize = 2 * POLY_BYTES;

/// Little-endian bit packing at `COEFF_BITS` bits; `out` holds exactly
/// `coeffs.len() * COEFF_BITS / 8` bytes.
pub(super) fn pack(coeffs: &[u64], out: &mut [u8]) {
    let mut acc = 0u64;
    let mut nbits = 0;
    let mut bytes = out.iter_mut();
    for &c in coeffs {
        acc |= c << nbits;
        nbits += COEFF_BITS;
        while nbits >= 8 {
            if let Some(b) = bytes.next() {
                *b = acc as u8;
            }
            acc >>= 8;
            nbits -= 8;
        }
    }
}

/// Inverse of [`pack`] for one polynomial; `None` when a coefficient is not below q0.
pub(super) fn unpack(bytes: &[u8]) -> Option<Vec<u64>> {
    let mask = (1u64 << COEFF_BITS) - 1;
    let mut acc = 0u64;
    let mut nbits = 0;
    let mut input = bytes.iter();
    let mut coeffs = Vec::with_capacity(DEGREE);
    for _ in 0..DEGREE {
        while nbits < COEFF_BITS {
            acc |= u64::from(*input.next()?) << nbits;
            nbits += 8;
        }
        let c = acc & mask;
        if c >= Q0 {
            return None;
        }
        coeffs.push(c);
        acc >>= COEFF_BITS;
        nbits -= COEFF_BITS;
    }
    Some(coeffs)
}
